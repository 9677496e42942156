"""Control tokens that share the embeddings of the events they mirror (train.py --share-controls).

Why: the model must read the anticipated melody (control triples, ids control_offset + x) against
its own events (ids x). With one free embedding per id it has to learn, for each of the 1,728
time values separately, that control time t and event time t are the same moment, and for each
pitch that a control note and an event note are the same pitch. Measured on v2 (448 M tokens):
delaying the melody by an eighth note did not change its accompaniment note loss at all, and its
answers are no more consonant with the melody at the right time than a few ticks off.

Here a control id's row is its event's row plus one learned vector per kind (time, duration,
note), and every time row gets a learned projection of fixed sinusoids of the time (periods from
a triplet sixteenth to three bars), so "the same or a nearby moment" is a simple dot product.
The table is materialized for saving: the Hugging Face folders (what export_hf.py and the ONNX
model read) are plain GPT2LMHeadModel weights, so nothing downstream changes.
"""

import copy
import math
from types import SimpleNamespace

import torch
import torch.nn as nn
import torch.nn.functional as F

PERIODS_TICKS = (4, 6, 8, 12, 16, 24, 48, 96, 192, 384, 768, 1536, 3456)


class SharedControlsLM(nn.Module):
    def __init__(self, gpt2, vocab: dict):
        super().__init__()
        self.gpt2 = gpt2
        self.config = gpt2.config
        d = gpt2.config.n_embd
        self.max_time = vocab["max_time"]
        self.rest = vocab["rest"]                      # events are ids [0, rest); controls mirror them
        self.control_offset = vocab["control_offset"]
        self.separator = vocab["separator"]
        assert self.control_offset == self.rest + 1 and self.separator == self.control_offset + self.rest
        kind = torch.zeros(self.rest, dtype=torch.long)
        kind[vocab["duration_offset"]:vocab["note_offset"]] = 1
        kind[vocab["note_offset"]:] = 2
        self.register_buffer("kind", kind, persistent=False)
        t = torch.arange(self.max_time, dtype=torch.float32)[:, None]
        w = torch.tensor([2 * math.pi / p for p in PERIODS_TICKS])[None, :]
        self.register_buffer("time_features", torch.cat([torch.sin(t * w), torch.cos(t * w)], 1),
                             persistent=False)
        self.kind_delta = nn.Parameter(torch.zeros(3, d))
        self.time_proj = nn.Parameter(torch.zeros(d, 2 * len(PERIODS_TICKS)))

    @classmethod
    def from_plain(cls, gpt2, vocab: dict) -> "SharedControlsLM":
        """Wraps trained weights: each kind's delta starts at the mean control-minus-event row."""
        m = cls(gpt2, vocab)
        with torch.no_grad():
            wte = gpt2.transformer.wte.weight
            diff = wte[m.control_offset:m.separator] - wte[:m.rest]
            for k in range(3):
                m.kind_delta[k] = diff[m.kind == k].mean(0)
        return m

    def table(self) -> torch.Tensor:
        base = self.gpt2.transformer.wte.weight
        times = base[:self.max_time] + self.time_features @ self.time_proj.T
        events = torch.cat([times, base[self.max_time:self.rest]])
        controls = events + self.kind_delta[self.kind]
        return torch.cat([events, base[self.rest:self.control_offset], controls, base[self.separator:]])

    def forward(self, input_ids, output_hidden_states: bool = False):
        table = self.table()
        h = self.gpt2.transformer(inputs_embeds=F.embedding(input_ids, table)).last_hidden_state
        return SimpleNamespace(logits=F.linear(h, table), hidden_states=(h,) if output_hidden_states else None)

    def plain(self):
        """A GPT2LMHeadModel with the table materialized (tied input and output embeddings)."""
        out = copy.deepcopy(self.gpt2)
        with torch.no_grad():
            out.transformer.wte.weight.copy_(self.table())
        return out

    def save_pretrained(self, folder) -> None:
        self.plain().save_pretrained(folder)
