#!/usr/bin/env bash
# The launcher for real under `mpirun -np 3 --oversubscribe` (rank 0 coordinates, ranks 1-2 run
# trials), read back with Debian's h5py:
#  - a 12-trial sweep ends with every trial done, with metrics, the same per trial as run locally;
#  - a worker's child SIGKILLed mid-trial: the trial is retried (from its checkpoint) and done;
#  - SIGTERM to one worker rank: its trial is requeued and finished from its checkpoint;
#  - a trial past its memory budget ends oom, the others done;
#  - SIGUSR1 to the job: running trials interrupted, exit 5; `resume` gives the straight results;
#  - a worker rank that stops answering (SIGSTOP) is declared lost; its trial is done elsewhere;
#  - bad input: a spec with errors (nothing started), a missing directory, another sweep's file,
#    more ranks than trials (idle ranks leave cleanly), a world of 1 without --coordinator-works.
# Usage: mpi_run.sh PATH/TO/trm-sweep SOURCE_DIR
set -u
bin=$1
src=$2
py=/usr/bin/python3  # Debian's, with python3-h5py
source "$(dirname "$0")/common.sh" mpi_run
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
# In the foreground a timeout guards against a hung job; jobs sent signals run bare (mpirun itself
# must get them).
mpi() { timeout 300 mpirun --oversubscribe "$@"; }
spec="$src/tests/sweep/mpi_sweep.toml"
# Longer trials (150 steps, one seed) for the faults, which strike mid-trial.
sed 's/train.steps = 30/train.steps = 150/; s/seeds = 3/seeds = 1/; s/name = "mpi12"/name = "mpi4"/' \
  "$spec" >"$work/long.toml"

# The per-trial train/eval tables of result files are equal (wall-clock columns aside), every
# trial done.
compare() { $py "$src/tests/cli/compare_results.py" "$@"; }

# Waits until some trial child has written at least $1 metrics lines; prints its pid.
wait_for_child() {
  for _ in $(seq 600); do
    for pid in $(pgrep -f "trm-sweep train --config $work/$2"); do
      dir=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | sed 's/.* --out \([^ ]*\) .*/\1/')
      if [ -f "$dir/metrics.jsonl" ] && [ "$(wc -l <"$dir/metrics.jsonl")" -ge "$1" ]; then
        echo "$pid"
        return 0
      fi
    done
    sleep 0.1
  done
  return 1
}

# 1. The 12-trial sweep on 3 ranks, and the same sweep locally.
mpi -np 3 "$bin" run "$spec" -o "$work/mpi.h5" >"$work/mpi.out" 2>&1
rc=$?
[ $rc -eq 0 ] && ok || fail "mpirun -np 3 run: exit $rc: $(tail -5 "$work/mpi.out")"
$py - "$work/mpi.h5" <<'PY' && ok || fail "the MPI results file is not as documented"
import sys, h5py
f = h5py.File(sys.argv[1], "r")
rows = f["trials"][:]
assert len(rows) == 12
assert [s.decode() for s in rows["status"]] == ["done"] * 12, rows["status"]
assert set(rows["rank"]) == {1, 2}, rows["rank"]  # both workers ran trials, rank 0 none
assert f.attrs["mpi_version"].startswith("Open MPI"), f.attrs["mpi_version"]
for i in range(12):
    assert f["trial/%06d" % i]["train"].shape == (30,) and f["trial/%06d" % i]["eval"].shape == (2,)
PY
grep -q "^| 0 | l_cycles=1 halting=bce seed=0 | done |" "$work/mpi.out" && ok || fail "run did not end with the sweep's table"
"$bin" run "$spec" -o "$work/local.h5" --jobs 2 >"$work/local.out" 2>&1
rc=$?
[ $rc -eq 0 ] && ok || fail "local run: exit $rc: $(tail -3 "$work/local.out")"
compare "$work/local.h5" "$work/mpi.h5" && ok || fail "MPI and local runs differ per trial"

# 2. Straight local run of the long sweep: the reference for the faults below. --jobs 9 for its
# 4 trials: 4 slots, not 9 (and a warning where 4 trials at once oversubscribe the cores).
"$bin" run "$work/long.toml" -o "$work/straight.h5" --jobs 9 >"$work/straight.out" 2>&1 && ok ||
  fail "straight run of the long sweep: $(tail -3 "$work/straight.out")"
grep -q "^sweep mpi4: 4 of 4 trials to run on 4 slots (" "$work/straight.out" && ok ||
  fail "--jobs 9 for 4 trials: $(head -2 "$work/straight.out")"
if [ "$(nproc)" -lt 4 ]; then
  grep -q "^warning: --jobs 9: 4 trials at once on $(nproc) cores share them" "$work/straight.out" &&
    ok || fail "no oversubscription warning: $(head -2 "$work/straight.out")"
fi

# 3. A worker's child SIGKILLed mid-trial: retried from its checkpoint, done.
mpirun --oversubscribe -np 3 "$bin" run "$work/long.toml" -o "$work/kill.h5" >"$work/kill.out" 2>&1 &
job=$!
child=$(wait_for_child 40 kill.h5.trials) && kill -KILL "$child" || fail "no trial child to kill"
wait $job
rc=$?
[ $rc -eq 0 ] && ok || fail "run after a child's SIGKILL: exit $rc: $(tail -5 "$work/kill.out")"
grep -q "failed (retrying)" "$work/kill.out" && ok || fail "the killed trial was not retried"
compare "$work/straight.h5" "$work/kill.h5" && ok || fail "the retried trial's results differ"
$py -c "import h5py,sys; a=h5py.File(sys.argv[1])['trials']['attempts']; assert sorted(a)==[1,1,1,2], a" \
  "$work/kill.h5" && ok || fail "attempts after one kill are not 1,1,1,2"

# 3b. SIGTERM to one worker rank (not to the job): its trial checkpoints and stops, goes back to
# the queue and is finished from its checkpoint; the sweep ends done, exit 0, as the straight run.
mpirun --oversubscribe -np 3 "$bin" run "$work/long.toml" -o "$work/term.h5" >"$work/term.out" 2>&1 &
job=$!
child=$(wait_for_child 40 term.h5.trials) && kill -TERM "$(ps -o ppid= -p "$child" | tr -d ' ')" ||
  fail "no worker rank to send SIGTERM"
wait $job
rc=$?
{ [ $rc -eq 0 ] && grep -q "interrupted (requeued)" "$work/term.out" &&
  "$bin" status "$work/term.h5" | grep -q "done 4"; } && ok ||
  fail "SIGTERM to one worker rank: exit $rc: $(tail -5 "$work/term.out")"
compare "$work/straight.h5" "$work/term.h5" && ok || fail "the requeued trial's results differ"

# 4. Past the memory budget: oom, with the measured peak; the others done.
mpi -np 3 "$bin" run "$src/tests/sweep/memory_budget_sweep.toml" -o "$work/oom.h5" >"$work/oom.out" 2>&1
rc=$?
[ $rc -eq 0 ] && ok || fail "memory budget sweep: exit $rc: $(tail -5 "$work/oom.out")"
$py - "$work/oom.h5" <<'PY' && ok || fail "memory budget: statuses not as expected"
import sys, h5py
rows = h5py.File(sys.argv[1], "r")["trials"][:]
status = {r["name"].decode(): r["status"].decode() for r in rows}
assert status == {"l_cycles=1": "done", "l_cycles=2": "done", "huge": "oom"}, status
huge = [r for r in rows if r["name"] == b"huge"][0]
assert huge["measured_peak_bytes"] > 0 and huge["predicted_peak_bytes"] > 800 * 2**20, huge
assert b"out of memory" in huge["error"], huge["error"]
PY

# 5. SIGUSR1 to the job (SLURM's warning): trials interrupted, exit 5; resume completes it.
mpirun --oversubscribe -np 3 "$bin" run "$work/long.toml" -o "$work/usr1.h5" >"$work/usr1.out" 2>&1 &
job=$!
wait_for_child 20 usr1.h5.trials >/dev/null || fail "no trial started before SIGUSR1"
kill -USR1 $job
wait $job
rc=$?
[ $rc -eq 5 ] && ok || fail "SIGUSR1: exit $rc (want 5): $(tail -5 "$work/usr1.out")"
"$bin" status "$work/usr1.h5" | grep -Eq "interrupted [12]" && ok || fail "no interrupted trial after SIGUSR1"
mpi -np 3 "$bin" resume "$work/usr1.h5" >>"$work/usr1.out" 2>&1
rc=$?
[ $rc -eq 0 ] && ok || fail "resume: exit $rc: $(tail -5 "$work/usr1.out")"
compare "$work/straight.h5" "$work/usr1.h5" && ok || fail "interrupted and resumed results differ"

# 6. A worker rank that stops answering: declared lost, its trial done by the other worker.
mpirun --oversubscribe -np 3 "$bin" run "$work/long.toml" -o "$work/lost.h5" --heartbeat 0.2 --worker-timeout 3 \
  >"$work/lost.out" 2>&1 &
job=$!
child=$(wait_for_child 20 lost.h5.trials)
rank_pid=$(ps -o ppid= -p "$child" | tr -d ' ')
kill -STOP "$rank_pid"
wait $job
kill -CONT "$rank_pid" 2>/dev/null
kill -KILL "$child" 2>/dev/null
# (From the file: mpirun may drop a rank's last output lines when the job ends with MPI_Abort.)
$py -c "import h5py,sys; e=h5py.File(sys.argv[1])['events'][:]; assert b'lost' in list(e['kind']), set(e['kind'])" \
  "$work/lost.h5" && ok || fail "no worker declared lost: $(tail -5 "$work/lost.out")"
compare "$work/straight.h5" "$work/lost.h5" && ok || fail "the lost worker's trial was not redone right"

# 7. Bad input.
printf '[sweep]\nname = "bad"\n[base]\nmodel.hiden_size = 4\n' >"$work/bad.toml"
mpi -np 3 "$bin" run "$work/bad.toml" -o "$work/bad.h5" >"$work/bad.out" 2>&1
rc=$?
[ $rc -eq 2 ] && grep -q "hiden_size" "$work/bad.out" && [ ! -e "$work/bad.h5" ] && ok ||
  fail "spec with errors under MPI: exit $rc, file $(ls "$work"/bad.h5 2>&1): $(cat "$work/bad.out")"
mpi -np 3 "$bin" run "$spec" -o "$work/missing/dir/x.h5" >"$work/dir.out" 2>&1
rc=$?
n=$(grep -c "error: -o .*missing/dir/x.h5: the folder .* does not exist" "$work/dir.out")
[ $rc -eq 2 ] && [ "$n" -eq 1 ] && ok || fail "missing directory: exit $rc, said $n times (want 1): $(cat "$work/dir.out")"
mpi -np 3 "$bin" run "$work/long.toml" -o "$work/mpi.h5" >"$work/other.out" 2>&1
rc=$?
[ $rc -eq 2 ] && grep -q "another sweep spec" "$work/other.out" && ok ||
  fail "another sweep's file: exit $rc: $(cat "$work/other.out")"
# A mistake in the options is said once, by rank 0, not once per rank.
mpi -np 3 "$bin" run "$spec" -o "$work/jobs.h5" --jobs 0 >"$work/jobs.out" 2>&1
rc=$?
n=$(grep -c "error: --jobs: 0: expected a whole number" "$work/jobs.out")
[ $rc -eq 2 ] && [ "$n" -eq 1 ] && ok || fail "--jobs 0 under MPI: exit $rc, said $n times: $(cat "$work/jobs.out")"
mpi -np 3 "$bin" run "$spec" -o "$work/flag.h5" --no-such-flag >"$work/flag.out" 2>&1
rc=$?
n=$(grep -c "no-such-flag" "$work/flag.out")
[ $rc -eq 2 ] && [ "$n" -eq 1 ] && ok || fail "an unknown flag under MPI: exit $rc, said $n times: $(cat "$work/flag.out")"
sed 's/^seeds = 3/seeds = 1/; /^\[grid\]/,$d' "$spec" >"$work/one.toml"
mpi -np 4 "$bin" run "$work/one.toml" -o "$work/one.h5" >"$work/one.out" 2>&1
rc=$?
[ $rc -eq 0 ] && "$bin" status "$work/one.h5" | grep -q "done 1" && ok ||
  fail "more ranks than trials: exit $rc: $(tail -5 "$work/one.out")"
mpi -np 1 "$bin" run "$work/one.toml" -o "$work/world1.h5" >"$work/world1.out" 2>&1
rc=$?
[ $rc -eq 0 ] && "$bin" status "$work/world1.h5" | grep -q "done 1" && ok ||
  fail "world of 1: exit $rc: $(tail -5 "$work/world1.out")"

summary
