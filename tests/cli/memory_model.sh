#!/usr/bin/env bash
# The memory model against measurement: for every trial of tests/sweep/memory_calibration.toml,
# `plan` predicts the peak memory and `train` measures its peak RSS; they agree within 15%.
# Usage: memory_model.sh PATH/TO/trm-sweep SOURCE_DIR
set -u
bin=$1
src=$2
spec="$src/tests/sweep/memory_calibration.toml"
work=$(mktemp -d /tmp/trm_memory.XXXXXX)
trap 'rm -rf "$work"' EXIT
"$bin" plan "$spec" --format json --gflops 100 >"$work/plan.json" || { echo "FAIL: plan"; exit 1; }
count=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["trials"]))' "$work/plan.json")
failed=0
for ((i = 0; i < count; i++)); do
  "$bin" train --spec "$spec" --trial "$i" --threads 2 --out "$work/t$i" >"$work/out$i" 2>"$work/err$i"
  rc=$?
  python3 - "$work/plan.json" "$i" "$work/out$i" "$rc" <<'PY' || failed=$((failed + 1))
import json, re, sys
plan = json.load(open(sys.argv[1]))["trials"][int(sys.argv[2])]
last = open(sys.argv[3]).read().strip().splitlines()[-1:] or [""]
m = re.search(r"peak_rss_bytes=(\d+)", last[0])
if sys.argv[4] != "0" or not m:
    print(f"FAIL {plan['name']}: exit {sys.argv[4]}, last line {last[0]!r}")
    sys.exit(1)
measured, predicted = int(m.group(1)), plan["peak_bytes"]
err = predicted / measured - 1
print(f"{'ok  ' if abs(err) <= 0.15 else 'FAIL'} {plan['name']:34s} predicted {predicted / 2**20:8.1f} MiB"
      f"  measured {measured / 2**20:8.1f} MiB  {100 * err:+.1f}%")
sys.exit(0 if abs(err) <= 0.15 else 1)
PY
done
echo "$((count - failed)) of $count within 15%"
[ "$failed" -eq 0 ] && [ "$count" -ge 6 ]
