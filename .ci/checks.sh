#!/usr/bin/env bash
# CI and pre-commit: lint, format, types, layering. Each fails the run on a violation.
#   bash .ci/checks.sh            (uses .venv, installed with the [dev] extra)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="${BIN:-.venv/bin}"
"$BIN/ruff" check .
"$BIN/ruff" format --check .
"$BIN/mypy" digest
"$BIN/lint-imports"
