#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The demo, run inside the test guest by "make demo": a real curl against a
# real web server in another network namespace, refused at once by an open
# breaker and let through again after reset.
set -e

step() { printf '\n== %s\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }

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

step "load cbreaker"
run modprobe cbreaker
run cbctl load
run cbctl status

step "healthy: curl goes through"
run curl -sS -m 5 http://10.99.0.2/

step "trip the breaker for 10.99.0.2:80"
run cbctl breaker trip dst 10.99.0.2 port 80
run cbctl breaker show dst 10.99.0.2 port 80
tx=$(cat /sys/class/net/cb0/statistics/tx_packets)
printf '$ time curl http://10.99.0.2/\n'
time curl -sS -m 5 http://10.99.0.2/ || echo "(curl exit $?: refused at once)"
echo "packets sent towards the backend meanwhile: $(( $(cat /sys/class/net/cb0/statistics/tx_packets) - tx ))"
run cbctl breaker list

step "reset: traffic flows again"
run cbctl breaker reset dst 10.99.0.2 port 80
run curl -sS -m 5 http://10.99.0.2/

step "unload"
run cbctl unload
run rmmod cbreaker
echo
echo "demo: done"
