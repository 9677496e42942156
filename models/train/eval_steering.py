#!/usr/bin/env python3
"""Harmony steering, measured: `antiphon accompany` (or `continue`) under named settings sets on
held-out songs and made-up tunes, scored as shared/notes/MUSIC-EVAL.md defines.

    nice -n 5 python eval_steering.py --out work/steering.json --table work/steering.md
    nice -n 5 python eval_steering.py --set lock80="--key-lock 80" --jobs 2 --render work/steering-render
    nice -n 5 python eval_steering.py --task continue --out work/steering-continue.json

Material:
- (a) held-out songs (accompany only): the ten OpenScore Lieder of sample.py's accompaniment task
  (`sample.test_pieces`, `sample.accompany_window`: the voice as melody from its first bar line,
  32 quarters, the real piano part as reference); the melody goes in as sample.py's Cli writes it
  (the voice's program), the answer is asked for with the real part's instrument. Skipped, with a
  note, when --split does not exist yet.
- (b) the made-up tunes of --tunes (index.json, from make_tunes.py). Accompany: the tune's melody
  is given the program the plugin gives captured melodies (--melody-program, 68) and the answer is
  asked for with --instrument (piano); continue: the tune file as it is, --continue-bars bars.
Every input runs with every seed (--seeds, default 1-5) under every settings set: `off`
(--steering off), `defaults` (no steering flags), `strict` (--key-lock 100 --harmony 100), and
each --set NAME="FLAGS" (a known name is replaced: --set off="" measures a binary without the
steering flags). --sets picks which run.

Metrics (answer notes only; a bar is 4 quarters whatever the meter; times on the 12-per-quarter
grid of sample.read_midi):
- in key: share of notes whose pitch class is in the scale: the tune's labelled scale_pcs
  (index.json: major; natural minor + raised 7th; a modal tune's parent major), for held-out songs
  the Krumhansl-Kessler key of the real accompaniment and melody in the window (sample.key_of, as
  sample.py scores).
- consonant onsets: of the answer notes that start while a melody note sounds, the share whose
  interval class (answer - highest sounding melody note) mod 12 is in {0,3,4,5,7,8,9}
  (sample.metrics); "melody sounds" is the share of answer notes that had one to compare with.
- consonance lift in time: consonant onsets with the melody as it sounds minus their mean with
  the melody shifted an eighth and a quarter either way: how closely the answer follows the
  melody's harmony in time, beyond sharing its key (real parts about +0.09).
- bass: share of the window's 4/4 bars in which an answer note below E3 (MIDI 52) starts.
- notes per bar: answer notes per 4/4 bar of the window.
- pc distance (held-out songs): total-variation distance of the pitch-class histograms of answer
  and real part (sample.compare).
- chord size: notes starting on the same tick: the median and the max per answer; the table
  gives the mean of the medians and the max of the maxima.
- key follows: the KK key (sample.key_of) of the answer is one of the tune's follow_keys (the
  key; a modal tune's parent key too); held-out songs: equals the KK key of real part + melody.
- tonic time (JSON only): share of the answer's summed note durations on the key's tonic pitch
  class (the first follow key): a part that drones on the tonic scores high.
- random notes: per input and seed, pitches uniform in the melody's (continue: the prompt's)
  range, onsets uniform on the 12-per-quarter grid of the window, durations 1-24 ticks, as many
  notes as the real part has (tunes: at the melody's notes per bar). Real part: held-out songs.
Mean = over all answers of a set (an empty answer has no in-key or consonance value and is
counted in "empty"); worst = the worst single answer (input, seed).
Continue (tunes only) reports in key, bass and notes per bar; consonance with a prompt that has
ended means nothing.

--render DIR: the first tune and the first held-out song, seed 1, each set: melody + answer as
MIDI, a piano roll (PNG, sample.piano_roll; and one with a panel per set), and a WAV through
fluidsynth when it and --soundfont exist.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import random
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import mido
import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from sample import (BAR, TPQ, Cli, accompany_window, compare, consonant_onsets, key_of, metrics,  # noqa: E402
                    piano_roll, read_midi, sounding_top, test_pieces, write_midi)

REPO = HERE.parents[1]
BASS_BELOW = 52                        # E3
NAMES = ["C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B"]
MAJOR_NAMES = ["C", "Db", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B"]
MINOR_NAMES = ["C", "C#", "D", "Eb", "E", "F", "F#", "G", "G#", "A", "Bb", "B"]
BUILT_IN_SETS = {"off": "--steering off", "defaults": "", "strict": "--key-lock 100 --harmony 100"}
GOALS = {"in_key": 0.95, "consonance": 0.85, "bass": 0.75}   # issue 12, with the defaults


def key_name(tonic: int, mode: str) -> str:
    return f"{(MAJOR_NAMES if mode == 'major' else MINOR_NAMES)[tonic]} {mode}"


def parse_key(name: str) -> tuple[int, str]:
    """'F# minor' -> (6, 'minor'); accepts sharps and flats."""
    tonic, mode = name.split()
    pc = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}[tonic[0]]
    pc += tonic.count("#") - tonic.count("b")
    return pc % 12, mode


def parse_seeds(text: str) -> list[int]:
    out = []
    for part in text.split(","):
        a, _, b = part.partition("-")
        out += list(range(int(a), int(b) + 1)) if b else [int(a)]
    return out


# ---------------------------------------------------------------- metrics

def consonance_with(part, melody) -> float | None:
    cons, tot = consonant_onsets(part, melody)
    return cons / tot if tot else None


def timing_lift(part, melody) -> float | None:
    """Consonance with the melody as it sounds minus the mean consonance with the melody an eighth
    or a quarter early or late: how much the part follows the melody in time, beyond its key (a
    real accompaniment about +0.09, one that only shares the melody's key about 0)."""
    here = consonance_with(part, melody)
    off = [consonance_with(part, [dict(n, on=n["on"] + k) for n in melody]) for k in (-12, -6, 6, 12)]
    off = [c for c in off if c is not None]
    return here - float(np.mean(off)) if here is not None and off else None


def score(ans, melody, start: int, span: int, scale, follow_keys, real=None, consonance=True):
    """MUSIC-EVAL.md's metrics of one answer (notes in [start, start + span) ticks)."""
    quarters = span / TPQ
    bars = max(1, math.ceil(quarters / 4 - 1e-9))
    rel = [dict(n, on=n["on"] - start) for n in ans]
    m = {"notes": len(ans), "notes_per_bar": len(ans) / (quarters / 4)}
    mel = [dict(n, on=n["on"] - start) for n in melody] if melody else []
    base = metrics(rel, mel, max(1, round(quarters)), scale, False) if ans else None
    m["in_key"] = base["in_key"] if ans else None
    if consonance and melody:
        m["consonance"] = base["consonance"] if ans and any(sounding_top(mel, n["on"]) for n in rel) else None
        m["melody_sounds"] = (sum(sounding_top(mel, n["on"]) is not None for n in rel) / len(rel)) if rel else None
        m["timing_lift"] = timing_lift(rel, mel) if m["consonance"] is not None else None
    low = {n["on"] // BAR for n in rel if n["pitch"] < BASS_BELOW}
    m["bass"] = len({b for b in low if 0 <= b < bars}) / bars
    sizes = list(Counter(n["on"] for n in ans).values())
    m["chord_median"] = float(statistics.median(sizes)) if sizes else None
    m["chord_max"] = max(sizes) if sizes else None
    if ans:
        # How much of the answer's sounding time is the key's tonic (a drone on it scores high).
        home = parse_key(follow_keys[0])[0]
        total = sum(max(n["dur"], 1) for n in ans)
        m["tonic_time"] = sum(max(n["dur"], 1) for n in ans if n["pitch"] % 12 == home) / total
        tonic, mode, _ = key_of(ans)
        m["key"] = key_name(tonic, mode)
        m["key_follows"] = m["key"] in follow_keys
    else:
        m["key"], m["key_follows"] = None, False
    if real is not None:
        m["pc_distance"] = compare(base, metrics(real, [], 32, scale, False))["pc_hist_distance"] if ans else None
    return m


def random_answer(rng: random.Random, around, count: int, start: int, span: int, instr: int):
    """Uniform pitches in the range of `around`, uniform onsets in the window, 1-24 tick notes."""
    lo, hi = min(n["pitch"] for n in around), max(n["pitch"] for n in around)
    out = [{"on": start + rng.randrange(span), "dur": rng.randint(1, 24), "pitch": rng.randint(lo, hi),
            "instr": instr} for _ in range(count)]
    return sorted(out, key=lambda n: (n["on"], n["pitch"]))


# ---------------------------------------------------------------- inputs

def load_tunes(folder: Path, vocab: dict) -> list[dict]:
    index = json.load(open(folder / "index.json"))
    out = []
    for t in index["tunes"]:
        notes, tempo = read_midi(folder / t["file"], vocab)
        num, den = (int(x) for x in t["meter"].split("/"))
        out.append({"name": Path(t["file"]).stem, "file": folder / t["file"], "melody": notes, "tempo": tempo,
                    "key": t["key"], "scale": set(t["scale_pcs"]), "follow_keys": t["follow_keys"],
                    "span": round(t["quarters"] * TPQ), "bar_ticks": round(TPQ * 4 * num / den),
                    "meter": t["meter"]})
    return out


def load_songs(split_path: Path, openscore: Path, vocab: dict, pieces: int) -> list[dict]:
    """sample.py's accompaniment pieces: the first `pieces` usable songs of its pick (seed 0)."""
    split = json.load(open(split_path))
    acc_files, _ = test_pieces(split, pieces, 0)
    out = []
    for rel in acc_files:
        if len(out) >= pieces:
            break
        notes, tempo = read_midi(openscore / rel, vocab)
        window = accompany_window(notes)
        if window is None:
            continue
        t0, melody, real = window
        tonic, mode, scale = key_of(real + melody)
        out.append({"name": f"accompany-{len(out):02d}-{Path(rel).stem[:40]}", "file": rel, "melody": melody,
                    "real": real, "tempo": tempo, "t0_quarters": t0 / TPQ, "key": key_name(tonic, mode),
                    "scale": scale, "follow_keys": [key_name(tonic, mode)], "span": 32 * TPQ,
                    "instruments": sorted({n["instr"] for n in real})})
    return out


def with_program(src: Path, dst: Path, program: int) -> None:
    """The tune file with every program change (and a leading one) set to `program`."""
    mid = mido.MidiFile(src)
    for tr in mid.tracks:
        for i, msg in enumerate(tr):
            if msg.type == "program_change":
                tr[i] = msg.copy(program=program)
    mid.save(dst)


# ---------------------------------------------------------------- running

class Runner:
    """One sample.Cli per worker thread (each with its own scratch folder)."""

    def __init__(self, args, vocab):
        self.args, self.vocab = args, vocab
        self.local = threading.local()
        self.lock = threading.Lock()
        self.count = 0
        self.cli_seconds = 0.0

    def cli(self) -> Cli:
        if not hasattr(self.local, "cli"):
            with self.lock:
                self.count += 1
                k = self.count
            self.local.cli = Cli(self.args.binary, self.args.model, self.vocab,
                                 self.args.scratch / f"w{k}", self.args.top_p, self.args.temperature)
        return self.local.cli

    def run(self, job):
        material, item, seed, set_name, flags = job
        cli = self.cli()
        started = time.time()
        a = self.args
        if material == "songs":
            ans = cli.accompany(item["melody"], item["tempo"], item["instruments"], seed, item["span"], flags)
            start = 0
        elif a.task == "accompany":
            src = item["input"]
            out = cli.scratch / "answer.mid"
            cli._run(["accompany", str(src), "-o", str(out), "--instrument", a.instrument, "--seed", str(seed)],
                     flags)
            notes, _ = read_midi(out, self.vocab)
            ans, start = [n for n in notes if n["on"] < item["span"]], 0
        else:
            out = cli.scratch / "answer.mid"
            log = cli._run(["continue", str(item["file"]), "-o", str(out), "--bars", str(a.continue_bars),
                            "--seed", str(seed)], flags)
            m = re.search(r"in bars (\d+)", log)
            start = (int(m.group(1)) - 1) * item["bar_ticks"] if m else item["span"]
            notes, _ = read_midi(out, self.vocab)
            ans = [n for n in notes if start <= n["on"] < start + a.continue_bars * item["bar_ticks"]]
        elapsed = time.time() - started
        with self.lock:
            self.cli_seconds += elapsed
        engine_key = re.search(r"key (.+?) \((followed|fixed)\)", cli.last_log)
        return ans, start, elapsed, (engine_key.group(1) + f" ({engine_key.group(2)})") if engine_key else None


def check_flags(binary: Path, task: str, sets: dict) -> None:
    """Refuses a set whose flags the binary does not know (before hundreds of failing runs)."""
    r = subprocess.run([str(binary), task, "--help"], capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"eval_steering: {binary} {task} --help failed: {r.stderr.strip()}")
    for name, flags in sets.items():
        unknown = [f for f in flags if f.startswith("--") and f.split("=")[0] not in r.stdout]
        if unknown:
            sys.exit(f"eval_steering: set '{name}' uses {' '.join(unknown)}, which {binary} does not know "
                     f"(an older build?); replace the set, e.g. --set {name}=\"\"")


# ---------------------------------------------------------------- summary

def mean(xs):
    xs = [x for x in xs if x is not None]
    return float(np.mean(xs)) if xs else None


def summarize(recs: list[dict], seeds: int) -> dict:
    """Mean and worst single answer per metric; key follows per input."""
    s = {"answers": len(recs), "empty": sum(r["notes"] == 0 for r in recs)}
    for k, worst in (("in_key", min), ("consonance", min), ("timing_lift", None), ("melody_sounds", min), ("bass", min),
                     ("pc_distance", max), ("notes_per_bar", None), ("chord_median", None), ("chord_max", None),
                     ("tonic_time", max)):
        vals = [r[k] for r in recs if r.get(k) is not None]
        if not vals:
            continue
        s[k] = {"mean": float(np.mean(vals))}
        if worst:
            s[k]["worst"] = float(worst(vals))
        if k == "notes_per_bar":
            s[k].update(min=float(min(vals)), max=float(max(vals)))
        if k == "chord_max":
            s[k]["max"] = int(max(vals))
    per_input = Counter()
    for r in recs:
        per_input[r["input"]] += bool(r.get("key_follows"))
    inputs = sorted({r["input"] for r in recs})
    s["key_follows"] = {"hits": sum(per_input[i] for i in inputs), "answers": len(recs),
                        "per_input": {i: per_input[i] for i in inputs},
                        "worst_input": min((per_input[i] for i in inputs), default=0), "seeds": seeds}
    return s


def fmt(x, digits=2):
    return "—" if x is None else f"{x:.{digits}f}"


def cell(s, k, worst=True):
    if k not in s:
        return "—"
    v = s[k]
    return f"{fmt(v['mean'])} ({fmt(v['worst'])})" if worst and "worst" in v else fmt(v["mean"])


def markdown(result: dict) -> str:
    task = result["settings"]["task"]
    seeds = len(result["settings"]["seeds"])
    lines = []
    titles = {"songs": "(a) Held-out test songs (OpenScore Lieder, voice as melody, 32 quarters)",
              "tunes": "(b) Made-up tunes (examples/tunes)"}
    for material, by_set in result["summary"].items():
        n_inputs = len(result["inputs"][material])
        lines.append(f"**{titles[material]}**: `antiphon {task}`, {n_inputs} inputs × {seeds} seeds. "
                     "Mean over all answers (worst single answer).")
        lines.append("")
        if task == "accompany":
            head = ["settings", "in key", "consonant onsets", "consonance lift in time", "bars with a note below E3",
                    "notes per bar (range)"]
            if material == "songs":
                head.append("pc distance to real")
            head += ["chord size: median / max", "key follows (worst input)", "empty"]
        else:
            head = ["settings", "in key", "bars with a note below E3", "notes per bar (range)", "empty"]
        lines.append("| " + " | ".join(head) + " |")
        lines.append("|" + " --- |" * len(head))
        for name, s in by_set.items():
            npb = s.get("notes_per_bar")
            npb_cell = (f"{fmt(npb['mean'], 1)} ({fmt(npb['min'], 1)}–{fmt(npb['max'], 1)})"
                        if npb and "min" in npb else fmt(npb["mean"], 1) if npb else "—")
            kf = s.get("key_follows")
            label = {"random": "random notes", "real": "real part"}.get(name, f"`{name}`")
            if task == "accompany":
                row = [label, cell(s, "in_key"), cell(s, "consonance"), cell(s, "timing_lift"), cell(s, "bass"), npb_cell]
                if material == "songs":
                    row.append(cell(s, "pc_distance"))
                chord = (f"{fmt(s['chord_median']['mean'], 1)} / {s['chord_max']['max']}"
                         if "chord_median" in s else "—")
                follows = (f"{kf['hits']}/{kf['answers']} ({kf['worst_input']}/{kf['seeds']})"
                           if kf and kf["seeds"] else f"{kf['hits']}/{kf['answers']}" if kf else "—")
                row += [chord, follows, str(s["empty"])]
            else:
                row = [label, cell(s, "in_key"), cell(s, "bass"), npb_cell, str(s["empty"])]
            lines.append("| " + " | ".join(row) + " |")
        lines.append("")
        goals = result.get("goals", {}).get(material)
        if goals:
            lines.append("Goals with `defaults` (issue 12): " + "; ".join(
                f"{g['what']} {'met' if g['met'] else '**missed**'} ({g['value']})" for g in goals) + ".")
            lines.append("")
        # per input
        sets = [n for n in by_set if n not in ("random", "real")]
        if sets:
            metric_names = ("in key / consonant / bass / key follows" if task == "accompany"
                            else "in key / bass / notes per bar")
            lines.append(f"Per input, mean over seeds: {metric_names}.")
            lines.append("")
            lines.append("| input | key | " + " | ".join(f"`{n}`" for n in sets) + " |")
            lines.append("|" + " --- |" * (2 + len(sets)))
            for inp in result["inputs"][material]:
                cells = []
                for n in sets:
                    rs = [r for r in result["answers"] if r["material"] == material and r["set"] == n
                          and r["input"] == inp["name"]]
                    if task == "accompany":
                        cells.append(f"{fmt(mean(r['in_key'] for r in rs))} / {fmt(mean(r.get('consonance') for r in rs))}"
                                     f" / {fmt(mean(r['bass'] for r in rs))} / {sum(r['key_follows'] for r in rs)}/{len(rs)}")
                    else:
                        cells.append(f"{fmt(mean(r['in_key'] for r in rs))} / {fmt(mean(r['bass'] for r in rs))}"
                                     f" / {fmt(mean(r['notes_per_bar'] for r in rs), 1)}")
                lines.append(f"| {inp['name']} | {inp['key']} | " + " | ".join(cells) + " |")
            lines.append("")
    st = result["settings"]
    lines.append("Sets: " + "; ".join(f"`{n}` = `{' '.join(f) or '(no flags)'}`" for n, f in st["sets"].items())
                 + f". Binary `{st['binary']}` (sha256 {st['binary_sha256'][:12]}, built {st['binary_built']}), model {st['model'] or 'built-in'}, seeds {st['seeds'][0]}–"
                 f"{st['seeds'][-1]}; made by `models/train/eval_steering.py` ({st['wall_s']:.0f} s, --jobs {st['jobs']}).")
    return "\n".join(lines) + "\n"


def goals(summary: dict, material: str, task: str) -> list[dict]:
    """Issue 12's goals for the defaults (continue: in key only; the others are accompaniment's)."""
    s, rnd, real = summary.get("defaults"), summary.get("random"), summary.get("real")
    if not s or "in_key" not in s:
        return []
    out = [{"what": "≥ 95 % in key", "value": fmt(s["in_key"]["mean"]), "met": s["in_key"]["mean"] >= GOALS["in_key"]}]
    if task == "continue":
        return out
    out.append({"what": "≥ 75 % of bars with a note below E3", "value": fmt(s["bass"]["mean"]),
                "met": s["bass"]["mean"] >= GOALS["bass"]})
    if "consonance" in s:
        out.insert(1, {"what": "≥ 85 % consonant onsets", "value": fmt(s["consonance"]["mean"]),
                       "met": s["consonance"]["mean"] >= GOALS["consonance"]})
    if material == "songs" and real and "notes_per_bar" in s:
        a, b = s["notes_per_bar"]["mean"], real["notes_per_bar"]["mean"]
        out.append({"what": "notes per bar within 25 % of the real parts", "value": f"{a:.1f} vs {b:.1f}",
                    "met": abs(a - b) <= 0.25 * b})
    if material == "songs" and rnd and "pc_distance" in s:
        a, b = s["pc_distance"]["mean"], rnd["pc_distance"]["mean"]
        out.append({"what": "pc distance below random notes'", "value": f"{a:.2f} vs {b:.2f}", "met": a < b})
    return out


# ---------------------------------------------------------------- render

def render(folder: Path, args, vocab, inputs: dict, answers: dict, sets: list[str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    synth = shutil.which("fluidsynth") if args.soundfont.exists() else None
    if not synth:
        print(f"render: no WAV (fluidsynth or {args.soundfont} missing)", flush=True)
    for material, items in inputs.items():
        if not items:
            continue
        item = items[0]
        seed = args.seeds[0]
        panels = []
        if material == "songs":
            melody = item["melody"]
            panels.append(("real part", [("melody", "tab:blue", melody), ("real", "0.45", item["real"])]))
        else:
            melody = item["given"]
        for name in sets:
            key = (material, item["name"], seed, name)
            if key not in answers:
                continue
            ans = answers[key]
            stem = f"{item['name']}.{name}.seed{seed}"
            mid = folder / f"{stem}.mid"
            write_midi(mid, [("melody (input)", melody), (f"answer ({name})", ans)], vocab, item["tempo"])
            layers = [("melody", "tab:blue", melody), (f"answer ({name})", "tab:orange", ans)]
            piano_roll(folder / f"{stem}.png", f"{item['name']}, {name}, seed {seed}", [(name, layers)])
            panels.append((name, layers))
            if synth:
                subprocess.run([synth, "-ni", "-g", "0.7", "-r", "44100", "-F", str(folder / f"{stem}.wav"),
                                str(args.soundfont), str(mid)], capture_output=True, check=False)
        if panels:
            piano_roll(folder / f"{item['name']}.seed{seed}.png", f"{item['name']} ({item['key']}), seed {seed}",
                       panels)
    print(f"render: {folder}", flush=True)


# ---------------------------------------------------------------- main

def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--task", choices=["accompany", "continue"], default="accompany")
    ap.add_argument("--binary", type=Path, default=REPO / "target" / "release" / "antiphon")
    ap.add_argument("--model", type=Path, help="model folder (default: the binary's built-in model)")
    ap.add_argument("--seeds", type=parse_seeds, default=parse_seeds("1-5"), help="e.g. 1-5 or 1,3,7")
    ap.add_argument("--tunes", type=Path, default=REPO / "examples" / "tunes")
    ap.add_argument("--split", type=Path, default=HERE / "work" / "split" / "split.json")
    ap.add_argument("--openscore", type=Path, default=HERE.parents[2] / "shared" / "data" / "openscore")
    ap.add_argument("--pieces", type=int, default=10, help="held-out songs")
    ap.add_argument("--set", action="append", default=[], metavar='NAME="FLAGS"',
                    help="a settings set: steering flags for every run (repeatable)")
    ap.add_argument("--sets", help="comma-separated names of the sets to run (default: all)")
    ap.add_argument("--only", help="comma-separated parts of input names to keep (a quick look)")
    ap.add_argument("--no-songs", action="store_true")
    ap.add_argument("--no-tunes", action="store_true")
    ap.add_argument("--instrument", default="piano", help="accompaniment instrument for the tunes")
    ap.add_argument("--melody-program", default="68",
                    help="program the tune's melody is given in accompany (68: as the plugin gives "
                         "captured melodies), or 'keep'")
    ap.add_argument("--continue-bars", type=int, default=4)
    ap.add_argument("--top-p", type=float, help="default: the CLI's")
    ap.add_argument("--temperature", type=float, help="default: the CLI's")
    ap.add_argument("--jobs", type=int, default=1, help="antiphon processes at once")
    ap.add_argument("--vocab", type=Path, default=HERE / "vocab_beats.json")
    ap.add_argument("--scratch", type=Path, default=HERE / "work" / "steering-scratch")
    ap.add_argument("--out", type=Path, help="JSON results")
    ap.add_argument("--table", type=Path, help="Markdown tables")
    ap.add_argument("--render", type=Path, help="folder for MIDI, piano rolls and WAVs")
    ap.add_argument("--soundfont", type=Path, default=Path("/usr/share/sounds/sf2/FluidR3_GM.sf2"))
    args = ap.parse_args()

    sets = {k: shlex.split(v) for k, v in BUILT_IN_SETS.items()}
    for spec in args.set:
        name, eq, flags = spec.partition("=")
        if not eq or not name:
            ap.error(f"--set wants NAME=\"FLAGS\", not {spec!r}")
        sets[name] = shlex.split(flags)
    if args.sets:
        wanted = args.sets.split(",")
        missing = [n for n in wanted if n not in sets]
        if missing:
            ap.error(f"--sets: unknown set(s) {', '.join(missing)}")
        sets = {n: sets[n] for n in wanted}
    if not args.binary.exists():
        sys.exit(f"eval_steering: no binary at {args.binary} (cargo build --release -p antiphon-cli)")
    check_flags(args.binary, args.task, sets)
    # run a copy: a rebuild during the run must not mix two binaries in one table
    digest = hashlib.sha256(args.binary.read_bytes()).hexdigest()
    binary_name = str(args.binary.resolve().relative_to(REPO)) if args.binary.resolve().is_relative_to(REPO) \
        else args.binary.name
    args.scratch.mkdir(parents=True, exist_ok=True)
    copy = args.scratch / f"antiphon-{digest[:12]}"
    if not copy.exists():
        shutil.copy2(args.binary, copy)
    binary_mtime = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(args.binary.stat().st_mtime))
    args.binary = copy
    vocab = json.load(open(args.vocab))

    inputs, notes_ = {}, []
    if args.task == "accompany" and not args.no_songs:
        if args.split.exists():
            inputs["songs"] = load_songs(args.split, args.openscore, vocab, args.pieces)
        else:
            notes_.append(f"held-out songs skipped: {args.split} does not exist (gather.py writes it)")
            print(f"eval_steering: {notes_[-1]}", flush=True)
    if not args.no_tunes:
        inputs["tunes"] = load_tunes(args.tunes, vocab)
        prepared = args.scratch / "tunes"
        prepared.mkdir(parents=True, exist_ok=True)
        piano = vocab["instrument_map"]["program_to_instrument"][0]
        for t in inputs["tunes"]:
            if args.task == "accompany" and args.melody_program != "keep":
                program = int(args.melody_program)
                t["input"] = prepared / t["file"].name
                with_program(t["file"], t["input"], program)
                code = vocab["instrument_map"]["program_to_instrument"][program]
                t["given"] = [dict(n, instr=code) for n in t["melody"]]
            else:
                t["input"], t["given"] = t["file"], t["melody"]
            t["instruments"] = [piano]

    if args.only:
        keep = args.only.split(",")
        inputs = {m: [it for it in items if any(k in it["name"] for k in keep)] for m, items in inputs.items()}
        inputs = {m: items for m, items in inputs.items() if items}
    jobs = [(material, item, seed, name, flags) for material, items in inputs.items() for item in items
            for name, flags in sets.items() for seed in args.seeds]
    print(f"eval_steering: {len(jobs)} runs of `antiphon {args.task}` "
          f"({', '.join(f'{len(v)} {k}' for k, v in inputs.items())}; sets {', '.join(sets)}; "
          f"seeds {args.seeds[0]}–{args.seeds[-1]}; {args.jobs} at once)", flush=True)
    runner = Runner(args, vocab)
    started = time.time()
    answers, records, errors = {}, [], []
    done = 0

    def one(job):
        material, item, seed, name, _ = job
        try:
            return job, runner.run(job), None
        except Exception as e:        # a failed run is reported, the others go on
            return job, None, str(e)

    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        for job, res, err in pool.map(one, jobs):
            material, item, seed, name, _ = job
            done += 1
            if err:
                errors.append({"material": material, "input": item["name"], "seed": seed, "set": name, "error": err})
                print(f"[{done}/{len(jobs)}] {item['name']} {name} seed {seed}: FAILED {err.strip()[:300]}", flush=True)
                continue
            ans, start, elapsed, engine_key = res
            answers[(material, item["name"], seed, name)] = ans
            span = item["span"] if args.task == "accompany" or material == "songs" else \
                args.continue_bars * item["bar_ticks"]
            mel = item["melody"] if args.task == "accompany" else None
            m = score(ans, mel, start, span, item["scale"], item["follow_keys"], item.get("real"),
                      consonance=args.task == "accompany")
            rec = {"material": material, "input": item["name"], "set": name, "seed": seed, **m,
                   "engine_key": engine_key, "seconds": round(elapsed, 2)}
            records.append(rec)
            print(f"[{done}/{len(jobs)}] {item['name']} {name} seed {seed}: {len(ans)} notes, in key "
                  f"{fmt(m['in_key'])}, consonant {fmt(m.get('consonance'))}, bass {fmt(m['bass'])}, "
                  f"key {m['key']}{' (engine: ' + engine_key + ')' if engine_key else ''} ({elapsed:.1f} s)",
                  flush=True)

    # baselines: random notes for every input and seed; the real part of each song
    for material, items in inputs.items():
        for item in items:
            if args.task == "accompany":
                around, start, span = item["melody"], 0, item["span"]
                count = len(item["real"]) if material == "songs" else \
                    round(len(item["melody"]) * span / item["span"])
            else:
                span = args.continue_bars * item["bar_ticks"]
                around, start = item["melody"], item["span"]
                count = round(len(item["melody"]) * span / item["span"])
            for seed in args.seeds:
                rng = random.Random(f"random-{item['name']}-{seed}")
                ans = random_answer(rng, around, count, start, span, item["instruments"][0])
                mel = item["melody"] if args.task == "accompany" else None
                m = score(ans, mel, start, span, item["scale"], item["follow_keys"], item.get("real"),
                          consonance=args.task == "accompany")
                records.append({"material": material, "input": item["name"], "set": "random", "seed": seed, **m})
            if material == "songs":
                m = score(item["real"], item["melody"], 0, item["span"], item["scale"], item["follow_keys"],
                          item["real"])
                records.append({"material": material, "input": item["name"], "set": "real", "seed": None, **m})

    wall = time.time() - started
    summary = {}
    for material in inputs:
        summary[material] = {}
        for name in [*sets, "random", "real"]:
            recs = [r for r in records if r["material"] == material and r["set"] == name]
            if recs:
                summary[material][name] = summarize(recs, 0 if name == "real" else len(args.seeds))
    result = {
        "settings": {"task": args.task, "binary": binary_name, "binary_sha256": digest,
                     "binary_built": binary_mtime,
                     "model": str(args.model) if args.model else None, "seeds": args.seeds,
                     "sets": sets, "instrument": args.instrument, "melody_program": args.melody_program,
                     "continue_bars": args.continue_bars if args.task == "continue" else None,
                     "top_p": args.top_p, "temperature": args.temperature, "jobs": args.jobs,
                     "wall_s": round(wall, 1), "cli_s": round(runner.cli_seconds, 1),
                     "runs": len(jobs), "failed": len(errors)},
        "notes": notes_,
        "inputs": {m: [{k: (sorted(v) if isinstance(v, set) else v) for k, v in it.items()
                        if k in ("name", "file", "key", "follow_keys", "scale", "span", "meter", "t0_quarters")}
                       for it in items] for m, items in inputs.items()},
        "summary": summary,
        "goals": {m: goals(summary[m], m, args.task) for m in inputs},
        "answers": records,
        "errors": errors,
    }
    for items in result["inputs"].values():
        for it in items:
            it["file"] = str(it["file"].relative_to(REPO)) if isinstance(it["file"], Path) and \
                it["file"].is_relative_to(REPO) else str(it["file"])
    table = markdown(result)
    print(table, flush=True)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        with open(args.out, "w") as f:
            json.dump(result, f, indent=1, ensure_ascii=False)
    if args.table:
        args.table.parent.mkdir(parents=True, exist_ok=True)
        args.table.write_text(table)
    if args.render:
        render(args.render, args, vocab, inputs, answers, list(sets))
    print(f"eval_steering: {len(jobs)} runs in {wall:.0f} s ({runner.cli_seconds:.0f} s in antiphon), "
          f"{len(errors)} failed", flush=True)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
