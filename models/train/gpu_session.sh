#!/usr/bin/env bash
# One lent-GPU session of antiphon-small v2 (README.md, "On a lent GPU"), in one command:
# tokenize the corpus there, then at once, on the one GPU,
#   main      resume the committed run (../antiphon-small/train-state.pt) with a time-based
#             cool-down, keeping the best EMA weights by validation loss;
#   cmp-*     three new runs of equal wall time for the recipe comparison: the v2 recipe
#             (192 x 4, half accompaniment lines), 80 % accompaniment lines, and 128 x 8
#             (depth for width);
# then score every run on the validation lines of both tasks, and the main run on the test
# lines, and pack the main run's compact checkpoint.
#
#   GPU_IN=DIR OUT=DIR models/train/gpu_session.sh
#
# GPU_IN holds `antiphon` (a release build of the CLI) and split.tar.xz (gather.py's work/split
# and work/music21-midi, links followed). What comes back in OUT: log.txt, runs.tar.xz (every
# run's CSV logs, run.json and scores), train-state.pt.part-* (cat them together) and the main
# run's EMA weights (hf-ema.safetensors, hf-ema-best.safetensors when the best is not the last).
# Knobs for a smoke test on a CPU: MINUTES, BATCH, MICRO, PY.
set -u
export PYTHONUNBUFFERED=1 TRANSFORMERS_VERBOSITY=error HF_HUB_DISABLE_PROGRESS_BARS=1 TQDM_DISABLE=1
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"
IN=$(cd "${GPU_IN:?GPU_IN: the folder with antiphon and split.tar.xz}" && pwd)
OUT=${OUT:?OUT: where results go}
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

say "machine"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>/dev/null || echo "no nvidia-smi"
"$PY" -c "import torch, transformers; print('torch', torch.__version__, 'transformers', transformers.__version__, 'cuda', torch.cuda.is_available())"
nproc

say "corpus"
tar -xJf "$IN/split.tar.xz" -C "$W"
A="$IN/antiphon"
chmod +x "$A" 2>/dev/null || true
S="$W/split"
T="$W/tok"
"$A" tokenize "$S/train" --vocab beats -o "$T/train-acc50-v2.bin" --augment 10 --seed 3 \
    --transpose -5..6 --accompany-share 0.5
"$A" tokenize "$S/train" --vocab beats -o "$T/train-acc80.bin" --augment 10 --seed 3 \
    --transpose -5..6 --accompany-share 0.8
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
"$PY" train.py --resume-compact ../antiphon-small/train-state.pt --train "$T/train-acc50-v2.bin" \
    --out "$W/main" --lr 1.4e-3 --warmup 100 --cooldown-minutes "$COOLDOWN" --keep-best "${common[@]}" \
    > "$W/main.log" 2>&1 &
pids=($!)
"$PY" train.py --train "$T/train-acc50-v2.bin" --out "$W/cmp-v2" --seed 11 \
    --n-embd 192 --n-layer 4 --n-head 4 --lr 2e-3 --warmup 100 "${common[@]}" > "$W/cmp-v2.log" 2>&1 &
pids+=($!)
"$PY" train.py --train "$T/train-acc80.bin" --out "$W/cmp-acc80" --seed 11 \
    --n-embd 192 --n-layer 4 --n-head 4 --lr 2e-3 --warmup 100 "${common[@]}" > "$W/cmp-acc80.log" 2>&1 &
pids+=($!)
"$PY" train.py --train "$T/train-acc50-v2.bin" --out "$W/cmp-deep" --seed 11 \
    --n-embd 128 --n-layer 8 --n-head 4 --lr 2e-3 --warmup 100 "${common[@]}" > "$W/cmp-deep.log" 2>&1 &
pids+=($!)
sleep 60
say "one minute in"; nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv 2>/dev/null
tail -n 2 "$W"/*.log
wait "${pids[@]}"  # not a bare wait: that would wait for the tee above too
for r in main cmp-v2 cmp-acc80 cmp-deep; do say "$r"; tail -n 4 "$W/$r.log"; done

say "scores"
dev=$("$PY" -c "import torch; print('cuda' if torch.cuda.is_available() else 'cpu')")
models=()
for r in main cmp-v2 cmp-acc80 cmp-deep; do
    [ -d "$W/$r/hf-ema" ] && models+=(--model "$r=$W/$r/hf-ema")
done
[ -d "$W/main/hf-ema-best" ] && models+=(--model "main-best=$W/main/hf-ema-best")
for lines in valid valid-acc valid-acc-mutopia; do
    "$PY" eval_lm.py --lines "$T/$lines.bin" "${models[@]}" --device "$dev" --out "$W/score-$lines.json"
done
for lines in test test-acc test-acc-mutopia; do
    "$PY" eval_lm.py --lines "$T/$lines.bin" --model "main=$W/main/hf-ema" --device "$dev" \
        --out "$W/score-main-$lines.json"
done

say "packing"
"$PY" pack_checkpoint.py "$W/main/last.pt" --out "$W/train-state.pt" --check
split -b 15M -d "$W/train-state.pt" "$OUT/train-state.pt.part-"
cp "$W/main/hf-ema/model.safetensors" "$OUT/hf-ema.safetensors"
best_step=$("$PY" -c "import json; print(json.load(open('$W/main/hf-ema-best/valid.json'))['step'])" 2>/dev/null || echo none)
last_step=$("$PY" -c "import torch; print(torch.load('$W/main/last.pt', weights_only=False)['state']['step'])")
say "main: last step $last_step, best EMA at step $best_step"
[ "$best_step" != none ] && [ "$best_step" != "$last_step" ] && \
    cp "$W/main/hf-ema-best/model.safetensors" "$OUT/hf-ema-best.safetensors"
(cd "$W" && tar -cJf "$OUT/runs.tar.xz" ./*.log ./score-*.json ./tok/*.json \
    ./*/train.csv ./*/valid.csv ./*/run.json ./main/hf-ema/config.json ./main/hf-ema-best/valid.json)
ls -la "$OUT"
say "done"
