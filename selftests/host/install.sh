#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The installed layout under a DESTDIR, on this host (TAP).
. "$(dirname "$0")/tap.inc"

echo "TAP version 13"
echo "1..17"
make -s -C "$top" install DESTDIR="$d" PREFIX=/usr >/dev/null 2>&1
check "make install DESTDIR PREFIX=/usr" test -x "$d/usr/sbin/cbctl"
check "man page cbctl(8)" grep -q '^\.TH CBCTL 8' "$d/usr/share/man/man8/cbctl.8"
check "bash completion" grep -q 'complete -F _cbctl cbctl' "$d/usr/share/bash-completion/completions/cbctl"
check "systemd unit loads the programs" grep -qx 'ExecStart=/usr/sbin/cbctl load' "$d/usr/lib/systemd/system/cbreaker.service"
check "systemd unit applies the config" grep -qx 'ExecStart=/usr/sbin/cbctl apply /etc/cbreaker/cbreaker.conf' "$d/usr/lib/systemd/system/cbreaker.service"
check "systemctl reload applies the config" grep -qx 'ExecReload=/usr/sbin/cbctl apply /etc/cbreaker/cbreaker.conf' "$d/usr/lib/systemd/system/cbreaker.service"
check "exporter unit: cbctl metrics serve, unprivileged, on loopback" sh -c "
	u='$d/usr/lib/systemd/system/cbreaker-exporter.service'
	grep -qx 'ExecStart=/usr/sbin/cbctl metrics serve listen \${CB_LISTEN}' \$u &&
	grep -qx 'Environment=CB_LISTEN=127.0.0.1:9559' \$u &&
	grep -qx 'DynamicUser=yes' \$u && grep -qx 'CapabilityBoundingSet=' \$u"
check "Prometheus rules and Grafana dashboard" test -f "$d/usr/share/cbreaker/prometheus/cbreaker.rules.yml" -a -f "$d/usr/share/cbreaker/grafana/cbreaker.json"
# systemd's own check, where there is systemd: no unknown key, no bad value
for u in cbreaker cbreaker-exporter; do
	sed 's|/usr/sbin/cbctl|/bin/true|; s|/sbin/modprobe|/bin/true|' \
		"$d/usr/lib/systemd/system/$u.service" >"$d/$u.service"
done
if command -v systemd-analyze >/dev/null; then
	check "systemd-analyze verify: both units, no complaint" sh -c "
		out=\$(SYSTEMD_LOG_LEVEL=warning systemd-analyze verify --man=no \
			'$d/cbreaker.service' '$d/cbreaker-exporter.service' 2>&1) && [ -z \"\$out\" ]"
else
	n=$((n + 1))
	echo "ok $n systemd-analyze verify # SKIP no systemd-analyze"
fi
check "systemd unit unloads on stop" grep -qx 'ExecStop=/usr/sbin/cbctl unload' "$d/usr/lib/systemd/system/cbreaker.service"
check "modules-load.d entry" grep -qx cbreaker "$d/usr/lib/modules-load.d/cbreaker.conf"
check "example configuration" test -f "$d/etc/cbreaker/cbreaker.conf"
echo "policy add default" >"$d/etc/cbreaker/cbreaker.conf"
make -s -C "$top" install DESTDIR="$d" PREFIX=/usr >/dev/null 2>&1
check "the operator's configuration is kept" grep -qx "policy add default" "$d/etc/cbreaker/cbreaker.conf"
make -s -C "$top" install DESTDIR="$d/local" >/dev/null 2>&1
check "PREFIX defaults to /usr/local" test -x "$d/local/usr/local/sbin/cbctl"
check "the unit follows PREFIX" grep -q 'ExecStart=/usr/local/sbin/cbctl load' "$d/local/usr/local/lib/systemd/system/cbreaker.service"
make -s -C "$top" dkms-source DESTDIR="$d" >/dev/null 2>&1
v=$(make -s --no-print-directory -C "$top" print-version)
check "dkms sources" test -f "$d/usr/src/cbreaker-$v/dkms.conf" -a -f "$d/usr/src/cbreaker-$v/kmod/cb_engine.c"
check "dkms sources hold no build output" sh -c "! find '$d/usr/src' -name '*.o' | grep -q ."
