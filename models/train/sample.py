#!/usr/bin/env python3
"""Accompaniment and continuation samples on held-out pieces, with objective metrics against
the real parts and against random notes.

    python sample.py --model work/gpt2/hf-ema --split work/split/split.json \\
        --out ../antiphon-small/samples --metrics work/samples-metrics.json

Sampler: SPEC §8 adapted to the `beats` vocabulary, with a KV cache. Prompt events are
REST-padded (every `rest_density_ticks`) up to the start, controls are interleaved by
anticipation (delta = `delta_ticks`) and fed as soon as `current ≥ control time − delta`;
each triple is drawn with masks by position (time: time tokens not before the current time
and, unless --no-max-gap, not more than rest_density_ticks after it: training events are
REST-padded, so no larger gap between consecutive events ever occurs;
duration: durations; note: the notes of the allowed instruments and REST), temperature and
nucleus (top-p). A window that would pass 1020 tokens slides (triple-aligned, relativized to
its smallest time, re-prefilled). Generation stops at the first onset at or after the end.

Tasks (pieces from the test split; the same seeds every run):
- accompany: 10 songs (OpenScore Lieder). The melody track (the voice, chosen by track as in
  the tokenizer) from its first note, floored to 4 quarters, for 32 quarters, is given as
  controls; the model writes the other parts with the instruments of the real accompaniment
  (piano) and no prompt.
- continue: 10 pieces (7 songs, 3 quartets). The first 16 quarters (from the first note,
  floored to 4 quarters) are the prompt; the model writes the next 32 quarters with the
  prompt's instruments.
Random baseline: for each window, uniformly random notes (count 1..16 per 4 quarters, onsets
on the 12-per-quarter grid, pitches 36..84, durations 1..24 ticks) with the same instruments.

Metrics (per piece, of the generated part against the real part in the same window):
notes per bar (bar = 4 quarters), pitch-class histogram distance (total variation, counts),
fraction of notes in the key (Krumhansl-Kessler key of the real window; major or harmonic
+ natural minor scale), consonance of onsets with the sounding melody note (accompaniment:
the given melody; continuation: the highest other note sounding), fraction of onsets on the
16th/triplet grid (onset tick divisible by 3 or 4 at 12 per quarter). A model "sits nearer"
on a metric when its mean |generated − real| over the pieces is below the random notes'.
"""

import argparse
import json
import random
import sys
from collections import defaultdict, deque
from pathlib import Path

import mido
import numpy as np
import torch

HERE = Path(__file__).resolve().parent
TPQ = 12
BAR = 4 * TPQ
VOICE = set(range(52, 55)) | set(range(64, 80))
CONSONANT = {0, 3, 4, 5, 7, 8, 9}
KK_MAJOR = [6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88]
KK_MINOR = [6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17]


# ---------------------------------------------------------------- MIDI in and out

def q(tick: int, tpq: int) -> int:
    """MIDI tick -> vocabulary tick, nearest, ties up (crates/antiphon-tokens/src/midi.rs quantize_tick)."""
    return (tick * TPQ * 2 + tpq) // (2 * tpq)


def read_midi(path: Path, vocab: dict):
    """Notes as dicts (on, dur in 12-per-quarter ticks, pitch, instr code, track, program) and
    the first tempo (µs per quarter)."""
    mid = mido.MidiFile(path)
    tpq = mid.ticks_per_beat
    p2i = vocab["instrument_map"]["program_to_instrument"]
    notes, tempo = [], None
    programs = [0] * 16
    # merged stream keeps program changes across tracks, like the Rust reader
    events = []
    for ti, track in enumerate(mid.tracks):
        t = 0
        for k, msg in enumerate(track):
            t += msg.time
            events.append((t, ti, k, msg))
    events.sort(key=lambda e: (e[0], e[1], e[2]))
    open_ = defaultdict(deque)
    for t, ti, _, msg in events:
        if msg.type == "set_tempo" and tempo is None:
            tempo = msg.tempo
        elif msg.type == "program_change":
            programs[msg.channel] = msg.program
        elif msg.type == "note_on" and msg.velocity > 0:
            n = {"on_raw": t, "off_raw": None, "pitch": msg.note, "channel": msg.channel,
                 "program": programs[msg.channel], "track": ti}
            notes.append(n)
            open_[(msg.channel, msg.note)].append(n)
        elif msg.type in ("note_off", "note_on"):
            d = open_[(msg.channel, msg.note)]
            if d:
                d.popleft()["off_raw"] = t
    out = []
    for n in notes:
        on = q(n["on_raw"], tpq)
        dur = 6 if n["off_raw"] is None else q(n["off_raw"], tpq) - on
        instr = vocab["drum_instrument"] if n["channel"] == 9 else p2i[n["program"]]
        out.append({"on": on, "dur": max(0, min(dur, vocab["max_duration"] - 1)), "pitch": n["pitch"],
                    "instr": instr, "track": n["track"], "program": n["program"]})
    out.sort(key=lambda n: n["on"])
    return out, tempo or 500000


def melody_track(notes):
    """crates/antiphon-tokens/src/parts.rs melody_track: first track whose first note is voice-like, else
    first whose first note is program 40; needs notes on two tracks."""
    firsts = {}
    for n in notes:
        if n["instr"] != 21 and n["track"] not in firsts:
            firsts[n["track"]] = n["program"]
    if len(firsts) < 2:
        return None
    tracks = sorted(firsts)
    for t in tracks:
        if firsts[t] in VOICE:
            return t
    for t in tracks:
        if firsts[t] == 40:
            return t
    return None


def write_midi(path: Path, parts, vocab: dict, tempo: int):
    """parts: list of (name, notes); one track per part, channels by instrument code."""
    mid = mido.MidiFile(ticks_per_beat=TPQ * 40)
    scale = 40
    meta = mido.MidiTrack()
    meta.append(mido.MetaMessage("set_tempo", tempo=tempo, time=0))
    meta.append(mido.MetaMessage("time_signature", numerator=4, denominator=4, time=0))
    mid.tracks.append(meta)
    channels = {}
    for name, notes in parts:
        tr = mido.MidiTrack()
        tr.append(mido.MetaMessage("track_name", name=name, time=0))
        msgs = []
        for n in notes:
            code = n["instr"]
            if code == vocab["drum_instrument"]:
                ch = 9
            else:
                if code not in channels:
                    channels[code] = [c for c in range(16) if c != 9 and c not in channels.values()][0]
                ch = channels[code]
            msgs.append((n["on"] * scale, 1, mido.Message("note_on", channel=ch, note=n["pitch"], velocity=80)))
            msgs.append(((n["on"] + max(n["dur"], 1)) * scale, 0,
                         mido.Message("note_off", channel=ch, note=n["pitch"], velocity=0)))
        for code, ch in channels.items():
            tr.append(mido.Message("program_change", channel=ch,
                                   program=vocab["instrument_map"]["instrument_programs"][code], time=0))
        msgs.sort(key=lambda m: (m[0], m[1]))
        now = 0
        for t, _, m in msgs:
            tr.append(m.copy(time=t - now))
            now = t
        mid.tracks.append(tr)
    mid.save(path)


# ---------------------------------------------------------------- the sampler

class Sampler:
    def __init__(self, model, vocab: dict, seed: int, top_p: float = 0.95, temperature: float = 1.0,
                 max_gap: bool = True):
        self.model = model
        # Training events are REST-padded, so consecutive event times never differ by more
        # than rest_density_ticks: with max_gap the time mask also bans later onsets.
        self.max_gap = max_gap
        self.v = vocab
        self.top_p = top_p
        self.temperature = temperature
        self.gen = torch.Generator().manual_seed(seed)
        self.max_window = 1020

    def triple(self, n, control=False):
        v = self.v
        c = v["control_offset"] if control else 0
        note = v["note_offset"] + n["instr"] * v["max_pitch"] + n["pitch"]
        return [c + v["time_offset"] + n["on"], c + v["duration_offset"] + n["dur"], c + note]

    def rest(self, t):
        v = self.v
        return [v["time_offset"] + t, v["duration_offset"], v["rest"]]

    def time_of(self, tr):
        v = self.v
        c = v["control_offset"] if tr[2] >= v["control_offset"] and tr[2] < v["separator"] else 0
        return tr[0] - c - v["time_offset"]

    # -- model plumbing: `self.triples` are absolute; the window is relativized
    def _reset_window(self):
        keep = (self.max_window - 1) * 2 // 3 // 3  # triples kept after a slide
        if len(self.triples) * 3 + 1 > self.max_window - 3:
            self.win_start = len(self.triples) - keep
        win = self.triples[self.win_start:]
        self.offset = min(self.time_of(t) for t in win) if win else 0
        ids = [self.flag] + [x for t in win for x in self._shift(t)]
        out = self.model(input_ids=torch.tensor([ids]), use_cache=True)
        self.cache = out.past_key_values
        self.logits = out.logits[0, -1].float()
        self.win_len = len(ids)

    def _shift(self, t):
        """Relativized to the window (events and controls alike: the time token moves)."""
        return [t[0] - self.offset, t[1], t[2]]

    def _feed(self, ids):
        if self.win_len + len(ids) > self.max_window:
            return False
        out = self.model(input_ids=torch.tensor([ids]), past_key_values=self.cache, use_cache=True)
        self.cache = out.past_key_values
        self.logits = out.logits[0, -1].float()
        self.win_len += len(ids)
        return True

    def _append(self, t):
        """Adds a whole triple (a control) to the sequence and the cache."""
        self.triples.append(t)
        if self.time_of(t) - self.offset >= self.v["max_time"] or not self._feed(self._shift(t)):
            self._reset_window()

    def _draw(self, allowed: torch.Tensor) -> int:
        logits = self.logits / self.temperature
        logits = torch.where(allowed, logits, torch.tensor(-float("inf")))
        probs = torch.softmax(logits, -1)
        if self.top_p < 1.0:
            sp, si = torch.sort(probs, descending=True)
            cum = torch.cumsum(sp, 0)
            remove = cum - sp > self.top_p
            sp[remove] = 0
            probs = torch.zeros_like(probs).scatter(0, si, sp)
        return int(torch.multinomial(probs, 1, generator=self.gen))

    @torch.no_grad()
    def generate(self, prompt, controls, start: int, end: int, instruments):
        """prompt: notes with on < start; controls: notes given as controls (any time);
        returns the generated notes (on in [start, end))."""
        v = self.v
        V = v["vocab_size"]
        padded = []
        prev = 0
        for n in sorted(prompt, key=lambda n: n["on"]):
            while n["on"] > prev + v["rest_density_ticks"]:
                prev += v["rest_density_ticks"]
                padded.append(self.rest(prev))
            padded.append(self.triple(n))
            prev = n["on"]
        while start > prev + v["rest_density_ticks"]:
            prev += v["rest_density_ticks"]
            padded.append(self.rest(prev))
        pending = deque(self.triple(n, control=True) for n in sorted(controls, key=lambda n: n["on"]))
        delta = v["delta_ticks"]
        self.triples = []
        ev_time = 0
        for t in padded:
            while pending and ev_time >= self.time_of(pending[0]) - delta:
                self.triples.append(pending.popleft())
            self.triples.append(t)
            ev_time = self.time_of(t)
        self.flag = v["anticipate"] if (controls or pending) else v["autoregress"]
        self.win_start = 0
        self._reset_window()
        # onsets may not precede the start (SPEC §8.1: the mask uses max(start, current))
        current = start

        ids = torch.arange(V)
        is_dur = (ids >= v["duration_offset"]) & (ids < v["note_offset"])
        note_ok = torch.zeros(V, dtype=torch.bool)
        for code in instruments:
            lo = v["note_offset"] + code * v["max_pitch"]
            note_ok[lo:lo + v["max_pitch"]] = True
        note_ok[v["rest"]] = True
        out = []
        for _ in range(4000):
            while pending and current >= self.time_of(pending[0]) - delta:
                self._append(pending.popleft())
            if self.win_len + 3 > self.max_window or current - self.offset >= v["max_time"] - v["delta_ticks"]:
                self._reset_window()
            lo = current - self.offset
            hi = min(v["max_time"], lo + v["rest_density_ticks"] + 1) if self.max_gap else v["max_time"]
            time_ok = (ids >= v["time_offset"] + max(lo, 0)) & (ids < v["time_offset"] + hi)
            t = self._draw(time_ok)
            self._feed([t])
            abs_t = t - v["time_offset"] + self.offset
            d = self._draw(is_dur)
            self._feed([d])
            nt = self._draw(note_ok)
            # the triple enters the absolute list; the cache already holds it
            triple = [abs_t + v["time_offset"], d, nt]
            if abs_t >= end:
                break
            self.triples.append(triple)
            self._feed([nt])
            current = abs_t
            if nt != v["rest"]:
                code, pitch = divmod(nt - v["note_offset"], v["max_pitch"])
                out.append({"on": abs_t, "dur": d - v["duration_offset"], "pitch": pitch, "instr": code})
        return out


# ---------------------------------------------------------------- the engine's CLI

class Cli:
    """`antiphon accompany` / `antiphon continue` (the Rust engine the plugin runs) on a model
    folder, through MIDI files in a scratch folder."""

    def __init__(self, binary: Path, model_dir: Path, vocab: dict, scratch: Path, top_p: float, temperature: float):
        import onnxruntime
        import os
        self.binary, self.model_dir, self.vocab, self.scratch = binary, model_dir, vocab, scratch
        self.top_p, self.temperature = top_p, temperature
        scratch.mkdir(parents=True, exist_ok=True)
        self.env = dict(os.environ)
        self.env.setdefault("ANTIPHON_ORT_LIB", str(next(
            (Path(onnxruntime.__file__).parent / "capi").glob("libonnxruntime.so.*"))))

    def _run(self, args, extra=()):
        """model_dir, top_p, temperature None: the CLI's own defaults (the built-in model);
        `extra`: more flags (e.g. steering) after the usual ones."""
        import subprocess
        opts = ([] if self.model_dir is None else ["--model", str(self.model_dir)]) + \
            ([] if self.top_p is None else ["--top-p", str(self.top_p)]) + \
            ([] if self.temperature is None else ["--temperature", str(self.temperature)])
        r = subprocess.run([str(self.binary), *args, *opts, "--only-new", *extra],
                           capture_output=True, text=True, env=self.env)
        if r.returncode != 0:
            raise RuntimeError(f"antiphon {' '.join(args)} failed ({r.returncode}): {r.stderr}")
        self.last_log = r.stderr
        return r.stderr

    def accompany(self, melody, tempo, instruments, seed, span, extra=()):
        src, out = self.scratch / "melody.mid", self.scratch / "accompanied.mid"
        write_midi(src, [("melody", melody)], self.vocab, tempo)
        program = self.vocab["instrument_map"]["instrument_programs"][instruments[0]]
        self._run(["accompany", str(src), "-o", str(out), "--melody-track", "1", "--bars", str(span // BAR),
                   "--instrument", str(program), "--seed", str(seed)], extra)
        notes, _ = read_midi(out, self.vocab)
        return [n for n in notes if n["on"] < span]

    def continue_(self, prompt, tempo, seed, start, end, extra=()):
        import re
        src, out = self.scratch / "prompt.mid", self.scratch / "continued.mid"
        # notes end by the start, so the engine continues from that bar line
        clipped = [dict(n, dur=max(1, min(n["dur"], start - n["on"]))) for n in prompt]
        write_midi(src, [("prompt", clipped)], self.vocab, tempo)
        log = self._run(["continue", str(src), "-o", str(out), "--bars", str((end - start) // BAR),
                         "--seed", str(seed)], extra)
        m = re.search(r"in bars (\d+)", log)
        first_bar = int(m.group(1)) - 1 if m else start // BAR
        shift = start - first_bar * BAR
        notes, _ = read_midi(out, self.vocab)
        return [dict(n, on=n["on"] + shift) for n in notes if start <= n["on"] + shift < end]


# ---------------------------------------------------------------- metrics

def key_of(notes):
    h = np.zeros(12)
    for n in notes:
        h[n["pitch"] % 12] += max(n["dur"], 1)
    best = (-2, 0, "major")
    for tonic in range(12):
        for mode, prof in (("major", KK_MAJOR), ("minor", KK_MINOR)):
            r = np.corrcoef(h, np.roll(prof, tonic))[0, 1] if h.std() > 0 else 0
            if r > best[0]:
                best = (r, tonic, mode)
    _, tonic, mode = best
    return tonic, mode, scale_pcs(tonic, mode)


def scale_pcs(tonic: int, mode: str) -> set:
    """The key's scale: major, or natural minor plus the raised seventh (harmonic minor)."""
    steps = [0, 2, 4, 5, 7, 9, 11] if mode == "major" else [0, 2, 3, 5, 7, 8, 10, 11]
    return {(tonic + s) % 12 for s in steps}


def sounding_top(ref, t, exclude=None):
    best = None
    for r in ref:
        if r is exclude:
            continue
        if r["on"] <= t < r["on"] + max(r["dur"], 1) and (best is None or r["pitch"] > best["pitch"]):
            best = r
    return best


def consonant_onsets(part, ref, self_ref: bool = False) -> tuple[int, int]:
    """(consonant, compared): part notes starting while a ref note sounds, and how many of them
    make a consonant interval class with the highest one (self_ref: ref is part, a note not
    compared with itself)."""
    cons, tot = 0, 0
    for n in part:
        r = sounding_top(ref, n["on"], exclude=n if self_ref else None)
        if r is not None:
            tot += 1
            cons += ((n["pitch"] - r["pitch"]) % 12) in CONSONANT
    return cons, tot


def metrics(part, melody, window_q: int, scale_pcs, self_ref: bool):
    """part: notes; melody: the reference line for consonance (None: the part itself)."""
    m = {}
    m["notes_per_bar"] = len(part) / (window_q / 4)
    h = np.zeros(12)
    for n in part:
        h[n["pitch"] % 12] += 1
    m["pc_hist"] = (h / h.sum()).tolist() if h.sum() else [1 / 12] * 12
    m["in_key"] = float(np.mean([n["pitch"] % 12 in scale_pcs for n in part])) if part else 0.0
    cons, tot = consonant_onsets(part, part if self_ref else melody, self_ref)
    m["consonance"] = cons / tot if tot else 0.0
    m["on_grid"] = float(np.mean([(n["on"] % 3 == 0) or (n["on"] % 4 == 0) for n in part])) if part else 0.0
    return m


def compare(gen, real):
    return {
        "notes_per_bar": abs(gen["notes_per_bar"] - real["notes_per_bar"]),
        "pc_hist_distance": 0.5 * float(np.abs(np.array(gen["pc_hist"]) - np.array(real["pc_hist"])).sum()),
        "in_key": abs(gen["in_key"] - real["in_key"]),
        "consonance": abs(gen["consonance"] - real["consonance"]),
        "on_grid": abs(gen["on_grid"] - real["on_grid"]),
    }


def random_notes(rng: random.Random, start: int, end: int, instruments):
    bars = (end - start) / BAR
    n = int(round(bars * rng.randint(1, 16)))
    out = [{"on": rng.randrange(start, end), "dur": rng.randint(1, 24), "pitch": rng.randint(36, 84),
            "instr": rng.choice(sorted(instruments))} for _ in range(n)]
    return sorted(out, key=lambda x: x["on"])


# ---------------------------------------------------------------- piano roll

def piano_roll(path: Path, title: str, panels):
    """panels: list of (subtitle, [(label, colour, notes)])."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle
    fig, axes = plt.subplots(len(panels), 1, figsize=(12, 3.2 * len(panels)), sharex=True)
    for ax, (sub, layers) in zip(np.atleast_1d(axes), panels):
        lo, hi, xmax = 127, 0, 0
        for label, colour, notes in layers:
            for n in notes:
                ax.add_patch(Rectangle((n["on"] / TPQ, n["pitch"] - 0.4), max(n["dur"], 1) / TPQ, 0.8,
                                       color=colour, alpha=0.85, lw=0))
                lo, hi, xmax = min(lo, n["pitch"]), max(hi, n["pitch"]), max(xmax, (n["on"] + n["dur"]) / TPQ)
            ax.plot([], [], color=colour, lw=6, label=label)
        ax.set_ylim(lo - 2, hi + 2)
        ax.set_xlim(0, xmax + 0.5)
        for b in range(0, int(xmax) + 1, 4):
            ax.axvline(b, color="0.85", lw=0.5, zorder=0)
        ax.set_ylabel("MIDI pitch")
        ax.set_title(sub, fontsize=10)
        ax.legend(loc="upper right", fontsize=8)
    np.atleast_1d(axes)[-1].set_xlabel("quarter notes")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


# ---------------------------------------------------------------- test pieces

def test_pieces(split: dict, pieces: int, seed: int):
    """The candidate files of both tasks, in order (the first `pieces` usable ones are used):
    accompany from the test split's songs, continue from other songs and the quartets."""
    test = [f for f in split["files"] if f["split"] == "test"]
    songs = sorted(f["file"] for f in test if f["collection"] == "lieder")
    quartets = sorted(f["file"] for f in test if f["collection"] == "quartets")
    pick = random.Random(seed)
    acc_files = pick.sample(songs, min(len(songs), 3 * pieces))
    cont_files = pick.sample([s for s in songs if s not in acc_files], 7 * pieces // 10) + \
        pick.sample(quartets, min(len(quartets), pieces - 7 * pieces // 10))
    return acc_files, cont_files


def accompany_window(notes):
    """The accompaniment task's window of a song: the melody track from its first note, floored
    to 4 quarters, for 32 quarters, and the other tracks in it, both shifted to start at 0.
    Returns (t0, melody, real), or None when the song is not usable."""
    mt = melody_track(notes)
    mel_all = [n for n in notes if n["track"] == mt]
    if mt is None or len(mel_all) < 16:
        return None
    t0 = mel_all[0]["on"] // BAR * BAR
    span = 32 * TPQ
    shift = lambda ns: [dict(n, on=n["on"] - t0) for n in ns if t0 <= n["on"] < t0 + span]
    melody = shift(mel_all)
    real = shift([n for n in notes if n["track"] != mt])
    if len(real) < 8 or len(melody) < 8:
        return None
    return t0, melody, real


# ---------------------------------------------------------------- main

def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, required=True, help="a Hugging Face GPT2LMHeadModel folder")
    ap.add_argument("--split", type=Path, default=HERE / "work" / "split" / "split.json")
    ap.add_argument("--openscore", type=Path, default=HERE.parents[2] / "shared" / "data" / "openscore")
    ap.add_argument("--vocab", type=Path, default=HERE / "vocab_beats.json")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--metrics", type=Path, required=True)
    ap.add_argument("--top-p", type=float, default=0.98)
    ap.add_argument("--temperature", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--pieces", type=int, default=10)
    ap.add_argument("--engine", choices=["cli", "python"], default="cli",
                    help="cli: the Rust engine (`antiphon accompany/continue` on --onnx); python: this file's sampler")
    ap.add_argument("--onnx", type=Path, help="exported model folder for --engine cli")
    ap.add_argument("--cli-flags", default="",
                    help="more flags for every CLI call, e.g. \"--steering off\" for the raw model")
    ap.add_argument("--no-max-gap", action="store_true",
                    help="python engine: do not ban onsets more than rest_density_ticks after the current time")
    ap.add_argument("--antiphon", type=Path, default=HERE.parents[1] / "target" / "release" / "antiphon")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    vocab = json.load(open(args.vocab))
    model = None
    if args.engine == "python":
        from transformers import GPT2LMHeadModel
        if (args.model / "melody_now.json").exists():
            sys.exit("sample.py: this model has melody_now.py's input, which the Python sampler does not feed; "
                     "use --engine cli")
        model = GPT2LMHeadModel.from_pretrained(args.model).eval()
    split = json.load(open(args.split))
    acc_files, cont_files = test_pieces(split, args.pieces, args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(args.seed + 1)
    results = {"accompany": [], "continue": []}
    cli_flags = args.cli_flags.split()
    cli = Cli(args.antiphon, args.onnx, vocab, HERE / "work" / "cli-scratch", args.top_p,
              args.temperature) if args.engine == "cli" else None

    def run(task, rel, i):
        notes, tempo = read_midi(args.openscore / rel, vocab)
        name = f"{task}-{i:02d}-{Path(rel).stem[:40]}"
        if task == "accompany":
            window = accompany_window(notes)
            if window is None:
                return None
            t0, melody, real = window
            span = 32 * TPQ
            instruments = sorted({n["instr"] for n in real})
            if cli:
                gen = cli.accompany(melody, tempo, instruments, args.seed + 1 + i, span, cli_flags)
            else:
                sampler = Sampler(model, vocab, seed=args.seed + i, top_p=args.top_p, temperature=args.temperature,
                                  max_gap=not args.no_max_gap)
                gen = sampler.generate([], melody, 0, span, instruments)
            rnd = random_notes(rng, 0, span, instruments)
            context, window_q, prompt = melody, 32, []
        else:
            t0 = notes[0]["on"] // BAR * BAR
            pl, span = 16 * TPQ, 48 * TPQ
            win = [dict(n, on=n["on"] - t0) for n in notes if t0 <= n["on"] < t0 + span]
            prompt = [n for n in win if n["on"] < pl]
            real = [n for n in win if n["on"] >= pl]
            if len(prompt) < 8 or len(real) < 8:
                return None
            instruments = sorted({n["instr"] for n in prompt})
            if cli:
                gen = cli.continue_(prompt, tempo, args.seed + 101 + i, pl, span, cli_flags)
            else:
                sampler = Sampler(model, vocab, seed=args.seed + 100 + i, top_p=args.top_p,
                                  temperature=args.temperature, max_gap=not args.no_max_gap)
                gen = sampler.generate(prompt, [], pl, span, instruments)
            rnd = random_notes(rng, pl, span, instruments)
            context, window_q, melody = prompt, 32, None
        _, _, scale = key_of(real + (melody or []) + prompt)
        self_ref = task == "continue"
        m_real = metrics(real, melody, window_q, scale, self_ref)
        m_gen = metrics(gen, melody, window_q, scale, self_ref)
        m_rnd = metrics(rnd, melody, window_q, scale, self_ref)
        if task == "accompany":
            parts = [("melody (input)", melody), ("accompaniment (model)", gen)]
            write_midi(args.out / f"{name}.mid", parts, vocab, tempo)
            write_midi(args.out / f"{name}.real.mid", [("melody", melody), ("accompaniment (real)", real)],
                       vocab, tempo)
        else:
            write_midi(args.out / f"{name}.mid", [("prompt (input)", prompt), ("continuation (model)", gen)],
                       vocab, tempo)
            write_midi(args.out / f"{name}.real.mid", [("prompt", prompt), ("continuation (real)", real)],
                       vocab, tempo)
        rec = {"file": rel, "name": name, "t0_quarters": t0 / TPQ, "tempo_us": tempo,
               "notes": {"real": len(real), "model": len(gen), "random": len(rnd)},
               "real": m_real, "model": m_gen, "random": m_rnd,
               "model_vs_real": compare(m_gen, m_real), "random_vs_real": compare(m_rnd, m_real)}
        if i < 2:
            ctx_label = "melody (input)" if task == "accompany" else "prompt (input)"
            piano_roll(args.out / f"{name}.png", f"{task}: {Path(rel).stem}", [
                ("real", [(ctx_label, "tab:blue", context), ("real", "0.45", real)]),
                ("antiphon-small", [(ctx_label, "tab:blue", context), ("model", "tab:orange", gen)]),
            ])
        print(name, {k: round(v, 3) for k, v in rec["model_vs_real"].items()},
              "random", {k: round(v, 3) for k, v in rec["random_vs_real"].items()}, flush=True)
        return rec

    for task, files in (("accompany", acc_files), ("continue", cont_files)):
        i = 0
        for rel in files:
            if i >= args.pieces:
                break
            r = run(task, rel, i)
            if r is not None:
                results[task].append(r)
                i += 1
    summary = {}
    for task, recs in results.items():
        s = {}
        for who in ("model_vs_real", "random_vs_real"):
            s[who] = {k: float(np.mean([r[who][k] for r in recs])) for k in recs[0][who]}
        for who in ("real", "model", "random"):
            s[who + "_mean"] = {k: float(np.mean([r[who][k] for r in recs]))
                                for k in ("notes_per_bar", "in_key", "consonance", "on_grid")}
        s["model_nearer_on_every_metric"] = all(s["model_vs_real"][k] < s["random_vs_real"][k]
                                                for k in s["model_vs_real"])
        s["pieces"] = len(recs)
        summary[task] = s
    json.dump({"settings": {"top_p": args.top_p, "temperature": args.temperature, "seed": args.seed, "cli_flags": args.cli_flags,
                            "engine": args.engine, "max_gap": not args.no_max_gap, "model": str(args.model)}, "summary": summary, "pieces": results},
              open(args.metrics, "w"), indent=1)
    print(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
