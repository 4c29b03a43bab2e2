#!/usr/bin/env bash
# On a machine with a CUDA GPU and `pip install "vbench-personas[vllm,hf,dev]"`: the vLLM tests on the GPU
# engine (they must run, not skip) and a throughput benchmark (requests/s, output tokens/s) for
# ultimatum_pair, with the runner-vs-direct-LLM.chat ratio. Under 10 minutes on one GPU.
#
#   bash benchmarks/gpu_check.sh                         # tiny random Qwen2-VL built on the spot
#   MODEL=Qwen/Qwen2-VL-2B-Instruct bash benchmarks/gpu_check.sh   # a real model (downloads it)
set -euo pipefail
cd "$(dirname "$0")/.."
t0=$(date +%s)
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total --format=csv,noheader \
  || { echo "gpu_check: no nvidia-smi: this script is for a CUDA machine (CPU: bash scripts/test-vllm-cpu.sh)"; exit 2; }
python -c "import vllm, transformers; print('vllm', vllm.__version__, 'transformers', transformers.__version__)"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
VBENCH_REQUIRE_VLLM=1 python -m pytest -q -p no:cacheprovider tests/vllm_suite
if [[ -n "${MODEL:-}" ]]; then
  HF_HUB_OFFLINE=0 python benchmarks/bench_vllm.py --model "$MODEL" --games "${GAMES:-64}" --no-parity \
      --model_args "max_model_len=8192,gpu_memory_utilization=0.85"
else
  python benchmarks/bench_vllm.py --games "${GAMES:-64}" --model_args "max_model_len=2048,gpu_memory_utilization=0.5"
fi
echo "gpu_check: $(( $(date +%s) - t0 )) s"
