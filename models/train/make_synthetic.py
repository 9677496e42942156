#!/usr/bin/env python3
"""Synthetic accompaniments: melodies with rule-written accompaniments, for training (issue 13).

    python make_synthetic.py --pieces 2000 --out work/synthetic --seed 1 \
        --summary work/synthetic-summary.json --render 2

Owned material, written by the rules below (no third-party music is read or imitated). Each
piece is one MIDI file (type 1, 480 ticks per quarter, on the 12-per-quarter grid of the
`beats` vocabulary):

- track 0: conductor (name, tempo, time signature, key signature);
- track 1: the **melody**, GM program 68 (oboe, `--melody-program`): the program the plugin
  gives a captured melody, and a voice-like program (52-54, 64-79), so `antiphon tokenize
  --accompany-share` takes this track as the melody (`crates/antiphon-tokens/src/parts.rs`: the first track
  whose first note has a voice-like program) and every other track as the answer;
- track 2: the **bass** (GM bass 32-34 or piano left hand), below E3 (MIDI 52);
- track 3: the **chords / pattern** (piano, electric piano, guitar, harp, strings, organ,
  accordion, pad) in the middle register, voice-led from chord to chord;
- sometimes track 4: a sustained **pad** (strings or synth pad) under a pattern track.

No accompaniment track ever uses a voice-like program or the violin (40).

Harmony: a chord progression of a common kind (I-V-vi-IV, I-vi-IV-V, ii-V-I, 12-bar blues,
i-VI-III-VII, i-iv-V, Andalusian, modal vamps, ...), one or two chords per bar, looped to the
piece's length, with occasional secondary dominants and a final cadence (V-I / V-i) unless the
piece is a modal vamp. All twelve tonics, major, minor, dorian and mixolydian; 4/4, 3/4 and
6/8; 60-160 quarter notes per minute.

Melody: phrases of 2 or 4 bars (8-29 bars in all, sometimes one bar of accompaniment first),
bar rhythms from a per-meter list (quarters, eighths, dotted notes, syncopations, rests),
motifs repeated inside a phrase and phrases repeated; chord tones on strong beats and long
notes, passing / neighbour / repeated tones between, a contour that rises and falls, leaps
followed by a step back, a cadence note at each phrase end (the tonic at the end); range
about C4-C6.

Accompaniment styles: block chords, sustained ballad, broken chords, arpeggios, Alberti bass,
waltz oom-pah-pah, pop eighth-note pulse, syncopated comping with a walking bass, guitar strum;
the bass plays roots (sustained, root-fifth, octaves, eighth pulse, walking with chromatic
approach notes).

Deterministic: piece i is made from numpy's SeedSequence([seed, i]), so the same seed gives the
same bytes, and a piece does not depend on how many are made. `--summary` writes counts by key,
mode, meter, style, progression and instrument, notes and hours; `--render K` writes piano
rolls of the first K pieces (PNG, matplotlib).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections import Counter
from pathlib import Path

import mido
import numpy as np

TICKS = 480          # MIDI ticks per quarter in the written files
Q = 12               # grid: 12 per quarter (the `beats` vocabulary)
SCALE = TICKS // Q   # grid unit -> MIDI ticks

MAJOR_NAMES = ["C", "Db", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B"]
MINOR_NAMES = ["C", "C#", "D", "Eb", "E", "F", "F#", "G", "G#", "A", "Bb", "B"]
MODE_STEPS = {
    "major": [0, 2, 4, 5, 7, 9, 11],
    "minor": [0, 2, 3, 5, 7, 8, 10],
    "dorian": [0, 2, 3, 5, 7, 9, 10],
    "mixolydian": [0, 2, 4, 5, 7, 9, 10],
}
QUALITY = {
    "M": [0, 4, 7], "m": [0, 3, 7], "dim": [0, 3, 6], "7": [0, 4, 7, 10],
    "M7": [0, 4, 7, 11], "m7": [0, 3, 7, 10], "m7b5": [0, 3, 6, 10], "sus4": [0, 5, 7],
}

# name -> (mode, chords [(root semitones above the tonic, quality)], meters allowed)
PROGRESSIONS = {
    "I-V-vi-IV": ("major", [(0, "M"), (7, "M"), (9, "m"), (5, "M")], "all"),
    "I-vi-IV-V": ("major", [(0, "M"), (9, "m"), (5, "M"), (7, "M")], "all"),
    "vi-IV-I-V": ("major", [(9, "m"), (5, "M"), (0, "M"), (7, "M")], "all"),
    "I-IV-V-IV": ("major", [(0, "M"), (5, "M"), (7, "M"), (5, "M")], "all"),
    "I-IV-I-V": ("major", [(0, "M"), (5, "M"), (0, "M"), (7, "7")], "all"),
    "I-vi-ii-V": ("major", [(0, "M"), (9, "m"), (2, "m7"), (7, "7")], "all"),
    "ii-V-I": ("major", [(2, "m7"), (7, "7"), (0, "M7"), (0, "M7")], "all"),
    "I-iii-IV-V": ("major", [(0, "M"), (4, "m"), (5, "M"), (7, "M")], "all"),
    "I-V-vi-iii-IV-I-IV-V": ("major", [(0, "M"), (7, "M"), (9, "m"), (4, "m"), (5, "M"),
                                       (0, "M"), (5, "M"), (7, "M")], "all"),
    "I-IV-vi-V": ("major", [(0, "M"), (5, "M"), (9, "m"), (7, "M")], "all"),
    "blues-12": ("major", [(0, "7"), (0, "7"), (0, "7"), (0, "7"), (5, "7"), (5, "7"),
                           (0, "7"), (0, "7"), (7, "7"), (5, "7"), (0, "7"), (7, "7")], "4/4"),
    "i-VI-III-VII": ("minor", [(0, "m"), (8, "M"), (3, "M"), (10, "M")], "all"),
    "i-iv-V-i": ("minor", [(0, "m"), (5, "m"), (7, "7"), (0, "m")], "all"),
    "i-VII-VI-V": ("minor", [(0, "m"), (10, "M"), (8, "M"), (7, "M")], "all"),
    "i-iv-VII-III": ("minor", [(0, "m"), (5, "m"), (10, "M"), (3, "M")], "all"),
    "i-VI-iv-V": ("minor", [(0, "m"), (8, "M"), (5, "m"), (7, "7")], "all"),
    "ii-V-i": ("minor", [(2, "m7b5"), (7, "7"), (0, "m"), (0, "m")], "all"),
    "i-VII-VI-VII": ("minor", [(0, "m"), (10, "M"), (8, "M"), (10, "M")], "all"),
    "dorian i-IV": ("dorian", [(0, "m7"), (5, "M"), (0, "m7"), (5, "M")], "all"),
    "dorian i-ii": ("dorian", [(0, "m"), (2, "m"), (0, "m"), (5, "M")], "all"),
    "mixolydian I-bVII-IV": ("mixolydian", [(0, "M"), (10, "M"), (5, "M"), (0, "M")], "all"),
}
MODE_WEIGHT = {"major": 0.52, "minor": 0.36, "dorian": 0.06, "mixolydian": 0.06}

METERS = {  # bar length, beat length, strong onsets, chord-change points for 2 per bar
    "4/4": dict(bar=48, beat=12, strong=(0, 24), half=24, sig=(4, 4)),
    "3/4": dict(bar=36, beat=12, strong=(0,), half=None, sig=(3, 4)),
    "6/8": dict(bar=36, beat=18, strong=(0, 18), half=18, sig=(6, 8)),
}
METER_WEIGHT = {"4/4": 0.6, "3/4": 0.2, "6/8": 0.2}

# style -> meters, chord-track programs, bass patterns
STYLES = {
    "block": (("4/4", "3/4", "6/8"), (0, 1, 4, 16, 19, 21), ("sustain", "root-fifth")),
    "ballad": (("4/4", "3/4", "6/8"), (48, 49, 50, 89, 91), ("sustain", "root-fifth")),
    "broken": (("4/4", "3/4", "6/8"), (0, 1, 4, 24, 25, 46), ("root-fifth", "sustain")),
    "arpeggio": (("4/4", "3/4", "6/8"), (0, 24, 25, 46, 5), ("sustain", "root-fifth", "octaves")),
    "alberti": (("4/4", "3/4"), (0, 1, 6), ("sustain", "root-fifth")),
    "waltz": (("3/4", "6/8"), (0, 1, 21, 24, 25), ("waltz",)),
    "pop8": (("4/4",), (0, 4, 27, 28, 29, 30), ("pulse8", "octaves", "root-fifth")),
    "comping": (("4/4",), (0, 4, 26, 11, 16), ("walking", "root-fifth")),
    "strum": (("4/4", "6/8"), (24, 25, 27), ("root-fifth", "pulse8", "octaves")),
}
PIANO_LH_PROGRAMS = (0, 1)
BASS_PROGRAMS = (32, 33, 33, 34, 35)
PAD_PROGRAMS = (48, 49, 89, 88)
FAMILY = {0: "piano", 1: "piano", 4: "piano", 5: "piano", 6: "piano", 11: "chromatic",
          16: "organ", 19: "organ", 21: "organ", 24: "guitar", 25: "guitar", 26: "guitar",
          27: "guitar", 28: "guitar", 29: "guitar", 30: "guitar", 46: "harp", 48: "strings",
          49: "strings", 50: "strings", 88: "pad", 89: "pad", 91: "pad"}

# melody bar rhythms: (onset, duration) in grid units; cadence bars end with the cadence note
RHYTHMS = {
    "4/4": [
        [(0, 12), (12, 12), (24, 12), (36, 12)],
        [(0, 24), (24, 12), (36, 12)],
        [(0, 12), (12, 12), (24, 24)],
        [(0, 6), (6, 6), (12, 12), (24, 12), (36, 12)],
        [(0, 12), (12, 6), (18, 6), (24, 12), (36, 6), (42, 6)],
        [(0, 18), (18, 6), (24, 18), (42, 6)],
        [(0, 6), (6, 12), (18, 6), (24, 12), (36, 12)],
        [(0, 12), (12, 6), (18, 18), (36, 12)],
        [(6, 6), (12, 6), (18, 6), (24, 12), (36, 12)],
        [(0, 6), (6, 6), (12, 6), (18, 6), (24, 6), (30, 6), (36, 12)],
        [(0, 12), (12, 6), (18, 6), (24, 24)],
        [(0, 12), (12, 12), (24, 12)],
        [(0, 18), (18, 18), (36, 12)],
        [(0, 12), (12, 12), (24, 6), (30, 18)],
        [(12, 12), (24, 12), (36, 12)],
        [(0, 6), (6, 6), (12, 6), (18, 18), (36, 6), (42, 6)],
    ],
    "3/4": [
        [(0, 12), (12, 12), (24, 12)],
        [(0, 24), (24, 12)],
        [(0, 18), (18, 6), (24, 12)],
        [(0, 6), (6, 6), (12, 12), (24, 12)],
        [(0, 12), (12, 6), (18, 6), (24, 12)],
        [(0, 12), (12, 24)],
        [(0, 6), (6, 6), (12, 6), (18, 6), (24, 12)],
        [(12, 12), (24, 12)],
        [(0, 24), (24, 6), (30, 6)],
    ],
    "6/8": [
        [(0, 12), (12, 6), (18, 12), (30, 6)],
        [(0, 6), (6, 6), (12, 6), (18, 6), (24, 6), (30, 6)],
        [(0, 18), (18, 18)],
        [(0, 18), (18, 12), (30, 6)],
        [(0, 12), (12, 6), (18, 18)],
        [(0, 6), (6, 6), (12, 6), (18, 12), (30, 6)],
        [(0, 12), (12, 6), (18, 6), (24, 6), (30, 6)],
        [(6, 6), (12, 6), (18, 18)],
    ],
}
CADENCE_RHYTHMS = {
    "4/4": [[(0, 48)], [(0, 36)], [(0, 24)], [(0, 12), (12, 36)], [(0, 12), (12, 12), (24, 24)],
            [(0, 6), (6, 6), (12, 24)]],
    "3/4": [[(0, 36)], [(0, 24)], [(0, 12), (12, 24)]],
    "6/8": [[(0, 36)], [(0, 30)], [(0, 18)], [(0, 12), (12, 6), (18, 18)]],
}


def key_label(tonic: int, mode: str) -> tuple[str, str, str]:
    """(key as a musician names it, mido key_signature, scale_key) for a tonic and mode."""
    if mode == "major" or mode == "mixolydian":
        name = MAJOR_NAMES[tonic]
        label = f"{name} major"
    else:
        name = MINOR_NAMES[tonic]
        label = f"{name} minor"
    if mode == "major":
        sig, scale_key = MAJOR_NAMES[tonic], label
    elif mode == "minor":
        sig, scale_key = MINOR_NAMES[tonic] + "m", label
    else:
        parent = (tonic - (2 if mode == "dorian" else 7)) % 12
        sig, scale_key = MAJOR_NAMES[parent], f"{MAJOR_NAMES[parent]} major"
    return label, sig, scale_key


class Piece:
    """One synthetic piece: choices, harmony, and the notes of each track."""

    def __init__(self, rng: np.random.Generator, melody_program: int):
        self.rng = rng
        r = rng
        self.meter = str(r.choice(list(METER_WEIGHT), p=list(METER_WEIGHT.values())))
        self.m = METERS[self.meter]
        styles = [s for s, v in STYLES.items() if self.meter in v[0]]
        self.style = str(r.choice(styles))
        mode = str(r.choice(list(MODE_WEIGHT), p=list(MODE_WEIGHT.values())))
        progs = [n for n, (md, _, met) in PROGRESSIONS.items()
                 if md == mode and (met == "all" or met == self.meter)]
        self.prog_name = str(r.choice(progs))
        self.mode, self.prog, _ = PROGRESSIONS[self.prog_name]
        self.tonic = int(r.integers(12))
        self.key, self.key_sig, self.scale_key = key_label(self.tonic, self.mode)
        # tempo in quarters per minute
        if self.meter == "6/8":
            self.bpm = int(round(1.5 * r.integers(48, 92)))
        elif self.meter == "3/4":
            self.bpm = int(r.integers(80, 161))
        else:
            self.bpm = int(r.integers(66, 141))
        blues = self.prog_name == "blues-12"
        if blues or self.meter == "3/4" or len(self.prog) == 8:
            self.per_bar = 1
        else:
            self.per_bar = int(r.choice([1, 2], p=[0.6, 0.4]))
        _, chord_programs, bass_patterns = STYLES[self.style]
        self.chord_program = int(r.choice(chord_programs))
        self.bass_pattern = str(r.choice(bass_patterns))
        if self.style == "comping" and self.prog_name in ("ii-V-I", "blues-12", "I-vi-ii-V",
                                                          "ii-V-i"):
            self.bass_pattern = "walking" if r.random() < 0.8 else self.bass_pattern
        if self.chord_program in PIANO_LH_PROGRAMS and r.random() < 0.6 \
                and self.bass_pattern not in ("walking", "pulse8"):
            self.bass_program = self.chord_program        # piano left hand
        else:
            self.bass_program = int(r.choice(BASS_PROGRAMS))
        self.pad_program = None
        if self.style in ("arpeggio", "broken", "pop8", "strum") and r.random() < 0.25:
            self.pad_program = int(r.choice(PAD_PROGRAMS))
        self.melody_program = melody_program
        self.scale = [(self.tonic + s) % 12 for s in MODE_STEPS[self.mode]]

    # ---------------------------------------------------------------- harmony
    def plan(self, bars_wanted: int) -> None:
        r = self.rng
        bar = self.m["bar"]
        self.intro = 1 if r.random() < 0.3 else 0
        # phrases: 4 bars mostly, 2-bar pairs sometimes
        phrases: list[int] = []
        if self.prog_name == "blues-12":
            phrases = [4, 4, 4] * max(1, round(bars_wanted / 12))
        else:
            while sum(phrases) < bars_wanted:
                phrases += [4] if r.random() < 0.7 else [2, 2]
        self.phrases = phrases
        self.bars = self.intro + sum(phrases)
        # chord slots: (start, duration, root pc, quality)
        chords_needed = self.bars * self.per_bar
        seq = [self.prog[(i - self.intro * self.per_bar) % len(self.prog)]
               for i in range(chords_needed)]
        if self.intro:
            seq[: self.per_bar] = [self.prog[0]] * self.per_bar
        # final cadence (not for modal vamps; the blues ends on I7)
        if self.mode in ("major", "minor"):
            tonic_q = "M" if self.mode == "major" else "m"
            if self.prog_name == "blues-12":
                seq[-1] = (0, "7")
            else:
                seq[-1] = (0, tonic_q)
                if self.per_bar == 2:
                    seq[-2] = (0, tonic_q)
                    seq[-3] = (7, "7")
                    seq[-4] = (2, "m7") if self.mode == "major" and r.random() < 0.5 else (5, "M" if self.mode == "major" else "m")
                else:
                    seq[-2] = (7, "7" if r.random() < 0.6 else "M")
        slot = bar // self.per_bar
        slots = []
        for i, (root, q) in enumerate(seq):
            slots.append([i * slot, slot, root, q])
        # secondary dominants: V7 of a non-tonic triad, replacing or splitting the slot before
        self.secondary = 0
        last = len(slots) - (4 if self.per_bar == 2 else 2)
        i = 1 + self.intro * self.per_bar
        out = []
        for j, s in enumerate(slots):
            out.append(s)
        for j in range(i, last):
            root, q = slots[j][2], slots[j][3]
            prev = slots[j - 1]
            if root == 0 or q not in ("M", "m", "m7") or r.random() > 0.12:
                continue
            if prev[2] == root or (prev[2] + 5) % 12 == root:
                continue
            dom = ((root + 7) % 12, "7")
            if self.per_bar == 1 and self.m["half"] and r.random() < 0.6:
                half = self.m["half"]
                prev[1] = half
                out.append([prev[0] + half, slot - half, dom[0], dom[1]])
            else:
                prev[2], prev[3] = dom
            self.secondary += 1
        self.slots = sorted(out, key=lambda s: s[0])
        self.length = self.bars * bar

    def chord_at(self, t: int):
        for s in reversed(self.slots):
            if s[0] <= t:
                return s
        return self.slots[0]

    def chord_pcs(self, s) -> list[int]:
        return [(self.tonic + s[2] + iv) % 12 for iv in QUALITY[s[3]]]

    def scale_for(self, s) -> list[int]:
        """The key's scale with the chord's tones put in (the raised 7th under V in minor)."""
        sc = list(self.scale)
        for pc in self.chord_pcs(s):
            if pc in sc:
                continue
            for k, x in enumerate(sc):
                if (pc - x) % 12 in (1, 11):
                    sc[k] = pc
                    break
        return sorted(set(sc))

    # ---------------------------------------------------------------- melody
    def melody(self) -> list[tuple[int, int, int, int]]:
        r = self.rng
        bar = self.m["bar"]
        lo = int(r.integers(62, 68))
        hi = min(84, lo + int(r.integers(12, 18)))
        self.mel_range = (lo, hi)
        rhythms = RHYTHMS[self.meter]
        notes: list[tuple[int, int, int, int]] = []
        # start on a tonic-chord tone in the middle of the range
        tonic_pcs = self.chord_pcs(self.slots[0])
        mid = (lo + hi) // 2
        p = min((x for x in range(lo, hi + 1) if x % 12 in tonic_pcs), key=lambda x: abs(x - mid) + r.random() * 3)
        start_bar = self.intro
        done: list[tuple[list, list, list]] = []  # (rhythm bars, chord signature, notes rel)
        for pi, plen in enumerate(self.phrases):
            final = pi == len(self.phrases) - 1
            t0 = start_bar * bar
            sig = [(s[2], s[3], s[0] - t0) for s in self.slots if t0 <= s[0] < t0 + plen * bar]
            # phrase repetition: same rhythm (and pitches when the chords are the same)
            cands = [d for d in done if len(d[0]) == plen]
            if cands and r.random() < 0.5:
                rb, dsig, drel = cands[int(r.integers(len(cands)))]
                if dsig == sig and r.random() < 0.6:
                    for (on, du, pitch, vel) in drel[:-1]:
                        notes.append((t0 + on, du, pitch, vel))
                    on, du, pitch, vel = drel[-1]
                    pitch = self.cadence_pitch(t0 + on, notes[-1][2] if notes else p, final)
                    notes.append((t0 + on, du, pitch, vel))
                    p = pitch
                    start_bar += plen
                    continue
                rbars = rb
            else:
                a = rhythms[int(r.integers(len(rhythms)))]
                b = rhythms[int(r.integers(len(rhythms)))]
                cad = CADENCE_RHYTHMS[self.meter][int(r.integers(len(CADENCE_RHYTHMS[self.meter])))]
                if plen == 2:
                    rbars = [a, cad]
                else:
                    form = r.integers(3)
                    rbars = [a, a, b, cad] if form == 0 else [a, b, a, cad] if form == 1 else [a, b, b, cad]
            rel: list[tuple[int, int, int, int]] = []
            events = []
            for bi, rb in enumerate(rbars):
                for on, du in rb:
                    events.append((bi * bar + on, du))
            peak_at = len(events) * float(r.uniform(0.35, 0.7))
            for k, (on, du) in enumerate(events):
                t = t0 + on
                last = k == len(events) - 1
                direction = 1 if k < peak_at else -1
                if p >= hi - 1:
                    direction = -1
                elif p <= lo + 1:
                    direction = 1
                if last:
                    q = self.cadence_pitch(t, p, final)
                else:
                    q = self.next_pitch(t, du, p, direction, notes)
                vel = int(np.clip(86 + (6 if on % bar == 0 else 0) + r.integers(-8, 9), 40, 120))
                notes.append((t, du, q, vel))
                rel.append((on, du, q, vel))
                p = q
            done.append((rbars, sig, rel))
            start_bar += plen
        return notes

    def cadence_pitch(self, t: int, p: int, final: bool) -> int:
        lo, hi = self.mel_range
        s = self.chord_at(t)
        pcs = self.chord_pcs(s)
        if final and self.mode in ("major", "minor", "dorian", "mixolydian") and s[2] == 0:
            pcs = [self.tonic]
        elif s[2] == 0 and self.rng.random() < 0.6:
            pcs = [self.tonic]
        cands = [x for x in range(lo - 2, hi + 3) if x % 12 in pcs]
        return min(cands, key=lambda x: abs(x - p) + 0.01 * x)

    def next_pitch(self, t: int, du: int, p: int, direction: int, notes) -> int:
        r = self.rng
        lo, hi = self.mel_range
        s = self.chord_at(t)
        pcs = self.chord_pcs(s)
        scale = self.scale_for(s)
        strong = (t % self.m["bar"]) in self.m["strong"] or t == s[0] or du >= 18
        mid = (lo + hi) / 2
        if abs(p - mid) > 5 and r.random() < 0.7:   # pull back towards the middle of the range
            direction = 1 if p < mid else -1
        # after a leap, step back
        if len(notes) >= 2:
            leap = notes[-1][2] - notes[-2][2]
            if abs(leap) >= 5:
                direction = -int(np.sign(leap))
        if strong:
            cands = [x for x in range(lo, hi + 1) if x % 12 in pcs]
            if r.random() < 0.1:
                far = [x for x in cands if 5 <= (x - p) * direction <= 9]
                if far:
                    return int(far[int(r.integers(len(far)))])
            w = np.array([math.exp(-abs(x - p) / 2.5 - ((x - mid) / 8.0) ** 2 / 2)
                          * (1.6 if (x - p) * direction > 0 else 0.7 if x == p else 1.0) for x in cands])
            return int(cands[int(r.choice(len(cands), p=w / w.sum()))])
        u = r.random()
        steps = [x for x in range(lo - 2, hi + 3) if x % 12 in scale]
        if p not in steps:
            steps = sorted(set(steps + [p]))
        i = steps.index(p)
        if u < 0.6:                                   # passing: a step along the contour
            j = min(max(i + direction, 0), len(steps) - 1)
        elif u < 0.75:                                # neighbour: a step against it
            j = min(max(i - direction, 0), len(steps) - 1)
        elif u < 0.9:                                 # repeated note
            j = i
        else:                                         # a chord tone near by
            cands = [x for x in range(lo, hi + 1) if x % 12 in pcs and 0 < abs(x - p) <= 5]
            if cands:
                return int(cands[int(r.integers(len(cands)))])
            j = i
        return int(min(max(steps[j], lo - 2), hi + 2))

    # ---------------------------------------------------------------- accompaniment
    def voicings(self, pcs: list[int]) -> list[list[int]]:
        out = []
        n = len(pcs)
        for inv in range(n):
            order = pcs[inv:] + pcs[:inv]
            for base in range(48, 62):
                if base % 12 != order[0]:
                    continue
                v = [base]
                for pc in order[1:]:
                    x = v[-1] + 1
                    while x % 12 != pc:
                        x += 1
                    v.append(x)
                if 50 <= v[0] <= 60 and v[-1] <= 72:
                    out.append(v)
        return out

    def accompaniment(self):
        r = self.rng
        bar = self.m["bar"]
        beat = self.m["beat"]
        bass: list[tuple[int, int, int, int]] = []
        chords: list[tuple[int, int, int, int]] = []
        pad: list[tuple[int, int, int, int]] = []
        lh = self.bass_program in PIANO_LH_PROGRAMS
        blo, bhi = (36, 51) if lh else (28, 50)
        prev_v = None
        prev_b = int(r.integers(36, 44))
        # per-piece pattern choices
        arp_fig = int(r.integers(3))
        comp = [[(0, 12), (18, 6), (36, 6)], [(0, 6), (12, 12), (30, 12)], [(6, 12), (24, 6), (30, 6)],
                [(0, 18), (18, 18), (36, 12)]][int(r.integers(4))]
        strum = ([(0, 12), (12, 6), (18, 6), (30, 6), (36, 6), (42, 6)] if self.meter == "4/4"
                 else [(0, 12), (12, 6), (18, 12), (30, 6)])
        pulse_skip = r.random() < 0.4
        sustain_long = self.style == "ballad" or r.random() < 0.5
        vel_c = int(r.integers(52, 70))
        vel_b = int(r.integers(68, 86))
        last_slot = len(self.slots) - 1
        for si, s in enumerate(self.slots):
            t0, dur = s[0], s[1]
            pcs = self.chord_pcs(s)
            root = pcs[0]
            final = si == last_slot
            # voice-led voicing (a fourth voice for seventh chords; triads sometimes double the root)
            vs = self.voicings(pcs)
            if prev_v is None:
                v = min(vs, key=lambda x: abs(sum(x) / len(x) - 62) + r.random() * 4)
            else:
                def cost(x):
                    a, b = sorted(x), sorted(prev_v)
                    if len(a) == len(b):
                        c = sum(abs(i - j) for i, j in zip(a, b))
                    else:
                        c = abs(sum(a) / len(a) - sum(b) / len(b)) * 3
                    return c + r.random() * 1.5
                v = min(vs, key=cost)
            prev_v = v
            nxt = self.slots[si + 1] if si < last_slot else None
            next_root = self.chord_pcs(nxt)[0] if nxt else root

            def vel(base, accent=False):
                return int(np.clip(base + (8 if accent else 0) + r.integers(-5, 6), 30, 120))

            # ---- bass
            def bnote(pc, near):
                cands = [x for x in range(blo, bhi + 1) if x % 12 == pc]
                return min(cands, key=lambda x: abs(x - near) + 0.35 * abs(x - 40))
            b_root = bnote(root, prev_b)
            fifth = b_root + 7 if b_root + 7 <= bhi else b_root - 5
            pat = self.bass_pattern
            if final:
                bass.append((t0, dur, b_root, vel(vel_b, True)))
            elif pat == "sustain":
                if self.meter == "4/4" and dur == bar and not sustain_long:
                    bass += [(t0, 24, b_root, vel(vel_b, True)), (t0 + 24, 24, b_root if r.random() < 0.5 else fifth, vel(vel_b))]
                else:
                    bass.append((t0, dur, b_root, vel(vel_b, True)))
            elif pat == "root-fifth":
                if dur >= 2 * beat:
                    h = beat * (dur // beat // 2) if self.meter != "3/4" else 24
                    bass += [(t0, h, b_root, vel(vel_b, True)), (t0 + h, dur - h, fifth, vel(vel_b))]
                else:
                    bass.append((t0, dur, b_root, vel(vel_b, True)))
            elif pat == "octaves":
                up = b_root + 12 if b_root + 12 <= 51 else b_root
                step = 6 if self.meter != "3/4" else 12
                for k, on in enumerate(range(t0, t0 + dur, step)):
                    bass.append((on, step - 1, b_root if k % 2 == 0 else up, vel(vel_b, k == 0)))
            elif pat == "pulse8":
                for k, on in enumerate(range(t0, t0 + dur, 6)):
                    if pulse_skip and k % 4 == 3:
                        continue
                    bass.append((on, 5, b_root, vel(vel_b, k % 2 == 0)))
            elif pat == "walking":
                nbeats = dur // beat
                line = [b_root]
                ct = [x for x in range(blo, bhi + 1) if x % 12 in pcs]
                for k in range(1, nbeats):
                    if k == nbeats - 1 and nxt:               # approach the next root
                        tgt = bnote(next_root, line[-1])
                        line.append(tgt + (1 if r.random() < 0.5 else -1))
                    else:
                        opts = [x for x in ct if 0 < abs(x - line[-1]) <= 7] or ct
                        line.append(int(opts[int(r.integers(len(opts)))]))
                for k, x in enumerate(line):
                    x = min(max(x, blo), 51)
                    bass.append((t0 + k * beat, beat - 1, x, vel(vel_b, k == 0)))
            elif pat == "waltz":
                alt = (t0 // bar) % 2 == 1
                bass.append((t0, beat, fifth if alt and r.random() < 0.7 else b_root, vel(vel_b, True)))
            # approach note: the last eighth before a new root (not for walking / waltz / pulse)
            if pat in ("sustain", "root-fifth") and nxt and next_root != root and dur >= 24 \
                    and not final and r.random() < 0.25:
                on, du, x, ve = bass[-1]
                if du > 6:
                    bass[-1] = (on, du - 6, x, ve)
                    tgt = bnote(next_root, x)
                    app = tgt + (1 if r.random() < 0.5 else -1) if r.random() < 0.5 else \
                        [y for y in range(blo, bhi + 1) if y % 12 in self.scale and 0 < abs(y - tgt) <= 2][0]
                    bass.append((on + du - 6, 6, min(max(app, blo), 51), vel(vel_b)))
            prev_b = bass[-1][2]

            # ---- chords / pattern
            st = self.style
            if final:
                for x in v:
                    chords.append((t0, dur, x, vel(vel_c)))
            elif st == "ballad":
                for x in v:
                    chords.append((t0, dur, x, vel(vel_c)))
            elif st == "block":
                if self.chord_program in (16, 19, 21) and r.random() < 0.5:
                    for x in v:
                        chords.append((t0, dur, x, vel(vel_c)))
                else:
                    for k, on in enumerate(range(t0, t0 + dur, beat)):
                        for x in v:
                            chords.append((on, beat - 2, x, vel(vel_c, k == 0)))
            elif st == "broken":
                lo3 = v[:3]
                fig = [0, 2, 1, 2] if arp_fig != 1 else [0, 1, 2, 1]
                for k, on in enumerate(range(t0, t0 + dur, 6)):
                    chords.append((on, 6, lo3[fig[k % 4]], vel(vel_c, k == 0)))
            elif st == "arpeggio":
                ext = v + [v[0] + 12] if len(v) == 3 else v
                if self.meter == "6/8":
                    fig = [0, 1, 2, 3, 2, 1]
                    step = 6
                elif arp_fig == 2 and self.meter == "4/4":
                    fig, step = [0, 1, 2, 3], 3
                else:
                    fig, step = [0, 1, 2, 3, 2, 1], 6
                for k, on in enumerate(range(t0, t0 + dur, step)):
                    chords.append((on, step * 2 if k % len(fig) == 0 else step, ext[fig[k % len(fig)]], vel(vel_c, k == 0)))
            elif st == "alberti":
                lo3 = v[:3]
                fig = [0, 2, 1, 2]
                for k, on in enumerate(range(t0, t0 + dur, 6)):
                    chords.append((on, 6, lo3[fig[k % 4]], vel(vel_c, k % 4 == 0)))
            elif st == "waltz":
                offs = [12, 24] if self.meter == "3/4" else [6, 12, 24, 30]
                du = 10 if self.meter == "3/4" else 5
                for bo in range(t0, t0 + dur, bar):
                    for o in offs:
                        if bo + o < t0 + dur:
                            for x in v:
                                chords.append((bo + o, du, x, vel(vel_c)))
            elif st == "pop8":
                for k, on in enumerate(range(t0, t0 + dur, 6)):
                    if pulse_skip and k % 8 in (3, 6):
                        continue
                    for x in v:
                        chords.append((on, 5, x, vel(vel_c, k % 2 == 0)))
            elif st == "comping":
                for bo in range(t0, t0 + dur, bar):
                    for on, du in comp:
                        if bo + on < t0 + dur:
                            for x in v:
                                chords.append((bo + on, min(du, t0 + dur - bo - on), x, vel(vel_c, on % 12 != 0)))
            elif st == "strum":
                for bo in range(t0, t0 + dur, bar):
                    for on, du in strum:
                        if bo + on < t0 + dur:
                            for x in v:
                                chords.append((bo + on, du, x, vel(vel_c, on == 0)))
            if self.pad_program is not None:
                for x in v[:3]:
                    pad.append((t0, dur, x + 12 if x < 55 else x, vel(vel_c - 12)))
        return bass, chords, pad

    # ---------------------------------------------------------------- output
    def build(self, bars_wanted: int):
        self.plan(bars_wanted)
        self.melody_notes = self.melody()
        self.bass_notes, self.chord_notes, self.pad_notes = self.accompaniment()
        return self

    def note_count(self) -> int:
        return len(self.melody_notes) + len(self.bass_notes) + len(self.chord_notes) + len(self.pad_notes)

    def midi(self, title: str) -> mido.MidiFile:
        mf = mido.MidiFile(type=1, ticks_per_beat=TICKS)
        cond = mido.MidiTrack()
        cond.append(mido.MetaMessage("track_name", name=title, time=0))
        cond.append(mido.MetaMessage("time_signature", numerator=self.m["sig"][0],
                                     denominator=self.m["sig"][1], time=0))
        cond.append(mido.MetaMessage("key_signature", key=self.key_sig, time=0))
        cond.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(self.bpm), time=0))
        cond.append(mido.MetaMessage("end_of_track", time=self.length * SCALE))
        mf.tracks.append(cond)
        parts = [("Melody", self.melody_program, 0, self.melody_notes),
                 ("Bass", self.bass_program, 1, self.bass_notes),
                 ("Chords", self.chord_program, 2, self.chord_notes)]
        if self.pad_program is not None:
            parts.append(("Pad", self.pad_program, 3, self.pad_notes))
        for name, prog, ch, notes in parts:
            tr = mido.MidiTrack()
            tr.append(mido.MetaMessage("track_name", name=name, time=0))
            tr.append(mido.Message("program_change", channel=ch, program=prog, time=0))
            ev = []
            for on, du, p, v in notes:
                du = max(1, min(du, self.length - on))
                ev.append(((on + du) * SCALE, 0, p, 0))      # offs before ons at one tick
                ev.append((on * SCALE, 1, p, v))
            ev.sort()
            now = 0
            for tick, kind, p, v in ev:
                if kind:
                    tr.append(mido.Message("note_on", channel=ch, note=p, velocity=v, time=tick - now))
                else:
                    tr.append(mido.Message("note_off", channel=ch, note=p, velocity=0, time=tick - now))
                now = tick
            tr.append(mido.MetaMessage("end_of_track", time=max(0, self.length * SCALE - now)))
            mf.tracks.append(tr)
        return mf

    def info(self, file: str) -> dict:
        return {
            "file": file, "key": self.key, "tonic": MAJOR_NAMES[self.tonic], "mode": self.mode,
            "scale_key": self.scale_key, "meter": self.meter, "bpm": self.bpm, "bars": self.bars,
            "intro_bars": self.intro, "style": self.style, "progression": self.prog_name,
            "chords_per_bar": self.per_bar, "secondary_dominants": self.secondary,
            "bass_pattern": self.bass_pattern, "programs": {
                "melody": self.melody_program, "bass": self.bass_program,
                "chords": self.chord_program, "pad": self.pad_program},
            "notes": {"melody": len(self.melody_notes), "bass": len(self.bass_notes),
                      "chords": len(self.chord_notes), "pad": len(self.pad_notes)},
            "seconds": round(self.length / Q * 60.0 / self.bpm, 3),
            "melody_range": [min(n[2] for n in self.melody_notes), max(n[2] for n in self.melody_notes)],
            "bass_max": max(n[2] for n in self.bass_notes),
        }


def make_piece(seed: int, i: int, melody_program: int) -> Piece:
    rng = np.random.default_rng(np.random.SeedSequence([seed, i]))
    bars = int(rng.integers(8, 33))
    p = Piece(rng, melody_program).build(min(bars, 28))
    # the tokenizer drops files under 100 notes or 20 quarters: grow short pieces
    while (p.note_count() < 120 or p.length < 24 * Q) and p.bars < 28:
        bars = p.bars + 4
        rng = np.random.default_rng(np.random.SeedSequence([seed, i, bars]))
        p = Piece(rng, melody_program).build(bars)
    return p


def render(path: Path, png: Path, title: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    mf = mido.MidiFile(path)
    colors = {1: "tab:red", 2: "tab:blue", 3: "tab:green", 4: "tab:orange"}
    fig, ax = plt.subplots(figsize=(14, 5))
    names = {}
    bar_q = None
    for ti, tr in enumerate(mf.tracks):
        now, on = 0, {}
        for msg in tr:
            now += msg.time
            if msg.type == "track_name":
                names[ti] = msg.name
            if msg.type == "time_signature":
                bar_q = msg.numerator * 4 / msg.denominator
            if msg.type == "note_on" and msg.velocity > 0:
                on[msg.note] = now
            elif msg.type in ("note_off", "note_on") and msg.note in on:
                s = on.pop(msg.note) / mf.ticks_per_beat
                e = now / mf.ticks_per_beat
                ax.add_patch(plt.Rectangle((s, msg.note - 0.4), e - s, 0.8, color=colors.get(ti, "k"), alpha=0.8))
    end = max(sum(m.time for m in tr) for tr in mf.tracks) / mf.ticks_per_beat
    if bar_q:
        for b in np.arange(0, end + 1e-9, bar_q):
            ax.axvline(b, color="0.85", lw=0.6, zorder=0)
    ax.axhline(52, color="0.5", ls="--", lw=0.8)
    ax.text(0.2, 52.5, "E3", color="0.4", fontsize=8)
    ax.set_xlim(0, end)
    ax.set_ylim(24, 90)
    ax.set_xlabel("quarter notes")
    ax.set_ylabel("MIDI pitch")
    handles = [plt.Rectangle((0, 0), 1, 1, color=colors[t]) for t in sorted(names) if t in colors]
    ax.legend(handles, [names[t] for t in sorted(names) if t in colors], loc="upper right", fontsize=8)
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(png, dpi=90)
    plt.close(fig)


def check_lines(bin_path: str, melody_program: int) -> int:
    """Checks `antiphon tokenize --accompany-share 1` lines of these pieces: every control note
    has the melody's instrument code and no event note has it (the tokenizer took track 1)."""
    idx = json.loads(Path(bin_path).with_suffix(".json").read_text())
    v = idx["vocab"]
    lines = np.fromfile(bin_path, dtype=idx["dtype"]).reshape(-1, idx["line_tokens"]).astype(np.int64)
    code = v["instrument_map"]["program_to_instrument"][melody_program]
    notes = lines[:, 1:].reshape(lines.shape[0], -1, 3)[:, :, 2].ravel()
    notes = notes[notes < v["separator"]]
    ctrl = notes[notes >= v["control_offset"]] - v["control_offset"]
    ctrl = ctrl[(ctrl >= v["note_offset"]) & (ctrl < v["rest"])]
    ev = notes[(notes >= v["note_offset"]) & (notes < v["rest"])]
    cc = Counter(((ctrl - v["note_offset"]) // v["max_pitch"]).tolist())
    ec = Counter(((ev - v["note_offset"]) // v["max_pitch"]).tolist())
    st = idx["stats"]
    print(json.dumps({"accompaniment_sequences": st["accompaniment_sequences"], "sequences": st["sequences"],
                      "melody_code": code, "control_notes_by_code": dict(sorted(cc.items())),
                      "event_notes_by_code": dict(sorted(ec.items()))}))
    ok = (set(cc) <= {code} and code not in ec and st["accompaniment_sequences"] == st["sequences"]
          and np.all(lines[:, 0] == v["anticipate"]))
    print("melody track taken as the controls: " + ("yes" if ok else "NO"), file=sys.stderr)
    return 0 if ok else 1


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pieces", type=int, default=2000)
    ap.add_argument("--out", default="work/synthetic")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--start", type=int, default=0, help="first piece index (pieces are independent)")
    ap.add_argument("--melody-program", type=int, default=68,
                    help="GM program of the melody track; must be voice-like (52-54, 64-79)")
    ap.add_argument("--summary", help="summary JSON (counts, notes, hours, one entry per piece)")
    ap.add_argument("--render", type=int, default=0, help="piano rolls (PNG) of the first K pieces")
    ap.add_argument("--check-lines", metavar="BIN",
                    help="only check lines of `antiphon tokenize --augment 1 --accompany-share 1` "
                         "of these pieces: controls = the melody track, nothing else")
    a = ap.parse_args(argv)
    if a.check_lines:
        return check_lines(a.check_lines, a.melody_program)
    if not (52 <= a.melody_program <= 54 or 64 <= a.melody_program <= 79):
        ap.error("--melody-program must be voice-like (52-54, 64-79) for the tokenizer to take it as the melody")
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    infos = []
    for i in range(a.start, a.start + a.pieces):
        p = make_piece(a.seed, i, a.melody_program)
        mode_tag = {"major": "maj", "minor": "min", "dorian": "dor", "mixolydian": "mix"}[p.mode]
        name = f"syn-{i:05d}-{MAJOR_NAMES[p.tonic].replace('#', 's')}{mode_tag}-{p.meter.replace('/', '')}-{p.style}.mid"
        title = f"synthetic {i}: {p.key} ({p.mode}), {p.meter}, {p.bpm} bpm, {p.style}, {p.prog_name}"
        p.midi(title).save(out / name)
        infos.append(p.info(name))
        if i - a.start < a.render:
            render(out / name, out / (name[:-4] + ".png"), title)
    if a.summary:
        c = lambda k: dict(sorted(Counter(x[k] for x in infos).items()))
        notes = Counter()
        for x in infos:
            notes.update(x["notes"])
        summary = {
            "about": "make_synthetic.py: owned synthetic accompaniments written by rules (no third-party music)",
            "seed": a.seed, "start": a.start, "pieces": len(infos),
            "bars": sum(x["bars"] for x in infos),
            "hours": round(sum(x["seconds"] for x in infos) / 3600, 3),
            "notes": {"total": sum(notes.values()), **dict(notes)},
            "key": c("key"), "mode": c("mode"), "meter": c("meter"), "style": c("style"),
            "progression": c("progression"), "bass_pattern": c("bass_pattern"),
            "chords_per_bar": c("chords_per_bar"),
            "chord_family": dict(sorted(Counter(FAMILY.get(x["programs"]["chords"], "?") for x in infos).items())),
            "bass_program": dict(sorted(Counter("piano left hand" if x["programs"]["bass"] in PIANO_LH_PROGRAMS
                                                else "bass" for x in infos).items())),
            "with_pad": sum(1 for x in infos if x["programs"]["pad"] is not None),
            "with_secondary_dominants": sum(1 for x in infos if x["secondary_dominants"]),
            "bpm": {"min": min(x["bpm"] for x in infos), "max": max(x["bpm"] for x in infos)},
            "melody_range": [min(x["melody_range"][0] for x in infos), max(x["melody_range"][1] for x in infos)],
            "bass_max": max(x["bass_max"] for x in infos),
            "files": infos,
        }
        Path(a.summary).parent.mkdir(parents=True, exist_ok=True)
        Path(a.summary).write_text(json.dumps(summary, indent=1) + "\n")
    print(f"{len(infos)} pieces -> {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
