#!/usr/bin/env python3
"""Gathers the headline figures for model.json's "evaluation" (export_hf.py --evaluation) from
eval_lm.py, sample.py, eval_steering.py, eval_drums.py and bench_folder.py outputs and the
training run.

    python collect_eval.py --lm work/eval-test.json --lm-acc work/eval-test-acc.json \\
        --samples work/samples-metrics.json --bench work/bench.json --run work/gpt2 --out work/evaluation.json

With --base MODEL_JSON the evaluation starts as that model.json's, and each option given replaces
its own section (--drop removes one); --label names the new model in the sections that compare
models (the validation tunes' key follows, the drums):

    python collect_eval.py --base ../antiphon-small/model.json --label "v7 (built in)" \\
        --lm-acc work/v7-eval/lm-test-acc.json --answers work/v7-eval/new.json \\
        --validation work/v7-eval/val.json --drums work/v7-eval/drums.json --out work/v7-eval/evaluation.json
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


KEEP = ("loss", "loss_time", "loss_duration", "loss_note", "event_ppl", "note_event_ppl")


def lm_section(lm: dict) -> dict:
    """An eval_lm.py output as a test-lines section: the line count and each model's losses."""
    return {"lines": lm["num_lines"], "models": {m: {k: r[k] for k in KEEP} for m, r in lm["models"].items()}}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--base", type=Path, help="a model.json whose evaluation the options below update")
    ap.add_argument("--label", default="this model", help="the new model's name where sections compare models")
    ap.add_argument("--drop", action="append", default=[], help="a section of --base to leave out")
    ap.add_argument("--lm", type=Path, help="eval_lm.py on the autoregressive test lines (required without --base)")
    ap.add_argument("--lm-acc", type=Path)
    ap.add_argument("--lm-acc-mutopia", type=Path, help="eval_lm.py on the Mutopia accompaniment-task test lines")
    ap.add_argument("--lm-drums", type=Path, help="eval_lm.py on the Groove test lines")
    ap.add_argument("--validation", type=Path,
                    help="eval_steering.py on the validation tunes: key follows and tonic time under --label")
    ap.add_argument("--drums", type=Path, help="eval_drums.py's JSON: the answers' means under 'answers'")
    ap.add_argument("--samples", type=Path)
    ap.add_argument("--bench", type=Path)
    ap.add_argument("--run", type=Path, help="the training run's folder (required without --base)")
    ap.add_argument("--hardware", default="2-core shared CPU (AMD EPYC Zen 4), 1 PyTorch thread, bf16 autocast")
    ap.add_argument("--recipe", help="how the run was trained (phases, learning rates), in words")
    ap.add_argument("--answers", type=Path,
                    help="eval_steering.py's JSON: its summary (answers on held-out songs and tunes) is kept")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    if args.base is None and (args.lm is None or args.run is None):
        ap.error("--lm and --run are required without --base")
    ev = json.load(open(args.base))["evaluation"] if args.base else {
        "test_split": "sha256(piece id)[:8] % 100 < 5 (70 OpenScore pieces + 1 music21 piece)"}
    for section in args.drop:
        ev.pop(section, None)
    for section, path in (("test_lines_autoregressive", args.lm), ("test_lines_accompaniment_task", args.lm_acc),
                          ("test_lines_accompaniment_task_mutopia", args.lm_acc_mutopia),
                          ("test_lines_drums", args.lm_drums)):
        if path:  # models the base compared with stay, unless measured again
            old, new = ev.get(section, {}), lm_section(json.load(open(path)))
            ev[section] = {**old, **new, "models": {**old.get("models", {}), **new["models"]}}
    if args.run:
        rows = list(csv.DictReader(open(args.run / "train.csv")))
        run = json.load(open(args.run / "run.json"))
        ev["training"] = {"parameters": run["parameters"], "steps": int(rows[-1]["step"]),
                          "tokens": int(rows[-1]["tokens"]), "hours": float(rows[-1]["elapsed_s"]) / 3600,
                          "hardware": args.hardware}
    if args.recipe:
        ev.setdefault("training", {})["recipe"] = args.recipe
    if args.validation:
        v = json.load(open(args.validation))
        off = v["summary"]["tunes"]["off"]
        key = ev.setdefault("key_input", {})
        key.setdefault("key_follows_of_144", {})[args.label] = off["key_follows"]["hits"]
        key.setdefault("tonic_time", {})[args.label] = off["tonic_time"]["mean"]
    if args.drums:
        d = json.load(open(args.drums))
        ev["drums"] = {**ev.get("drums", {}), "seeds": d["seeds"], "bars": d["bars"], "answers": d["answers_mean"],
                       "groove_test_beats": d["groove_mean"]}
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
