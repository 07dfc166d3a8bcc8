#!/bin/bash
# The README's preset commands on a GPU machine, timed, with the logs and results kept.
#
#   bash benchmarks/gpu_pipeline.sh OUT [SECONDS]
#
# In order, each step in its own empty directory under /tmp, the whole within SECONDS (560):
#   0. two JAX processes at once, with JAX's default preallocation and with the pipeline's
#      XLA_PYTHON_CLIENT_PREALLOCATE=false (nncosmo.config.jax_cache_env): do both finish?
#   1. the tiny preset:        snakemake -s Snakefile -d DIR --cores 8 --configfile tiny.yaml
#   2. the workstation preset: the same with workstation.yaml, stopped when the time is up
# OUT gets steps.txt (times and exit codes), env.txt (device, packages), probes.txt, the two
# Snakemake logs and results.tgz (results/ without the .nc files and the compilation cache:
# figures, claims, logs, benchmark rows). Needs the project's packages importable by python3
# (snakemake, nncosmo, JAX with its CUDA plugin); set PY for another interpreter.
set -u
case ${1:-} in -h|--help|"") sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;; esac
OUT=${1:?usage: gpu_pipeline.sh OUT [SECONDS]}; BUDGET=${2:-560}
REPO=$(cd "$(dirname "$0")/.." && pwd); PY=${PY:-python3}; T0=$(date +%s)
export PYTHONUNBUFFERED=1
mkdir -p "$OUT"
log() { echo "[$(($(date +%s) - T0)) s] $*" | tee -a "$OUT/steps.txt"; }
{
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>&1
  nproc
  $PY -m pip list 2>/dev/null | grep -i -E "^(jax|jaxlib|flax|optax|diffrax|equinox|xarray|numpy|snakemake|netCDF4) "
  $PY -c "import jax; print(jax.__version__, jax.devices())"
} > "$OUT/env.txt" 2>&1
log "device: $(tail -1 "$OUT/env.txt")"

probe='import os, time, jax.numpy as jnp
x = jnp.ones((4096, 4096)); y = (x @ x).block_until_ready(); time.sleep(6)
print(os.getpid(), "ok", float(y[0, 0]))'
for preallocate in true false; do
  for k in a b; do
    (XLA_PYTHON_CLIENT_PREALLOCATE=$preallocate timeout 90 $PY -c "$probe" \
      > "$OUT/probe.$preallocate.$k" 2>&1; echo "rc=$?" >> "$OUT/probe.$preallocate.$k") &
    sleep 3
  done
  wait
  log "two processes, XLA_PYTHON_CLIENT_PREALLOCATE=$preallocate:" \
    "$(tail -qn1 "$OUT/probe.$preallocate.a" "$OUT/probe.$preallocate.b" | tr '\n' ' ')"
done
cat "$OUT"/probe.* > "$OUT/probes.txt" && rm -f "$OUT"/probe.*

for preset in tiny workstation; do
  left=$((BUDGET - ($(date +%s) - T0)))
  [ "$left" -gt 10 ] || { log "$preset: no time left"; continue; }
  rm -rf "/tmp/gpu_$preset"
  start=$(date +%s)
  timeout "$left" $PY -m snakemake -s "$REPO/Snakefile" -d "/tmp/gpu_$preset" --cores 8 \
    --configfile "$REPO/workflow/presets/$preset.yaml" > "$OUT/$preset.log" 2>&1
  log "$preset: rc=$? (124: stopped at the time limit), $(($(date +%s) - start)) s"
done
tar czf "$OUT/results.tgz" -C /tmp --exclude='*.nc' --exclude='.jax_cache' \
  gpu_tiny/results gpu_workstation/results 2>> "$OUT/steps.txt"
log "done"
