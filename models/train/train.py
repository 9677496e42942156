#!/usr/bin/env python3
"""Train a Hugging Face GPT2LMHeadModel on `antiphon tokenize` lines (CPU or CUDA, torchrun).

    python train.py --train work/tok/train.bin --valid work/tok/valid.bin --out work/run1
    python train.py ... --out work/run1                  # again: resumes from work/run1/last.pt
    python train.py ... --init-from work/antiphon-small-hf --out work/run2   # a new run from trained weights
    python train.py ... --resume-compact ../antiphon-small/train-state.pt --out work/run3
    torchrun --nproc_per_node 1 train.py ...             # the DDP path (gloo on CPU, nccl on CUDA)

Every `--ckpt-minutes` it writes OUT/last.pt (model, EMA, optimizer, data position, RNG) and
a Hugging Face folder OUT/hf-ema/ (the EMA weights, what export_hf.py reads); every
`--eval-minutes` it evaluates on a fixed slice of the validation lines. Logs: OUT/train.csv
(per step) and OUT/valid.csv (per evaluation); plot_curves.py draws them.

Learning rate: linear warm-up, then constant (it can be resumed and extended at will), then,
if --cooldown-start is given, a linear decay to 10 % over --cooldown-steps. The exported model
uses an exponential moving average of the weights (decay --ema), which gives most of a
cool-down's gain without ending the run.

Where a run starts: OUT/last.pt if it exists (resume; it wins over the two options below), else
--resume-compact FILE (the 16-bit file of pack_checkpoint.py: resumes that run at its step,
data position and RNG, in a fresh OUT), else --init-from HF_DIR (a NEW run at step 0 with a new
optimizer, from the weights of a GPT2LMHeadModel folder, e.g. onnx_to_hf.py's; the EMA starts
at those weights and averages from step 0 instead of copying the raw weights during warm-up),
else random weights. The architecture then comes from the checkpoint or the folder, not from
--n-embd/--n-layer/--n-head.

--share-controls (shared_controls.py): control ids share the embeddings of the events they
mirror; given with a plain checkpoint it converts the run, and a converted run stays so.

--melody-now (melody_now.py): event time and duration tokens also get the pitch classes of the
melody sounding at the event's time, through a learned 12 x n_embd matrix into the embedding and a
12 x vocab matrix onto the logits (both zero at first, so a converted checkpoint starts where it
was; their optimizer groups learn at 3x the rate). Given with
a plain checkpoint it converts the run; a converted run stays so.

--melody-key (with --melody-now): 24 more inputs at the same positions, 1 for the
Krumhansl-Kessler key of the melody read so far (melody_now.features), read by 24 more rows of both
matrices; a --melody-now checkpoint without them is converted (the new rows and their optimizer
moments start at zero) and stays so. --key-prior LINES sets the new logits rows once to
melody_now.key_prior: how much likelier each pitch class is, counted from the melody key's tonic.
"""

import argparse
import copy
import csv
import json
import math
import os
import signal
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F


def load_lines(path: Path) -> np.ndarray:
    index = json.load(open(path.with_suffix(".json"), encoding="utf-8"))
    lines = np.memmap(path, dtype=index["dtype"], mode="r").reshape(-1, index["line_tokens"])
    assert lines.shape[0] == index["num_lines"], (lines.shape, index["num_lines"])
    return lines, index


def build_model(args, vocab_size: int, hf_config: dict | None = None):
    if args.arch == "lstm":
        from lstm_lm import LstmLM
        return LstmLM(vocab_size, args.n_embd, args.lstm_hidden, args.n_layer)
    from transformers import GPT2Config, GPT2LMHeadModel
    if hf_config is not None:  # the architecture of a checkpoint or of an --init-from folder
        config = GPT2Config.from_dict(hf_config)
        if config.vocab_size != vocab_size:
            raise SystemExit(f"the model has {config.vocab_size} ids, the training lines {vocab_size}")
        return GPT2LMHeadModel(config)
    config = GPT2Config(
        vocab_size=vocab_size, n_positions=1024, n_embd=args.n_embd, n_layer=args.n_layer,
        n_head=args.n_head, n_inner=4 * args.n_embd, activation_function="gelu_new",
        resid_pdrop=args.dropout, embd_pdrop=args.dropout, attn_pdrop=args.dropout,
        scale_attn_by_inverse_layer_idx=True, bos_token_id=None, eos_token_id=None,
        tie_word_embeddings=True,
    )
    return GPT2LMHeadModel(config)


def type_losses(logits: torch.Tensor, ids: torch.Tensor):
    """Mean loss per position type. ids[:, 0] is the task flag; token p (p >= 1) is a time if
    (p - 1) % 3 == 0, a duration if 1, a note if 2. Returns (sum, count) per type, float64."""
    nll = F.cross_entropy(logits[:, :-1].float().reshape(-1, logits.shape[-1]),
                          ids[:, 1:].reshape(-1), reduction="none").view(ids.shape[0], -1)
    out = []
    for k in range(3):
        part = nll[:, k::3]
        out.append((part.double().sum().item(), part.numel()))
    return nll, out


@torch.no_grad()
def evaluate(model, lines: np.ndarray, batch: int, device) -> dict:
    model.eval()
    told = getattr(model, "key_source", None)
    if told is not None:
        model.key_source = "melody"  # scored as the engine tells it the key, whatever training tells it
    sums = [0.0, 0.0, 0.0]
    counts = [0, 0, 0]
    for i in range(0, lines.shape[0], batch):
        ids = torch.from_numpy(lines[i:i + batch].astype(np.int64)).to(device)
        logits = model(input_ids=ids).logits
        _, parts = type_losses(logits, ids)
        for k in range(3):
            sums[k] += parts[k][0]
            counts[k] += parts[k][1]
    model.train()
    if told is not None:
        model.key_source = told
    total = sum(sums) / sum(counts)
    return {"loss": total, "loss_time": sums[0] / counts[0], "loss_dur": sums[1] / counts[1],
            "loss_note": sums[2] / counts[2],
            # per event = the three tokens of a triple
            "event_ppl": math.exp(sum(sums) / counts[2])}


def lr_at(step: int, args, minutes_run: float = 0.0, warm_from: int = 0) -> float:
    """warm_from: the step the warm-up starts at (a run converted to --share-controls warms up again)."""
    if step - warm_from < args.warmup:
        return args.lr * (step - warm_from + 1) / args.warmup
    if args.cooldown_minutes is not None:
        left = args.max_hours * 60 - minutes_run
        f = min(1.0, max(0.0, 1.0 - left / args.cooldown_minutes))
        return args.lr * (1.0 - 0.9 * f)
    if args.cooldown_start is not None and step >= args.cooldown_start:
        f = min(1.0, (step - args.cooldown_start) / max(1, args.cooldown_steps))
        return args.lr * (1.0 - 0.9 * f)
    return args.lr


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--train", type=Path, required=True)
    ap.add_argument("--valid", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--arch", choices=["gpt2", "lstm"], default="gpt2",
                    help="gpt2: the model we ship; lstm: the baseline (lstm_lm.py)")
    ap.add_argument("--lstm-hidden", type=int, default=384)
    ap.add_argument("--n-embd", type=int, default=192)
    ap.add_argument("--n-layer", type=int, default=4)
    ap.add_argument("--n-head", type=int, default=4)
    ap.add_argument("--dropout", type=float, default=0.0)
    ap.add_argument("--batch", type=int, default=8, help="lines per optimizer step (all ranks)")
    ap.add_argument("--micro", type=int, default=4, help="lines per forward pass per rank")
    ap.add_argument("--seq", type=int, default=1024, help="tokens per line used (a prefix)")
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--weight-decay", type=float, default=0.1)
    ap.add_argument("--warmup", type=int, default=300)
    ap.add_argument("--cooldown-start", type=int, default=None)
    ap.add_argument("--cooldown-steps", type=int, default=1000)
    ap.add_argument("--cooldown-minutes", type=float, default=None,
                    help="decay linearly to 10 %% over the last this many minutes of --max-hours "
                         "(for runs whose step count is unknown ahead, e.g. on a lent GPU)")
    ap.add_argument("--keep-best", action="store_true",
                    help="also save the EMA weights with the lowest validation loss to OUT/hf-ema-best")
    ap.add_argument("--ema", type=float, default=0.999)
    ap.add_argument("--max-steps", type=int, default=10**9)
    ap.add_argument("--max-hours", type=float, default=1e9, help="stop after this much wall time (this process)")
    ap.add_argument("--ckpt-minutes", type=float, default=5.0)
    ap.add_argument("--eval-minutes", type=float, default=10.0)
    ap.add_argument("--eval-lines", type=int, default=128)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--bf16", action="store_true", help="bfloat16 autocast (CPU or CUDA)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--reset-data", action="store_true",
                    help="on resume, start the data order afresh (use when --train changed)")
    ap.add_argument("--init-from", type=Path, default=None,
                    help="start a new run (step 0, new optimizer, EMA = these weights) from a Hugging Face "
                         "GPT2LMHeadModel folder; ignored when OUT/last.pt exists")
    ap.add_argument("--resume-compact", type=Path, default=None,
                    help="resume from a pack_checkpoint.py file when OUT has no last.pt")
    ap.add_argument("--aux-melody", type=float, default=None,
                    help="weight of melody_aux.py's target (the melody note sounding at each accompaniment "
                         "note); 0: none (a checkpoint's melody head is dropped); default: the checkpoint's, else 0")
    ap.add_argument("--share-controls", action="store_true",
                    help="control ids share their events' embeddings (shared_controls.py); a checkpoint "
                         "without it is converted (new optimizer, a new warm-up); kept on resume")
    ap.add_argument("--melody-prior", type=int, default=0, metavar="LINES",
                    help="with --melody-now: set melody_logits (model and EMA) to melody_now.interval_prior "
                         "estimated on this many training lines, now (once: the run goes on from there)")
    ap.add_argument("--melody-key", action="store_true",
                    help="with --melody-now: the melody's key so far as 24 more inputs (melody_now.py); a "
                         "--melody-now checkpoint without it is converted (new rows at zero); kept on resume")
    ap.add_argument("--key-prior", type=int, default=0, metavar="LINES",
                    help="with --melody-key: set the key rows of melody_logits (model and EMA) to "
                         "melody_now.key_prior estimated on this many training lines, now (once)")
    ap.add_argument("--key-source", choices=("melody", "accompaniment"),
                    help="with --melody-key: what the key columns say in training: the melody's key so far "
                         "(default) or the key of the line's own accompaniment (a control the model learns "
                         "to obey; the engine then tells it the melody's key); kept on resume")
    ap.add_argument("--melody-now", action="store_true",
                    help="the melody sounding now as an input (melody_now.py); a checkpoint without it is "
                         "converted (the new matrix starts at zero); kept on resume")
    args = ap.parse_args()

    distributed = "WORLD_SIZE" in os.environ
    rank, world = 0, 1
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if distributed:
        import torch.distributed as dist
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
        rank, world = dist.get_rank(), dist.get_world_size()
        if device.type == "cuda":
            device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
            torch.cuda.set_device(device)
    torch.set_num_threads(args.threads)
    if device.type == "cuda":  # TF32 for the fp32 parts (the optimizer, the loss); bf16 autocast does the rest
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    torch.manual_seed(args.seed + rank)
    main_proc = rank == 0

    train, train_index = load_lines(args.train)
    valid, _ = load_lines(args.valid)
    vocab_size = train_index["vocab"]["vocab_size"]
    valid_slice = valid[np.linspace(0, valid.shape[0] - 1, min(args.eval_lines, valid.shape[0])).astype(int)]
    args.out.mkdir(parents=True, exist_ok=True)

    ckpt_path = args.out / "last.pt"
    ck, source = None, "random weights"
    if ckpt_path.exists():
        ck, source = torch.load(ckpt_path, map_location="cpu", weights_only=False), f"resumed from {ckpt_path}"
    elif args.resume_compact is not None:
        from pack_checkpoint import unpack
        ck, source = unpack(torch.load(args.resume_compact, map_location="cpu", weights_only=False)), \
            f"resumed from the compact checkpoint {args.resume_compact}"
    hf_config = ck.get("hf_config") if ck is not None else None
    init_sd = None
    if ck is None and args.init_from is not None:
        if args.arch != "gpt2":
            raise SystemExit("--init-from reads GPT2LMHeadModel folders (--arch gpt2)")
        from transformers import GPT2LMHeadModel
        init = GPT2LMHeadModel.from_pretrained(args.init_from)
        hf_config, init_sd, source = init.config.to_dict(), init.state_dict(), f"new run from {args.init_from}"
        del init
    model = build_model(args, vocab_size, hf_config).to(device)
    if init_sd is not None:
        model.load_state_dict(init_sd)
    ck_shared = ck is not None and bool(ck.get("args", {}).get("share_controls", False))
    convert = args.share_controls and ck is not None and not ck_shared
    args.share_controls = args.share_controls or ck_shared
    if convert:  # a plain checkpoint becomes a shared-controls run: its weights and its EMA, wrapped
        from shared_controls import SharedControlsLM
        model.load_state_dict(ck["model"])
        ema_plain = build_model(args, vocab_size, hf_config)
        ema_plain.load_state_dict(ck["ema"])
        model = SharedControlsLM.from_plain(model, train_index["vocab"]).to(device)
        ema = SharedControlsLM.from_plain(ema_plain, train_index["vocab"]).to(device).eval()
        del ema_plain
        source += ", converted to --share-controls"
    elif args.share_controls:
        from shared_controls import SharedControlsLM
        model = SharedControlsLM(model, train_index["vocab"]).to(device)
    ck_now = ck is not None and bool(ck.get("args", {}).get("melody_now", False))
    now_convert = args.melody_now and ck is not None and not ck_now
    args.melody_now = args.melody_now or ck_now
    ck_key = ck is not None and bool(ck.get("args", {}).get("melody_key", False))
    key_convert = args.melody_key and ck_now and not ck_key
    args.melody_key = args.melody_key or ck_key
    args.key_source = args.key_source or (ck.get("args", {}).get("key_source") if ck is not None else None) \
        or "melody"
    if args.melody_key and not args.melody_now:
        raise SystemExit("--melody-key goes with --melody-now")
    if args.melody_now:
        if args.share_controls or args.arch != "gpt2":
            raise SystemExit("--melody-now goes with a plain GPT-2 (not --share-controls, not the LSTM)")
        from melody_now import MelodyNowLM
        model = MelodyNowLM(model, train_index["vocab"], key=args.melody_key, key_source=args.key_source).to(device)
    if key_convert:  # the checkpoint's 12-row matrices and their Adam moments get 24 zero rows
        from melody_now import KEY_FEATURES

        def widen(t):
            return torch.cat([t, t.new_zeros((KEY_FEATURES,) + tuple(t.shape[1:]))])
        for sd in (ck["model"], ck["ema"]):
            for name in ("melody_now", "melody_logits"):
                sd[name] = widen(sd[name])
        widths = {tuple(model.melody_now.shape[1:]), tuple(model.melody_logits.shape[1:])}
        for st in ck["opt"]["state"].values():
            for k in ("exp_avg", "exp_avg_sq"):
                if k in st and st[k].dim() == 2 and st[k].shape[0] == 12 and tuple(st[k].shape[1:]) in widths:
                    st[k] = widen(st[k])
        source += ", converted to --melody-key"
    if not convert:
        ema = copy.deepcopy(model).eval()
    for p in ema.parameters():
        p.requires_grad_(False)
    decay, no_decay = [], []
    for n, p in model.named_parameters():
        if n in ("melody_now", "melody_logits"):  # their own groups, after the others (see below)
            continue
        (decay if p.dim() >= 2 and "wpe" not in n and "kind_delta" not in n else no_decay).append(p)
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": args.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=args.lr, betas=(0.9, 0.95), eps=1e-8)

    # The auxiliary melody head (training only): its optimizer group comes after the model's two.
    ck_aux = ck is not None and ck.get("aux_head") is not None
    if args.aux_melody is None:
        args.aux_melody = float(ck.get("args", {}).get("aux_melody") or 0.0) if ck is not None else 0.0
    head = None
    if args.aux_melody > 0:
        from melody_aux import MelodyHead, melody_labels
        head = MelodyHead(model.config.n_embd).to(device)
        if ck_aux:
            head.load_state_dict(ck["aux_head"])
            opt.add_param_group({"params": list(head.parameters()), "weight_decay": 0.0})
    elif ck_aux and not convert:  # the head is dropped: so is its optimizer group
        dropped = set(ck["opt"]["param_groups"][2]["params"])
        ck["opt"]["param_groups"] = ck["opt"]["param_groups"][:2]
        ck["opt"]["state"] = {i: st for i, st in ck["opt"]["state"].items() if i not in dropped}
    ck_aux = ck_aux and head is not None
    if ck_now and (head is not None) != ck_aux:
        raise SystemExit("a --melody-now run keeps its melody head as it is (on or off) when resumed")
    # The group order of a --melody-now run: model (2), (melody head), melody_now, melody_logits.
    now_groups = [{"params": [model.melody_now], "weight_decay": 0.0, "lr_mult": 3.0},
                  {"params": [model.melody_logits], "weight_decay": 0.0, "lr_mult": 3.0}] if args.melody_now else []
    ck_now_logits = ck_now and "melody_logits" in ck["model"]  # the first --melody-now run had none
    for g in now_groups[:ck_now + ck_now_logits]:
        opt.add_param_group(g)

    # ema_start: the step from which the EMA averages (before it, it copies the raw weights).
    state = {"step": 0, "tokens": 0, "elapsed_s": 0.0, "epoch": 0, "pos": 0,
             "ema_start": -1 if init_sd is not None else args.warmup}
    if ck is not None:
        if now_convert:  # the checkpoint's weights into the wrapped GPT-2s
            model.gpt2.load_state_dict(ck["model"])
            ema.gpt2.load_state_dict(ck["ema"])
            opt.load_state_dict(ck["opt"])
            source += ", converted to --melody-now"
        elif not convert:
            strict = not ck_now or ck_now_logits  # a new melody_logits starts at zero
            model.load_state_dict(ck["model"], strict=strict)
            ema.load_state_dict(ck["ema"], strict=strict)
            opt.load_state_dict(ck["opt"])
        state = ck["state"]
        state.setdefault("ema_start", args.warmup)
        if convert:  # the EMA goes on averaging from the converted EMA; the new optimizer warms up
            state["ema_start"] = state["warmup_from"] = state["step"]
        if args.reset_data:
            state["epoch"], state["pos"] = 0, 0
        torch.set_rng_state(ck["torch_rng"])
        old = ck.get("args", {})
        for k in ("train", "seed", "batch", "seq"):
            if k in old and str(old[k]) != str(getattr(args, k)) and main_proc:
                print(f"note: --{k} was {old[k]} in the checkpoint's run, now {getattr(args, k)}", flush=True)
    if head is not None and not ck_aux:  # a new melody head: its group after the loaded ones
        opt.add_param_group({"params": list(head.parameters()), "weight_decay": 0.0})
    for g in now_groups[ck_now + ck_now_logits:]:
        opt.add_param_group(g)
    if main_proc:
        print(f"{source}: step {state['step']}, {state['tokens']:,} tokens, "
              f"{state['elapsed_s'] / 3600:.2f} h", flush=True)
    init_from_start = init_sd is not None or convert or now_convert  # evaluate the starting weights first
    del ck, init_sd
    n_params = sum(p.numel() for p in model.parameters())
    if main_proc:
        print(f"{n_params:,} parameters; {train.shape[0]:,} training lines; device {device}; world {world}",
              flush=True)
        json.dump({"args": {k: str(v) for k, v in vars(args).items()}, "parameters": n_params,
                   "train_index_stats": train_index["stats"]},
                  open(args.out / "run.json", "w"), indent=1)

    net = model
    if distributed:
        from torch.nn.parallel import DistributedDataParallel
        net = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)

    per_rank = args.batch // world
    accum = max(1, per_rank // args.micro)

    def order(epoch: int) -> np.ndarray:
        return np.random.default_rng(args.seed * 1000 + epoch).permutation(train.shape[0])

    perm = order(state["epoch"])
    train_csv = open(args.out / "train.csv", "a", newline="")
    valid_csv = open(args.out / "valid.csv", "a", newline="")
    tw, vw = csv.writer(train_csv), csv.writer(valid_csv)
    if main_proc and train_csv.tell() == 0:
        tw.writerow(["step", "tokens", "elapsed_s", "lr", "loss", "loss_time", "loss_dur", "loss_note"])
        vw.writerow(["step", "tokens", "elapsed_s", "which", "loss", "loss_time", "loss_dur", "loss_note", "event_ppl"])

    def save():
        if not main_proc:
            return
        tmp = args.out / "last.pt.tmp"
        torch.save({"model": model.state_dict(), "ema": ema.state_dict(), "opt": opt.state_dict(),
                    "state": state, "torch_rng": torch.get_rng_state(), "args": vars(args),
                    "hf_config": model.config.to_dict() if args.arch == "gpt2" else None,
                    "aux_head": head.state_dict() if head is not None else None}, tmp)
        os.replace(tmp, ckpt_path)
        for folder, m in (("hf-ema", ema), ("hf-raw", model)):
            m.save_pretrained(args.out / folder)
            json.dump({"step": state["step"], "tokens": state["tokens"]}, open(args.out / folder / "step.json", "w"))
        train_csv.flush()

    best = {"loss": math.inf}

    def run_eval():
        if not main_proc:
            return
        for which, m in (("raw", model), ("ema", ema)):
            r = evaluate(m, valid_slice, args.micro, device)
            if which == "ema" and args.keep_best and args.arch == "gpt2" and r["loss"] < best["loss"]:
                best["loss"] = r["loss"]
                ema.save_pretrained(args.out / "hf-ema-best")
                json.dump({"step": state["step"], "tokens": state["tokens"], **r},
                          open(args.out / "hf-ema-best" / "valid.json", "w"), indent=1)
            vw.writerow([state["step"], state["tokens"], round(state["elapsed_s"], 1), which,
                         *(f"{r[k]:.5f}" for k in ("loss", "loss_time", "loss_dur", "loss_note", "event_ppl"))])
            print(f"  valid {which}: loss {r['loss']:.4f} (time {r['loss_time']:.3f}, dur {r['loss_dur']:.3f}, "
                  f"note {r['loss_note']:.3f}), event ppl {r['event_ppl']:.2f}", flush=True)
        valid_csv.flush()

    # SIGTERM/SIGINT end the run at the next step boundary with a final evaluation and checkpoint,
    # so a run can be stopped (e.g. to restart it with --cooldown-start) without losing steps.
    stop = {"now": False}

    def request_stop(signum, frame):
        stop["now"] = True

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)

    if args.key_prior:
        from melody_now import FEATURES, key_prior, key_prior_logits
        g = key_prior(train, train_index["vocab"], args.key_prior, args.seed, relative_to=args.key_source)
        table = torch.from_numpy(key_prior_logits(g, train_index["vocab"], vocab_size)).to(device)
        with torch.no_grad():
            model.melody_logits[FEATURES:].copy_(table)
            ema.melody_logits[FEATURES:].copy_(table)
        if main_proc:
            for mode, row in zip(("major", "minor"), g[:, 0]):  # one register
                print(f"melody_logits' {mode} key rows set to the key prior (tonic .. major seventh): "
                      + " ".join(f"{x:+.2f}" for x in row), flush=True)
        init_from_start = True
    if args.melody_prior:
        from melody_now import interval_prior, prior_logits
        g = interval_prior(train, train_index["vocab"], args.melody_prior, args.seed)
        table = torch.from_numpy(prior_logits(g, train_index["vocab"], vocab_size)).to(device)
        with torch.no_grad():
            model.melody_logits.copy_(table)
            ema.melody_logits.copy_(table)
        if main_proc:
            print("melody_logits set to the interval prior (unison .. major seventh): "
                  + " ".join(f"{x:+.2f}" for x in g), flush=True)
        init_from_start = True
    if init_from_start:  # the starting weights' validation loss: step 0 of the curve
        run_eval()
    started = time.time()
    base_elapsed = state["elapsed_s"]
    last_ckpt = last_eval = time.time()
    autocast = torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=args.bf16)
    aux_log = [0.0, 0, 0]  # the melody head's summed loss, right answers, labelled positions (20 steps)
    net.train()
    while (not stop["now"] and state["step"] < args.max_steps
           and time.time() - started < args.max_hours * 3600):
        lr = lr_at(state["step"], args, (time.time() - started) / 60, state.get("warmup_from", 0))
        for g in opt.param_groups:
            g["lr"] = lr * g.get("lr_mult", 1.0)
        sums = [0.0, 0.0, 0.0]
        counts = [0, 0, 0]
        for a in range(accum):
            if state["pos"] + args.batch > len(perm):
                state["epoch"] += 1
                state["pos"] = 0
                perm = order(state["epoch"])
            idx = perm[state["pos"] + rank * per_rank + a * args.micro:
                       state["pos"] + rank * per_rank + (a + 1) * args.micro]
            batch = train[np.sort(idx), :args.seq].astype(np.int64)
            ids = torch.from_numpy(batch).to(device)
            with autocast:
                out = net(input_ids=ids, output_hidden_states=head is not None)
            nll, parts = type_losses(out.logits, ids)
            loss = nll.mean()
            if head is not None:
                labels = torch.from_numpy(melody_labels(batch, train_index["vocab"])).to(device)
                aux_loss, (right, labelled) = head.loss(out.hidden_states[-1], labels)
                loss = loss + args.aux_melody * aux_loss
                aux_log[0] += aux_loss.item() * labelled
                aux_log[1] += right
                aux_log[2] += labelled
            loss = loss / accum
            loss.backward()
            for k in range(3):
                sums[k] += parts[k][0]
                counts[k] += parts[k][1]
        torch.nn.utils.clip_grad_norm_([p for g in opt.param_groups for p in g["params"]], 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        with torch.no_grad():
            d = args.ema if state["step"] > state["ema_start"] else 0.0
            for pe, pm in zip(ema.parameters(), model.parameters()):
                pe.mul_(d).add_(pm.detach(), alpha=1 - d)
        state["pos"] += args.batch
        state["step"] += 1
        state["tokens"] += args.batch * (args.seq - 1)
        state["elapsed_s"] = base_elapsed + time.time() - started
        if main_proc:
            tw.writerow([state["step"], state["tokens"], round(state["elapsed_s"], 1), f"{lr:.3e}",
                         f"{sum(sums) / sum(counts):.4f}", *(f"{sums[k] / counts[k]:.4f}" for k in range(3))])
            if state["step"] % 20 == 0:
                rate = state["tokens"] / max(state["elapsed_s"], 1e-9)
                aux = (f" melody head: loss {aux_log[0] / aux_log[2]:.3f}, {aux_log[1] / aux_log[2]:.1%} right"
                       if aux_log[2] else "")
                aux_log[:] = [0.0, 0, 0]
                print(f"step {state['step']} tokens {state['tokens']:,} loss {sum(sums) / sum(counts):.4f} "
                      f"lr {lr:.2e} {rate:,.0f} tok/s (run mean){aux}", flush=True)
        now = time.time()
        if now - last_eval > args.eval_minutes * 60:
            run_eval()
            last_eval = time.time()
        if now - last_ckpt > args.ckpt_minutes * 60:
            save()
            last_ckpt = time.time()
    run_eval()
    save()
    if distributed:
        import torch.distributed as dist
        dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())
