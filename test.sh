#!/usr/bin/env bash
# Set up (see tools/setup.sh) and run every test; extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
source tools/setup.sh

exec python -m pytest -n 2 "$@"
