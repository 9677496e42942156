#!/usr/bin/env python3
"""Gathers the headline figures for model.json's "evaluation" (export_hf.py --evaluation) from
eval_lm.py, sample.py and bench_folder.py outputs and the training run.

    python collect_eval.py --lm work/eval-test.json --lm-acc work/eval-test-acc.json \\
        --samples work/samples-metrics.json --bench work/bench.json --run work/gpt2 --out work/evaluation.json
"""

import argparse
import csv
import json
import sys
from pathlib import Path


def round_all(x, nd=4):
    if isinstance(x, float):
        return round(x, nd)
    if isinstance(x, dict):
        return {k: round_all(v, nd) for k, v in x.items()}
    if isinstance(x, list):
        return [round_all(v, nd) for v in x]
    return x


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lm", type=Path, required=True)
    ap.add_argument("--lm-acc", type=Path)
    ap.add_argument("--samples", type=Path)
    ap.add_argument("--bench", type=Path)
    ap.add_argument("--run", type=Path, required=True)
    ap.add_argument("--hardware", default="2-core shared CPU (AMD EPYC Zen 4), 1 PyTorch thread, bf16 autocast")
    ap.add_argument("--recipe", help="how the run was trained (phases, learning rates), in words")
    ap.add_argument("--answers", type=Path,
                    help="eval_steering.py's JSON: its summary (answers on held-out songs and tunes) is kept")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    keep = ("loss", "loss_time", "loss_duration", "loss_note", "event_ppl", "note_event_ppl")
    lm = json.load(open(args.lm))
    ev = {"test_split": "sha256(piece id)[:8] % 100 < 5 (70 OpenScore pieces + 1 music21 piece)",
          "test_lines_autoregressive": {"lines": lm["num_lines"],
                                        "models": {m: {k: r[k] for k in keep} for m, r in lm["models"].items()}}}
    if args.lm_acc:
        acc = json.load(open(args.lm_acc))
        ev["test_lines_accompaniment_task"] = {
            "lines": acc["num_lines"], "models": {m: {k: r[k] for k in keep} for m, r in acc["models"].items()}}
    rows = list(csv.DictReader(open(args.run / "train.csv")))
    run = json.load(open(args.run / "run.json"))
    ev["training"] = {"parameters": run["parameters"], "steps": int(rows[-1]["step"]),
                      "tokens": int(rows[-1]["tokens"]), "hours": float(rows[-1]["elapsed_s"]) / 3600,
                      "hardware": args.hardware}
    if args.recipe:
        ev["training"]["recipe"] = args.recipe
    if args.answers:
        a = json.load(open(args.answers))
        ev["answers"] = {"seeds": a["settings"]["seeds"], "sets": a["settings"]["sets"], "summary": a["summary"]}
    if args.samples:
        s = json.load(open(args.samples))
        ev["samples"] = {"engine": s["settings"]["engine"], "top_p": s["settings"]["top_p"],
                         "temperature": s["settings"]["temperature"],
                         **{task: {"pieces": v["pieces"], "model_vs_real": v["model_vs_real"],
                                   "random_vs_real": v["random_vs_real"],
                                   "model_nearer_on_every_metric": v["model_nearer_on_every_metric"]}
                            for task, v in s["summary"].items()}}
    if args.bench:
        b = json.load(open(args.bench))
        ev["decode"] = {"tokens_per_s_one_core": b["tokens_per_s"], "mean_ms_per_token": b["mean_ms_per_token"],
                        "ms_per_token_by_past": b["ms_per_token"], "prefill_1023_ms": b["prefill_1023_ms"]}
    json.dump(round_all(ev), open(args.out, "w"), indent=1)
    print(json.dumps(round_all(ev), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
