#!/usr/bin/env python3
"""A model that hears the melody's key, from one that hears only the melody sounding now.

    python add_key_prior.py work/s9d/hf-ema --out work/v5-hf --lines work/tok/train-acc50-v2.bin

Reads a `--melody-now` folder (melody_now.py; 12 input columns), adds the 24 key columns: their
embedding rows zero, their logits rows `melody_now.key_prior` counted on `--count` random
anticipated lines of `--lines` (`train.py --key-prior` does the same inside a run). This is how
v4 and v5 were made: the network is trained without the key input (training with it learns to
undo the pull towards the key, see README.md, session 8) and the counted prior is added after.
export_hf.py's `--key-strength` scales the rows at export. `--bands 52,72` counts the bass (below
E3), the middle (E3-B4) and the top (C5 and up) apart (v7, session 11): a bass note names the
key's tonic and fifth more often than a note above it.
"""

import argparse
import json
from pathlib import Path

import torch

from melody_now import FEATURES, MelodyNowLM, key_prior, key_prior_logits, load_lm
from train import load_lines


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("folder", type=Path, help="a --melody-now HF folder without the key input")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--lines", type=Path, default=Path("work/tok/train-acc50-v2.bin"))
    p.add_argument("--count", type=int, default=3000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--bands", default="", metavar="PITCHES",
                   help="count registers apart: the lowest MIDI pitch of each register after the first, "
                        "e.g. 52,72 (below E3, E3-B4, C5 and up); default one register")
    p.add_argument("--relative-to", choices=("melody", "accompaniment"), default="melody",
                   help="count each note from the key of the melody so far (default; what the engine "
                        "feeds), or from the key of its line's accompaniment (what an accompaniment in "
                        "the key plays; melody_now.key_prior)")
    args = p.parse_args()
    bands = tuple(int(b) for b in args.bands.split(",") if b)
    plain = load_lm(args.folder)
    if not isinstance(plain, MelodyNowLM) or plain.key:
        raise SystemExit(f"{args.folder}: not a --melody-now model without the key input")
    lines, index = load_lines(args.lines)
    vocab = index["vocab"]
    keyed = MelodyNowLM(plain.gpt2, plain.vocab, key=True)
    g = key_prior(lines, vocab, args.count, args.seed, bands, args.relative_to)
    with torch.no_grad():
        keyed.melody_now[:FEATURES].copy_(plain.melody_now)
        keyed.melody_logits[:FEATURES].copy_(plain.melody_logits)
        keyed.melody_logits[FEATURES:].copy_(
            torch.from_numpy(key_prior_logits(g, vocab, plain.config.vocab_size, bands)))
    keyed.save_pretrained(args.out)
    json.dump({"from": str(args.folder), "lines": str(args.lines), "count": args.count, "seed": args.seed,
               "bands": list(bands), "relative_to": args.relative_to, "key_prior": g.round(4).tolist()}, open(args.out / "key_prior.json", "w"), indent=1)
    print(f"{args.out}: {args.folder} + the key prior counted on {args.count} lines of {args.lines}")


if __name__ == "__main__":
    main()
