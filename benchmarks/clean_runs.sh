#!/usr/bin/env bash
# Clean runs of the default preset from an empty results/, interleaved round by round: this
# checkout's F1-F6 alone and F1-F8, and, with BASE given, the same two of another checkout of the
# project (e.g. `git worktree add --detach ../base 982bf0c`), the order of the two checkouts
# alternating from round to round. The README "Runtime" table.
#
#   bash benchmarks/clean_runs.sh ROUNDS OUT [BASE]
#
# Each run deletes that checkout's results/ first. Per run it writes OUT/<label>.log (Snakemake's
# output and /usr/bin/time -v), OUT/<label>.stages (benchmarks/pipeline_stages.py) and
# OUT/<label>.claims.json, and appends wall clock, peak memory and idle core-seconds
# (benchmarks/timeline.py) to OUT/summary.txt. Every run
# has a failing `scontrol` first on PATH: with SLURM installed and no controller running, the
# SLURM executor plugin makes each Snakemake start wait ~9 s (README, "When something goes wrong").
# Run it on an idle machine, in the project's virtualenv; then `python benchmarks/floor.py --wall
# <median F1-F8 seconds>`.
set -euo pipefail
rounds=${1:?rounds} out=$(realpath -m "${2:?output folder}") base=${3:-}
here=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$out/noslurm" && printf '#!/bin/sh\nexit 1\n' > "$out/noslurm/scontrol"
chmod +x "$out/noslurm/scontrol"

run() {  # label checkout snakemake-arguments...
  local label=$1 dir=$2 rc=0
  shift 2
  (cd "$dir" && rm -rf results && PYTHONPATH="$dir/src" PATH="$out/noslurm:$PATH" \
    /usr/bin/time -v snakemake --cores 2 "$@" > "$out/$label.log" 2>&1) || rc=$?
  echo "$label rc=$rc $(grep -h 'Elapsed (wall' "$out/$label.log" | xargs)" \
    "$(grep -h 'Maximum resident' "$out/$label.log" | xargs) load=$(cut -d' ' -f1-3 /proc/loadavg)" |
    tee -a "$out/summary.txt"
  python "$here/benchmarks/pipeline_stages.py" --results "$dir/results" > "$out/$label.stages"
  echo "$label $(python "$here/benchmarks/timeline.py" "$out/$label.log" | tail -1)" >> "$out/summary.txt"
  cp "$dir/results/claims.json" "$out/$label.claims.json"
}

f1_f6=(--config 'figures={build: [F1, F2, F3, F4, F5, F6]}')
both_builds() {  # round label-prefix checkout
  run "${2}f1-f6-$1" "$3" "${f1_f6[@]}"
  run "${2}f1-f8-$1" "$3"
}
for i in $(seq 1 "$rounds"); do
  if [ -n "$base" ] && [ $((i % 2)) -eq 0 ]; then  # with BASE: the two checkouts alternate
    both_builds "$i" base- "$(realpath "$base")"
    both_builds "$i" "" "$here"
  else
    both_builds "$i" "" "$here"
    if [ -n "$base" ]; then both_builds "$i" base- "$(realpath "$base")"; fi
  fi
done
