#!/usr/bin/env bash
# The README's pandas snippet, run with Debian's python (python3-h5py, python3-pandas) on a
# results file: /trials loads as a DataFrame and agrees with `export --table all --format csv`
# read by pandas.read_csv (same trials, names, statuses and final exact accuracies).
# Usage: pandas_raw.sh PATH/TO/trm-sweep PATH/TO/export_sample_writer
set -u
bin=$1
writer=$2
source "$(dirname "$0")/../cli/common.sh" export_pandas
"$writer" ablation "$work/quick.h5" || exit 1
"$bin" export "$work/quick.h5" --table all --format csv -o "$work/raw.csv" || exit 1
cd "$work" || exit 1
if /usr/bin/python3 -c '
import h5py, pandas as pd
f = h5py.File("quick.h5", "r", swmr=True)          # swmr=True also while the sweep runs
trials = pd.DataFrame(f["trials"][:])
curve = pd.DataFrame(f["trial/000000/train"][:])   # step, lr, loss, ..., exact_accuracy
print(f["trial/000000"].attrs["model.l_cycles"])
raw = pd.read_csv("raw.csv")                        # trm-sweep export --table all --format csv
assert len(trials) == len(raw) == 15, (len(trials), len(raw))
assert list(trials["name"].str.decode("utf-8")) == list(raw["name"])
assert list(trials["status"].str.decode("utf-8")) == list(raw["status"])
pd.testing.assert_series_equal(trials["final_exact_accuracy"], raw["final_exact_accuracy"],
                               check_names=False)
assert raw["final_exact_accuracy"].isna().sum() == 9   # failed, OOM and pending trials
assert list(curve["step"]) == list(range(10, 101, 10))
assert raw.loc[raw["status"] == "done", "final_exact_accuracy"].round(2).tolist() == \
    [0.8, 0.82, 0.84, 0.7, 0.74, 0.9]
'; then ok; else fail "pandas could not load the raw table as the README shows"; fi
summary
