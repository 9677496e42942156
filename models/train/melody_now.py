"""The melody sounding now, as an input (train.py --melody-now).

Why: v2 takes the key from the anticipated melody but not its timing. Delaying the melody an
eighth note costs its accompaniment notes 0.007 nats (probe_melody.py), and its answers are no
more consonant with the melody as it sounds than with the melody a few ticks off (a real
accompaniment: 0.89 against 0.80). To know which melody note sounds at an event's time, the
model must find, among the control triples it read up to two bars earlier, those with
onset <= t < end: an attention pattern that 450 M tokens on two cores did not teach it, nor a
training target asking for it (melody_aux.py).

So the model is told. At the time and duration tokens of every event triple (where it is about
to choose the duration and then the note) it gets the pitch classes of the control notes that
sound at the event's time, twelve 0/1 inputs, projected by one learned 12 x n_embd matrix and
added to the token's embedding, and by one learned 12 x vocab matrix added to the logits (a
bias on each next token for each melody pitch class sounding: which notes go with it, learned
from the data in a few hundred steps, where the path through the transformer learns slowly).
Everything else gets zeros. The features are a function of the
token ids alone, read causally (a control counts once its whole triple has been read), so the
engine computes the same twelve numbers from the tokens it feeds (antiphon-engine's
`melody_now.rs`, which must match `melody_features.features` bit for bit), and the ONNX model
takes them as one more input, `melody_now` [batch, seq, 12]. Drum controls have no pitch class
and are left out.

With `key` (train.py --melody-key) 24 more numbers follow at the same positions: 1 for the
Krumhansl-Kessler key of every control note read so far, weighted by duration. v3 took the
melody's scale but often centred its answer on a key sharing it (a tune in G answered in E minor,
6 of 11 made-up tunes followed in 4 of 5 seeds); told the melody's key, 24 more rows of each
matrix can favour its tonic. `key_prior` gives the logits rows a start counted from the data.
"""

import json
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

from melody_features import FEATURES, KEY_FEATURES, features, key_of_notes

WEIGHT_FILE = "melody_now.npy"
LOGITS_FILE = "melody_now_logits.npy"
SPEC_FILE = "melody_now.json"
VOCAB_KEYS = ("time_offset", "duration_offset", "note_offset", "rest", "control_offset", "separator",
              "max_time", "max_pitch", "drum_instrument", "anticipate")


class MelodyNowLM(nn.Module):
    """A GPT2LMHeadModel whose event time and duration tokens also get the melody sounding now
    (and, with `key`, the melody's key so far)."""

    def __init__(self, gpt2, vocab: dict, key: bool = False, key_source: str = "melody"):
        super().__init__()
        self.key_source = key_source  # what the key columns say in training (melody_features.features)
        self.gpt2 = gpt2
        self.config = gpt2.config
        self.vocab = {k: vocab[k] for k in VOCAB_KEYS if k in vocab}
        self.key = key
        width = FEATURES + KEY_FEATURES * key
        # Zero at the start: a converted model begins exactly where its checkpoint was.
        self.melody_now = nn.Parameter(torch.zeros(width, gpt2.config.n_embd))
        self.melody_logits = nn.Parameter(torch.zeros(width, gpt2.config.vocab_size))

    def forward(self, input_ids, **kwargs):
        """GPT2LMHeadModel's forward (its keyword arguments, its output) on the same ids."""
        feats = torch.from_numpy(features(input_ids.cpu().numpy(), self.vocab, self.key, self.key_source)).to(input_ids.device)
        embeds = self.gpt2.transformer.wte(input_ids) + feats @ self.melody_now
        out = self.gpt2(inputs_embeds=embeds, **kwargs)
        out.logits = out.logits + feats @ self.melody_logits
        return out

    def save_pretrained(self, folder) -> None:
        folder = Path(folder)
        self.gpt2.save_pretrained(folder)
        np.save(folder / WEIGHT_FILE, self.melody_now.detach().cpu().float().numpy())
        np.save(folder / LOGITS_FILE, self.melody_logits.detach().cpu().float().numpy())
        json.dump({"features": FEATURES + KEY_FEATURES * self.key, "key": self.key, "key_source": self.key_source, "weight": WEIGHT_FILE,
                   "logits": LOGITS_FILE, "vocab": self.vocab}, open(folder / SPEC_FILE, "w"), indent=1)


def _accompaniment_notes(lines: np.ndarray, vocab: dict, count: int, rng, key: bool):
    """For each of `count` random anticipated lines (picked with `rng`): the pitches of its
    pitched event notes where the melody columns (the key's with `key`, else the twelve) are on at
    the note's duration token, those columns there, and the notes' durations (time units)."""
    pick = np.sort(rng.choice(lines.shape[0], min(count, lines.shape[0]), replace=False))
    no, mp, drums = vocab["note_offset"], vocab["max_pitch"], vocab["drum_instrument"]
    for s in range(0, len(pick), 100):
        block = lines[pick[s:s + 100]].astype(np.int64)
        feats = features(block, vocab, key)
        feats = feats[..., FEATURES:] if key else feats
        for r in range(block.shape[0]):
            if block[r, 0] != vocab["anticipate"]:
                continue
            at = np.arange(2, block.shape[1] - 1, 3)  # duration tokens: the next token is the note
            notes = block[r, at + 1]
            ok = ((notes >= no) & (notes < vocab["rest"]) & ((notes - no) // mp != drums)
                  & (feats[r, at].sum(-1) > 0))
            yield (notes[ok] - no) % mp, feats[r, at[ok]], block[r, at[ok]] - vocab["duration_offset"]


def _pitched_notes(vocab: dict) -> tuple[np.ndarray, np.ndarray]:
    """The ids of every pitched (not drum) note token, and their pitches."""
    no, mp = vocab["note_offset"], vocab["max_pitch"]
    notes = np.arange(no, vocab["rest"])
    pitched = notes[(notes - no) // mp != vocab["drum_instrument"]]
    return pitched, (pitched - no) % mp


def interval_prior(lines: np.ndarray, vocab: dict, count: int = 3000, seed: int = 0) -> np.ndarray:
    """How much likelier each interval between an accompaniment note and a melody pitch class is
    when that melody note sounds at the note's onset than when it sounds at another event of the
    same line: g[i] = log P(i | now) - log P(i | elsewhere), i = (note - melody) mod 12, over the
    event notes (not drums) of `count` random anticipated lines. A key-aware model that does not
    hear the melody in time predicts roughly "elsewhere", so g is what `melody_logits` should
    add; `train.py --melody-prior` starts it there. On the v2 lines: unison/octave +0.52, minor
    second -1.36, major seventh -1.49, thirds and sixths +0.2 to +0.36."""
    rng = np.random.default_rng(seed)
    now, elsewhere = np.ones(12), np.ones(12)  # add-one smoothing
    for pitches, here, _ in _accompaniment_notes(lines, vocab, count, rng, key=False):
        pcs = pitches % 12
        if len(pcs) < 2:
            continue
        there = here[rng.permutation(len(pcs))]
        for k, pc in enumerate(pcs):
            now[(pc - np.nonzero(here[k])[0]) % 12] += 1
            elsewhere[(pc - np.nonzero(there[k])[0]) % 12] += 1
    return np.log(now / now.sum()) - np.log(elsewhere / elsewhere.sum())


def prior_logits(g: np.ndarray, vocab: dict, vocab_size: int) -> np.ndarray:
    """The 12 x vocab matrix that adds g[(pc(note) - c) mod 12] to every pitched note token for
    each melody pitch class c sounding; zero for drums and every other token."""
    out = np.zeros((FEATURES, vocab_size), np.float32)
    pitched, pitches = _pitched_notes(vocab)
    pcs = pitches % 12
    for c in range(FEATURES):
        out[c, pitched] = g[(pcs - c) % 12]
    return out


def load_lm(path, **kwargs):
    """A saved folder: a MelodyNowLM when it has melody_now.json, else the plain GPT2LMHeadModel.
    kwargs go to from_pretrained."""
    from transformers import GPT2LMHeadModel
    path = Path(path)
    gpt2 = GPT2LMHeadModel.from_pretrained(path, **kwargs)
    if not (path / SPEC_FILE).exists():
        return gpt2
    spec = json.load(open(path / SPEC_FILE))
    # Loaded to be scored or exported: told the melody's key, as the engine tells it, whatever
    # the key columns said in training (spec["key_source"]).
    model = MelodyNowLM(gpt2, spec["vocab"], key=bool(spec.get("key", False)))
    with torch.no_grad():
        model.melody_now.copy_(torch.from_numpy(np.load(path / spec["weight"])))
        if "logits" in spec:  # folders of the first --melody-now run have none: zero
            model.melody_logits.copy_(torch.from_numpy(np.load(path / spec["logits"])))
    return model


def key_prior(lines: np.ndarray, vocab: dict, count: int = 3000, seed: int = 0,
              bands: tuple[int, ...] = (), relative_to: str = "melody") -> np.ndarray:
    """How much likelier each pitch class of an accompaniment note is, counted from the tonic of
    the key its melody has so far (features' key columns), than in a line whose melody is in a
    random key: g[mode, band, i] = log P(i | mode, band) + log 12, i = (note - tonic) mod 12,
    over the event notes (not drums) of `count` random anticipated lines. `bands` are the lowest
    pitches of the registers after the first (e.g. (52, 72): below E3, E3-B4, C5 and up), each
    counted on its own: a bass note names the key more often than a note above it. `train.py
    --key-prior` starts the key rows of melody_logits there.

    relative_to="accompaniment" counts each note from the key of its own line's accompaniment
    instead (Krumhansl-Kessler of its notes' duration-weighted pitch classes, as
    eval_steering.py names an answer's key): what an accompaniment *in* key K plays, where the
    melody's key so far is only an estimate of it (minor melodies of the songs turn to the
    relative major while their piano stays in the key, and the reverse)."""
    counts = np.ones((2, len(bands) + 1, 12))  # add-one smoothing
    for pitches, keys, ticks in _accompaniment_notes(lines, vocab, count, np.random.default_rng(seed), key=True):
        if relative_to == "accompaniment":
            own = key_of_notes(pitches, ticks)
            if own < 0:
                continue
            keys = np.full(len(pitches), own)
        else:
            keys = keys.argmax(-1)
        for pitch, k in zip(pitches, keys):
            counts[k // 12, np.searchsorted(bands, pitch, side="right"), (pitch - k % 12) % 12] += 1
    return np.log(counts / counts.sum(-1, keepdims=True)) + np.log(12)


def key_prior_logits(g: np.ndarray, vocab: dict, vocab_size: int, bands: tuple[int, ...] = ()) -> np.ndarray:
    """The 24 x vocab matrix (the key rows of melody_logits) that adds g[mode, band(note),
    (pc(note) - tonic) mod 12] to every pitched note token for the melody's key tonic + 12 * mode
    (g as `key_prior` gives it, with the same `bands`); zero elsewhere."""
    out = np.zeros((KEY_FEATURES, vocab_size), np.float32)
    pitched, pitches = _pitched_notes(vocab)
    band = np.searchsorted(bands, pitches, side="right")
    for k in range(KEY_FEATURES):
        out[k, pitched] = g[k // 12, band, (pitches - k % 12) % 12]
    return out


def write_fixture(out: Path, lines_path: Path, vocab_path: Path) -> None:
    """The engine's conformance fixture: features of two real accompaniment-task lines, one
    well-formed random line and one line of random ids, as (position, bitmask) pairs, and the
    key columns as (position, key) pairs."""
    from ort_check import melody_line
    from train import load_lines
    vocab = json.load(open(vocab_path))
    real, _ = load_lines(lines_path)
    rng = np.random.default_rng(7)
    picks = [i for i in range(real.shape[0]) if real[i, 0] == vocab["anticipate"]][:40:20]
    lines = [(f"{lines_path.name} line {i}", real[i].astype(np.int64)) for i in picks]
    lines.append(("well-formed random triples", melody_line(rng, vocab, 600)))
    lines.append(("random ids", rng.integers(0, vocab["vocab_size"], 600)))
    doc = {"made_by": "models/train/melody_now.py --fixture", "vocab": vocab["kind"], "lines": []}
    for what, ids in lines:
        f = features(ids[None], vocab, key=True)[0]
        bits = (f[:, :FEATURES] * (1 << np.arange(FEATURES))).sum(1).astype(int)
        keys = np.where(f[:, FEATURES:].any(1), f[:, FEATURES:].argmax(1), -1)
        doc["lines"].append({"what": what, "tokens": ids.tolist(),
                             "features": [[int(p), int(b)] for p, b in enumerate(bits) if b],
                             "keys": [[int(p), int(k)] for p, k in enumerate(keys) if k >= 0]})
    out.parent.mkdir(parents=True, exist_ok=True)
    json.dump(doc, open(out, "w"), separators=(",", ":"))


if __name__ == "__main__":
    import argparse
    ap = argparse.ArgumentParser(description="Write the engine's conformance fixture of these features.")
    ap.add_argument("--fixture", type=Path, required=True)
    ap.add_argument("--lines", type=Path, default=Path("work/tok/valid-acc.bin"))
    ap.add_argument("--vocab", type=Path, default=Path("vocab_beats.json"))
    a = ap.parse_args()
    write_fixture(a.fixture, a.lines, a.vocab)
