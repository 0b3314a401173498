#!/usr/bin/env bash
# `run --shard K/N` + `trm-sweep merge` give the tables of a single run: the tiny sweep run in two
# shards, merged, exported in every deterministic format (md, csv, json, latex, raw csv) and
# compared byte for byte with the export of a non-sharded run of the same spec. Excluded, because
# they differ between any two runs: the provenance line (md, latex: "created <time>"; json:
# "provenance", with created and host) and, in the raw table, wall_s and measured_peak_bytes (wall
# clock and the child process's peak RSS). Everything else must be equal, the metrics included
# (every trial is seeded and runs with the same thread count), and `index` shows the merged file
# numbers the trials as the single run does. Then bad inputs: exit 2 and one clear line.
# Usage: array_merge.sh PATH/TO/trm-sweep SOURCE_DIR
set -u
bin=$1
src=$2
source "$src/tests/cli/common.sh" array_merge
spec="$src/tests/sweep/tiny_sweep.toml"
cd "$work" || exit 1

check() {  # check DESCRIPTION COMMAND...: passes when COMMAND succeeds
  local what=$1
  shift
  if "$@"; then ok; else fail "$what"; fi
}

"$bin" run "$spec" -o full.h5 >full.log 2>&1 || fail "non-sharded run: $(tail -3 full.log)"
"$bin" run "$spec" -o part0.h5 --shard 0/2 >part0.log 2>&1 || fail "shard 0: $(tail -3 part0.log)"
"$bin" run "$spec" -o part1.h5 --shard 1/2 >part1.log 2>&1 || fail "shard 1: $(tail -3 part1.log)"
"$bin" merge merged.h5 part0.h5 part1.h5 >merge.out 2>merge.err
rc=$?
check "merge exits 0, got $rc ($(cat merge.err))" [ $rc -eq 0 ]
check "merge says what it made: $(cat merge.out)" grep -q "merged 2 files -> merged.h5: 4 trials (4 done)" merge.out
check "merge of complete shards warns nothing: $(cat merge.err)" [ ! -s merge.err ]

# export FILE NAME: every deterministic format, the run-dependent parts cut out.
export_all() {
  local f=$1 n=$2
  "$bin" export "$f" --format md | grep -v '^Sweep .*, created ' >"$n.md"
  "$bin" export "$f" --format latex | grep -v '^% Sweep .*, created ' >"$n.tex"
  "$bin" export "$f" --format csv >"$n.csv"
  "$bin" export "$f" --format json | grep -v '"provenance": ' >"$n.json"
  "$bin" export "$f" --kind raw --format csv |
    /usr/bin/python3 -c 'import csv, sys
rows = list(csv.reader(sys.stdin))
drop = [rows[0].index(c) for c in ("wall_s", "measured_peak_bytes")]
for r in rows:
    print(",".join(v for i, v in enumerate(r) if i not in drop))' >"$n.raw"
}
export_all full.h5 full
export_all merged.h5 merged
for ext in md tex csv json raw; do
  check "merged.$ext is empty" [ -s "merged.$ext" ]
  check "export $ext of the merged file differs from the single run's:
$(diff full.$ext merged.$ext)" cmp -s full.$ext merged.$ext
done
check "the raw table has 4 trials" [ "$(wc -l <merged.raw)" -eq 5 ]
# The excluded columns and lines are there (so the cut hides nothing else).
check "md provenance line" grep -q '^Sweep tiny (spec .*, created ' <("$bin" export merged.h5 --format md)
# The merged file is a sweep: status and resume (nothing left to run) accept it.
check "status of the merged file" "$bin" status merged.h5 >/dev/null
check "resume of the merged file runs nothing" "$bin" resume merged.h5 >resume.log 2>&1
check "resume saw 0 trials to run: $(head -1 resume.log)" grep -q "0 of 4 trials" resume.log

# A shard's file resumes on its own (as the README says of RESULTS.taskK.h5): its shard is found
# from the trials it holds, and nothing of the other shard runs into it.
"$bin" resume part1.h5 >resume1.log 2>&1
rc=$?
check "resume of a shard exits 0, got $rc: $(tail -3 resume1.log)" [ $rc -eq 0 ]
check "resume found the shard: $(head -2 resume1.log)" grep -q "part1.h5 holds shard 1/2 of its sweep" resume1.log
check "resume of a shard ran nothing: $(grep 'trials' resume1.log)" grep -q "0 of 2 trials (shard 1/2 of 4)" resume1.log
# The wrong --shard for a shard's file is named as such (it read "another sweep spec", or
# "changed by something other than trm-sweep"), and nothing runs into the file.
rows() { /usr/bin/python3 -c 'import sys, h5py; print([(r["id"], r["status"], r["attempts"], r["step"]) for r in h5py.File(sys.argv[1], "r")["trials"][:]])' "$1"; }
before=$(rows part1.h5)
wrong_shard() {  # wrong_shard ARGS...: exit 2 naming the shard
  "$bin" "$@" >wrong.out 2>wrong.err
  local rc=$?
  check "$*: exit $rc (want 2), $(cat wrong.err)" [ $rc -eq 2 ]
  check "$*: $(cat wrong.err)" grep -q \
    "part1.h5 does not hold the trials of shard 0/2 (2 of them are not in it): it is another shard's file" wrong.err
}
wrong_shard resume part1.h5 --shard 0/2
wrong_shard run "$spec" -o part1.h5 --shard 0/2
check "a wrong --shard changed the shard's trials" [ "$(rows part1.h5)" = "$before" ]

# One shard alone: the other trials stay pending, with a warning each; resume runs them.
"$bin" merge half.h5 part1.h5 >half.out 2>half.err
rc=$?
check "merge of one shard exits 0, got $rc" [ $rc -eq 0 ]
check "two missing trials warned: $(cat half.err)" [ "$(grep -c 'is in no input: pending' half.err)" -eq 2 ]
check "half.h5 has 2 done, 2 pending: $(cat half.out)" grep -q "4 trials (2 done, 2 pending)" half.out

# A shard twice: duplicates resolved with a warning, same table.
"$bin" merge twice.h5 part0.h5 part1.h5 part0.h5 >/dev/null 2>twice.err
check "duplicate warning: $(cat twice.err)" grep -q "kept the copy from part0.h5" twice.err

# A shard stopped mid-trial (SIGTERM: its trial checkpoints, exit 5), merged with the other,
# finished one: merge copies the stopped trial's folder beside the merged file, and resume of the
# merged file continues that trial from its checkpoint (attempt 2, every step stored once).
sed 's/train.steps = 60/train.steps = 400/' "$spec" >long.toml
"$bin" run long.toml -o long1.h5 --shard 1/2 >long1.log 2>&1 || fail "long shard 1: $(tail -3 long1.log)"
"$bin" run long.toml -o long0.h5 --shard 0/2 >long0.log 2>&1 &
pid=$!
for _ in $(seq 600); do
  m=$(ls long0.h5.trials/*/metrics.jsonl 2>/dev/null | head -1)
  [ -n "$m" ] && [ "$(wc -l <"$m")" -ge 40 ] && break
  sleep 0.05
done
kill -TERM $pid
wait $pid
rc=$?
check "SIGTERM to shard 0: exit $rc (want 5): $(tail -3 long0.log)" [ $rc -eq 5 ]
"$bin" merge longm.h5 long0.h5 long1.h5 >longm.out 2>longm.err
rc=$?
stopped=$(/usr/bin/python3 -c 'import sys, h5py
print(*[r["id"].decode() for r in h5py.File(sys.argv[1], "r")["trials"][:] if r["status"] == b"interrupted"])' long0.h5)
check "merge of a stopped shard: exit $rc, $(cat longm.err)" [ $rc -eq 0 ]
check "one stopped trial in shard 0: '$stopped'" [ "$(echo "$stopped" | wc -w)" -eq 1 ]
check "merge copied its folder: $(cat longm.err)" grep -q "^copied .*long0.h5.trials/$stopped to .*longm.h5.trials/$stopped: " longm.err
check "the copy has the checkpoint" [ -f "longm.h5.trials/$stopped/checkpoint.pt" ]
"$bin" resume longm.h5 >longm.log 2>&1
rc=$?
check "resume of the merged file: exit $rc: $(tail -3 longm.log)" [ $rc -eq 0 ]
/usr/bin/python3 - longm.h5 "$stopped" <<'PY' && ok || fail "the stopped trial was not continued from its checkpoint"
import sys, h5py
f = h5py.File(sys.argv[1], "r")
rows = f["trials"][:]
assert [r["status"] for r in rows] == [b"done"] * 4, rows["status"]
r = [r for r in rows if r["id"].decode() == sys.argv[2]][0]
assert r["attempts"] == 2, r
steps = list(f["trial/%06d" % r["index"]]["train"]["step"])
assert steps == list(range(1, 401)), steps[:5]
PY
grep -q "resuming .* at step [1-9]" "longm.h5.trials/$stopped/stderr.log" && ok ||
  fail "the resumed trial started from step 0: $(grep -m2 'resuming\|no checkpoint' "longm.h5.trials/$stopped/stderr.log")"

# Bad inputs: exit 2, one line naming the problem.
bad() {  # bad DESCRIPTION EXPECTED-TEXT ARGS...
  local what=$1 text=$2
  shift 2
  "$bin" merge "$@" >bad.out 2>bad.err
  local rc=$?
  if [ $rc -eq 2 ] && grep -qF -- "$text" bad.err && [ "$(wc -l <bad.err)" -eq 1 ]; then
    ok
  else
    fail "$what: exit $rc, stderr: $(cat bad.err)"
  fi
}
sed 's/train.steps = 60/train.steps = 2/; s/name = "tiny"/name = "other"/' "$spec" >other.toml
"$bin" run other.toml -o other.h5 >other.log 2>&1 || fail "other run: $(tail -3 other.log)"
hash0=$(/usr/bin/python3 -c 'import h5py, sys
h = h5py.File(sys.argv[1], "r").attrs["spec_hash"]
print(h.decode() if isinstance(h, bytes) else h)' part0.h5)
bad "different specs" "other.h5 was made by another sweep spec" out1.h5 part0.h5 other.h5
check "the refusal names the first file's hash $hash0: $(cat bad.err)" grep -qF "$hash0" bad.err
check "nothing written for refused specs" [ ! -e out1.h5 ]
bad "missing input" "no results file at nope.h5" out2.h5 part0.h5 nope.h5
bad "existing output" "merged.h5 already exists" merged.h5 part0.h5 part1.h5
bad "not a results file" "tiny_sweep.toml" out3.h5 "$spec"
bad "no inputs" "at least one IN.h5" only.h5
summary
