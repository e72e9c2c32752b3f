#!/bin/sh
# check_runner.sh VIGIL SCRIPT EXIT STDOUT [STDERR] — runs `VIGIL promql-test SCRIPT` in this
# folder (so the runner names the script as it is written here) and passes only when it exits
# with EXIT and prints exactly the file STDOUT on stdout (and, when given, STDERR on stderr).
# Used by the promql/runner_* tests in tests/CMakeLists.txt.
set -u
vigil=$1 script=$2 want_status=$3 want_stdout=$4 want_stderr=${5:-}
cd "$(dirname "$0")" || exit 1
out=$(mktemp) err=$(mktemp)
trap 'rm -f "$out" "$err"' EXIT
"$vigil" promql-test "$script" >"$out" 2>"$err"
status=$?
verdict=0
if [ "$status" -ne "$want_status" ]; then
    echo "exit status $status, expected $want_status"
    verdict=1
fi
diff -u "$want_stdout" "$out" || verdict=1
if [ -n "$want_stderr" ]; then
    diff -u "$want_stderr" "$err" || verdict=1
elif [ -s "$err" ]; then
    echo "unexpected output on stderr:"
    cat "$err"
    verdict=1
fi
exit $verdict
