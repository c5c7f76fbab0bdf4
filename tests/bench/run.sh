#!/bin/sh
# mogen benchmarks: `make bench` runs `sh tests/bench/run.sh $(BUILD)` after
# building mogend and build/bench/* (this script builds nothing itself).
#
#   sh tests/bench/run.sh [BUILD] [--json FILE] [--quick]
#
# Runs every contender one after another (tests/bench/bench.py), prints the
# table, and writes the figures as JSON to FILE (default
# BUILD/bench/results.json). The clothing part is skipped with a message when
# ../shared/data/clothing is absent. SPDL joins the table when `import spdl`
# works in the Python used (e.g. PYTHONPATH pointing at a pip --target dir).
set -e
BUILD=build
case "$1" in
    ""|-*) ;;
    *) BUILD=$1; shift ;;
esac
JSON=$BUILD/bench/results.json
QUICK=
while [ $# -gt 0 ]; do
    case "$1" in
        --json) JSON=$2; shift 2 ;;
        --json=*) JSON=${1#--json=}; shift ;;
        --quick) QUICK=--quick; shift ;;
        *) echo "usage: sh tests/bench/run.sh [BUILD] [--json FILE] [--quick]" >&2; exit 2 ;;
    esac
done
PYTHON=${PYTHON:-.venv/bin/python}
if [ ! -x "$BUILD/mogend" ]; then
    echo "run.sh: $BUILD/mogend is missing: run make bench (or make) first" >&2
    exit 1
fi
if [ ! -x "$PYTHON" ]; then
    echo "run.sh: $PYTHON is missing: run make deps first" >&2
    exit 1
fi
exec "$PYTHON" tests/bench/bench.py --build "$BUILD" --json "$JSON" $QUICK
