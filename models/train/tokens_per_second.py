"""Tokens per second of music: how fast a model must write to keep up with the music it plays.

    antiphon tokenize work/split/test --vocab amt -o work/tok/test-amt.bin
    python tokens_per_second.py work/tok/test-amt.json

Reads the index `antiphon tokenize` wrote (crates/antiphon-tokens/src/FORMAT.md) and the MIDI files it lists,
and prints JSON: the accepted files' length in seconds (mido, at each file's own tempo map),
their notes, 3 tokens per note per second (the AMT scheme: time, duration, note), the same
for the packed token stream (REST tokens and separators included), and the median, 90th
percentile and maximum over the files. A model's real-time factor is its decode tokens per
second divided by this rate.
"""

from __future__ import annotations

import argparse
import json

import mido
import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("index", help="the .json index of an `antiphon tokenize` corpus")
    a = ap.parse_args()
    with open(a.index) as f:
        index = json.load(f)
    seconds, notes, rates = 0.0, 0, []
    for entry in index["files"]:
        if entry["status"] != "accepted":
            continue
        length = mido.MidiFile(entry["path"]).length
        seconds += length
        notes += entry["events"]
        rates.append(3 * entry["events"] / length)
    stream = index["num_lines"] * (index["line_tokens"] - 1)  # every line starts with its task flag
    rates = np.array(rates)
    print(json.dumps({
        "files": len(rates),
        "seconds": round(seconds, 1),
        "notes": notes,
        "notes_per_s": round(notes / seconds, 2),
        "tokens_per_s": round(3 * notes / seconds, 2),
        "stream_tokens_per_s": round(stream / seconds, 2),
        "per_file_tokens_per_s": {"median": round(float(np.median(rates)), 1),
                                  "p90": round(float(np.percentile(rates, 90)), 1),
                                  "max": round(float(rates.max()), 1)},
    }, indent=1))


if __name__ == "__main__":
    main()
