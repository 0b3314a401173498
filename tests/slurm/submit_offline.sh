#!/usr/bin/env bash
# `trm-sweep submit` without a cluster: the --dry-run script is run by bash with stand-ins for
# srun and scontrol first on PATH, so that what the job would really execute is checked:
#  - a spec and results path with spaces, quotes and $(...) reach `trm-sweep run` unchanged, and
#    nothing in them is executed;
#  - the script requeues only after USR1 with the sweep exiting 5 and restarts below the maximum;
#    TERM (scancel), a finished sweep and a used-up maximum do not requeue; the signal reaches
#    the step as USR1;
#  - bad options: exit 2, one message, an unknown option lists the valid ones.
# Usage: submit_offline.sh PATH/TO/trm-sweep SOURCE_DIR
set -u
bin=$(readlink -f "$1")  # as /proc/self/exe names it in the script
src=$2
source "$src/tests/cli/common.sh" slurm_offline

evil="$work/dir with space/it's \"q\" \$(touch $work/pwned) \`touch $work/pwned2\`"
mkdir -p "$evil" "$work/bin"
cp "$src/tests/sweep/tiny_sweep.toml" "$evil/spec \$(id).toml"

# srun stand-in: records its arguments, one per line; STUB_SRUN=exit:N or wait (for USR1, then 5).
cat >"$work/bin/srun" <<'STUB'
#!/usr/bin/env bash
printf '%s\n' "$@" >"$STUB_DIR/srun.args"
prev=
for a; do  # the spec the step is given, as it is while the step runs
  [ "$prev" = run ] && cp "$a" "$STUB_DIR/srun.spec"
  prev=$a
done
case "$STUB_SRUN" in
  exit:*) exit "${STUB_SRUN#exit:}" ;;
  wait)
    trap 'echo USR1 >>"$STUB_DIR/srun.signals"; exit 5' USR1
    trap 'echo TERM >>"$STUB_DIR/srun.signals"; exit 5' TERM
    echo ready >"$STUB_DIR/srun.ready"
    for _ in $(seq 300); do sleep 0.1; done
    exit 0 ;;
esac
STUB
cat >"$work/bin/scontrol" <<'STUB'
#!/usr/bin/env bash
printf '%s\n' "$@" >>"$STUB_DIR/scontrol.args"
STUB
chmod +x "$work/bin/srun" "$work/bin/scontrol"

"$bin" submit "$evil/spec \$(id).toml" -o "$evil/r.h5" --time 10:00 --grace 60 --max-requeues 2 \
  --dry-run >"$work/job.sbatch" 2>"$work/err"
rc=$?
[ $rc -eq 0 ] && ok || fail "dry-run: exit $rc: $(cat "$work/err")"
grep -q '^#SBATCH --signal=B:USR1@60$' "$work/job.sbatch" && grep -q '^#SBATCH --requeue$' "$work/job.sbatch" &&
  ok || fail "no --signal=B:USR1@60 / --requeue in the script"
bash -n "$work/job.sbatch" && ok || fail "the rendered script is not valid bash"

# Runs the script as slurmd would: $1 = srun behaviour, $2 = SLURM_RESTART_COUNT, $3 = signal to
# send; $array_env (e.g. "SLURM_ARRAY_JOB_ID=76 SLURM_ARRAY_TASK_ID=1") for an array task.
array_env=
job_script="$work/job.sbatch"
run_job() {
  rm -f "$work"/srun.* "$work"/scontrol.args
  (cd "$work" && exec env PATH="$work/bin:$PATH" STUB_DIR="$work" STUB_SRUN=$1 SLURM_JOB_ID=77 \
    SLURM_RESTART_COUNT=$2 $array_env bash "$job_script") >"$work/job.out" 2>&1 &
  local pid=$!
  if [ -n "${3:-}" ]; then
    for _ in $(seq 100); do [ -e "$work/srun.ready" ] && break; sleep 0.1; done
    kill -s "$3" $pid
  fi
  wait $pid
}

# The spec is edited after submit: the job runs the spec as it was submitted (the script carries
# it, byte for byte), from a copy beside the results file that is gone when the job ends.
cp "$evil/spec \$(id).toml" "$work/submitted.toml"
printf '\n# edited after submit\n' >>"$evil/spec \$(id).toml"
run_job exit:0 0
rc=$?
printf '%s\n' --mpi=pmix --ntasks=1 --ntasks-per-node=1 --cpus-per-task=1 --kill-on-bad-exit=0 \
  "$bin" run "$evil/r.h5.spec-77/spec \$(id).toml" -o "$evil/r.h5" --device cpu >"$work/want.args"
cmp -s "$work/submitted.toml" "$work/srun.spec" && ok ||
  fail "the step's spec is not the submitted one: $(diff "$work/submitted.toml" "$work/srun.spec" 2>&1)"
[ ! -e "$evil/r.h5.spec-77" ] && ok || fail "the spec's copy was left behind: $(ls -la "$evil")"
cmp -s "$work/want.args" "$work/srun.args" && ok ||
  fail "srun got other arguments than the literal paths: $(diff "$work/want.args" "$work/srun.args")"
[ ! -e "$work/pwned" ] && [ ! -e "$work/pwned2" ] && ok || fail "a path's \$(...) or backticks ran"
[ $rc -eq 0 ] && [ ! -e "$work/scontrol.args" ] && ok || fail "finished sweep: exit $rc, requeued: $(cat "$work/scontrol.args" 2>/dev/null)"

run_job exit:1 0
rc=$?
[ $rc -eq 1 ] && [ ! -e "$work/scontrol.args" ] && ok || fail "failed sweep: exit $rc or requeued"

run_job wait 0 USR1
rc=$?
[ "$(cat "$work/srun.signals" 2>/dev/null)" = USR1 ] && ok || fail "USR1 did not reach the step as USR1: $(cat "$work/job.out")"
[ "$(tr '\n' ' ' <"$work/scontrol.args" 2>/dev/null)" = "requeue 77 " ] && [ $rc -eq 0 ] && ok ||
  fail "USR1, restart 0 of 2: want 'scontrol requeue 77', exit 0; got exit $rc: $(cat "$work/job.out")"

run_job wait 1 USR1
[ "$(tr '\n' ' ' <"$work/scontrol.args" 2>/dev/null)" = "requeue 77 " ] && ok || fail "USR1, restart 1 of 2: no requeue"

run_job wait 2 USR1
rc=$?
[ ! -e "$work/scontrol.args" ] && [ $rc -eq 5 ] && grep -q "2 requeues used" "$work/job.out" && ok ||
  fail "USR1 after 2 of 2 requeues: exit $rc (want 5), requeued: $(cat "$work/scontrol.args" 2>/dev/null)"

# A plain job submitted from inside an array task inherits SLURM_ARRAY_*: it still requeues
# itself, not that task.
array_env="SLURM_ARRAY_JOB_ID=76 SLURM_ARRAY_TASK_ID=1"
run_job wait 0 USR1
[ "$(tr '\n' ' ' <"$work/scontrol.args" 2>/dev/null)" = "requeue 77 " ] && ok ||
  fail "plain job with an inherited SLURM_ARRAY_*: want 'scontrol requeue 77': $(cat "$work/scontrol.args" 2>/dev/null)"
# An array task requeues itself only: ARRAYID_TASK (the bare array id would requeue every task).
"$bin" submit "$evil/spec \$(id).toml" -o "$evil/r.h5" --array 2 --time 10:00 --grace 60 \
  --max-requeues 2 --dry-run >"$work/array.sbatch" 2>"$work/err" || fail "array dry-run: $(cat "$work/err")"
job_script="$work/array.sbatch"
run_job wait 0 USR1
[ "$(tr '\n' ' ' <"$work/scontrol.args" 2>/dev/null)" = "requeue 76_1 " ] && ok ||
  fail "array task, USR1: want 'scontrol requeue 76_1': $(cat "$work/scontrol.args" 2>/dev/null)"
array_env=
job_script="$work/job.sbatch"

# A spec saved with CRLF line endings: the script holds no carriage return (sbatch refuses DOS
# line breaks), and the job's copy of the spec is the file, byte for byte.
sed 's/$/\r/' "$src/tests/sweep/tiny_sweep.toml" >"$work/crlf.toml"
"$bin" submit "$work/crlf.toml" -o "$work/crlf.h5" --dry-run >"$work/crlf.sbatch" 2>"$work/err" &&
  ! grep -q $'\r' "$work/crlf.sbatch" && ok || fail "CRLF spec: $(cat "$work/err"), or a CR in the script"
job_script="$work/crlf.sbatch"
run_job exit:0 0
cmp -s "$work/crlf.toml" "$work/srun.spec" && ok || fail "the CRLF spec's copy differs from the file"
job_script="$work/job.sbatch"

run_job wait 0 TERM
rc=$?
[ "$(cat "$work/srun.signals" 2>/dev/null)" = USR1 ] && ok || fail "TERM did not reach the step as USR1"
[ ! -e "$work/scontrol.args" ] && [ $rc -eq 5 ] && ok || fail "TERM (scancel): exit $rc (want 5) or requeued"

# Bad options: exit 2 and one clear message.
check_bad() {  # expected-text args...
  local want=$1
  shift
  "$bin" submit "$@" >"$work/bad.out" 2>&1
  local rc=$?
  [ $rc -eq 2 ] && grep -qF -- "$want" "$work/bad.out" && ok || fail "submit $*: exit $rc, want '$want': $(cat "$work/bad.out")"
}
spec="$src/tests/sweep/tiny_sweep.toml"
check_bad "unknown option --nodez; valid options: -o,--out, --nodes, --gpus-per-node" "$spec" -o "$work/x.h5" --nodez 2
check_bad "--grace 90 s is not shorter than --time 1:00" "$spec" -o "$work/x.h5" --time 1:00 --grace 90 --dry-run
check_bad "--time 2h: expected" "$spec" -o "$work/x.h5" --time 2h --dry-run
check_bad "--account 'a;rm -rf': use letters" "$spec" -o "$work/x.h5" --account 'a;rm -rf' --dry-run
check_bad "the script sets --output; use trm-sweep submit --log" "$spec" -o "$work/x.h5" --extra-sbatch --output=/x --dry-run
check_bad "no sweep spec at" "$work/none.toml" -o "$work/x.h5" --dry-run
check_bad "the folder $work/nowhere does not exist" "$spec" -o "$work/nowhere/x.h5" --dry-run
check_bad "--log $work/nowhere/x-%j.log: the folder $work/nowhere does not exist" "$spec" -o "$work/x.h5" \
  --log "$work/nowhere/x-%j.log" --dry-run
check_bad "sbatch reads --no-req as --no-requeue, which the script sets" "$spec" \
  -o "$work/x.h5" --extra-sbatch=--no-req --dry-run
check_bad "no backslash" "$spec" -o "$work/back\\slash.h5" --dry-run
mkdir -p "$work/adir"
check_bad "-o $work/adir is a folder, not a results file" "$spec" -o "$work/adir" --dry-run
check_bad "-o $spec exists and is not a trm-sweep results file" "$spec" -o "$spec" --dry-run
"$bin" run "$spec" -o "$work/other.h5" >/dev/null 2>&1 &  # a results file of the tiny spec
pid=$!
for _ in $(seq 100); do [ -e "$work/other.h5" ] && break; sleep 0.1; done
sleep 0.5
kill -TERM $pid
wait $pid
sed 's/model.l_cycles = \[1, 2\]/model.l_cycles = [1, 2, 3]/' "$spec" >"$work/bigger.toml"
check_bad "was made by another sweep spec" "$work/bigger.toml" -o "$work/other.h5" --dry-run
# Task files of an --array 2 submission, then --array 3 on the same -o: refused, naming 2.
"$bin" run "$spec" -o "$work/arr.task0.h5" --shard 0/2 >/dev/null 2>&1 ||
  fail "run --shard 0/2 for the task file"
check_bad "is not the file of task 0 of 3 (it holds task 0 of 2: submit with --array 2" "$spec" \
  -o "$work/arr.h5" --array 3 --dry-run
"$bin" submit "$spec" -o "$work/arr.h5" --array 2 --dry-run >/dev/null 2>&1 && ok ||
  fail "--array 2 on its own task files was refused"
PATH="$work/empty" "$bin" submit "$spec" -o "$work/x.h5" >"$work/bad.out" 2>&1
rc=$?
[ $rc -eq 2 ] && grep -q "sbatch not found" "$work/bad.out" && ok || fail "no sbatch: exit $rc: $(cat "$work/bad.out")"

summary
