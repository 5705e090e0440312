#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# dist/prometheus and dist/grafana on this host (TAP): the rules load and
# pass their unit tests, each alert has a test that would catch it broken,
# and every expression of the dashboard parses and names only metrics that
# cbctl or the recording rules make. The same against a live Prometheus
# runs in the guest (cb_prometheus).
. "$(dirname "$0")/tap.inc"
p=$top/dist/prometheus
dash=$top/dist/grafana/cbreaker.json

echo "TAP version 13"
echo "1..8"
if ! command -v promtool >/dev/null || ! command -v jq >/dev/null; then
	for i in 1 2 3 4 5 6 7 8; do
		echo "ok $i dist/prometheus # SKIP no promtool or jq (make deps installs them)"
	done
	exit 0
fi

check "promtool check rules" promtool check rules "$p"/cbreaker.rules.yml
check "promtool test rules" sh -c "cd '$p' && promtool test rules cbreaker.rules.test.yml"

# Renamed, an alert no longer fires where its test expects it: the test
# must fail. Every alert, one at a time.
alerts=$(sed -n 's/^ *- alert: *\([A-Za-z]*\).*/\1/p' "$p"/cbreaker.rules.yml)
caught=0
missed=
for a in $alerts; do
	mkdir -p "$d/m"
	sed "s/alert: $a\$/alert: ${a}Renamed/" "$p"/cbreaker.rules.yml >"$d/m/cbreaker.rules.yml"
	cp "$p"/cbreaker.rules.test.yml "$d/m/"
	if (cd "$d/m" && promtool test rules cbreaker.rules.test.yml) >/dev/null 2>&1; then
		missed="$missed $a"
	else
		caught=$((caught + 1))
	fi
done
check "each of the $caught alerts has a test that fails when it is broken${missed:+ (not:$missed)}" \
	test -n "$alerts" -a -z "$missed"

check "the dashboard is JSON" jq -e '.panels | length > 0' "$dash"

# The dashboard's expressions with Grafana's variables filled in.
jq -r '.. | objects | select(has("expr")) | .expr' "$dash" |
	sed -e 's/\$instance/.*/g' -e 's/\$__rate_interval/5m/g' >"$d/exprs"
{
	echo "groups:"
	echo "  - name: dashboard"
	echo "    rules:"
	i=0
	while IFS= read -r e; do
		i=$((i + 1))
		printf '      - record: dashboard:expr%d\n        expr: %s\n' "$i" \
			"$(printf '%s' "$e" | jq -R .)"
	done <"$d/exprs"
} >"$d/dash.rules.yml"
check "every dashboard expression parses ($(wc -l <"$d/exprs") of them)" \
	sh -c "test -s '$d/exprs' && promtool check rules '$d/dash.rules.yml'"

# Metric names: cbreaker_* that cbctl prints (its sources name each, with
# or without the prefix), cbreaker:* the recording rules make, and up.
names=$(grep -oE '\b(cbreaker[_:][a-z0-9_:]+|up)\b' "$d/exprs" | sort -u)
bad=
for m in $names; do
	case $m in
	up) ;;
	cbreaker:*) grep -q "record: $m\$" "$p"/cbreaker.rules.yml || bad="$bad $m" ;;
	*) grep -qE "\"(cbreaker_)?${m#cbreaker_}[\"{ ]" "$top"/userspace/*.c || bad="$bad $m" ;;
	esac
done
check "every metric the dashboard names exists${bad:+ (not:$bad)}" test -n "$names" -a -z "$bad"

# The rules' own names likewise.
rnames=$(sed -n 's/^ *expr: //p; /^ *expr: |/,/^ *for:/p' "$p"/cbreaker.rules.yml |
	grep -oE '\bcbreaker_[a-z0-9_]+' | sort -u)
bad=
for m in $rnames; do
	grep -qE "\"(cbreaker_)?${m#cbreaker_}[\"{ ]" "$top"/userspace/*.c || bad="$bad $m"
done
check "every metric the rules name exists${bad:+ (not:$bad)}" test -n "$rnames" -a -z "$bad"

# A name that does not exist is caught (the check above can fail).
sed 's/cbreaker_breaker_state/cbreaker_breaker_status/' "$dash" >"$d/bad.json"
m=$(jq -r '.. | objects | select(has("expr")) | .expr' "$d/bad.json" |
	grep -oE '\bcbreaker_breaker_status\b' | head -n 1)
check "a misspelt metric is not found" \
	sh -c "test -n '$m' && ! grep -qE '\"(cbreaker_)?${m#cbreaker_}[\"{ ]' '$top'/userspace/*.c"
