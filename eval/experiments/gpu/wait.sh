#!/usr/bin/env bash
# Follow job.sh for up to $1 seconds (default 540) or until runs/gpu/$2 exists (default: done), then pack
# what exists into $OUT (at most 8 files of <= 16 MiB come back).
limit=${1:-540}
marker=${2:-done}
G=runs/gpu
while [ $SECONDS -lt "$limit" ] && [ ! -e $G/$marker ] && [ ! -e $G/done ] && [ ! -e $G/failed ]; do sleep 10; done
nvidia-smi --query-gpu=memory.used,utilization.gpu --format=csv,noheader || true
[ -n "${OUT:-}" ] || exit 0
tar czf "$OUT/logs.tgz" $G/*.log $G/diag_*.json 2>/dev/null
tar czf "$OUT/report.tgz" -C $G/exp report diagnostics.json timings.json config.json 2>/dev/null
tar czf "$OUT/cells.tgz" -C $G --exclude='*.safetensors' --exclude='tb' --exclude='*.sqlite' exp/cells exp/pretrain \
  ship_ckpt diag 2>/dev/null
if [ -d $G/ship ]; then tar cf - -C $G ship | split -b 15M - "$OUT/ship.tar.part-"; fi
ls -la "$OUT"
tail -c 5000 $G/job.log
