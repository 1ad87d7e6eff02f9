#!/usr/bin/env bash
# The LoRA-versus-full experiment on a lent GPU machine, started in the background by start.sh so that it
# outlives one device call (a call is at most 10 minutes; the machine stays while calls keep coming).
# Writes runs/gpu/: job.log and the experiment folder exp/; touches runs/gpu/done (or failed). A second
# start resumes what the first left in runs/gpu/exp.
set -uo pipefail
source eval/experiments/gpu/env.sh
cd "$REPO"
G=runs/gpu
CONFIG=${CONFIG:-eval/experiments/lora_vs_full.yaml}
mark() { echo "[$(date +%T) +$((SECONDS))s] $*"; }

mark "experiment: collect, pretrain, fine-tune, evaluate, diagnose, report ($CONFIG)"
python3 -m agent.cli.main experiment lora-vs-full --config "$CONFIG" --out $G/exp \
  || { mark "FAILED (the experiment resumes from here when started again)"; touch $G/failed; exit 1; }
mark "done"
touch $G/done
