#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Build (once, cached) the debug guest kernel for make check-debug: Debian's
# linux-source-6.12 with defconfig, kvm_guest.config and debug-kernel.config
# (KASAN, lockdep, RCU and sleep-in-atomic checks, debugobjects, kmemleak,
# KFENCE). The result is a kernel root like the 7.x one (kernel-root.sh):
#   ROOT/boot/vmlinuz-V, ROOT/lib/modules/V (with build -> the kernel tree)
# ROOT defaults to /var/cache/cbreaker/debug-6.12; the config fragment's hash
# is part of the cache key. Prints nothing to stdout.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
frag=$here/debug-kernel.config
tar=${KSRC_TAR:-/usr/src/linux-source-6.12.tar.xz}
root=${CB_DEBUG_KROOT:-/var/cache/cbreaker/debug-6.12}
jobs=${CB_JOBS:-2}

die() { echo "debug-kernel: $*" >&2; exit 1; }

# what a kernel build needs beyond make deps
need=
for p in flex bison bc libssl-dev libelf-dev dwarves; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q 'ok installed' || need="$need $p"
done
if [ -n "$need" ]; then
	[ "$(id -u)" = 0 ] || die "missing packages:$need; run as root"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $need >&2
fi
[ -r "$tar" ] || die "no $tar: make deps (linux-source-6.12)"
key="$(stat -c %s-%Y "$tar") $(sha256sum "$frag" | cut -c1-16)"
if [ -e "$root/.complete" ] && [ "$(sed -n 2p "$root/.complete")" = "$key" ]; then
	echo "debug-kernel: $root present ($(head -n 1 "$root/.complete"))" >&2
	exit 0
fi

src=$root/src
mkdir -p "$root"
rm -f "$root/.complete"
if [ ! -e "$src/.extracted" ]; then
	rm -rf "$src"
	mkdir -p "$src"
	echo "debug-kernel: extracting $tar" >&2
	tar -xJf "$tar" -C "$src" --strip-components=1
	touch "$src/.extracted"
fi
start=$(date +%s)
cd "$src"
make -s x86_64_defconfig >&2
scripts/kconfig/merge_config.sh -m .config kernel/configs/kvm_guest.config "$frag" >&2
make -s olddefconfig >&2
# every checker asked for must have survived olddefconfig
for opt in KASAN PROVE_LOCKING PROVE_RCU DEBUG_ATOMIC_SLEEP DEBUG_OBJECTS \
	   DEBUG_KMEMLEAK KFENCE DEBUG_INFO_BTF DEBUG_INFO_BTF_MODULES; do
	grep -q "^CONFIG_$opt=y" .config || die "CONFIG_$opt did not stay in .config"
done
echo "debug-kernel: building with -j$jobs (long: see README)" >&2
nice -n 15 make -j"$jobs" bzImage modules >&2
kver=$(make -s kernelrelease)
rm -rf "$root/boot" "$root/lib"
mkdir -p "$root/boot"
cp arch/x86/boot/bzImage "$root/boot/vmlinuz-$kver"
make -s INSTALL_MOD_PATH="$root" modules_install >&2
ln -sfn "$src" "$root/lib/modules/$kver/build"
printf '%s\n%s\n%s s\n' "$kver" "$key" "$(($(date +%s) - start))" >"$root/.complete"
echo "debug-kernel: $root ready ($kver, built in $(($(date +%s) - start)) s)" >&2
