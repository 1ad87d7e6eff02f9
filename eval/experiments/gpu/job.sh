#!/usr/bin/env bash
# The LoRA-versus-full experiment on a lent GPU machine, started in the background by start.sh so that it
# outlives one device call (a call is at most 10 minutes; the machine stays while calls keep coming).
# Writes runs/gpu/: job.log, the experiment folder exp/, the shipped candidates ship/, bench_*.txt.
set -uo pipefail
source eval/experiments/gpu/env.sh
cd "$REPO"
G=runs/gpu
CONFIG=${CONFIG:-eval/experiments/lora_vs_full.yaml}
mark() { echo "[$(date +%T) +$((SECONDS))s] $*"; }

mark "train and fine-tune (experiment stages collect, pretrain, finetune)"
python3 -m agent.cli.main experiment lora-vs-full --config "$CONFIG" --out $G/exp --stop-after finetune \
  || { mark "FAILED before eval"; touch $G/failed; exit 1; }

mark "export the shipping candidates (LoRA merged, float16)"
mkdir -p $G/ship
for cell in lora_long.d50.s0 full_long.d50.s0; do
  [ -d $G/ship/$cell ] || python3 -m skills.policies.vla.export $G/exp/cells/$cell $G/ship/$cell
done

mark "bench the policy on the GPU and on one CPU thread"
python3 -m eval.bench policy --checkpoint $G/ship/lora_long.d50.s0 --device cuda --repeats 200 \
  --train-steps 50 --batch 128 --compile > $G/bench_policy_cuda.txt 2>&1
python3 -m eval.bench policy --checkpoint $G/ship/lora_long.d50.s0 --device cpu --repeats 20 \
  --train-steps 3 > $G/bench_policy_cpu.txt 2>&1

mark "evaluate, diagnose, report"
python3 -m agent.cli.main experiment lora-vs-full --config "$CONFIG" --out $G/exp \
  || { mark "FAILED in eval/report"; touch $G/failed; exit 1; }
mark "done"
touch $G/done
