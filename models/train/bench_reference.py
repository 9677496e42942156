"""Time the reference AMT sampling loop on a model, for the side-by-side with `antiphon bench`.

    python bench_reference.py --checkpoint DIR --vocab vocab_beats.json [--tokens 300] [--threads 1]
    python bench_reference.py --random 192,4,4 --vocab vocab_beats.json --save DIR   # make one

The reference (SPEC.md §8.2, `add_token`) runs a full forward pass of `transformers`'
GPT2LMHeadModel over the flag plus up to 1017 tokens of history for every token it samples,
with no KV cache. This script reproduces that cost faithfully: it feeds the growing history
(capped at the reference's window) through the model once per generated token, takes the last
row of logits, applies the reference's type mask, and samples. It prints JSON with tokens per
second, so the figure can be put beside the Rust engine's, which decodes the same weights
(exported with export_hf.py) through ONNX Runtime with a KV cache.

`--random W,L,H` makes a random model of width W, L layers and H heads with
scale_attn_by_inverse_layer_idx, saves it with save_pretrained to `--save`, and exits: export it
with export_hf.py to time the same weights from Rust.
"""

from __future__ import annotations

import argparse
import json
import time

WINDOW = 1017  # tokens of history the reference keeps (SPEC §8.2)


def make_random(spec: str, vocab: dict, save: str, seed: int) -> None:
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    width, layers, heads = (int(x) for x in spec.split(","))
    torch.manual_seed(seed)
    config = GPT2Config(
        vocab_size=vocab["vocab_size"], n_positions=1024, n_embd=width, n_layer=layers,
        n_head=heads, scale_attn_by_inverse_layer_idx=True, bos_token_id=vocab["separator"],
        eos_token_id=vocab["separator"],
    )
    model = GPT2LMHeadModel(config).eval()
    model.save_pretrained(save)
    params = sum(p.numel() for p in model.parameters())
    print(json.dumps({"saved": save, "parameters": params}))


def time_reference(checkpoint: str, vocab: dict, tokens: int, prompt: int, threads: int, seed: int) -> dict:
    import torch
    from transformers import GPT2LMHeadModel

    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    model = GPT2LMHeadModel.from_pretrained(checkpoint).eval()
    v = vocab
    time_ids = range(v["time_offset"], v["time_offset"] + v["max_time"])
    dur_ids = range(v["duration_offset"], v["duration_offset"] + v["max_duration"])
    note_end = v["note_offset"] + v["max_pitch"] * v["num_instruments"]
    flag = [v["autoregress"]]
    # A prompt of whole triples (one note per tick step) so the window starts near its full size.
    history = [
        tok
        for i in range(prompt // 3)
        for tok in (v["time_offset"] + i % v["max_time"], v["duration_offset"] + 1, v["note_offset"] + 60)
    ]
    new: list[int] = []
    started = time.perf_counter()
    with torch.no_grad():
        for i in range(tokens):
            window = history[max(len(history) - WINDOW, 0):]
            ids = torch.tensor([flag + window + new])
            logits = model(ids).logits[0, -1]
            logits[v["control_offset"]:] = -float("inf")
            position = len(new)
            if position != 0:
                logits[time_ids.start:time_ids.stop] = -float("inf")
            if position != 1:
                logits[dur_ids.start:dur_ids.stop] = -float("inf")
            if position != 2:
                logits[v["note_offset"]:note_end] = -float("inf")
            token = int(torch.multinomial(torch.softmax(logits, -1), 1))
            new.append(token)
            if len(new) == 3:
                history.extend(new)
                new = []
    elapsed = time.perf_counter() - started
    return {
        "implementation": "reference loop (transformers, full forward per token)",
        "tokens": tokens,
        "prompt_tokens": len(history) - (tokens // 3) * 3,
        "threads": threads,
        "seconds": elapsed,
        "tokens_per_s": tokens / elapsed,
        "torch": torch.__version__,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", help="saved GPT2LMHeadModel folder to time")
    ap.add_argument("--random", help="W,L,H: make a random model instead (needs --save)")
    ap.add_argument("--save", help="where --random saves its checkpoint")
    ap.add_argument("--vocab", required=True, help="VocabSpec JSON")
    ap.add_argument("--tokens", type=int, default=300, help="tokens to generate")
    ap.add_argument("--prompt-tokens", type=int, default=900, help="history before generating")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    with open(a.vocab) as f:
        vocab = json.load(f)
    if a.random:
        if not a.save:
            ap.error("--random needs --save")
        make_random(a.random, vocab, a.save, a.seed)
    elif a.checkpoint:
        print(json.dumps(time_reference(a.checkpoint, vocab, a.tokens, a.prompt_tokens, a.threads, a.seed), indent=2))
    else:
        ap.error("give --checkpoint or --random")


if __name__ == "__main__":
    main()
