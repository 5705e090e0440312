#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Install everything cbreaker's build and tests need on Debian 12 (bookworm).
# Idempotent: when every package is present at a usable version it exits at once.
#
# bookworm-backports is enabled by reusing the Debian mirror already configured
# in this machine's apt sources; no mirror host name is written here.
set -eu

KVER_SERIES=${KVER_SERIES:-6.12}
FLAVOUR=${1:-}	# "rt": the PREEMPT_RT kernel and headers too; "7": the newest 7.x
LIST=/etc/apt/sources.list.d/cbreaker-backports.sources

PKGS="build-essential make gcc clang llvm lld dwarves pkg-config
libelf-dev zlib1g-dev libmnl-dev libbpf-dev bpftool libmicrohttpd-dev
prometheus jq
linux-image-amd64 linux-headers-amd64 linux-source-$KVER_SERIES
qemu-system-x86 busybox-static iproute2 curl kmod cpio xz-utils"

die() { echo "deps: $*" >&2; exit 1; }



case "$FLAVOUR" in
rt) PKGS="linux-image-rt-amd64 linux-headers-rt-amd64" ;;
7) exec "$(dirname "$0")/kernel-root.sh" ;;
esac

have_all() {
	for p in $PKGS; do
		dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null |
			grep -q '^install ok installed$' || return 1
	done
	# the kernel metapackages must point at the backports series
	ls -d /usr/src/linux-headers-"$KVER_SERIES".*-${FLAVOUR:+$FLAVOUR-}amd64 >/dev/null 2>&1 || return 1
	ls /boot/vmlinuz-"$KVER_SERIES".*-${FLAVOUR:+$FLAVOUR-}amd64 >/dev/null 2>&1 || return 1
	# libbpf >= 1.0 for skeleton light/mmap and bpf_program__attach_cgroup
	pkg-config --atleast-version=1.0 libbpf 2>/dev/null || return 1
}

if have_all; then
	echo "deps: all present"
	exit 0
fi
[ "$(id -u)" = 0 ] || die "missing packages; run as root: sudo make deps"

. "$(dirname "$0")/apt-mirror.sh"

if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
	mirror=$(mirror_from_sources | head -n 1)
	[ -n "$mirror" ] || die "no bookworm mirror found in the apt sources to reuse for backports"
	echo "deps: enabling bookworm-backports from the configured mirror"
	cat >"$LIST" <<EOT
Types: deb
URIs: $mirror
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOT
fi

export DEBIAN_FRONTEND=noninteractive
had_prometheus=$(dpkg-query -W -f='${Status}' prometheus 2>/dev/null || true)
apt-get update -q
apt-get install -y -q --no-install-recommends -t bookworm-backports $PKGS
# Only its binaries are needed (promtool here, prometheus in the guest):
# the service the package starts, we did not ask for.
case "$had_prometheus" in
*"ok installed"*) ;;
*) systemctl disable --now prometheus 2>/dev/null || true ;;
esac
have_all || die "packages installed but the $KVER_SERIES kernel, headers or libbpf >= 1.0 are missing"
echo "deps: done"
