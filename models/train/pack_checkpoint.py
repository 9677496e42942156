#!/usr/bin/env python3
"""Pack train.py's OUT/last.pt into one compact, resumable file (16-bit tensors):

    python pack_checkpoint.py work/gpt2-v2/last.pt --out ../antiphon-small/train-state.pt
    python train.py ... --out work/gpt2-v3 --resume-compact ../antiphon-small/train-state.pt

What is kept, and how:
  * model weights and EMA weights: float16 (10-bit mantissa: relative rounding <= 2^-11),
    except a tensor with a value beyond float16's range, which is kept in bfloat16; the tied LM
    head (lm_head.weight, the same tensor as transformer.wte.weight) is stored once;
  * AdamW's exp_avg and exp_avg_sq: bfloat16 (float32's exponent range: squared gradients
    of 1e-12 and below would vanish in float16); the melody head of --aux-melody (float16, as
    the weights); the per-parameter `step` counters, the
    parameter groups (lr, betas, weight decay), the run state (step, tokens, elapsed time,
    epoch and position in the data order, ema_start), the torch RNG state, the run's
    arguments and the model config as they are.

train.py --resume-compact FILE (used only when OUT has no last.pt) reads it through unpack()
below, which turns every tensor back into float32. A resumed run continues at the same step,
data position and learning-rate schedule; its weights differ from the unpacked run's by the
16-bit rounding only. --check compares the packed file with last.pt (largest differences).
"""

import argparse
import os
import sys
from pathlib import Path

import torch

FORMAT = "antiphon-compact-train-state"
VERSION = 1
F16_MAX = 65504.0


def _weights16(sd: dict) -> dict:
    out, seen = {}, {}
    for k, v in sd.items():
        if not torch.is_floating_point(v):
            out[k] = v.clone()
            continue
        ptr = v.data_ptr()
        if ptr in seen and seen[ptr][1].shape == v.shape:  # a tied tensor: stored once
            out[k] = {"same_as": seen[ptr][0]}
            continue
        seen[ptr] = (k, v)
        dtype = torch.float16 if v.abs().max().item() <= F16_MAX else torch.bfloat16
        out[k] = v.detach().to(dtype).clone()
    return out


def _weights32(sd: dict) -> dict:
    out = {}
    for k, v in sd.items():
        if not isinstance(v, dict):
            out[k] = v.float() if torch.is_floating_point(v) else v
    for k, v in sd.items():
        if isinstance(v, dict):
            out[k] = out[v["same_as"]]
    return out


def pack(ck: dict) -> dict:
    opt = ck["opt"]
    opt_state = {}
    for idx, st in opt["state"].items():
        opt_state[idx] = {k: (v.to(torch.bfloat16).clone() if k in ("exp_avg", "exp_avg_sq") else v)
                          for k, v in st.items()}
    args = {k: (str(v) if isinstance(v, Path) else v) for k, v in ck.get("args", {}).items()}
    return {
        "format": FORMAT, "version": VERSION,
        "model": _weights16(ck["model"]), "ema": _weights16(ck["ema"]),
        "opt": {"state": opt_state, "param_groups": opt["param_groups"]},
        "state": ck["state"], "torch_rng": ck["torch_rng"], "args": args,
        "hf_config": ck.get("hf_config"),
        "aux_head": _weights16(ck["aux_head"]) if ck.get("aux_head") is not None else None,
    }


def unpack(packed: dict) -> dict:
    """The inverse of pack(), in the layout of last.pt, every tensor float32."""
    if packed.get("format") != FORMAT:
        raise SystemExit(f"not a {FORMAT} file (format {packed.get('format')!r})")
    if packed["version"] > VERSION:
        raise SystemExit(f"compact checkpoint version {packed['version']} is newer than this train.py knows")
    opt_state = {idx: {k: (v.float() if k in ("exp_avg", "exp_avg_sq") else v) for k, v in st.items()}
                 for idx, st in packed["opt"]["state"].items()}
    return {
        "model": _weights32(packed["model"]), "ema": _weights32(packed["ema"]),
        "opt": {"state": opt_state, "param_groups": packed["opt"]["param_groups"]},
        "state": dict(packed["state"]), "torch_rng": packed["torch_rng"], "args": packed["args"],
        "hf_config": packed.get("hf_config"),
        "aux_head": _weights32(packed["aux_head"]) if packed.get("aux_head") is not None else None,
    }


def compare(ck: dict, back: dict) -> None:
    for part in ("model", "ema"):
        worst, rel = 0.0, 0.0
        for k, v in ck[part].items():
            if torch.is_floating_point(v):
                d = (v.float() - back[part][k]).abs().max().item()
                worst = max(worst, d)
                rel = max(rel, d / max(v.abs().max().item(), 1e-30))
        print(f"{part}: max |difference| {worst:.3e} (relative to the tensor's largest value {rel:.2e})")
    for key in ("exp_avg", "exp_avg_sq"):
        rel = 0.0
        for idx, st in ck["opt"]["state"].items():
            a, b = st[key].float(), back["opt"]["state"][idx][key]
            rel = max(rel, ((a - b).abs() / a.abs().clamp_min(1e-30)).max().item())
        print(f"optimizer {key}: max relative difference {rel:.2e}")
    assert back["state"] == ck["state"], (back["state"], ck["state"])
    assert torch.equal(back["torch_rng"], ck["torch_rng"])
    steps = {float(st["step"]) for st in back["opt"]["state"].values()}
    print(f"run state identical: step {back['state']['step']}, epoch {back['state']['epoch']}, "
          f"position {back['state']['pos']}; optimizer step counters {sorted(steps)}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoint", type=Path, help="train.py's last.pt")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--check", action="store_true", help="unpack again and print the rounding differences")
    args = ap.parse_args()
    ck = torch.load(args.checkpoint, map_location="cpu", weights_only=False)
    packed = pack(ck)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_name(args.out.name + ".tmp")
    torch.save(packed, tmp)
    os.replace(tmp, args.out)
    size = args.out.stat().st_size
    print(f"wrote {args.out}: {size / 1e6:.1f} MB ({size:,} bytes) from {args.checkpoint} "
          f"({args.checkpoint.stat().st_size / 1e6:.1f} MB); step {ck['state']['step']}, "
          f"{ck['state']['tokens']:,} tokens")
    if args.check:
        compare(ck, unpack(torch.load(args.out, map_location="cpu", weights_only=False)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
