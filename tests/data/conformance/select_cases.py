#!/usr/bin/env python3
"""Copies the AMT conformance cases that may be redistributed from the reference's whole set
into this folder, and writes this folder's index.json.

The whole set (../../../../shared/amt/conformance by default, or --from) is the reference's
own output on 14 MIDI files, made as its README describes. Files 01-06 are music21 corpus
encodings whose licences do not allow redistribution (shared/notes/CORPUS-LICENCES.md), so
neither they nor anything computed from them (their expected outputs, the training corpus
over all files, the sampling scenarios S2-S4 built on files 02 and 03) are copied. Files
07-14 were written for the set with mido and are kept, with the sampling scenarios that use no
input file (S1, S5) and the unit cases (units.json), which come from the reference's code and
constants alone.

    python3 tests/data/conformance/select_cases.py [--from DIR]
"""

import argparse
import json
import shutil
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_SOURCE = HERE.parents[2] / ".." / "shared" / "amt" / "conformance"

# Inputs written for the set (mido), not taken from a corpus.
KEPT_FILES = [
    "07_synth_drums_ch10",
    "08_synth_program_changes",
    "09_synth_17_instruments",
    "10_synth_overlaps_zero_length",
    "11_synth_tempo_changes",
    "12_synth_type0_rounding",
    "13_synth_long_file_long_notes",
    "14_synth_type0_cc_between_notes",
]
# Sampling scenarios whose inputs are no file's events.
KEPT_SCENARIOS = ["S1_unconditional_0_to_60s", "S5_early_controls_0_to_12s"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--from", dest="source", type=Path, default=DEFAULT_SOURCE)
    src = ap.parse_args().source.resolve()
    if not (src / "index.json").is_file():
        raise SystemExit(f"select_cases: no conformance set at {src}")
    for sub in ["midi", "expected", "roundtrip", "sampling"]:
        shutil.rmtree(HERE / sub, ignore_errors=True)
        (HERE / sub).mkdir()
    for name in KEPT_FILES:
        shutil.copy(src / "midi" / f"{name}.mid", HERE / "midi")
        shutil.copy(src / "expected" / f"{name}.json", HERE / "expected")
        # The reference's writer fails on file 09, so it has no round trip.
        if (src / "roundtrip" / f"{name}.mid").is_file():
            shutil.copy(src / "roundtrip" / f"{name}.mid", HERE / "roundtrip")
    for name in KEPT_SCENARIOS:
        shutil.copy(src / "sampling" / f"{name}.json", HERE / "sampling")
    shutil.copy(src / "units.json", HERE)
    index = json.loads((src / "index.json").read_text())
    kept = {f"{name}.mid" for name in KEPT_FILES}
    index["files"] = [f for f in index["files"] if f["file"] in kept]
    # The training corpus mixes every input file: it stays with the whole set.
    index.pop("corpus_tokenize", None)
    (HERE / "index.json").write_text(json.dumps(index, indent=1) + "\n")
    print(f"select_cases: {len(KEPT_FILES)} files, {len(KEPT_SCENARIOS)} scenarios from {src}")


if __name__ == "__main__":
    main()
