#!/usr/bin/env bash
# Bad input at the command line, as a user types it: exit code 2, nothing on stdout, and exactly
# one line on stderr naming the field, the value and the valid range (or the valid keys).
# Usage: bad_inputs.sh PATH/TO/trm-sweep
set -u
bin=$1
passed=0
failed=0

expect_error() {  # expect_error "substring of the message" -- args...
  local want=$1
  shift
  local out err rc
  out=$("$bin" "$@" 2>/tmp/trm_bad_input_err.$$)
  rc=$?
  err=$(cat /tmp/trm_bad_input_err.$$)
  rm -f /tmp/trm_bad_input_err.$$
  local lines
  lines=$(printf '%s\n' "$err" | wc -l)
  if [ "$rc" -eq 2 ] && [ -z "$out" ] && [ "$lines" -eq 1 ] && [[ "$err" == *"$want"* ]]; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    echo "FAIL: trm-sweep $* -> exit $rc, $lines stderr line(s): $err"
    echo "      expected exit 2 and one line containing: $want"
  fi
}

expect_error "h_cycles = 0: must be >= 1" model --set h_cycles=0
expect_error "l_cycles = 0: must be >= 1" model --set l_cycles=0
expect_error "hidden_size = 100: must be divisible by num_heads = 8" model --set hidden_size=100
expect_error "l_cycles = 7: latent = multiscale_z carries 6 z tensors, so n must be in [1, 6]" \
  model --set latent=multiscale_z --set l_cycles=7
expect_error "num_heads = 0: must be >= 1" model --preset trm-att --set num_heads=0
expect_error "hidden_size = 0: must be >= 1" model --preset hrm --set hidden_size=0
expect_error 'mixer = "transformer": unknown value; valid: attention, mlp' model --set mixer=transformer
expect_error "unknown key 'l_cycle'; did you mean 'l_cycles'? valid keys: hidden_size" \
  model --set l_cycle=3
expect_error 'l_cycles = "six": expected an integer' model --set l_cycles=six
expect_error "--set l_cycles: expected key=value" model --set l_cycles
expect_error "/nonexistent/fixtures: fixture directory not found" parity /nonexistent/fixtures

expect_error "sweep spec /nonexistent/spec.toml: no such file" plan /nonexistent/spec.toml
expect_error "--format yaml: valid formats: text, csv, json" plan configs/quick.toml --format yaml
expect_error "--device cuda needs --memory" plan configs/quick.toml --device cuda
expect_error "--memory = \"lots\": expected a positive size" plan configs/quick.toml --memory lots
expect_error "--trial 99: configs/quick.toml has trials 0..7" train --spec configs/quick.toml --trial 99 --out /tmp/trm_bad_input_never
expect_error "/nonexistent/results.h5: no such file" status /nonexistent/results.h5
expect_error "README.md: not an HDF5 file" status README.md
expect_error "README.md: not an HDF5 file" resume README.md
expect_error "sweep spec /nonexistent/spec.toml: no such file" run /nonexistent/spec.toml -o /tmp/trm_bad_input_never.h5

# Typos past any real run: bounded, said in one line, exit 2 (CLI11's own codes were 105-109).
expect_error "hidden_size = 1000000000000: must be <= 65536" model --set hidden_size=1000000000000
expect_error "--threads: 0: expected a whole number from 1 to 4096" train --spec configs/quick.toml --trial 0 --threads 0 --out /tmp/trm_bad_input_never
expect_error "--threads: 100000: expected a whole number from 1 to 4096" train --spec configs/quick.toml --trial 0 --threads 100000 --out /tmp/trm_bad_input_never
expect_error "--jobs: 0: expected a whole number from 1 to 4096" run configs/quick.toml -o /tmp/trm_bad_input_never.h5 --jobs 0
expect_error "--gflops: nan: expected GFLOP/s from 0.001 to 1e+09" plan configs/quick.toml --gflops nan
# data: what to do, the generator's keys, a folder that is not a data set.
work=$(mktemp -d /tmp/trm_bad_data.XXXXXX)
trap 'rm -rf "$work"' EXIT
expect_error "data needs --out DIR (to write) or --inspect DIR" data
expect_error "invalid data config: data.box = 5: valid values 2 (4x4) or 3 (9x9)" data --set data.box=5 --out "$work/never"
[ ! -e "$work/never" ] && passed=$((passed + 1)) || { failed=$((failed + 1)); echo "FAIL: data with a bad key created its --out"; }
expect_error "/nothing_here: no such folder" data --inspect "$work/nothing_here"
expect_error "train/dataset.json: no such file" data --inspect "$work"
expect_error "data --out writes generated data" data --set data.source=reference --set data.path=x --out "$work/never"
expect_error "'frobnicate' is not a verb; valid: parity, model, data, train, eval, plan, run" frobnicate
expect_error "spec is required (trm-sweep run --help lists the options)" run
expect_error "--device gpu: valid: cpu, cuda (each rank binds one GPU of its node), cuda:N" \
  run configs/quick.toml -o /tmp/trm_bad_input_never.h5 --device gpu
expect_error "--device cuda:0: this rank sees no GPU" run configs/quick.toml -o /tmp/trm_bad_input_never.h5 --device cuda:0
[ -e /tmp/trm_bad_input_never.h5 ] && { failed=$((failed + 1)); echo "FAIL: run with a bad --device wrote its results"; }
expect_error "config file configs/quick.toml is a sweep spec (it has [sweep]); train one of its trials with --spec configs/quick.toml --trial N" \
  train --config configs/quick.toml --out /tmp/trm_bad_input_never
expect_error "sweep spec configs: is a folder; give the .toml file" plan configs
expect_error "--shard: expected K/N, e.g. 0/4, got 1x/4" run configs/quick.toml -o /tmp/trm_bad_input_never.h5 --shard 1x/4
expect_error "--shard: expected K/N, e.g. 0/4, got 0/4abc" run configs/quick.toml -o /tmp/trm_bad_input_never.h5 --shard 0/4abc
expect_error "--time 99999999999999999999: expected [D-]HH:MM:SS" \
  submit configs/quick.toml -o /tmp/trm_bad_input_never.h5 --time 99999999999999999999 --dry-run
[ -e /tmp/trm_bad_input_never.h5 ] && { failed=$((failed + 1)); echo "FAIL: a bad --shard or --time wrote results"; }
# An empty path (an unset shell variable) is an error, not the option left out: `train` without
# a config trained the built-in paper run (batch 768, tens of GB) until the OOM killer came.
expect_error "--config: an empty value (an unset shell variable?)" train --config "" --out /tmp/trm_bad_input_never
expect_error "--spec: an empty value" train --spec "" --trial 0 --out /tmp/trm_bad_input_never
expect_error "train needs --config FILE.toml or --spec FILE --trial N" train --out /tmp/trm_bad_input_never
expect_error "--memory-budget: an empty value" train --config configs/quick_train.toml --memory-budget "" --out /tmp/trm_bad_input_never
expect_error "--progress-seconds: -5: expected seconds from 0 to 86400" \
  train --config configs/quick_train.toml --progress-seconds -5 --out /tmp/trm_bad_input_never
expect_error "expansion = 0.01: the SwiGLU width round(expansion * 2/3 * 17) is 0 (the token-MLP's positions); expansion must be above 0.0441176" \
  train --config configs/quick_train.toml --set model.expansion=0.01 --out /tmp/trm_bad_input_never
[ -e /tmp/trm_bad_input_never ] && { failed=$((failed + 1)); echo "FAIL: train wrote its --out"; }
spec=$(mktemp /tmp/trm_bad_input_spec.XXXXXX)
printf '[sweep]\nretries = true\n' >"$spec"
expect_error "sweep.retries = true: expected an integer >= 0" plan "$spec"
printf '[sweep]\nseeds = true\n' >"$spec"
expect_error "sweep.seeds: expected a count (seeds = 3) or a list" plan "$spec"
printf '[sweep]\nretries = 99999999999\n' >"$spec"
expect_error "sweep.retries = 99999999999: must be <= 1000" plan "$spec"
printf '[sweep]\nseeds = 100000000\n' >"$spec"
expect_error "sweep.seeds = 100000000: must be <= 10000" plan "$spec"
printf '[base]\ntrain.seed = 5\n' >"$spec"
expect_error ":2:14: train.seed: a trial's seed comes from [sweep] seeds (one trial per seed)" plan "$spec"
rm -f "$spec"

# A bad TRM_GEMM (the products' backend, core/gemm.h) fails before a file or trial is made.
export TRM_GEMM=blas
expect_error "TRM_GEMM=blas: unknown matrix-product backend; valid: onednn, aten" \
  train --spec configs/quick.toml --trial 0 --out /tmp/trm_bad_input_never
[ -e /tmp/trm_bad_input_never ] && { failed=$((failed + 1)); echo "FAIL: train wrote its --out"; }
expect_error "TRM_GEMM=blas: unknown matrix-product backend" \
  run configs/quick.toml -o /tmp/trm_bad_input_never.h5
[ -e /tmp/trm_bad_input_never.h5 ] && { failed=$((failed + 1)); echo "FAIL: run wrote its results"; }
unset TRM_GEMM

# An output in a folder that does not exist is named as such (not an internal temp file's name).
expect_error "-o /nonexistent_trm_dir/x.h5: the folder /nonexistent_trm_dir does not exist" \
  run configs/quick.toml -o /nonexistent_trm_dir/x.h5
expect_error "merge: /nonexistent_trm_dir/m.h5: the folder /nonexistent_trm_dir does not exist" \
  merge /nonexistent_trm_dir/m.h5 /nonexistent_trm_dir/a.h5

# Paths the system refuses: a name too long, a loop of symbolic links, and (as user nobody) a
# folder it may not enter. The path and the system's reason, exit 2, never an internal error.
fs=$(mktemp -d /tmp/trm_bad_fs.XXXXXX)
expect_error ": File name too long" run configs/quick.toml -o "$fs/$(printf 'a%.0s' $(seq 300)).h5"
ln -s loop "$fs/loop"
expect_error "$fs/loop: Too many levels of symbolic links" run configs/quick.toml -o "$fs/loop/x.h5"
if [ "$(id -u)" -eq 0 ] && command -v runuser >/dev/null; then
  chmod 755 "$fs"
  mkdir -m 700 "$fs/locked"
  cp configs/quick.toml configs/quick_train.toml "$fs/locked/"
  cp "$bin" "$fs/trm-sweep"
  chmod 755 "$fs/trm-sweep"
  for args in "plan $fs/locked/quick.toml|sweep spec $fs/locked/quick.toml: cannot read it: Permission denied" \
    "train --config $fs/locked/quick_train.toml --out $fs/o|config file $fs/locked/quick_train.toml: cannot read it: Permission denied" \
    "status $fs/locked/x.h5|$fs/locked/x.h5: cannot read it: Permission denied"; do
    want=${args#*|}
    # shellcheck disable=SC2086
    err=$(cd / && runuser -u nobody -- "$fs/trm-sweep" ${args%%|*} 2>&1 >/dev/null)
    rc=$?
    if [ $rc -eq 2 ] && [[ "$err" == *"$want"* ]] && [ "$(printf '%s\n' "$err" | wc -l)" -eq 1 ]; then
      passed=$((passed + 1))
    else
      failed=$((failed + 1))
      echo "FAIL: as nobody: ${args%%|*} -> exit $rc: $err"
    fi
  done
fi
rm -rf "$fs"

# trm-core train without --set: the paper's full config (batch 768) on the CPU is refused, not
# left to the kernel's OOM killer; nothing is written.
core=$(dirname "$bin")/trm-core
out=$("$core" train --out /tmp/trm_bad_input_core_never 2>&1 >/dev/null)
rc=$?
if [ $rc -eq 2 ] && [[ "$out" == *"train without --set runs the paper's full Sudoku-Extreme config"* ]] &&
  [ ! -e /tmp/trm_bad_input_core_never ]; then
  passed=$((passed + 1))
else
  failed=$((failed + 1))
  echo "FAIL: trm-core train without --set: exit $rc: $out"
fi

# model takes a key as a spec's --set names it (model.l_cycles), as well as bare.
out=$("$bin" model --set model.l_cycles=4 --set h_cycles=2 2>&1)
rc=$?
if [ $rc -eq 0 ] && grep -Eq '^ +l_cycles +4$' <<<"$out" && grep -Eq '^ +h_cycles +2$' <<<"$out"; then
  passed=$((passed + 1))
else
  failed=$((failed + 1))
  echo "FAIL: model --set model.l_cycles=4: exit $rc: $out"
fi

# trm-core's counts are checked as trm-sweep's: 100000 threads is a typo, refused before anything
# is made or written.
for args in "train --out /tmp/trm_bad_input_core_never --set model.hidden_size=32 --threads 100000" \
  "eval --weights /nonexistent.pt --threads 100000"; do
  # shellcheck disable=SC2086  # the arguments are words
  out=$("$core" $args 2>&1 >/dev/null)
  rc=$?
  if [ $rc -eq 2 ] && [[ "$out" == *"--threads: 100000: expected a whole number from 1 to 4096"* ]] &&
    [ ! -e /tmp/trm_bad_input_core_never ]; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    echo "FAIL: trm-core ${args%% *} --threads 100000: exit $rc: $out"
  fi
done

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
