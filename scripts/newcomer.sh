#!/usr/bin/env bash
# A newcomer's session with a core install (`pip install .`, no Lava): the README's commands on the
# shipped digits models, each checked for its exit code and for the one thing its output must show.
#
#   scripts/newcomer.sh SNNCOMPILE_EXECUTABLE WORKDIR
#
# check, report, show and lower must work; run must refuse in one line on stderr that names Lava (exit 2);
# demo must finish with no unexpected outcome, skipping the Lava simulation with a stated reason.
# No command may print a traceback or an "internal error".  Exit status: the number of failed steps (0 = all).
set -uo pipefail

[[ $# -eq 2 ]] || { echo "usage: $0 SNNCOMPILE_EXECUTABLE WORKDIR" >&2; exit 2; }
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
EXE="$1"
WORK="$2"
MODELS="$ROOT/examples/models"
SF="$MODELS/spikformer-digits"
SGF="$MODELS/spikingformer-digits"
mkdir -p "$WORK"
cd "$WORK" || exit 2
failed=0

# step NAME WANT_EXIT STREAM PATTERN -- ARGS... : run `snncompile ARGS`, require exit WANT_EXIT and PATTERN
# (an extended regex) in STREAM (out|err).
step() {
    local name="$1" want="$2" stream="$3" pattern="$4"
    shift 5
    local t0=$EPOCHREALTIME code why=""
    "$EXE" "$@" >"$WORK/$name.out" 2>"$WORK/$name.err"
    code=$?
    local text; text="$(cat "$WORK/$name.$stream")"
    if [[ $code -ne $want ]]; then
        why="exit $code, expected $want"
    elif ! grep -q -E -- "$pattern" <<<"$text"; then
        why="$stream lacks /$pattern/"
    elif grep -q -E 'Traceback|internal error' "$WORK/$name.out" "$WORK/$name.err"; then
        why="a traceback or an internal error was printed"
    fi
    local secs; secs="$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')"
    if [[ -z $why ]]; then
        echo "newcomer: ok    $name (exit $code, ${secs} s)"
    else
        echo "newcomer: FAIL  $name: $why: snncompile $*" >&2
        tail -n 5 "$WORK/$name.err" | sed 's/^/    /' >&2
        failed=$((failed + 1))
    fi
}

step check-spikformer 1 out '^SNN101 ' -- check "$SF/checkpoint.pth" --no-color
step check-spikingformer 0 out 'No findings' -- check "$SGF/checkpoint.pth" --no-color
step report 0 out 'per image' -- report "$SF/checkpoint.pth" --limit 8 --no-progress
step show 0 out '^graph spikingformer-digits' -- show preset:spikingformer:digits
step lower 0 out 'Lava processes: [0-9]+' -- lower "$SF/checkpoint.pth" --mode fixed -o "$WORK/sf.loihi"
[[ -f $WORK/sf.loihi/network.json ]] || { echo "newcomer: FAIL  lower wrote no network.json" >&2; failed=$((failed + 1)); }
step run-needs-lava 2 err '^error: .*Lava.*' -- run "$WORK/sf.loihi" --input "$SF/inputs.npy"
if [[ $(wc -l <"$WORK/run-needs-lava.err") -ne 1 ]]; then
    echo "newcomer: FAIL  run-needs-lava: stderr is not exactly one line" >&2
    failed=$((failed + 1))
fi
step demo 0 out 'demo finished: 0 unexpected outcome' -- demo --out "$WORK/demo"
grep -q -E '^== skipped snncompile run .*Lava' "$WORK/demo.out" ||
    { echo "newcomer: FAIL  demo does not say why it skipped the Lava runs" >&2; failed=$((failed + 1)); }

echo "newcomer: $failed failed step(s)"
exit "$failed"
