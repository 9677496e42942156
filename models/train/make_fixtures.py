"""Make the tiny random GPT-2 test fixtures the Rust tests run without PyTorch.

    python make_fixtures.py                       # both fixtures into ../../tests/fixtures/
    python make_fixtures.py --vocab vocab_beats.json --name tiny-beats   # one, e.g. when the beats vocab lands
    python make_fixtures.py --vocab vocab_beats.json --name tiny-melody --melody-now   # melody_now.py's input
    python make_fixtures.py --vocab vocab_beats.json --name tiny-key --melody-now --melody-key   # ... with the key

For each vocabulary it builds a GPT-2 with random (deliberately large, so not
degenerate) weights, exports it with export_hf.py's default recipe into
tests/fixtures/<name>/ (model.onnx + model.json), and writes expected.json: PyTorch
reference logits for a fixed token sequence, (a) a full forward pass over the
first 20 tokens, (b) 40 steps of KV-cache decoding after it, (c) a fresh prefill
of a slid 1020-token window and the first step after it. tests/fixtures/README.md
documents every field. The script then checks that ONNX Runtime reproduces
expected.json within 1e-4 and that ignoring scale_attn_by_inverse_layer_idx
would not. Everything is seeded: the same command gives the same files.

--melody-now: the model also reads melody_now.py's twelve features (random 12 x n_embd and
12 x vocab matrices, std 0.5, so they move the logits by several units) and the token sequence is a melody of control
triples with accompaniment events under it (ort_check.melody_line), so the features are on.
--melody-key: 24 more rows of each (the melody's key, melody_now.features(key=True)).
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import os
import sys
from types import SimpleNamespace

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import export_hf  # noqa: E402
import ort_check  # noqa: E402

FIXTURES = os.path.normpath(os.path.join(HERE, "..", "..", "tests", "fixtures"))
DEFAULTS = [("tiny-amt", "vocab_amt.json", ""), ("tiny-beats", "vocab_beats.json", ""),
            ("tiny-melody", "vocab_beats.json", "now"), ("tiny-key", "vocab_beats.json", "key")]
N_TRIPLES = 366          # 1 + 3 * 366 = 1099 tokens
N_PREFIX = 20            # (a)
N_DECODE = 40            # (b)
WINDOW = 1020            # (c)
TOP_K = 8
DECIMALS = 6             # logits are stored rounded to 1e-6, far inside the 1e-4 tolerance
ARCH = dict(n_embd=16, n_layer=2, n_head=2, n_positions=1024)


def token_sequence(v: dict, rng: np.random.Generator) -> list[int]:
    """A valid arrival-time sequence: AUTOREGRESS, then (time, duration, note) triples with non-decreasing times."""
    step = max(1, (3 * v["max_time"]) // (2 * N_TRIPLES))  # times end near 3/4 of max_time
    instruments = rng.choice(v["num_instruments"], size=3, replace=False)
    ids, t = [v["autoregress"]], 0
    for _ in range(N_TRIPLES):
        t = min(t + int(rng.integers(0, step + 1)), v["max_time"] - 1)
        d = int(rng.integers(0, min(v["max_duration"], 4 * step + 1)))
        note = int(rng.choice(instruments)) * v["max_pitch"] + int(rng.integers(36, 97))
        ids += [v["time_offset"] + t, v["duration_offset"] + d, v["note_offset"] + note]
    return ids


def random_model(vocab_size: int, seed: int, inverse_idx: bool = True):
    from transformers import GPT2Config, GPT2LMHeadModel
    cfg = GPT2Config(vocab_size=vocab_size, scale_attn_by_inverse_layer_idx=inverse_idx, bos_token_id=0,
                     eos_token_id=0, resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, **ARCH)
    cfg._attn_implementation = "eager"
    model = GPT2LMHeadModel(cfg).eval()
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if ".ln_" in name or name.startswith("transformer.ln_f"):
                std, mean = (0.2, 1.0) if name.endswith("weight") else (0.1, 0.0)
            elif name.endswith("bias"):
                std, mean = 0.1, 0.0
            elif "c_attn" in name or "wte" in name or "wpe" in name:
                std, mean = 0.5, 0.0  # sharp attention, position-dependent, well-spread logits
            else:
                std, mean = 0.3, 0.0
            p.copy_(torch.randn(p.shape, generator=gen) * std + mean)
    return model


def record(row: np.ndarray, probe_ids: list[int]) -> dict:
    """A compact, strong summary of one logits row."""
    row64 = row.astype(np.float64)
    top = np.argsort(-row64, kind="stable")[:TOP_K]
    m = row64.max()
    r = lambda x: round(float(x), DECIMALS)  # noqa: E731
    return {"top_ids": [int(i) for i in top], "top_values": [r(row64[i]) for i in top],
            "probe_values": [r(row64[i]) for i in probe_ids],
            "logsumexp": r(m + math.log(np.exp(row64 - m).sum())), "mean": r(row64.mean())}


def slide_window(ids: list[int]) -> tuple[list[int], int, int]:
    """Like the AMT sampler's window: the task flag, then the newest 1019 tokens before the last one
    (339 whole triples and the time and duration of the last), then the last token as the next step."""
    start = len(ids) - WINDOW
    return [ids[0]] + ids[start:-1], ids[-1], start


def reference(model, ids: list[int], probe_ids: list[int]) -> dict:
    seq = np.array(ids, np.int64)
    pre = ort_check.torch_logits(model, seq[:N_PREFIX + N_DECODE])
    window, next_id, start = slide_window(ids)
    win = ort_check.torch_logits(model, np.array(window + [next_id], np.int64))
    return {
        "prefix": {
            "length": N_PREFIX,
            "positions": [0, N_PREFIX // 2, N_PREFIX - 1],
            "rows": [record(pre[p], probe_ids) for p in (0, N_PREFIX // 2, N_PREFIX - 1)],
            "last_full": [round(float(x), DECIMALS) for x in pre[N_PREFIX - 1]],
        },
        "decode": {
            "start": N_PREFIX, "steps": N_DECODE,
            "rows": [record(pre[t], probe_ids) for t in range(N_PREFIX, N_PREFIX + N_DECODE)],
        },
        "slide": {
            "window_source": [0, start, len(ids) - 1], "window_ids": window, "next_id": next_id,
            "prefill_last": record(win[WINDOW - 1], probe_ids),
            "step": record(win[WINDOW], probe_ids),
        },
    }


def ort_rows(session, model, ids: list[int]) -> list[np.ndarray]:
    """The rows expected.json describes, computed by ONNX Runtime the way the engine would (with the cache)."""
    dec = ort_check.OrtDecoder.for_model(session, model)
    lg = dec.feed(ids[:N_PREFIX])
    rows = [lg[0], lg[N_PREFIX // 2], lg[N_PREFIX - 1]]
    rows += [dec.feed(ids[t:t + 1])[-1] for t in range(N_PREFIX, N_PREFIX + N_DECODE)]
    dec.reset()
    window, next_id, _ = slide_window(ids)
    rows.append(dec.feed(window)[-1])
    rows.append(dec.feed([next_id])[-1])
    return rows


def torch_rows(model, ids: list[int], exp: dict) -> list[np.ndarray]:
    """The rows expected.json describes (the order of ort_rows), from another PyTorch model: what an
    engine that ran that model instead would give."""
    pre = ort_check.torch_logits(model, np.array(ids[:N_PREFIX + N_DECODE]))
    win = ort_check.torch_logits(model, np.array(exp["slide"]["window_ids"] + [ids[-1]]))
    return [pre[t] for t in (0, N_PREFIX // 2, N_PREFIX - 1, *range(N_PREFIX, N_PREFIX + N_DECODE))] + list(win[-2:])


def check(exp: dict, rows: list[np.ndarray], probe_ids: list[int]) -> float:
    """Max abs difference between expected.json's records and the given logits rows (same order as ort_rows)."""
    recs = exp["prefix"]["rows"] + exp["decode"]["rows"] + [exp["slide"]["prefill_last"], exp["slide"]["step"]]
    err = ort_check.max_err(rows[2], np.array(exp["prefix"]["last_full"]))
    for rec, row in zip(recs, rows, strict=True):
        got = record(row, probe_ids)
        err = max(err, ort_check.max_err(np.array(got["top_values"]), np.array(rec["top_values"])),
                  ort_check.max_err(np.array(got["probe_values"]), np.array(rec["probe_values"])),
                  abs(got["logsumexp"] - rec["logsumexp"]), abs(got["mean"] - rec["mean"]))
        err = max(err, ort_check.max_err(row[rec["top_ids"]], np.array(rec["top_values"])))
    return err


def with_melody_now(model, vocab: dict, seed: int, key: bool):
    from melody_now import MelodyNowLM
    wrapped = MelodyNowLM(model, vocab, key).eval()
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        wrapped.melody_now.copy_(torch.randn(wrapped.melody_now.shape, generator=gen) * 0.5)
        wrapped.melody_logits.copy_(torch.randn(wrapped.melody_logits.shape, generator=gen) * 0.5)
    return wrapped


def make(name: str, vocab_path: str, seed: int, out_root: str, melody: str = ""):
    """melody: "" (a plain GPT-2), "now" (melody_now.py's twelve features) or "key" (and the key)."""
    melody_now, key = bool(melody), melody == "key"
    vocab = export_hf.load_vocab(vocab_path)
    V = vocab["vocab_size"]
    rng = np.random.default_rng(seed)
    ids = ort_check.melody_line(rng, vocab, 1 + 3 * N_TRIPLES).tolist() if melody_now else token_sequence(vocab, rng)
    assert all(0 <= i < V for i in ids)
    specials = [vocab[k] for k in ("time_offset", "duration_offset", "note_offset", "rest", "control_offset",
                                   "separator", "autoregress", "anticipate")]
    probe_ids = sorted(set(specials + [int(x) for x in np.linspace(0, V - 1, 24).round()]))

    model = random_model(V, seed)
    if melody_now:
        model = with_melody_now(model, vocab, seed, key)
    out = os.path.join(out_root, name)
    args = SimpleNamespace(vocab=vocab_path, attention="gqa", last_logits_only=False, int8_block=0, evaluation=None,
                           training_data="none: random weights (test fixture made by models/train/make_fixtures.py)",
                           licence="CC0-1.0")
    path = export_hf.export(model, vocab, out, name, args)

    exp = {"format_version": 1, "model": name, "seed": seed, "tolerance": 1e-4, "token_ids": ids,
           "probe_ids": probe_ids, "top_k": TOP_K}
    exp.update(reference(model, ids, probe_ids))

    # Self-checks: ORT reproduces the reference; a runtime that ignored the inverse-layer-idx scaling would not.
    session = ort_check.make_session(path)
    ort_err = check(exp, ort_rows(session, model, ids), probe_ids)
    no_scale = random_model(V, seed, inverse_idx=False)
    if melody_now:
        no_scale = with_melody_now(no_scale, vocab, seed, key)
    no_scale_err = check(exp, torch_rows(no_scale, ids, exp), probe_ids)
    verify = ort_check.verify(model, session, seed=seed, shared_buffer=True)
    if melody_now:  # an engine that did not feed the features would be off by this much
        deaf = copy.deepcopy(model)
        with torch.no_grad():
            deaf.melody_now.zero_()
            deaf.melody_logits.zero_()
        exp["self_check_melody_now_ignored"] = check(exp, torch_rows(deaf, ids, exp), probe_ids)
        print(f"  if the melody_now features were ignored: {exp['self_check_melody_now_ignored']:.2f}")
        if exp["self_check_melody_now_ignored"] < 1e-2:
            raise SystemExit(f"make_fixtures: {name}'s features do not move its logits")
    if key:  # ... and one that fed the twelve but not the key
        from melody_now import FEATURES
        no_key = copy.deepcopy(model)
        with torch.no_grad():
            no_key.melody_now[FEATURES:].zero_()
            no_key.melody_logits[FEATURES:].zero_()
        exp["self_check_melody_key_ignored"] = check(exp, torch_rows(no_key, ids, exp), probe_ids)
        print(f"  if the key columns were ignored: {exp['self_check_melody_key_ignored']:.2f}")
        if exp["self_check_melody_key_ignored"] < 1e-2:
            raise SystemExit(f"make_fixtures: {name}'s key columns do not move its logits")
    spread = float(np.std([r["logsumexp"] for r in exp["decode"]["rows"]]))
    exp["self_check"] = {"onnxruntime_max_abs_error": ort_err,
                         "max_abs_error_if_inverse_layer_idx_ignored": no_scale_err,
                         "logsumexp_std_over_decode_steps": round(spread, 4)}
    with open(os.path.join(out, "expected.json"), "w") as f:
        json.dump(exp, f, separators=(",", ":"))
        f.write("\n")
    size = {n: os.path.getsize(os.path.join(out, n)) for n in ("model.onnx", "model.json", "expected.json")}
    print(f"{name}: {', '.join(f'{n} {s / 1e6:.2f} MB' for n, s in size.items())}")
    print(f"  ORT vs expected.json {ort_err:.2e}; if inverse-layer-idx scaling were ignored: {no_scale_err:.2f}; "
          f"logsumexp std over decode steps {spread:.2f}")
    print("  verify: " + ", ".join(f"{k} {v:.1e}" for k, v in verify.items()))
    if ort_err > 1e-4 or max(verify.values()) > 1e-4 or no_scale_err < 1e-2 or size["expected.json"] > 1_000_000:
        raise SystemExit(f"make_fixtures: {name} failed its self-check")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--vocab", help="VocabSpec JSON (default: both built-in fixtures)")
    ap.add_argument("--name", help="fixture folder name (with --vocab)")
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--out", default=FIXTURES, help="fixtures root (default: tests/fixtures of this repository)")
    ap.add_argument("--melody-now", action="store_true", help="a model with melody_now.py's input (with --vocab)")
    ap.add_argument("--melody-key", action="store_true", help="with --melody-now: and the melody's key")
    a = ap.parse_args()
    if bool(a.vocab) != bool(a.name):
        ap.error("--vocab and --name go together")
    melody = "key" if a.melody_key else "now" if a.melody_now else ""
    jobs = [(a.name, a.vocab, melody)] if a.vocab else [(n, os.path.join(HERE, v), m) for n, v, m in DEFAULTS]
    torch.manual_seed(a.seed)
    for name, vocab, melody in jobs:
        make(name, vocab, a.seed, a.out, melody)


if __name__ == "__main__":
    main()
