"""An auxiliary training target: the melody note sounding at each accompaniment note (train.py
--aux-melody WEIGHT).

Why: v2 (448 M tokens) takes the key from the anticipated melody but not its timing: delaying the
melody by an eighth note costs its accompaniment notes 0.007 nats (probe_melody.py), and its
answers are no more consonant with the melody at the right moment than a few ticks off, where a
real accompaniment is (0.89 against 0.80). To know which melody note sounds at time t the model
must find, among the controls it has read up to two bars earlier, the one with onset <= t < end.
This target asks for exactly that: at the duration token of every event note of an anticipated
line (where the model is about to choose the note), a small head on the last hidden state
predicts the pitch class of the highest control note sounding at the event's time, or 12 when
none sounds. The head is training-only; the exported GPT-2 (and the ONNX model) do not have it.
"""

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

IGNORE = -100
SILENT = 12


def melody_labels(ids: np.ndarray, vocab: dict) -> np.ndarray:
    """ids: (lines, tokens), token 0 the task flag, then triples. Returns labels of the same
    shape: the class at each event note's duration token, IGNORE elsewhere (and on lines without
    controls, and before a line's first control, whose melody may have begun before the line)."""
    co, sep = vocab["control_offset"], vocab["separator"]
    no, rest = vocab["note_offset"], vocab["rest"]
    to, do, mp = vocab["time_offset"], vocab["duration_offset"], vocab["max_pitch"]
    labels = np.full(ids.shape, IGNORE, dtype=np.int64)
    n = (ids.shape[1] - 1) // 3
    for b in range(ids.shape[0]):
        if ids[b, 0] != vocab["anticipate"]:
            continue
        tri = ids[b, 1:1 + 3 * n].reshape(n, 3).astype(np.int64)
        active = []  # (end, pitch) of the controls read so far that may still sound
        seen = False
        for k in range(n):
            t, d, note = tri[k]
            if co <= note < sep:
                on = t - co - to
                active.append((on + d - co - do, on, (note - co - no) % mp))
                seen = True
            elif no <= note < rest and seen:
                now = t - to
                active = [a for a in active if a[0] > now or a[1] > now]  # drop what has ended
                sounding = [p for end, on, p in active if on <= now < end]
                labels[b, 2 + 3 * k] = max(sounding) % 12 if sounding else SILENT
    return labels


class MelodyHead(nn.Module):
    def __init__(self, n_embd: int):
        super().__init__()
        self.proj = nn.Linear(n_embd, SILENT + 1)

    def loss(self, hidden: torch.Tensor, labels: torch.Tensor):
        """Mean cross-entropy over the labelled positions, and (correct, count) for the log."""
        mask = labels != IGNORE
        if not bool(mask.any()):
            return hidden.sum() * 0.0, (0, 0)
        logits = self.proj(hidden[mask].float())
        target = labels[mask]
        correct = int((logits.argmax(-1) == target).sum())
        return F.cross_entropy(logits, target), (correct, int(mask.sum()))
