#!/usr/bin/env bash
# Set up (see tools/setup.sh) and run pyqmp's main job: the reference machine with its QMP
# monitor.  Extra arguments go to `pyqmp machine` (e.g. -S, -m 1G, --qmp tcp:127.0.0.1:4444);
# without any, it listens on unix:pyqmp.sock in this directory and says how to connect.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
source tools/setup.sh

exec pyqmp machine "$@"
