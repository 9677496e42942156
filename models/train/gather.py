#!/usr/bin/env python3
"""Gather the training MIDI and split it into train / valid / test by whole pieces.

Sources (see ../antiphon-small/README.md for licences):
  * OpenScore Lieder and OpenScore String Quartets (CC0), as MIDI under shared/data/openscore/;
  * optionally the music21 pieces that CORPUS-LICENCES.md marks YES, converted to MIDI by
    convert_music21.py (a folder of .mid files given with --music21-midi).

Split rule (fixed, documented in the model card): the *piece id* is the folder of the score
in its source repository (index.csv `source_path` without the file name: one song, or one
quartet work whose movements may be several files), or `music21/<file stem>` for music21
pieces. bucket = int(sha256(piece id, UTF-8).hexdigest()[:8], 16) % 100;
bucket 0-4 -> test, 5-9 -> valid, 10-99 -> train. All files of one piece fall on one side.

Output: OUT/{train,valid,test}/<collection>/<file>.mid as symbolic links (the tokenizer
reads links to files), and OUT/split.json listing every file with its piece id and side.
Each split is tokenized separately, so no training line ever mixes two sides.
"""

import argparse
import csv
import hashlib
import json
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DEFAULT_OPENSCORE = REPO.parent / "shared" / "data" / "openscore"


def bucket(piece_id: str) -> int:
    return int(hashlib.sha256(piece_id.encode("utf-8")).hexdigest()[:8], 16) % 100


def side(piece_id: str) -> str:
    b = bucket(piece_id)
    return "test" if b < 5 else "valid" if b < 10 else "train"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--openscore", type=Path, default=DEFAULT_OPENSCORE)
    ap.add_argument("--music21-midi", type=Path, default=None,
                    help="folder of MIDI files written by convert_music21.py (YES pieces only)")
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "work" / "split")
    args = ap.parse_args()

    rows = list(csv.DictReader(open(args.openscore / "index.csv", encoding="utf-8")))
    entries = []
    for r in rows:
        piece = f"openscore/{r['collection']}/" + os.path.dirname(r["source_path"])
        entries.append({
            "file": r["file"], "source": str((args.openscore / r["file"]).resolve()),
            "collection": r["collection"], "piece": piece, "licence": r["licence"],
            "notes": int(r["notes"]), "duration_s": float(r["duration_s"]),
        })
    if args.music21_midi:
        meta = json.load(open(args.music21_midi / "sources.json", encoding="utf-8"))
        for m in meta:
            entries.append({
                "file": "music21/" + m["midi"], "source": str((args.music21_midi / m["midi"]).resolve()),
                "collection": "music21", "piece": "music21/" + Path(m["midi"]).stem,
                "licence": m["licence"], "notes": m["notes"], "duration_s": m["duration_s"],
            })

    for e in entries:
        e["split"] = side(e["piece"])
        dst = args.out / e["split"] / e["file"]
        dst.parent.mkdir(parents=True, exist_ok=True)
        if dst.is_symlink() or dst.exists():
            dst.unlink()
        dst.symlink_to(e["source"])

    summary = {}
    for e in entries:
        s = summary.setdefault(e["split"], {"files": 0, "pieces": set(), "notes": 0, "hours": 0.0})
        s["files"] += 1
        s["pieces"].add(e["piece"])
        s["notes"] += e["notes"]
        s["hours"] += e["duration_s"] / 3600
    summary = {k: {"files": v["files"], "pieces": len(v["pieces"]), "notes": v["notes"],
                   "hours": round(v["hours"], 2)} for k, v in sorted(summary.items())}
    for e in entries:
        del e["source"]
    json.dump({"rule": "sha256(piece id)[:8] % 100: 0-4 test, 5-9 valid, else train",
               "summary": summary, "files": entries},
              open(args.out / "split.json", "w", encoding="utf-8"), indent=1)
    print(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
