#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The newest 7.x Debian kernel (trixie-backports), for the guest and for
# building the module, without installing it on this bookworm host.
#
# Its kbuild tools need glibc >= 2.38, newer than bookworm's, so they run in a
# trixie root made by mmdebstrap from the mirror already in this machine's apt
# sources (no mirror host name is written here). The kernel image and its
# modules are extracted from the package into that root (dpkg-deb -x), never
# installed; the guest boots ROOT/lib/modules/V/vmlinuz with its modules.
#
# Idempotent; the root is cached in CB_KROOT (default /var/cache/cbreaker/
# trixie). Delete it to pick up a newer 7.x. Prints nothing else to stdout.
set -eu

root=${CB_KROOT:-/var/cache/cbreaker/trixie}
series=7

die() { echo "kernel-root: $*" >&2; exit 1; }

if [ -e "$root/.complete" ]; then
	echo "deps: kernel root $root present ($(cat "$root/.complete"))" >&2
	exit 0
fi
[ "$(id -u)" = 0 ] || die "no trixie kernel root; run as root: sudo make deps CB_KERNEL=7.3"

. "$(dirname "$0")/apt-mirror.sh"
mirror=$(mirror_from_sources | head -n 1)
[ -n "$mirror" ] || die "no bookworm mirror found in the apt sources to reuse"

export DEBIAN_FRONTEND=noninteractive
if ! command -v mmdebstrap >/dev/null; then
	apt-get update -q
	apt-get install -y -q --no-install-recommends mmdebstrap
fi

tmp=$root.tmp
rm -rf "$tmp"
mkdir -p "$(dirname "$root")"
echo "deps: making a trixie root with the newest $series.x kernel headers in $root" >&2
# gcc, make and pahole run the module build (BTF) in the root; the headers
# metapackage of trixie-backports pulls the matching compiler and kbuild.
mmdebstrap --variant=apt --components=main \
	--include=make,gcc,dwarves,kmod,xz-utils,zstd \
	--customize-hook='chroot "$1" apt-get install -y -q --no-install-recommends -t trixie-backports linux-headers-amd64' \
	--customize-hook='mkdir -p "$1/root/debs" && chroot "$1" sh -c "cd /root/debs && v=\$(ls -d /usr/src/linux-headers-*-amd64 | sed s,.*/linux-headers-,,) && apt-get download linux-binary-\$v linux-modules-\$v"' \
	trixie "$tmp" "deb $mirror trixie main" "deb $mirror trixie-backports main" >&2

kver=$(ls -1 "$tmp/usr/src" | sed -n "s/^linux-headers-\($series\..*-amd64\)$/\1/p" | sort -V | tail -n 1)
[ -n "$kver" ] || die "trixie-backports has no linux-headers-$series.*-amd64"
# 7.x splits the image: linux-binary-V (vmlinuz), linux-modules-V
for pkg in linux-binary linux-modules; do
	deb=$(ls "$tmp"/root/debs/"$pkg-$kver"_*.deb 2>/dev/null | head -n 1)
	[ -n "$deb" ] || die "$pkg-$kver was not downloaded"
	dpkg-deb -x "$deb" "$tmp"
done
rm -rf "$tmp/root/debs"
chroot "$tmp" depmod "$kver"	# what the package's postinst would have done
# 7.x ships vmlinuz in /usr/lib/modules/V/, no longer in /boot
[ -r "$tmp/lib/modules/$kver/vmlinuz" ] && [ -d "$tmp/lib/modules/$kver/kernel" ] ||
	die "linux-binary/linux-modules-$kver have no vmlinuz or modules"
echo "$kver" >"$tmp/.complete"
rm -rf "$root"
mv "$tmp" "$root"
echo "deps: kernel root $root ready ($kver)" >&2
