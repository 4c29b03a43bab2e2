#!/usr/bin/env bash
# One command that sets up everything vbench and its test suite need on a fresh Debian/Ubuntu machine.
set -euo pipefail
cd "$(dirname "$0")/.."
if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = "0" ]; then
  if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
  fi
fi
python -m pip install -q -e ".[all,dev]"
python -c "import vbench, torch, transformers, datasets; print('vbench ready: torch', torch.__version__, '| transformers', transformers.__version__)"
