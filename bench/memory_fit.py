#!/usr/bin/env python3
"""Refits the CPU memory model of core/cost_model.cpp against measured peak RSS.

Runs every trial of bench/memory_calibration.toml with `trm-sweep train` (one step, 2 threads),
reads the peak RSS it reports, and fits by least squares over the float32 trials
    measured - runtime - data - buffers - carry = state * (weights, gradients, Adam, EMA)
                                                + act * (bytes autograd keeps, counted),
               + transient * (bytes one block keeps for one evaluation, counted),
with the runtime taken from the tiny trial. The transient term is the peak's working memory on top
of what autograd keeps: the gradients and temporaries of the block being differentiated. Prints each trial's measurement, the prediction of the
current constants and that of the fitted ones, and the constants to put in core/cost_model.cpp.
Nothing else may run meanwhile: peak RSS does not depend on it, but the run takes ~2 minutes.

Usage: bench/memory_fit.py BUILD/bin/trm-sweep
"""
import json
import os
import re
import subprocess
import sys
import tempfile

MIB = 2**20
src = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
spec = os.path.join(src, "bench", "memory_calibration.toml")
cost = open(os.path.join(src, "core", "cost_model.cpp")).read()
act_old = float(re.search(r"kCpuActivationFactor = ([0-9.]+);", cost).group(1))
transient_old = float(re.search(r"kCpuTransientFactor = ([0-9.]+);", cost).group(1))
state_old = float(re.search(r"kCpuStateFactor = ([0-9.]+);", cost).group(1))
runtime_old = float(re.search(r"kCpuRuntimeBytes = ([0-9.]+) \* 1024 \* 1024;", cost).group(1)) * MIB

binary = sys.argv[1]
plan = json.loads(subprocess.run([binary, "plan", spec, "--format", "json"], check=True,
                                 capture_output=True, text=True).stdout)["trials"]
rows = []
with tempfile.TemporaryDirectory() as work:
    for t in plan:
        out = subprocess.run([binary, "train", "--spec", spec, "--trial", str(t["index"]),
                              "--threads", "2", "--out", os.path.join(work, str(t["index"]))],
                             check=True, capture_output=True, text=True).stdout
        measured = int(re.findall(r"peak_rss_bytes=(\d+)", out)[-1])
        m = t["memory"]
        bf16 = t["settings"].get("model.forward_dtype") == "bfloat16"
        rows.append((t["name"], measured, m, bf16))
        print(f"measured {t['name']}: {measured / MIB:.1f} MiB", file=sys.stderr)

def features(t, m):
    """(state, activations, one block) in counted bytes, without the current factors."""
    st = t["settings"]
    layers = int(st.get("model.layers", 2))
    graded = int(st.get("model.l_cycles", 6)) + 1 if st.get("model.gradient", "full") == "full" else 2
    kept = m["activations"] / (act_old * graded * layers + transient_old)  # one block, B examples
    return [(m["parameters"] + m["ema"]) / state_old, kept * graded * layers, kept]


small_parts = lambda m: m["data"] + m["buffers"] + m["carry"]
tiny_index = next(i for i, r in enumerate(rows) if r[0] == "tiny")


def fit(runtime):
    """Least squares over the float32 trials (bfloat16 on CPU converts inside its kernels)."""
    X, Y = [], []
    for (name, measured, m, bf16), t in zip(rows, plan):
        if name == "tiny" or bf16:
            continue
        X.append(features(t, m))
        Y.append(measured - runtime - small_parts(m))
    k = 3
    A = [[sum(x[i] * x[j] for x in X) for j in range(k)] + [sum(x[i] * y for x, y in zip(X, Y))]
         for i in range(k)]
    for i in range(k):  # Gauss-Jordan on the normal equations
        piv = max(range(i, k), key=lambda r: abs(A[r][i]))
        A[i], A[piv] = A[piv], A[i]
        for r in range(k):
            if r != i:
                f = A[r][i] / A[i][i]
                A[r] = [a - f * b for a, b in zip(A[r], A[i])]
    return [A[i][k] / A[i][i] for i in range(k)]


# The runtime is the tiny trial less its own (small) other parts, which depend on the factors:
# alternate the two until they settle.
_, tiny_measured, tiny_m, _ = rows[tiny_index]
state, act, transient = state_old, act_old, transient_old
for _ in range(20):
    f = features(plan[tiny_index], tiny_m)
    runtime = tiny_measured - small_parts(tiny_m) - state * f[0] - act * f[1] - transient * f[2]
    state, act, transient = fit(runtime)

print(f"| trial | measured MiB | predicted now | error | refitted | error |")
print(f"|---|---:|---:|---:|---:|---:|")
for (name, measured, m, bf16), t in zip(rows, plan):
    now = sum(m.values())
    f = features(t, m)
    extra = 0.0
    if bf16:  # its bfloat16 weight copies are counted apart, not scaled by the state factor
        p = m["ema"] / state_old / 4.0  # parameter count (every calibration trial has the EMA)
        extra = m["parameters"] - state_old * 16.0 * p
        f[0] = (m["parameters"] - extra + m["ema"]) / state_old
    new = runtime + small_parts(m) + extra + state * f[0] + act * f[1] + transient * f[2]
    print(f"| {name}{' (bfloat16: not fitted)' if bf16 else ''} | {measured / MIB:.1f} | "
          f"{now / MIB:.1f} | {100 * (now / measured - 1):+.1f}% | {new / MIB:.1f} | "
          f"{100 * (new / measured - 1):+.1f}% |")
print(f"\nkCpuRuntimeBytes = {runtime / MIB:.1f} MiB (was {runtime_old / MIB:.1f}); "
      f"kCpuStateFactor = {state:.2f} (was {state_old:.2f}); "
      f"kCpuActivationFactor = {act:.2f} (was {act_old:.2f}); "
      f"kCpuTransientFactor = {transient:.2f} (was {transient_old:.2f})")
