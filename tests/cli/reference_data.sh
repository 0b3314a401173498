#!/usr/bin/env bash
# Data sets in the reference's on-disk format (train/ and test/, dataset.json and .npy arrays),
# with NumPy itself on the other side:
#  - `data --out` writes a generated set that NumPy reads as the reference's loader does;
#  - training on that folder (data.source = reference) gives the same metrics and the same
#    weights, tensor for tensor and byte for byte, as training on the generated data it holds;
#  - a set NumPy wrote (int64 offsets, as a user's own builder may) trains, and `data --inspect`
#    describes it; plan counts its steps from its size;
#  - an ARC set (identifiers.json, test_puzzles.json) is scored by voting: pass@K per evaluation,
#    and submission.json;
#  - a model that does not fit the data, a missing folder, a broken array: exit 2, one line
#    naming the key or the file.
# Usage: reference_data.sh PATH/TO/trm-sweep SOURCE_DIR
set -u
bin=$1
src=$2
source "$(dirname "$0")/common.sh" reference_data
py=/usr/bin/python3  # Debian's, with numpy

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
steps = 12
eval_interval = 6
lr = 1e-3
lr_warmup_steps = 5

[data]
box = 2
givens = 8
train_puzzles = 20
num_aug = 3
test_puzzles = 10
TOML

# --- write a generated set; NumPy reads it --------------------------------------------------
"$bin" data --config "$work/tiny.toml" --out "$work/set" >"$work/data.out" 2>&1
rc=$?
[ $rc -eq 0 ] && grep -q "^train: 80 examples, 80 puzzles, 20 groups; seq_len 16, vocab_size 6$" "$work/data.out" &&
  grep -q "^test: 10 examples" "$work/data.out" && ok || fail "data --out: exit $rc: $(cat "$work/data.out")"
$py - "$work/set" <<'PY' && ok || fail "NumPy does not read the written set as the reference's loader does"
import json, sys, numpy as np
root = sys.argv[1]
for split, examples, groups in (("train", 80, 20), ("test", 10, 10)):
    meta = json.load(open(f"{root}/{split}/dataset.json"))
    for key in ("pad_id", "ignore_label_id", "blank_identifier_id", "vocab_size", "seq_len",
                "num_puzzle_identifiers", "total_groups", "mean_puzzle_examples", "sets"):
        assert key in meta, (split, key)
    assert meta["seq_len"] == 16 and meta["vocab_size"] == 6 and meta["sets"] == ["all"], meta
    a = {n: np.load(f"{root}/{split}/all__{n}.npy") for n in
         ("inputs", "labels", "puzzle_identifiers", "puzzle_indices", "group_indices")}
    assert a["inputs"].shape == (examples, 16) and a["inputs"].dtype == np.uint8, a["inputs"].dtype
    assert a["labels"].shape == (examples, 16) and a["labels"].dtype == np.uint8
    assert a["puzzle_indices"].dtype == np.int32 and a["puzzle_indices"][-1] == examples
    assert a["group_indices"].dtype == np.int32 and len(a["group_indices"]) == groups + 1
    assert a["group_indices"][-1] == len(a["puzzle_identifiers"])
    # Sudoku tokens: 1 = empty, 2..5 = digits; the labels are the solution (no blank).
    assert a["inputs"].min() >= 1 and a["inputs"].max() <= 5
    assert a["labels"].min() >= 2 and a["labels"].max() <= 5
    given = a["inputs"] >= 2
    assert (a["inputs"][given] == a["labels"][given]).all()
json.load(open(f"{root}/identifiers.json"))
PY

# --- the same training from the folder as from the generator ---------------------------------
strip() { $py -c '
import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    r.pop("examples_per_s", None); r.pop("seconds", None)
    print(json.dumps(r, sort_keys=True))' "$1"; }
"$bin" train --config "$work/tiny.toml" --threads 1 --out "$work/gen" >"$work/gen.out" 2>"$work/gen.err"
rc_gen=$?
"$bin" train --config "$work/tiny.toml" --threads 1 --out "$work/ref" \
  --set data.source=reference --set data.path="$work/set" >"$work/ref.out" 2>"$work/ref.err"
rc_ref=$?
# The weights files differ only in the config they record (data.source, data.path): every
# tensor's bytes are the same.
same_tensors() { $py - "$1" "$2" <<'PY'
import sys, zipfile
a, b = (zipfile.ZipFile(p) for p in sys.argv[1:3])
def tensors(z):
    return {n.split("/", 1)[1]: z.read(n) for n in z.namelist() if "/data/" in n}
ta, tb = tensors(a), tensors(b)
sys.exit(0 if ta and ta == tb else 1)
PY
}
if [ $rc_gen -eq 0 ] && [ $rc_ref -eq 0 ] && same_tensors "$work/gen/weights.pt" "$work/ref/weights.pt" &&
  [ "$(strip "$work/gen/metrics.jsonl")" = "$(strip "$work/ref/metrics.jsonl")" ]; then ok; else
  fail "reference folder vs generator: exits $rc_gen/$rc_ref, or other weights or metrics: $(tail -2 "$work/ref.err")"
fi
grep -q "test examples 10 " "$work/ref.out" && ok || fail "the whole test split was not evaluated: $(cat "$work/ref.out")"
# eval of the generator-trained weights on the folder: the run's own final evaluation.
"$bin" eval --config "$work/tiny.toml" --threads 1 --weights "$work/gen/weights.pt" \
  --set data.source=reference --set data.path="$work/set" >"$work/eval.out" 2>"$work/eval.err"
rc=$?
want=$(grep -o " accuracy=[^ ]* exact_accuracy=[^ ]*" "$work/gen.out")
[ $rc -eq 0 ] && [ -n "$want" ] && grep -q -- "$want" "$work/eval.out" && ok ||
  fail "eval on the folder: exit $rc, want '$want': $(cat "$work/eval.out" "$work/eval.err")"

# --- a set NumPy wrote: int64 offsets and ids, two puzzles per group -------------------------
$py - "$work/np" <<'PY' || fail "could not write the NumPy set"
import json, os, sys, numpy as np
root = sys.argv[1]
rng = np.random.default_rng(0)
base = np.array([[1,2,3,4],[3,4,1,2],[2,1,4,3],[4,3,2,1]])
def example():
    digits = rng.permutation(4) + 1  # a relabelling of one solved grid
    sol = digits[base - 1]
    puzzle = sol.copy()
    puzzle[rng.random((4, 4)) < 0.5] = 0
    return (puzzle + 1).reshape(-1), (sol + 1).reshape(-1)
for split, groups in (("train", 12), ("test", 4)):
    os.makedirs(f"{root}/{split}")
    inputs, labels, ids, pi, gi = [], [], [], [0], [0]
    for g in range(groups):
        for p in range(2):
            for e in range(1 + p):
                x, y = example(); inputs.append(x); labels.append(y)
            ids.append(1 + (g % 3)); pi.append(len(inputs))
        gi.append(len(ids))
    np.save(f"{root}/{split}/all__inputs.npy", np.array(inputs, dtype=np.uint8))
    np.save(f"{root}/{split}/all__labels.npy", np.array(labels, dtype=np.uint8))
    np.save(f"{root}/{split}/all__puzzle_identifiers.npy", np.array(ids, dtype=np.int64))
    np.save(f"{root}/{split}/all__puzzle_indices.npy", np.array(pi, dtype=np.int64))
    np.save(f"{root}/{split}/all__group_indices.npy", np.array(gi, dtype=np.int64))
    json.dump({"pad_id": 0, "ignore_label_id": 0, "blank_identifier_id": 0, "vocab_size": 6,
               "seq_len": 16, "num_puzzle_identifiers": 4, "total_groups": groups,
               "mean_puzzle_examples": 1.5, "total_puzzles": 2 * groups, "sets": ["all"]},
              open(f"{root}/{split}/dataset.json", "w"))
PY
"$bin" data --inspect "$work/np" >"$work/inspect.out" 2>&1
rc=$?
[ $rc -eq 0 ] && grep -q "model.num_puzzle_identifiers >= 4" "$work/inspect.out" &&
  grep -q "^train: 36 examples, 24 puzzles, 12 groups; seq_len 16, vocab_size 6$" "$work/inspect.out" &&
  ok || fail "data --inspect of a NumPy set: exit $rc: $(cat "$work/inspect.out")"
# Its ids reach 3: the default single-row embedding table does not fit, and the error says so.
"$bin" train --config "$work/tiny.toml" --threads 1 --out "$work/np_run" --set data.source=reference \
  --set data.path="$work/np" >/dev/null 2>"$work/np_ids.err"
rc=$?
[ $rc -eq 2 ] && grep -q "set model.num_puzzle_identifiers = 4" "$work/np_ids.err" && [ ! -e "$work/np_run" ] &&
  ok || fail "ids past the embedding table: exit $rc (want 2): $(cat "$work/np_ids.err")"
"$bin" train --config "$work/tiny.toml" --threads 1 --out "$work/np_run" --set data.source=reference \
  --set data.path="$work/np" --set model.num_puzzle_identifiers=4 --set train.steps=3 \
  >"$work/np_run.out" 2>"$work/np_run.err"
rc=$?
[ $rc -eq 0 ] && grep -q "test examples 12 " "$work/np_run.out" && ok ||
  fail "training on the NumPy set: exit $rc: $(tail -2 "$work/np_run.err")"

# plan counts the steps from the folder's size: 2 epochs of 12 groups, 1.5 examples per puzzle,
# batch 6 -> floor(2 * 12 * 1.5 / 6) = 6 steps.
cat >"$work/spec.toml" <<TOML
[sweep]
name = "ref"
[base]
model.hidden_size = 32
model.num_heads = 4
model.seq_len = 16
model.vocab_size = 6
model.num_puzzle_identifiers = 4
train.batch_size = 6
train.epochs = 2
data.source = "reference"
data.path = "$work/np"
TOML
"$bin" plan "$work/spec.toml" --format csv >"$work/plan.csv" 2>"$work/plan.err"
rc=$?
[ $rc -eq 0 ] && $py - "$work/plan.csv" <<'PY' && ok || fail "plan of a reference set: exit $rc: $(cat "$work/plan.err" "$work/plan.csv")"
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
assert len(rows) == 1 and rows[0]["steps"] == "6", rows
PY

# --- generated mazes: written in the same format, read by NumPy, trained on ------------------
"$bin" data --set data.source=maze --set data.maze_size=7 --set data.train_puzzles=30 \
  --set data.num_aug=7 --set data.test_puzzles=8 --out "$work/mazes" >"$work/mazes.out" 2>&1
rc=$?
[ $rc -eq 0 ] && grep -q "^train: 240 examples, 240 puzzles, 30 groups; seq_len 49, vocab_size 6$" "$work/mazes.out" &&
  ok || fail "data --out of mazes: exit $rc: $(cat "$work/mazes.out")"
$py - "$work/mazes" <<'PY' && ok || fail "NumPy does not read the maze set as Maze-Hard's layout"
import sys, numpy as np
root = sys.argv[1]
x = np.load(f"{root}/train/all__inputs.npy"); y = np.load(f"{root}/train/all__labels.npy")
assert x.shape == (240, 49) and x.dtype == np.uint8
# '# SGo' as 1..5: every input has one S and one G and no path; its label marks the path 'o'.
assert ((x == 3).sum(1) == 1).all() and ((x == 4).sum(1) == 1).all() and (x == 5).sum() == 0
assert ((y == 5).sum(1) >= 1).all() and ((y != 5) == (x == y)).all()
# Group 0 holds a maze and its 7 dihedral images: the first rotated a quarter turn clockwise.
first = x[0].reshape(7, 7); turned = x[1].reshape(7, 7)
assert (np.rot90(first, -1) == turned).all()
PY
"$bin" train --config "$work/tiny.toml" --threads 1 --out "$work/maze_run" --set data.source=maze \
  --set data.maze_size=7 --set data.train_puzzles=30 --set data.num_aug=7 --set data.test_puzzles=8 \
  --set model.seq_len=49 --set train.steps=4 >"$work/maze_run.out" 2>"$work/maze_run.err"
rc=$?
[ $rc -eq 0 ] && grep -q "test examples 8 " "$work/maze_run.out" && ok ||
  fail "training on mazes: exit $rc: $(tail -2 "$work/maze_run.err")"
"$bin" train --config "$work/tiny.toml" --out "$work/no" --set data.source=maze \
  --set model.seq_len=49 >/dev/null 2>"$work/maze_bad.err"
rc=$?
[ $rc -eq 2 ] && grep -q "data.maze_size = 30 gives 900-token examples; set model.seq_len = 900" "$work/maze_bad.err" && ok ||
  fail "a maze config that does not fit: exit $rc: $(cat "$work/maze_bad.err")"

# --- a stop signal while a large set is made: exit 5 within moments, nothing written ---------
"$bin" data --set data.train_puzzles=20000 --out "$work/large" >"$work/large.out" 2>&1 &
pid=$!
# Signal it once it takes SIGTERM (blocked for its sigwait thread: bit 15 of /proc's SigBlk):
# loading LibTorch can take over a second on a loaded machine, and a SIGTERM before that is the
# default death (143).
for _ in $(seq 300); do
  blk=$(awk '/^SigBlk:/ {print $2}' "/proc/$pid/status" 2>/dev/null)
  [ -n "$blk" ] && (((16#$blk >> 14) & 1)) && break
  sleep 0.1
done
sleep 0.5
kill -TERM $pid
for _ in $(seq 30); do kill -0 $pid 2>/dev/null || break; sleep 0.1; done
if kill -0 $pid 2>/dev/null; then
  kill -9 $pid
  fail "a SIGTERM while data makes the puzzles did not end it within 3 s"
else
  wait $pid
  rc=$?
  [ $rc -eq 5 ] && grep -q "nothing was written" "$work/large.out" && [ ! -e "$work/large" ] && ok ||
    fail "SIGTERM during data: exit $rc (want 5), folder $(ls -d "$work/large" 2>&1): $(cat "$work/large.out")"
fi

# --- an ARC set: evaluations vote over the augmentations (pass@K) ---------------------------
# Written as the reference's build_arc_dataset.py writes one: 30x30 canvases, names
# "<task>|||t<dihedral>|||<colour permutation>", test_puzzles.json with the solutions.
$py - "$work/arc" <<'PY' || fail "could not write the ARC set"
import json, os, sys, numpy as np
root = sys.argv[1]
rng = np.random.default_rng(1)
def dihedral(a, t):
    return [a, np.rot90(a, 1), np.rot90(a, 2), np.rot90(a, 3), np.fliplr(a), np.flipud(a), a.T,
            np.fliplr(np.rot90(a, 1))][t]
def canvas(g):
    c = np.zeros((30, 30), np.uint8)
    h, w = g.shape
    c[:h, :w] = g + 2
    c[h, :w] = 1
    c[:h, w] = 1
    return c.reshape(-1)
tasks = {}
for k in range(3):
    pairs = [(rng.integers(0, 10, (2 + k, 3)), rng.integers(0, 10, (3, 2 + k))) for _ in range(3)]
    tasks["task%d" % k] = {"train": pairs[:2], "test": pairs[2:] if k != 1 else pairs[1:]}
names = ["<blank>"]
splits = {"train": ([], [], [], [0]), "test": ([], [], [], [0])}
for name, task in tasks.items():
    for aug in range(3):
        t = int(rng.integers(0, 8)) if aug else 0
        perm = np.concatenate([[0], rng.permutation(np.arange(1, 10))]) if aug else np.arange(10)
        names.append(name if aug == 0 else "%s|||t%d|||%s" % (name, t, "".join(map(str, perm))))
        for split in ("train", "test"):
            inputs, labels, ids, pi = splits[split]
            for x, y in task[split]:
                inputs.append(canvas(dihedral(perm[x], t)))
                labels.append(canvas(dihedral(perm[y], t)))
            ids.append(len(names) - 1)
            pi.append(len(inputs))
for split, (inputs, labels, ids, pi) in splits.items():
    os.makedirs(f"{root}/{split}")
    np.save(f"{root}/{split}/all__inputs.npy", np.array(inputs, np.uint8))
    np.save(f"{root}/{split}/all__labels.npy", np.array(labels, np.uint8))
    np.save(f"{root}/{split}/all__puzzle_identifiers.npy", np.array(ids, np.int32))
    np.save(f"{root}/{split}/all__puzzle_indices.npy", np.array(pi, np.int32))
    np.save(f"{root}/{split}/all__group_indices.npy", np.array([0, 3, 6, 9], np.int32))
    json.dump({"pad_id": 0, "ignore_label_id": 0, "blank_identifier_id": 0, "vocab_size": 12,
               "seq_len": 900, "num_puzzle_identifiers": len(names), "total_groups": 3,
               "mean_puzzle_examples": len(inputs) / 9, "total_puzzles": 9, "sets": ["all"]},
              open(f"{root}/{split}/dataset.json", "w"))
json.dump(names, open(f"{root}/identifiers.json", "w"))
json.dump({n: {k: [{"input": x.tolist(), "output": y.tolist()} for x, y in v] for k, v in t.items()}
           for n, t in tasks.items()}, open(f"{root}/test_puzzles.json", "w"))
PY
arc_args=(--config "$work/tiny.toml" --threads 1 --set data.source=reference --set data.path="$work/arc"
  --set model.seq_len=900 --set model.vocab_size=12 --set model.num_puzzle_identifiers=10
  --set model.halt_max_steps=2 --set train.batch_size=4 --set train.steps=4 --set train.eval_interval=2)
"$bin" train "${arc_args[@]}" --out "$work/arc_run" >"$work/arc.out" 2>"$work/arc.err"
rc=$?
[ $rc -eq 0 ] && grep -q "^final step 4/4 test examples 12 .* pass@1=[0-9.e-]* pass@2=[0-9.e-]*$" "$work/arc.out" &&
  $py - "$work/arc_run/metrics.jsonl" "$work/gen/metrics.jsonl" <<'PY' && ok || fail "ARC's pass@K: exit $rc: $(cat "$work/arc.out" "$work/arc.err")"
import json, sys
evals = [r for r in map(json.loads, open(sys.argv[1])) if r["kind"] == "eval"]
assert [r["step"] for r in evals] == [2, 4], evals
for r in evals:
    p = [r["pass_at_%d" % k] for k in (1, 2, 5, 10, 100, 1000)]
    assert all(0 <= x <= 1 for x in p) and p == sorted(p), p
    # Tasks of 1, 2 and 1 test inputs score 0, 1/2 or 1 each: the mean of 3 is a multiple of 1/6.
    assert all(abs(x * 6 - round(x * 6)) < 1e-9 for x in p), p
# Not ARC: not measured (null).
other = [r for r in map(json.loads, open(sys.argv[2])) if r["kind"] == "eval"]
assert other and all(r["pass_at_2"] is None for r in other), other[-1]
PY
# submission.json (ARC Prize's format, as the reference's evaluator writes it): two attempts per
# test input of every task; scoring them against the solutions gives the final pass@1 and pass@2.
$py - "$work/arc_run" "$work/arc/test_puzzles.json" <<'PY' && ok || fail "submission.json: $(head -c 600 "$work/arc_run/submission.json")"
import json, sys
run, tasks = sys.argv[1], json.load(open(sys.argv[2]))
sub = json.load(open(f"{run}/submission.json"))
last = [r for r in map(json.loads, open(f"{run}/metrics.jsonl")) if r["kind"] == "eval"][-1]
assert list(sub) == list(tasks), (list(sub), list(tasks))
p1 = p2 = 0.0
for name, task in tasks.items():
    entries = sub[name]
    assert len(entries) == len(task["test"]), (name, entries)
    for entry, pair in zip(entries, task["test"]):
        assert sorted(entry) == ["attempt_1", "attempt_2"], entry
        for grid in entry.values():
            assert all(isinstance(v, int) and 0 <= v <= 9 for row in grid for v in row), grid
            assert len({len(row) for row in grid}) <= 1, grid
        p1 += (entry["attempt_1"] == pair["output"]) / len(task["test"])
        p2 += (pair["output"] in entry.values()) / len(task["test"])
assert abs(p1 / len(tasks) - last["pass_at_1"]) < 1e-12, (p1, last)
assert abs(p2 / len(tasks) - last["pass_at_2"]) < 1e-12, (p2, last)
PY
"$bin" eval "${arc_args[@]}" --weights "$work/arc_run/weights.pt" >"$work/arc_eval.out" 2>&1
rc=$?
want=$(grep -o "pass@1=.*" "$work/arc.out")
[ $rc -eq 0 ] && [ -n "$want" ] && grep -q -- "$want" "$work/arc_eval.out" && ok ||
  fail "eval on the ARC set: exit $rc, want '$want': $(cat "$work/arc_eval.out")"
# eval --submission writes that evaluation's submission.json; never over a file, never for a set
# that is not ARC's.
"$bin" eval "${arc_args[@]}" --weights "$work/arc_run/weights.pt" --submission "$work/sub.json" \
  >"$work/arc_sub.out" 2>&1
rc=$?
[ $rc -eq 0 ] && $py - "$work/sub.json" "$work/arc/test_puzzles.json" "$work/arc_sub.out" <<'PY' && ok || fail "eval --submission: exit $rc: $(cat "$work/arc_sub.out")"
import json, re, sys
sub, tasks = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
printed = dict(re.findall(r"(pass@[12])=([^ \n]+)", open(sys.argv[3]).read()))
assert list(sub) == list(tasks), list(sub)
p1 = sum(sum(e["attempt_1"] == p["output"] for e, p in zip(sub[n], t["test"])) / len(t["test"])
         for n, t in tasks.items()) / len(tasks)
p2 = sum(sum(p["output"] in e.values() for e, p in zip(sub[n], t["test"])) / len(t["test"])
         for n, t in tasks.items()) / len(tasks)
assert abs(p1 - float(printed["pass@1"])) < 1e-12 and abs(p2 - float(printed["pass@2"])) < 1e-12, (p1, p2, printed)
PY
cp "$work/sub.json" "$work/sub.keep"
"$bin" eval "${arc_args[@]}" --weights "$work/arc_run/weights.pt" --submission "$work/sub.json" \
  >/dev/null 2>"$work/sub_again.err"
rc=$?
[ $rc -eq 2 ] && grep -q "sub.json: exists; it is not replaced" "$work/sub_again.err" && cmp -s "$work/sub.json" "$work/sub.keep" &&
  ok || fail "eval --submission over a file: exit $rc: $(cat "$work/sub_again.err")"
"$bin" eval --config "$work/tiny.toml" --threads 1 --weights "$work/gen/weights.pt" \
  --submission "$work/sudoku_sub.json" >/dev/null 2>"$work/sub_sudoku.err"
rc=$?
[ $rc -eq 2 ] && grep -q "the data set is not ARC's" "$work/sub_sudoku.err" && [ ! -e "$work/sudoku_sub.json" ] &&
  ok || fail "eval --submission of a Sudoku set: exit $rc: $(cat "$work/sub_sudoku.err")"
# A broken test_puzzles.json is named where it breaks; nothing is left behind.
cp -r "$work/arc" "$work/arc_bad"
$py -c "import sys; p = sys.argv[1]; s = open(p).read(); open(p, 'w').write(s.replace('\"test\": [{\"input\": [[', '\"test\": [{\"input\": [[10, ', 1))" \
  "$work/arc_bad/test_puzzles.json"
"$bin" train "${arc_args[@]}" --set data.path="$work/arc_bad" --out "$work/arc_no" >/dev/null 2>"$work/arc_bad.err"
rc=$?
[ $rc -eq 2 ] && [ "$(wc -l <"$work/arc_bad.err")" -eq 1 ] && [ ! -e "$work/arc_no" ] &&
  grep -q "arc_bad/test_puzzles.json:1:[0-9]*: task 'task0' test pair 0 input: a colour that is not an integer 0..9" "$work/arc_bad.err" && ok ||
  fail "a broken test_puzzles.json: exit $rc: $(cat "$work/arc_bad.err")"

# data --inspect runs the same checks as train (the ARC files included), and says its verdict
# only once they pass: nothing on stdout for a broken set.
"$bin" data --inspect "$work/arc" >"$work/inspect_arc.out" 2>&1
rc=$?
[ $rc -eq 0 ] && grep -q "^ARC evaluation files: 3 test tasks, 10 puzzle names$" "$work/inspect_arc.out" &&
  ok || fail "data --inspect of an ARC set: exit $rc: $(cat "$work/inspect_arc.out")"
"$bin" data --inspect "$work/arc_bad" >"$work/inspect_bad.out" 2>"$work/inspect_bad.err"
rc=$?
[ $rc -eq 2 ] && [ ! -s "$work/inspect_bad.out" ] &&
  grep -q "arc_bad/test_puzzles.json:1:[0-9]*: task 'task0' test pair 0 input" "$work/inspect_bad.err" &&
  ok || fail "data --inspect of a broken ARC set: exit $rc: $(cat "$work/inspect_bad.out" "$work/inspect_bad.err")"

# --- bad input ---------------------------------------------------------------------------------
"$bin" train --config "$work/tiny.toml" --out "$work/no" --set data.source=reference \
  --set data.path="$work/nowhere" >/dev/null 2>"$work/nowhere.err"
rc=$?
[ $rc -eq 2 ] && [ "$(wc -l <"$work/nowhere.err")" -eq 1 ] && grep -q "$work/nowhere: no such folder" "$work/nowhere.err" &&
  ok || fail "a missing folder: exit $rc: $(cat "$work/nowhere.err")"
"$bin" train --config "$work/tiny.toml" --out "$work/no" --set data.source=reference \
  --set data.path="$work/set" --set model.seq_len=81 >/dev/null 2>"$work/width.err"
rc=$?
[ $rc -eq 2 ] && grep -q "holds 16-token examples; set model.seq_len = 16" "$work/width.err" && ok ||
  fail "a model that reads other examples: exit $rc: $(cat "$work/width.err")"
cp -r "$work/set" "$work/broken"
head -c 200 "$work/set/train/all__labels.npy" >"$work/broken/train/all__labels.npy"
"$bin" train --config "$work/tiny.toml" --out "$work/no" --set data.source=reference \
  --set data.path="$work/broken" >/dev/null 2>"$work/broken.err"
rc=$?
[ $rc -eq 2 ] && grep -q "broken/train/all__labels.npy: truncated" "$work/broken.err" && [ ! -e "$work/no" ] &&
  ok || fail "a truncated array: exit $rc: $(cat "$work/broken.err")"
"$bin" data --config "$work/tiny.toml" --out "$work/set" >/dev/null 2>"$work/again.err"
rc=$?
[ $rc -eq 2 ] && grep -q "not empty" "$work/again.err" && ok || fail "data --out over a set: exit $rc: $(cat "$work/again.err")"

summary
