#!/usr/bin/env python3
"""Regenerates this folder's expected outputs by running the reference implementation of the
Anticipatory Music Transformer (github.com/jthickstun/anticipation, commit af37397) on the
inputs kept here, the way the reference's whole conformance set was made (that set's README,
shared/amt/conformance/README.md beside the repository, describes every field written below).

    python3 tests/data/conformance/regenerate.py --reference DIR

DIR holds the reference's `anticipation/` package (for example `git archive af37397
anticipation | tar -x -C DIR`); it is put on sys.path, not installed, and none of its code is
kept in the repository. Needs mido 1.2.10, numpy, tqdm and torch (CPU is enough).

Inputs: midi/*.mid (files written with mido for the set; they stay as they are). Written:
expected/, roundtrip/, sampling/, training/, units.json and index.json. Only inputs that may be
redistributed belong in midi/ (README.md says which were left out and why).
"""

import argparse
import hashlib
import json
import platform
import shutil
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
COMMIT = "af37397922665a0fb8d474d7988b0f3755a38d45"

# The fixed control choice of each input for the anticipation packing (the set's README).
CONTROL_INSTRUMENTS = {
    "07_synth_drums_ch10": [128],
    "08_synth_program_changes": [73],
    "09_synth_17_instruments": [0, 105],
    "10_synth_overlaps_zero_length": [0],
    "11_synth_tempo_changes": [48],
    "12_synth_type0_rounding": [40],
    "13_synth_long_file_long_notes": [42],
    "14_synth_type0_cc_between_notes": [32],
}

# Inputs of units.json -> ops (and of the instr_logits histories), as in the whole set.
E = [0, 10050, 11060, 0, 10100, 11064, 120, 10030, 15264, 250, 10999, 11067,
     700, 10020, 27420, 1900, 10010, 11072]
C = [27563, 37553, 43709, 28113, 37553, 43710, 28163, 37553, 43712, 30113, 37523, 43714]
S = [300, 10010, 11060, 55025, 55025, 55025, 100, 10010, 11062, 20000, 10010, 11064]


def dump(path, value, indent=None):
    seps = (",", ":") if indent is None else None
    text = json.dumps(value, indent=indent, separators=seps)
    path.write_text(text + ("\n" if indent is not None else ""))


def sha256_file(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def triples(tokens):
    return [tuple(tokens[i:i + 3]) for i in range(0, len(tokens), 3)]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reference", type=Path, required=True,
                    help="folder holding the reference's anticipation/ package")
    args = ap.parse_args()
    sys.path.insert(0, str(args.reference.resolve()))

    import mido
    import numpy as np
    import torch
    from anticipation import config, convert, ops, sample, tokenize, vocab

    V = vocab.VOCAB_SIZE
    reference = {"repo": "github.com/jthickstun/anticipation", "commit": COMMIT,
                 "mido": mido.__version__, "python": platform.python_version()}

    def pack(tokens, flag):
        """One file's training lines as the reference's tokenize() packs them."""
        seq = [vocab.SEPARATOR] * 3 + tokens
        width = config.EVENT_SIZE * config.M
        lines, discarded = [], 0
        while len(seq) >= width:
            chunk, seq = seq[:width], seq[width:]
            chunk = ops.translate(chunk, -ops.min_time(chunk, seconds=False), seconds=False)
            if ops.max_time(chunk, seconds=False) >= config.MAX_TIME:
                discarded += 1
                continue
            lines.append([flag] + chunk)
        return lines, len(seq), discarded

    # ---- per-file outputs ----
    inputs = sorted((HERE / "midi").glob("*.mid"))
    for sub in ["expected", "roundtrip", "sampling", "training"]:
        shutil.rmtree(HERE / sub, ignore_errors=True)
        (HERE / sub).mkdir()
    index_files, all_events = [], {}
    for path in inputs:
        name = path.stem
        mid = mido.MidiFile(str(path))
        compound = convert.midi_to_compound(str(path))
        events, truncations = convert.compound_to_events(compound, stats=True)
        assert events == convert.midi_to_events(str(path))
        all_events[name] = events
        instruments = dict(sorted(ops.get_instruments(events).items()))
        rec = {
            "file": path.name, "sha256": sha256_file(path), "reference": reference,
            "midi_info": {"type": mid.type, "ticks_per_beat": mid.ticks_per_beat,
                          "tracks": len(mid.tracks), "mido_length_seconds": mid.length},
            "compound": compound, "events": events, "duration_truncations": truncations,
            "events_summary": {
                "n_events": len(events) // 3,
                "min_time_ticks": ops.min_time(events, seconds=False),
                "max_time_ticks": ops.max_time(events, seconds=False),
                "instruments": instruments,
                "time_tokens_over_MAX_TIME": sum(t >= config.MAX_TIME for t in events[0::3]),
            },
            "events_to_compound": convert.events_to_compound(events),
            "interarrival": convert.midi_to_interarrival(str(path)),
        }
        try:
            out = HERE / "roundtrip" / path.name
            convert.events_to_midi(events).save(str(out))
            back = convert.midi_to_events(str(out))
            rec["roundtrip"] = {
                "ok": True, "error": None, "midi_file": f"roundtrip/{path.name}",
                "midi_sha256": sha256_file(out), "events": back,
                "equal_to_events": back == events,
                "equal_as_multiset": sorted(triples(back)) == sorted(triples(events)),
            }
        except Exception as e:  # the writer's own failure is an expected output (file 09)
            (HERE / "roundtrip" / path.name).unlink(missing_ok=True)
            rec["roundtrip"] = {"ok": False, "error": f"{type(e).__name__}: {e}"}
        rec["maybe_tokenize_status"] = tokenize.maybe_tokenize(compound)[2]

        end_time = ops.max_time(events, seconds=False)
        padded = ops.pad(events, end_time)
        lines, tail, discarded = pack(padded, vocab.AUTOREGRESS)
        rec["ar"] = {
            "end_time_ticks": end_time, "padded_events": padded,
            "rest_count": sum(t == vocab.REST for t in padded[2::3]),
            "training_lines": lines, "tail_tokens_dropped": tail,
            "discarded_lines_max_time": discarded,
        }
        chosen = CONTROL_INSTRUMENTS[name]
        ev, ctl = tokenize.extract_instruments(events, chosen)
        apadded = ops.pad(ev, end_time)
        interleaved, unconsumed = ops.anticipate(apadded, ctl)
        alines, atail, adiscarded = pack(interleaved, vocab.ANTICIPATE)
        rec["anticipation"] = {
            "control_instruments": chosen, "delta_ticks": config.DELTA * config.TIME_RESOLUTION,
            "events": ev, "controls": ctl, "end_time_ticks": end_time,
            "padded_events": apadded, "interleaved": interleaved,
            "unconsumed_controls": unconsumed, "training_lines": alines,
            "tail_tokens_dropped": atail, "discarded_lines_max_time": adiscarded,
        }
        dump(HERE / "expected" / f"{name}.json", rec)
        rt = rec["roundtrip"]
        index_files.append({
            "file": path.name, "events": len(events) // 3, "max_time": end_time,
            "instruments": sorted(instruments), "truncations": truncations,
            "status": rec["maybe_tokenize_status"], "roundtrip_ok": rt["ok"],
            "roundtrip_equal": rt.get("equal_to_events"),
            "roundtrip_multiset_equal": rt.get("equal_as_multiset"),
            "ar_lines": len(lines), "aar_lines": len(alines), "unconsumed": len(unconsumed) // 3,
            "sha256": rec["sha256"], "expected": f"expected/{name}.json",
            "roundtrip_error": rt["error"],
        })

    # ---- training corpus over these inputs ----
    corpus = []
    with tempfile.TemporaryDirectory() as tmp:
        compound_files = []
        for path in inputs:
            f = Path(tmp) / f"{path.stem}.compound.txt"
            f.write_text(" ".join(map(str, convert.midi_to_compound(str(path)))))
            compound_files.append(str(f))
        for augment in [1, 10]:
            out = HERE / "training" / f"corpus_tokenize_augment{augment}.txt"
            result = tokenize.tokenize(compound_files, str(out), augment)
            corpus.append({
                "tokenize": out.name,
                "result(seqcount, rest_count, short, long, many_instr, discarded_seqs, "
                "truncations)": list(result),
            })
    dump(HERE / "index.json",
         {"reference_commit": COMMIT, "files": index_files, "corpus_tokenize": corpus}, indent=1)

    # ---- sampling driver with the fake model and greedy choice ----
    class FakeModel:
        """The whole set's deterministic fake model (its README, "Sampling fixtures")."""

        device = "cpu"

        def __init__(self):
            self.calls = []

        def __call__(self, x):
            ids = x[0].tolist()
            L = len(ids)
            h = sum((j + 1) * t for j, t in enumerate(ids)) % 1000003
            phase = (L - 1) % 3
            if phase == 0:
                last = 0
                for k in range((L - 1) // 3):
                    if ids[3 + 3 * k] < vocab.CONTROL_OFFSET:
                        last = ids[1 + 3 * k]
                target = last + [0, 0, 5, 10, 15, 25, 40][h % 7]
            elif phase == 1:
                target = 10000 + [0, 10, 25, 50, 100, 999][h % 6]
            elif h % 11 == 0:
                target = vocab.REST
            else:
                target = 11000 + 128 * [0, 0, 0, 33, 128, 40, 73][h % 7] + 36 + (h // 7) % 48
            v = torch.arange(V, dtype=torch.int64)
            logits = -(2 * (v - target).abs() + (v > target).long()).to(torch.float32)
            digest = hashlib.sha256(" ".join(map(str, ids)).encode()).hexdigest()[:16]
            if not self.calls:
                self.first_input = ids
            self.calls.append([L, digest, target])

            class Out:
                pass

            out = Out()
            out.logits = logits.view(1, 1, V)
            return out

    def run_scenario(name, function, params, inputs=None, controls=None):
        model = FakeModel()
        chosen, final = [], []

        def greedy(probs, n):
            i = int(torch.argmax(probs))  # first maximum
            chosen.append(i)
            return torch.tensor([i])

        # The full token list at the end of the loop is what the driver splits (generate) or
        # unpads (generate_ar) last.
        split, unpad = ops.split, ops.unpad

        def rec_split(tokens):
            final[:] = [list(tokens)]
            return split(tokens)

        def rec_unpad(tokens):
            if function == "generate_ar":
                final[:] = [list(tokens)]
            return unpad(tokens)

        multinomial = torch.multinomial
        torch.multinomial, ops.split, ops.unpad = greedy, rec_split, rec_unpad
        try:
            fn = getattr(sample, function)
            out = fn(model, params["start_time"], params["end_time"],
                     inputs=None if inputs is None else list(inputs),
                     controls=None if controls is None else list(controls),
                     top_p=params["top_p"])
        finally:
            torch.multinomial, ops.split, ops.unpad = multinomial, split, unpad
        case = {
            "scenario": name, "function": function, "params": params,
            "inputs": inputs, "controls": controls,
            "first_model_input": model.first_input, "n_model_calls": len(model.calls),
            "trace": [c + [t] for c, t in zip(model.calls, chosen)],
            "final_token_sequence": final[0], "output_events": out,
        }
        dump(HERE / "sampling" / f"{name}.json", case)

    run_scenario("S1_unconditional_0_to_60s", "generate",
                 {"start_time": 0, "end_time": 60, "top_p": 1.0})
    run_scenario("S5_early_controls_0_to_12s", "generate",
                 {"start_time": 0, "end_time": 12, "top_p": 1.0},
                 controls=[27513, 37563, 43705, 27517, 37563, 43707, 27518, 37563, 43709,
                           27813, 37563, 43710, 28413, 37563, 43712])
    # Stand-ins for the whole set's S2-S4, which are built on corpus pieces: the same calls on
    # inputs kept here. Continuation: file 13's events after 8 s become anticipated controls.
    run_scenario("S6_continuation_of_13_8_to_30s", "generate",
                 {"start_time": 8, "end_time": 30, "top_p": 0.98},
                 inputs=all_events["13_synth_long_file_long_notes"])
    # Accompaniment: file 07's bass (program 33) as the melody, its drums as the history.
    drums, bass = tokenize.extract_instruments(all_events["07_synth_drums_ch10"], [33])
    history = ops.clip(drums, 0, 5, clip_duration=False)
    run_scenario("S7_accompaniment_of_07_5_to_18s", "generate",
                 {"start_time": 5, "end_time": 18, "top_p": 0.95},
                 inputs=history, controls=bass)
    run_scenario("S8_generate_ar_of_07_5_to_18s", "generate_ar",
                 {"start_time": 5, "end_time": 18, "top_p": 0.95},
                 inputs=history, controls=bass)

    # ---- units.json ----
    def finite_ranges(logits):
        ok = torch.isfinite(logits).tolist()
        ranges, start = [], None
        for i, f in enumerate(ok + [False]):
            if f and start is None:
                start = i
            elif not f and start is not None:
                ranges.append([start, i])
                start = None
        return ranges

    def zeros():
        return torch.zeros(V, dtype=torch.float32)

    def upper(module):
        return {k: getattr(module, k) for k in sorted(dir(module)) if k.isupper()}

    units = {"config": upper(config)}
    units["vocab"] = {k: v for k, v in upper(vocab).items() if k not in units["config"]}
    units["safe_logits_allowed_ranges"] = {
        str(i): finite_ranges(sample.safe_logits(zeros(), i))
        for i in [0, 1, 2, 3, 1017, 1018, 1019]}
    units["future_logits_allowed_ranges"] = {
        str(t): finite_ranges(sample.future_logits(zeros(), t))
        for t in [0, 1, 250, 9999, 10000, 12000, -5]}
    base = []
    for i in range(14):  # 14 instruments, one note each
        base += [10 * i, 10010, 11000 + 128 * i + 60]
    histories = {
        "14_instruments_no_rest": base,
        "14_instruments_plus_rest": base + [150, 10000, vocab.REST],
        "15_instruments_incl_drums": base + [200, 10010, 11000 + 128 * 128 + 36],
        "14_events_plus_1_control_instrument": base + [28013, 37523, 38513 + 128 * 99 + 70],
        "16_instruments": base + [140, 10010, 11000 + 128 * 14 + 60,
                                  200, 10010, 11000 + 128 * 128 + 36],
    }
    units["instr_logits"] = {
        k: {"history": h, "get_instruments": dict(sorted(ops.get_instruments(h).items())),
            "allowed_ranges": finite_ranges(sample.instr_logits(zeros(), h))}
        for k, h in histories.items()}
    v = np.arange(V, dtype=np.int64)
    base_logits = torch.from_numpy(-((v * 7919) % V).astype(np.float32) / np.float32(50.0))
    nucleus = {"logit_formula":
               "logit[v] = -float32((v*7919) mod VOCAB_SIZE) / 50.0 (float32)"}
    for p in [1.0, 0.999, 0.98, 0.95, 0.9, 0.5, 0.0]:
        kept = torch.nonzero(torch.isfinite(sample.nucleus(base_logits.clone(), p))).flatten()
        nucleus[str(p)] = {"kept_count": len(kept),
                           "kept_sorted": None if p == 1.0 else sorted(kept.tolist())}
    units["nucleus"] = nucleus
    SEP, REST = vocab.SEPARATOR, vocab.REST
    quirk = [27600, 10010, 11060]  # a time token >= CONTROL_OFFSET read as a control
    unknown_long = [5, -1, 60, 0, 100, 7, 1500, 61, 128, 100]
    o = {
        "E": E, "C": C,
        "clip(E,1,2.5,clip_duration=True,seconds=True)": ops.clip(E, 1, 2.5),
        "clip(E,0,700,clip_duration=False,seconds=False)":
            ops.clip(E, 0, 700, clip_duration=False, seconds=False),
        "clip(E,0,700,clip_duration=True,seconds=False)":
            ops.clip(E, 0, 700, clip_duration=True, seconds=False),
        "clip(C,5,max_time(C),clip_duration=False,seconds=False)":
            ops.clip(C, 5, ops.max_time(C, seconds=False), clip_duration=False, seconds=False),
        "mask(E,1.0,7.0)": ops.mask(E, 1.0, 7.0),
        "sort(E reversed triples)": ops.sort([t for tr in reversed(triples(E)) for t in tr]),
        "split(E+C)": list(ops.split(E + C)),
        "pad(E)": ops.pad(E),
        "pad(E,end_time=2500)": ops.pad(E, end_time=2500),
        "pad(E,density=50)": ops.pad(E, density=50),
        "unpad(pad(E))": ops.unpad(ops.pad(E)),
        "anticipate(pad(E),C)": list(ops.anticipate(ops.pad(E), C)),
        "anticipate(E,C)": list(ops.anticipate(E, C)),
        "anticipate(E,C,delta=100)": list(ops.anticipate(E, C, delta=100)),
        "anticipate(E,[])": list(ops.anticipate(E, [])),
        "anticipate([],C)": list(ops.anticipate([], C)),
        "sparsity(E)": ops.sparsity(E),
        "min_time(E+C,seconds=False)": ops.min_time(E + C, seconds=False),
        "max_time(E+C,seconds=False)": ops.max_time(E + C, seconds=False),
        "max_time(E,seconds=True)": ops.max_time(E, seconds=True),
        "min_time(E,seconds=False,instr=33)": ops.min_time(E, seconds=False, instr=33),
        "max_time(E,seconds=False,instr=0)": ops.max_time(E, seconds=False, instr=0),
        "S": S,
        "min_time(S,seconds=False)": ops.min_time(S, seconds=False),
        "max_time(S,seconds=False)": ops.max_time(S, seconds=False),
        "translate(S,-300)": ops.translate(S, -300),
        "translate(E,2.5,seconds=True)": ops.translate(E, 2.5, seconds=True),
        "get_instruments(E+C+[REST])":
            dict(sorted(ops.get_instruments(E + C + [0, 10000, REST]).items())),
        "combine(E,C)": ops.combine(E, C),
        "events_to_compound(E + SEP*3 + E)": convert.events_to_compound(E + [SEP] * 3 + E),
        "events_to_compound(pad(E)+C)": convert.events_to_compound(ops.pad(E) + C),
        "extract_instruments(E,[0])": list(tokenize.extract_instruments(E, [0])),
        "events_to_compound(time 27600 >= CONTROL_OFFSET quirk)":
            convert.events_to_compound(quirk),
        "compound_to_events([time,-1,note,instr,vel] unknown duration and long duration)":
            convert.compound_to_events(unknown_long),
    }
    units["ops"] = o
    dump(HERE / "units.json", units)
    print(f"regenerate: {len(inputs)} inputs, 5 sampling scenarios, units.json", file=sys.stderr)


if __name__ == "__main__":
    main()
