#!/usr/bin/env bash
# Scheduling benchmarks of the launcher (issue 6), through real MPI ranks:
#  (a) dispatch overhead: N no-op trials (a trial kind that ends at once, no child process)
#      through 3 ranks (coordinator + 2 workers); per-trial overhead = sweep wall time / N, every
#      trial's start and end made durable in the results file. The cost of a child process alone
#      (`exec`: the trm-sweep binary started and exited) is measured apart, and the same no-op
#      sweep without MPI is shown beside it.
#  (b) makespan: a heterogeneous grid of sleep trials with known durations (train.steps x a fixed
#      time per step, cells 50x apart) on 4 workers: makespan over the lower bound
#      max(total / 4, longest), dynamic longest-first pull against static round-robin in spec order
#      (what SLURM job arrays do), measured side by side.
# Usage: bench/schedule.sh [PATH/TO/trm-sweep] [N_NOOP]   (default build/bin/trm-sweep, 2000)
set -euo pipefail
bin=$(realpath "${1:-build/bin/trm-sweep}")
n=${2:-2000}
py=/usr/bin/python3
work=$(mktemp -d /tmp/trm_bench_schedule.XXXXXX)
trap 'rm -rf "$work"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

base='[base]
model.hidden_size = 32
model.num_heads = 4
model.vocab_size = 6
model.seq_len = 16
model.puzzle_emb_ndim = 32
model.puzzle_emb_len = 1
train.batch_size = 16
train.steps = 10
data.box = 2
data.givens = 8
data.train_puzzles = 20
data.test_puzzles = 10'

# Seconds between the sweep's "start" and "finished" events.
span() {
  $py - "$1" <<'PY'
import sys, h5py
e = h5py.File(sys.argv[1], "r")["events"][:]
start = [r["time"] for r in e if r["trial"] == -1 and r["kind"] == b"start"][-1]
end = [r["time"] for r in e if r["trial"] == -1 and r["kind"] == b"finished"][-1]
print(f"{end - start:.3f}")
PY
}

printf '[sweep]\nname = "noop"\nseeds = %d\n%s\n' "$n" "$base" >"$work/noop.toml"
mpirun --oversubscribe -np 3 "$bin" run "$work/noop.toml" -o "$work/noop_mpi.h5" --trial-kind noop >/dev/null
t_mpi=$(span "$work/noop_mpi.h5")
"$bin" run "$work/noop.toml" -o "$work/noop_local.h5" --trial-kind noop >/dev/null
t_local=$(span "$work/noop_local.h5")
m=200
printf '[sweep]\nname = "exec"\nseeds = %d\n%s\n' "$m" "$base" >"$work/exec.toml"
mpirun --oversubscribe -np 3 "$bin" run "$work/exec.toml" -o "$work/exec_mpi.h5" --trial-kind exec >/dev/null
t_exec=$(span "$work/exec_mpi.h5")
echo "(a) dispatch, $n no-op trials, 3 ranks (2 workers): $t_mpi s = $($py -c "print(f'{1000*$t_mpi/$n:.2f}')") ms per trial"
echo "    same $n no-op trials without MPI (1 process):    $t_local s = $($py -c "print(f'{1000*$t_local/$n:.2f}')") ms per trial"
echo "    child process start ($m 'exec' trials, 2 workers): $t_exec s = $($py -c "print(f'{1000*$t_exec/$m:.1f}')") ms per trial (about 2x this per child, two run at once)"

# (b) 32 trials whose durations are spread log-uniformly over 0.1-5 s (steps 10-500 at 0.01 s a
# step, 50x apart) in a shuffled order, as a spec's grid order has nothing to do with cost.
steps=$($py -c "
import random
r = random.Random(7)
s = sorted({int(10 * 50 ** r.random()) for _ in range(40)})[:32]
r.shuffle(s)
print(s)")
printf '[sweep]\nname = "hetero"\n%s\n[grid]\ntrain.steps = %s\n' "$base" "$steps" >"$work/hetero.toml"
sleep_per_step=0.01
bound=$($py -c "
d = [x * $sleep_per_step for x in $steps]
print(f'{max(sum(d) / 4, max(d)):.3f}')")
echo "(b) $($py -c "print(len($steps))") sleep trials of 0.1-5 s (total $($py -c "print(f'{sum($steps)*$sleep_per_step:.1f}')") s) on 4 workers; lower bound max(total/4, longest) = $bound s"
for schedule in dynamic static; do
  mpirun --oversubscribe -np 5 "$bin" run "$work/hetero.toml" -o "$work/hetero_$schedule.h5" \
    --trial-kind sleep --sleep-per-step $sleep_per_step --schedule $schedule >/dev/null
  t=$(span "$work/hetero_$schedule.h5")
  echo "    $schedule: makespan $t s, ratio to the bound $($py -c "print(f'{$t/$bound:.3f}')")"
done
