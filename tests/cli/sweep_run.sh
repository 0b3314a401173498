#!/usr/bin/env bash
# A whole sweep on this machine (`run`, `status`, `resume`), read back with Debian's h5py:
#  - every trial ends done, with its metrics tables and its config as typed attributes;
#  - a sweep stopped by SIGTERM mid-trial (exit 5) and resumed ends with the same per-trial
#    metrics, bit for bit, as one never interrupted;
#  - a kill -9 of the coordinator loses nothing acknowledged and `resume` completes the sweep;
#  - another spec on an existing file is refused unless --extend.
# Usage: sweep_run.sh PATH/TO/trm-sweep SOURCE_DIR
set -u
bin=$1
src=$2
spec="$src/tests/sweep/tiny_sweep.toml"
py=/usr/bin/python3  # Debian's, with python3-h5py
source "$(dirname "$0")/common.sh" sweep_run

"$bin" run "$spec" -o "$work/a.h5" >"$work/a.out" 2>&1
rc=$?
[ $rc -eq 0 ] && ok || fail "uninterrupted run: exit $rc: $(tail -3 "$work/a.out")"
"$bin" status "$work/a.h5" >"$work/status.out" 2>&1 && grep -q "done 4" "$work/status.out" && ok ||
  fail "status: $(cat "$work/status.out")"
$py - "$work/a.h5" <<'PY' && ok || fail "h5py could not read the results file as documented"
import sys, h5py
f = h5py.File(sys.argv[1], "r")
assert f.attrs["schema_version"] == 1
assert f.attrs["sweep_name"] in ("tiny", b"tiny"), f.attrs["sweep_name"]
rows = f["trials"][:]
assert [s.decode() for s in rows["status"]] == ["done"] * 4, rows["status"]
for i in range(4):
    g = f["trial/%06d" % i]
    assert g["train"].shape == (60,) and g["eval"].shape == (3,), (g["train"].shape, g["eval"].shape)
    assert int(g.attrs["model.l_cycles"]) in (1, 2)
    assert g.attrs["model.halting"] in ("bce", "act", b"bce", b"act")
PY

# A spec without [sweep] name is named after its file, and every verb says that name: run,
# status, export and resume (the file records it; the spec stored in it has no name).
sed '0,/^name = "tiny"/{/^name = "tiny"/d}' "$spec" >"$work/unnamed_ablation.toml"  # [sweep]'s
"$bin" run "$work/unnamed_ablation.toml" -o "$work/u.h5" >"$work/u.out" 2>&1
rc=$?
{ [ $rc -eq 0 ] && [ "$(grep -c '^name = "tiny"' "$work/unnamed_ablation.toml")" -eq 1 ] &&
  grep -q "sweep unnamed_ablation: " "$work/u.out" &&
  "$bin" status "$work/u.h5" 2>&1 | head -1 | grep -q ": sweep unnamed_ablation (spec " &&
  "$bin" export "$work/u.h5" --format md 2>&1 | head -1 | grep -q "^Sweep unnamed_ablation (spec " &&
  "$bin" resume "$work/u.h5" 2>&1 | grep -q "sweep unnamed_ablation: "; } && ok ||
  fail "an unnamed spec's name: exit $rc: $(head -3 "$work/u.out"; "$bin" status "$work/u.h5" 2>&1 | head -1; "$bin" export "$work/u.h5" --format md 2>&1 | head -1)"

# A reader that goes away (`| head -1`) does not end the sweep: it runs to the end, exit 0.
# The file is named through a symbolic link (home/p.h5 -> ../p.h5, not made yet): the file, its
# journal and its trial folders are made beside the link's target, the link stays a link, and
# `status`/`resume` through it find the file's trials.
mkdir -p "$work/home" && ln -s ../p.h5 "$work/home/p.h5"
"$bin" run "$spec" -o "$work/home/p.h5" 2>&1 | head -1 >/dev/null
rc=${PIPESTATUS[0]}
{ [ "$rc" -eq 0 ] && "$bin" status "$work/p.h5" 2>&1 | grep -q "done 4"; } && ok ||
  fail "run piped into head -1: exit $rc: $("$bin" status "$work/p.h5" 2>&1)"
{ [ -L "$work/home/p.h5" ] && [ -d "$work/p.h5.trials" ] && [ -f "$work/p.h5.journal" ] &&
  [ ! -e "$work/home/p.h5.trials" ] && [ ! -e "$work/home/p.h5.journal" ] &&
  "$bin" status "$work/home/p.h5" 2>&1 | grep -q "done 4" &&
  "$bin" resume "$work/home/p.h5" >"$work/p.resume" 2>&1 && [ ! -e "$work/home/p.h5.trials" ]; } &&
  ok || fail "results file through a symbolic link: $(ls -la "$work/home" "$work" | head -30)"

# Holds (SIGSTOP) the first trial process of results file $1 that appears and prints its pid, so
# that a signal is sure to find that trial running: the tiny trials take about a second each.
hold_child() {
  local c
  for _ in $(seq 1500); do
    c=$(pgrep -f "trm-sweep train --config $1.trials/" | head -1)
    [ -n "$c" ] && kill -STOP "$c" 2>/dev/null && echo "$c" && return 0
    sleep 0.02
  done
  return 1
}

# The binary replaced while the sweep runs (a rebuild, an upgrade): the trials left still start,
# from the running binary (/proc/self/exe), not from what is at its path now.
mkdir -p "$work/bin" && cp "$bin" "$work/bin/trm-sweep"
"$work/bin/trm-sweep" run "$spec" -o "$work/rebuilt.h5" >"$work/rebuilt.out" 2>&1 &
pid=$!
held=$(hold_child "$work/rebuilt.h5") || fail "no trial process of rebuilt.h5 to hold"
rm -f "$work/bin/trm-sweep" && printf '#!/bin/sh\nexit 1\n' >"$work/bin/trm-sweep" &&
  chmod +x "$work/bin/trm-sweep"
[ -n "$held" ] && kill -CONT "$held"
wait $pid
rc=$?
{ [ $rc -eq 0 ] && "$bin" status "$work/rebuilt.h5" 2>&1 | grep -q "done 4"; } && ok ||
  fail "binary replaced mid-sweep: exit $rc: $(tail -3 "$work/rebuilt.out")"

# Stopped by SIGTERM while a trial runs, then resumed: the same metrics as the straight run.
"$bin" run "$spec" -o "$work/b.h5" >"$work/b.out" 2>&1 &
pid=$!
held=$(hold_child "$work/b.h5") || fail "no trial process of b.h5 to hold"
"$bin" status "$work/b.h5" >"$work/b.status" 2>&1
grep -q "running 1" "$work/b.status" && ! grep -q "no trm-sweep process" "$work/b.status" && ok ||
  fail "status while the run writes the file: $(cat "$work/b.status")"
kill -TERM $pid
sleep 0.5
[ -n "$held" ] && kill -CONT "$held"
wait $pid
rc=$?
[ $rc -eq 5 ] && ok || fail "SIGTERM: exit $rc (want 5): $(tail -3 "$work/b.out")"
"$bin" status "$work/b.h5" | grep -q "interrupted 1" && ok || fail "no interrupted trial after SIGTERM"
# Resumed, with the interrupted trial's child SIGKILLed as it starts again: the interruption was
# not a failure, so the trial still has its one retry (retries = 1) and the sweep finishes.
stopped_id=$($py -c 'import h5py, sys
rows = h5py.File(sys.argv[1], "r")["trials"][:]
print(*[r["id"].decode() for r in rows if r["status"].decode() == "interrupted"])' "$work/b.h5")
"$bin" resume "$work/b.h5" >>"$work/b.out" 2>&1 &
pid=$!
killed=""
for _ in $(seq 600); do
  child=$(pgrep -f "trm-sweep train --config $work/b.h5.trials/$stopped_id/" | head -1)
  [ -n "$child" ] && kill -KILL "$child" && killed=1 && break
  sleep 0.05
done
wait $pid
rc=$?
[ -n "$killed" ] && [ $rc -eq 0 ] && grep -q "failed (retrying)" "$work/b.out" && ok ||
  fail "resume with the interrupted trial killed once (killed=$killed): exit $rc: $(tail -3 "$work/b.out")"

# kill -9 of the coordinator mid-sweep, then resume.
"$bin" run "$spec" -o "$work/c.h5" >"$work/c.out" 2>&1 &
pid=$!
held=$(hold_child "$work/c.h5") || fail "no trial process of c.h5 to hold"
kill -KILL $pid
wait $pid 2>/dev/null
[ -n "$held" ] && kill -CONT "$held"
sleep 2  # the orphaned child checkpoints on its SIGTERM and exits
# status says the trial shown running was cut off, and --watch ends instead of counting forever.
"$bin" status "$work/c.h5" >"$work/c.status" 2>&1
grep -q "no trm-sweep process is writing this file: the 1 trial(s) shown running were cut off" \
  "$work/c.status" && ok || fail "status after kill -9 of the run: $(cat "$work/c.status")"
timeout 20 "$bin" status "$work/c.h5" --watch 1 >/dev/null 2>&1 && ok ||
  fail "status --watch went on after the run was killed"
"$bin" status "$work/a.h5" | grep -q "no trm-sweep process" && fail "a finished sweep called cut off" || ok
# The cut-off attempt: its start, and the last time its trial process wrote to its folder.
cut=$($py - "$work/c.h5" <<'PY'
import os, sys, h5py
f = h5py.File(sys.argv[1], "r", swmr=True)
rows = [r for r in f["trials"][:] if r["status"].decode() == "running"]
assert len(rows) == 1, rows
d = sys.argv[1] + ".trials/" + rows[0]["id"].decode()
last = max(os.stat(os.path.join(d, n)).st_mtime for n in os.listdir(d)
           if n in ("stdout.log", "stderr.log", "metrics.jsonl", "checkpoint.pt"))
print(int(rows[0]["index"]), repr(float(rows[0]["started"])), repr(last))
PY
)
"$bin" resume "$work/c.h5" >>"$work/c.out" 2>&1
rc=$?
[ $rc -eq 0 ] && ok || fail "resume after kill -9: exit $rc: $(tail -3 "$work/c.out")"
# Its time counts in wall_s, and its peak memory (from the stop line its trial process wrote on
# its parent's death) in measured_peak_bytes, beside the attempt that finished it.
$py - "$work/c.h5" $cut <<'PY' && ok || fail "the cut-off attempt's time or peak memory is missing: $cut"
import re, sys, h5py
path, index, started, last = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
f = h5py.File(path, "r")
row = f["trials"][index]
assert row["status"].decode() == "done" and row["attempts"] == 2, row
assert last > started, (started, last)
second = row["finished"] - row["started"]
assert row["wall_s"] >= second + (last - started) - 1e-3, (row["wall_s"], second, last - started)
log = open(path + ".trials/" + row["id"].decode() + "/stdout.log").read()
stop = re.search(r"^stopped (at step|before the first step) .*; peak_rss_bytes=([0-9]+); ", log, re.M)
assert stop, log
assert row["measured_peak_bytes"] >= int(stop.group(2)), (row["measured_peak_bytes"], stop.group(2))
events = [e["kind"].decode() for e in f["events"][:] if e["trial"] == index]
assert "cut_off" in events, events
PY
# --from-journal on a file its journal accounts for: said so, nothing set aside.
"$bin" resume "$work/c.h5" --from-journal >"$work/c.fj" 2>&1
rc=$?
{ [ $rc -eq 0 ] && grep -qF -- "holds nothing its journal lacks: nothing to rebuild" "$work/c.fj" &&
  ! ls "$work"/c.h5.before-rebuild* >/dev/null 2>&1; } && ok ||
  fail "resume --from-journal of a healthy file: exit $rc: $(cat "$work/c.fj")"

# A results file and its journal deleted, the trial folders left: a new run to that path is
# refused (it would take the old checkpoints for its own trials), naming the folder.
cp -r "$work/a.h5.trials" "$work/gone.h5.trials"
"$bin" run "$spec" -o "$work/gone.h5" >"$work/gone.out" 2>&1
rc=$?
{ [ $rc -eq 2 ] && grep -qF "gone.h5.trials holds the trial folders of an earlier sweep" "$work/gone.out" &&
  [ ! -e "$work/gone.h5" ]; } && ok || fail "run over an earlier sweep's trial folders: exit $rc: $(cat "$work/gone.out")"

# Two signals a second apart: the second ends the running trial at once (SIGKILL, no checkpoint
# at that moment); it is still `interrupted`, exit 5, and resume continues from its last
# checkpoint. The child is held (SIGSTOP) so that it cannot stop by itself in between.
"$bin" run "$spec" -o "$work/f.h5" >"$work/f.out" 2>&1 &
pid=$!
held=$(hold_child "$work/f.h5") || fail "no trial process of f.h5 to hold"
kill -INT $pid
sleep 1.5
kill -INT $pid
wait $pid
rc=$?
[ $rc -eq 5 ] && ok || fail "two SIGINTs: exit $rc (want 5): $(tail -3 "$work/f.out")"
"$bin" status "$work/f.h5" | grep -q "interrupted 1" && ok || fail "no interrupted trial after two SIGINTs"
interrupted_error() {  # the error text of the interrupted trial of results file $1
  $py -c 'import h5py, sys
rows = h5py.File(sys.argv[1], "r")["trials"][:]
print(*[r["error"].decode() for r in rows if r["status"].decode() == "interrupted"])' "$1"
}
interrupted_error "$work/f.h5" | grep -q "^killed by signal 9" && ok ||
  fail "the second SIGINT did not end the held trial at once: $(interrupted_error "$work/f.h5")"

# One scancel or preemption reaches a rank as several signals at once (SLURM's SIGTERM, srun's
# forwarded one, the job script's USR1): they count as one, and the trial checkpoints and stops.
"$bin" run "$spec" -o "$work/g.h5" >"$work/g.out" 2>&1 &
pid=$!
held=$(hold_child "$work/g.h5") || fail "no trial process of g.h5 to hold"
kill -TERM $pid
kill -TERM $pid
kill -USR1 $pid
sleep 0.5
[ -n "$held" ] && kill -CONT "$held"
wait $pid
rc=$?
[ $rc -eq 5 ] && interrupted_error "$work/g.h5" | grep -q "^exit 5" && ok ||
  fail "signals at once: exit $rc, the trial's end: $(interrupted_error "$work/g.h5")"
"$bin" resume "$work/f.h5" >>"$work/f.out" 2>&1
rc=$?
[ $rc -eq 0 ] && ok || fail "resume after two SIGINTs: exit $rc: $(tail -3 "$work/f.out")"

# On a terminal (a pty from script(1)) a progress line with counts and an ETA is redrawn.
script -qec "'$bin' run '$spec' -o '$work/g.h5'" /dev/null >"$work/g.out" 2>&1
grep -aq $'\r\e\[K\[done [0-3] running 1 failed 0 oom 0 of 4\] #[0-9]* [0-9]*/60  ETA ' "$work/g.out" && ok ||
  fail "no progress line on a terminal: $(tr '\r' '\n' <"$work/g.out" | tail -5)"
grep -q "ETA" "$work/a.out" && fail "progress line written to a file (not a terminal)" || ok

$py "$src/tests/cli/compare_results.py" "$work/a.h5" "$work/b.h5" "$work/c.h5" "$work/f.h5" && ok ||
  fail "interrupted sweeps differ from the straight one"

# A trial that fails past its retries (0 here: its child SIGKILLed) fails the sweep (exit 1), in
# the run and in every resume after it, until `resume --retry-failed` runs it again from its
# checkpoint; the retried sweep equals the straight one.
sed 's/^retries = 1/retries = 0/' "$spec" >"$work/noretry.toml"
"$bin" run "$work/noretry.toml" -o "$work/r.h5" >"$work/r.out" 2>&1 &
pid=$!
child=""
for _ in $(seq 300); do
  for p in $(pgrep -f "trm-sweep train --config $work/r.h5.trials/"); do
    d=$(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | sed 's/.* --out \([^ ]*\) .*/\1/')
    [ -f "$d/metrics.jsonl" ] && [ "$(wc -l <"$d/metrics.jsonl")" -ge 10 ] && child=$p && break 2
  done
  sleep 0.1
done
[ -n "$child" ] && kill -KILL "$child"
wait $pid
rc=$?
[ $rc -eq 1 ] && "$bin" status "$work/r.h5" | grep -q "failed 1" &&
  grep -qF "1 trial(s) failed (\`trm-sweep status $work/r.h5\` shows their errors); \`trm-sweep resume $work/r.h5 --retry-failed\` runs them again" "$work/r.out" && ok ||
  fail "a trial failed past its retries: exit $rc (want 1, and the hint): $(tail -3 "$work/r.out")"
"$bin" resume "$work/r.h5" >"$work/r2.out" 2>&1
rc=$?
[ $rc -eq 1 ] && ok || fail "resume of a sweep with a failed trial: exit $rc (want 1): $(tail -3 "$work/r2.out")"
"$bin" resume "$work/r.h5" --retry-failed >"$work/r3.out" 2>&1
rc=$?
[ $rc -eq 0 ] && "$bin" status "$work/r.h5" | grep -q "done 4" && ok ||
  fail "resume --retry-failed: exit $rc (want 0): $(tail -3 "$work/r3.out")"
$py "$src/tests/cli/compare_results.py" "$work/a.h5" "$work/r.h5" && ok ||
  fail "the sweep with a trial retried by --retry-failed differs from the straight one"

# Another spec on an existing file.
sed 's/model.l_cycles = \[1, 2\]/model.l_cycles = [1, 2, 3]/' "$spec" >"$work/bigger.toml"
"$bin" run "$work/bigger.toml" -o "$work/a.h5" >"$work/d.out" 2>&1
rc=$?
[ $rc -eq 2 ] && grep -q "made by another sweep spec" "$work/d.out" && ok || fail "another spec: exit $rc: $(cat "$work/d.out")"
"$bin" run "$work/bigger.toml" -o "$work/a.h5" --extend >"$work/e.out" 2>&1
rc=$?
[ $rc -eq 0 ] && "$bin" status "$work/a.h5" | grep -q "done 6" && ok || fail "--extend: exit $rc: $(tail -3 "$work/e.out")"

# An --extend stopped mid-way: `resume` alone knows only the spec stored at creation, so it says
# to continue with the extended spec instead of leaving the new cells out; that finishes it.
"$bin" run "$work/bigger.toml" -o "$work/b.h5" --extend >"$work/x.out" 2>&1 &
pid=$!
for _ in $(seq 300); do
  [ "$(find "$work/b.h5.trials" -name metrics.jsonl -newer "$work/x.out" | wc -l)" -ge 1 ] && break
  sleep 0.1
done
sleep 1
kill -TERM $pid
wait $pid
rc=$?
[ $rc -eq 5 ] && grep -qF "\`trm-sweep run $work/bigger.toml -o $work/b.h5 --extend\` continues" "$work/x.out" && ok ||
  fail "SIGTERM during --extend: exit $rc (want 5, and the hint to run it again): $(tail -3 "$work/x.out")"
# Nobody writes the file now: --watch says so and ends instead of redrawing for ever.
timeout 20 "$bin" status "$work/b.h5" --watch 0.5 >"$work/w.out" 2>&1
rc=$?
[ $rc -eq 0 ] && grep -q "no trm-sweep process is writing this file; [0-9]* trial(s) pending" "$work/w.out" && ok ||
  fail "status --watch of a stopped sweep: exit $rc (want 0), $(tail -2 "$work/w.out")"
"$bin" resume "$work/b.h5" >"$work/x2.out" 2>&1
rc=$?
[ $rc -eq 2 ] && grep -q "were added by \`run SPEC --extend\` and are not in the spec stored" "$work/x2.out" &&
  ok || fail "resume after a stopped --extend: exit $rc: $(cat "$work/x2.out")"
# `run` of that spec without --extend (all its trials are in the file now) names --extend.
"$bin" run "$work/bigger.toml" -o "$work/b.h5" >"$work/x4.out" 2>&1
rc=$?
[ $rc -eq 2 ] && grep -qF "\`trm-sweep run $work/bigger.toml -o $work/b.h5 --extend\` runs this text's cells into it" "$work/x4.out" &&
  ok || fail "run of the extending spec without --extend: exit $rc: $(cat "$work/x4.out")"
"$bin" run "$work/bigger.toml" -o "$work/b.h5" --extend >"$work/x3.out" 2>&1
rc=$?
[ $rc -eq 0 ] && "$bin" status "$work/b.h5" | grep -q "done 6" && ok ||
  fail "--extend again after the stop: exit $rc: $(tail -3 "$work/x3.out")"

# A trial added by --extend that fails (its data set has a token out of range deep in an array:
# the headers `plan` reads are sound, the values train reads are not) is failed, not unfinished:
# `resume` exits 1 as for any failed trial, and `run --extend --retry-failed` tries it again.
# Its error holds the last attempt's lines only (the log keeps every attempt's).
"$bin" data --set data.box=2 --set data.givens=6 --set model.seq_len=16 --set model.vocab_size=6 \
  --set data.train_puzzles=10 --set data.test_puzzles=4 --out "$work/baddata" >/dev/null &&
  $py -c "import numpy as np, sys; p = sys.argv[1]; a = np.load(p); a[3, 5] = 200; np.save(p, a)" \
    "$work/baddata/train/all__inputs.npy" || fail "writing the damaged data set"
{ cat "$work/bigger.toml"; printf '\n[[variant]]\nname = "bad data"\ndata.source = "reference"\ndata.path = "%s"\n' "$work/baddata"; } >"$work/bad.toml"
"$bin" run "$work/bad.toml" -o "$work/b.h5" --extend >"$work/bad.out" 2>&1
rc=$?
[ $rc -eq 1 ] && "$bin" status "$work/b.h5" | grep -q "failed 1" && ok ||
  fail "an --extend trial that fails: exit $rc (want 1): $(tail -3 "$work/bad.out")"
"$bin" resume "$work/b.h5" >"$work/bad2.out" 2>&1
rc=$?
[ $rc -eq 1 ] && ok || fail "resume with a failed --extend trial: exit $rc (want 1): $(tail -3 "$work/bad2.out")"
"$bin" run "$work/bad.toml" -o "$work/b.h5" --extend --retry-failed >"$work/bad3.out" 2>&1
rc=$?
$py - "$work/b.h5" <<'PY' && [ $rc -eq 1 ] && ok || fail "run --extend --retry-failed: exit $rc (want 1), $(tail -3 "$work/bad3.out")"
import sys, h5py
rows = h5py.File(sys.argv[1], "r")["trials"][:]
bad = [r for r in rows if r["name"].decode() == "bad data"]
assert len(bad) == 1 and bad[0]["status"].decode() == "failed", bad
assert bad[0]["attempts"] == 4, bad[0]["attempts"]  # 2 (retries = 1), then 2 more
error = bad[0]["error"].decode()
assert error.count("all__inputs.npy: element 53 = 200") == 1, error
PY

summary
