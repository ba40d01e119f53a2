#!/usr/bin/env bash
# A short, deterministic libFuzzer run of each fuzz target: its seed corpus
# plus a fixed number of mutations with a fixed seed. Long runs are for
# `make fuzz` (FUZZ_SECONDS); this one guards against regressions in make test.
#   tests/fuzz/smoke.sh RUNS TARGET_BIN CORPUS_DIR [TARGET_BIN CORPUS_DIR]...
set -uo pipefail
runs=$1
shift
pass=0
fail=0
while [ $# -ge 2 ]; do
	bin=$1 corpus=$2
	shift 2
	name=$(basename "$bin")
	work=$(mktemp -d)
	cp -r "$corpus"/. "$work"/ 2>/dev/null
	if out=$("$bin" -seed=1 -runs="$runs" "$work" 2>&1); then
		pass=$((pass + 1))
		echo "PASS $name ($runs runs)"
	else
		fail=$((fail + 1))
		echo "FAIL $name"
		printf '%s\n' "$out" | tail -n 30 | sed 's/^/    /'
	fi
	rm -rf "$work"
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
