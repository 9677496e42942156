"""The melody input's numbers, from token ids alone (numpy only; melody_now.py explains them).

`features` gives, at the time and duration tokens of every event triple, the pitch classes of the
control (melody) notes sounding at the event's time, and with `key` the Krumhansl-Kessler key of
the melody read so far. The engine's `melody_now.rs` computes the same numbers bit for bit
(`tests/fixtures/melody-now/lines.json`); check_fixtures.py feeds them without PyTorch.
"""

import math

import numpy as np

FEATURES = 12        # pitch classes sounding now
KEY_FEATURES = 24    # keys of the melody so far: tonic + 12 * mode (0 major, 1 minor)
KK_MAJOR = (6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88)
KK_MINOR = (6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17)


def _centred(profile):
    mean = sum(profile) / 12.0
    c = [x - mean for x in profile]
    return c, math.sqrt(sum(x * x for x in c))


_PROFILES = (_centred(KK_MAJOR), _centred(KK_MINOR))


def melody_key(weights: list) -> int:
    """The Krumhansl-Kessler key of a pitch-class histogram (integer weights): tonic + 12 * mode
    (0 major, 1 minor), the first best in the order tonic 0..11, major before minor; -1 when the
    histogram is flat (nothing heard). Plain float arithmetic in a fixed order, so that the engine
    (melody_now.rs) finds the same key bit for bit."""
    if min(weights) == max(weights):
        return -1
    mean = sum(weights) / 12.0
    dev = [w - mean for w in weights]
    best, best_key = 0.0, -1
    for tonic in range(12):
        for mode, (c, norm) in enumerate(_PROFILES):
            r = 0.0
            for i in range(12):
                r += dev[i] * c[(i - tonic) % 12]
            r /= norm
            if best_key < 0 or r > best:
                best, best_key = r, tonic + 12 * mode
    return best_key


def accompaniment_key(row: np.ndarray, vocab: dict) -> int:
    """The Krumhansl-Kessler key (melody_key) of a line's event notes, drums left out, by their
    duration-weighted (max(duration, 1) ticks) pitch classes; -1 when it has none."""
    to, do, no, mp = vocab["time_offset"], vocab["duration_offset"], vocab["note_offset"], vocab["max_pitch"]
    n = (len(row) - 1) // 3
    t, d, note = row[1:1 + 3 * n].reshape(n, 3).T.astype(np.int64)
    ok = ((t >= to) & (t < to + vocab["max_time"]) & (note >= no) & (note < vocab["rest"])
          & ((note - no) // mp != vocab["drum_instrument"]))
    return key_of_notes((note[ok] - no) % mp, d[ok] - do)


def key_of_notes(pitches: np.ndarray, durations: np.ndarray) -> int:
    """melody_key of notes' pitch classes, each weighted by max(duration, 1)."""
    weights = np.zeros(12, np.int64)
    np.add.at(weights, pitches % 12, np.maximum(durations, 1))
    return melody_key(weights.tolist())


def features(ids: np.ndarray, vocab: dict, key: bool = False, key_source: str = "melody") -> np.ndarray:
    """ids: (lines, tokens), token 0 the task flag, then triples. Returns (lines, tokens, 12, or
    36 with `key`) float32: at an event triple's time and duration tokens, 1 for each pitch class
    of a control note read before that triple with onset <= time < onset + duration; with `key`,
    then 1 at column 12 + melody_key(...) of the duration-weighted (max(duration, 1) ticks)
    pitch classes of every control note read before the triple (none while the melody read so
    far has no key); zeros elsewhere.

    key_source="accompaniment" (training only: the engine always gives the melody's key) puts
    the key of the line's own accompaniment (accompaniment_key) in the key columns instead,
    wherever the melody's would be: the model learns to play in the key it is told, and is
    told the melody's key when it plays."""
    to, do, no = vocab["time_offset"], vocab["duration_offset"], vocab["note_offset"]
    co, mt, mp = vocab["control_offset"], vocab["max_time"], vocab["max_pitch"]
    drums = vocab["drum_instrument"]
    out = np.zeros(ids.shape + (FEATURES + KEY_FEATURES * key,), dtype=np.float32)
    for b in range(ids.shape[0]):
        row = ids[b]
        active: list[tuple[int, int, int]] = []  # (onset, end, pitch class) of controls read
        weights, current = [0] * 12, -1  # the melody's pitch classes read so far, and its key
        told = accompaniment_key(row, vocab) if key and key_source == "accompaniment" else -1
        for p in range(1, ids.shape[1], 3):
            t = int(row[p])
            if co + to <= t < co + to + mt:
                if p + 2 < ids.shape[1]:
                    instrument, pitch = divmod(int(row[p + 2]) - co - no, mp)
                    if 0 <= instrument and instrument != drums:
                        onset, length = t - co - to, int(row[p + 1]) - co - do
                        active.append((onset, onset + length, pitch % 12))
                        if key:
                            weights[pitch % 12] += max(length, 1)
                            current = melody_key(weights)
            elif to <= t < to + mt:
                now = t - to
                active = [a for a in active if a[1] > now or a[0] > now]  # ended ones never return
                for onset, end, pc in active:
                    if onset <= now < end:
                        out[b, p, pc] = 1.0
                if current >= 0:
                    out[b, p, FEATURES + (current if told < 0 else told)] = 1.0
                out[b, p + 1:p + 2] = out[b, p]
    return out
