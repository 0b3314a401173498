"""Per-trial results of trm-sweep results files, for the launcher tests (Debian's h5py).

`python3 compare_results.py A.h5 B.h5 ...`: every trial of every file is `done` and each file's
train/eval tables equal A's, trial by trial (by id), wall-clock columns aside. Exit 1 otherwise.
Other tests import `load` for their own checks.
"""
import math
import sys

import h5py

WALL_CLOCK = {"examples_per_s", "seconds"}


def load(path):
    """(rows of /trials, {(id, "train"|"eval"): [rows without wall-clock columns]}, events)."""
    f = h5py.File(path, "r")
    rows = f["trials"][:]
    tables = {}
    for i, row in enumerate(rows):
        assert row["status"].decode() == "done", (path, i, row["status"], row["error"])
        g = f["trial/%06d" % i]
        for t in ("train", "eval"):
            data = g[t][:]
            assert len(data) > 0, (path, i, t, "no rows")
            keep = [n for n in data.dtype.names if n not in WALL_CLOCK]
            # NaN (a metric not measured, e.g. ARC's pass@K elsewhere) equals NaN here.
            tables[(row["id"].decode(), t)] = [
                tuple(None if isinstance(r[n], float) and math.isnan(r[n]) else r[n] for n in keep)
                for r in data]
        steps = [int(s) for s in g["train"]["step"]]
        assert steps == list(range(1, len(steps) + 1)), (path, i, "train steps not 1..N once each")
    events = [(e["kind"].decode(), e["message"].decode()) for e in f["events"][:]]
    return rows, tables, events


def main(paths):
    _, a, _ = load(paths[0])
    for other in paths[1:]:
        _, b, _ = load(other)
        assert a.keys() == b.keys(), (other, "other trials")
        for k in a:
            assert a[k] == b[k], (other, k, len(a[k]), len(b[k]))


if __name__ == "__main__":
    main(sys.argv[1:])
