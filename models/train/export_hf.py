"""Convert a Hugging Face GPT2LMHeadModel checkpoint into an Antiphon model folder.

    python export_hf.py CHECKPOINT_DIR --vocab vocab_amt.json --out OUT_DIR [--name NAME]
    python export_hf.py CHECKPOINT_DIR --vocab vocab_amt.json --out OUT_DIR --device cuda   # float16, for GPUs

CHECKPOINT_DIR is a saved transformers directory (config.json + weights): a
released Anticipatory Music Transformer checkpoint or one of our own. OUT_DIR
receives `model.onnx` (the KV-cache decoder of DESIGN.md §5, built by
gpt2_onnx.py) and `model.json` (the model card fields the Rust engine reads).

Why a hand-built graph and not torch.onnx.export: it decodes several times
faster in ONNX Runtime and keeps `scale_attn_by_inverse_layer_idx` exactly (the
factor is folded into the query weights); see README.md, "Decode speed".

After writing the folder, the exporter checks ONNX Runtime against PyTorch on
random token ids, (a) one full forward pass, (b) prefill + token-by-token decode
with the KV cache, (c) a window slide (context full -> keep the newest tokens ->
fresh prefill -> decode on), prints the max abs logit error of each, and exits
with status 1 if any exceeds --tolerance (1e-4).

`--device cuda` writes the float16 graph of gpt2_onnx.py (every node has a float16 CUDA
kernel; inputs and outputs stay float32). It is checked the same way on ONNX Runtime's CPU
provider, which runs float16 graphs by casting where it lacks float16 kernels: that checks the
graph, not the CUDA kernels. Its default tolerance is 0.05 on the logits, and it also prints
the mean KL divergence and top-1 agreement with PyTorch.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import onnx

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gpt2_onnx  # noqa: E402

FORMAT_VERSION = 1
MAX_INLINE_BYTES = 1_800_000_000  # protobuf's 2 GB limit: larger models keep weights in model.onnx.data


class ExportError(Exception):
    pass


def load_vocab(path: str) -> dict:
    try:
        with open(path) as f:
            vocab = json.load(f)
    except OSError as e:
        raise ExportError(f"cannot read the vocabulary file {path}: {e.strerror}") from e
    except json.JSONDecodeError as e:
        raise ExportError(f"{path} is not valid JSON: {e}") from e
    if not isinstance(vocab, dict) or "kind" not in vocab or not isinstance(vocab.get("vocab_size"), int):
        raise ExportError(f"{path} is not a VocabSpec: it needs at least \"kind\" and an integer \"vocab_size\"")
    return vocab


def load_checkpoint(path: str, vocab: dict, vocab_path: str):
    if not os.path.isdir(path):
        raise ExportError(f"checkpoint {path} is not a directory (expected a saved transformers model folder)")
    if not os.path.exists(os.path.join(path, "config.json")):
        raise ExportError(f"{path} has no config.json: save the model with save_pretrained, or write its GPT2Config")
    with open(os.path.join(path, "config.json")) as f:
        check_vocab_size(vocab, vocab_path, json.load(f).get("vocab_size"))  # fail before loading weights
    try:
        from melody_now import load_lm
        model = load_lm(path, attn_implementation="eager", dtype="float32")
    except Exception as e:
        raise ExportError(f"transformers could not load {path} as a GPT2LMHeadModel: {e}") from e
    return model.eval()


def check_vocab_size(vocab: dict, vocab_path: str, model_vocab_size):
    if vocab["vocab_size"] != model_vocab_size:
        raise ExportError(
            f"vocabulary mismatch: {vocab_path} (kind {vocab['kind']!r}) has vocab_size {vocab['vocab_size']}, "
            f"but the checkpoint has vocab_size {model_vocab_size}. Use the VocabSpec the model was trained "
            f"with (music-large-800k has 55030 ids: the amt layout plus two task flags).")


def _device(args) -> str:
    """The --device of args (callers such as make_fixtures.py pass a namespace without it)."""
    return getattr(args, "device", "cpu")


def model_card(name, cfg: gpt2_onnx.Gpt2Config, vocab, last_logits_only, args, melody_now=False,
               melody_key=False) -> dict:
    inputs, outputs = gpt2_onnx.io_names(cfg.n_layer, melody_now)
    card = {
        "name": name,
        "format_version": FORMAT_VERSION,
        "vocab": vocab,
        "vocab_size": cfg.vocab_size,
        "context_length": cfg.n_positions,
        "num_layers": cfg.n_layer,
        "num_heads": cfg.n_head,
        "head_size": cfg.head_dim,
        "hidden_size": cfg.n_embd,
        "dtype": "float16" if _device(args) == "cuda" else "float32",
        "scale_attn_by_inverse_layer_idx": cfg.scale_attn_by_inverse_layer_idx,
        "inputs": inputs,
        "outputs": outputs,
        "training_data": args.training_data,
        "licence": args.licence,
        "evaluation": {},
    }
    if melody_key:
        card["melody_key"] = True  # melody_now has 36 columns: the twelve, then the melody's key (melody_now.py)
        card["key_strength"] = getattr(args, "key_strength", 1.0)  # its logits rows were multiplied by this
        minor = getattr(args, "minor_key_strength", None)
        if minor is not None:
            card["minor_key_strength"] = minor  # the minor keys' rows by this instead
        if _key_source(args.checkpoint) == "accompaniment":
            # trained with one key for a whole line (train.py --key-source): the engine tells it
            # the key of the whole melody it knows
            card["key_from_whole_melody"] = True
        tonic = getattr(args, "tonic_strength", None)
        if tonic is not None:
            card["tonic_strength"] = tonic  # the key's tonic column of every row by this instead
    if last_logits_only:
        card["logits"] = "last_position_only"  # logits are [batch, 1, vocab]; absent means [batch, seq, vocab]
    if _device(args) == "cuda":
        card["device"] = "cuda"  # float16 inside; inputs, outputs and the KV cache buffers are float32
    if args.int8_block:
        card["weight_quantization"] = f"int8, blocks of {args.int8_block} (com.microsoft.MatMulNBits)"
    if args.evaluation:
        with open(args.evaluation) as f:
            card["evaluation"] = json.load(f)
    return card


def _key_source(folder: str) -> str:
    """What the key columns said in training: melody_now.json's key_source ("melody" if absent)."""
    try:
        with open(os.path.join(folder, "melody_now.json")) as f:
            return json.load(f).get("key_source", "melody")
    except OSError:
        return "melody"


def export(model, vocab: dict, out_dir: str, name: str, args) -> str:
    """Writes out_dir/model.onnx and out_dir/model.json; returns the model.onnx path."""
    cfg = gpt2_onnx.config_from_hf(model.config)
    check_vocab_size(vocab, args.vocab, cfg.vocab_size)
    melody_now = getattr(model, "melody_now", None)  # a melody_now.py model: a GPT-2 inside
    gpt2 = model.gpt2 if melody_now is not None else model
    weights = {k: v.detach().float().numpy() for k, v in gpt2.state_dict().items()}
    proto = gpt2_onnx.build_model(cfg, weights, attention=args.attention, last_logits_only=args.last_logits_only,
                                  int8_block=args.int8_block, fp16=_device(args) == "cuda",
                                  melody_now=None if melody_now is None else melody_now.detach().float().numpy(),
                                  melody_logits=None if melody_now is None else
                                  model.melody_logits.detach().float().numpy())
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, "model.onnx")
    bytes_per_weight = 2 if _device(args) == "cuda" else 4
    big = sum(p.numel() for p in model.parameters()) * bytes_per_weight > MAX_INLINE_BYTES
    if _device(args) == "cuda":
        unsupported = gpt2_onnx.cuda_unsupported_nodes(proto)
        if unsupported:  # a bug in gpt2_onnx.py, not in the checkpoint
            raise ExportError(f"nodes without a float16 CUDA kernel: {', '.join(unsupported)}")
    onnx.save(proto, path, save_as_external_data=big, location="model.onnx.data" if big else None)
    onnx.checker.check_model(path)
    with open(os.path.join(out_dir, "model.json"), "w") as f:
        json.dump(model_card(name, cfg, vocab, args.last_logits_only, args, melody_now is not None,
                             bool(getattr(model, "key", False))), f, indent=2)
        f.write("\n")
    return path


def scale_key_rows(model, vocab: dict, major: float, minor: float, tonic: float | None) -> None:
    """Multiplies the key rows of melody_logits: the twelve major keys' by `major`, the minor
    keys' by `minor`, and (when given) every row's tonic columns by `tonic` instead."""
    import torch
    from melody_now import FEATURES, KEY_FEATURES, _pitched_notes
    rows = model.melody_logits[FEATURES:]
    pitched, pitches = _pitched_notes(vocab)
    with torch.no_grad():  # the verification below then checks the scaled model
        counted = rows.clone()
        rows[:12] *= major
        rows[12:] *= minor
        if tonic is not None:
            for k in range(KEY_FEATURES):
                cols = torch.from_numpy(pitched[pitches % 12 == k % 12])
                rows[k, cols] = counted[k, cols] * tonic


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoint", help="saved Hugging Face GPT2LMHeadModel directory")
    ap.add_argument("--vocab", required=True, help="VocabSpec JSON (e.g. vocab_amt.json); copied into model.json")
    ap.add_argument("--out", required=True, help="output model folder")
    ap.add_argument("--name", help="model name (default: the output folder's name)")
    ap.add_argument("--training-data", default="unknown", help="what the model was trained on, for model.json")
    ap.add_argument("--licence", default="unknown", help="the model's licence, for model.json")
    ap.add_argument("--evaluation", help="JSON file whose object becomes model.json's \"evaluation\"")
    ap.add_argument("--attention", choices=gpt2_onnx.ATTENTION_KINDS, default="gqa",
                    help="attention kernel: gqa (default, fastest), mha, or plain (standard ONNX ops only)")
    ap.add_argument("--last-logits-only", action="store_true",
                    help="emit logits for the last position only ([batch, 1, vocab]); faster prefill")
    ap.add_argument("--int8-block", type=int, default=0, metavar="N",
                    help="experimental: int8 weights in blocks of N (16, 32, 64, 128...; 0 = float32, the default). "
                         "About 3x faster decode; logits then differ from PyTorch by ~1e-2")
    ap.add_argument("--device", choices=("cpu", "cuda"), default="cpu",
                    help="cpu (default): float32, fastest on the CPU provider; cuda: float16 weights and "
                         "GroupQueryAttention in float16, which the CUDA provider runs (float32 I/O; gqa only)")
    ap.add_argument("--key-strength", type=float, default=1.0, metavar="X",
                    help="a --melody-key model: multiply the key rows of melody_logits by X (how strongly the "
                         "melody's key pulls the notes; recorded in model.json)")
    ap.add_argument("--minor-key-strength", type=float, metavar="X",
                    help="the same for the twelve minor keys' rows alone (default: --key-strength). The counted "
                         "minor prior is flatter than the major one (minor melodies turn to their relative major "
                         "in the data), so a tune in A minor was answered in C major; 2 measured best (README.md)")
    ap.add_argument("--tonic-strength", type=float, metavar="X",
                    help="the tonic's columns of every key row by X instead of their row's strength: pull the "
                         "notes to the key's scale harder without pulling them to its tonic (answers that hold "
                         "the tonic for bars were the price of stronger rows, README.md)")
    ap.add_argument("--no-verify", action="store_true", help="skip the ONNX-vs-PyTorch check")
    ap.add_argument("--tolerance", type=float,
                    help="max abs logit error allowed (default 1e-4; --device cuda 0.05; "
                         "with --int8-block no bound unless given)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the random verification sequence")
    args = ap.parse_args(argv)
    if args.int8_block and (args.int8_block < 16 or args.int8_block & (args.int8_block - 1)):
        ap.error("--int8-block must be a power of two, at least 16")
    if args.device == "cuda" and (args.attention != "gqa" or args.int8_block):
        ap.error("--device cuda needs --attention gqa (the default) and no --int8-block")
    if args.tolerance is None:
        args.tolerance = float("inf") if args.int8_block else 0.05 if args.device == "cuda" else 1e-4
    try:
        vocab = load_vocab(args.vocab)
        model = load_checkpoint(args.checkpoint, vocab, args.vocab)
        minor = args.key_strength if args.minor_key_strength is None else args.minor_key_strength
        if (args.key_strength, minor) != (1.0, 1.0) or args.tonic_strength is not None:
            if not getattr(model, "key", False):
                raise ExportError("--key-strength needs a model trained with --melody-key")
            scale_key_rows(model, vocab, args.key_strength, minor, args.tonic_strength)
        name = args.name or os.path.basename(os.path.normpath(args.out))
        path = export(model, vocab, args.out, name, args)
    except (ExportError, ValueError) as e:
        print(f"export_hf: error: {e}", file=sys.stderr)
        return 2
    size = sum(os.path.getsize(os.path.join(args.out, f)) for f in ("model.onnx", "model.onnx.data")
               if os.path.exists(os.path.join(args.out, f)))
    print(f"wrote {path} ({size / 2**20:.1f} MB with its weights) and model.json")
    if args.no_verify:
        return 0
    import ort_check
    fp16 = args.device == "cuda"
    errors = ort_check.verify(model, ort_check.make_session(path), seed=args.seed,
                              shared_buffer=args.attention == "gqa", only_shared=fp16)
    for k, v in errors.items():
        print(f"  {k:36s} max abs error {v:.2e}")
    if args.int8_block or args.device == "cuda":
        kl, top1 = ort_check.mean_kl(model, ort_check.make_session(path), seed=args.seed, shared_buffer=fp16)
        kind = "int8" if args.int8_block else "float16"
        print(f"  {kind}: mean KL(PyTorch || ONNX) {kl:.2e} nats per token, top-1 agreement {top1:.3f} "
              f"(random ids: judge an approximate model by its held-out perplexity)")
    worst = max(errors.values())
    if worst > args.tolerance:
        print(f"export_hf: error: ONNX logits differ from PyTorch by {worst:.2e} > {args.tolerance:.0e}",
              file=sys.stderr)
        return 1
    print(f"verified: ONNX Runtime matches PyTorch within {args.tolerance:.0e}" if args.tolerance < float("inf")
          else "int8 export written (no tolerance given, so no pass/fail)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
