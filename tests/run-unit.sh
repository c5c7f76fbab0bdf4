#!/bin/sh
# Runs every C unit-test binary given, each in its own process so that a
# crash fails only that file, and ends with one summary line for the lot,
# summed from cmocka's per-binary counts:
#
#   tests/run-unit.sh [-l LABEL] BINARY...
#
# The line reads "LABEL: N passed, N failed"; LABEL defaults to "unit" (the
# sanitizer pass uses "unit (ASan+UBSan)" so the two runs can be told apart).
# A binary still running after UNIT_TIMEOUT seconds (default 300) is killed
# and counted as a failure, so that a test that hangs fails instead.
label=unit
if [ "$1" = "-l" ]; then
    label=$2
    shift 2
fi
passed=0
failed=0
limit=${UNIT_TIMEOUT:-300}
for bin in "$@"; do
    out=$(timeout "$limit" "$bin" 2>&1)
    status=$?
    printf '%s\n' "$out"
    if [ "$status" -eq 124 ]; then
        echo "$bin: still running after $limit s; killed (a test hangs)"
    fi
    run=$(printf '%s\n' "$out" | sed -n 's/^\[==========\] \([0-9]*\) test(s) run\./\1/p' | tail -n 1)
    ok=$(printf '%s\n' "$out" | sed -n 's/^\[  PASSED  \] \([0-9]*\) test(s)\./\1/p' | tail -n 1)
    run=${run:-0}
    ok=${ok:-0}
    if [ "$status" -ne 0 ] && [ "$ok" -eq "$run" ]; then
        # It crashed or failed outside cmocka's count: count the file as one failure.
        echo "$bin: exited with status $status"
        failed=$((failed + 1))
    fi
    passed=$((passed + ok))
    failed=$((failed + run - ok))
done
echo "$label: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
