#!/usr/bin/env bash
# One lent-GPU session of antiphon-small v2 (README.md, "On a lent GPU"), in one command:
# tokenize the corpus there, then train several runs at once on the one GPU, score them on the
# validation and test lines, and pack compact checkpoints. PLAN picks the runs:
#
# PLAN=recipes (session 3)
#   main      resume the committed run (../antiphon-small/train-state.pt) with a time-based
#             cool-down, keeping the best EMA weights by validation loss;
#   cmp-*     three new runs of equal wall time for the recipe comparison: the v2 recipe
#             (192 x 4, half accompaniment lines), 80 % accompaniment lines, and 128 x 8
#             (depth for width);
# PLAN=synthetic (session 5)
#   main      as above, on the v2 lines;
#   syn       the same start and schedule on the v2 lines plus the 2000 synthetic pieces of
#             make_synthetic.py --seed 1 (13 % of the lines);
#   syn2      the same plus 2000 more (--seed 2; 23 % of the lines);
#   every run is scored on the test lines too and packed, so the one that wins goes on.
# PLAN=continue (the default since session 7)
#   main      as above, alone. Since session 7 the committed run reads the melody sounding now
#             (--melody-now, melody_now.py), and resuming keeps it; the weights that come back
#             include its two matrices (R-melody_now.tar).
# PLAN=melody (session 7: the committed --melody-now run, scored by probe_melody.py too)
#   main      as above. (Session 6's arms, the melody target and --share-controls, started from
#             a plain checkpoint; a --melody-now run keeps its melody head as it is.)
#
#   GPU_IN=DIR OUT=DIR models/train/gpu_session.sh
#
# GPU_IN holds `antiphon` (a release build of the CLI) and split.tar.xz (gather.py's work/split
# and work/music21-midi, and for PLAN=synthetic work/synthetic and work/synthetic2; links
# followed). What comes back in OUT: log.txt, runs.tar.xz (every run's CSV logs, run.json and
# scores), and for each packed run R: R-train-state.pt.part-* (cat them together) and its EMA
# weights R-hf-ema.safetensors (R-hf-ema-best.safetensors when the best is not the last).
# Knobs for a smoke test on a CPU: MINUTES, BATCH, MICRO, PY.
set -u
export PYTHONUNBUFFERED=1 TRANSFORMERS_VERBOSITY=error HF_HUB_DISABLE_PROGRESS_BARS=1 TQDM_DISABLE=1
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"
IN=$(cd "${GPU_IN:?GPU_IN: the folder with antiphon and split.tar.xz}" && pwd)
OUT=${OUT:?OUT: where results go}
PLAN=${PLAN:-continue}
PY=${PY:-python3}
MINUTES=${MINUTES:-6.5}
COOLDOWN=$(awk "BEGIN { print $MINUTES * 0.4 }")
HOURS=$(awk "BEGIN { print $MINUTES / 60 }")
BATCH=${BATCH:-64}
MICRO=${MICRO:-64}
W=${WORK:-/tmp/antiphon-gpu}
rm -rf "$W" && mkdir -p "$W/tok"
exec > >(tee -a "$OUT/log.txt") 2>&1
say() { echo "[$(date +%T) +${SECONDS}s] $*"; }

say "machine, plan $PLAN"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>/dev/null || echo "no nvidia-smi"
"$PY" -c "import torch, transformers; print('torch', torch.__version__, 'transformers', transformers.__version__, 'cuda', torch.cuda.is_available())"
nproc

say "corpus"
tar -xJf "$IN/split.tar.xz" -C "$W"
A="$IN/antiphon"
chmod +x "$A" 2>/dev/null || true
S="$W/split"
T="$W/tok"
train_tok() {  # OUTPUT ACCOMPANY_SHARE FOLDER...: the training lines, as in README.md step 2
    local out=$1 share=$2
    shift 2
    "$A" tokenize "$@" --vocab beats -o "$out" --augment 10 --seed 3 --transpose -5..6 \
        --accompany-share "$share"
}
train_tok "$T/train-acc50-v2.bin" 0.5 "$S/train"
"$A" tokenize "$S/valid/lieder" "$S/valid/quartets" --vocab beats -o "$T/valid.bin"
"$A" tokenize "$S/valid/lieder" "$S/valid/quartets" --vocab beats -o "$T/valid-acc.bin" --accompany-share 1
"$A" tokenize "$S/valid/mutopia" --vocab beats -o "$T/valid-acc-mutopia.bin" --accompany-share 1
"$A" tokenize "$S/test/lieder" "$S/test/music21" "$S/test/quartets" --vocab beats -o "$T/test.bin"
"$A" tokenize "$S/test/lieder" "$S/test/music21" "$S/test/quartets" --vocab beats -o "$T/test-acc.bin" --accompany-share 1
"$A" tokenize "$S/test/mutopia" --vocab beats -o "$T/test-acc-mutopia.bin" --accompany-share 1
# the committed run's data order continues only over the same lines: compare with the README's
sha256sum "$T/train-acc50-v2.bin" "$T/valid.bin"

say "training, ${MINUTES} minutes"
common=(--valid "$T/valid.bin" --bf16 --batch "$BATCH" --micro "$MICRO" --threads 3
        --ema 0.995 --eval-minutes 1 --eval-lines 256 --ckpt-minutes 2 --max-hours "$HOURS")
resume=(--resume-compact ../antiphon-small/train-state.pt --lr 1.4e-3 --warmup 100
        --cooldown-minutes "$COOLDOWN" --keep-best)
fresh=(--seed 11 --lr 2e-3 --warmup 100)
pids=()
run() {  # NAME ARGS...: one training run in the background
    local name=$1
    shift
    runs+=("$name")
    "$PY" train.py --out "$W/$name" "$@" "${common[@]}" > "$W/$name.log" 2>&1 &
    pids+=($!)
}
runs=()
case "$PLAN" in
recipes)
    train_tok "$T/train-acc80.bin" 0.8 "$S/train"
    packed=(main)
    run main --train "$T/train-acc50-v2.bin" "${resume[@]}"
    run cmp-v2 --train "$T/train-acc50-v2.bin" --n-embd 192 --n-layer 4 --n-head 4 "${fresh[@]}"
    run cmp-acc80 --train "$T/train-acc80.bin" --n-embd 192 --n-layer 4 --n-head 4 "${fresh[@]}"
    run cmp-deep --train "$T/train-acc50-v2.bin" --n-embd 128 --n-layer 8 --n-head 4 "${fresh[@]}"
    ;;
synthetic)
    train_tok "$T/train-acc50-v2-syn.bin" 0.5 "$S/train" "$W/synthetic"
    train_tok "$T/train-acc50-v2-syn2.bin" 0.5 "$S/train" "$W/synthetic" "$W/synthetic2"
    packed=(main syn syn2)
    run main --train "$T/train-acc50-v2.bin" "${resume[@]}"
    run syn --train "$T/train-acc50-v2-syn.bin" --reset-data "${resume[@]}"
    run syn2 --train "$T/train-acc50-v2-syn2.bin" --reset-data "${resume[@]}"
    ;;
continue)
    packed=(main)
    run main --train "$T/train-acc50-v2.bin" "${resume[@]}"
    ;;
melody)
    packed=(main)
    run main --train "$T/train-acc50-v2.bin" "${resume[@]}"
    ;;
*) echo "PLAN: recipes, synthetic, continue or melody" >&2; exit 2 ;;
esac
sleep 60
say "one minute in"; nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv 2>/dev/null
tail -n 2 "$W"/*.log
wait "${pids[@]}"  # not a bare wait: that would wait for the tee above too
for r in "${runs[@]}"; do say "$r"; tail -n 4 "$W/$r.log"; done

say "packing"
bests=()  # the best EMA weights of a packed run, when they are not its last (scored below)
for r in "${packed[@]}"; do
    "$PY" pack_checkpoint.py "$W/$r/last.pt" --out "$W/$r-train-state.pt" --check
    split -b 15M -d "$W/$r-train-state.pt" "$OUT/$r-train-state.pt.part-"
    cp "$W/$r/hf-ema/model.safetensors" "$OUT/$r-hf-ema.safetensors"
    if [ -f "$W/$r/hf-ema/melody_now.json" ]; then  # a --melody-now run's own matrices
        tar -cf "$OUT/$r-melody_now.tar" -C "$W/$r/hf-ema" melody_now.json melody_now.npy melody_now_logits.npy
    fi
    best_step=$("$PY" -c "import json; print(json.load(open('$W/$r/hf-ema-best/valid.json'))['step'])" 2>/dev/null || echo none)
    last_step=$("$PY" -c "import torch; print(torch.load('$W/$r/last.pt', weights_only=False)['state']['step'])")
    say "$r: last step $last_step, best EMA at step $best_step"
    if [ "$best_step" != none ] && [ "$best_step" != "$last_step" ]; then
        cp "$W/$r/hf-ema-best/model.safetensors" "$OUT/$r-hf-ema-best.safetensors"
        bests+=(--model "$r-best=$W/$r/hf-ema-best")
    fi
done
say "scores"
dev=$("$PY" -c "import torch; print('cuda' if torch.cuda.is_available() else 'cpu')")
models=()
for r in "${runs[@]}"; do
    [ -d "$W/$r/hf-ema" ] && models+=(--model "$r=$W/$r/hf-ema")
done
models+=("${bests[@]}")
tested=()
for r in "${packed[@]}"; do
    [ -d "$W/$r/hf-ema" ] && tested+=(--model "$r=$W/$r/hf-ema")
done
for lines in valid valid-acc valid-acc-mutopia; do
    "$PY" eval_lm.py --lines "$T/$lines.bin" "${models[@]}" --device "$dev" --out "$W/score-$lines.json"
done
for lines in test test-acc test-acc-mutopia; do
    "$PY" eval_lm.py --lines "$T/$lines.bin" "${tested[@]}" --device "$dev" --out "$W/score-tested-$lines.json"
done
if [ "$PLAN" = melody ]; then
    "$PY" probe_melody.py "${tested[@]}" --songs "$S/valid/lieder" --antiphon "$A" --device "$dev" \
        --out "$W/score-probe-valid.json"
fi

(cd "$W" && tar -cJf "$OUT/runs.tar.xz" ./*.log ./score-*.json ./tok/*.json \
    ./*/train.csv ./*/valid.csv ./*/run.json ./*/hf-ema/config.json ./*/hf-ema-best/valid.json)
ls -la "$OUT"
say "done"
