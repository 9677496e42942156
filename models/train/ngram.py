#!/usr/bin/env python3
"""The n-gram baseline: an interpolated Kneser-Ney trigram over token ids, counted on the
training lines (the same tokens the transformer sees) and scored on held-out lines.

    python ngram.py --train work/tok/train.bin --eval work/tok/test.bin --out work/ngram-test.json

Context never crosses a line: the task flag (token 0 of a line) is the first context token,
with a start symbol before it. Discounts per order are n1 / (n1 + 2 n2) (count-of-counts on
the training trigrams, bigram continuation counts). The lowest order is the continuation
unigram with add-one smoothing over the whole vocabulary, so every id has a probability and
the distribution sums to one. Pure numpy; about a minute and 3 GB for 100 M tokens.
"""

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from train import load_lines


def group_sum(keys_sorted: np.ndarray, values: np.ndarray):
    """Unique keys of a sorted array, with the sum of values and the count per key."""
    starts = np.flatnonzero(np.r_[True, keys_sorted[1:] != keys_sorted[:-1]])
    return keys_sorted[starts], np.add.reduceat(values, starts), np.diff(np.r_[starts, len(keys_sorted)])


def lookup(table_keys: np.ndarray, table_vals: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """table_vals at keys, 0 where absent (table_keys sorted)."""
    i = np.searchsorted(table_keys, keys)
    i = np.minimum(i, len(table_keys) - 1)
    hit = table_keys[i] == keys
    return np.where(hit, table_vals[i], 0)


def discount(counts: np.ndarray) -> float:
    n1 = np.count_nonzero(counts == 1)
    n2 = np.count_nonzero(counts == 2)
    return n1 / (n1 + 2 * n2) if n1 + n2 else 0.5


class KneserNeyTrigram:
    def __init__(self, lines: np.ndarray, vocab_size: int, chunk: int = 4096):
        V = vocab_size
        self.V = V
        self.B = B = V + 1  # id V is the start symbol
        keys = []
        for i in range(0, lines.shape[0], chunk):
            x = lines[i:i + chunk].astype(np.int64)
            u = np.concatenate([np.full((x.shape[0], 1), V), x[:, :-2]], axis=1)
            v = x[:, :-1]
            w = x[:, 1:]
            k = (u * B + v) * B + w
            keys.append(np.unique(k, return_counts=True))
        # merge chunk counts
        allk = np.concatenate([k for k, _ in keys])
        allc = np.concatenate([c for _, c in keys])
        order = np.argsort(allk, kind="stable")
        self.k3, self.c3, _ = group_sum(allk[order], allc[order])
        del allk, allc, order, keys
        self.D3 = discount(self.c3)
        # context uv: total count and number of distinct followers
        uv = self.k3 // B
        self.kuv, self.cuv, self.nuv = group_sum(uv, self.c3)
        # continuation counts for bigrams vw: distinct u before (v, w)
        vw = self.k3 % (B * B)
        o = np.argsort(vw, kind="stable")
        self.kvw, self.nvw, _ = group_sum(vw[o], np.ones(len(vw), dtype=np.int64))
        self.D2 = discount(self.nvw)
        v_of = self.kvw // B
        self.kv, self.nv_dot, self.nv_types = group_sum(v_of, self.nvw)
        # continuation unigram: distinct v before w (over bigram types)
        w_of = self.kvw % B
        o = np.argsort(w_of, kind="stable")
        self.kw, self.nw, _ = group_sum(w_of[o], np.ones(len(w_of), dtype=np.int64))
        self.n_bigram_types = len(self.kvw)

    def logprob(self, u: np.ndarray, v: np.ndarray, w: np.ndarray) -> np.ndarray:
        B, V = self.B, self.V
        p1 = (lookup(self.kw, self.nw, w) + 1.0) / (self.n_bigram_types + V)
        n_vw = lookup(self.kvw, self.nvw, v * B + w).astype(np.float64)
        n_v = lookup(self.kv, self.nv_dot, v).astype(np.float64)
        t_v = lookup(self.kv, self.nv_types, v).astype(np.float64)
        safe = np.maximum(n_v, 1)
        p2 = np.where(n_v > 0, np.maximum(n_vw - self.D2, 0) / safe + self.D2 * t_v / safe * p1, p1)
        c_uvw = lookup(self.k3, self.c3, (u * B + v) * B + w).astype(np.float64)
        c_uv = lookup(self.kuv, self.cuv, u * B + v).astype(np.float64)
        t_uv = lookup(self.kuv, self.nuv, u * B + v).astype(np.float64)
        safe = np.maximum(c_uv, 1)
        p3 = np.where(c_uv > 0, np.maximum(c_uvw - self.D3, 0) / safe + self.D3 * t_uv / safe * p2, p2)
        return np.log(p3)

    def line_nll(self, lines: np.ndarray) -> np.ndarray:
        """NLL of tokens 1..end of each line, [n, line_tokens - 1]."""
        x = lines.astype(np.int64)
        u = np.concatenate([np.full((x.shape[0], 1), self.V), x[:, :-2]], axis=1)
        return -self.logprob(u, x[:, :-1], x[:, 1:])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--train", type=Path, required=True)
    ap.add_argument("--eval", type=Path, nargs="+", required=True)
    ap.add_argument("--out", type=Path, required=True, help="JSON: the per-token NLL arrays go beside it (.npy)")
    args = ap.parse_args()
    train, index = load_lines(args.train)
    model = KneserNeyTrigram(train, index["vocab"]["vocab_size"])
    print(f"trigram types {len(model.k3):,}, D3 {model.D3:.3f}, D2 {model.D2:.3f}", flush=True)
    results = {}
    for path in args.eval:
        lines, _ = load_lines(path)
        nll = model.line_nll(lines)
        np.save(args.out.with_name(args.out.stem + f"-{path.stem}-nll.npy"), nll.astype(np.float32))
        results[path.stem] = float(nll.mean())
        print(path.stem, "mean token NLL", results[path.stem], flush=True)
    json.dump({"trigram_types": int(len(model.k3)), "D3": model.D3, "D2": model.D2, "mean_nll": results},
              open(args.out, "w"), indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
