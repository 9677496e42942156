"""The LSTM baseline: a token language model of about the transformer's size, trained by
train.py (`--arch lstm`) with the same data, loop, optimizer and logging."""

import json
from pathlib import Path
from types import SimpleNamespace

import torch
from torch import nn


class LstmLM(nn.Module):
    """Embedding (tied with the output) -> stacked LSTM -> projection back to the embedding
    width -> logits. Same calling convention as a Hugging Face causal LM: `model(input_ids=...)`
    returns an object with `.logits` [batch, seq, vocab]."""

    def __init__(self, vocab_size: int, n_embd: int = 192, hidden: int = 384, layers: int = 2):
        super().__init__()
        self.config = {"vocab_size": vocab_size, "n_embd": n_embd, "hidden": hidden, "layers": layers}
        self.wte = nn.Embedding(vocab_size, n_embd)
        self.lstm = nn.LSTM(n_embd, hidden, num_layers=layers, batch_first=True)
        self.proj = nn.Linear(hidden, n_embd)
        self.norm = nn.LayerNorm(n_embd)
        self.bias = nn.Parameter(torch.zeros(vocab_size))
        nn.init.normal_(self.wte.weight, std=0.02)

    def forward(self, input_ids: torch.Tensor, state=None, return_state: bool = False):
        h, state = self.lstm(self.wte(input_ids), state)
        logits = self.norm(self.proj(h)) @ self.wte.weight.t() + self.bias
        return SimpleNamespace(logits=logits, state=state if return_state else None)

    def save_pretrained(self, path: Path):
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        json.dump(self.config, open(path / "config.json", "w"))
        torch.save(self.state_dict(), path / "model.pt")

    @staticmethod
    def from_pretrained(path: Path) -> "LstmLM":
        path = Path(path)
        m = LstmLM(**json.load(open(path / "config.json")))
        m.load_state_dict(torch.load(path / "model.pt", map_location="cpu"))
        return m.eval()
