"""Build an ONNX graph of a GPT-2 decoder (with KV cache) directly from its weights.

Why build the graph by hand instead of calling torch.onnx.export: the exported
graphs of Hugging Face GPT-2 carry masking subgraphs, dynamic-shape plumbing and
an unfused attention that cost far more than the arithmetic of a small model
(see README.md, "Decode speed"). Writing the graph ourselves gives a small,
fixed set of nodes per layer, lets ONNX Runtime's fused attention kernel do the
work, and keeps the I/O exactly in the Hugging Face / optimum naming that the
Rust engine expects:

  inputs   input_ids               int64   [batch, seq]
           attention_mask          int64   [batch, past_seq + seq]
           position_ids            int64   [batch, seq]
           melody_now              float32 [batch, seq, 12]   (only models trained with it:
                                           melody_now.py; projected and added to the embedding
                                           and to the logits; [batch, seq, 36] with the
                                           melody's key, --melody-key)
           past_key_values.{i}.key   float32 [batch, n_head, past_seq, head_dim]
           past_key_values.{i}.value float32 [batch, n_head, past_seq, head_dim]
  outputs  logits                  float32 [batch, seq, vocab]   ([batch, 1, vocab]
                                           with last_logits_only)
           present.{i}.key         float32 [batch, n_head, past_seq + seq, head_dim]
           present.{i}.value       float32 [batch, n_head, past_seq + seq, head_dim]

`scale_attn_by_inverse_layer_idx` (AMT checkpoints): block i divides its attention
scores by (i + 1). Scores are linear in the query, so the factor is folded into
the query columns of c_attn (weight and bias). That is exact up to float rounding
and cannot be lost by any later fusion. The cached keys and values are unchanged,
so `present.*` equal the Hugging Face cache.

Attention kernels (`attention=`):
  "gqa"    com.microsoft.GroupQueryAttention, packed QKV, causal (the default:
           fastest on CPU). It reads only the mask's length and row sums, so
           padding works as right padding only; the engine runs batch 1 with an
           all-ones mask. The same graph also runs with one fixed-size cache
           buffer bound as both past_key_values.{i}.* and present.{i}.* (the
           kernel then appends in place; see README.md).
  "mha"    com.microsoft.MultiHeadAttention, unidirectional, key_padding_mask.
  "plain"  standard ONNX ops only (MatMul, Softmax, an additive mask built from
           attention_mask): runs anywhere, slower.

float16 (`fp16=True`, export_hf.py `--device cuda`): every weight and every activation
between the inputs and the outputs is float16, for the CUDA execution provider, whose
GroupQueryAttention kernel exists for float16 and bfloat16 only (ONNX Runtime's
OperatorKernels.md; its MultiHeadAttention has float32 kernels, but it appends to a cache
of exactly the past tokens, which the engine's one fixed-size cache buffer is not). The
graph's inputs and outputs stay float32, as the engine binds them: each layer casts its
past key/value to float16 before the attention and its present back to float32 after, and
the logits are cast once at the end. Every node of the result has a float16 CUDA kernel
(Gather, Add, Reshape, Gemm, LayerNormalization, Cast; com.microsoft SkipLayerNormalization,
FastGelu or Gelu, GroupQueryAttention, FusedMatMul; besides them only the int32/int64 shape
arithmetic of the mask, which ONNX Runtime keeps on the CPU on purpose). `CUDA_FLOAT16_OPS`
lists them, and `cuda_unsupported_nodes` checks a graph against that list. ONNX Runtime's CPU provider runs the same graph
(where it has no float16 kernel it inserts casts to float32), which is how the exporter
checks it against PyTorch on a machine without a GPU.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 21
IR_VERSION = 10
MS_DOMAIN = "com.microsoft"
ATTENTION_KINDS = ("gqa", "mha", "plain")
TANH_GELUS = ("gelu_new", "gelu_pytorch_tanh", "gelu_fast")
# (domain, op type) of the nodes a float16 graph may compute floats with: each has a float16
# kernel in ONNX Runtime's CUDA execution provider (docs/OperatorKernels.md of onnxruntime).
CUDA_FLOAT16_OPS = {("", "Gather"), ("", "Add"), ("", "Reshape"), ("", "Gemm"), ("", "LayerNormalization"),
                    ("", "Cast"), (MS_DOMAIN, "SkipLayerNormalization"), (MS_DOMAIN, "FastGelu"),
                    (MS_DOMAIN, "Gelu"), (MS_DOMAIN, "GroupQueryAttention"), (MS_DOMAIN, "FusedMatMul")}
# Integer shape arithmetic (mask lengths, shapes): ONNX Runtime places it on the CPU by design.
SHAPE_OPS = {("", "Shape"), ("", "Concat"), ("", "ReduceSum"), ("", "Sub"), ("", "Gather"), ("", "Cast")}


@dataclass
class Gpt2Config:
    vocab_size: int
    n_positions: int
    n_embd: int
    n_layer: int
    n_head: int
    n_inner: int
    layer_norm_epsilon: float
    activation_function: str
    scale_attn_weights: bool
    scale_attn_by_inverse_layer_idx: bool

    @property
    def head_dim(self) -> int:
        return self.n_embd // self.n_head


def config_from_hf(hf_config) -> Gpt2Config:
    """Read and check the fields of a transformers GPT2Config that the graph needs."""
    if getattr(hf_config, "model_type", "gpt2") != "gpt2":
        raise ValueError(f"model_type is {hf_config.model_type!r}; only 'gpt2' checkpoints are supported")
    if getattr(hf_config, "add_cross_attention", False):
        raise ValueError("checkpoints with cross-attention (add_cross_attention=true) are not supported")
    act = hf_config.activation_function
    if act not in TANH_GELUS and act != "gelu":
        raise ValueError(f"activation_function {act!r} is not supported (use gelu_new, gelu_pytorch_tanh or gelu)")
    if hf_config.n_embd % hf_config.n_head:
        raise ValueError(f"n_embd {hf_config.n_embd} is not divisible by n_head {hf_config.n_head}")
    return Gpt2Config(
        vocab_size=hf_config.vocab_size,
        n_positions=hf_config.n_positions,
        n_embd=hf_config.n_embd,
        n_layer=hf_config.n_layer,
        n_head=hf_config.n_head,
        n_inner=hf_config.n_inner or 4 * hf_config.n_embd,
        layer_norm_epsilon=float(hf_config.layer_norm_epsilon),
        activation_function=act,
        scale_attn_weights=bool(hf_config.scale_attn_weights),
        scale_attn_by_inverse_layer_idx=bool(hf_config.scale_attn_by_inverse_layer_idx),
    )


def io_names(n_layer: int, melody_now: bool = False) -> tuple[list[str], list[str]]:
    inputs = ["input_ids", "attention_mask", "position_ids"] + (["melody_now"] if melody_now else [])
    outputs = ["logits"]
    for i in range(n_layer):
        inputs += [f"past_key_values.{i}.key", f"past_key_values.{i}.value"]
        outputs += [f"present.{i}.key", f"present.{i}.value"]
    return inputs, outputs


class _Graph:
    """A tiny helper that names nodes and collects initializers."""

    def __init__(self):
        self.nodes, self.inits, self._n = [], [], 0

    def const(self, name, array):
        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def linear(self, x, weight, bias, name, quant_block=0):
        """x @ weight + bias for weight [K, N]: a Gemm, or with quant_block > 0 an int8 MatMulNBits
        (blocks of quant_block input rows share one scale; symmetric, zero point 128)."""
        if not quant_block:
            ins = [x, self.const(name + "_w", weight)] + ([self.const(name + "_b", bias)] if bias is not None else [])
            return self.op("Gemm", ins, name=name)
        K, N = weight.shape
        nb = -(-K // quant_block)
        wt = np.zeros((N, nb * quant_block), np.float32)
        wt[:, :K] = weight.T
        blocks = wt.reshape(N, nb, quant_block)
        scale = np.abs(blocks).max(axis=2) / 127.0
        scale[scale == 0] = 1.0
        q = (np.clip(np.rint(blocks / scale[:, :, None]), -127, 127) + 128).astype(np.uint8)
        ins = [x, self.const(name + "_q", q), self.const(name + "_s", scale.reshape(-1).astype(np.float32)), "", ""]
        ins += [self.const(name + "_b", bias)] if bias is not None else []
        return self.op("MatMulNBits", ins, domain=MS_DOMAIN, name=name, K=K, N=N, bits=8,
                       block_size=quant_block, accuracy_level=4)

    def op(self, op_type, inputs, n_out=1, domain="", name=None, **attrs):
        self._n += 1
        base = name or f"{op_type}_{self._n}"
        outs = [base] if n_out == 1 else [f"{base}_{k}" for k in range(n_out)]
        self.nodes.append(helper.make_node(op_type, inputs, outs, name=base, domain=domain, **attrs))
        return outs[0] if n_out == 1 else outs


def build_model(cfg: Gpt2Config, w: dict[str, np.ndarray], attention: str = "gqa",
                last_logits_only: bool = False, int8_block: int = 0, fp16: bool = False,
                melody_now: np.ndarray | None = None, melody_logits: np.ndarray | None = None) -> onnx.ModelProto:
    """w holds the Hugging Face GPT2LMHeadModel state dict as float32 numpy arrays.

    melody_now: the [12, n_embd] projection of a melody_now.py model; the graph then has the
    `melody_now` input, whose rows are projected and added to the token and position embeddings;
    melody_logits (its [12, vocab] matrix, with melody_now only) adds their projection to the logits.

    int8_block > 0 stores every projection and the LM head as int8 blocks of that many weights
    (com.microsoft.MatMulNBits): 4x less weight traffic per token, but logits are no longer
    within 1e-4 of PyTorch. Experimental; the default (0) is exact float32."""
    if attention not in ATTENTION_KINDS:
        raise ValueError(f"attention must be one of {ATTENTION_KINDS}, not {attention!r}")
    E, H, D, L = cfg.n_embd, cfg.n_head, cfg.head_dim, cfg.n_layer
    eps = cfg.layer_norm_epsilon
    base_scale = 1.0 / math.sqrt(D) if cfg.scale_attn_weights else 1.0
    g = _Graph()
    wdt = np.float16 if fp16 else np.float32  # the weights' and activations' type
    f32 = lambda a: np.asarray(a, dtype=wdt)  # noqa: E731

    # Shapes computed once per run: ids_shape = [B, S]; total = T = past + S.
    ids_shape = g.op("Shape", ["input_ids"], name="ids_shape")
    shape_bs3e = g.op("Concat", [ids_shape, g.const("c_3E", np.array([3 * E], np.int64))], axis=0, name="shape_bs3e")
    shape_bse = g.op("Concat", [ids_shape, g.const("c_E", np.array([E], np.int64))], axis=0, name="shape_bse")
    flat_e = g.const("c_flat_E", np.array([-1, E], np.int64))

    # Embeddings, kept as a 2-D [B*S, E] activation so every projection is one Gemm.
    wte = g.const("wte", f32(w["transformer.wte.weight"]))
    tok = g.op("Gather", [wte, "input_ids"], axis=0, name="tok_emb")
    pos = g.op("Gather", [g.const("wpe", f32(w["transformer.wpe.weight"])), "position_ids"], axis=0, name="pos_emb")
    x = g.op("Reshape", [g.op("Add", [tok, pos], name="emb"), flat_e], name="emb_2d")
    if melody_now is not None:
        feats = "melody_now"
        if fp16:
            feats = g.op("Cast", [feats], to=TensorProto.FLOAT16, name="melody_now16")
        feats = g.op("Reshape", [feats, g.const("c_flat_12", np.array([-1, melody_now.shape[0]], np.int64))],
                     name="melody_now_2d")
        x = g.op("Add", [x, g.linear(feats, f32(melody_now), None, "melody_now_proj")], name="emb_melody")
        if melody_logits is not None:
            if last_logits_only:
                raise ValueError("melody_logits needs the logits of every position (no last_logits_only)")
            shape_bsv = g.op("Concat", [ids_shape, g.const("c_V", np.array([cfg.vocab_size], np.int64))], axis=0,
                             name="shape_bsv")
            logit_bias = g.op("Reshape", [g.linear(feats, f32(melody_logits), None, "melody_logits_proj"),
                                          shape_bsv], name="melody_logits_3d")

    # Per-kernel auxiliary inputs, built once and shared by all layers.
    if attention == "gqa":
        mask32 = g.op("Cast", ["attention_mask"], to=TensorProto.INT32, name="mask_i32")
        valid = g.op("ReduceSum", [mask32, g.const("c_axis1", np.array([1], np.int64))], keepdims=0, name="valid_len")
        seqlens_k = g.op("Sub", [valid, g.const("c_one_i32", np.array(1, np.int32))], name="seqlens_k")
        mask_shape = g.op("Shape", ["attention_mask"], name="mask_shape")
        total = g.op("Gather", [mask_shape, g.const("c_idx1", np.array(1, np.int64))], axis=0, name="total_len")
        total_len = g.op("Cast", [total], to=TensorProto.INT32, name="total_len_i32")
    elif attention == "mha":
        key_pad = g.op("Cast", ["attention_mask"], to=TensorProto.INT32, name="key_padding_mask")
    else:
        mask_bias = _additive_mask(g, ids_shape)
        shape_bs3hd = g.op("Concat", [ids_shape, g.const("c_3HD", np.array([3, H, D], np.int64))], axis=0,
                           name="shape_bs3hd")

    fused_ln = attention != "plain"  # SkipLayerNormalization folds each residual Add into the next LayerNorm
    h = _layer_norm(g, x, w, "transformer.h.0.ln_1", eps, "ln1_0", wdt)
    for i in range(L):
        p = f"transformer.h.{i}."
        q_scale = 1.0 / (i + 1) if cfg.scale_attn_by_inverse_layer_idx else 1.0
        if attention == "plain":
            q_scale *= base_scale  # the plain graph has no scale of its own
        w_attn = np.array(w[p + "attn.c_attn.weight"], dtype=np.float32)  # scaled in float32, then stored
        b_attn = np.array(w[p + "attn.c_attn.bias"], dtype=np.float32)
        w_attn[:, :E] *= q_scale
        b_attn[:E] *= q_scale
        w_attn, b_attn = f32(w_attn), f32(b_attn)

        qkv = g.linear(h, w_attn, b_attn, f"qkv_{i}", int8_block)
        pk, pv = f"past_key_values.{i}.key", f"past_key_values.{i}.value"
        prk, prv = f"present.{i}.key", f"present.{i}.value"
        if attention == "gqa":
            qkv3 = g.op("Reshape", [qkv, shape_bs3e], name=f"qkv3_{i}")
            kin, vin, kout, vout = pk, pv, prk, prv
            if fp16:  # the cache crosses the graph's boundary as float32
                kin = g.op("Cast", [pk], to=TensorProto.FLOAT16, name=f"past_k16_{i}")
                vin = g.op("Cast", [pv], to=TensorProto.FLOAT16, name=f"past_v16_{i}")
                kout, vout = f"present_k16_{i}", f"present_v16_{i}"
            g.nodes.append(helper.make_node(
                "GroupQueryAttention", [qkv3, "", "", kin, vin, seqlens_k, total_len],
                [f"attn_{i}", kout, vout], name=f"gqa_{i}", domain=MS_DOMAIN,
                num_heads=H, kv_num_heads=H, scale=base_scale))
            if fp16:
                g.nodes.append(helper.make_node("Cast", [kout], [prk], to=TensorProto.FLOAT, name=f"present_k32_{i}"))
                g.nodes.append(helper.make_node("Cast", [vout], [prv], to=TensorProto.FLOAT, name=f"present_v32_{i}"))
            ctx = f"attn_{i}"
        elif attention == "mha":
            q, k, v = g.op("Split", [g.op("Reshape", [qkv, shape_bs3e], name=f"qkv3_{i}"),
                                     g.const(f"c_split_{i}", np.array([E, E, E], np.int64))],
                           n_out=3, axis=2, name=f"split_{i}")
            g.nodes.append(helper.make_node(
                "MultiHeadAttention", [q, k, v, "", key_pad, "", pk, pv],
                [f"attn_{i}", prk, prv], name=f"mha_{i}", domain=MS_DOMAIN,
                num_heads=H, unidirectional=1, scale=base_scale))
            ctx = f"attn_{i}"
        else:
            ctx = _plain_attention(g, qkv, pk, pv, prk, prv, shape_bs3hd, mask_bias, i)
        ctx2 = g.op("Reshape", [ctx, flat_e], name=f"ctx2d_{i}")
        a = g.linear(ctx2, f32(w[p + "attn.c_proj.weight"]), f32(w[p + "attn.c_proj.bias"]), f"aproj_{i}", int8_block)
        h, x = _residual_norm(g, x, a, w, p + "ln_2", eps, f"ln2_{i}", fused_ln, wdt)
        m = g.linear(h, f32(w[p + "mlp.c_fc.weight"]), f32(w[p + "mlp.c_fc.bias"]), f"fc_{i}", int8_block)
        if fp16:  # the contrib GELUs, whose float16 CUDA kernels OperatorKernels.md lists
            m = g.op("FastGelu" if cfg.activation_function in TANH_GELUS else "Gelu", [m], domain=MS_DOMAIN,
                     name=f"gelu_{i}")
        else:
            m = g.op("Gelu", [m], approximate="tanh" if cfg.activation_function in TANH_GELUS else "none",
                     name=f"gelu_{i}")
        m = g.linear(m, f32(w[p + "mlp.c_proj.weight"]), f32(w[p + "mlp.c_proj.bias"]), f"mproj_{i}", int8_block)
        nxt = f"transformer.h.{i + 1}.ln_1" if i + 1 < L else "transformer.ln_f"
        h, x = _residual_norm(g, x, m, w, nxt, eps, f"ln1_{i + 1}" if i + 1 < L else "ln_f", fused_ln, wdt)

    # The LM head writes the graph output directly: a Reshape after it would copy every logit.
    x = g.op("Reshape", [h, shape_bse], name="final_3d")  # ln_f output as [B, S, E]
    if last_logits_only:
        starts, ends = g.const("c_m1", np.array([-1], np.int64)), g.const("c_big", np.array([2**62], np.int64))
        x = g.op("Slice", [x, starts, ends, g.const("c_ax1s", np.array([1], np.int64))], name="final_last")
    biased = melody_now is not None and melody_logits is not None
    out_name = "logits_lm" if biased else "logits"  # with the melody's bias added, "logits" is the sum
    tied = "lm_head.weight" not in w or np.array_equal(w["lm_head.weight"], w["transformer.wte.weight"])
    if int8_block:
        table = w["transformer.wte.weight"] if tied else w["lm_head.weight"]
        g.linear(x, f32(table).T, None, out_name, int8_block)
    else:  # LM head = wte transposed, read from the embedding table itself (no second copy in the file)
        head = wte if tied else g.const("lm_head", f32(w["lm_head.weight"]))
        if attention == "plain":  # standard ops; ONNX Runtime folds the Transpose when it loads the model
            g.op("MatMul", [x, g.op("Transpose", [head], perm=[1, 0], name="head_t")], name=out_name)
        elif fp16:  # logits leave the graph as float32
            lm16 = g.op("FusedMatMul", [x, head], domain=MS_DOMAIN, transB=1, name="logits16")
            if biased:
                lm16 = g.op("Add", [lm16, logit_bias], name="logits16_melody")
            g.op("Cast", [lm16], to=TensorProto.FLOAT, name="logits")
            biased = False
        else:
            g.op("FusedMatMul", [x, head], domain=MS_DOMAIN, transB=1, name=out_name)
    if biased:
        g.op("Add", [out_name, logit_bias], name="logits")

    return _finish(g, cfg, last_logits_only, 0 if melody_now is None else melody_now.shape[0])


def cuda_unsupported_nodes(model: onnx.ModelProto) -> list[str]:
    """Names of the nodes of a float16 graph that are in neither CUDA_FLOAT16_OPS nor SHAPE_OPS:
    nodes the CUDA execution provider would have to leave to the CPU. Empty for export_hf.py's
    `--device cuda` graphs."""
    return [f"{n.name} ({n.domain or 'ai.onnx'}.{n.op_type})" for n in model.graph.node
            if (n.domain, n.op_type) not in CUDA_FLOAT16_OPS | SHAPE_OPS]


def _layer_norm(g, x, w, prefix, eps, name, dtype=np.float32):
    return g.op("LayerNormalization", [x, g.const(name + "_g", np.asarray(w[prefix + ".weight"], dtype)),
                                       g.const(name + "_b", np.asarray(w[prefix + ".bias"], dtype))],
                axis=-1, epsilon=eps, name=name)


def _residual_norm(g, x, delta, w, prefix, eps, name, fused, dtype=np.float32):
    """Returns (LayerNorm(x + delta), x + delta)."""
    gamma = g.const(name + "_g", np.asarray(w[prefix + ".weight"], dtype))
    beta = g.const(name + "_b", np.asarray(w[prefix + ".bias"], dtype))
    if not fused:
        x = g.op("Add", [x, delta], name=name + "_res")
        return g.op("LayerNormalization", [x, gamma, beta], axis=-1, epsilon=eps, name=name), x
    g.nodes.append(helper.make_node("SkipLayerNormalization", [delta, x, gamma, beta],
                                    [name, "", "", name + "_res"], name=name, domain=MS_DOMAIN, epsilon=eps))
    return name, name + "_res"


def _additive_mask(g, ids_shape):
    """[B, 1, S, T] float: 0 where query s (absolute position past+s) may see key t, else -inf-ish."""
    T = g.op("Gather", [g.op("Shape", ["attention_mask"], name="m_shape"), g.const("c_i1", np.array(1, np.int64))],
             axis=0, name="m_T")
    S = g.op("Gather", [ids_shape, g.const("c_i1b", np.array(1, np.int64))], axis=0, name="m_S")
    P = g.op("Sub", [T, S], name="m_P")
    one = g.const("c_one64", np.array(1, np.int64))
    q_pos = g.op("Unsqueeze", [g.op("Range", [P, T, one], name="m_qpos"), g.const("c_ax1", np.array([1], np.int64))],
                 name="m_qpos2")
    k_pos = g.op("Unsqueeze", [g.op("Range", [g.const("c_zero64", np.array(0, np.int64)), T, one], name="m_kpos"),
                               g.const("c_ax0", np.array([0], np.int64))], name="m_kpos2")
    causal = g.op("LessOrEqual", [k_pos, q_pos], name="m_causal")  # [S, T]
    pad = g.op("Cast", [g.op("Unsqueeze", ["attention_mask", g.const("c_ax12", np.array([1, 2], np.int64))],
                             name="m_pad4")], to=TensorProto.BOOL, name="m_padb")  # [B, 1, 1, T]
    allowed = g.op("And", [causal, pad], name="m_allowed")  # [B, 1, S, T]
    return g.op("Where", [allowed, g.const("c_f0", np.array(0.0, np.float32)),
                          g.const("c_fneg", np.array(np.finfo(np.float32).min, np.float32))], name="mask_bias")


def _plain_attention(g, qkv, pk, pv, prk, prv, shape_bs3hd, mask_bias, i):
    qkv5 = g.op("Reshape", [qkv, shape_bs3hd], name=f"qkv5_{i}")  # [B, S, 3, H, D]
    qkv_t = g.op("Transpose", [qkv5], perm=[2, 0, 3, 1, 4], name=f"qkv_t_{i}")  # [3, B, H, S, D]
    q, k, v = g.op("Split", [qkv_t], n_out=3, axis=0, num_outputs=3, name=f"qkv_split_{i}")
    sq = g.const(f"c_ax0_{i}", np.array([0], np.int64))
    q, k, v = (g.op("Squeeze", [t, sq], name=f"{n}_{i}") for t, n in ((q, "q"), (k, "k"), (v, "v")))
    g.nodes.append(helper.make_node("Concat", [pk, k], [prk], axis=2, name=f"cat_k_{i}"))
    g.nodes.append(helper.make_node("Concat", [pv, v], [prv], axis=2, name=f"cat_v_{i}"))
    kt = g.op("Transpose", [prk], perm=[0, 1, 3, 2], name=f"kt_{i}")
    scores = g.op("Add", [g.op("MatMul", [q, kt], name=f"qk_{i}"), mask_bias], name=f"scores_{i}")
    probs = g.op("Softmax", [scores], axis=-1, name=f"probs_{i}")
    ctx = g.op("MatMul", [probs, prv], name=f"ctx_{i}")  # [B, H, S, D]
    return g.op("Transpose", [ctx], perm=[0, 2, 1, 3], name=f"ctx_t_{i}")  # [B, S, H, D]


def _finish(g, cfg, last_logits_only, melody_width=0):
    B, S, P, T = "batch", "seq", "past_seq", "total_seq"
    H, D = cfg.n_head, cfg.head_dim
    inputs = [
        helper.make_tensor_value_info("input_ids", TensorProto.INT64, [B, S]),
        helper.make_tensor_value_info("attention_mask", TensorProto.INT64, [B, T]),
        helper.make_tensor_value_info("position_ids", TensorProto.INT64, [B, S]),
    ] + ([helper.make_tensor_value_info("melody_now", TensorProto.FLOAT, [B, S, melody_width])]
         if melody_width else [])
    outputs = [helper.make_tensor_value_info("logits", TensorProto.FLOAT,
                                             [B, 1 if last_logits_only else S, cfg.vocab_size])]
    for i in range(cfg.n_layer):
        for kind in ("key", "value"):
            inputs.append(helper.make_tensor_value_info(f"past_key_values.{i}.{kind}", TensorProto.FLOAT, [B, H, P, D]))
            outputs.append(helper.make_tensor_value_info(f"present.{i}.{kind}", TensorProto.FLOAT, [B, H, T, D]))
    graph = helper.make_graph(g.nodes, "gpt2_kv_decoder", inputs, outputs, g.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET), helper.make_opsetid(MS_DOMAIN, 1)],
                              producer_name="antiphon export_hf.py")
    model.ir_version = IR_VERSION
    return model
