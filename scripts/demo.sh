#!/usr/bin/env bash
# `make demo`: run snncompile end to end on the shipped example models.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$ROOT/scripts/bootstrap.sh"          # no-op (~0.1 s) when .venv is up to date
exec "$ROOT/.venv/bin/snncompile" demo "$@"
