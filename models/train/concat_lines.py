#!/usr/bin/env python3
"""Joins `antiphon tokenize` line files of one vocabulary into one training file.

    python concat_lines.py work/tok/train-acc50-v2-drums.bin work/tok/train-acc50-v2.bin \
        work/tok/drums-groove-train.bin work/tok/drums-songs-train.bin

The lines are copied in the order given; the index keeps each input's own settings (augment,
seed, task mix) and file list under `parts`, so the share of every source stays readable.
"""

import json
import sys
from pathlib import Path

import numpy as np

# What every joined file must share, and what the joined index takes from the first.
SHARED = ("format", "version", "dtype", "line_tokens", "vocab")


def main() -> None:
    if len(sys.argv) < 4:
        raise SystemExit(__doc__)
    out, inputs = Path(sys.argv[1]), [Path(a) for a in sys.argv[2:]]
    indexes = [json.load(open(p.with_suffix(".json"), encoding="utf-8")) for p in inputs]
    first = indexes[0]
    for path, index in zip(inputs, indexes):
        for key in SHARED:
            if index[key] != first[key]:
                raise SystemExit(f"{path}: its {key} differs from {inputs[0]}'s")
    with open(out, "wb") as f:
        for path, index in zip(inputs, indexes):
            lines = np.memmap(path, dtype=index["dtype"], mode="r")
            if lines.size != index["num_lines"] * index["line_tokens"]:
                raise SystemExit(f"{path}: {lines.size} tokens, its index says otherwise")
            f.write(lines.tobytes())
    joined = {key: first[key] for key in SHARED}
    joined["num_lines"] = sum(index["num_lines"] for index in indexes)
    joined["stats"] = {path.name: index["stats"] for path, index in zip(inputs, indexes)}
    joined["parts"] = [{"file": path.name, **{k: v for k, v in index.items() if k not in ("vocab", "stats")}}
                       for path, index in zip(inputs, indexes)]
    with open(out.with_suffix(".json"), "w", encoding="utf-8") as f:
        json.dump(joined, f, indent=1)
    shares = ", ".join(f"{p.name} {i['num_lines']}" for p, i in zip(inputs, indexes))
    print(f"{joined['num_lines']} lines in {out} ({shares})")


if __name__ == "__main__":
    main()
