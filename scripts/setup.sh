#!/usr/bin/env bash
# One command that sets up everything vbench and its test suite need on a fresh Debian/Ubuntu machine.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${VIRTUAL_ENV:-}" ] && [ -z "${CONDA_PREFIX:-}" ]; then
  echo "setup: note: no virtual environment is active; packages go into $(command -v python) (python -m venv .venv && . .venv/bin/activate first to keep them apart)"
fi
if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = "0" ]; then
    echo "setup: installing chromium + chromedriver with apt-get (only the browser test of the rating app needs them)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
  else
    echo "setup: chromium/chromedriver not found and cannot be installed here (needs apt-get as root); the browser test will be skipped"
  fi
fi
echo "setup: pip install -e \".[all,dev]\" (torch, transformers, API SDKs, test tools)"
python -m pip install -q -e ".[all,dev]"
python -c "import vbench, torch, transformers, datasets; print('vbench ready: torch', torch.__version__, '| transformers', transformers.__version__)"
