"""Check the committed test fixtures with ONNX Runtime alone (no PyTorch needed).

    python check_fixtures.py [FIXTURES_DIR]      # default: tests/fixtures of this repository

For every folder with model.onnx, model.json and expected.json it replays what
expected.json describes (tests/fixtures/README.md) the way the Rust engine does:
a prefill, KV-cache decoding, a fresh prefill of a slid window, once with new
present tensors per call and once with one fixed KV buffer per tensor bound as both
past and present. It compares with the tie-robust rule of the README and exits 1
on any difference above the tolerance. It doubles as a reference for the Rust test.
"""

from __future__ import annotations

import json
import math
import os
import sys

import numpy as np
import onnxruntime as ort

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from melody_features import features  # noqa: E402  (numpy only)

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.normpath(os.path.join(HERE, "..", "..", "tests", "fixtures"))


class Decoder:
    def __init__(self, path: str, card: dict, shared: bool):
        so = ort.SessionOptions()
        so.intra_op_num_threads = 1
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.s = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
        self.L, self.H, self.D = card["num_layers"], card["num_heads"], card["head_size"]
        # A model with the melody input: its numbers come from every id fed since the reset.
        self.melody = (card["vocab"], card.get("melody_key", False)) if "melody_now" in card["inputs"] else None
        names = [i.name for i in self.s.get_inputs()]
        if names != card["inputs"] or [o.name for o in self.s.get_outputs()] != card["outputs"]:
            raise SystemExit(f"{path}: graph I/O names differ from model.json")
        self.shared = shared
        if shared:
            self.bufs = [ort.OrtValue.ortvalue_from_numpy(
                np.zeros((1, self.H, card["context_length"], self.D), np.float32)) for _ in range(2 * self.L)]
        self.reset()

    def reset(self):
        self.past = [np.zeros((1, self.H, 0, self.D), np.float32)] * (2 * self.L)
        self.n = 0
        self.ids = np.zeros((1, 0), np.int64)

    def feed(self, ids) -> np.ndarray:
        ids = np.asarray(ids, np.int64).reshape(1, -1)
        k = ids.shape[1]
        feeds = {"input_ids": ids, "attention_mask": np.ones((1, self.n + k), np.int64),
                 "position_ids": np.arange(self.n, self.n + k, dtype=np.int64)[None]}
        self.n += k
        if self.melody is not None:
            self.ids = np.concatenate([self.ids, ids], axis=1)
            feeds["melody_now"] = features(self.ids, *self.melody)[:, -k:]
        if self.shared:
            io = self.s.io_binding()
            for name, value in feeds.items():
                io.bind_cpu_input(name, value)
            io.bind_output("logits")
            for i, buf in enumerate(self.bufs):
                kind = "key" if i % 2 == 0 else "value"
                io.bind_ortvalue_input(f"past_key_values.{i // 2}.{kind}", buf)
                io.bind_ortvalue_output(f"present.{i // 2}.{kind}", buf)
            self.s.run_with_iobinding(io)
            return io.get_outputs()[0].numpy()[0]
        for i in range(2 * self.L):
            feeds[f"past_key_values.{i // 2}.{'key' if i % 2 == 0 else 'value'}"] = self.past[i]
        out = self.s.run(None, feeds)
        self.past = out[1:]
        return out[0][0]


def compare(row: np.ndarray, rec: dict, probe_ids: list[int], tol: float) -> float:
    """Max deviation of one logits row from a logits record; inf if the top set is wrong."""
    row = row.astype(np.float64)
    top = np.array(rec["top_ids"])
    err = float(np.max(np.abs(row[top] - rec["top_values"])))
    others = np.delete(row, top)
    if others.max() > rec["top_values"][-1] + tol:
        return math.inf
    err = max(err, float(np.max(np.abs(row[probe_ids] - rec["probe_values"]))))
    m = row.max()
    err = max(err, abs(m + math.log(np.exp(row - m).sum()) - rec["logsumexp"]), abs(row.mean() - rec["mean"]))
    return err


def check_folder(folder: str) -> float:
    card = json.load(open(os.path.join(folder, "model.json")))
    exp = json.load(open(os.path.join(folder, "expected.json")))
    ids, probes, tol = exp["token_ids"], exp["probe_ids"], exp["tolerance"]
    worst = 0.0
    for shared in (False, True):
        d = Decoder(os.path.join(folder, "model.onnx"), card, shared)
        n = exp["prefix"]["length"]
        lg = d.feed(ids[:n])
        worst = max(worst, float(np.max(np.abs(lg[n - 1] - np.array(exp["prefix"]["last_full"])))))
        for pos, rec in zip(exp["prefix"]["positions"], exp["prefix"]["rows"], strict=True):
            worst = max(worst, compare(lg[pos], rec, probes, tol))
        start = exp["decode"]["start"]
        for k, rec in enumerate(exp["decode"]["rows"]):
            worst = max(worst, compare(d.feed([ids[start + k]])[-1], rec, probes, tol))
        d.reset()
        worst = max(worst, compare(d.feed(exp["slide"]["window_ids"])[-1], exp["slide"]["prefill_last"], probes, tol))
        worst = max(worst, compare(d.feed([exp["slide"]["next_id"]])[-1], exp["slide"]["step"], probes, tol))
    return worst


def main() -> int:
    root = sys.argv[1] if len(sys.argv) > 1 else FIXTURES
    folders = sorted(f for f in (os.path.join(root, n) for n in os.listdir(root))
                     if os.path.exists(os.path.join(f, "expected.json")))
    if not folders:
        print(f"check_fixtures: no fixture folders under {root}", file=sys.stderr)
        return 1
    failed = 0
    for f in folders:
        err = check_folder(f)
        ok = err <= json.load(open(os.path.join(f, "expected.json")))["tolerance"]
        failed += not ok
        print(f"{os.path.basename(f)}: max abs deviation {err:.2e} {'ok' if ok else 'FAILED'}")
    print(f"{len(folders) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
