#!/usr/bin/env bash
# The LoRA-versus-full experiment on a lent GPU machine, started in the background by start.sh so that it
# outlives one device call (a call is at most 10 minutes; the machine stays while calls keep coming).
# Writes runs/gpu/: job.log, the experiment folder exp/, float16 exports of the 50-demo policies in ship/,
# and bench_policy_cuda.txt. Every stage resumes what an earlier start left in runs/gpu/exp.
set -uo pipefail
source eval/experiments/gpu/env.sh
cd "$REPO"
G=runs/gpu
CONFIG=${CONFIG:-eval/experiments/lora_vs_full.yaml}
mark() { echo "[$(date +%T) +$((SECONDS))s] $*"; }

mark "experiment: collect, pretrain, fine-tune, evaluate, diagnose, report ($CONFIG)"
python3 -m agent.cli.main experiment lora-vs-full --config "$CONFIG" --out $G/exp \
  || { mark "FAILED (the experiment resumes from here when started again)"; touch $G/failed; exit 1; }

mark "export the 50-demonstration policies (float16, LoRA folded in) and bench one on the GPU"
mkdir -p $G/ship
for cell in lora_long.d50.s0 full_long.d50.s0; do
  [ -d $G/ship/$cell ] || python3 -m skills.policies.vla.export $G/exp/cells/$cell $G/ship/$cell
done
python3 -m eval.bench policy --checkpoint $G/ship/full_long.d50.s0 --device cuda --repeats 200 \
  --train-steps 50 --batch 128 --compile > $G/bench_policy_cuda.txt 2>&1
mark "done"
touch $G/done
