# SPDX-License-Identifier: GPL-2.0
#
# make          module (cbreaker.ko), BPF object + skeleton, cbctl, selftests
# make deps     install build and test dependencies (root, Debian 12)
# make check    all of the above, unit tests on this host, selftests in the 6.12 guest
# make demo     a real curl refused by an open breaker, in the guest
# make install  cbctl, man page, bash completion, systemd unit (DESTDIR, PREFIX)
# make module-install   cbreaker.ko into /lib/modules (or dkms: dkms.conf)
# make stress   the stress suites in the guest (SLUB debug, KFENCE)
# make check-rt the selftests on Debian's PREEMPT_RT 6.12 flavour
# make bench    benchmarks; figures in bench/results.json
#
# Kbuild (next to this file) describes the module; this file drives the rest.

# The newest 6.12 kernel installed (by make deps); lazily, deps may install it.
KVER ?= $(shell ls -1 /lib/modules 2>/dev/null | grep '^6\.12\.' | grep -v -- '-rt-' | sort -V | tail -n 1)
KDIR ?= /lib/modules/$(KVER)/build
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
BPF_CFLAGS := -g -O2 -target bpf -mcpu=v3 -D__TARGET_ARCH_x86 -Wall -Werror \
	      -Iinclude/uapi -I$(O)

UAPI := include/uapi/linux/cbreaker.h
KMOD_SRC := Kbuild $(wildcard kmod/*.c kmod/*.h) $(UAPI)
CBCTL_SRC := $(wildcard userspace/*.c)
CBCTL_HDR := $(wildcard userspace/*.h)
ENGINE := kmod/cb_engine.c kmod/cb_engine.h
SELFTESTS := $(patsubst selftests/%.c,$(O)/selftests/%,$(wildcard selftests/*.c))
UNITTESTS := $(patsubst selftests/unit/%.c,$(O)/unit/%,$(wildcard selftests/unit/*.c))
KSFT_HDRS := $(O)/kselftest/kselftest.h $(O)/kselftest/kselftest_harness.h

.PHONY: all deps module check checkpatch unit vm-image print-kver print-vm-image \
	demo clean check-rt deps-rt \
	install module-install dkms-source bench stress
.DELETE_ON_ERROR:

all: module $(O)/cbctl $(SELFTESTS) $(UNITTESTS)

deps:
	@scripts/deps.sh

# --- kernel module --------------------------------------------------------

# Built in a directory of its own per kernel (6.12 has no kbuild MO=): the
# generic and the PREEMPT_RT flavour side by side, and no objects in kmod/.
KMOD_DIR = $(O)/kmod-$(KVER)
MODULE = $(KMOD_DIR)/cbreaker.ko

module: $(MODULE)

$(MODULE): $(KMOD_SRC)
	@test -n "$(KVER)" || { echo "no 6.12 kernel headers: run make deps" >&2; exit 1; }
	@mkdir -p $(KMOD_DIR)/kmod $(KMOD_DIR)/include/uapi/linux
	cp -p Kbuild $(KMOD_DIR)/
	cp -p $(wildcard kmod/*.c kmod/*.h) $(KMOD_DIR)/kmod/
	cp -p $(UAPI) $(KMOD_DIR)/include/uapi/linux/
	$(MAKE) -C $(KDIR) M=$(abspath $(KMOD_DIR)) modules
	@# Without BTF the module loads but kfunc registration fails: stop here.
	@readelf -S $@ | grep -q '\.BTF ' || \
		{ echo "cbreaker.ko has no BTF section (need pahole and $(KDIR)/vmlinux)" >&2; \
		  rm -f $@; exit 1; }

# --- BPF ------------------------------------------------------------------

$(O)/vmlinux.h: | $(O)
	@test -n "$(KVER)" || { echo "no 6.12 kernel headers: run make deps" >&2; exit 1; }
	$(BPFTOOL) btf dump file $(KDIR)/vmlinux format c > $@

$(O)/cbreaker.bpf.o: bpf/cbreaker.bpf.c $(UAPI) $(O)/vmlinux.h
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(O)/cbreaker.skel.h: $(O)/cbreaker.bpf.o
	$(BPFTOOL) gen skeleton $< name cb_bpf > $@

# --- cbctl ----------------------------------------------------------------

# cbctl validates policies with the engine's own code before sending them.
$(O)/cbctl: $(CBCTL_SRC) $(CBCTL_HDR) $(ENGINE) $(UAPI) $(O)/cbreaker.skel.h
	$(CC) $(CFLAGS) -o $@ $(CBCTL_SRC) kmod/cb_engine.c $(LDLIBS_CBCTL)

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

unit: $(UNITTESTS)
	@for t in $(UNITTESTS); do ./$$t; done

# --- benchmarks -------------------------------------------------------------

$(O)/bench/engine_bench: bench/engine_bench.c $(ENGINE) $(UAPI)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $< kmod/cb_engine.c

# The BPF side alone, natively on the host (bench/host.bpf.c).
$(O)/host.bpf.o: bench/host.bpf.c bpf/cbreaker.bpf.c $(UAPI) $(O)/vmlinux.h
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(O)/host.skel.h: $(O)/host.bpf.o
	$(BPFTOOL) gen skeleton $< name host_bpf > $@

$(O)/bench/host_bench: bench/host_bench.c bench/cb_bench.h $(O)/host.skel.h $(UAPI)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $< -lbpf

$(O)/bench/connect_bench: bench/connect_bench.c bench/cb_bench.h bench/cb_memlock.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $< -lbpf

$(O)/stress/%: stress/%.c bench/cb_memlock.h $(UAPI)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $< -lbpf -lmnl -lpthread

STRESS := $(patsubst stress/%.c,$(O)/stress/%,$(wildcard stress/*.c))

# The stress suites in the guest, with SLUB debugging and KFENCE on every
# allocation it samples; one closing "N passed, N failed".
STRESS_CMDLINE := slub_debug=FZPU kfence.sample_interval=1
stress: deps
	@$(MAKE) --no-print-directory all vm-image
	@CB_VM_MEM=4G CB_VM_TIMEOUT=7200 CB_VM_CMDLINE="$(STRESS_CMDLINE)" \
		selftests/vm/run --exec 'FUZZ=$(FUZZ) /stress/run' 2>&1 | \
		tee $(O)/stress.log; \
	selftests/tap-summary $(O)/stress.log

FUZZ ?= 1000000

# The selftests on the PREEMPT_RT flavour of Debian's 6.12: it exposes
# locking that is only right without preemption.
deps-rt: deps
	@scripts/deps.sh rt

check-rt: deps-rt
	@$(MAKE) --no-print-directory KVER=$(RT_KVER) all vm-image
	@CB_VM_KVER=$(RT_KVER) selftests/vm/run 2>&1 | tee $(O)/check-rt.log; \
	selftests/tap-summary $(O)/check-rt.log

RT_KVER = $(shell ls -1 /lib/modules 2>/dev/null | grep '^6\.12\..*-rt-' | sort -V | tail -n 1)

# The engine and the BPF side alone natively here, the rest in the guest
# (4G: a million breakers); all figures go to bench/results.json.
bench: deps
	@$(MAKE) --no-print-directory all $(O)/bench/engine_bench $(O)/bench/host_bench
	$(O)/bench/engine_bench >$(O)/bench/engine.json
	$(O)/bench/host_bench >$(O)/bench/host.json || \
		{ echo "bench: the host part failed; results without it" >&2; \
		  : >$(O)/bench/host.json; }
	CB_VM_MEM=4G selftests/vm/run --exec \
		'/bench/connect_bench >/src/$(O)/bench/guest.json'
	{ echo '{'; cat $(O)/bench/engine.json $(O)/bench/host.json; \
	  printf '"host_cpu": "%s",\n' "$$(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -n 1)"; \
	  printf '"host_kernel": "%s",\n' "$$(uname -r)"; \
	  cat $(O)/bench/guest.json; echo '}'; } >bench/results.json
	@echo "bench: wrote bench/results.json"

VM_IMAGE = $(O)/vm-$(KVER)/initramfs.cpio.gz

vm-image: $(VM_IMAGE)

$(VM_IMAGE): $(MODULE) $(O)/cbctl $(SELFTESTS) $(O)/bench/connect_bench $(STRESS) \
	     stress/run selftests/run_guest \
	     selftests/vm/init selftests/vm/build-initramfs
	@mkdir -p $(@D)
	selftests/vm/build-initramfs $(KVER) $@ $(MODULE)

print-kver:
	@echo $(KVER)

print-vm-image:
	@echo $(VM_IMAGE)

# Unit tests here, selftests in the guest, one closing "N passed, N failed".
check: deps
	@$(MAKE) --no-print-directory all
	@\
	{ $(MAKE) --no-print-directory -s unit; \
	  for t in selftests/host/*.sh; do sh $$t; done; \
	  selftests/vm/run; } 2>&1 | \
		tee $(O)/check.log; \
	selftests/tap-summary $(O)/check.log

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
	@$(MAKE) --no-print-directory all
	selftests/vm/run --exec 'sh /src/scripts/demo.sh'

# --- install --------------------------------------------------------------

VERSION := $(shell sed -n 's/^\#define CB_VERSION[[:space:]]*"\(.*\)"/\1/p' $(UAPI))
PREFIX ?= /usr/local
SBINDIR ?= $(PREFIX)/sbin
MANDIR ?= $(PREFIX)/share/man
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
SYSTEMDDIR ?= $(PREFIX)/lib/systemd/system
MODLOADDIR ?= $(PREFIX)/lib/modules-load.d
SYSCONFDIR ?= /etc

install: $(O)/cbctl
	install -D -m 0755 $(O)/cbctl $(DESTDIR)$(SBINDIR)/cbctl
	install -D -m 0644 docs/cbctl.8 $(DESTDIR)$(MANDIR)/man8/cbctl.8
	install -D -m 0644 dist/cbctl.bash-completion $(DESTDIR)$(BASHCOMPDIR)/cbctl
	install -d $(DESTDIR)$(SYSTEMDDIR)
	sed -e 's|@SBINDIR@|$(SBINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' \
		dist/cbreaker.service >$(DESTDIR)$(SYSTEMDDIR)/cbreaker.service
	install -D -m 0644 dist/modules-load.conf $(DESTDIR)$(MODLOADDIR)/cbreaker.conf
	@# the operator's configuration is never overwritten
	test -e $(DESTDIR)$(SYSCONFDIR)/cbreaker/cbreaker.conf || \
		install -D -m 0644 dist/cbreaker.conf $(DESTDIR)$(SYSCONFDIR)/cbreaker/cbreaker.conf

module-install: $(MODULE)
	$(MAKE) -C $(KDIR) M=$(abspath $(KMOD_DIR)) INSTALL_MOD_PATH=$(DESTDIR) \
		INSTALL_MOD_DIR=extra modules_install

# The module's sources where dkms wants them: dkms add cbreaker/$(VERSION)
DKMS_SRC = $(DESTDIR)/usr/src/cbreaker-$(VERSION)
dkms-source:
	install -D -m 0644 -t $(DKMS_SRC) Kbuild dkms.conf
	install -D -m 0644 -t $(DKMS_SRC)/kmod $(wildcard kmod/*.c kmod/*.h)
	install -D -m 0644 -t $(DKMS_SRC)/include/uapi/linux $(UAPI)

$(O):
	mkdir -p $@

clean:
	rm -rf $(O)
