#!/usr/bin/env bash
# Build pyqmp's wheel and run it from a fresh virtual environment, away from the source tree:
# `pyqmp schema check|diff|doc` on the packaged schema, `pyqmp machine` answering a QMP command,
# `pyqmp client` and `pyqmp shell` talking to it, and the fleet commands starting.
# An editable install (as ./test.sh makes) hides files missing from the package; this does not.
# Used by .ci/run; takes a few seconds.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

work="$(mktemp -d "${TMPDIR:-/tmp}/pyqmp-wheel.XXXXXX")"
machine_pid=""
cleanup() {
    if [ -n "$machine_pid" ]; then kill "$machine_pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

# Build from a copy of the files git would commit: a leftover *.egg-info or build/ of an
# earlier install would otherwise fill the package's holes.
mkdir "$work/src"
git ls-files -z --cached --others --exclude-standard | while IFS= read -r -d '' file; do
    [ -e "$file" ] && printf '%s\0' "$file"
done | xargs -0 cp --parents -t "$work/src"
python3 -m pip wheel -q --no-deps --wheel-dir "$work/dist" "$work/src" >/dev/null
python3 -m venv "$work/venv"
"$work/venv/bin/python" -m pip install -q "$work"/dist/pyqmp-*.whl

cd "$work"  # nothing of the source tree on the path
schema="$("$work/venv/bin/python" -c \
    'from pyqmp.machine.app import schema_path; print(schema_path())')"
case "$schema" in "$work/venv/"*) ;; *) echo "check_wheel: schema at $schema, not in the venv" >&2; exit 1;; esac
"$work/venv/bin/pyqmp" schema check "$schema"
"$work/venv/bin/pyqmp" schema diff "$schema" "$schema" >/dev/null
"$work/venv/bin/pyqmp" schema doc "$schema" -o "$work/manual"
for file in index.html machine.html manual.css search.js search-index.js; do
    [ -s "$work/manual/$file" ] || { echo "check_wheel: the manual has no $file" >&2; exit 1; }
done
for command in agent fleet sim-fleet; do
    "$work/venv/bin/pyqmp" "$command" --help >/dev/null
done

"$work/venv/bin/pyqmp" machine --qmp "unix:$work/qmp.sock" >"$work/machine.log" 2>&1 &
machine_pid=$!
"$work/venv/bin/python" - "$work/qmp.sock" <<'PY'
import json, os, socket, sys, time

path = sys.argv[1]
deadline = time.monotonic() + 60
while not os.path.exists(path):
    if time.monotonic() > deadline:
        sys.exit("check_wheel: the installed pyqmp machine did not listen within 60 s")
    time.sleep(0.05)
sock = socket.socket(socket.AF_UNIX)
sock.settimeout(30)
sock.connect(path)
stream = sock.makefile("rwb")
assert b"QMP" in stream.readline()
for command in ("qmp_capabilities", "query-status"):
    stream.write(json.dumps({"execute": command}).encode() + b"\n")
    stream.flush()
    reply = json.loads(stream.readline())
    while "event" in reply:
        reply = json.loads(stream.readline())
    assert "return" in reply, (command, reply)
print("check_wheel: the installed wheel's pyqmp machine answered", file=sys.stderr)
PY
# (outputs taken whole: grep -q leaving a pipe early would kill the writer under pipefail)
status="$("$work/venv/bin/pyqmp" client "unix:$work/qmp.sock" query-status)"
case "$status" in *'"status"'*) ;; *) echo "check_wheel: client said: $status" >&2; exit 1;; esac
balloon="$(printf 'query-balloon\n' | "$work/venv/bin/pyqmp" shell "unix:$work/qmp.sock")"
case "$balloon" in *'"actual"'*) ;; *) echo "check_wheel: shell said: $balloon" >&2; exit 1;; esac
"$work/venv/bin/pyqmp" client "unix:$work/qmp.sock" quit >/dev/null
wait "$machine_pid"
machine_pid=""
echo "check_wheel: ok" >&2
