#!/usr/bin/env python3
"""Gather the training MIDI and split it into train / valid / test by whole pieces.

Sources (see ../antiphon-small/README.md for licences):
  * OpenScore Lieder and OpenScore String Quartets (CC0), as MIDI under shared/data/openscore/;
  * optionally the music21 pieces that CORPUS-LICENCES.md marks YES, converted to MIDI by
    convert_music21.py (a folder of .mid files given with --music21-midi);
  * the Mutopia Project pieces under shared/data/mutopia/ (--mutopia; --no-mutopia leaves them
    out, which gives the v1 corpus of antiphon-small). Only rows of its index.csv whose licence
    is public domain or CC BY (2.5, 3.0, 4.0) are used; any other row is skipped and counted.

Split rule (fixed, documented in the model card): the *piece id* is the folder of the score
in its source repository (index.csv `source_path` without the file name: one song, or one
quartet work whose movements may be several files), `music21/<file stem>` for music21
pieces, or `mutopia/<mutopia_id>` for Mutopia pieces (all MIDI files of one Mutopia piece are
one piece), except that a Mutopia piece which is the same work as an OpenScore piece (listed
in MUTOPIA_SAME_WORK) takes that OpenScore piece's id, so both renditions land on one side.
Adding a source never moves an OpenScore or music21 piece.
bucket = int(sha256(piece id, UTF-8).hexdigest()[:8], 16) % 100;
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
DEFAULT_MUTOPIA = REPO.parent / "shared" / "data" / "mutopia"

# Licence texts (index.csv `licence`, split on " / ") that Mutopia pieces may carry here.
MUTOPIA_LICENCES = {
    "Public Domain",
    "Domaine public - Public Domain",
    "Creative Commons Attribution 2.5",
    "Creative Commons Attribution 3.0",
    "Creative Commons Attribution 4.0",
}

# Mutopia pieces that are the same work as an OpenScore song (found by composer and title:
# containment of the normalised titles, then checked by opus / catalogue number). Each takes
# the OpenScore piece's id, so a work never sits on both sides of the split. Without this,
# 1589 (Fischerweise D 881) would train on an OpenScore test song, and 574, 1588 on valid songs.
MUTOPIA_SAME_WORK = {
    "309": "lieder/Schumann_Robert_Dichterliebe_Op_48_7_Ich_grolle_nicht.mid",
    "368": "lieder/Faure_Gabriel_3_Songs_Op_7_1_Apres_un_reve.mid",
    "373": "lieder/Schubert_Franz_Winterreise_D_911_12_Einsamkeit_Urspruengliche_Fassung.mid",
    "435": "lieder/Bishop_Henry_Home_Sweet_Home.mid",
    "574": "lieder/Arne_Thomas_Rule_Britannia.mid",
    "583": "lieder/Cornelius_Peter_Trauer_und_Trost_Op_3_3_Ein_Ton.mid",
    "588": "lieder/Schumann_Robert_Myrthen_Op_25_1_Widmung.mid",
    "1053": "lieder/Schubert_Franz_Op_59_3_Du_bist_die_Ruh.mid",
    "1588": "lieder/Schubert_Franz_Op_59_4_Lachen_und_Weinen.mid",
    "1589": "lieder/Schubert_Franz_4_Lieder_Op_96_4_Fischerweise_D_881.mid",
    "1827": "lieder/Schumann_Robert_Dichterliebe_Op_48_5_Ich_will_meine_Seele_tauchen.mid",
    "2046": "lieder/Schumann_Robert_Myrthen_Op_25_2_Freisinn.mid",
    "2210": "lieder/Schumann_Robert_Myrthen_Op_25_1_Widmung.mid",
}


def midi_stats(path: Path):
    """(note-ons with velocity > 0, playback seconds) of one MIDI file, read with mido."""
    import mido
    mid = mido.MidiFile(str(path))
    notes = sum(1 for t in mid.tracks for m in t if m.type == "note_on" and m.velocity > 0)
    return notes, float(mid.length)


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
    ap.add_argument("--mutopia", type=Path, default=DEFAULT_MUTOPIA,
                    help="folder with index.csv and midi/ (shared/data/mutopia)")
    ap.add_argument("--no-mutopia", action="store_true", help="leave the Mutopia pieces out (the v1 corpus)")
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "work" / "split")
    args = ap.parse_args()

    rows = list(csv.DictReader(open(args.openscore / "index.csv", encoding="utf-8")))
    entries = []
    openscore_piece = {}
    for r in rows:
        piece = f"openscore/{r['collection']}/" + os.path.dirname(r["source_path"])
        openscore_piece[r["file"]] = piece
        entries.append({
            "file": r["file"], "source": str((args.openscore / r["file"]).resolve()),
            "collection": r["collection"], "piece": piece, "licence": r["licence"],
            "notes": int(r["notes"]), "duration_s": float(r["duration_s"]),
        })
    if args.music21_midi:
        meta = json.load(open(args.music21_midi / "sources.json", encoding="utf-8"))
        for m in meta:
            src = (args.music21_midi / m["midi"]).resolve()
            seconds = m["duration_s"]
            if not seconds:  # convert_music21.py writes 0 when music21 has no seconds map
                seconds = round(midi_stats(src)[1], 1)
            entries.append({
                "file": "music21/" + m["midi"], "source": str(src),
                "collection": "music21", "piece": "music21/" + Path(m["midi"]).stem,
                "licence": m["licence"], "notes": m["notes"], "duration_s": seconds,
            })
    skipped = []
    if not args.no_mutopia:
        for r in csv.DictReader(open(args.mutopia / "index.csv", encoding="utf-8")):
            texts = {t.strip() for t in r["licence"].split(" / ")}
            if not texts or not texts <= MUTOPIA_LICENCES:
                skipped.append((r["mutopia_id"], r["licence"]))
                continue
            piece = f"mutopia/{r['mutopia_id']}"
            if r["mutopia_id"] in MUTOPIA_SAME_WORK:
                piece = openscore_piece[MUTOPIA_SAME_WORK[r["mutopia_id"]]]
            files = [f for f in r["midi_files"].split(";") if f]
            assert len(files) == int(r["n_midi"]), r["mutopia_id"]
            # index.csv counts notes and seconds per piece; several files are measured one by one
            stats = ([(int(r["notes"]), float(r["duration_s"]))] if len(files) == 1
                     else [midi_stats(args.mutopia / f) for f in files])
            for f, (notes, secs) in zip(files, stats):
                entries.append({
                    "file": "mutopia/" + f.removeprefix("midi/"),
                    "source": str((args.mutopia / f).resolve()),
                    "collection": "mutopia", "piece": piece, "licence": r["licence"],
                    "notes": notes, "duration_s": round(secs, 1),
                })
        print(f"mutopia: skipped {len(skipped)} pieces whose licence is not PD / CC BY"
              + (f": {skipped}" if skipped else ""), file=sys.stderr)

    for e in entries:
        e["split"] = side(e["piece"])
        dst = args.out / e["split"] / e["file"]
        dst.parent.mkdir(parents=True, exist_ok=True)
        if dst.is_symlink() or dst.exists():
            dst.unlink()
        dst.symlink_to(e["source"])

    summary = {}
    for e in entries:
        # per split, and per split and source (openscore = lieder + quartets)
        src = "openscore" if e["collection"] in ("lieder", "quartets") else e["collection"]
        for key in (e["split"], f"{e['split']}/{src}"):
            s = summary.setdefault(key, {"files": 0, "pieces": set(), "notes": 0, "hours": 0.0})
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
