#!/usr/bin/env python3
"""Convert the music21 corpus pieces that CORPUS-LICENCES.md marks YES to MIDI.

Run it with a separate venv that has music21 10.5.1 (not in requirements.txt: only this step
needs it):

    python3.11 -m venv ~/m21-venv && ~/m21-venv/bin/pip install music21==10.5.1
    ~/m21-venv/bin/python convert_music21.py --out work/music21-midi

Writes one .mid per piece and sources.json (file, corpus path, licence, credit, notes,
duration), which gather.py --music21-midi reads. Only these five files are used; the rest of
the music21 corpus is excluded (NO, NOT CLEARED or SA in CORPUS-LICENCES.md), and the
Beethoven/Haydn/Mozart quartets (LIKELY) are left out because their Project Gutenberg
provenance could not be checked file by file here.
"""

import argparse
import json
import sys
from pathlib import Path

# (corpus path inside music21/corpus, licence as stated in the file, credit)
YES = [
    ("johnson_j_r/lift_every_voice.mxl", "CC0-1.0", "encoding by M. S. A. Cuthbert"),
    ("liliuokalani/aloha_oe.mxl", "CC0-1.0", "music21 corpus"),
    ("lusitano/allor_che_ignuda.mxl", "CC0-1.0", "encoding by M. S. A. Cuthbert, 2022"),
    ("weber/concertino_clarinet.mxl", "public-domain dedication", "encoding by Oliver Seely, 1998"),
    ("corelli/opus3no1/1grave.xml", "CC-BY", "(c) 2014 M. S. A. Cuthbert, Creative Commons BY"),
]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    import music21
    assert music21.__version__ == "10.5.1", music21.__version__
    corpus_dir = Path(music21.__file__).parent / "corpus"
    args.out.mkdir(parents=True, exist_ok=True)
    meta = []
    for rel, licence, credit in YES:
        score = music21.converter.parse(str(corpus_dir / rel))
        name = rel.replace("/", "_").rsplit(".", 1)[0] + ".mid"
        score.write("midi", fp=str(args.out / name))
        notes = sum(len(n.pitches) for n in score.recurse().notes)
        seconds = float(score.secondsMap[-1]["endTimeSeconds"]) if score.secondsMap else 0.0
        meta.append({"midi": name, "corpus_path": rel, "licence": licence, "credit": credit,
                     "notes": notes, "duration_s": round(seconds, 1)})
        print(name, notes, "notes", flush=True)
    json.dump(meta, open(args.out / "sources.json", "w"), indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
