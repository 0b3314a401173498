#!/usr/bin/env bash
# The README's training example learns: configs/quick_train.toml reaches held-out exact accuracy
# >= 0.9 on 4x4 Sudoku puzzles none of which is equivalent to a training puzzle, and the last
# line of the output reports it as exact_accuracy=<value>.
# Usage: quick_train.sh PATH/TO/trm-sweep SOURCE_DIR
set -u
bin=$1
src=$2
out=$(mktemp -d /tmp/trm_quick_train.XXXXXX)
trap 'rm -rf "$out"' EXIT
"$bin" train --config "$src/configs/quick_train.toml" --out "$out" --progress-seconds 30 >"$out/stdout"
rc=$?
last=$(tail -n 1 "$out/stdout")
echo "$last"
value=${last##*exact_accuracy=}
if [ $rc -ne 0 ] || [[ "$last" != *exact_accuracy=* ]]; then
  echo "FAIL: exit $rc, last line: $last"
  exit 1
fi
python3 -c "import sys; v = float(sys.argv[1]); sys.exit(0 if v >= 0.9 else 1)" "$value" ||
  { echo "FAIL: exact_accuracy $value < 0.9"; exit 1; }
echo "ok: held-out exact_accuracy $value >= 0.9"
