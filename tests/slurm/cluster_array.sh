#!/usr/bin/env bash
# `trm-sweep submit --array 2` on a real one-node SLURM 22.05 cluster (../shared/slurm-local): a
# short CPU sweep as a job array (under a path with a space and a quote), beside the same sweep as
# one MPI job. Both complete; each task wrote its own file and log; the `merge` command that
# submit printed, run as printed, makes a file whose exported tables (md, csv, raw without the
# wall-clock and peak-memory columns) equal the MPI job's. About 30-60 s on 2 cores.
# The cluster is stopped on exit, also on failure. Usage: cluster_array.sh PATH/TO/trm-sweep SRC
set -u
bin=$1
src=$2
slurm_local=${TRM_SLURM_LOCAL:-$src/../shared/slurm-local/slurm-local.sh}
source "$src/tests/cli/common.sh" slurm_cluster_array
trap 'bash "$slurm_local" stop >/dev/null 2>&1; [ -n "${TRM_KEEP_WORK:-}" ] || rm -rf "$work"' EXIT
export SLURM_LOCAL_CPUS=7  # the MPI job and both array tasks at once, 2 ranks each
t0=$(date +%s)
elapsed() { echo "[$(($(date +%s) - t0)) s] $*"; }

# The tiny sweep, shortened to seconds per trial.
spec="$work/quick.toml"
sed 's/^train.steps = 60/train.steps = 10/; s/^train.eval_interval = 20/train.eval_interval = 5/' \
  "$src/tests/sweep/tiny_sweep.toml" >"$spec"
grep -q '^train.steps = 10$' "$spec" || { echo "FAIL: could not shorten the tiny sweep"; exit 1; }

bash "$slurm_local" start || { echo "FAIL: the SLURM cluster did not start"; exit 1; }
elapsed "cluster up"
common=(--nodes 1 --tasks-per-node 2 --cpus-per-task 1 --time 10:00)
dir="$work/array dir's"
mkdir -p "$dir"

out=$("$bin" submit "$spec" -o "$work/mpi.h5" "${common[@]}" 2>&1) && ok || fail "submit MPI: $out"
job_mpi=$(sed -n 's/^submitted job \([0-9]*\):.*/\1/p' <<<"$out")
"$bin" submit "$spec" -o "$dir/r.h5" "${common[@]}" --array 2 >"$work/submit.out" 2>&1 && ok ||
  fail "submit --array 2: $(cat "$work/submit.out")"
job_arr=$(sed -n 's/^submitted job array \([0-9]*\):.*/\1/p' "$work/submit.out")
elapsed "submitted MPI=$job_mpi array=$job_arr"
[ -n "$job_arr" ] && [ -n "$job_mpi" ] || { fail "no job ids: $out $(cat "$work/submit.out")"; summary; exit 1; }
grep -qF "logs: $dir/r.h5.slurm-${job_arr}_{0..1}.log" "$work/submit.out" && ok ||
  fail "submit does not say where the task logs go: $(cat "$work/submit.out")"

state=$(bash "$slurm_local" wait-job "$job_arr" 300)
[ "$state" = COMPLETED ] && ok || fail "array: $state: $(tail -n 5 "$dir"/r.h5.slurm-*.log)"
elapsed "array completed"
state=$(bash "$slurm_local" wait-job "$job_mpi" 300)
[ "$state" = COMPLETED ] && ok || fail "MPI job: $state: $(tail -5 "$work/mpi.h5.slurm-$job_mpi.log")"
elapsed "MPI job completed"

for k in 0 1; do
  log="$dir/r.h5.slurm-${job_arr}_$k.log"
  grep -q "sweep tiny" "$log" && grep -q "(shard $k/2 of 4)" "$log" && ok ||
    fail "task $k's log $log: $(cat "$log" 2>&1 | tail -5)"
  [ -f "$dir/r.task$k.h5" ] && ok || fail "no results file of task $k: $(ls "$dir")"
  # status names the task's own job, ARRAYID_TASK (not the number SLURM_JOB_ID gives it).
  "$bin" status "$dir/r.task$k.h5" 2>&1 | grep -q "^slurm job ${job_arr}_$k: COMPLETED" && ok ||
    fail "status of task $k: $("$bin" status "$dir/r.task$k.h5" 2>&1 | head -3)"
done

# The merge command exactly as submit printed it (its last line).
merge=$(tail -1 "$work/submit.out")
[[ "$merge" == *" merge "* ]] && ok || fail "submit's last line is no merge command: $merge"
bash -c "$merge" >"$work/merge.out" 2>&1 && ok || fail "$merge: $(cat "$work/merge.out")"
grep -q "4 trials (4 done)" "$work/merge.out" && ok || fail "merge: $(cat "$work/merge.out")"

tables() {  # tables FILE: md and csv without the provenance line, raw without wall clock and RSS
  "$bin" export "$1" --format md | grep -v '^Sweep .*, created '
  "$bin" export "$1" --format csv
  "$bin" export "$1" --kind raw --format csv | /usr/bin/python3 -c 'import csv, sys
rows = list(csv.reader(sys.stdin))
drop = [rows[0].index(c) for c in ("wall_s", "measured_peak_bytes")]
for r in rows:
    print(",".join(v for i, v in enumerate(r) if i not in drop))'
}
tables "$work/mpi.h5" >"$work/mpi.tables"
tables "$dir/r.h5" >"$work/merged.tables"
[ "$(grep -c ',done,' "$work/merged.tables")" -eq 4 ] && ok || fail "merged raw table: $(cat "$work/merged.tables")"
cmp -s "$work/mpi.tables" "$work/merged.tables" && ok ||
  fail "the merged array's tables differ from the MPI job's: $(diff "$work/mpi.tables" "$work/merged.tables")"
elapsed "array tests done"
summary
