#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The performance tables README.md and docs/measurements.md show are the
# ones bench/table makes from bench/results.json, and bench/table judges a
# target by its figure (TAP).
. "$(dirname "$0")/tap.inc"

echo "TAP version 13"
echo "1..5"
mkdir "$d/docs"
cp "$top/README.md" "$d/README.md"
cp "$top/docs/measurements.md" "$d/docs/measurements.md"
"$top/bench/table" --write "$top/bench/results.json" "$d"
check "README.md's targets table is bench/table's of bench/results.json" \
	cmp "$top/README.md" "$d/README.md"
check "docs/measurements.md's figures table is bench/table's of bench/results.json" \
	cmp "$top/docs/measurements.md" "$d/docs/measurements.md"
printf '"tracked_vs_bare": 3.9,\n"cold_vs_hot": 2.5,\n' >"$d/r.json"
"$top/bench/table" targets "$d/r.json" >"$d/t.md"
check "a ratio under its ceiling is met" \
	grep -q '^| tracked connect to a closed breaker.* 3.90× | ≤ 4× | met |$' "$d/t.md"
check "a ratio over its ceiling is missed" \
	grep -q '^| cold: .* 2.50× | ≤ 2× | \*\*missed\*\* |$' "$d/t.md"
check "a figure the run lacks is said to be missing, and judged by nobody" \
	grep -q '^| untracked connect .* not in this run | ≤ 1.5× |  |$' "$d/t.md"
