#!/usr/bin/env python3
"""h5py (Debian's python3-h5py) reads a results file written by storage/ with no custom code:
root attributes, /trials rows with status words, typed config attributes, train/eval/event
tables, also in SWMR mode; and the JSON status parses.
Usage: h5py_reads_results.py STORAGE_EXAMPLE_WRITER. Exit 77 (skip) when h5py is missing."""
import json
import os
import subprocess
import sys
import tempfile

try:
    import h5py
    import numpy as np
except ImportError as error:
    print(f"SKIP: {sys.executable} cannot import h5py ({error}); install python3-h5py")
    sys.exit(77)

writer = sys.argv[1]
with tempfile.TemporaryDirectory() as folder:
    path = os.path.join(folder, "results.h5")
    subprocess.run([writer, "write", path], check=True)
    for options in ({}, {"swmr": True, "libver": "latest"}):
        with h5py.File(path, "r", **options) as f:
            attrs = f.attrs
            assert attrs["format"] == "trm-sweep results", attrs["format"]
            assert attrs["schema_version"] == 1
            assert attrs["tool_version"] == "0.1.0"
            assert attrs["spec"].startswith("[base]\n"), attrs["spec"]
            assert attrs["hdf5_version"].startswith("1.")

            trials = f["trials"][:]
            status = [s.decode() for s in trials["status"]]
            assert status == ["done", "oom", "pending"], status
            assert trials["index"].tolist() == [0, 1, 2]
            assert trials["id"][1].decode() == "id-1"
            assert trials["error"][1].decode() == "CUDA out of memory"
            assert trials["measured_peak_bytes"][1] == 3 << 30
            assert np.isnan(trials["final_exact_accuracy"][1])
            assert trials["final_exact_accuracy"][0] == 0.5

            config = f["trial/000001"].attrs
            assert config["trial_id"] == "id-1"
            assert config["model.h_cycles"] == 2 and config["model.h_cycles"].dtype == np.int64
            assert config["model.expansion"] == 2.5 and config["model.expansion"].dtype == np.float64
            assert config["model.mixer"] == "attention", config["model.mixer"]
            assert config["train.ema"].dtype == np.bool_ and not config["train.ema"]
            assert bool(f["trial/000000"].attrs["train.ema"])
            assert config["train.lr"] == 3e-4

            train = f["trial/000001/train"][:]
            assert len(train) == 10
            assert "exact_accuracy" in train.dtype.names and "examples_per_s" in train.dtype.names
            assert train["step"].tolist() == list(range(10))
            assert train["count"][3] == 3 * 7 + 1
            evals = f["trial/000001/eval"][:]
            assert evals["step"].tolist() == [5, 10]
            assert len(f["trial/000002/train"]) == 0

            events = f["events"][:]
            assert [k.decode() for k in events["kind"]] == ["start", "oom"]
            assert events["trial"].tolist() == [-1, 1]

    status = json.loads(subprocess.run([writer, "status", path], check=True,
                                       capture_output=True, text=True).stdout)
    assert status["counts"]["done"] == 1 and status["counts"]["oom"] == 1, status["counts"]
    assert status["trials"][1]["error"] == "CUDA out of memory"
    assert status["trials"][2]["eval_exact_accuracy"] is None
print("h5py", h5py.version.version, "with HDF5", h5py.version.hdf5_version,
      "read the results file and its JSON status")
