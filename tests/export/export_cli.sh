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
# --kind grid with a declared grid's name: its axes hold, --metric and --rows/--cols change them.
expect_ok "| 1 | **90.0** | **90.0** |" export "$work/grid.h5" --kind grid --table recursion --metric accuracy
expect_error "--rows and --cols are both model.l_cycles" \
  export "$work/grid.h5" --kind grid --table recursion --rows model.l_cycles
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
# The raw table lists every trial (pending) even then, its CSV header on the first line.
expect_ok ",pending," export "$work/empty.h5" --table all --format csv
"$bin" export "$work/empty.h5" --table all --format csv | head -n 1 | grep -q "^index,name,status," && ok ||
  fail "export --table all --format csv of an empty sweep: the first line is not the header"

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
expect_error "--table recursion --kind raw: the spec declares recursion as a grid table" \
  export "$work/grid.h5" --kind raw --table recursion
expect_error "-o $work/nodir/t.md: the folder $work/nodir does not exist" \
  export "$work/grid.h5" -o "$work/nodir/t.md"
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
chmod 0600 "$work/a.html"
expect_ok "" export "$work/grid.h5" --format md -o "$work/a.html" --force
grep -q "^| " "$work/a.html" && ok || fail "export -o --force did not replace the file"
# The replaced file keeps its mode (a private report stays private); a new one follows the umask.
[ "$(stat -c %a "$work/a.html")" = 600 ] && ok ||
  fail "export -o --force changed the mode of a 0600 file to $(stat -c %a "$work/a.html")"
(umask 0007 && "$bin" export "$work/grid.h5" --format md -o "$work/umask.md") &&
  [ "$(stat -c %a "$work/umask.md")" = 660 ] && ok ||
  fail "a new export under umask 0007 has mode $(stat -c %a "$work/umask.md") (want 660)"

# Another sweep's journal is refused as an HDF5 file is, even with --force: without it, that
# sweep's results cannot be rebuilt.
cp "$work/grid.h5.journal" "$work/other.h5.journal"
expect_error "-o $work/other.h5.journal: is a sweep's journal" \
  export "$work/grid.h5" -o "$work/other.h5.journal" --force
cmp -s "$work/grid.h5.journal" "$work/other.h5.journal" && ok || fail "export -o changed a journal"

# A pipe, FIFO or character device is written to as is: not read (that blocked forever), no
# --force, nothing renamed over it. `timeout` turns a hang into a failure.
out=$(
  set -o pipefail
  timeout 30 "$bin" export "$work/grid.h5" -o /dev/stdout 2>"$work/err" | cat
)
rc=$?
[ "$rc" -eq 0 ] && [[ "$out" == *"| 2 | **60.0** | OOM |"* ]] && [ ! -s "$work/err" ] && ok ||
  fail "export -o /dev/stdout | cat -> exit $rc, stderr: $(cat "$work/err")"
mkfifo "$work/fifo"
timeout 30 cat "$work/fifo" >"$work/from_fifo" &
reader=$!
timeout 30 "$bin" export "$work/grid.h5" --format csv -o "$work/fifo" 2>"$work/err"
rc=$?
wait "$reader"
[ "$rc" -eq 0 ] && [ -p "$work/fifo" ] && grep -q "^model.h_cycles,model.l_cycles,group," "$work/from_fifo" &&
  ok || fail "export -o FIFO -> exit $rc, stderr: $(cat "$work/err")"
expect_ok "" export "$work/grid.h5" -o /dev/null
# /dev/stdout redirected to a file: written through the shell's descriptor (>> appends), never
# onto a results file.
echo "# before" >"$work/appended.md"
"$bin" export "$work/grid.h5" -o /dev/stdout >>"$work/appended.md" 2>"$work/err" &&
  [ "$(head -1 "$work/appended.md")" = "# before" ] && grep -q "^| 2 | \*\*60.0\*\* | OOM |" "$work/appended.md" &&
  ok || fail "export -o /dev/stdout >> FILE: $(cat "$work/err")"
out=$("$bin" export "$work/grid.h5" -o /dev/stdout 2>"$work/err" >>"$work/copy.h5")
rc=$?
[ "$rc" -eq 2 ] && grep -q "is an HDF5 file" "$work/err" && cmp -s "$work/grid.h5" "$work/copy.h5" &&
  ok || fail "export -o /dev/stdout >> RESULTS.h5 -> exit $rc: $(cat "$work/err")"

# Without --format, -o's extension names the format; an unknown one keeps md; --format wins.
check_format() {  # check_format FILE "first line prefix" [more args]
  local file=$1 want=$2
  shift 2
  rm -f "$work/$file"
  if "$bin" export "$work/grid.h5" -o "$work/$file" "$@" 2>"$work/err" &&
    [[ "$(head -1 "$work/$file")" == "$want"* ]]; then
    ok
  else
    fail "export -o $file $*: first line $(head -1 "$work/$file" 2>/dev/null), expected $want; $(cat "$work/err")"
  fi
}
check_format t.html "<!DOCTYPE html>"
check_format t.HTM "<!DOCTYPE html>"
check_format t.csv "# table: recursion"
check_format t.json '{"provenance": '
check_format t.tex "% Sweep sample_grid"
check_format t.md "Sweep sample_grid"
check_format t.txt "Sweep sample_grid"
check_format u.html "# table: recursion" --format csv
check_format u.csv "Sweep sample_grid" --format md

# A standard output that cannot be written (a full disk, closed) is an error, never exit 0.
err=$("$bin" export "$work/grid.h5" 2>&1 >/dev/full)
rc=$?
[ $rc -eq 2 ] && [[ "$err" == *"could not write the table to standard output"* ]] && ok ||
  fail "export >/dev/full: exit $rc: $err"
err=$("$bin" export "$work/grid.h5" 2>&1 >&-)
rc=$?
[ $rc -eq 2 ] && ok || fail "export >&-: exit $rc: $err"

# A table named twice is exported once (twice, the CSV read as one table with each trial twice).
"$bin" export "$work/grid.h5" --table all --format csv >"$work/once.csv" &&
  "$bin" export "$work/grid.h5" --table all --table all --format csv >"$work/twice.csv" &&
  cmp -s "$work/once.csv" "$work/twice.csv" && ok ||
  fail "export --table all --table all differs from --table all"
[ "$("$bin" export "$work/grid.h5" --table all --table recursion --table all | grep -c '^### ')" -eq 3 ] &&
  ok || fail "export --table all --table recursion --table all: not all (1) + recursion (2 grids)"
summary
