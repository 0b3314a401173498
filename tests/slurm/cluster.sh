#!/usr/bin/env bash
# `trm-sweep submit` on a real one-node SLURM 22.05 cluster (../shared/slurm-local), three jobs
# at once:
#  A. a CPU sweep under a path with spaces, quotes and $(...): the job completes, every trial is
#     done with its full tables, nothing in the path ran;
#  B. the same sweep with a 1-minute limit and a 30 s warning: USR1 arrives, the running trials
#     are interrupted and checkpointed, the job requeues itself and the sweep completes on the
#     next run with the same per-trial metrics, bit for bit, as A;
#  C. a sweep cancelled (scancel) after its first trial, then submitted again on the same file,
#     held, and its spec file edited before the job starts: the new job resumes the sweep as
#     submitted (finished trials are not run again).
# The cluster is stopped on exit, also on failure. Usage: cluster.sh PATH/TO/trm-sweep SOURCE_DIR
# TRM_SLURM_TASKS: ranks per job (default 2: the coordinator and one worker).
set -u
bin=$1
src=$2
py=/usr/bin/python3  # Debian's, with python3-h5py
tasks=${TRM_SLURM_TASKS:-2}
slurm_local=${TRM_SLURM_LOCAL:-$src/../shared/slurm-local/slurm-local.sh}
source "$src/tests/cli/common.sh" slurm_cluster
trap 'bash "$slurm_local" stop >/dev/null 2>&1; [ -n "${TRM_KEEP_WORK:-}" ] || rm -rf "$work"' EXIT
export SLURM_LOCAL_CPUS=$((3 * tasks + 1))  # the three jobs at once on a small machine
t0=$(date +%s)
elapsed() { echo "[$(($(date +%s) - t0)) s] $*"; }

bash "$slurm_local" start || { echo "FAIL: the SLURM cluster did not start"; exit 1; }
elapsed "cluster up"
long="$src/tests/slurm/long_sweep.toml"
tiny="$src/tests/sweep/tiny_sweep.toml"
common=(--nodes 1 --tasks-per-node "$tasks" --cpus-per-task 1)

# submit prints "submitted job ID: ..."; echoes ID.
submit() {
  local out
  out=$("$bin" submit "$@" 2>&1) || { echo "FAIL: submit $*: $out" >&2; return 1; }
  sed -n 's/^submitted job \([0-9]*\):.*/\1/p' <<<"$out"
}
done_count() { "$bin" status "$1" 2>/dev/null | sed -n 's/.* done \([0-9]*\),.*/\1/p'; }

odd="$work/it's a \"dir\" \$(touch $work/pwned)"
mkdir -p "$odd"
job_a=$(submit "$long" -o "$odd/a.h5" "${common[@]}" --time 10:00) && ok || fail "submit A"
job_b=$(submit "$long" -o "$work/b.h5" "${common[@]}" --time 1:00 --grace 30 --max-requeues 20) && ok || fail "submit B"
job_c=$(submit "$tiny" -o "$work/c.h5" "${common[@]}" --time 10:00) && ok || fail "submit C"
elapsed "submitted A=$job_a B=$job_b C=$job_c"

# C: cancel once a trial is done, then submit again.
for _ in $(seq 1200); do
  [ "$(done_count "$work/c.h5")" ] && [ "$(done_count "$work/c.h5")" -ge 1 ] && break
  sleep 0.2
done
scancel "$job_c"
state=$(bash "$slurm_local" wait-job "$job_c" 60)
[ "$state" = CANCELLED ] && ok || fail "C after scancel: $state"
before=$(done_count "$work/c.h5")
[ -n "$before" ] && [ "$before" -ge 1 ] && [ "$before" -lt 4 ] && ok ||
  fail "C: want 1-3 trials done when cancelled, got '$before' (the sweep was too quick or never ran)"
elapsed "C cancelled with $before done"
# Submitted held from a copy of the spec, which is then edited before the job starts: the job
# runs the spec as submitted (an edited one would be refused by the file, or add trials).
cp "$tiny" "$work/c.toml"
job_c2=$(submit "$work/c.toml" -o "$work/c.h5" "${common[@]}" --time 10:00 --extra-sbatch=--hold) &&
  ok || fail "submit C again"
sed -i 's/model.l_cycles = \[1, 2\]/model.l_cycles = [1, 2, 3]/' "$work/c.toml"
grep -q 'l_cycles = \[1, 2, 3\]' "$work/c.toml" || fail "could not edit C's spec"
scontrol release "$job_c2"
state=$(bash "$slurm_local" wait-job "$job_c2" 400)
[ "$state" = COMPLETED ] && ok || fail "C resubmitted: $state: $(tail -5 "$work/c.h5.slurm-$job_c2.log")"
grep -q "sweep tiny: $((4 - before)) of 4 trials to run" "$work/c.h5.slurm-$job_c2.log" && ok ||
  fail "C resubmitted did not resume: $(grep 'trials to run' "$work/c.h5.slurm-$job_c2.log")"
elapsed "C resubmitted and completed"

state=$(bash "$slurm_local" wait-job "$job_a" 400)
[ "$state" = COMPLETED ] && ok || fail "A: $state: $(tail -5 "$odd/a.h5.slurm-$job_a.log")"
elapsed "A completed"
state=$(bash "$slurm_local" wait-job "$job_b" 500)
[ "$state" = COMPLETED ] && ok || fail "B: $state: $(tail -5 "$work/b.h5.slurm-$job_b.log")"
elapsed "B completed"
[ ! -e "$work/pwned" ] && ok || fail "the \$(...) in A's path ran"

# B: warned, interrupted, requeued by itself, resumed.
log_b="$work/b.h5.slurm-$job_b.log"
grep -q "SIGUSR1" "$log_b" && grep -q "sweep exited 5" "$log_b" && grep -q "requeueing job $job_b" "$log_b" &&
  ok || fail "B: no USR1 -> exit 5 -> requeue in the log: $(cat "$log_b")"
restarts=$(scontrol -o show job "$job_b" | grep -o 'Restarts=[0-9]*' | cut -d= -f2)
[ "${restarts:-0}" -ge 1 ] && ok || fail "B: Restarts=$restarts (want >= 1)"
grep -q "sweep exited 0" "$log_b" && ok || fail "B: the last run did not finish the sweep"

$py - "$odd/a.h5" "$work/b.h5" "$work/c.h5" "$before" "$src/tests/cli" <<'PY' && ok || fail "results: see above"
import sys
sys.path.insert(0, sys.argv[5])
from compare_results import load
a_rows, a, _ = load(sys.argv[1])
assert len(a_rows) == 4 and all(len(a[(r["id"].decode(), "train")]) == 500 for r in a_rows), "A: want 4 trials of 500 steps"
b_rows, b, b_events = load(sys.argv[2])
kinds = [k for k, _ in b_events]
assert "signal" in kinds, ("B: no signal event", kinds)
# Every trial running when the first warning came is interrupted (checkpointed, resumed by the
# next run), or it was already in its last moments (its last step, final eval) and ends done
# within 2 s of the signal. A trial that ignored the stop would run on for seconds.
import h5py
events = [(float(e["time"]), int(e["trial"]), e["kind"].decode()) for e in h5py.File(sys.argv[2], "r")["events"][:]]
at = next(i for i, e in enumerate(events) if e[2] == "signal")
running = {t for _, t, k in events[:at] if k == "start" and t >= 0} - {t for _, t, k in events[:at] if k != "start" and t >= 0}
for trial in running:
    when, _, end = next(e for e in events[at:] if e[1] == trial)
    assert end == "interrupted" or (end == "done" and when - events[at][0] < 2.0), ("B: trial %d running at the signal ended %s %.1f s after it" % (trial, end, when - events[at][0]), events)
if "interrupted" in kinds:
    assert max(int(r["attempts"]) for r in b_rows) >= 2, "B: the interrupted trial was not resumed"
else:
    print("B: the warning came as no trial was in its middle (%s); nothing was interrupted" % sorted(running))
assert a.keys() == b.keys()
for k in a:
    assert a[k] == b[k], ("B differs from A", k, len(a[k]), len(b[k]))
c_rows, _, _ = load(sys.argv[3])
assert len(c_rows) == 4
print("A, B (interrupted %d times) and C agree" % kinds.count("signal"))
PY
"$bin" status "$work/b.h5" >"$work/status_b.out" 2>&1
grep -q "^slurm job $job_b: COMPLETED, restarts [1-9]" "$work/status_b.out" && ok ||
  fail "status does not show B's SLURM job: $(cat "$work/status_b.out")"
elapsed "cluster tests done"
summary
