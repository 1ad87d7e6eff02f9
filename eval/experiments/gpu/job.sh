#!/usr/bin/env bash
# The LoRA-versus-full experiment on a lent GPU machine, started in the background by start.sh so that it
# outlives one device call (a call is at most 10 minutes; the machine stays while calls keep coming).
# Then the block policy to ship (models/vla_block): more demonstrations of the held-out task, fine-tuned
# from the experiment's pretrained base, judged by `tandem diagnose` on unseen seeds.
# Writes runs/gpu/: job.log, the experiment folder exp/ (marker experiment_done), ship_data/, ship_ckpt/,
# diag/ and the float16 export of the best ship candidate in ship/. Every stage resumes what an earlier
# start left in runs/gpu.
set -uo pipefail
source eval/experiments/gpu/env.sh
cd "$REPO"
G=runs/gpu
CONFIG=${CONFIG:-eval/experiments/lora_vs_full.yaml}
SHIP_DEMOS=${SHIP_DEMOS:-300}
SHIP_SEEDS=${SHIP_SEEDS:-50}
tandem() { python3 -m agent.cli.main "$@"; }
mark() { echo "[$(date +%T) +$((SECONDS))s] $*"; }

# The ship demonstrations are collected while the experiment fine-tunes: its six training processes leave
# most of the 16 cores idle. Seeds from 100000 share nothing with the experiment's or the tests' seeds.
ship_collect() {
  while [ ! -f $G/exp/pretrain/summary.json ]; do [ -e $G/failed ] && return 1; sleep 10; done
  [ -e $G/ship_data.ok ] && return 0  # collect appends: a second start must not double the set
  tandem collect block_to_zone --episodes "$SHIP_DEMOS" --seed 100000 --cameras ego_view --workers 6 \
    --out $G/ship_data && touch $G/ship_data.ok
}
ship_collect > $G/ship_collect.log 2>&1 &
collector=$!

mark "experiment: collect, pretrain, fine-tune, evaluate, diagnose, report ($CONFIG)"
tandem experiment lora-vs-full --config "$CONFIG" --out $G/exp \
  || { mark "FAILED (the experiment resumes from here when started again)"; touch $G/failed; exit 1; }
touch $G/experiment_done

mark "ship: waiting for $SHIP_DEMOS block demonstrations"
wait $collector || { mark "ship collection FAILED"; touch $G/failed; exit 1; }
mark "ship: fine-tune two candidates from the pretrained base at once"
train() {  # NAME STEPS BATCH LR
  [ -f $G/ship_ckpt/$1/summary.json ] || tandem train --dataset $G/ship_data --task block_to_zone \
    --init $G/exp/pretrain --method full --steps "$2" --batch "$3" --lr "$4" --ema 0.999 \
    --out $G/ship_ckpt/$1 --device cuda > $G/ship_train_$1.log 2>&1
}
train full4k_b64 4000 64 1e-4 & a=$!
train full4k_b128 4000 128 2e-4 & b=$!
wait $a; wait $b
mark "ship: diagnose both on $SHIP_SEEDS unseen seeds (40000-), each on the GPU"
for c in full4k_b64 full4k_b128; do
  tandem diagnose "policy:$G/ship_ckpt/$c?device=cuda" --seeds "$SHIP_SEEDS" -j 8 --out $G/diag/$c \
    --json --no-progress > $G/diag_$c.json 2> $G/diag_$c.log &
done
wait
best=$(python3 - <<'PY'
import json, pathlib
def successes(c):  # the reference task's successes; -1 where the diagnosis left no JSON
    try:
        return json.loads(pathlib.Path(f"runs/gpu/diag_{c}.json").read_text())["measured"]["success"]["k"]
    except (OSError, ValueError, KeyError):
        return -1
print(max(("full4k_b64", "full4k_b128"), key=successes))
PY
)
mark "ship: export $best (float16)"
mkdir -p $G/ship
[ -d $G/ship/$best ] || python3 -m skills.policies.vla.export $G/ship_ckpt/$best $G/ship/$best
mark "done"
touch $G/done
