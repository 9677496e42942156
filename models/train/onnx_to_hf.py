#!/usr/bin/env python3
"""Read an exported model folder (model.onnx + model.json, made by export_hf.py) back into a
Hugging Face GPT2LMHeadModel folder, e.g. to go on training a model whose PyTorch checkpoint
is gone:

    python onnx_to_hf.py ../antiphon-small --out work/antiphon-small-hf --check work/tok/valid.bin

The exported graph (gpt2_onnx.py, README.md "The exported graph") keeps every weight of the
checkpoint as an initializer, under its own names:

    wte, wpe                      transformer.wte / wpe (the LM head is wte itself: tied)
    ln1_{i}_g/_b                  transformer.h.{i}.ln_1    (ln1_0 a LayerNormalization, the
                                  others the gamma/beta of a SkipLayerNormalization)
    qkv_{i}_w/_b                  transformer.h.{i}.attn.c_attn, with the query columns (the
                                  first n_embd) divided by (i+1) if scale_attn_by_inverse_layer_idx
    aproj_{i}_w/_b                transformer.h.{i}.attn.c_proj
    ln2_{i}_g/_b                  transformer.h.{i}.ln_2
    fc_{i}_w/_b, mproj_{i}_w/_b   transformer.h.{i}.mlp.c_fc / c_proj
    ln_f_g/_b                     transformer.ln_f

Weights of Gemm nodes are [in, out], the layout of transformers' Conv1D, so they are copied as
they are; only the query scaling is undone (multiplied back by i+1). Only float32 graphs
(not --int8-block) can be read back.

--check LINES.bin runs the first --check-lines lines of an `antiphon tokenize` corpus through
both the new PyTorch model and ONNX Runtime (prefill, past length 0) and prints the largest
absolute logit difference; exit 1 if it exceeds --tolerance.
"""

import argparse
import json
import sys
from pathlib import Path

import numpy as np


def read_initializers(model) -> dict:
    from onnx import numpy_helper
    return {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}


def node_attr(model, op_type: str, name: str):
    from onnx import helper
    for n in model.graph.node:
        if n.op_type == op_type:
            for a in n.attribute:
                if a.name == name:
                    return helper.get_attribute_value(a)
    return None


def convert(folder: Path):
    """Returns (GPT2LMHeadModel in eval mode, model.json dict)."""
    import onnx
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    meta = json.load(open(folder / "model.json", encoding="utf-8"))
    model = onnx.load(str(folder / "model.onnx"))
    w = read_initializers(model)
    if any(k.endswith("_q") for k in w):
        raise SystemExit("this graph has int8 weights (--int8-block); only float32 graphs can be read back")
    if "lm_head" in w:
        raise SystemExit("this graph has an untied LM head; train.py's models tie it to wte")
    L, E = meta["num_layers"], meta["hidden_size"]
    vocab, n_pos = w["wte"].shape[0], w["wpe"].shape[0]
    assert w["wte"].shape[1] == E and vocab == meta["vocab_size"], (w["wte"].shape, E, meta["vocab_size"])
    approx = node_attr(model, "Gelu", "approximate")
    approx = approx.decode() if isinstance(approx, bytes) else approx
    eps = node_attr(model, "LayerNormalization", "epsilon")
    gqa_scale = node_attr(model, "GroupQueryAttention", "scale") or node_attr(model, "MultiHeadAttention", "scale")
    if gqa_scale is None:
        raise SystemExit("no GroupQueryAttention/MultiHeadAttention node: read back --attention gqa|mha graphs only")
    head = E // meta["num_heads"]
    if abs(gqa_scale - head ** -0.5) > 1e-6:
        raise SystemExit(f"attention scale {gqa_scale} is not 1/sqrt({head}); scale_attn_weights=false is not handled")
    config = GPT2Config(
        vocab_size=vocab, n_positions=n_pos, n_embd=E, n_layer=L, n_head=meta["num_heads"],
        n_inner=w["fc_0_w"].shape[1], activation_function="gelu_new" if approx == "tanh" else "gelu",
        layer_norm_epsilon=float(eps), resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0,
        scale_attn_weights=True, scale_attn_by_inverse_layer_idx=bool(meta["scale_attn_by_inverse_layer_idx"]),
        bos_token_id=None, eos_token_id=None, tie_word_embeddings=True,
    )
    sd = {"transformer.wte.weight": w["wte"], "transformer.wpe.weight": w["wpe"],
          "transformer.ln_f.weight": w["ln_f_g"], "transformer.ln_f.bias": w["ln_f_b"]}
    for i in range(L):
        p = f"transformer.h.{i}."
        qkv_w, qkv_b = w[f"qkv_{i}_w"].astype(np.float32).copy(), w[f"qkv_{i}_b"].astype(np.float32).copy()
        if config.scale_attn_by_inverse_layer_idx:  # the exporter folded 1/(i+1) into the query columns
            qkv_w[:, :E] *= i + 1
            qkv_b[:E] *= i + 1
        sd.update({
            p + "ln_1.weight": w[f"ln1_{i}_g"], p + "ln_1.bias": w[f"ln1_{i}_b"],
            p + "attn.c_attn.weight": qkv_w, p + "attn.c_attn.bias": qkv_b,
            p + "attn.c_proj.weight": w[f"aproj_{i}_w"], p + "attn.c_proj.bias": w[f"aproj_{i}_b"],
            p + "ln_2.weight": w[f"ln2_{i}_g"], p + "ln_2.bias": w[f"ln2_{i}_b"],
            p + "mlp.c_fc.weight": w[f"fc_{i}_w"], p + "mlp.c_fc.bias": w[f"fc_{i}_b"],
            p + "mlp.c_proj.weight": w[f"mproj_{i}_w"], p + "mlp.c_proj.bias": w[f"mproj_{i}_b"],
        })
    hf = GPT2LMHeadModel(config)
    target = hf.state_dict()
    for k, v in sd.items():
        if tuple(target[k].shape) != v.shape:
            raise SystemExit(f"{k}: graph has {v.shape}, the model wants {tuple(target[k].shape)}")
    missing, unexpected = hf.load_state_dict({k: torch.from_numpy(np.array(v, np.float32)) for k, v in sd.items()},
                                             strict=False)
    missing = [k for k in missing if k != "lm_head.weight" and not k.endswith(".attn.bias")
               and not k.endswith(".attn.masked_bias")]
    if missing or unexpected:
        raise SystemExit(f"state dict mismatch: missing {missing}, unexpected {unexpected}")
    hf.tie_weights()
    assert hf.lm_head.weight.data_ptr() == hf.transformer.wte.weight.data_ptr()
    return hf.eval(), meta


def check(hf, folder: Path, lines_path: Path, n_lines: int, meta: dict) -> float:
    import onnxruntime as ort
    import torch
    index = json.load(open(lines_path.with_suffix(".json"), encoding="utf-8"))
    lines = np.memmap(lines_path, dtype=index["dtype"], mode="r").reshape(-1, index["line_tokens"])
    pick = np.linspace(0, lines.shape[0] - 1, n_lines).astype(int)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    sess = ort.InferenceSession(str(folder / "model.onnx"), opts, providers=["CPUExecutionProvider"])
    H, D = meta["num_heads"], meta["head_size"]
    worst = 0.0
    for i in pick:
        ids = lines[i:i + 1, :meta["context_length"]].astype(np.int64)
        S = ids.shape[1]
        feed = {"input_ids": ids, "attention_mask": np.ones((1, S), np.int64),
                "position_ids": np.arange(S, dtype=np.int64)[None]}
        for k in range(meta["num_layers"]):
            feed[f"past_key_values.{k}.key"] = np.zeros((1, H, 0, D), np.float32)
            feed[f"past_key_values.{k}.value"] = np.zeros((1, H, 0, D), np.float32)
        ort_logits = sess.run(["logits"], feed)[0]
        with torch.no_grad():
            pt_logits = hf(input_ids=torch.from_numpy(ids)).logits.numpy()
        diff = float(np.abs(ort_logits - pt_logits).max())
        worst = max(worst, diff)
        print(f"line {i}: {S} tokens, max |logit difference| {diff:.3e} (logits up to {np.abs(pt_logits).max():.1f})")
    return worst


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("folder", type=Path, help="model folder with model.onnx and model.json")
    ap.add_argument("--out", type=Path, required=True, help="Hugging Face folder to write")
    ap.add_argument("--check", type=Path, default=None, help="token lines (.bin) to compare logits on")
    ap.add_argument("--check-lines", type=int, default=4)
    ap.add_argument("--tolerance", type=float, default=1e-4)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    import torch
    torch.set_num_threads(args.threads)
    hf, meta = convert(args.folder)
    n = sum(p.numel() for p in hf.parameters())
    hf.save_pretrained(args.out)
    print(f"wrote {args.out}: {n:,} parameters, {meta['num_layers']} layers, n_embd {meta['hidden_size']}")
    if args.check:
        worst = check(hf, args.folder, args.check, args.check_lines, meta)
        print(f"max |logit difference| PyTorch vs ONNX Runtime over {args.check_lines} lines: {worst:.3e} "
              f"(tolerance {args.tolerance:g})")
        if worst > args.tolerance:
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
