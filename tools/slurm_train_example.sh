#!/bin/bash
# Train one subset at a DataComp scale on a Slurm cluster with selbench + open_clip_train.
#
#   sbatch tools/slurm_train_example.sh POOL_DIR SUBSET.npy SCALE OUT_DIR [SEED]
#
# One `selbench train ... launcher=srun` process runs on the first node: it checks the
# inputs, reshards the subset once into OUT_DIR/shards (must be on a filesystem every node
# sees), then starts one open_clip_train task per GPU with `srun` (open_clip reads the
# SLURM_* variables to set up torch.distributed). The global batch is the scale's, divided
# over all tasks (SLURM_NTASKS must divide it: 4096 for small/medium, 8192 for large,
# 90112 for xlarge). Resubmitting the same job after a preemption or time-out resumes
# from the latest epoch checkpoint; a finished run is skipped.
#
# Sizes below: 4 nodes x 8 GPUs = 32 tasks (medium / large). Adjust to your cluster, and to
# the scale (small fits one 8-GPU node: use --nodes=1).
#SBATCH --job-name=selbench-train
#SBATCH --nodes=4
#SBATCH --ntasks-per-node=8
#SBATCH --gpus-per-node=8
#SBATCH --cpus-per-task=6
#SBATCH --time=48:00:00
#SBATCH --output=%x-%j.out
#SBATCH --requeue
set -euo pipefail

POOL=${1:?pool directory}
SUBSET=${2:?subset .npy}
SCALE=${3:?scale: small, medium, large or xlarge}
OUT=${4:?output directory (shared filesystem)}
SEED=${5:-0}

# torch.distributed rendezvous (env://) on the first node of the allocation
export MASTER_ADDR=$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)
export MASTER_PORT=${MASTER_PORT:-29500}
export OMP_NUM_THREADS=${SLURM_CPUS_PER_TASK:-6}

# the selbench checkout's virtual environment (same path on every node)
source "${SELBENCH_VENV:-$PWD/.venv}/bin/activate"

# Dataloader workers per GPU follow --cpus-per-task; precision is the scale's (amp,
# amp_bf16 at xlarge). Single node instead: `selbench train ... launcher=torchrun nproc_per_node=8`.
selbench train pool="$POOL" subset="$SUBSET" scale="$SCALE" out="$OUT" seed="$SEED" \
  launcher=srun workers=$(( ${SLURM_CPUS_PER_TASK:-6} - 1 )) progress=false
