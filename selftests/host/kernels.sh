#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The kernel choice and build hygiene, on this host (TAP): bad input says
# what to do, the machine decides the BPF target, cbctl builds without
# linux-source, and a module never reaches a guest of another kernel.
. "$(dirname "$0")/tap.inc"
m() { make -s --no-print-directory -C "$top" "$@"; }

echo "TAP version 13"
echo "1..7"
check "an unknown CB_KERNEL names the choices" \
	sh -c "! make -s -C '$top' CB_KERNEL=5.4 print-kver 2>$d/e && grep -q '6.12 7.3 6.12-rt' $d/e"
check "missing headers name the package" \
	sh -c "! make -s -C '$top' KVER=0.0-none module 2>$d/e && grep -q 'install linux-headers-0.0-none' $d/e"
arch=$(uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')
check "the BPF target architecture is this machine's ($arch)" \
	sh -c "make -n -B -C '$top' build/cbreaker.bpf.o | grep -q -- '-D__TARGET_ARCH_$arch '"
check "cbctl builds without linux-source or the selftests" \
	m O="$d/b" KSRC_TAR= "$d/b/cbctl"
check "DKMS builds without -Werror, ours with it" \
	sh -c "! grep -q CB_WERROR '$top/dkms.conf' && grep -qx 'ccflags-\$(CB_WERROR) += -Werror' '$top/Kbuild'"
ko=$(ls "$top"/build/kmod-*/cbreaker.ko 2>/dev/null | head -n 1)
check "a module built for another kernel is refused by name" \
	sh -c "! '$top/selftests/vm/build-initramfs' 0.0-other '$d/vm/i.cpio.gz' '$ko' 2>$d/e && grep -q 'was built for .*, not 0.0-other' $d/e"
v=$(m print-version)
check "one version ($v): dkms.conf and the man page get it" \
	sh -c "make -s -C '$top' dkms-source install DESTDIR='$d/i' >/dev/null &&
	       grep -qx 'PACKAGE_VERSION=\"$v\"' '$d/i/usr/src/cbreaker-$v/dkms.conf' &&
	       grep -q 'cbreaker $v' '$d/i/usr/local/share/man/man8/cbctl.8'"
