#!/usr/bin/env bash
# Create (or reuse) the virtual environment .venv and install advdyn with everything the tests,
# the experiments and the benchmarks use. Never pulls CUDA packages: torch is pinned to the
# version already importable (kept as it is) or to the local CPU wheel torch==2.13.0.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
VENV=${ADVDYN_VENV:-.venv}
if [ ! -x "$VENV/bin/python" ]; then
  "$PY" -m venv "$VENV"
fi
PIP=("$VENV/bin/python" -m pip install --quiet --disable-pip-version-check)
constraints=$(mktemp)
trap 'rm -f "$constraints"' EXIT
installed=$("$VENV/bin/python" -c "import torch; print(torch.__version__.split('+')[0])" 2>/dev/null || true)
echo "torch==${installed:-2.13.0}" > "$constraints"
"${PIP[@]}" -c "$constraints" "torch==${installed:-2.13.0}"
"${PIP[@]}" -c "$constraints" -e ".[test,mnist,dask,parquet,peers,docs,typing]"
# torchattacks declares torchvision (no CPU build here); it runs without it.
"${PIP[@]}" -c "$constraints" --no-deps "torchattacks==3.5.1"
"$VENV/bin/python" -c "import torch, advdyn; print('advdyn', advdyn.__version__, 'torch', torch.__version__)"
