#!/usr/bin/env bash
# Follow job.sh for up to $1 seconds (default 540), then pack what exists into $OUT (at most 8 files of
# <= 16 MiB come back): the logs, the report with its data, the cells' summaries and training logs, and
# the eval results database.
limit=${1:-540}
G=runs/gpu
while [ $SECONDS -lt "$limit" ] && [ ! -e $G/done ] && [ ! -e $G/failed ]; do sleep 10; done
nvidia-smi --query-gpu=memory.used,utilization.gpu --format=csv,noheader || true
[ -n "${OUT:-}" ] || exit 0
tar czf "$OUT/logs.tgz" $G/*.log 2>/dev/null
tar czf "$OUT/report.tgz" -C $G/exp report diagnostics.json timings.json config.json 2>/dev/null
tar czf "$OUT/cells.tgz" -C $G/exp --exclude='*.safetensors' --exclude='tb' cells pretrain 2>/dev/null
# Every episode's row (outcome, failure attribution, metrics): what a failed diagnostics step leaves to read.
tar czf "$OUT/results.tgz" -C $G/exp eval/results.sqlite 2>/dev/null
ls -la "$OUT"
tail -c 5000 $G/job.log
