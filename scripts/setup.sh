#!/usr/bin/env bash
# Installs the Debian packages trm-sweep needs (only those missing) and builds it into build/.
# Environment: BUILD_DIR (default build), TRM_WERROR=ON to treat warnings as errors.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  build-essential cmake ninja-build pkg-config  # toolchain
  libtorch-dev libopenblas0-openmp              # LibTorch 1.13 + a fast OpenMP BLAS (~15x the reference BLAS)
  libdnnl-dev                                   # oneDNN's sgemm for the MLP products (LibTorch links it too)
  libopenmpi-dev openmpi-bin                    # MPI launcher (mpirun), Debian's OpenMPI
  libhdf5-dev                                   # serial HDF5 for the results file
  libtomlplusplus-dev libcli11-dev              # sweep specs, command line
  googletest libgtest-dev                       # tests
  python3 python3-h5py python3-numpy            # tests read our HDF5 files as users do
  munge slurmctld slurmd slurm-client          # the one-node SLURM cluster of the submit tests
  python3-pandas                                # export tests load the raw table as the README shows
  chromium                                      # export tests open the HTML report in a headless browser
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

build_dir=${BUILD_DIR:-build}
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DTRM_WERROR="${TRM_WERROR:-OFF}" >/dev/null
cmake --build "$build_dir" -j "$(nproc)"
