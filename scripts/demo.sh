#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The demo, run inside the test guest by "make demo". A real curl against a
# real web server in another network namespace. The backend dies (its SYNs
# vanish): curl fails slowly a few times, then the breaker opens and curl
# fails at once. The backend returns and curl works again by itself.
set -e

step() { printf '\n== %s\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }
timed_curl() {
	start=$(cut -d' ' -f1 /proc/uptime)
	if out=$(curl -sS -m 20 http://10.99.0.2/ 2>&1); then :; fi
	end=$(cut -d' ' -f1 /proc/uptime)
	printf '$ curl http://10.99.0.2/  %-60s [%s s]\n' "$out" \
		"$(echo "$end $start" | awk '{ printf "%.2f", $1 - $2 }')"
}

step "a backend host (netns) serving HTTP at 10.99.0.2:80"
ip netns add backend
ip link add cb0 type veth peer name eth0 netns backend
ip addr add 10.99.0.1/24 dev cb0
ip link set cb0 up
ip -n backend addr add 10.99.0.2/24 dev eth0
ip -n backend link set eth0 up
ip -n backend link set lo up
mkdir -p /tmp/www
echo "hello from the backend" >/tmp/www/index.html
ip netns exec backend httpd -p 80 -h /tmp/www
# one SYN retry: a dead backend costs ~3 s per attempt here, not ~127 s
sysctl -qw net.ipv4.tcp_syn_retries=1

step "load cbreaker, one policy, and watch state changes"
run modprobe cbreaker
run cbctl load
run cbctl policy add dst 10.99.0.2 port 80 window 10 min-calls 3 failure-rate 50 \
	open 4s jitter 0 probes 2 probe-success 100
run cbctl policy show
cbctl monitor &	# prints each state change as it happens
monitor=$!
sleep 0.3

step "healthy"
timed_curl
timed_curl

step "the backend dies: its packets vanish (netem loss 100%)"
run tc qdisc add dev cb0 root netem loss 100%
for i in 1 2 3; do timed_curl; done
echo "-- the breaker is open: curl fails at once, and no SYN leaves"
tx=$(cat /sys/class/net/cb0/statistics/tx_packets)
for i in 1 2 3; do timed_curl; done
echo "packets sent towards the backend meanwhile: $(( $(cat /sys/class/net/cb0/statistics/tx_packets) - tx ))"
run cbctl breaker show dst 10.99.0.2 port 80

step "the backend returns; nobody touches cbctl"
run tc qdisc del dev cb0 root
for i in 1 2 3 4 5 6 7 8; do
	timed_curl
	sleep 1
done
run cbctl breaker show dst 10.99.0.2 port 80

step "unload"
sleep 0.3
kill $monitor
run cbctl unload
run rmmod cbreaker
echo
echo "demo: done"
