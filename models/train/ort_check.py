"""Run an exported model folder with ONNX Runtime the way the Rust engine does, and
check its logits against the PyTorch (Hugging Face) model it came from.

Used by export_hf.py (verification after export) and make_fixtures.py. The three
checks mirror how the engine drives a model: (a) one full forward pass without a
cache, (b) a prefill then token-by-token decoding with the KV cache, (c) a window
slide: once the context is full, drop the oldest tokens, rebuild the cache by a
fresh prefill of the kept window (positions restart at 0) and decode on.
"""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import torch


def make_session(model_path, threads: int = 1, profile_prefix: str | None = None) -> ort.InferenceSession:
    """A CPU session (from a path or serialized bytes) with the plugin's settings: 1 intra-op thread,
    sequential, all optimisations."""
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    if profile_prefix:
        so.enable_profiling = True
        so.profile_file_prefix = profile_prefix
    return ort.InferenceSession(model_path, so, providers=["CPUExecutionProvider"])


class OrtDecoder:
    """Keeps the KV cache between calls; feeds the I/O names of DESIGN.md §5.

    shared_buffer=False: past_key_values.* hold exactly the cached tokens and every call returns new,
    longer present.* tensors (the optimum convention).
    shared_buffer=True (gqa graphs only): one [1, n_head, context, head_dim] buffer per tensor is bound,
    through IOBinding, as both past_key_values.{i}.* and present.{i}.*; the attention_mask length
    (cached + new tokens) tells the kernel how much of it is valid. No copy of the cache per token.
    """

    def __init__(self, session: ort.InferenceSession, n_layer: int, n_head: int, head_dim: int,
                 shared_buffer: bool = False, context: int = 1024, melody_vocab: dict | None = None,
                 melody_key: bool = False):
        self.s, self.L, self.H, self.D = session, n_layer, n_head, head_dim
        self.shared = shared_buffer
        # A melody_now.py model: its features are computed from every id fed since the reset.
        self.melody_vocab, self.melody_key = melody_vocab, melody_key
        if shared_buffer:
            self.bufs = [ort.OrtValue.ortvalue_from_numpy(np.zeros((1, n_head, context, head_dim), np.float32))
                         for _ in range(2 * n_layer)]
        self.reset()

    @classmethod
    def for_model(cls, session: ort.InferenceSession, model, shared_buffer: bool = False) -> "OrtDecoder":
        """A decoder shaped like `model` (a GPT2LMHeadModel, or a melody_now.py model, whose
        melody input it then computes, with the key when the model reads it)."""
        cfg = model.config
        return cls(session, cfg.n_layer, cfg.n_head, cfg.n_embd // cfg.n_head, shared_buffer, cfg.n_positions,
                   getattr(model, "vocab", None), bool(getattr(model, "key", False)))

    def reset(self):
        empty = np.zeros((1, self.H, 0, self.D), np.float32)
        self.past = [empty] * (2 * self.L)
        self.past_len = 0
        self.ids = np.zeros((1, 0), np.int64)

    def feed(self, ids) -> np.ndarray:
        """Append ids to the cached sequence; returns logits [len(ids) or 1, vocab]."""
        ids = np.asarray(ids, np.int64).reshape(1, -1)
        n = ids.shape[1]
        feeds = {
            "input_ids": ids,
            "attention_mask": np.ones((1, self.past_len + n), np.int64),
            "position_ids": np.arange(self.past_len, self.past_len + n, dtype=np.int64).reshape(1, -1),
        }
        if self.melody_vocab is not None:
            from melody_now import features
            self.ids = np.concatenate([self.ids, ids], axis=1)
            feeds["melody_now"] = features(self.ids, self.melody_vocab, self.melody_key)[:, -n:]
        if self.shared:
            io = self.s.io_binding()
            for name, value in feeds.items():
                io.bind_cpu_input(name, value)
            io.bind_output("logits")
            for i in range(self.L):
                for j, kind in enumerate(("key", "value")):
                    io.bind_ortvalue_input(f"past_key_values.{i}.{kind}", self.bufs[2 * i + j])
                    io.bind_ortvalue_output(f"present.{i}.{kind}", self.bufs[2 * i + j])
            self.s.run_with_iobinding(io)
            self.past = [b.numpy()[:, :, :self.past_len + n] for b in self.bufs]
            self.past_len += n
            return io.get_outputs()[0].numpy()[0]
        for i in range(self.L):
            feeds[f"past_key_values.{i}.key"] = self.past[2 * i]
            feeds[f"past_key_values.{i}.value"] = self.past[2 * i + 1]
        out = self.s.run(None, feeds)
        self.past = out[1:]
        self.past_len += n
        return out[0][0]


@torch.no_grad()
def torch_logits(model, ids) -> np.ndarray:
    """Hugging Face reference: one full forward pass, positions from 0; logits [len, vocab]."""
    t = torch.as_tensor(np.asarray(ids, np.int64)).reshape(1, -1)
    return model(input_ids=t, use_cache=False).logits[0].float().numpy()


def max_err(a, b) -> float:
    """Max abs difference; a graph exported with last-logits-only returns one row, compared with b's last."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.ndim == 2 and a.shape[0] == 1 and b.ndim == 2:
        b = b[-1:]
    if a.shape != b.shape:
        raise ValueError(f"logits shape {a.shape} does not match the reference {b.shape}")
    return float(np.max(np.abs(a - b)))


def verify(model, session, seed: int = 0, n_full: int = 200, n_prefill: int = 100, n_decode: int = 50,
           slide_steps: int = 4, shared_buffer: bool = False, only_shared: bool = False) -> dict[str, float]:
    """Max abs logit error of ONNX vs PyTorch for checks (a), (b), (c); also present.* vs the HF cache.

    With shared_buffer, (b) and (c) run again with one fixed-size KV buffer bound as past and present.
    only_shared (float16 graphs, which cast the cache at the boundary: ONNX Runtime then lets the
    attention write its present into the buffer of its cast past, which only works when both have
    the buffer's size) runs every check, (a) included, with the fixed-size buffer only.
    """
    model.eval()  # dropout off, whatever an exporter left behind
    cfg = model.config
    C, V = cfg.n_positions, cfg.vocab_size
    mv = getattr(model, "vocab", None)  # a melody_now.py model's vocabulary
    rng = np.random.default_rng(seed)
    n_full = min(n_full, C)
    seq = rng.integers(0, V, size=C + slide_steps, dtype=np.int64)
    if mv is not None:  # random ids seldom sound a melody: a line of well-formed triples does
        seq = melody_line(rng, mv, C + slide_steps)
    errors = {}

    # (a) full sequence, no cache
    ref = torch_logits(model, seq[:n_full])
    dec = OrtDecoder.for_model(session, model, only_shared)
    errors["a_full_forward" + ("_shared_buffer" if only_shared else "")] = max_err(dec.feed(seq[:n_full]), ref)

    ref_full = torch_logits(model, seq[:C])
    keep = C - slide_steps
    window = seq[C - keep:C]  # the newest `keep` tokens of the full context, then slide_steps new ones
    ref_win = torch_logits(model, np.concatenate([window, seq[C:C + slide_steps]]))
    for shared in (True,) if only_shared else (False, True) if shared_buffer else (False,):
        tag = "_shared_buffer" if shared else ""
        dec = OrtDecoder.for_model(session, model, shared)

        # (b) prefill, token-by-token decode with the KV cache, then three 3-token chunks on top of the cache
        n_prefill = min(n_prefill, n_full - 10)
        n_decode = min(n_decode, n_full - n_prefill - 9)
        err = max_err(dec.feed(seq[:n_prefill]), ref[:n_prefill])
        t = n_prefill
        for t in range(n_prefill, n_prefill + n_decode):
            err = max(err, max_err(dec.feed(seq[t:t + 1])[-1], ref[t]))
        for t in range(n_prefill + n_decode, n_prefill + n_decode + 9, 3):
            err = max(err, max_err(dec.feed(seq[t:t + 3]), ref[t:t + 3]))
        errors["b_prefill_then_decode" + tag] = err
        n_cached = dec.past_len
        with torch.no_grad():
            hf = model(input_ids=torch.as_tensor(seq[:n_cached]).reshape(1, -1), use_cache=True)
        errors["b_present_vs_hf_cache" + tag] = max(
            max(max_err(dec.past[2 * i][0], layer.keys.numpy()[0]),
                max_err(dec.past[2 * i + 1][0], layer.values.numpy()[0]))
            for i, layer in enumerate(hf.past_key_values.layers))

        # (c) fill the context (prefill, then decode the last 8 positions), slide, prefill the window, decode on
        dec.reset()
        err = max_err(dec.feed(seq[:C - 8])[-1], ref_full[C - 9])
        for t in range(C - 8, C):
            err = max(err, max_err(dec.feed(seq[t:t + 1])[-1], ref_full[t]))
        dec.reset()
        err = max(err, max_err(dec.feed(window)[-1], ref_win[keep - 1]))
        for k in range(slide_steps):
            err = max(err, max_err(dec.feed(seq[C + k:C + k + 1])[-1], ref_win[keep + k]))
        errors["c_window_slide" + tag] = err
    return errors


def melody_line(rng: np.random.Generator, vocab: dict, length: int) -> np.ndarray:
    """A task flag, then random well-formed triples: a melody of control notes anticipated up to
    two beats ahead of accompaniment events, so that melody_now.py's features are mostly on."""
    to, do, no = vocab["time_offset"], vocab["duration_offset"], vocab["note_offset"]
    co, mt = vocab["control_offset"], vocab["max_time"]
    ids, now, melody_at = [vocab["anticipate"]], 0, 0
    while len(ids) < length:
        if melody_at <= now + 24:
            d = int(rng.integers(6, 24))
            ids += [co + to + min(melody_at, mt - 1), co + do + d, co + no + int(rng.integers(55, 80))]
            melody_at += d
        else:
            now += int(rng.integers(0, 7))
            ids += [to + min(now, mt - 1), do + int(rng.integers(1, 24)), no + int(rng.integers(36, 72))]
    return np.array(ids[:length], np.int64)


def mean_kl(model, session, seed: int = 0, n: int = 256, shared_buffer: bool = False) -> tuple[float, float]:
    """(mean KL(PyTorch || ONNX) in nats per position, top-1 agreement) over one random sequence:
    how much an approximate (int8, float16) export changes the next-token distributions."""
    cfg = model.config
    seq = np.random.default_rng(seed).integers(0, cfg.vocab_size, size=min(n, cfg.n_positions))
    ref = torch_logits(model, seq).astype(np.float64)
    dec = OrtDecoder.for_model(session, model, shared_buffer)
    got = np.concatenate([dec.feed(seq[:1])] + [dec.feed(seq[t:t + 1]) for t in range(1, len(seq))])
    got = got.astype(np.float64)
    logp = ref - ref.max(1, keepdims=True)
    logp -= np.log(np.exp(logp).sum(1, keepdims=True))
    logq = got - got.max(1, keepdims=True)
    logq -= np.log(np.exp(logq).sum(1, keepdims=True))
    kl = (np.exp(logp) * (logp - logq)).sum(1)
    return float(kl.mean()), float((ref.argmax(1) == got.argmax(1)).mean())
