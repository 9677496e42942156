#!/usr/bin/env python3
"""Held-out likelihood of the transformer, the LSTM and the n-gram on the same test lines.

    python eval_lm.py --lines work/tok/test.bin --model gpt2=work/gpt2/hf-ema \\
        --model lstm=work/lstm/hf-ema --ngram work/ngram.json --out work/eval-test.json

Every model scores the same positions: tokens 1..1023 of every line (token 0 is the task
flag, given). Reported per model:
- loss by position type (mean NLL in nats of time, duration and note tokens) and overall;
- per-event perplexity: exp(summed NLL of a triple's three tokens, averaged over triples),
  over all triples (REST and separators included) and over note triples only.
No grammar masks are applied: each model's raw distribution over the whole vocabulary.
"""

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np
import torch

from train import load_lines


def model_nll(path: Path, lines: np.ndarray, batch: int = 4, device: str = "cpu") -> np.ndarray:
    cfg = json.load(open(path / "config.json"))
    if "model_type" in cfg:
        from melody_now import load_lm  # a GPT2LMHeadModel, with melody_now.py's input if it has one
        model = load_lm(path).eval()
    else:
        from lstm_lm import LstmLM
        model = LstmLM.from_pretrained(path)
    model = model.to(device)
    out = np.zeros((lines.shape[0], lines.shape[1] - 1), dtype=np.float32)
    with torch.no_grad():
        for i in range(0, lines.shape[0], batch):
            ids = torch.from_numpy(lines[i:i + batch].astype(np.int64)).to(device)
            logits = model(input_ids=ids).logits.float()
            nll = torch.nn.functional.cross_entropy(
                logits[:, :-1].reshape(-1, logits.shape[-1]), ids[:, 1:].reshape(-1), reduction="none")
            out[i:i + batch] = nll.view(ids.shape[0], -1).cpu().numpy()
    return out


def onnx_nll(folder: Path, lines: np.ndarray) -> np.ndarray:
    """The same NLL from an exported model folder through ONNX Runtime (1 thread, empty cache)."""
    import onnxruntime as ort
    card = json.load(open(folder / "model.json"))
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    sess = ort.InferenceSession(str(folder / "model.onnx"), opts, providers=["CPUExecutionProvider"])
    L, H, D = card["num_layers"], card["num_heads"], card["head_size"]
    melody_now = "melody_now" in card["inputs"]  # melody_now.py's features, from the ids
    if melody_now:
        from melody_now import features
    n = lines.shape[1]
    feeds = {"attention_mask": np.ones((1, n), np.int64), "position_ids": np.arange(n, dtype=np.int64)[None]}
    for i in range(L):
        for kind in ("key", "value"):
            feeds[f"past_key_values.{i}.{kind}"] = np.zeros((1, H, 0, D), np.float32)
    out = np.zeros((lines.shape[0], n - 1), dtype=np.float32)
    for i in range(lines.shape[0]):
        ids = lines[i:i + 1].astype(np.int64)
        extra = {"melody_now": features(ids, card["vocab"], card.get("melody_key", False))} if melody_now else {}
        logits = torch.from_numpy(sess.run(["logits"], {**feeds, **extra, "input_ids": ids})[0][0])
        out[i] = torch.nn.functional.cross_entropy(logits[:-1], torch.from_numpy(ids[0, 1:]),
                                                   reduction="none").numpy()
    return out


def summarize(nll: np.ndarray, lines: np.ndarray, vocab: dict) -> dict:
    nll = nll.astype(np.float64)
    n_triples = nll.shape[1] // 3
    per_triple = nll[:, :3 * n_triples].reshape(nll.shape[0], n_triples, 3)
    note_tok = lines[:, 3:3 * n_triples + 1:3][:, :n_triples].astype(np.int64)
    is_note = (note_tok >= vocab["note_offset"]) & (note_tok < vocab["rest"])
    event_nll = per_triple.sum(-1)
    return {
        "loss": float(nll.mean()),
        "loss_time": float(per_triple[..., 0].mean()),
        "loss_duration": float(per_triple[..., 1].mean()),
        "loss_note": float(per_triple[..., 2].mean()),
        "event_ppl": math.exp(event_nll.mean()),
        "note_event_ppl": math.exp(event_nll[is_note].mean()),
        "triples": int(event_nll.size),
        "note_triples": int(is_note.sum()),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lines", type=Path, required=True)
    ap.add_argument("--model", action="append", default=[], help="NAME=HF_OR_LSTM_DIR")
    ap.add_argument("--onnx", action="append", default=[], help="NAME=EXPORTED_FOLDER (through ONNX Runtime)")
    ap.add_argument("--ngram", type=Path, help="ngram.py's JSON; its -<lines stem>-nll.npy is read")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--device", default="cpu", help="where the PyTorch models run (cpu, cuda)")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    lines, index = load_lines(args.lines)
    vocab = index["vocab"]
    results = {"lines": str(args.lines.name), "num_lines": int(lines.shape[0]), "models": {}}
    if args.ngram:
        nll = np.load(args.ngram.with_name(args.ngram.stem + f"-{args.lines.stem}-nll.npy"))
        results["models"]["kn-trigram"] = summarize(nll, lines, vocab)
    for spec in args.model:
        name, path = spec.split("=", 1)
        results["models"][name] = summarize(model_nll(Path(path), lines, device=args.device), lines, vocab)
        results["models"][name]["path"] = path
    for spec in args.onnx:
        name, path = spec.split("=", 1)
        results["models"][name] = summarize(onnx_nll(Path(path), lines), lines, vocab)
        results["models"][name]["path"] = path
    json.dump(results, open(args.out, "w"), indent=1)
    print(f"{'model':<22} {'loss':>7} {'time':>7} {'dur':>7} {'note':>7} {'event ppl':>10} {'note-event ppl':>14}")
    for name, r in results["models"].items():
        print(f"{name:<22} {r['loss']:7.4f} {r['loss_time']:7.4f} {r['loss_duration']:7.4f} "
              f"{r['loss_note']:7.4f} {r['event_ppl']:10.2f} {r['note_event_ppl']:14.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
