#!/usr/bin/env bash
# Regenerate tests/fixtures/seed with both oracle venvs (see README.md here).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here/../../tests/fixtures/seed}
TF_USE_LEGACY_KERAS=1 "$here/.venv/bin/python" "$here/make_seed_fixtures.py" "$out"
"$here/.venv-est/bin/python" "$here/make_seed_fixtures.py" "$out" --estimator
