#!/usr/bin/env python3
"""Decode speed of an exported model folder, measured the way bench_decode.py measures (one
intra-op thread, shared KV buffer bound through IOBinding as the Rust engine does, CPU time of
the calling thread: time other processes take from the core is not counted; the minimum over
rounds of each round's median).

    python bench_folder.py ../antiphon-small [--pasts 0,256,512,768,1000] [--json out.json]

Prints ms per token at each past length, their mean (a sliding AMT window spends its time
spread over the whole context) and the tokens per second that mean gives.
"""

import argparse
import json
import os
import sys

import numpy as np
import onnxruntime as ort

import ort_check
from bench_decode import bind, feeds_for, timed


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("folder")
    ap.add_argument("--pasts", default="0,256,512,768,1000")
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--json")
    args = ap.parse_args()
    card = json.load(open(os.path.join(args.folder, "model.json")))
    L, H, D, V = card["num_layers"], card["num_heads"], card["head_size"], card["vocab_size"]
    sess = ort_check.make_session(os.path.join(args.folder, "model.onnx"))
    bufs = [ort.OrtValue.ortvalue_from_numpy(np.zeros((1, H, card["context_length"], D), np.float32))
            for _ in range(2 * L)]
    rng = np.random.default_rng(0)
    melody_now = "melody_now" in card["inputs"]

    def feeds(past: int, n: int) -> dict:
        f = feeds_for(L, H, D, past, n, rng)
        if melody_now:  # the cost of the input itself; its values do not change the arithmetic
            f["melody_now"] = np.zeros((1, n, 36 if card.get("melody_key") else 12), np.float32)
        return f

    out = {"model": card["name"], "onnx_mb": os.path.getsize(os.path.join(args.folder, "model.onnx")) / 2**20,
           "ms_per_token": {}}
    for past in (int(p) for p in args.pasts.split(",")):
        io = bind(sess, feeds(past, 1), shared_bufs=bufs, vocab=V, out_len=1)
        wall, cpu = timed(lambda io=io: sess.run_with_iobinding(io), 200, args.rounds)
        out["ms_per_token"][past] = cpu
        print(f"past {past:5d}: {cpu:.3f} ms/token CPU ({wall:.3f} wall)", flush=True)
    mean = float(np.mean(list(out["ms_per_token"].values())))
    out["mean_ms_per_token"] = mean
    out["tokens_per_s"] = 1000.0 / mean
    f = feeds(0, 1023)
    out["prefill_1023_ms"] = timed(lambda: sess.run(None, f), 3, 3)[1]
    print(f"mean {mean:.3f} ms/token = {1000 / mean:.0f} tokens/s on one core; "
          f"prefill of 1023 tokens {out['prefill_1023_ms']:.0f} ms; model.onnx {out['onnx_mb']:.1f} MB")
    if args.json:
        json.dump(out, open(args.json, "w"), indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
