#!/usr/bin/env python3
"""The EMA weights of a compact training state as a Hugging Face folder (what train.py writes as
OUT/hf-ema), for export_hf.py or add_key_prior.py:

    git show 68c67b0:models/antiphon-small/train-state.pt > work/state-16628.pt
    python compact_to_hf.py work/state-16628.pt --out work/v5-hf16

A committed state keeps the EMA in float16 (pack_checkpoint.py), so the folder is the run's EMA
rounded to float16: a network's answers move a little (they are sampled), its figures do not.
This is how v7 recovered v5's network (step 16,628) on a machine without session 9's files.
"""

import argparse
import json
from pathlib import Path

import torch
from transformers import GPT2Config, GPT2LMHeadModel

from pack_checkpoint import unpack


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("state", type=Path, help="a compact file of pack_checkpoint.py")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--vocab", type=Path, default=Path(__file__).with_name("vocab_beats.json"))
    args = ap.parse_args()
    ck = unpack(torch.load(args.state, weights_only=False))
    run = ck["args"]
    if run.get("arch", "gpt2") != "gpt2" or run.get("share_controls"):
        raise SystemExit(f"{args.state}: only plain or --melody-now GPT-2 runs are read here")
    model = GPT2LMHeadModel(GPT2Config(**ck["hf_config"]))
    if run.get("melody_now"):
        from melody_now import MelodyNowLM
        model = MelodyNowLM(model, json.load(open(args.vocab)), key=bool(run.get("melody_key")))
    model.load_state_dict(ck["ema"])
    model.save_pretrained(args.out)
    print(f"{args.out}: the EMA weights of {args.state} at step {ck['state']['step']}")


if __name__ == "__main__":
    main()
