#!/usr/bin/env bash
# Run every fuzz target in tests/fuzz/ for a fixed budget each, starting from its corpus in
# tests/fuzz/corpus/TARGET/ (kept in the repository); exit 1 if any target finds a crash.
#
#   tools/fuzz.sh                 # CI's short run: 4 s a target (.ci/run)
#   tools/fuzz.sh 600             # a soak: 10 minutes a target
#   tools/fuzz.sh 60 guest_channel command_arguments    # some targets only
#
# Under atheris (the test extra installs it where a wheel exists), new inputs that reach new
# code go to a scratch directory, not the repository; a crash is written to
# $PYQMP_FUZZ_OUT (default: a fresh temporary directory, kept when something is found) as
# TARGET-crash-HASH.  Reproduce it with `python tests/fuzz/fuzz_TARGET.py FILE`, then copy it
# into tests/fuzz/corpus/TARGET/ (so tests/fuzz/test_fuzz_corpus.py replays it for ever) and
# write the regression test.  Without atheris, hypothesis explores for the same budget.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

seconds="${1:-4}"
shift || true
targets=("$@")
if [ "${#targets[@]}" -eq 0 ]; then
    targets=(qmp_framing schema_reader balloon_channel guest_channel command_arguments
             monitor_options)
fi
python=".venv/bin/python"
[ -x "$python" ] || python="python3"

out="${PYQMP_FUZZ_OUT:-$(mktemp -d "${TMPDIR:-/tmp}/pyqmp-fuzz.XXXXXX")}"
mkdir -p "$out"
failed=()
for target in "${targets[@]}"; do
    script="tests/fuzz/fuzz_$target.py"
    corpus="tests/fuzz/corpus/$target"
    if [ ! -f "$script" ] || [ ! -d "$corpus" ]; then
        echo "fuzz: no target '$target' ($script and $corpus)" >&2
        exit 2
    fi
    scratch="$out/new-$target"
    mkdir -p "$scratch"
    log="$out/$target.log"
    start=$SECONDS
    # -timeout: one input taking over 10 s is a hang, and a finding; -rss_limit_mb: so is
    # memory without bound.  The scratch directory comes first: libFuzzer writes new inputs
    # there, and only reads the repository's corpus.
    if "$python" "$script" "-max_total_time=$seconds" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 "-artifact_prefix=$out/$target-" \
        "$scratch" "$corpus" >"$log" 2>&1; then
        runs="$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' \
            || grep -o 'hypothesis: [0-9]* inputs' "$log" || true)"
        echo "fuzz: $target: ok, ${runs:-?} runs in $((SECONDS - start)) s"
    else
        echo "fuzz: $target: FAILED (log: $log)" >&2
        tail -n 30 "$log" >&2
        failed+=("$target")
    fi
done
if [ "${#failed[@]}" -ne 0 ]; then
    echo "fuzz: crashes in ${failed[*]}; inputs and logs kept in $out" >&2
    exit 1
fi
[ -n "${PYQMP_FUZZ_OUT:-}" ] || rm -rf "$out"
