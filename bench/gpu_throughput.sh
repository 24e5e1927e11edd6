#!/usr/bin/env bash
# The GPU throughput targets of issue 6, in one call (about 5 minutes on one H100):
# B=1024 queries, D=3072, 20 steps; K=16,384 and 131,072 in bf16 / TF32 / fp32 beside a
# hand-written jax.numpy loop measured in the same run; K=2^20 with 65,536-memory chunks (bf16).
# Usage on the GPU machine (JAX with CUDA installed):  bash bench/gpu_throughput.sh [OUT_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-results/gpu-throughput}
python -m pip install --quiet --no-deps -e . 2>/dev/null || true
nvidia-smi --query-gpu=name,memory.total,clocks.max.sm --format=csv || true
python -m ambench.cli run throughput --model dam-softmax --dataset random --out "$OUT" \
  --set dim=3072 --set batch=1024 --set n_steps=20 --set similarity=dot --set repeats=10 \
  --set n_memories=16384,131072 --set precision=bf16,tf32,fp32
python -m ambench.cli run throughput --model dam-softmax --dataset random --out "$OUT" \
  --set dim=3072 --set batch=1024 --set n_steps=20 --set similarity=dot --set repeats=5 \
  --set n_memories=1048576 --set chunk=65536 --set precision=bf16 --set reference=false
python -m ambench.cli report "$OUT"
