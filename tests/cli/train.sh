#!/usr/bin/env bash
# `trm-sweep train` as a user and a sweep worker run it, in real processes:
#  - stopping at step K and running the same command again gives the same weights file, byte for
#    byte, and the same metrics, as one uninterrupted run of 2K steps;
#  - out of memory under --memory-budget is exit 4 with one line, not a crash;
#  - bad input (config file, keys, --set, a corrupt or foreign checkpoint) is exit 2 with one line
#    naming what is wrong, and a checkpoint already in --out is never overwritten.
# Usage: train.sh PATH/TO/trm-sweep SOURCE_DIR
set -u
bin=$1
src=$2
source "$(dirname "$0")/common.sh" train_test

# A 4x4 trial of a few seconds; exploration on, so resuming must restore the RNG draws too.
cat >"$work/tiny.toml" <<'TOML'
[model]
hidden_size = 32
num_heads = 4
h_cycles = 2
l_cycles = 2
vocab_size = 6
seq_len = 16
puzzle_emb_ndim = 32
puzzle_emb_len = 1
halt_max_steps = 4
halt_exploration_prob = 0.5

[train]
batch_size = 16
steps = 40
eval_interval = 15
lr = 1e-3
lr_warmup_steps = 5
ema_rate = 0.9

[data]
box = 2
givens = 8
train_puzzles = 20
num_aug = 3
test_puzzles = 10
TOML
run() { "$bin" train --config "$work/tiny.toml" --threads 1 "$@"; }

# --- resume is bit-exact across processes -------------------------------------------------
strip() { python3 -c '
import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    r.pop("examples_per_s", None); r.pop("seconds", None)
    print(json.dumps(r, sort_keys=True))' "$1"; }
run --out "$work/straight" >"$work/straight.out" 2>/dev/null
rc_straight=$?
run --out "$work/resumed" --stop-at 20 >"$work/stop.out" 2>/dev/null
rc_stop=$?
run --out "$work/resumed" >"$work/resumed.out" 2>"$work/resumed.err"
rc_resumed=$?
if [ $rc_straight -eq 0 ] && [ $rc_stop -eq 5 ] && [ $rc_resumed -eq 0 ]; then ok; else
  fail "exit codes straight=$rc_straight stop=$rc_stop (want 5) resumed=$rc_resumed"
fi
grep -q "resuming .* at step 20/40" "$work/resumed.err" && ok || fail "no 'resuming at step 20/40' line"
cmp -s "$work/straight/weights.pt" "$work/resumed/weights.pt" && ok ||
  fail "weights.pt differs between the straight and the resumed run"
if [ "$(strip "$work/straight/metrics.jsonl")" = "$(strip "$work/resumed/metrics.jsonl")" ] &&
  [ "$(wc -l <"$work/resumed/metrics.jsonl")" -eq 43 ]; then ok; else
  fail "metrics.jsonl differs (or is not 40 train + 3 eval lines)"
fi
last=$(tail -n 1 "$work/straight.out")
[[ "$last" =~ exact_accuracy=[0-9.e-]+$ ]] && ok || fail "last line does not end in exact_accuracy=<v>: $last"
# The same result; only the process's own peak memory may differ.
result() { tail -n 1 "$1" | sed 's/ peak_rss_bytes=[0-9]*//'; }
[ "$(result "$work/resumed.out")" = "$(result "$work/straight.out")" ] && ok ||
  fail "the resumed run reports another result"
# A finished trial run again: the same result and weights, and its last evaluation written in
# place of the old one (it was appended a second time).
run --out "$work/resumed" >"$work/again.out" 2>/dev/null
rc=$?
[ $rc -eq 0 ] && [ "$(result "$work/again.out")" = "$(result "$work/straight.out")" ] &&
  cmp -s "$work/straight/weights.pt" "$work/resumed/weights.pt" &&
  [ "$(strip "$work/straight/metrics.jsonl")" = "$(strip "$work/resumed/metrics.jsonl")" ] && ok ||
  fail "a finished trial run again: exit $rc, $(wc -l <"$work/resumed/metrics.jsonl") metrics lines (want 43)"

# --- eval: weights.pt gives the run's own final evaluation; a reference checkpoint loads -----
values() { grep -o " accuracy=[^ ]* exact_accuracy=[^ ]*" "$1" | tail -n 1; }
"$bin" eval --config "$work/tiny.toml" --threads 1 --weights "$work/straight/weights.pt" \
  >"$work/eval.out" 2>"$work/eval.err"
rc=$?
[ $rc -eq 0 ] && grep -q "(trm-sweep weights): 10 test examples" "$work/eval.out" &&
  [ -n "$(values "$work/eval.out")" ] && [ "$(values "$work/eval.out")" = "$(values "$work/straight.out")" ] && ok ||
  fail "eval of weights.pt: exit $rc, '$(values "$work/eval.out")' against the run's '$(values "$work/straight.out")' $(cat "$work/eval.err")"
# Its checkpoint (written at the end too) evaluates with its EMA weights, as the run did.
"$bin" eval --config "$work/tiny.toml" --threads 1 --weights "$work/straight/checkpoint.pt" \
  >"$work/eval_ckpt.out" 2>&1
rc=$?
[ $rc -eq 0 ] && grep -q "(trm-sweep checkpoint at step 40, its EMA weights): 10 test examples" "$work/eval_ckpt.out" &&
  [ "$(values "$work/eval_ckpt.out")" = "$(values "$work/straight.out")" ] && ok ||
  fail "eval of checkpoint.pt: exit $rc, $(cat "$work/eval_ckpt.out")"
fixtures=${TRM_FIXTURES_DIR:-$src/../shared/fixtures}
cat >"$work/mlp_fixture.toml" <<'TOML'
[model]
hidden_size = 64
num_heads = 4
h_cycles = 2
l_cycles = 3
puzzle_emb_ndim = 64
puzzle_emb_len = 16
num_puzzle_identifiers = 3
halt_max_steps = 4
[data]
box = 3
givens = 30
train_puzzles = 4
num_aug = 1
test_puzzles = 6
TOML
if [ -f "$fixtures/mlp_state_dict.pt" ]; then
  "$bin" eval --config "$work/mlp_fixture.toml" --threads 1 --weights "$fixtures/mlp_state_dict.pt" \
    >"$work/ref.out" 2>"$work/ref.err"
  rc=$?
  [ $rc -eq 0 ] && grep -Eq "\(reference state_dict\): 6 test examples, N_sup 4 .* exact_accuracy=[0-9.e-]+$" "$work/ref.out" &&
    ok || fail "eval of the reference checkpoint: exit $rc, $(cat "$work/ref.out" "$work/ref.err")"
  "$bin" eval --config "$work/mlp_fixture.toml" --set model.mixer=attention --threads 1 \
    --weights "$fixtures/mlp_state_dict.pt" >/dev/null 2>"$work/ref_bad.err"
  rc=$?
  [ $rc -eq 2 ] && grep -q "mlp_state_dict.pt: does not match the model" "$work/ref_bad.err" &&
    grep -q "missing 'L_level.layers.0.self_attn.qkv_proj.weight'" "$work/ref_bad.err" && ok ||
    fail "eval of a checkpoint of another config: exit $rc, $(cat "$work/ref_bad.err")"
else
  fail "no reference checkpoint $fixtures/mlp_state_dict.pt"
fi
"$bin" eval --config "$work/tiny.toml" --set model.hidden_size=64 --weights "$work/straight/weights.pt" \
  >/dev/null 2>"$work/size.err"
rc=$?
[ $rc -eq 2 ] && grep -q "weights.pt: does not match the model's sizes:" "$work/size.err" &&
  grep -q "'embed_tokens.embedding_weight' has shape \[6, 32\], the model expects \[6, 64\]" "$work/size.err" &&
  ok || fail "eval of weights.pt of another size: exit $rc, $(cat "$work/size.err")"
"$bin" eval --config "$work/tiny.toml" --weights "$work/straight" >/dev/null 2>"$work/dir.err"
[ $? -eq 2 ] && grep -q "straight: is a folder; give the .pt file" "$work/dir.err" && ok ||
  fail "eval of a folder: $(cat "$work/dir.err")"
"$bin" eval --config "$work/tiny.toml" --weights "$work/nowhere.pt" >/dev/null 2>"$work/none.err"
[ $? -eq 2 ] && grep -q "nowhere.pt: no such file" "$work/none.err" && ok ||
  fail "eval of a missing file: $(cat "$work/none.err")"
"$bin" eval --config "$work/tiny.toml" --weights /dev/null >/dev/null 2>"$work/devnull.err"
[ $? -eq 2 ] && grep -q "/dev/null: not a regular file" "$work/devnull.err" && ok ||
  fail "eval of /dev/null: $(cat "$work/devnull.err")"

# --- a stop request that comes while the trial starts ------------------------------------
# A sweep's trial process starts with SIGTERM blocked until its handler is in place: one sent
# while it loads is delivered then, and it stops before its first step (exit 5, nothing to
# keep), instead of running on with the request lost.
/usr/bin/python3 - "$bin" "$work/tiny.toml" "$work/early" >"$work/early.out" 2>"$work/early.err" <<'PY'
import os, signal, sys
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
os.kill(os.getpid(), signal.SIGTERM)  # pending, as when it arrives between fork and exec
os.execv(sys.argv[1], [sys.argv[1], "train", "--config", sys.argv[2], "--threads", "1",
                       "--out", sys.argv[3]])
PY
rc_early=$?
if [ $rc_early -eq 5 ] && grep -q "stopped before the first step (signal 15)" "$work/early.out" &&
  [ ! -s "$work/early/metrics.jsonl" ]; then ok; else
  fail "a SIGTERM pending at start: exit $rc_early (want 5), $(tail -n 2 "$work/early.out" "$work/early.err")"
fi
# Run again, it starts from the beginning and ends as the straight run.
run --out "$work/early" >"$work/early2.out" 2>/dev/null
[ $? -eq 0 ] && [ "$(result "$work/early2.out")" = "$(result "$work/straight.out")" ] && ok ||
  fail "the run stopped before its first step did not end as the straight one"

# Waits until process $1 has blocked its stop signals (taken by its own thread): before that,
# SIGTERM kills it.
wait_blocked() {
  local blocked
  for _ in $(seq 200); do
    blocked=$(awk '/^SigBlk/ {print $2}' "/proc/$1/status" 2>/dev/null)
    [ -n "$blocked" ] && (( (16#$blocked >> 14) & 1 )) && return 0
    sleep 0.05
  done
}

# A stop signal while the puzzles are made (20000 9x9 ones take many seconds; a large
# test_puzzles took hours) ends the making within moments: exit 5, before the first step.
# (SIGTERM: a script's background job ignores SIGINT, as the shell sets it.)
"$bin" train --config "$work/tiny.toml" --threads 1 --out "$work/making" --set data.box=3 \
  --set data.givens=30 --set data.train_puzzles=20000 --set model.vocab_size=11 \
  --set model.seq_len=81 >"$work/making.out" 2>"$work/making.err" &
pid=$!
wait_blocked $pid
sleep 0.5
kill -TERM $pid
for _ in $(seq 30); do kill -0 $pid 2>/dev/null || break; sleep 0.1; done
if kill -0 $pid 2>/dev/null; then
  kill -9 $pid
  fail "a SIGTERM while the puzzles are made did not end train within 3 s"
else
  wait $pid
  rc=$?
  [ $rc -eq 5 ] && grep -q "stopped before the first step (signal 15)" "$work/making.out" && ok ||
    fail "a SIGTERM while the puzzles are made: exit $rc (want 5), $(cat "$work/making.out" "$work/making.err")"
fi

# A second signal, a second or more after the first, ends the process at once: the first waits
# for the step boundary, and this step takes seconds (9x9, D 256, batch 128, on one thread).
"$bin" train --config "$work/tiny.toml" --threads 1 --out "$work/twice" --set data.box=3 \
  --set data.givens=30 --set data.train_puzzles=30 --set data.test_puzzles=5 \
  --set model.vocab_size=11 --set model.seq_len=81 --set model.hidden_size=256 \
  --set model.h_cycles=3 --set model.l_cycles=4 --set train.batch_size=128 --set train.steps=20 \
  >"$work/twice.out" 2>"$work/twice.err" &
pid=$!
for _ in $(seq 600); do
  [ -s "$work/twice/metrics.jsonl" ] && break  # step 1 done: step 2 has just begun
  sleep 0.05
done
kill -TERM $pid
sleep 1.3
kill -TERM $pid
for _ in $(seq 50); do kill -0 $pid 2>/dev/null || break; sleep 0.1; done
if kill -0 $pid 2>/dev/null; then
  kill -9 $pid
  fail "a second SIGTERM 1.3 s after the first did not end train within 5 s"
else
  wait $pid
  rc=$?
  [ $rc -eq 5 ] && grep -q "signal 15 again: stopping at once" "$work/twice.err" && ok ||
    fail "a second SIGTERM: exit $rc (want 5), $(cat "$work/twice.err")"
fi

# --- the metrics file must hold what the checkpoint recorded -------------------------------
run --out "$work/cut" --stop-at 20 >/dev/null 2>&1
truncate -s 300 "$work/cut/metrics.jsonl"
before=$(md5sum "$work/cut/metrics.jsonl" "$work/cut/checkpoint.pt")
run --out "$work/cut" >"$work/cut.out" 2>"$work/cut.err"
rc=$?
[ $rc -eq 2 ] && grep -q "metrics.jsonl has 300 bytes, but the checkpoint (step 20) was written after" "$work/cut.err" &&
  [ "$(md5sum "$work/cut/metrics.jsonl" "$work/cut/checkpoint.pt")" = "$before" ] && ok ||
  fail "a metrics file cut short: exit $rc (want 2), $(cat "$work/cut.err")"
mkdir -p "$work/mdir/metrics.jsonl"
run --out "$work/mdir" >/dev/null 2>"$work/mdir.err"
rc=$?
[ $rc -eq 2 ] && grep -q "metrics.jsonl: not a regular file" "$work/mdir.err" && ok ||
  fail "metrics.jsonl a folder: exit $rc (want 2), $(cat "$work/mdir.err")"
mkdir -p "$work/cdir/checkpoint.pt"
run --out "$work/cdir" >/dev/null 2>"$work/cdir.err"
rc=$?
[ $rc -eq 2 ] && grep -q "checkpoint.pt: not a regular file" "$work/cdir.err" && ok ||
  fail "checkpoint.pt a folder: exit $rc (want 2, not 'corrupt'), $(cat "$work/cdir.err")"
# Metrics with no checkpoint (a run killed before its first one, or its checkpoint deleted to
# train again): the new run starts from step 0 and the old lines are kept aside, not emptied.
mkdir -p "$work/aside"
printf '{"old":1}\n' >"$work/aside/metrics.jsonl"
run --out "$work/aside" --set train.steps=2 >/dev/null 2>"$work/aside.err"
rc=$?
[ $rc -eq 0 ] && [ "$(cat "$work/aside/metrics.jsonl.prev")" = '{"old":1}' ] &&
  grep -q "kept in .*metrics.jsonl.prev" "$work/aside.err" &&
  ! grep -q '"old"' "$work/aside/metrics.jsonl" && [ -s "$work/aside/metrics.jsonl" ] && ok ||
  fail "metrics without a checkpoint: exit $rc, $(cat "$work/aside.err"), prev=$(cat "$work/aside/metrics.jsonl.prev" 2>&1)"

# --- one process per --out folder ------------------------------------------------------------
# After a kill -9 of a sweep's run, its trial is still writing its last checkpoint when resume
# starts the trial again in the same folder: the newcomer waits for it, then continues from that
# checkpoint (the two interleaved their metrics before). The first stops itself (--stop-at).
"$bin" train --config "$work/tiny.toml" --threads 1 --out "$work/shared" --set train.steps=100000 \
  --stop-at 1500 >"$work/first.out" 2>&1 &
first=$!
for _ in $(seq 200); do [ -s "$work/shared/metrics.jsonl" ] && break; sleep 0.05; done
"$bin" train --config "$work/tiny.toml" --threads 1 --out "$work/shared" --set train.steps=100000 \
  --stop-at 1 >"$work/second.out" 2>"$work/second.err" &
second=$!
wait $first
rc_first=$?
wait $second
rc_second=$?
if [ $rc_first -eq 5 ] && [ $rc_second -eq 5 ] && grep -q "waiting for the process still training" "$work/second.err" &&
  grep -q "resuming .* at step 1500/100000" "$work/second.err" &&
  grep -q "^stopped at step 1500/100000" "$work/second.out"; then ok; else
  fail "two processes on one folder: exits $rc_first/$rc_second (want 5/5), $(tail -n 2 "$work/second.err")"
fi

# --- fewer givens than a unique puzzle allows: said, with the givens the puzzles have ---------
run --out "$work/givens" --set data.givens=0 --set train.steps=1 >/dev/null 2>"$work/givens.err"
rc=$?
[ $rc -eq 0 ] && grep -Eq "^data: givens = 0 asked; the puzzles have [0-9]+-[0-9]+ \(mean [0-9.]+\)" \
  "$work/givens.err" && ok || fail "givens = 0: exit $rc, no 'data: givens' line: $(cat "$work/givens.err")"
grep -q "^data: givens" "$work/straight.out" "$work/resumed.err" && fail "a reachable givens was reported" || ok

# --- data that cannot be drawn: exit 2, and a folder the command made is gone again --------
# (every 4x4 puzzle with all 16 given is equivalent to a train one: no test split exists)
run --out "$work/nodata" --set data.givens=16 --set data.test_puzzles=50 >/dev/null 2>"$work/nodata.err"
rc=$?
[ $rc -eq 2 ] && grep -q "test_puzzles = 50" "$work/nodata.err" && [ ! -e "$work/nodata" ] && ok ||
  fail "undrawable data: exit $rc (want 2), folder left: $(ls -d "$work/nodata" 2>&1), $(cat "$work/nodata.err")"
mkdir -p "$work/hadfolder" && echo mine >"$work/hadfolder/notes.txt"
run --out "$work/hadfolder" --set data.givens=16 --set data.test_puzzles=50 >/dev/null 2>&1
rc=$?
[ $rc -eq 2 ] && [ "$(cat "$work/hadfolder/notes.txt")" = mine ] && ok ||
  fail "undrawable data in an existing folder: exit $rc, the folder's file: $(cat "$work/hadfolder/notes.txt" 2>&1)"

# --- out of memory is a result --------------------------------------------------------------
"$bin" train --config "$work/tiny.toml" --set model.hidden_size=4096 --memory-budget 512M \
  --out "$work/oom" >"$work/oom.out" 2>"$work/oom.err"
rc=$?
if [ $rc -eq 4 ] && [ "$(wc -l <"$work/oom.err")" -eq 1 ] && grep -q "out of memory" "$work/oom.err"; then
  ok
else fail "OOM: exit $rc (want 4), stderr: $(cat "$work/oom.err")"; fi
# The budget is resident memory, as plan predicts it: the tiny trial (~190 MB RSS) runs in 300M;
# in 40M its first products fail as OOM (oneDNN's kernels are built before the limit: built
# under it, they crashed with SIGSEGV).
"$bin" train --config "$work/tiny.toml" --set train.steps=4 --memory-budget 300M \
  --out "$work/fits" >"$work/fits.out" 2>"$work/fits.err"
rc=$?
[ $rc -eq 0 ] && ok || fail "a 300M budget for a ~190 MB trial: exit $rc (want 0): $(tail -n 2 "$work/fits.err")"
"$bin" train --config "$work/tiny.toml" --set train.steps=4 --memory-budget 40M \
  --out "$work/tight" >"$work/tight.out" 2>"$work/tight.err"
rc=$?
if [ $rc -eq 4 ] && grep -q "out of memory" "$work/tight.err"; then ok; else
  fail "a 40M budget: exit $rc (want 4), stderr: $(tail -n 2 "$work/tight.err")"
fi

# --- bad input: exit 2, one line, nothing on stdout -----------------------------------------
expect_error() {  # expect_error "substring" train-args...: exactly one line on stderr
  expect_error_lines 1 "$@"
}
expect_error_lines() {  # expect_error_lines N "substring" train-args...: all problems, N lines
  local want_lines=$1 want=$2
  shift 2
  local out rc
  out=$("$bin" train "$@" 2>"$work/err")
  rc=$?
  local lines
  lines=$(wc -l <"$work/err")
  if [ $rc -eq 2 ] && [ -z "$out" ] && [ "$lines" -eq "$want_lines" ] && grep -qF -- "$want" "$work/err"; then ok; else
    fail "train $* -> exit $rc, $lines line(s): $(cat "$work/err")"
    echo "      expected exit 2 and one line containing: $want"
  fi
}
expect_error "config file $work/missing.toml: no such file" --config "$work/missing.toml" --out "$work/x"
expect_error "config file $work: is a folder; give the .toml file" --config "$work" --out "$work/x"
printf '[model]\nl_cycle = 3\n' >"$work/typo.toml"
expect_error "$work/typo.toml:2:1: unknown key 'model.l_cycle'; did you mean 'model.l_cycles'? valid keys: model.hidden_size" \
  --config "$work/typo.toml" --out "$work/x"
printf '[train]\nlr = "fast"\n' >"$work/type.toml"
expect_error "$work/type.toml:2:1: train.lr = \"fast\": expected a number (such as 0.5 or 1e-4), not a string" --config "$work/type.toml" --out "$work/x"
printf '[model]\nh_cycles = "2"\n' >"$work/type.toml"
expect_error "$work/type.toml:2:1: model.h_cycles = \"2\": expected an integer (such as 6), not a string" --config "$work/type.toml" --out "$work/x"
printf '[train\nlr = 1\n' >"$work/syntax.toml"
expect_error "$work/syntax.toml:1:" --config "$work/syntax.toml" --out "$work/x"
expect_error "unknown key 'model.nonexistent'" --config "$work/tiny.toml" --set model.nonexistent=1 --out "$work/x"
expect_error "--set model.l_cycles: expected key=value" --config "$work/tiny.toml" --set model.l_cycles --out "$work/x"
expect_error_lines 3 "model.seq_len = 16: data.box = 3 gives 81-token examples; set model.seq_len = 81" --config "$work/tiny.toml" --set data.box=3 --out "$work/x"
expect_error '--memory-budget = "lots": expected a positive size' --config "$work/tiny.toml" --memory-budget lots --out "$work/x"

# A corrupt checkpoint is reported and left exactly as it was.
mkdir -p "$work/corrupt"
head -c 3000 "$work/straight/checkpoint.pt" >"$work/corrupt/checkpoint.pt"
cp "$work/corrupt/checkpoint.pt" "$work/corrupt.copy"
expect_error "checkpoint $work/corrupt/checkpoint.pt is corrupt" --config "$work/tiny.toml" --out "$work/corrupt"
cmp -s "$work/corrupt/checkpoint.pt" "$work/corrupt.copy" && ok || fail "the corrupt checkpoint was modified"
# Whole but with 64 bytes flipped inside a tensor: LibTorch loads that without a word; the zip
# entries' CRC-32 are checked first (it resumed with wrong weights before).
mkdir -p "$work/flipped"
/usr/bin/python3 - "$work/straight/checkpoint.pt" "$work/flipped/checkpoint.pt" <<'PY'
import sys
b = bytearray(open(sys.argv[1], "rb").read())
for i in range(len(b) // 2, len(b) // 2 + 64):
    b[i] ^= 0xFF
open(sys.argv[2], "wb").write(b)
PY
cp "$work/flipped/checkpoint.pt" "$work/flipped.copy"
expect_error "checkpoint $work/flipped/checkpoint.pt is corrupt (entry 'archive/data/" --config "$work/tiny.toml" --out "$work/flipped"
cmp -s "$work/flipped/checkpoint.pt" "$work/flipped.copy" && ok || fail "the flipped checkpoint was modified"
# Whole, every CRC right, but a tensor's view placed past its storage (a storage offset of 10^9)
# or a storage record cut to 8 bytes: LibTorch reads either without a check (a SIGSEGV, or
# training on whatever memory follows the buffer). Refused as corrupt, left in place; eval too.
/usr/bin/python3 - "$work/straight/checkpoint.pt" "$work/straight/weights.pt" "$work" <<'PY'
import pickletools, struct, sys, zipfile
def craft(src, dst, how):
    z = zipfile.ZipFile(src)
    pkl = next(n for n in z.namelist() if n.endswith("/data.pkl"))
    b = z.read(pkl)
    records = {}
    if how == "ema":  # the EMA shadow of the first parameter, one row only: inside its storage
        ops = list(pickletools.genops(b))
        key = next(i for i, (op, arg, _) in enumerate(ops) if arg == "ema_0")
        pers = next(i for i in range(key, len(ops)) if ops[i][0].name == "BINPERSID")
        ints = [o for o in ops[pers + 1:] if o[0].name.startswith("BININT")]
        op, _, pos = ints[1]  # [0] is the offset, [1] the first size
        width = {"BININT1": 2, "BININT2": 3, "BININT": 5}[op.name]
        b = b[:pos] + b"K\x01" + b[pos + width:]
    elif how == "offset":  # the int after the first storage reference is that tensor's offset
        ops = list(pickletools.genops(b))
        first = next(i for i, (op, _, _) in enumerate(ops) if op.name == "BINPERSID")
        op, _, pos = next(o for o in ops[first + 1:] if o[0].name.startswith("BININT"))
        width = {"BININT1": 2, "BININT2": 3, "BININT": 5}[op.name]
        b = b[:pos] + b"J" + struct.pack("<i", 10**9) + b[pos + width:]
    else:  # the first storage record keeps 8 bytes
        rec = pkl[: -len("data.pkl")] + "data/0"
        records[rec] = z.read(rec)[:8]
    with zipfile.ZipFile(dst, "w") as out:  # stored, with right CRCs
        for n in z.namelist():
            out.writestr(n, b if n == pkl else records.get(n, z.read(n)))
import os
for name, src in (("ckpt", sys.argv[1]), ("weights", sys.argv[2])):
    for how in ("offset", "short") + (("ema",) if name == "ckpt" else ()):
        os.makedirs(f"{sys.argv[3]}/{name}_{how}", exist_ok=True)
        craft(src, f"{sys.argv[3]}/{name}_{how}/{'checkpoint' if name == 'ckpt' else 'weights'}.pt", how)
PY
for how in offset short; do
  want="reaches past the end of its storage"
  [ $how = short ] && want="record data/0 holds 8 bytes but its storage needs"
  cp "$work/ckpt_$how/checkpoint.pt" "$work/ckpt_$how.copy"
  expect_error "checkpoint $work/ckpt_$how/checkpoint.pt is corrupt (" --config "$work/tiny.toml" --out "$work/ckpt_$how"
  grep -q "$want" "$work/err" && cmp -s "$work/ckpt_$how/checkpoint.pt" "$work/ckpt_$how.copy" &&
    [ ! -e "$work/ckpt_$how/weights.pt" ] && ok ||
    fail "checkpoint with a $how storage: $(cat "$work/err"), or it was modified or trained on"
  for file in "$work/ckpt_$how/checkpoint.pt" "$work/weights_$how/weights.pt"; do
    "$bin" eval --config "$work/tiny.toml" --threads 1 --weights "$file" >"$work/eval_bad.out" 2>"$work/eval_bad.err"
    rc=$?
    [ $rc -eq 2 ] && grep -q "$file is corrupt (.*$want" "$work/eval_bad.err" && ok ||
      fail "eval of $file ($how storage): exit $rc, $(cat "$work/eval_bad.out" "$work/eval_bad.err")"
  done
done
# An EMA shadow of another shape, inside its storage: refused by name (it was an internal error,
# exit 3, from inside the EMA), the checkpoint left in place.
cp "$work/ckpt_ema/checkpoint.pt" "$work/ckpt_ema.copy"
expect_error "checkpoint $work/ckpt_ema/checkpoint.pt is corrupt: 'ema_0' holds Float [1, " --config "$work/tiny.toml" --out "$work/ckpt_ema"
cmp -s "$work/ckpt_ema/checkpoint.pt" "$work/ckpt_ema.copy" && ok || fail "the checkpoint with a bad EMA shape was modified"
# A checkpoint of another config is refused, naming the field, and also left in place.
cp "$work/straight/checkpoint.pt" "$work/straight.ckpt"
expect_error_lines 4 "checkpoint: train.lr = 0.001" --config "$work/tiny.toml" --set train.lr=0.002 --out "$work/straight"
cmp -s "$work/straight/checkpoint.pt" "$work/straight.ckpt" && ok || fail "the foreign checkpoint was modified"

summary
