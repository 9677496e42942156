#!/usr/bin/env python3
"""Made-up tunes for judging answers as music, and labelled melodies for the key-finding test.

    python make_tunes.py            # writes both outputs (the same bytes every run)
    python make_tunes.py --check    # also prints the Krumhansl-Kessler key of each (sample.key_of)

1. `examples/tunes/NN-*.mid` + `examples/tunes/index.json`: short tunes of the kind a user plays
   into a DAW (one track, piano program 0, 4-8 bars, 72-138 bpm), each labelled with its key.
   `eval_steering.py` accompanies and continues them.
2. `tests/data/key-melodies.json`: 52 short melodies (2-7 bars) in all twelve tonics, major and
   minor, from eight major and eight minor templates written in scale degrees, plus four modal
   riffs; each {"name", "key", "kind", "notes": [[onset_beats, duration_beats, midi_pitch], ...]}
   with beats = quarter notes. The key-finding unit test reads them.

Key labels (index.json states the same rules in "rules"):
- "key" is what a musician names: tonic + major or minor. A modal tune is named by its tonic and
  the quality of its third (D dorian -> "D minor", G mixolydian -> "G major").
- "scale_key" is the key whose scale "in key" counts against, and "scale_pcs" that scale's pitch
  classes (0 = C): a major key's major scale; a minor key's natural minor plus the raised seventh
  (MUSIC-EVAL.md); a modal tune's parent major scale (D dorian: C major's seven pitch classes).
- "follow_keys": the estimates that count as "key follows": the key, and for a modal tune also
  the parent key (a Krumhansl-Kessler finder cannot tell D dorian from C major by pitch classes).
"""

from __future__ import annotations

import argparse
import json
import sys
from fractions import Fraction
from pathlib import Path

import mido

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
TICKS = 480                       # MIDI ticks per quarter note in the written files

PC = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
MAJOR_NAMES = ["C", "Db", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B"]
MINOR_NAMES = ["C", "C#", "D", "Eb", "E", "F", "F#", "G", "G#", "A", "Bb", "B"]
STEPS = {
    "major": [0, 2, 4, 5, 7, 9, 11],
    "minor": [0, 2, 3, 5, 7, 8, 10],        # natural minor; "#7" in a template raises the seventh
    "dorian": [0, 2, 3, 5, 7, 9, 10],
    "mixolydian": [0, 2, 4, 5, 7, 9, 10],
}
PARENT_SHIFT = {"dorian": -2, "mixolydian": -7}   # tonic -> parent major's tonic (semitones)
RULES = {
    "key": "tonic + major/minor, as a musician names it; a modal tune by its tonic and the quality "
           "of its third (D dorian: D minor)",
    "scale_key": "the key whose scale 'in key' counts against: the key itself for major and minor "
                 "tunes, the parent major key for modal tunes (D dorian: C major)",
    "scale_pcs": "pitch classes (0 = C) of scale_key's scale: major scale; for minor keys natural "
                 "minor plus the raised seventh (MUSIC-EVAL.md)",
    "follow_keys": "Krumhansl-Kessler estimates of an answer that count as 'key follows': the key, "
                   "and for modal tunes also scale_key",
    "beats": "tempo_bpm counts quarter notes; bars follow the meter",
}


def pitch(name: str) -> int:
    """'C4' = 60, 'Eb4' = 63, 'F#3' = 54."""
    letter, rest = name[0], name[1:]
    acc = 0
    while rest and rest[0] in "#b":
        acc += 1 if rest[0] == "#" else -1
        rest = rest[1:]
    return 12 * (int(rest) + 1) + PC[letter] + acc


def key_name(tonic_pc: int, mode: str) -> str:
    return f"{(MAJOR_NAMES if mode == 'major' else MINOR_NAMES)[tonic_pc % 12]} {mode}"


def slug(key: str) -> str:
    """'C# minor' -> 'c-sharp-minor'."""
    return key.replace("#", "-sharp").replace(" ", "-").lower()


def scale_pcs(tonic_pc: int, mode: str) -> list[int]:
    """MUSIC-EVAL.md's scale of a major or minor key."""
    steps = STEPS["major"] if mode == "major" else STEPS["minor"] + [11]
    return sorted((tonic_pc + s) % 12 for s in steps)


def num(x: Fraction):
    """A JSON number: an int when whole, else the float (quarters, eighths, triplets)."""
    return int(x) if x.denominator == 1 else round(float(x), 6)


# ---------------------------------------------------------------- 1. the tunes

# Bars as "NOTE:DURATION" tokens (durations in quarter notes, fractions allowed; "r" is a rest).
# Chords a pianist would put under each bar are in the comments.
TUNES = [
    dict(id="c-major-scale", title="C major scale tune", tonic="C", mode="major", tempo=100, meter=(4, 4),
         style="stepwise: the scale up and down in quarters, then broken chords",
         bars=["C4:1 D4:1 E4:1 F4:1", "G4:1 A4:1 B4:1 C5:1", "C5:1 B4:1 A4:1 G4:1", "F4:1 E4:1 D4:1 C4:1",
               "E4:1 G4:1 C5:1 G4:1",            # C
               "F4:1 A4:1 D5:1 B4:1",            # Dm7 - G
               "C5:1 G4:1 E4:1 D4:1",            # C - G
               "C4:4"]),
    dict(id="pop-g", title="Pop melody in G", tonic="G", mode="major", tempo=112, meter=(4, 4),
         style="pop: repeated notes, eighths, four-chord loop G D Em C",
         bars=["B4:1 B4:1/2 A4:1/2 G4:1 D4:1",           # G
               "A4:1 A4:1/2 G4:1/2 F#4:3/2 D4:1/2",      # D
               "G4:1 G4:1/2 A4:1/2 B4:1 E5:1",           # Em
               "E5:3/2 D5:1/2 C5:1 r:1",                 # C
               "B4:1/2 B4:1/2 B4:1/2 A4:1/2 G4:1 B4:1",  # G
               "A4:1/2 A4:1/2 A4:1/2 G4:1/2 F#4:1 A4:1",  # D
               "G4:1 E4:1 C5:1 B4:1/2 A4:1/2",           # C
               "A4:1 F#4:1 G4:2"]),                      # D - G
    dict(id="a-minor", title="Tune in A minor", tonic="A", mode="minor", tempo=90, meter=(4, 4),
         style="minor song: Am Dm E Am, the leading tone G# over E",
         bars=["A4:1 C5:1 B4:1/2 A4:1/2 E4:1",     # Am
               "F4:1 A4:1 D5:3/2 C5:1/2",          # Dm
               "B4:1 G#4:1 E4:1 B4:1",             # E
               "C5:3/2 B4:1/2 A4:2",               # Am
               "E5:1 D5:1/2 C5:1/2 B4:1 A4:1",     # Am
               "D5:1 F5:1 E5:1/2 D5:1/2 C5:1",     # Dm
               "B4:3/2 C5:1/2 B4:1 G#4:1",         # E
               "A4:3 r:1"]),                       # Am
    dict(id="waltz-f", title="Waltz in F", tonic="F", mode="major", tempo=126, meter=(3, 4),
         style="waltz: 3/4, broken chords F F C7 C7 Bb F C7 F",
         bars=["C5:2 A4:1", "F4:1 A4:1 C5:1", "Bb4:2 G4:1", "E4:1 G4:1 Bb4:1",
               "D5:2 Bb4:1", "A4:1 C5:1 F5:1", "E4:1 G4:1 Bb4:1", "A4:1 F4:2"]),
    dict(id="d-dorian-riff", title="D dorian riff", tonic="D", mode="dorian", tempo=120, meter=(4, 4),
         style="modal riff: eighths and sixteenths, the dorian B natural and C natural (Dm7 - G)",
         bars=["D4:1/2 r:1/4 D4:1/4 F4:1/2 G4:1/2 A4:1 B4:1/2 A4:1/2",
               "G4:1/2 F4:1/2 D4:1/2 C4:1/2 D4:2",
               "D4:1/2 r:1/4 D4:1/4 F4:1/2 G4:1/2 A4:1 B4:1/2 A4:1/2",
               "C5:1/2 B4:1/2 A4:1/2 G4:1/2 F4:1/2 E4:1/2 D4:1"]),
    dict(id="ballad-eb", title="Ballad in Eb", tonic="Eb", mode="major", tempo=72, meter=(4, 4),
         style="slow ballad: long notes, Eb Cm Ab Bb | Eb Ab Bb7 Eb",
         bars=["G4:3/2 F4:1/2 Eb4:1 Bb4:1",     # Eb
               "C5:3/2 Bb4:1/2 G4:2",           # Cm
               "Ab4:1 C5:1 Eb5:3/2 C5:1/2",     # Ab
               "Bb4:3 r:1",                     # Bb
               "G4:1 Bb4:1 Eb5:3/2 D5:1/2",     # Eb
               "C5:3/2 Bb4:1/2 Ab4:1 C5:1",     # Ab
               "Bb4:3/2 Ab4:1/2 G4:1 F4:1",     # Bb7
               "Eb4:4"]),                       # Eb
    dict(id="syncopated-bb", title="Syncopated tune in Bb", tonic="Bb", mode="major", tempo=104, meter=(4, 4),
         style="syncopated: dotted eighths, off-beat entries, notes held across the beat",
         bars=["Bb4:3/4 C5:3/4 D5:1/2 r:1/2 F5:1 D5:1/2",     # Bb
               "Eb5:1/2 D5:1/2 r:1/2 C5:1 Bb4:1/2 G4:1",      # Eb
               "A4:3/4 Bb4:3/4 C5:1/2 r:1/2 F5:1 Eb5:1/2",    # F
               "D5:3/2 C5:1 Bb4:3/2",                         # Bb
               "r:1/2 G4:1/2 Bb4:1/2 D5:1 C5:1/2 Bb4:1",      # Gm
               "r:1/2 Eb5:1 D5:1/2 C5:1/2 Bb4:1/2 G4:1",      # Eb
               "F4:3/4 A4:3/4 C5:1/2 Eb5:1 D5:1/2 C5:1/2",    # F7
               "Bb4:5/2 r:3/2"]),                             # Bb
    dict(id="leaping-em", title="Leaping tune in E minor", tonic="E", mode="minor", tempo=96, meter=(4, 4),
         style="leaping: octaves, sixths and tenths in quarters, Em Am B7 Em C Am B Em",
         bars=["E4:1 E5:1 B4:1 G5:1", "A4:1 E5:1 C5:1 A5:1", "D#5:1 B4:1 F#5:1 A4:1", "G4:1 B5:1 E5:2",
               "C5:1 G4:1 E5:1 G5:1", "A4:1 A5:1 E5:1 C5:1", "B4:1 D#5:1 F#4:1 B5:1", "E5:1 B4:1 E4:2"]),
    dict(id="folk-d", title="Folk tune in D (jig)", tonic="D", mode="major", tempo=138, meter=(6, 8),
         style="folk: a jig in 6/8, running eighths, D G A D",
         bars=["A4:1/2 F#4:1/2 A4:1/2 D5:1/2 A4:1/2 F#4:1/2",   # D
               "G4:1/2 B4:1/2 G4:1/2 F#4:1/2 A4:1/2 F#4:1/2",   # G - D
               "E4:1/2 F#4:1/2 G4:1/2 A4:1/2 B4:1/2 C#5:1/2",   # Em - A
               "D5:1 C#5:1/2 D5:3/2",                           # D
               "F#5:1/2 E5:1/2 D5:1/2 A4:1/2 F#4:1/2 A4:1/2",   # D
               "B4:1/2 G4:1/2 B4:1/2 D5:1/2 B4:1/2 G4:1/2",     # G
               "A4:1/2 B4:1/2 C#5:1/2 E5:1/2 C#5:1/2 A4:1/2",   # A
               "D5:3/2 D4:3/2"]),                               # D
    dict(id="blues-a", title="Blues-ish riff in A", tonic="A", mode="minor", tempo=110, meter=(4, 4),
         style="blues riff: shuffled (triplet long-short), minor pentatonic with the flat fifth Eb",
         bars=["A3:2/3 C4:1/3 D4:2/3 Eb4:1/3 E4:1 G4:2/3 E4:1/3",
               "A4:1 G4:2/3 E4:1/3 D4:2/3 C4:1/3 A3:1",
               "D4:2/3 E4:1/3 G4:2/3 A4:1/3 C5:1 A4:2/3 G4:1/3",
               "E4:2/3 Eb4:1/3 D4:2/3 C4:1/3 A3:2"],
         note="labelled A minor: the riff's notes A C D E G are A minor pentatonic (Eb is a passing "
              "blue note); an A7 accompaniment's C# counts as out of key under this label"),
    dict(id="f-sharp-minor", title="Tune in F# minor", tonic="F#", mode="minor", tempo=80, meter=(4, 4),
         style="minor song: F#m Bm C#7 F#m D Bm C#7 F#m, the leading tone E# (F) over C#7",
         bars=["F#4:1 A4:1 C#5:3/2 B4:1/2",     # F#m
               "D5:3/2 C#5:1/2 B4:2",           # Bm
               "G#4:1 B4:1 E#4:3/2 G#4:1/2",    # C#7
               "F#4:3 r:1",                     # F#m
               "A4:1 D5:1 F#5:3/2 E5:1/2",      # D
               "D5:1 B4:1 C#5:1/2 D5:1/2 B4:1",  # Bm
               "C#5:3/2 B4:1/2 G#4:1 E#4:1",    # C#7
               "F#4:4"]),                       # F#m
]


def parse_pitch(tok: str) -> int:
    # E#4 etc.: pitch() handles sharps on any letter
    return pitch(tok)


def tune_notes(tune: dict) -> list[tuple[Fraction, Fraction, int]]:
    """(onset, duration, pitch) in quarter notes; checks every bar fills the meter."""
    num_, den = tune["meter"]
    bar_len = Fraction(4 * num_, den)
    notes, t = [], Fraction(0)
    for i, bar in enumerate(tune["bars"]):
        start = t
        for tok in bar.split():
            name, dur = tok.split(":")
            d = Fraction(dur)
            if name != "r":
                notes.append((t, d, parse_pitch(name)))
            t += d
        if t - start != bar_len:
            raise ValueError(f"{tune['id']} bar {i + 1} lasts {t - start} quarters, not {bar_len}")
    return notes


def velocity(onset: Fraction, bar_len: Fraction, i: int) -> int:
    """A played feel, deterministic: louder on the bar line and the beats, a little spread."""
    pos = onset % bar_len
    base = 96 if pos == 0 else 86 if pos.denominator == 1 else 76
    return base + (i * 7) % 9 - 4


def write_tune(path: Path, tune: dict, notes) -> None:
    """One track (type 0), piano on channel 1: name, meter, tempo, program, notes."""
    num_, den = tune["meter"]
    bar_len = Fraction(4 * num_, den)
    mid = mido.MidiFile(type=0, ticks_per_beat=TICKS)
    tr = mido.MidiTrack()
    tr.append(mido.MetaMessage("track_name", name=tune["title"], time=0))
    tr.append(mido.MetaMessage("time_signature", numerator=num_, denominator=den, time=0))
    tr.append(mido.MetaMessage("set_tempo", tempo=round(60_000_000 / tune["tempo"]), time=0))
    tr.append(mido.Message("program_change", channel=0, program=0, time=0))
    events = []
    for i, (on, dur, p) in enumerate(notes):
        events.append((int(on * TICKS), 1, mido.Message("note_on", channel=0, note=p,
                                                         velocity=velocity(on, bar_len, i))))
        events.append((int((on + dur) * TICKS), 0, mido.Message("note_off", channel=0, note=p, velocity=64)))
    events.sort(key=lambda e: (e[0], e[1], e[2].note))
    now = 0
    for t, _, msg in events:
        tr.append(msg.copy(time=t - now))
        now = t
    tr.append(mido.MetaMessage("end_of_track", time=0))
    mid.tracks.append(tr)
    mid.save(path)


def tune_label(tune: dict) -> dict:
    tonic = pitch(tune["tonic"] + "4") % 12
    mode = tune["mode"]
    if mode in ("major", "minor"):
        quality, scale_key = mode, (tonic, mode)
    else:
        quality = "minor" if STEPS[mode][2] == 3 else "major"
        scale_key = ((tonic + PARENT_SHIFT[mode]) % 12, "major")
    key = key_name(tonic, quality)
    follow = [key] + ([key_name(*scale_key)] if mode not in ("major", "minor") else [])
    return {"tonic": tune["tonic"], "mode": mode, "key": key, "scale_key": key_name(*scale_key),
            "scale_pcs": scale_pcs(*scale_key), "follow_keys": follow}


def write_tunes(out: Path) -> list[dict]:
    out.mkdir(parents=True, exist_ok=True)
    index = []
    for i, tune in enumerate(TUNES, 1):
        notes = tune_notes(tune)
        name = f"{i:02d}-{tune['id']}.mid"
        write_tune(out / name, tune, notes)
        num_, den = tune["meter"]
        entry = {"file": name, "title": tune["title"], **tune_label(tune), "tempo_bpm": tune["tempo"],
                 "meter": f"{num_}/{den}", "bars": len(tune["bars"]),
                 "quarters": num(Fraction(4 * num_, den) * len(tune["bars"])),
                 "notes": len(notes), "range": [min(n[2] for n in notes), max(n[2] for n in notes)],
                 "style": tune["style"]}
        if "note" in tune:
            entry["note"] = tune["note"]
        index.append(entry)
    write_index(out, "Made-up tunes (models/train/make_tunes.py): one track, piano, as a user plays them "
                     "into a DAW. Labels and the rules behind them:", index)
    return index


def write_index(out: Path, about: str, index: list[dict]) -> None:
    """out/index.json: what the tunes are, the labelling rules, and one entry per tune."""
    with open(out / "index.json", "w") as f:
        json.dump({"about": about, "rules": RULES, "tunes": index}, f, indent=1, ensure_ascii=False)
        f.write("\n")


# ---------------------------------------------------------------- 2. the key-finding melodies

# Scale degrees: "1" tonic, "8" its octave, "9" the second above it, "-5" the fifth below the tonic;
# "#" raises a degree by a semitone (the minor templates' leading tone "#7", "#-7"); "r" a rest.
MAJOR_TEMPLATES = {
    "scale": ("4/4", "1:1 2:1 3:1 4:1 5:1 6:1 7:1 8:1 8:1 7:1 6:1 5:1 4:1 3:1 2:1 1:1"),
    "pop": ("4/4", "5:1/2 5:1/2 3:1 5:1 8:1 6:1/2 6:1/2 5:1 3:1 1:1 2:1 4:1 3:1/2 2:1/2 -7:1 1:3 r:1"),
    "waltz": ("3/4", "1:2 3:1 5:2 3:1 4:1 6:1 8:1 7:2 5:1 6:1 4:1 2:1 5:2 -7:1 1:3"),
    "folk": ("4/4", "1:1/2 2:1/2 3:1 3:1/2 2:1/2 1:1 5:1 5:1/2 6:1/2 5:2 8:1 7:1/2 6:1/2 5:1 3:1 "
                    "4:1 3:1/2 2:1/2 1:2"),
    "arpeggio": ("4/4", "1:1 3:1 5:1 8:1 4:1 6:1 8:1 6:1 5:1 7:1 9:1 7:1 8:2 5:1 1:1"),
    "leaping": ("4/4", "1:1 5:1 10:1 8:1 6:1 4:1 11:1 9:1 7:1 2:1 5:1 -7:1 8:2 1:2"),
    "ballad": ("4/4", "3:3/2 2:1/2 1:1 5:1 6:2 5:2 4:3/2 3:1/2 2:1 -7:1 1:4"),
    "syncopated": ("4/4", "1:3/4 3:3/4 5:1/2 r:1/2 6:1 5:1/2 4:1/2 3:1 2:1/2 3:1 5:1 "
                          "8:3/4 7:3/4 5:1/2 r:1/2 4:1 2:1/2 1:5/2 r:3/2"),
}
MINOR_TEMPLATES = {
    "scale": ("4/4", "1:1 2:1 3:1 4:1 5:1 6:1 #7:1 8:1 8:1 #7:1 6:1 5:1 4:1 3:1 2:1 1:1"),
    "minor": ("4/4", "1:1 3:1 5:3/2 4:1/2 3:1 2:1 1:2 6:3/2 5:1/2 4:1 3:1 2:1 #-7:1 1:2"),
    "folk": ("4/4", "1:1/2 1:1/2 3:1/2 4:1/2 5:1 5:1 7:1 5:1/2 4:1/2 3:2 4:1 3:1/2 2:1/2 1:1 -7:1 1:3 r:1"),
    "waltz": ("3/4", "1:2 3:1 5:2 3:1 6:1 5:1 4:1 3:2 2:1 4:1 3:1 2:1 #-7:2 2:1 1:3"),
    "arpeggio": ("4/4", "1:1 3:1 5:1 8:1 4:1 6:1 8:1 6:1 5:1 #7:1 9:1 #7:1 8:2 5:1 1:1"),
    "leaping": ("4/4", "1:1 8:1 5:1 10:1 6:1 3:1 11:1 8:1 #7:1 2:1 5:1 #-7:1 1:2 -5:1 1:1"),
    "pop": ("4/4", "5:1/2 5:1/2 6:1/2 5:1/2 3:1 1:1 3:1/2 3:1/2 4:1/2 3:1/2 2:1 -7:1 "
                   "1:1 3:1 5:1 6:1/2 5:1/2 4:1 2:1 #-7:1 1:1"),
    "syncopated": ("4/4", "1:3/4 3:3/4 5:1/2 r:1/2 4:1 3:1/2 2:1/2 3:1 4:1/2 5:2 "
                          "6:3/4 5:3/4 4:1/2 r:1/2 3:1 2:1/2 1:5/2 r:3/2"),
}
MODAL_RIFFS = [
    # (tonic, mode, riff): labelled by the tonic's major/minor, as a key-finder reads them
    ("D", "dorian", "1:1/2 r:1/4 1:1/4 3:1/2 4:1/2 5:1 6:1/2 5:1/2 4:1/2 3:1/2 1:1/2 -7:1/2 1:2"),
    ("E", "dorian", "1:1/2 3:1/2 5:1/2 6:1/2 7:1/2 6:1/2 5:1 4:1/2 3:1/2 2:1/2 3:1/2 1:2"),
    ("G", "mixolydian", "1:1/2 1:1/2 3:1/2 5:1/2 7:1 5:1/2 4:1/2 3:1/2 1:1/2 -7:1/2 1:5/2"),
    ("A", "mixolydian", "5:1/2 3:1/2 1:1/2 -7:1/2 1:1 3:1 5:1/2 7:1/2 6:1/2 5:1/2 3:1/2 2:1/2 1:1"),
]
KIND_TEXT = {"dorian": "modal: dorian riff, labelled as its tonic's minor key (as a key-finder reads it)",
             "mixolydian": "modal: mixolydian riff, labelled as its tonic's major key (as a key-finder reads it)"}


def degree_pitch(tok: str, tonic_midi: int, steps: list[int]) -> int:
    raise_ = tok.count("#") - tok.count("b")
    n = int(tok.lstrip("#b"))
    if n >= 1:
        octave, idx = divmod(n - 1, 7)
    else:                                     # -7: the seventh degree below the tonic
        octave, idx = -1, (-n - 1) % 7
    return tonic_midi + 12 * octave + steps[idx] + raise_


def template_notes(text: str, tonic_midi: int, steps: list[int]):
    notes, t = [], Fraction(0)
    for tok in text.split():
        deg, dur = tok.split(":")
        d = Fraction(dur)
        if deg != "r":
            notes.append([num(t), num(d), degree_pitch(deg, tonic_midi, steps)])
        t += d
    return notes


def key_melodies() -> list[dict]:
    out = []
    majors, minors = list(MAJOR_TEMPLATES), list(MINOR_TEMPLATES)
    for variant, (maj_shift, min_shift) in enumerate([(0, 0), (3, 5)]):
        for tonic in range(12):
            # the tonic between F#3 and F4; the second variant an octave up when it starts low
            tonic_midi = (60 + tonic if tonic <= 5 else 48 + tonic) + (12 if variant and tonic > 5 else 0)
            for mode, names, templates, shift in (("major", majors, MAJOR_TEMPLATES, maj_shift),
                                                   ("minor", minors, MINOR_TEMPLATES, min_shift)):
                kind = names[(tonic + shift) % len(names)]
                meter, text = templates[kind]
                key = key_name(tonic, mode)
                out.append({"name": f"{slug(key)}-{'tune' if kind == 'minor' else kind}", "key": key, "kind": kind,
                            "meter": meter,
                            "notes": template_notes(text, tonic_midi, STEPS[mode])})
    for tonic_name, mode, text in MODAL_RIFFS:
        tonic = pitch(tonic_name + "4") % 12
        quality = "minor" if STEPS[mode][2] == 3 else "major"
        tonic_midi = 60 + tonic if tonic <= 5 else 48 + tonic
        out.append({"name": f"{tonic_name.lower()}-{mode}-riff", "key": key_name(tonic, quality),
                    "kind": KIND_TEXT[mode], "meter": "4/4",
                    "notes": template_notes(text, tonic_midi, STEPS[mode])})
    names = [m["name"] for m in out]
    assert len(set(names)) == len(names), "melody names must be unique"
    return out


def write_key_melodies(path: Path, melodies: list[dict]) -> None:
    """A JSON list, one melody per line (notes compact), for a readable diff."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = []
    for m in melodies:
        body = {k: m[k] for k in ("name", "key", "kind")}
        head = json.dumps(body, ensure_ascii=False)[:-1]
        lines.append(f'{head}, "meter": "{m["meter"]}", "notes": {json.dumps(m["notes"])}}}')
    path.write_text("[\n" + ",\n".join(lines) + "\n]\n")


def write_validation_tunes(out: Path, melodies: list[dict]) -> list[dict]:
    """The major and minor key melodies as tunes (index.json as write_tunes writes it), for
    choosing a setting on other material than the tunes it is judged on. The modal riffs are
    left out: the D dorian one is tune 05."""
    out.mkdir(parents=True, exist_ok=True)
    index = []
    for i, m in enumerate(x for x in melodies if not x["kind"].startswith("modal")):
        num_, den = (int(v) for v in m["meter"].split("/"))
        tonic, mode = m["key"].split()
        tune = {"title": m["name"], "meter": (num_, den), "tempo": 84 + 8 * (i % 7)}
        notes = [(Fraction(on), Fraction(d), p) for on, d, p in m["notes"]]
        name = f"{i + 1:02d}-{m['name']}.mid"
        write_tune(out / name, tune, notes)
        end = max(on + d for on, d, _ in notes)
        bar_len = Fraction(4 * num_, den)
        bars = -(-end // bar_len)
        index.append({"file": name, "title": m["name"], **tune_label({"tonic": tonic, "mode": mode}),
                      "tempo_bpm": tune["tempo"], "meter": m["meter"], "bars": int(bars),
                      "quarters": num(bar_len * bars), "notes": len(notes),
                      "range": [min(n[2] for n in notes), max(n[2] for n in notes)], "style": m["kind"]})
    write_index(out, "Validation tunes (models/train/make_tunes.py --validation-tunes): the major and minor "
                     "key melodies of tests/data/key-melodies.json, one track, piano.", index)
    return index


# ---------------------------------------------------------------- check

def check(index: list[dict], melodies: list[dict], tunes_dir: Path) -> None:
    """The Krumhansl-Kessler key (sample.key_of, duration-weighted) of every tune and melody."""
    sys.path.insert(0, str(HERE))
    from sample import key_of, read_midi      # imports torch: only for --check
    vocab = json.load(open(HERE / "vocab_beats.json"))
    hits = 0
    for t in index:
        notes, _ = read_midi(tunes_dir / t["file"], vocab)
        tonic, mode, _ = key_of(notes)
        est = key_name(tonic, mode)
        hits += est in t["follow_keys"]
        print(f"tune {t['file']:28s} labelled {t['key']:10s} KK {est:10s} {'ok' if est in t['follow_keys'] else 'MISS'}")
    print(f"tunes: KK agrees with {hits}/{len(index)}")
    hits = 0
    for m in melodies:
        notes = [{"pitch": p, "dur": round(d * 12)} for _, d, p in m["notes"]]
        tonic, mode, _ = key_of(notes)
        est = key_name(tonic, mode)
        hits += est == m["key"]
        if est != m["key"]:
            print(f"melody {m['name']:28s} labelled {m['key']:10s} KK {est}")
    print(f"key melodies: KK agrees with {hits}/{len(melodies)}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tunes", type=Path, default=REPO / "examples" / "tunes", help="folder for the tunes")
    ap.add_argument("--key-melodies", type=Path, default=REPO / "tests" / "data" / "key-melodies.json")
    ap.add_argument("--check", action="store_true", help="print the KK key of every tune and melody")
    ap.add_argument("--validation-tunes", type=Path, default=None, metavar="DIR",
                    help="also write the major and minor key melodies as tunes (index.json) into DIR")
    args = ap.parse_args()
    index = write_tunes(args.tunes)
    melodies = key_melodies()
    write_key_melodies(args.key_melodies, melodies)
    keys = {m["key"] for m in melodies}
    print(f"{len(index)} tunes in {args.tunes}; {len(melodies)} melodies in {args.key_melodies} "
          f"({len(keys)} keys)")
    if args.validation_tunes:
        extra = write_validation_tunes(args.validation_tunes, melodies)
        print(f"{len(extra)} validation tunes in {args.validation_tunes}")
    if args.check:
        check(index, melodies, args.tunes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
