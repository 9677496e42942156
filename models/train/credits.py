#!/usr/bin/env python3
"""Writes the model card's credits for the Creative Commons Attribution pieces it was trained on.

    python credits.py --out ../antiphon-small/CREDITS.md

Reads gather.py's work/split/split.json (which files went into the train split) and the
Mutopia folder's index.csv (title, composer, typesetter, licence of each piece). Public-domain
and CC0 pieces need no credit; every CC BY piece of the train split is listed, as its licence
asks: the typesetter, the licence with a link, and what was changed.
"""

import argparse
import csv
import json
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
LICENCE_LINKS = {
    "Creative Commons Attribution 2.5": "https://creativecommons.org/licenses/by/2.5/",
    "Creative Commons Attribution 3.0": "https://creativecommons.org/licenses/by/3.0/",
    "Creative Commons Attribution 4.0": "https://creativecommons.org/licenses/by/4.0/",
}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--split", type=Path, default=HERE / "work" / "split" / "split.json")
    ap.add_argument("--mutopia", type=Path, default=HERE.parents[2] / "shared" / "data" / "mutopia")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    split = json.load(open(args.split))
    index = {row["mutopia_id"]: row for row in csv.DictReader(open(args.mutopia / "index.csv", encoding="utf-8"))}
    ids = set()
    for f in split["files"]:
        if f["split"] != "train" or not f["file"].startswith("mutopia/"):
            continue
        m = re.match(r"(\d+)(?:-\d+)?\.mid$", Path(f["file"]).name)
        if m and index[m.group(1)]["licence"].split(" / ")[0] in LICENCE_LINKS:
            ids.add(m.group(1))
    rows = sorted((index[i] for i in ids), key=lambda r: (r["composer"].lower(), r["title"].lower(), int(r["mutopia_id"])))
    lines = [
        "# Credits: the Creative Commons Attribution data antiphon-small was trained on",
        "",
        "## The Groove MIDI Dataset (drums)",
        "",
        "Jon Gillick, Adam Roberts, Jesse Engel, Douglas Eck, and David Bamman. \"Learning to Groove "
        "with Inverse Sequence Transformations.\" International Conference on Machine Learning (ICML), "
        "2019. The Groove MIDI Dataset, Google Magenta "
        "(https://magenta.tensorflow.org/datasets/groove). Creative Commons Attribution 4.0 "
        "(https://creativecommons.org/licenses/by/4.0/). Changes: the MIDI performances of the "
        "dataset's train side were cut into training lines, alone and looped under songs of the "
        "training split (`models/train/make_drum_songs.py`), by `antiphon tokenize`; the model "
        "learned from those lines and holds no copy of any performance.",
        "",
        "## Mutopia pieces",
        "",
        f"antiphon-small's training data holds {len(rows)} pieces of the Mutopia Project "
        "(https://www.mutopiaproject.org/) that their typesetters licensed under Creative Commons "
        "Attribution licences. Each was typeset in LilyPond for the Mutopia Project by the person "
        "named and is available there under its Mutopia id. Changes: the LilyPond sources were "
        "converted to current LilyPond syntax and rendered to MIDI (LilyPond 2.24.1, as "
        "`shared/data/mutopia/README.md` describes), then cut into training lines, transposed and "
        "re-arranged into tasks by `antiphon tokenize`; the model learned from those lines and "
        "holds no copy of any piece.",
        "",
        "Licences: " + ", ".join(f"{name} ({link})" for name, link in LICENCE_LINKS.items()) + ".",
        "",
        "Public-domain Mutopia pieces and the CC0 OpenScore scores need no credit and are not "
        "listed; the music21 piece under CC BY is credited in README.md.",
        "",
    ]
    for r in rows:
        opus = f", {r['opus']}" if r["opus"] else ""
        lines.append(f"- \"{r['title']}\"{opus}, {r['composer']}. Typeset by {r['maintainer']}. "
                     f"{r['licence'].split(' / ')[0]}. Mutopia id {r['mutopia_id']}.")
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"{len(rows)} CC BY pieces credited in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
