#!/usr/bin/env bash
# Set up (see tools/setup.sh) and run pyqmp's main job.
#
# For now the main job checks QEMU's whole QAPI schema with pyqmp's schema front end. Once the
# reference machine exists this will start `pyqmp machine` instead.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
source tools/setup.sh

schema="$PYQMP_QEMU_SRC/qapi/qapi-schema.json"
if pyqmp schema check "$schema"; then
    echo "run: pyqmp schema check: OK: $schema"
else
    status=$?
    echo "run: pyqmp schema check: FAILED (exit $status): $schema" >&2
    exit "$status"
fi
