#!/usr/bin/env bash
# Create .venv-iac (checkov + tree-sitter-bicep) at the repo root, only when it is missing or incomplete.
# Its own venv because checkov 3.3.30 pins packaging<24 while pytest 9 needs >=24.
# Usage: infra/setup-iac-venv.sh        (idempotent; run from anywhere)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv-iac"
PYTHON="${PYTHON:-python3.11}"
PINS=(checkov==3.3.30 "tree-sitter>=0.26,<0.27" tree-sitter-bicep==1.1.0)

ready() {
  [ -x "$VENV/bin/python" ] && [ -x "$VENV/bin/checkov" ] &&
    "$VENV/bin/python" - <<'PY' >/dev/null 2>&1
import importlib.metadata as m
assert m.version("checkov") == "3.3.30"
assert m.version("tree-sitter-bicep") == "1.1.0"
assert m.version("tree-sitter").startswith("0.26.")
PY
}

if ready; then
  echo ".venv-iac is ready ($VENV)"
  exit 0
fi

[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "${PINS[@]}"
ready || { echo "error: .venv-iac is incomplete after install" >&2; exit 1; }
echo ".venv-iac created ($VENV)"
