#!/usr/bin/env python3
"""What Instrument = Drums plays: drum answers to the made-up tunes against real drumming.

    python eval_drums.py --model ../antiphon-small --seeds 1-3 --out work/drums-eval.json \
        --table work/drums-eval.md [--render work/drums-render]

For every 4/4 tune of `--tunes` (index.json, make_tunes.py) and seed, `antiphon accompany
--instrument drums --only-new` (the plugin's defaults), the melody in the program the plugin
gives a captured melody (`--melody-program`, 68) as eval_steering.py does; the same measures on the first bars of
the Groove MIDI Dataset's test-split beats (`--groove`), which no model trained on:

- hits per bar; the share of hits on the General MIDI drum map (35-81; the dataset's keys mapped
  to it as make_drum_songs.py maps them for training) and on kick, snare, hi-hat/cymbal;
- backbeat: the share of snare hits on beats 2 and 4; downbeat kick: the share of bars with a
  kick on beat 1;
- on the grid: the share of onsets on a sixteenth or an eighth-note triplet (12 ticks per quarter);
- repetition: how alike consecutive bars' onset patterns are (Jaccard of their sixteenth slots).
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import subprocess
import tempfile
from pathlib import Path

from eval_steering import parse_seeds, with_program
from make_drum_songs import GROOVE_TO_GM
from sample import piano_roll, read_midi

TPQ = 12
BAR = 4 * TPQ
KICK = {35, 36}
SNARE = {37, 38, 40}
HATS_CYMBALS = {42, 44, 46, 49, 51, 52, 53, 55, 57, 59}
KIT = set(range(35, 82))
HERE = Path(__file__).resolve().parent


def drum_onsets(path: Path, vocab: dict, keys: dict | None = None) -> list[tuple[int, int]]:
    """(onset in 12-per-quarter ticks, key) of the file's drum notes as the tokenizer reads them
    (sample.read_midi), keys mapped by `keys`."""
    notes, _ = read_midi(path, vocab)
    return sorted((n["on"], (keys or {}).get(n["pitch"], n["pitch"]))
                  for n in notes if n["instr"] == vocab["drum_instrument"])


def measure(hits: list[tuple[int, int]], bars: int) -> dict:
    hits = [(t, k) for t, k in hits if t < bars * BAR]
    n = len(hits)
    share = (lambda keys: sum(k in keys for _, k in hits) / n) if n else (lambda keys: None)
    snares = [t for t, k in hits if k in SNARE]
    slots = [{(t % BAR) // 3 for t, _ in hits if t // BAR == b and t % 3 == 0} for b in range(bars)]
    pairs = [(a, b) for a, b in zip(slots, slots[1:]) if a or b]
    return {
        "hits_per_bar": n / bars,
        "kit": share(KIT), "kick": share(KICK), "snare": share(SNARE), "hats_cymbals": share(HATS_CYMBALS),
        "backbeat": sum((t % BAR) in (TPQ, 3 * TPQ) for t in snares) / len(snares) if snares else None,
        "downbeat_kick": sum(any(t == b * BAR and k in KICK for t, k in hits) for b in range(bars)) / bars,
        "on_grid": sum(t % 3 == 0 or t % 4 == 0 for t, _ in hits) / n if n else None,
        "repetition": statistics.mean(len(a & b) / len(a | b) for a, b in pairs) if pairs else None,
    }


def mean_of(rows: list[dict]) -> dict:
    keys = rows[0].keys()
    return {k: statistics.mean(v) if (v := [r[k] for r in rows if r[k] is not None]) else None for k in keys}


def groove_reference(groove: Path, vocab: dict, bars: int) -> list[dict]:
    with open(groove / "info.csv", encoding="utf-8") as f:
        rows = [r for r in csv.DictReader(f)
                if r["split"] == "test" and r["beat_type"] == "beat" and r["time_signature"] == "4-4"]
    out = []
    for r in rows:
        hits = drum_onsets(groove / r["midi_filename"], vocab, GROOVE_TO_GM)
        if hits and hits[-1][0] >= bars * BAR:  # long enough to measure
            out.append(measure(hits, bars))
    return out


def accompany_drums(args, melody: Path, out: Path, seed: int, only_new: bool) -> None:
    """`antiphon accompany --instrument drums` of `melody` into `out` (the --model's, else the
    built-in model)."""
    cmd = [str(args.binary), "accompany", str(melody), "-o", str(out), "--instrument", "drums",
           "--seed", str(seed)] + (["--only-new"] if only_new else [])
    subprocess.run(cmd + (["--model", str(args.model)] if args.model else []), check=True, capture_output=True)


def listen(args, tune: dict, vocab: dict, scratch: Path) -> None:
    """A tune's seed-1 answer with its melody, as MIDI, a piano roll and (with fluidsynth
    and the soundfont) a WAV, in --render."""
    import shutil

    stem = args.render / f"{Path(tune['file']).stem}.drums.listen"
    accompany_drums(args, scratch / tune["file"], Path(f"{stem}.mid"), 1, only_new=False)
    notes, _ = read_midi(Path(f"{stem}.mid"), vocab)
    melody = [n for n in notes if n["instr"] != vocab["drum_instrument"]]
    drums = [n for n in notes if n["instr"] == vocab["drum_instrument"]]
    piano_roll(Path(f"{stem}.png"), f"{Path(tune['file']).stem}, Instrument = Drums, seed 1",
               [("melody and drums (drums by General MIDI key)",
                 [("melody", "tab:blue", melody), ("drums", "tab:orange", drums)])])
    synth = shutil.which("fluidsynth")
    if synth and args.soundfont.exists():
        subprocess.run([synth, "-ni", "-g", "0.7", "-r", "44100", "-F", f"{stem}.wav", str(args.soundfont),
                        f"{stem}.mid"], capture_output=True, check=False)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", type=Path, default=None, help="model folder (default: the built-in model)")
    p.add_argument("--binary", type=Path, default=HERE.parents[1] / "target/release/antiphon")
    p.add_argument("--tunes", type=Path, default=HERE.parents[1] / "examples/tunes")
    p.add_argument("--groove", type=Path, default=HERE.parents[2] / "shared/data/groove")
    p.add_argument("--melody-program", type=int, default=68)
    p.add_argument("--seeds", default="1-3")
    p.add_argument("--bars", type=int, default=8)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--table", type=Path)
    p.add_argument("--render", type=Path, help="keep the answers' MIDI files here, and a listen to the first "
                   "--listen tune's seed-1 answer with its melody: MIDI, piano roll, WAV (fluidsynth)")
    p.add_argument("--listen", default="02-pop-g", help="the tune --render plays with its melody")
    p.add_argument("--soundfont", type=Path, default=Path("/usr/share/sounds/sf2/FluidR3_GM.sf2"))
    args = p.parse_args()
    index = json.load(open(args.tunes / "index.json", encoding="utf-8"))
    tunes = [t for t in index["tunes"] if t["meter"] == "4/4"]
    vocab = json.load(open(HERE / "vocab_beats.json"))
    answers = {}
    with tempfile.TemporaryDirectory() as scratch:
        for tune in tunes:
            melody = Path(scratch) / tune["file"]
            with_program(args.tunes / tune["file"], melody, args.melody_program)
            for seed in parse_seeds(args.seeds):
                out = (args.render or Path(scratch)) / f"{Path(tune['file']).stem}.drums.s{seed}.mid"
                out.parent.mkdir(parents=True, exist_ok=True)
                accompany_drums(args, melody, out, seed, only_new=True)
                bars = min(args.bars, int(tune["quarters"] // 4))
                answers[f"{Path(tune['file']).stem} s{seed}"] = measure(drum_onsets(out, vocab), bars)
        if args.render:
            listen(args, next(t for t in tunes if Path(t["file"]).stem == args.listen), vocab, Path(scratch))
    real = groove_reference(args.groove, vocab, args.bars)
    result = {"model": str(args.model or "built-in"), "seeds": args.seeds, "bars": args.bars,
              "melody_program": args.melody_program,
              "answers": answers, "answers_mean": mean_of(list(answers.values())),
              "groove_test_beats": len(real), "groove_mean": mean_of(real)}
    args.out.write_text(json.dumps(result, indent=1))
    cols = list(result["answers_mean"])
    fmt = lambda v: "—" if v is None else f"{v:.2f}"  # noqa: E731
    lines = ["| | " + " | ".join(c.replace("_", " ") for c in cols) + " |", "|" + " --- |" * (len(cols) + 1),
             f"| answers ({len(answers)}) | " + " | ".join(fmt(result["answers_mean"][c]) for c in cols) + " |",
             f"| Groove test beats ({len(real)}) | " + " | ".join(fmt(result["groove_mean"][c]) for c in cols) + " |"]
    table = "\n".join(lines) + "\n"
    if args.table:
        args.table.write_text(table)
    print(table)


if __name__ == "__main__":
    main()
