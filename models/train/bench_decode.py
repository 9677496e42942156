"""Measure how fast exported GPT-2 graphs decode in ONNX Runtime, and why.

For random GPT-2 models of a given size this script exports several graph
recipes and times, with 1 intra-op thread, sequential execution and graph
optimisation level ALL (the plugin's settings):
  - single-token decode at past lengths 0, 256 and 1000,
  - a prefill of 1023 tokens,
in three ways: Python `session.run` with numpy (allocates every output), IOBinding
with pre-allocated outputs (what the Rust engine does), and ONNX Runtime's own
profiler (model_run time and the sum of kernel times). Recipes:
  torch-legacy   torch.onnx.export(dynamo=False) of the HF model
  torch-dynamo   torch.onnx.export(dynamo=True) of the HF model
  dynamo+ortopt  the dynamo graph passed through onnxruntime.transformers' optimizer (model_type gpt2)
  plain|mha|gqa  gpt2_onnx.py's hand-built graph with that attention kernel
  gqa-last       the gqa graph with --last-logits-only (logits [batch, 1, vocab])
  gqa-shared     the gqa graph run with one fixed-size KV buffer bound as both past and present
  gqa-int8       the gqa graph with int8 weights (--int8-block 32, MatMulNBits); -shared as above
Every recipe's logits are checked against PyTorch first (ort_check.verify).
Timings on a shared machine are noisy: each figure is the minimum over rounds of
the median of a round.

  python bench_decode.py --size 5m --out /tmp/bench            # one size, all recipes
  python bench_decode.py --n-embd 320 --n-layer 6 --n-head 5 --vocab 6000 --recipes gqa,plain
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import sys
import time
import warnings

import numpy as np
import onnx
import onnxruntime as ort
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gpt2_onnx  # noqa: E402
import ort_check  # noqa: E402

SIZES = {"5m": (256, 4, 4, 6000), "10m": (320, 6, 5, 6000), "tiny-amt": (16, 2, 2, 55028)}
ALL_RECIPES = ["torch-legacy", "torch-dynamo", "dynamo+ortopt", "plain", "mha", "gqa", "gqa-shared", "gqa-last",
               "gqa-int8", "gqa-int8-shared"]
PASTS = (0, 256, 1000)


def random_model(n_embd, n_layer, n_head, vocab, ctx=1024, seed=0):
    from transformers import GPT2Config, GPT2LMHeadModel
    torch.manual_seed(seed)
    cfg = GPT2Config(vocab_size=vocab, n_positions=ctx, n_embd=n_embd, n_layer=n_layer, n_head=n_head,
                     scale_attn_by_inverse_layer_idx=True, bos_token_id=0, eos_token_id=0)
    cfg._attn_implementation = "eager"
    return GPT2LMHeadModel(cfg).eval()


class _Wrap(torch.nn.Module):
    """Flat tensors in and out, so torch.onnx.export sees the optimum I/O."""

    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, input_ids, attention_mask, position_ids, *past):
        from transformers import DynamicCache
        cache = DynamicCache(config=self.m.config)
        for i in range(len(past) // 2):
            cache.update(past[2 * i], past[2 * i + 1], i)
        out = self.m(input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids,
                     past_key_values=cache, use_cache=True)
        flat = []
        for layer in out.past_key_values.layers:
            flat += [layer.keys, layer.values]
        return (out.logits, *flat)


def torch_export(model, path, dynamo):
    c = model.config
    L, H, D = c.n_layer, c.n_head, c.n_embd // c.n_head
    names_in, names_out = gpt2_onnx.io_names(L)
    P, S = 5, 3
    args = (torch.ones(1, S, dtype=torch.long), torch.ones(1, P + S, dtype=torch.long),
            torch.arange(P, P + S)[None]) + tuple(torch.randn(1, H, P, D) for _ in range(2 * L))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if dynamo:
            Dim = torch.export.Dim
            b, s, p, t = Dim("batch"), Dim("seq"), Dim("past_seq"), Dim("total_seq")
            ds = ({0: b, 1: s}, {0: b, 1: t}, {0: b, 1: s}, tuple({0: b, 2: p} for _ in range(2 * L)))
            torch.onnx.export(_Wrap(model).eval(), args, path, input_names=names_in, output_names=names_out,
                              opset_version=18, dynamo=True, dynamic_shapes=ds, external_data=False)
        else:
            da = {"input_ids": {0: "batch", 1: "seq"}, "attention_mask": {0: "batch", 1: "total_seq"},
                  "position_ids": {0: "batch", 1: "seq"}, "logits": {0: "batch", 1: "seq"}}
            da.update({n: {0: "batch", 2: "past_seq"} for n in names_in[3:]})
            da.update({n: {0: "batch", 2: "total_seq"} for n in names_out[1:]})
            torch.onnx.export(_Wrap(model).eval(), args, path, input_names=names_in, output_names=names_out,
                              opset_version=18, dynamo=False, dynamic_axes=da)


def ort_optimize(src, dst, model):
    from onnxruntime.transformers.optimizer import optimize_model
    c = model.config
    try:
        opt, note = optimize_model(src, model_type="gpt2", num_heads=c.n_head, hidden_size=c.n_embd, opt_level=0), ""
    except Exception as e:  # its gpt2 post-processing expects a biased LM-head Gemm
        opt = optimize_model(src, model_type="bert", num_heads=c.n_head, hidden_size=c.n_embd, opt_level=0)
        note = f"model_type gpt2 failed ({type(e).__name__}), used bert; "
    opt.save_model_to_file(dst)
    return note + json.dumps({k: v for k, v in opt.get_fused_operator_statistics().items() if v})


def feeds_for(L, H, D, past, seq, rng):
    f = {"input_ids": rng.integers(0, 100, (1, seq)).astype(np.int64),
         "attention_mask": np.ones((1, past + seq), np.int64),
         "position_ids": np.arange(past, past + seq, dtype=np.int64)[None]}
    for i in range(L):
        for kind in ("key", "value"):
            f[f"past_key_values.{i}.{kind}"] = rng.standard_normal((1, H, past, D)).astype(np.float32)
    return f


def timed(fn, n, rounds):
    """(wall ms, thread-CPU ms): the minimum over rounds of each round's median.

    With 1 intra-op thread ONNX Runtime computes on the calling thread, so its CPU time is
    the run time without the time other processes on this shared machine took the core."""
    for _ in range(min(n, 20)):
        fn()
    best_wall = best_cpu = float("inf")
    for _ in range(rounds):
        walls, cpus = [], []
        for _ in range(n):
            c, t = time.thread_time(), time.perf_counter()
            fn()
            walls.append(time.perf_counter() - t)
            cpus.append(time.thread_time() - c)
        best_wall, best_cpu = min(best_wall, float(np.median(walls))), min(best_cpu, float(np.median(cpus)))
    return best_wall * 1e3, best_cpu * 1e3


def bind(sess, feeds, shared_bufs=None, vocab=None, out_len=None):
    """IOBinding with every output pre-allocated (shared_bufs: past and present share one buffer)."""
    io = sess.io_binding()
    L = sum(1 for k in feeds if k.startswith("past_key_values.")) // 2
    for name in ("input_ids", "attention_mask", "position_ids", "melody_now"):
        if name in feeds:  # melody_now: only models that read it (melody_now.py)
            io.bind_cpu_input(name, feeds[name])
    io.bind_ortvalue_output("logits", ort.OrtValue.ortvalue_from_numpy(
        np.zeros((1, out_len, vocab), np.float32)))
    keep = []
    for i in range(L):
        for j, kind in enumerate(("key", "value")):
            if shared_bufs is not None:
                io.bind_ortvalue_input(f"past_key_values.{i}.{kind}", shared_bufs[2 * i + j])
                io.bind_ortvalue_output(f"present.{i}.{kind}", shared_bufs[2 * i + j])
            else:
                past = feeds[f"past_key_values.{i}.{kind}"]
                pv = ort.OrtValue.ortvalue_from_numpy(past)
                out = np.zeros(past.shape[:2] + (past.shape[2] + feeds["input_ids"].shape[1], past.shape[3]),
                               np.float32)
                ov = ort.OrtValue.ortvalue_from_numpy(out)
                keep += [pv, ov]
                io.bind_ortvalue_input(f"past_key_values.{i}.{kind}", pv)
                io.bind_ortvalue_output(f"present.{i}.{kind}", ov)
    io._keep = keep
    return io


def profile(path, feeds, n, prefix):
    s = ort_check.make_session(path, profile_prefix=prefix)
    for _ in range(n):
        s.run(None, feeds)
    f = s.end_profiling()
    ev = json.load(open(f))
    os.remove(f)
    runs = [e["dur"] for e in ev if e.get("name") == "model_run"][n // 5:]
    by_op = collections.defaultdict(float)
    for e in ev:
        if e.get("cat") == "Node" and e["name"].endswith("_kernel_time"):
            by_op[e["args"]["op_name"]] += e["dur"] / n
    return float(np.median(runs)) / 1e3, sum(by_op.values()) / 1e3, dict(by_op)


def bench_recipe(recipe, model, out_dir, rounds, log, do_profile=True):
    c = model.config
    L, H, D, V = c.n_layer, c.n_head, c.n_embd // c.n_head, c.vocab_size
    shared = recipe.endswith("-shared")
    int8 = 32 if "int8" in recipe else 0
    last_only = recipe == "gqa-last"
    base = "gqa" if recipe.startswith("gqa") else recipe
    path = os.path.join(out_dir, f"{recipe.removesuffix('-shared')}.onnx")
    notes = ""
    if not os.path.exists(path):
        if base in ("plain", "mha", "gqa"):
            w = {k: v.detach().numpy() for k, v in model.state_dict().items()}
            onnx.save(gpt2_onnx.build_model(gpt2_onnx.config_from_hf(c), w, attention=base,
                                            last_logits_only=last_only, int8_block=int8), path)
        elif recipe == "dynamo+ortopt":
            src = os.path.join(out_dir, "torch-dynamo.onnx")
            if not os.path.exists(src):
                torch_export(model, src, True)
            notes = "fused: " + ort_optimize(src, path, model)
        else:
            torch_export(model, path, recipe == "torch-dynamo")
    sess = ort_check.make_session(path)
    errs = ort_check.verify(model, sess, n_full=64, n_prefill=32, n_decode=8)
    row = {"recipe": recipe, "size_mb": os.path.getsize(path) / 2**20, "max_err": max(errs.values()),
           "nodes": len(onnx.load(path, load_external_data=False).graph.node), "notes": notes}
    rng = np.random.default_rng(0)
    for P in PASTS:
        f = feeds_for(L, H, D, P, 1, rng)
        if shared:
            bufs = [ort.OrtValue.ortvalue_from_numpy(np.zeros((1, H, c.n_positions, D), np.float32))
                    for _ in range(2 * L)]
            io = bind(sess, f, shared_bufs=bufs, vocab=V, out_len=1)
            row[f"run_{P}"] = row[f"runcpu_{P}"] = float("nan")
        else:
            row[f"run_{P}"], row[f"runcpu_{P}"] = timed(lambda f=f: sess.run(None, f), 200, rounds)
            io = bind(sess, f, vocab=V, out_len=1)
        row[f"bind_{P}"], row[f"bindcpu_{P}"] = timed(lambda io=io: sess.run_with_iobinding(io), 200, rounds)
        if not shared and do_profile:
            row[f"prof_run_{P}"], row[f"kernel_{P}"], row[f"ops_{P}"] = profile(
                path, f, 200, os.path.join(out_dir, "prof"))
    f = feeds_for(L, H, D, 0, 1023, rng)
    row["prefill_1023"], row["prefillcpu_1023"] = timed(lambda: sess.run(None, f), 3, rounds)
    log(json.dumps({k: v for k, v in row.items() if not k.startswith("ops_")}))
    return row


def sweep(sizes, vocab, rounds, pasts=(0, 512, 1000)):
    """Decode ms/token of the exporter's graph (gqa, shared KV buffer, IOBinding; CPU time of the
    calling thread) for several model sizes, float32 and int8, interleaved round by round so that
    load from other processes hits every configuration alike. Returns rows of results."""
    configs = []
    for spec in sizes:
        E, L, H = (int(x) for x in spec.split("x"))
        model = random_model(E, L, H, vocab)
        w = {k: v.detach().numpy() for k, v in model.state_dict().items()}
        params = sum(p.numel() for p in model.parameters())
        for int8 in (0, 32):
            proto = gpt2_onnx.build_model(gpt2_onnx.config_from_hf(model.config), w, int8_block=int8)
            blob = proto.SerializeToString()
            sess = ort_check.make_session(blob)
            bufs = [ort.OrtValue.ortvalue_from_numpy(np.zeros((1, H, 1024, E // H), np.float32))
                    for _ in range(2 * L)]
            rng = np.random.default_rng(0)
            for P in pasts:
                io = bind(sess, feeds_for(L, H, E // H, P, 1, rng), shared_bufs=bufs, vocab=vocab, out_len=1)
                configs.append({"size": spec, "params_m": params / 1e6, "mb": len(blob) / 2**20,
                                "weights": "int8" if int8 else "fp32", "past": P, "io": io, "sess": sess,
                                "best": float("inf")})
    for _ in range(rounds):
        for c in configs:
            c["best"] = min(c["best"], timed(lambda c=c: c["sess"].run_with_iobinding(c["io"]), 100, 1)[1])
    return [{k: v for k, v in c.items() if k not in ("io", "sess")} for c in configs]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", choices=sorted(SIZES), help="a preset model size")
    ap.add_argument("--n-embd", type=int)
    ap.add_argument("--n-layer", type=int)
    ap.add_argument("--n-head", type=int)
    ap.add_argument("--vocab", type=int)
    ap.add_argument("--recipes", default=",".join(ALL_RECIPES))
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--no-profile", action="store_true", help="skip the ORT profiler runs")
    ap.add_argument("--out", required=True, help="scratch folder for the exported graphs and results.json")
    ap.add_argument("--sweep", help="comma-separated EMBDxLAYERSxHEADS sizes (with --vocab): decode ms/token of "
                                    "the default graph, float32 and int8, interleaved")
    a = ap.parse_args()
    if a.sweep:
        rows = sweep(a.sweep.split(","), a.vocab or 6000, a.rounds)
        os.makedirs(a.out, exist_ok=True)
        with open(os.path.join(a.out, "sweep.json"), "w") as f:
            json.dump(rows, f, indent=1)
        pasts = sorted({r["past"] for r in rows})
        print("| n_embd x layers x heads | params | weights | model.onnx MB | "
              + " | ".join(f"ms/token @ past {p}" for p in pasts) + " |")
        print("| --- " * (4 + len(pasts)) + "|")
        for i in range(0, len(rows), len(pasts)):
            r = rows[i:i + len(pasts)]
            print(f"| {r[0]['size']} | {r[0]['params_m']:.1f} M | {r[0]['weights']} | {r[0]['mb']:.1f} | "
                  + " | ".join(f"{x['best']:.3f}" for x in r) + " |")
        return
    if a.size:
        E, L, H, V = SIZES[a.size]
    elif None in (a.n_embd, a.n_layer, a.n_head, a.vocab):
        ap.error("give --size or all of --n-embd --n-layer --n-head --vocab")
    else:
        E, L, H, V = a.n_embd, a.n_layer, a.n_head, a.vocab
    recipes = a.recipes.split(",")
    bad = [r for r in recipes if r not in ALL_RECIPES]
    if bad:
        ap.error(f"unknown recipe(s) {bad}; choose from {ALL_RECIPES}")
    out = os.path.join(a.out, f"e{E}_l{L}_h{H}_v{V}")
    os.makedirs(out, exist_ok=True)
    model = random_model(E, L, H, V)
    params = sum(p.numel() for p in model.parameters())
    print(f"model n_embd {E} layers {L} heads {H} vocab {V}: {params / 1e6:.2f} M parameters; ORT {ort.__version__}")
    rows = []
    with open(os.path.join(out, "results.jsonl"), "a") as logf:
        def log(s):
            print(s, flush=True)
            logf.write(s + "\n")
        for r in recipes:
            try:
                rows.append(bench_recipe(r, model, out, a.rounds, log, not a.no_profile))
            except Exception as e:  # report and go on with the other recipes
                log(json.dumps({"recipe": r, "error": f"{type(e).__name__}: {str(e)[:300]}"}))
    print("\nms per call, past 0/256/1000; wall = wall clock, cpu = CPU time of the calling thread")
    print("| recipe | nodes | MB | max err | decode, py run (wall) | py run (cpu) | IOBinding (wall) | "
          "IOBinding (cpu) | profiler model_run | profiler kernel sum | prefill 1023 (wall / cpu) |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        trip = lambda k, r=r: "/".join(f"{r.get(f'{k}_{p}', float('nan')):.3f}" for p in PASTS)  # noqa: E731
        print(f"| {r['recipe']} | {r['nodes']} | {r['size_mb']:.1f} | {r['max_err']:.1e} | {trip('run')} | "
              f"{trip('runcpu')} | {trip('bind')} | {trip('bindcpu')} | {trip('prof_run')} | {trip('kernel')} | "
              f"{r['prefill_1023']:.0f} / {r['prefillcpu_1023']:.0f} |")
    print("\nshare of profiled kernel time by operator, past 0 | past 1000:")
    for r in rows:
        if "ops_0" in r:
            share = lambda d: ", ".join(f"{k} {100 * v / sum(d.values()):.0f}%"  # noqa: E731
                                        for k, v in sorted(d.items(), key=lambda x: -x[1])[:5])
            print(f"  {r['recipe']}: {share(r['ops_0'])} | {share(r['ops_1000'])}")


if __name__ == "__main__":
    main()
