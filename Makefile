# SPDX-License-Identifier: GPL-2.0
#
# make          module (cbreaker.ko), BPF object + skeleton, cbctl
# make tests    the selftests and unit tests (need linux-source-6.12)
# make deps     install build and test dependencies (root, Debian 12)
# make check    all of the above, unit tests on this host, selftests in guests
# make demo     a real curl refused by an open breaker, in the guest
# make install  cbctl, man page, bash completion, systemd units, Prometheus rules,
#               Grafana dashboard (DESTDIR, PREFIX)
# make module-install   cbreaker.ko into /lib/modules (or dkms: dkms.conf)
# make stress   the stress suites in the guest (SLUB debug, KFENCE)
# make check-rt the selftests on Debian's PREEMPT_RT 6.12 flavour (CB_KERNEL=6.12-rt)
# make check-debug  selftests and short stress on a KASAN/lockdep/kmemleak 6.12
#
# CB_KERNEL picks the kernel the module is built for and the guest boots:
#   6.12      Debian's 6.12 LTS from bookworm-backports, installed here (default)
#   7.3       the newest 7.x of trixie-backports, in a trixie root (kernel-root.sh)
#   6.12-rt   Debian's PREEMPT_RT flavour of 6.12
#   6.12-debug  6.12 built from linux-source with the checkers (debug-kernel.sh)
# KVER=/KDIR= build the module for any other kernel (a real host: uname -r).
# make bench    benchmarks; figures in bench/results.json
#
# Kbuild (next to this file) describes the module; this file drives the rest.

CB_KERNEL ?= 6.12
CB_KERNELS := 6.12 7.3 6.12-rt 6.12-debug
ifeq ($(filter $(CB_KERNEL),$(CB_KERNELS)),)
$(error CB_KERNEL=$(CB_KERNEL) is not one of: $(CB_KERNELS))
endif
CB_CACHE ?= /var/cache/cbreaker
# Per kernel: where its files are (KROOT: /boot, /lib/modules, /usr/src as on
# a host; empty for this host), which release names match, what installs it.
ifeq ($(CB_KERNEL),7.3)
KROOT ?= $(CB_CACHE)/trixie
KVER_MATCH := ^7\.
KDEPS := scripts/deps.sh 7
KCHROOT = $(KROOT)
else ifeq ($(CB_KERNEL),6.12-rt)
KVER_MATCH := ^6\.12\..*-rt-
KDEPS := scripts/deps.sh rt
else ifeq ($(CB_KERNEL),6.12-debug)
KROOT ?= $(CB_CACHE)/debug-6.12
KVER_MATCH := -cbdebug$$
KDEPS := scripts/debug-kernel.sh
else
KVER_MATCH := ^6\.12\.[^-]*-amd64$$
KDEPS := true
endif

# The newest matching kernel present; lazily, since deps may install it.
# KVER= on the command line builds for that kernel instead (e.g. $(uname -r)).
KVER ?= $(shell ls -1 $(KROOT)/lib/modules 2>/dev/null | grep -E -- '$(KVER_MATCH)' | sort -V | tail -n 1)
# A chroot kernel's headers as seen from here (the build runs inside it).
KDIR ?= $(if $(KCHROOT),$(KCHROOT)/usr/src/linux-headers-$(KVER),$(KROOT)/lib/modules/$(KVER)/build)
# 7.x keeps the image beside its modules, older kernels in /boot.
KIMAGE = $(firstword $(wildcard $(KROOT)/lib/modules/$(KVER)/vmlinuz) $(KROOT)/boot/vmlinuz-$(KVER))
# Stops with what to install when the kernel or its headers are missing.
KCHECK = @test -n "$(KVER)" || { echo "no $(CB_KERNEL) kernel found: run make deps CB_KERNEL=$(CB_KERNEL)" >&2; exit 1; }; \
	test -e "$(KDIR)/Makefile" || { echo "no headers for kernel $(KVER) in $(KDIR): install linux-headers-$(KVER)$(if $(KROOT), (make deps CB_KERNEL=$(CB_KERNEL)))" >&2; exit 1; }
KSRC_TAR ?= $(firstword $(wildcard /usr/src/linux-source-6.12.tar.xz))

O := build
CLANG ?= clang
BPFTOOL ?= bpftool
CC ?= cc

CFLAGS ?= -O2 -g
CFLAGS += -Wall -Wextra -Werror -std=gnu11 -Iinclude/uapi -Ikmod -I$(O)
LDLIBS_CBCTL := -lbpf -lmnl -lelf -lz
# The harness is not -Wextra clean; it is kept as Debian ships it.
TEST_CFLAGS = $(CFLAGS) -isystem $(O)/kselftest -Wno-clobbered
BPF_CFLAGS = -g -O2 -target bpf -mcpu=v3 -D__TARGET_ARCH_$(BPF_ARCH) -Wall -Werror \
	      -Iinclude/uapi -I$(O)

UAPI := include/uapi/linux/cbreaker.h include/uapi/linux/cbreaker_keys.h
KMOD_SRC := Kbuild $(wildcard kmod/*.c kmod/*.h) $(UAPI)
CBCTL_SRC := $(wildcard userspace/*.c)
CBCTL_HDR := $(wildcard userspace/*.h)
ENGINE := kmod/cb_engine.c kmod/cb_engine.h
SELFTESTS := $(patsubst selftests/%.c,$(O)/selftests/%,$(wildcard selftests/*.c))
UNITTESTS := $(patsubst selftests/unit/%.c,$(O)/unit/%,$(wildcard selftests/unit/*.c))
KSFT_HDRS := $(O)/kselftest/kselftest.h $(O)/kselftest/kselftest_harness.h

.PHONY: all deps module cbctl tests check checkpatch unit vm-image print-kver print-vm-image \
	print-kimage print-version demo clean check-rt check-debug deps-rt \
	install module-install dkms-source bench stress
.DELETE_ON_ERROR:

# cbctl and the module; the tests (which need linux-source-6.12 for the
# kselftest harness) are built by make tests, check and the guest.
all: module cbctl

cbctl: $(O)/cbctl $(O)/cbctl.bash-completion

tests: $(SELFTESTS) $(UNITTESTS)

# The host's packages, then the kernel CB_KERNEL picks (when not the default).
deps:
	@scripts/deps.sh
	@$(KDEPS)

# --- kernel module --------------------------------------------------------

# Built in a directory of its own per kernel (6.12 has no kbuild MO=): the
# kernels side by side, and no objects in kmod/. A kernel in a chroot root
# (7.x: its kbuild needs trixie's glibc) is built there, with the directory
# bind-mounted at /mnt, /proc and /dev, in a private mount namespace (root).
# -Werror is ours (CB_WERROR), not imposed on DKMS builds with a user's
# compiler.
KMOD_DIR = $(O)/kmod-$(KVER)
MODULE = $(KMOD_DIR)/cbreaker.ko
KBUILD = $(if $(KCHROOT),unshare -m sh -c 'mount --bind "$(abspath $(KMOD_DIR))" "$(KCHROOT)/mnt" && \
	mount -t proc proc "$(KCHROOT)/proc" && mount --bind /dev "$(KCHROOT)/dev" && \
	exec chroot "$(KCHROOT)" make -C /usr/src/linux-headers-$(KVER) M=/mnt "$$@"' kbuild,\
	$(MAKE) -C $(KDIR) M=$(abspath $(KMOD_DIR))) CB_WERROR=y

module: $(MODULE)

$(MODULE): $(KMOD_SRC)
	$(KCHECK)
	@mkdir -p $(KMOD_DIR)/kmod $(KMOD_DIR)/include/uapi/linux
	cp -p Kbuild $(KMOD_DIR)/
	cp -p $(wildcard kmod/*.c kmod/*.h) $(KMOD_DIR)/kmod/
	cp -p $(UAPI) $(KMOD_DIR)/include/uapi/linux/
	$(KBUILD) modules
	@# Without BTF the module loads but kfunc registration fails: stop here.
	@readelf -S $@ | grep -q '\.BTF ' || \
		{ echo "cbreaker.ko has no BTF section (need pahole and $(KDIR)/vmlinux)" >&2; \
		  rm -f $@; exit 1; }

# --- BPF ------------------------------------------------------------------

# One CO-RE object for every kernel: its types come from the oldest kernel we
# test (6.12's headers, when installed) or else from this machine's own BTF,
# never from the kernel CB_KERNEL picks. The target architecture is this
# machine's.
VMLINUX_BTF ?= $(or $(lastword $(wildcard /lib/modules/6.12.*-amd64/build/vmlinux)),/sys/kernel/btf/vmlinux)
BPF_ARCH := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/' -e 's/ppc64le/powerpc/' \
	      -e 's/s390x/s390/' -e 's/riscv64/riscv/' -e 's/loongarch64/loongarch/')

$(O)/vmlinux.h: | $(O)
	@test -r "$(VMLINUX_BTF)" || { echo "no kernel BTF ($(VMLINUX_BTF)): run make deps" >&2; exit 1; }
	$(BPFTOOL) btf dump file $(VMLINUX_BTF) format c > $@

$(O)/cbreaker.bpf.o: bpf/cbreaker.bpf.c $(UAPI) $(O)/vmlinux.h
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(O)/cbreaker.skel.h: $(O)/cbreaker.bpf.o
	$(BPFTOOL) gen skeleton $< name cb_bpf > $@

# --- cbctl ----------------------------------------------------------------

# cbctl validates policies with the engine's own code before sending them.
$(O)/cbctl: $(CBCTL_SRC) $(CBCTL_HDR) $(ENGINE) $(UAPI) $(O)/cbreaker.skel.h
	$(CC) $(CFLAGS) -o $@ $(CBCTL_SRC) kmod/cb_engine.c $(LDLIBS_CBCTL)

# The completion's policy keys, from the rows of cbreaker_keys.h: all of
# them, and those whose value is free text (not mode's or on-open's two
# words, nor fail-on's classes).
$(O)/cbctl.bash-completion: dist/cbctl.bash-completion $(UAPI) | $(O)
	awk -F'"' '/^CB_PKEY\(/ { name = $$2 } \
		/CB_UNIT_/ && name != "" && !seen[name]++ { all = all sep name; \
		if ($$0 !~ /CB_UNIT_(MODE|CLASSES|CALLS|ON_OPEN)/) val = val vsep name; sep = " "; vsep = " | " } \
		END { print all; print val }' include/uapi/linux/cbreaker_keys.h >$@.keys
	sed -e "s/@CB_POLICY_KEYS@/$$(sed -n 1p $@.keys)/" \
	    -e "s/@CB_POLICY_VALUE_KEYS@/$$(sed -n 2p $@.keys)/" $< >$@
	rm -f $@.keys

# --- tests ----------------------------------------------------------------

# The kselftest harness comes from Debian's linux-source-6.12 tarball.
$(KSFT_HDRS) &: | $(O)
	@test -n "$(KSRC_TAR)" || { echo "no linux-source-6.12: run make deps" >&2; exit 1; }
	mkdir -p $(O)/kselftest
	tar -xJf $(KSRC_TAR) -C $(O)/kselftest --strip-components=4 \
		--wildcards '*/tools/testing/selftests/kselftest.h' \
		'*/tools/testing/selftests/kselftest_harness.h'
	touch $(KSFT_HDRS)

$(O)/selftests/%: selftests/%.c selftests/cb_test.h $(UAPI) $(KSFT_HDRS)
	@mkdir -p $(@D)
	$(CC) $(TEST_CFLAGS) -o $@ $< -lpthread

# Programs the module must refuse to serve, for cb_trust.
$(O)/cb_rogue.bpf.o: selftests/bpf/cb_rogue.bpf.c $(UAPI) $(O)/vmlinux.h
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(O)/cb_rogue.skel.h: $(O)/cb_rogue.bpf.o
	$(BPFTOOL) gen skeleton $< name cb_rogue > $@

$(O)/selftests/cb_trust: selftests/cb_trust.c selftests/cb_test.h $(UAPI) \
			 $(KSFT_HDRS) $(O)/cb_rogue.skel.h
	@mkdir -p $(@D)
	$(CC) $(TEST_CFLAGS) -o $@ $< -lbpf -lelf -lz

$(O)/unit/%: selftests/unit/%.c $(wildcard selftests/unit/*.h) $(ENGINE) $(UAPI) $(KSFT_HDRS)
	@mkdir -p $(@D)
	$(CC) $(TEST_CFLAGS) -o $@ $< kmod/cb_engine.c

# cbctl's check of the module's kfuncs, against the object as built
$(O)/unit/cb_kfuncs_test: selftests/unit/cb_kfuncs_test.c userspace/kfuncs.c $(CBCTL_HDR) \
			  $(ENGINE) $(UAPI) $(KSFT_HDRS) $(O)/cbreaker.bpf.o
	@mkdir -p $(@D)
	$(CC) $(TEST_CFLAGS) -Iuserspace -o $@ $< userspace/kfuncs.c -lbpf -lelf -lz

unit: $(UNITTESTS) $(O)/cbctl.bash-completion
	@for t in $(UNITTESTS); do ./$$t; done

# --- benchmarks -------------------------------------------------------------

$(O)/bench/engine_bench: bench/engine_bench.c selftests/cb_test.h $(ENGINE) $(UAPI)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $< kmod/cb_engine.c

# The BPF side alone, natively on the host (bench/host.bpf.c).
$(O)/host.bpf.o: bench/host.bpf.c bpf/cbreaker.bpf.c $(UAPI) $(O)/vmlinux.h
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(O)/host.skel.h: $(O)/host.bpf.o
	$(BPFTOOL) gen skeleton $< name host_bpf > $@

$(O)/bench/host_bench: bench/host_bench.c bench/cb_bench.h selftests/cb_test.h $(O)/host.skel.h $(UAPI)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $< -lbpf

$(O)/bench/connect_bench: bench/connect_bench.c bench/cb_bench.h selftests/cb_test.h bench/cb_memlock.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $< -lbpf

$(O)/stress/%: stress/%.c stress/cb_rand.h bench/cb_memlock.h selftests/cb_test.h $(UAPI)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $< -lbpf -lmnl -lpthread

STRESS := $(patsubst stress/%.c,$(O)/stress/%,$(wildcard stress/*.c))

# The stress suites in the guest, with SLUB debugging and KFENCE on every
# allocation it samples; one closing "N passed, N failed".
STRESS_CMDLINE := slub_debug=FZPU kfence.sample_interval=1
stress: deps
	@$(MAKE) --no-print-directory all tests vm-image
	@CB_VM_MEM=4G CB_VM_TIMEOUT=7200 CB_VM_CMDLINE="$(STRESS_CMDLINE)" \
		selftests/vm/run --exec 'FUZZ=$(FUZZ) /stress/run' 2>&1 | \
		tee $(O)/stress.log; \
	selftests/tap-summary $(O)/stress.log

FUZZ ?= 1000000

# The selftests on the PREEMPT_RT flavour of Debian's 6.12: it exposes
# locking that is only right without preemption.
deps-rt:
	@$(MAKE) --no-print-directory CB_KERNEL=6.12-rt deps

check-rt:
	@$(MAKE) --no-print-directory CB_KERNEL=6.12-rt check

# The selftests, a short stress and a kmemleak scan on a 6.12 built from
# linux-source with the kernel's own checkers (scripts/debug-kernel.sh, built
# once and cached: long, see README); a report of any of them fails it.
# no5lvl: with QEMU's -cpu max (LA57) KASAN reports a wild access in the
# boot CPU's first interrupt, before any of our code runs; every KASAN report
# is printed, not only the first.
DEBUG_CMDLINE := no5lvl kasan_multi_shot
check-debug:
	@$(MAKE) --no-print-directory CB_KERNEL=6.12-debug deps
	@$(MAKE) --no-print-directory CB_KERNEL=6.12-debug all tests vm-image
	@CB_KERNEL=6.12-debug CB_VM_MEM=4G CB_VM_TIMEOUT=10800 CB_VM_CMDLINE="$(DEBUG_CMDLINE)" \
		selftests/vm/run --exec 'sh /src/selftests/vm/debug-run' 2>&1 | \
		tee $(O)/check-debug.log; \
	selftests/tap-summary $(O)/check-debug.log

# The engine and the BPF side alone natively here, the rest in the guest
# (4G: a million breakers); all figures go to bench/results.json.
bench: deps
	@$(MAKE) --no-print-directory all $(O)/bench/engine_bench $(O)/bench/host_bench
	$(O)/bench/engine_bench >$(O)/bench/engine.json
	$(O)/bench/host_bench >$(O)/bench/host.json || \
		{ echo "bench: the host part failed: no results written" >&2; \
		  exit 1; }
	CB_VM_MEM=4G CB_VM_TIMEOUT=3600 selftests/vm/run --exec \
		'/bench/connect_bench >/src/$(O)/bench/guest.json'
	CB_VM_ICOUNT=1 selftests/vm/run --exec 'CB_BENCH_QUICK=1 \
		CB_BENCH_PREFIX=icount_ /bench/connect_bench >/src/$(O)/bench/icount.json'
	{ echo '{'; cat $(O)/bench/engine.json $(O)/bench/host.json; \
	  printf '"host_cpu": "%s",\n' "$$(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -n 1)"; \
	  printf '"host_kernel": "%s",\n' "$$(uname -r)"; \
	  cat $(O)/bench/icount.json $(O)/bench/guest.json; echo '}'; } >bench/results.json
	bench/table --write
	@echo "bench: wrote bench/results.json and the tables made of it"

VM_IMAGE = $(O)/vm-$(KVER)/initramfs.cpio.gz

vm-image: $(VM_IMAGE)

$(VM_IMAGE): $(MODULE) $(O)/cbctl $(SELFTESTS) $(O)/bench/connect_bench $(STRESS) \
	     stress/run selftests/run_guest \
	     selftests/vm/init selftests/vm/klog selftests/vm/build-initramfs
	@mkdir -p $(@D)
	$(KCHECK)
	@test -r "$(KIMAGE)" || { echo "no kernel image $(KIMAGE): run make deps CB_KERNEL=$(CB_KERNEL)" >&2; exit 1; }
	selftests/vm/build-initramfs $(KVER) $@ $(MODULE) $(KROOT)

print-kver:
	@echo $(KVER)

print-kimage:
	@echo $(KIMAGE)

print-version:
	@echo $(VERSION)

print-vm-image:
	@echo $(VM_IMAGE)

# Unit tests here, selftests in CB_VM_JOBS guests side by side (default 3:
# selftests/vm/run), one closing "N passed, N failed".
check: deps
	@$(MAKE) --no-print-directory all tests
	@\
	{ $(MAKE) --no-print-directory -s unit; \
	  for t in selftests/host/*.sh; do sh $$t; done; \
	  selftests/vm/run; } 2>&1 | \
		tee $(O)/check-$(CB_KERNEL).log; \
	selftests/tap-summary $(O)/check-$(CB_KERNEL).log

# Kernel style for what is kernel or BPF code; the script comes from
# Debian's linux-source-6.12, like the kselftest harness.
CHECKPATCH := $(O)/checkpatch/scripts/checkpatch.pl
$(CHECKPATCH): | $(O)
	mkdir -p $(O)/checkpatch
	tar -xJf $(KSRC_TAR) -C $(O)/checkpatch --strip-components=1 \
		--wildcards '*/scripts/checkpatch.pl' '*/scripts/spelling.txt' \
		'*/scripts/const_structs.checkpatch'

checkpatch: $(CHECKPATCH)
	perl $(CHECKPATCH) --no-tree --strict --terse --show-types -f \
		$(wildcard kmod/*.c kmod/*.h bpf/*.c) $(UAPI)

demo: deps
	@$(MAKE) --no-print-directory all tests
	selftests/vm/run --exec 'sh /src/scripts/demo.sh'

# --- install --------------------------------------------------------------

# The version lives in the UAPI header (CB_VERSION); dkms.conf and the man
# page get it from here.
VERSION := $(shell sed -n 's/^\#define CB_VERSION[[:space:]]*"\(.*\)"/\1/p' $(UAPI))
PREFIX ?= /usr/local
SBINDIR ?= $(PREFIX)/sbin
MANDIR ?= $(PREFIX)/share/man
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
SYSTEMDDIR ?= $(PREFIX)/lib/systemd/system
MODLOADDIR ?= $(PREFIX)/lib/modules-load.d
SYSCONFDIR ?= /etc
DATADIR ?= $(PREFIX)/share

install: $(O)/cbctl $(O)/cbctl.bash-completion
	install -D -m 0755 $(O)/cbctl $(DESTDIR)$(SBINDIR)/cbctl
	install -d $(DESTDIR)$(MANDIR)/man8
	sed 's/@VERSION@/$(VERSION)/' docs/cbctl.8 >$(DESTDIR)$(MANDIR)/man8/cbctl.8
	install -D -m 0644 $(O)/cbctl.bash-completion $(DESTDIR)$(BASHCOMPDIR)/cbctl
	install -d $(DESTDIR)$(SYSTEMDDIR)
	sed -e 's|@SBINDIR@|$(SBINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' \
		dist/cbreaker.service >$(DESTDIR)$(SYSTEMDDIR)/cbreaker.service
	sed -e 's|@SBINDIR@|$(SBINDIR)|g' dist/cbreaker-exporter.service \
		>$(DESTDIR)$(SYSTEMDDIR)/cbreaker-exporter.service
	install -D -m 0644 dist/modules-load.conf $(DESTDIR)$(MODLOADDIR)/cbreaker.conf
	@# for Prometheus and Grafana, to copy where they read them
	install -D -m 0644 -t $(DESTDIR)$(DATADIR)/cbreaker/prometheus \
		dist/prometheus/cbreaker.rules.yml dist/prometheus/cbreaker.rules.test.yml
	install -D -m 0644 -t $(DESTDIR)$(DATADIR)/cbreaker/grafana dist/grafana/cbreaker.json
	@# the operator's configuration is never overwritten
	test -e $(DESTDIR)$(SYSCONFDIR)/cbreaker/cbreaker.conf || \
		install -D -m 0644 dist/cbreaker.conf $(DESTDIR)$(SYSCONFDIR)/cbreaker/cbreaker.conf

# For the running kernel unless KVER= (or CB_KERNEL=) says which.
INSTALL_KVER = $(if $(filter command line environment,$(origin KVER) $(origin CB_KERNEL)),$(KVER),$(shell uname -r))

module-install:
	@$(MAKE) --no-print-directory KVER=$(INSTALL_KVER) module-install-kver

.PHONY: module-install-kver
module-install-kver: $(MODULE)
	$(MAKE) -C $(KDIR) M=$(abspath $(KMOD_DIR)) INSTALL_MOD_PATH=$(DESTDIR) \
		INSTALL_MOD_DIR=extra modules_install

# The module's sources where dkms wants them: dkms add cbreaker/$(VERSION)
DKMS_SRC = $(DESTDIR)/usr/src/cbreaker-$(VERSION)
dkms-source:
	install -D -m 0644 -t $(DKMS_SRC) Kbuild
	sed 's/@VERSION@/$(VERSION)/' dkms.conf >$(DKMS_SRC)/dkms.conf
	install -D -m 0644 -t $(DKMS_SRC)/kmod $(wildcard kmod/*.c kmod/*.h)
	install -D -m 0644 -t $(DKMS_SRC)/include/uapi/linux $(UAPI)

$(O):
	mkdir -p $@

clean:
	rm -rf $(O)
