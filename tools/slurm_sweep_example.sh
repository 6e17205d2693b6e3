#!/bin/bash
# Run a selbench sweep as a Slurm array: one array task per cell of `selbench run`.
#
#   tools/slurm_sweep_example.sh OUT_DIR [run overrides ...]
#
# e.g. tools/slurm_sweep_example.sh runs/sweep pool=/data/pool strategies=[clip_score,metaclip] \
#        budgets=[0.1,0.3] seeds=[0,1,2]
#
# This script is run on the login node, not sbatch'ed: it counts the cells with `selbench
# plan`, submits one array job of that many tasks (each runs `selbench run cell=I` with the
# same overrides; a finished cell is skipped when rerun, so resubmitting after a failure or
# preemption redoes only what is missing), then a job that runs after the whole array,
# successful or not, and writes the leaderboard of whatever finished (`selbench status`).
# OUT_DIR and the pool must be on a filesystem every node sees. Build or give the pool
# first (pool=DIR): array tasks must not build the embedded pool concurrently.
# Resources: one GPU per cell (selection uses --cpus-per-task processes: workers=N).
# Alternative without this script: `selbench run -m ... hydra/launcher=submitit_slurm`
# (Hydra's submitit launcher, pip install 'selbench[slurm]'; see the README), which waits
# for the cells and then writes the leaderboard itself.
set -euo pipefail

OUT=${1:?output directory (shared filesystem)}
shift
ARGS=(out="$OUT" "$@")
VENV=${SELBENCH_VENV:-$PWD/.venv}

N=$("$VENV/bin/selbench" plan "${ARGS[@]}" format=json | "$VENV/bin/python" -c 'import json,sys; print(len(json.load(sys.stdin)))')
echo "submitting $N cells"

ARRAY=$(sbatch --parsable --job-name=selbench-cell --array=0-$((N - 1)) \
  --gpus=1 --cpus-per-task=8 --time=24:00:00 --output="%x-%A_%a.out" --requeue \
  --wrap="source '$VENV/bin/activate' && selbench run cell=\$SLURM_ARRAY_TASK_ID workers=8 $(printf '%q ' "${ARGS[@]}")")

sbatch --dependency=afterany:"$ARRAY" --job-name=selbench-status --time=1:00:00 \
  --output="%x-%j.out" \
  --wrap="source '$VENV/bin/activate' && selbench status $(printf '%q ' "${ARGS[@]}")"
