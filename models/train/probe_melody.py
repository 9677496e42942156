#!/usr/bin/env python3
"""Does a model listen to the melody? Its loss on the accompaniment's notes, with the melody as
written, delayed by an eighth note, and transposed by a tritone.

    python probe_melody.py --model v2=work/v2/hf-ema --model shared=work/s6sc/hf-ema \\
        --songs work/split/valid/lieder --out work/probe-valid.json

Each song's melody track (sample.melody_track: the voice) is changed in a copy of the file, the
copies are tokenized as accompaniment-task lines (`antiphon tokenize --accompany-share 1`, the
melody as controls), and every model scores the note tokens of the *events* (the accompaniment,
not the controls). A model that follows the melody's harmony in time pays for a delayed melody;
one that only takes the melody's key from it does not, and pays only for the transposition.
"""

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import mido
import numpy as np
import torch

from eval_lm import model_nll
from sample import melody_track, read_midi
from train import load_lines

HERE = Path(__file__).resolve().parent


def delay(mid: mido.MidiFile, track: int) -> None:
    """Every event of the track an eighth note later (the first note message's delta grows)."""
    msgs = mid.tracks[track]
    for i, m in enumerate(msgs):
        if m.type in ("note_on", "note_off"):
            msgs[i] = m.copy(time=m.time + mid.ticks_per_beat // 2)
            return


def tritone(mid: mido.MidiFile, track: int) -> None:
    msgs = mid.tracks[track]
    for i, m in enumerate(msgs):
        if m.type in ("note_on", "note_off"):
            msgs[i] = m.copy(note=min(127, m.note + 6))


VARIANTS = {"as written": None, "delayed an eighth": delay, "tritone up": tritone}


def event_note_loss(nll: np.ndarray, lines: np.ndarray, vocab: dict) -> tuple[float, int]:
    """Mean NLL of the event note tokens (eval_lm.model_nll's nll[:, j] scores token j + 1)."""
    pos = np.arange(3, lines.shape[1], 3)  # note tokens of triples (token 0 is the task flag)
    tok = lines[:, pos]
    events = (tok >= vocab["note_offset"]) & (tok < vocab["rest"])
    return float(nll[:, pos - 1][events].astype(np.float64).mean()), int(events.sum())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", action="append", required=True, help="NAME=HF_DIR")
    ap.add_argument("--songs", type=Path, required=True, help="a folder of songs with a voice track")
    ap.add_argument("--limit", type=int, default=40, help="the first N songs by name")
    ap.add_argument("--vocab", type=Path, default=HERE / "vocab_beats.json")
    ap.add_argument("--antiphon", type=Path, default=HERE.parents[1] / "target" / "release" / "antiphon")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu", help="where the models run (cpu, cuda)")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    vocab = json.load(open(args.vocab))
    songs = sorted(args.songs.glob("*.mid"))[:args.limit]
    scratch = Path(tempfile.mkdtemp(prefix="probe-melody-"))
    lines = {}
    try:
        for name, change in VARIANTS.items():
            folder = scratch / name.replace(" ", "-")
            folder.mkdir()
            for song in songs:
                mid = mido.MidiFile(song)
                track = melody_track(read_midi(song, vocab)[0])
                if change is not None and track is not None:
                    change(mid, track)
                mid.save(folder / song.name)
            out = scratch / f"{folder.name}.bin"
            subprocess.run([str(args.antiphon), "tokenize", str(folder), "--vocab", "beats", "-o", str(out),
                            "--augment", "1", "--accompany-share", "1", "--seed", "1"],
                           check=True, capture_output=True)
            lines[name] = np.array(load_lines(out)[0])
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    result = {"songs": str(args.songs), "count": len(songs), "models": {}}
    together = np.concatenate(list(lines.values()))  # one pass per model over every variant
    for spec in args.model:
        name, path = spec.split("=", 1)
        nll = model_nll(Path(path), together, device=args.device)
        row, start = {}, 0
        for variant, ls in lines.items():
            end = start + ls.shape[0]
            loss, notes = event_note_loss(nll[start:end], ls, vocab)
            row[variant] = {"note_loss": loss, "event_notes": notes, "lines": int(ls.shape[0])}
            start = end
        base = row["as written"]["note_loss"]
        row["cost of the delay"] = row["delayed an eighth"]["note_loss"] - base
        row["cost of the tritone"] = row["tritone up"]["note_loss"] - base
        result["models"][name] = row
        print(f"{name}: note loss {base:.3f}; melody delayed an eighth +{row['cost of the delay']:.3f}, "
              f"a tritone up +{row['cost of the tritone']:.3f} nats", flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    json.dump(result, open(args.out, "w"), indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
