#!/usr/bin/env bash
# `trm-sweep export` as users type it: every format to stdout and to -o, the spec's tables by
# name, a table described on the command line, and bad input (exit 2, nothing on stdout, one
# line on stderr naming the problem and the valid choices). A sweep with no finished trial gives
# empty tables that say so, with exit 0.
# Usage: export_cli.sh PATH/TO/trm-sweep PATH/TO/export_sample_writer
set -u
bin=$1
writer=$2
source "$(dirname "$0")/../cli/common.sh" export_cli
"$writer" grid "$work/grid.h5" || exit 1
"$writer" empty "$work/empty.h5" || exit 1

expect_ok() {  # expect_ok "substring of stdout" -- args...
  local want=$1
  shift
  local out rc
  out=$("$bin" "$@" 2>"$work/err")
  rc=$?
  if [ "$rc" -eq 0 ] && [[ "$out" == *"$want"* ]] && [ ! -s "$work/err" ]; then
    ok
  else
    fail "trm-sweep $* -> exit $rc, stderr: $(cat "$work/err"); stdout lacks: $want"
  fi
}

expect_error() {  # expect_error "substring of the message" -- args...
  local want=$1
  shift
  local out rc lines err
  out=$("$bin" "$@" 2>"$work/err")
  rc=$?
  err=$(cat "$work/err")
  lines=$(printf '%s\n' "$err" | wc -l)
  if [ "$rc" -eq 2 ] && [ -z "$out" ] && [ "$lines" -eq 1 ] && [[ "$err" == *"$want"* ]]; then
    ok
  else
    fail "trm-sweep $* -> exit $rc, $lines stderr line(s): $err (expected exit 2 and: $want)"
  fi
}

expect_ok "| 2 | **60.0** | OOM |" export "$work/grid.h5"
expect_ok "| 2 | **60.0** | OOM |" export "$work/grid.h5" --table recursion --format md
expect_ok "model.h_cycles,model.l_cycles,group,exact_accuracy," export "$work/grid.h5" --table recursion --format csv
expect_ok "\\toprule" export "$work/grid.h5" --format latex
expect_ok '"kind": "ablation"' export "$work/grid.h5" --table ablation --format json
expect_ok "<svg class=\"heatmap\"" export "$work/grid.h5" --format html
# A table the spec does not declare, and another metric.
expect_ok "| 1 | **90.0** | **90.0** |" export "$work/grid.h5" --kind grid --rows model.h_cycles \
  --cols model.l_cycles --metric accuracy
expect_ok "| attention T=1 n=1 | 66.0 |" export "$work/grid.h5" --kind ablation --metric wall_s
expect_ok "index,name,status,train.seed" export "$work/grid.h5" --kind raw --format csv
# -o writes the file and nothing to stdout; the same file gives the same bytes twice.
if "$bin" export "$work/grid.h5" --format html -o "$work/a.html" >"$work/out" 2>&1 &&
  "$bin" export "$work/grid.h5" --format html -o "$work/b.html" && [ ! -s "$work/out" ] &&
  cmp -s "$work/a.html" "$work/b.html" && grep -q "<table class=\"trm\"" "$work/a.html"; then
  ok
else
  fail "export -o: $(cat "$work/out")"
fi
# No finished trial: empty tables that say so, exit 0.
expect_ok "No finished trial yet: 0 of 8 trials done" export "$work/empty.h5"
expect_ok "No finished trial yet" export "$work/empty.h5" --table all --format csv

expect_error "cols = 'model.layers' is not an axis of this sweep; valid axes: model.h_cycles, model.l_cycles, model.mixer, model.pos_encodings" \
  export "$work/grid.h5" --kind grid --rows model.h_cycles --cols model.layers
expect_error "rows = 'model.nope' is not an axis of this sweep; valid axes: model.h_cycles" \
  export "$work/grid.h5" --kind grid --rows model.nope --cols model.l_cycles
expect_error "metric 'acc' does not exist; valid metrics: exact_accuracy, best_exact_accuracy" \
  export "$work/grid.h5" --metric acc
expect_error "--table table9: the sweep's spec has no such table; valid: recursion, ablation, all" \
  export "$work/grid.h5" --table table9
expect_error "--format xlsx: unknown format; valid: md, csv, latex, json, html" \
  export "$work/grid.h5" --format xlsx
expect_error "kind = 'heatmap': valid kinds: ablation, grid, raw" export "$work/grid.h5" --kind heatmap
expect_error "--rows and --cols describe a grid table: add --kind grid" \
  export "$work/grid.h5" --rows model.h_cycles
expect_error "/nonexistent/sweep.h5" export /nonexistent/sweep.h5
expect_error "--metric is empty" export "$work/grid.h5" --metric ""
expect_error "--metric accuracy: a raw table lists every metric" export "$work/grid.h5" --kind raw --metric accuracy
expect_error "--rows and --cols are both model.h_cycles" \
  export "$work/grid.h5" --kind grid --rows model.h_cycles --cols model.h_cycles
# -o never lands on the results file, its journal, another HDF5 file or a folder, and replaces an
# existing file only with --force; a refused export leaves every file as it was.
cp "$work/grid.h5" "$work/copy.h5"
before=$(cksum <"$work/grid.h5")
expect_error "-o $work/grid.h5: is the results file being exported" export "$work/grid.h5" -o "$work/grid.h5"
expect_error "is an HDF5 file (a results file?)" export "$work/grid.h5" -o "$work/copy.h5" --force
expect_error "-o $work: is a folder" export "$work/grid.h5" -o "$work"
expect_error "-o $work/a.html: already exists; add --force to replace it" \
  export "$work/grid.h5" --format md -o "$work/a.html"
[ "$(cksum <"$work/grid.h5")" = "$before" ] && cmp -s "$work/grid.h5" "$work/copy.h5" &&
  grep -q "<table class=\"trm\"" "$work/a.html" && ok || fail "a refused export -o changed a file"
expect_ok "" export "$work/grid.h5" --format md -o "$work/a.html" --force
grep -q "^| " "$work/a.html" && ok || fail "export -o --force did not replace the file"
summary
