# SPDX-License-Identifier: GPL-2.0-or-later
# leakwatch — build, test, install and benchmark.
#
#   make              build leakwatchd and leakwatch into build/
#   make test         build and run every test (unit tests with cmocka, then integration)
#   make check-asan   the same tests built with AddressSanitizer and UBSan
#   make check-valgrind  the unit tests under valgrind (leaks and descriptors)
#   make check-adversarial  attacks and faults against the real daemon (tests/adversarial)
#   make bench        benchmarks; prints figures
#   make bench-metrics  the cost of a metrics scrape with 1,000 watched processes
#   make bench-peers  leakwatchd side by side with process-exporter, pidstat, collectd, atop
#                     and psutil (installs them: tools/install-deps --bench; about 15 minutes)
#   make bench-detect the scenario suite under the daemon: the detector against deriv()
#                     and linear regression on real workloads (DETECT_WINDOW, DETECT_INTERVAL)
#   make install      honours PREFIX and DESTDIR; make uninstall undoes it
#   make run          the daemon from build/, in the foreground, as root (through sudo
#                     when not root), with the database and sockets the client reads
#   make deb          the Debian package (debian/) in $(BUILD)/deb, checked by lintian;
#                     make install-deb installs it with apt
#   make check-systemd  the package under a real systemd: a Debian 12 container booted
#                     with systemd-nspawn (tests/system; a few minutes)
#
# Variables: BUILD (output directory), SAN=1 (sanitizers), WERROR= (to drop -Werror).

VERSION     := 0.1.0
PREFIX      ?= /usr/local
BINDIR      ?= $(PREFIX)/bin
SBINDIR     ?= $(PREFIX)/sbin
MANDIR      ?= $(PREFIX)/share/man
DATADIR     ?= $(PREFIX)/share
LIBDIR      ?= $(PREFIX)/lib
SYSCONFDIR  ?= /etc
DESTDIR     ?=
# systemd's own directories, whatever PREFIX is: systemd looks for units there.
UNITDIR     ?= $(shell $(PKG_CONFIG) --variable=systemdsystemunitdir systemd)
SYSUSERSDIR ?= $(shell $(PKG_CONFIG) --variable=sysusersdir systemd)
TMPFILESDIR ?= $(shell $(PKG_CONFIG) --variable=tmpfilesdir systemd)

BUILD       ?= build
CC          ?= cc
PKG_CONFIG  ?= pkg-config
WERROR      ?= -Werror

PKGS        := libsystemd libproc2 sqlite3 json-c inih libmicrohttpd
# The BPF sampling backend (core/bpfread.c): its program is compiled with clang against
# a vmlinux.h that bpftool writes from the build machine's BTF (CO-RE relocates the
# offsets to the running kernel at load), and embedded in the daemon as a skeleton.
# BPF=0 builds without it: the daemon then samples through /proc only.
BPF         ?= 1
ifeq ($(BPF),1)
BPFTOOL     ?= $(firstword $(wildcard /usr/sbin/bpftool) bpftool)
BPF_CLANG   ?= clang
LLVM_STRIP  ?= llvm-strip
VMLINUX_BTF ?= /sys/kernel/btf/vmlinux
PKGS        += libbpf
CPPFLAGS    += -DLEAKWATCH_BPF=1
else
CPPFLAGS    += -DLEAKWATCH_BPF=0
endif

PKG_CFLAGS  := $(shell $(PKG_CONFIG) --cflags $(PKGS))
PKG_LIBS    := $(shell $(PKG_CONFIG) --libs $(PKGS))
CMOCKA_LIBS := $(shell $(PKG_CONFIG) --libs cmocka 2>/dev/null)

WARN := -Wall -Wextra -Wshadow -Wformat=2 -Wformat-signedness -Wmissing-prototypes \
        -Wstrict-prototypes -Wold-style-definition -Wpointer-arith -Wwrite-strings \
        -Wundef -Wvla -Wcast-align -Wimplicit-fallthrough=5 -Wmissing-declarations \
        -Wredundant-decls -Wnested-externs -Wduplicated-cond -Wlogical-op \
        -Wnull-dereference -Wdate-time -Wstrict-overflow=2 $(WERROR)

OPT      ?= -O2 -g
CPPFLAGS += -D_GNU_SOURCE -DLEAKWATCH_VERSION='"$(VERSION)"' -Ilib -Istore -Icore -I$(BUILD)/gen
CFLAGS   += -std=gnu11 $(OPT) $(WARN) -fstack-protector-strong -fno-common $(PKG_CFLAGS)
LDFLAGS  += -Wl,-z,relro -Wl,-z,now -Wl,--as-needed
LDLIBS   += $(PKG_LIBS) -lm

ifeq ($(SAN),1)
CFLAGS  += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS += -fsanitize=address,undefined
else
CPPFLAGS += -D_FORTIFY_SOURCE=2
endif

# The layers, each using only those below it (docs/architecture.md):
#   daemon/, client/   the two programs; each links core/, store/ and lib/, never the other
#   core/              the watch both programs run: sampler, engine, writer, agents, loop
#   store/             the database (the only code that includes sqlite3.h)
#   lib/               parsers, the detector, classification, logging, small helpers
# store/raw.c reaches below the store's API, for the tests and benchmarks only.
LIB_SRC    := $(wildcard lib/*.c)
STORE_SRC  := $(filter-out store/raw.c,$(wildcard store/*.c))
CORE_SRC   := $(filter-out %.bpf.c,$(wildcard core/*.c))
DAEMON_SRC := $(filter-out daemon/main.c,$(wildcard daemon/*.c))
CLIENT_SRC := $(filter-out client/main.c,$(wildcard client/*.c))
SQL        := $(sort $(wildcard sql/*.sql))

LIB_OBJ    := $(LIB_SRC:%.c=$(BUILD)/%.o)
STORE_OBJ  := $(STORE_SRC:%.c=$(BUILD)/%.o) $(BUILD)/gen/sql-embed.o
CORE_OBJ   := $(CORE_SRC:%.c=$(BUILD)/%.o)
DAEMON_OBJ := $(DAEMON_SRC:%.c=$(BUILD)/%.o)
CLIENT_OBJ := $(CLIENT_SRC:%.c=$(BUILD)/%.o)
# What each program links, below its own folder.
SHARED_OBJ := $(CORE_OBJ) $(STORE_OBJ) $(LIB_OBJ)

UNIT_SRC   := $(wildcard tests/unit/test-*.c)
UNIT_BIN   := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)

PROGRAMS   := $(BUILD)/leakwatchd $(if $(wildcard client/main.c),$(BUILD)/leakwatch)
TEST_HELPERS := $(patsubst tests/workloads/%.c,$(BUILD)/tests/workloads/%,$(wildcard tests/workloads/*.c)) \
                $(BUILD)/tests/fake-manager
# make bench's programs. farm and proc-floor stand alone (a floor must not share the
# daemon's code); the others link every object but the mains, like the unit tests.
BENCH_ALONE := $(BUILD)/bench/farm $(BUILD)/bench/proc-floor
BENCH_BIN  := $(BENCH_ALONE) $(addprefix $(BUILD)/bench/,ingest detect-cost detect-shapes detect-scales engine-feed)
# The simple slope rules the detector is measured against: for the benchmarks and the
# detector's tests, never linked into the programs.
BASELINE_OBJ := $(BUILD)/bench/baseline.o
RAW_OBJ    := $(BUILD)/store/raw.o

.PHONY: all test unit integration check-asan check-valgrind check-adversarial bench bench-scale bench-client bench-metrics bench-detect bench-peers \
        install uninstall run deb install-deb check-systemd clean FORCE
all: $(PROGRAMS) $(BUILD)/leakwatchd.service

# V=1 shows the full commands.
ifeq ($(V),1)
Q :=
else
Q := @
endif

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c -o $@ $<

# The schema and its migrations are compiled into the binaries, so the
# daemon and the client can never disagree with the database about them.
$(BUILD)/gen/sql-embed.c: tools/embed-sql.sh $(SQL)
	@mkdir -p $(dir $@)
	$(Q)sh tools/embed-sql.sh $(SQL) > $@.tmp && mv $@.tmp $@

$(BUILD)/gen/sql-embed.o: $(BUILD)/gen/sql-embed.c
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

ifeq ($(BPF),1)
# The kernel's types, from its BTF: no kernel headers. Only the types the program names
# matter; their offsets are relocated at load.
$(BUILD)/gen/vmlinux.h:
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  GEN     $@")
	$(Q)$(BPFTOOL) btf dump file $(VMLINUX_BTF) format c > $@.tmp && mv $@.tmp $@

# DWARF is stripped (the BTF the loader needs stays): the object is embedded in the daemon.
$(BUILD)/gen/taskiter.bpf.o: core/taskiter.bpf.c core/taskiter.h $(BUILD)/gen/vmlinux.h
	@$(if $(Q),echo "  BPF     $<")
	$(Q)$(BPF_CLANG) -g -O2 -target bpf -Wall -Werror -I$(BUILD)/gen -Icore -c -o $@ $<
	$(Q)$(LLVM_STRIP) -g $@

$(BUILD)/gen/taskiter.skel.h: $(BUILD)/gen/taskiter.bpf.o
	@$(if $(Q),echo "  GEN     $@")
	$(Q)$(BPFTOOL) gen skeleton $< name taskiter > $@.tmp && mv $@.tmp $@

$(BUILD)/core/bpfread.o: $(BUILD)/gen/taskiter.skel.h
endif

$(BUILD)/leakwatchd: $(BUILD)/daemon/main.o $(DAEMON_OBJ) $(SHARED_OBJ)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# leakwatch run looks for the in-process agents where make install puts them. The path
# is recorded in a file rewritten only when LIBDIR changes (FORCE), so run.o is rebuilt
# for a new PREFIX and left alone otherwise.
AGENT_LIBDIR := $(LIBDIR)/leakwatch
$(BUILD)/gen/agent-libdir: FORCE
	$(if $(findstring ",$(AGENT_LIBDIR))$(findstring \,$(AGENT_LIBDIR)),$(error LIBDIR '$(LIBDIR)' must not hold '"' or '\'))
	@mkdir -p $(dir $@)
	$(Q)printf '%s\n' '$(AGENT_LIBDIR)' > $@.tmp && \
		if cmp -s $@.tmp $@; then rm -f $@.tmp; else mv $@.tmp $@; fi
$(BUILD)/client/run.o: $(BUILD)/gen/agent-libdir
$(BUILD)/client/run.o: CPPFLAGS += -DLEAKWATCH_AGENT_LIBDIR='"$(AGENT_LIBDIR)"'

# leakwatch run watches in-process with the daemon's own core when the daemon is not
# there to ask; the client never links daemon/ (no HTTP server, hooks or notify).
$(BUILD)/leakwatch: $(BUILD)/client/main.o $(CLIENT_OBJ) $(SHARED_OBJ)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# Unit tests link every object but the two mains (the chrony way), so a test
# exercises the real module and may override nothing.
$(BUILD)/tests/test-%: tests/unit/test-%.c $(DAEMON_OBJ) $(CLIENT_OBJ) $(SHARED_OBJ) $(BASELINE_OBJ) $(RAW_OBJ)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  TEST    $@")
	$(Q)$(CC) $(CPPFLAGS) -Idaemon -Iclient -Ibench -Itests/unit $(CFLAGS) -MMD -MP -o $@ $(filter %.c %.o,$^) $(LDFLAGS) $(LDLIBS) $(CMOCKA_LIBS)

# Workloads are what the daemon watches, not code under test: built without sanitizers
# even in an ASan build, so their memory looks like a normal program's.
WORKLOAD_CFLAGS := -std=gnu11 -O2 -g $(WARN) -D_GNU_SOURCE
$(BUILD)/tests/workloads/%: tests/workloads/%.c
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(WORKLOAD_CFLAGS) -o $@ $< -lm

# systemd's Manager on a private bus, for the restart tests (tests/dbus).
$(BUILD)/tests/fake-manager: tests/dbus/fake-manager.c
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(WORKLOAD_CFLAGS) $(shell $(PKG_CONFIG) --cflags libsystemd) -o $@ $< \
		$(shell $(PKG_CONFIG) --libs libsystemd)

$(BENCH_ALONE): $(BUILD)/bench/%: bench/%.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $@")
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -o $@ $< $(LDFLAGS)

$(filter-out $(BENCH_ALONE),$(BENCH_BIN)): $(BUILD)/bench/%: bench/%.c $(DAEMON_OBJ) $(CLIENT_OBJ) $(SHARED_OBJ) \
                                                  $(BASELINE_OBJ)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $@")
	$(Q)$(CC) $(CPPFLAGS) -Idaemon -Ibench -Itests/unit $(CFLAGS) -MMD -MP -o $@ $(filter %.c %.o,$^) $(LDFLAGS) $(LDLIBS)

unit: $(UNIT_BIN) $(BUILD)/tests/fake-manager
	@sh tests/run-unit.sh $(UNIT_BIN)

integration: $(PROGRAMS) $(TEST_HELPERS)
	@BUILD=$(BUILD) bash tests/run-integration.sh

test: unit integration

check-adversarial: $(PROGRAMS) $(TEST_HELPERS)
	@SUITE=adversarial BUILD=$(BUILD) bash tests/run-integration.sh

check-asan:
	$(MAKE) BUILD=build-asan SAN=1 OPT="-O1 -g" test

check-valgrind: $(UNIT_BIN) $(PROGRAMS)
	@VALGRIND=1 sh tests/run-unit.sh $(UNIT_BIN)

# About ten minutes; bench/run.py says what each figure counts.
bench: $(PROGRAMS) $(BENCH_BIN)
	@BUILD=$(BUILD) python3 bench/run.py

# 10,000 processes at a 1 s interval with processes coming and going, for an hour
# (docs/performance.md, "Scale and churn"); LWBENCH_SCALE_* in bench/scale.py.
bench-scale: $(PROGRAMS) $(BENCH_BIN)
	@BUILD=$(BUILD) python3 bench/scale.py

# The same targets watched by each peer in turn, then by leakwatchd (docs/performance.md,
# "Side by side with other tools"); bench/peers.py says what each figure counts.
bench-peers: $(PROGRAMS) $(BENCH_ALONE)
	./tools/install-deps --bench
	@BUILD=$(BUILD) python3 bench/peers.py

# The scenario suite: every workload of tests/workloads at once under one leakwatchd,
# then the detector and the simple slope rules replayed over what it stored
# (docs/detector.md, "Scenario suite"). At a 2-minute window it takes about 10 minutes.
DETECT_WINDOW   ?= 2m
DETECT_INTERVAL ?= 0.5
DETECT_SEEDS    ?= 20 12

$(BUILD)/bench/replay: bench/replay.c $(STORE_OBJ) $(LIB_OBJ) $(BASELINE_OBJ)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(CPPFLAGS) -Ibench $(CFLAGS) -MMD -MP -o $@ $(filter %.c %.o,$^) $(LDFLAGS) $(LDLIBS)

# First the bank of time scales at its defaults on synthetic lives (a minute or two):
# time to detect by rate and shape, false alarms per process-day, the rules people write
# on the same series, and the cost for 10,000 processes (docs/detector.md, "Time scales").
bench-detect: $(PROGRAMS) $(TEST_HELPERS) $(BUILD)/bench/replay $(BUILD)/bench/detect-scales
	@$(BUILD)/bench/detect-scales $(DETECT_SEEDS)
	@python3 tests/scenarios/bench_detect.py --build $(BUILD) --window $(DETECT_WINDOW) --interval $(DETECT_INTERVAL)

# What one Prometheus scrape costs with 1,000 watched processes (docs/performance.md).
$(BUILD)/bench/metrics-scrape: bench/metrics-scrape.c $(DAEMON_OBJ) $(SHARED_OBJ)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(CPPFLAGS) -Idaemon $(CFLAGS) -o $@ $(filter %.c %.o,$^) $(LDFLAGS) $(LDLIBS)

bench-metrics: $(BUILD)/bench/metrics-scrape $(PROGRAMS) $(TEST_HELPERS)
	@$(BUILD)/bench/metrics-scrape
	@BUILD=$(BUILD) python3 bench/metrics-daemon.py

# The client's query benchmark: a month of history for 1000 processes (generated once,
# kept under $(BUILD)/bench), then median times of the heavy commands.
$(BUILD)/bench/gen-history: bench/gen-history.c $(STORE_OBJ) $(LIB_OBJ) $(RAW_OBJ)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -o $@ $(filter %.c %.o,$^) $(LDFLAGS) $(LDLIBS)

bench-client: $(PROGRAMS) $(BUILD)/bench/gen-history
	@BUILD=$(BUILD) sh bench/client-queries.sh

# The unit names the installed daemon, so it is made for this SBINDIR; a different PREFIX
# on a later make rewrites it (FORCE), and an unchanged one leaves it untouched. systemd
# splits ExecStart= on blanks, so the path must be absolute and plain.
$(BUILD)/leakwatchd.service: systemd/leakwatchd.service.in FORCE
	$(if $(filter /%,$(SBINDIR)),,$(error SBINDIR must be an absolute path, not '$(SBINDIR)'))
	$(if $(findstring |,$(SBINDIR))$(word 2,$(SBINDIR)),$(error SBINDIR '$(SBINDIR)' must not hold blanks or '|'))
	@mkdir -p $(dir $@)
	$(Q)sed 's|@SBINDIR@|$(SBINDIR)|g' $< > $@.tmp && \
		if cmp -s $@.tmp $@; then rm -f $@.tmp; else mv $@.tmp $@; fi

MAN_PAGES  := $(wildcard man/*.1 man/*.5 man/*.8)
HOOK_FILES := $(filter-out %~ $(patsubst %/.,%,$(wildcard hooks/*/.)),$(wildcard hooks/*))
# Paths install writes (directories apart), for uninstall to remove.
# Shell completion for the client, where bash-completion and Debian's zsh look.
BASH_COMPLETION := $(DATADIR)/bash-completion/completions/leakwatch
ZSH_COMPLETION  := $(DATADIR)/zsh/vendor-completions/_leakwatch
INSTALLED  := $(SBINDIR)/leakwatchd $(if $(wildcard client/main.c),$(BINDIR)/leakwatch $(BASH_COMPLETION) $(ZSH_COMPLETION)) \
              $(UNITDIR)/leakwatchd.service $(SYSUSERSDIR)/leakwatch.conf $(TMPFILESDIR)/leakwatch.conf \
              $(DATADIR)/leakwatch/leakwatch.conf \
              $(UNITDIR)/leakwatch-metrics.socket $(DATADIR)/leakwatch/metrics-listen.conf \
              $(DATADIR)/leakwatch/prometheus/alerts.yml $(DATADIR)/leakwatch/grafana/leakwatch.json \
              $(foreach m,$(MAN_PAGES),$(MANDIR)/man$(subst .,,$(suffix $(m)))/$(notdir $(m))) \
              $(addprefix $(DATADIR)/leakwatch/hooks/,$(notdir $(HOOK_FILES)))

# The configuration in /etc is the administrator's: it is installed only where there is
# none, and the shipped copy goes to $(DATADIR)/leakwatch to compare it with after an
# upgrade. Example hooks keep their executable bit; nothing in hooks/ runs unless the
# configuration names it. For a fleet: the socket unit that serves metrics without
# loosening the sandbox (disabled until enabled), the drop-in metrics-listen needs
# instead (docs/systemd.md), the Prometheus alerting rules and the Grafana dashboard.
install: $(PROGRAMS) $(BUILD)/leakwatchd.service
	$(if $(UNITDIR),,$(error no systemd unit directory: install systemd's pkg-config file or set UNITDIR))
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSUSERSDIR) $(DESTDIR)$(TMPFILESDIR) \
		$(DESTDIR)$(SYSCONFDIR)/leakwatch/conf.d $(DESTDIR)$(DATADIR)/leakwatch
	install -m 0755 $(BUILD)/leakwatchd $(DESTDIR)$(SBINDIR)/leakwatchd
	$(if $(wildcard client/main.c),install -d $(DESTDIR)$(BINDIR))
	$(if $(wildcard client/main.c),install -m 0755 $(BUILD)/leakwatch $(DESTDIR)$(BINDIR)/leakwatch)
	$(if $(wildcard client/main.c),install -D -m 0644 client/completion/leakwatch.bash $(DESTDIR)$(BASH_COMPLETION))
	$(if $(wildcard client/main.c),install -D -m 0644 client/completion/_leakwatch $(DESTDIR)$(ZSH_COMPLETION))
	install -m 0644 $(BUILD)/leakwatchd.service $(DESTDIR)$(UNITDIR)/leakwatchd.service
	install -m 0644 systemd/leakwatch-metrics.socket $(DESTDIR)$(UNITDIR)/leakwatch-metrics.socket
	install -m 0644 systemd/metrics-listen.conf $(DESTDIR)$(DATADIR)/leakwatch/metrics-listen.conf
	install -d $(DESTDIR)$(DATADIR)/leakwatch/prometheus $(DESTDIR)$(DATADIR)/leakwatch/grafana
	install -m 0644 docs/prometheus/alerts.yml $(DESTDIR)$(DATADIR)/leakwatch/prometheus/alerts.yml
	install -m 0644 docs/grafana/leakwatch.json $(DESTDIR)$(DATADIR)/leakwatch/grafana/leakwatch.json
	install -m 0644 systemd/sysusers.conf $(DESTDIR)$(SYSUSERSDIR)/leakwatch.conf
	install -m 0644 systemd/tmpfiles.conf $(DESTDIR)$(TMPFILESDIR)/leakwatch.conf
	install -m 0644 systemd/leakwatch.conf $(DESTDIR)$(DATADIR)/leakwatch/leakwatch.conf
	@if [ -e $(DESTDIR)$(SYSCONFDIR)/leakwatch/leakwatch.conf ]; then \
		echo "keeping $(DESTDIR)$(SYSCONFDIR)/leakwatch/leakwatch.conf (the default is in $(DATADIR)/leakwatch)"; \
	else \
		echo "install -m 0644 systemd/leakwatch.conf $(DESTDIR)$(SYSCONFDIR)/leakwatch/leakwatch.conf"; \
		install -m 0644 systemd/leakwatch.conf $(DESTDIR)$(SYSCONFDIR)/leakwatch/leakwatch.conf; \
	fi
	@set -e; for m in $(MAN_PAGES); do \
		d=$(DESTDIR)$(MANDIR)/man$${m##*.}; \
		echo "install -m 0644 $$m $$d/"; \
		install -d "$$d"; \
		install -m 0644 "$$m" "$$d/"; \
	done
	@set -e; for f in $(HOOK_FILES); do \
		[ -f "$$f" ] || continue; \
		if [ -x "$$f" ]; then m=0755; else m=0644; fi; \
		echo "install -m $$m $$f $(DESTDIR)$(DATADIR)/leakwatch/hooks/"; \
		install -d $(DESTDIR)$(DATADIR)/leakwatch/hooks; \
		install -m $$m "$$f" $(DESTDIR)$(DATADIR)/leakwatch/hooks/; \
	done
	@$(if $(DESTDIR),:,echo "Then: systemd-sysusers; systemd-tmpfiles --create; systemctl daemon-reload;" \
		"systemctl enable --now leakwatchd")

# Removes what install wrote. The database (/var/lib/leakwatch) and the leakwatch user
# stay: history outlives the program. The configuration goes only if it is still the
# default shipped with it; directories go only if empty.
uninstall:
	$(if $(UNITDIR),,$(error no systemd unit directory: install systemd's pkg-config file or set UNITDIR))
	@if cmp -s $(DESTDIR)$(DATADIR)/leakwatch/leakwatch.conf $(DESTDIR)$(SYSCONFDIR)/leakwatch/leakwatch.conf; then \
		echo "rm -f $(DESTDIR)$(SYSCONFDIR)/leakwatch/leakwatch.conf"; \
		rm -f $(DESTDIR)$(SYSCONFDIR)/leakwatch/leakwatch.conf; \
	elif [ -e $(DESTDIR)$(SYSCONFDIR)/leakwatch/leakwatch.conf ]; then \
		echo "keeping $(DESTDIR)$(SYSCONFDIR)/leakwatch/leakwatch.conf: it was changed"; \
	fi
	rm -f $(addprefix $(DESTDIR),$(INSTALLED))
	@for d in $(DESTDIR)$(DATADIR)/leakwatch/hooks $(DESTDIR)$(DATADIR)/leakwatch/prometheus \
		$(DESTDIR)$(DATADIR)/leakwatch/grafana $(DESTDIR)$(DATADIR)/leakwatch \
		$(DESTDIR)$(SYSCONFDIR)/leakwatch/conf.d $(DESTDIR)$(SYSCONFDIR)/leakwatch \
		$(DESTDIR)$(LIBDIR)/leakwatch/python/__pycache__ $(DESTDIR)$(LIBDIR)/leakwatch/python \
		$(DESTDIR)$(LIBDIR)/leakwatch; do \
		rmdir "$$d" 2>/dev/null || true; \
	done

# The README's first command: the daemon from the build tree, in the foreground, as root
# (through sudo when not root), at the defaults the client reads too: the database in
# /var/lib/leakwatch, the sockets in /run/leakwatch, the configuration in /etc/leakwatch
# (none: every process of 32 MiB or more). The state directory is made as tmpfiles.d
# makes it. Ctrl-C stops the daemon, which flushes and exits 0.
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
run: all
	$(SUDO) install -d -m 0750 /var/lib/leakwatch
	$(SUDO) $(BUILD)/leakwatchd

# The Debian package, built by dpkg-buildpackage in a copy of the tree under $(BUILD)/deb
# (the .deb, .changes and .buildinfo land beside the copy, not beside this tree), then
# checked by lintian: an error or a warning fails. debian/rules only calls this Makefile.
# The copy is the files git knows, committed or not (ignored ones left out), or the
# tree without its build directories where there is no git.
DEB_DIR := $(BUILD)/deb
deb:
	./tools/install-deps --deb
	rm -rf $(DEB_DIR)
	mkdir -p $(DEB_DIR)/src
	$(Q)if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then \
		git ls-files -z --cached --others --exclude-standard | tar --null -T - --ignore-failed-read -cf -; \
	else \
		tar --exclude=./.git --exclude=./build --exclude=./build-asan --exclude=./build-nspawn --exclude=./$(BUILD) -cf - .; \
	fi | tar -xf - -C $(DEB_DIR)/src
	cd $(DEB_DIR)/src && dpkg-buildpackage -us -uc -b
	lintian --fail-on error,warning $(DEB_DIR)/leakwatch_*.changes
	@ls -l $(DEB_DIR)/*.deb

# Installs what make deb built, with apt, which brings the libraries it depends on too.
install-deb:
	@set -- $(DEB_DIR)/leakwatch_*.deb; [ -f "$$1" ] || { echo "no package in $(DEB_DIR): run make deb" >&2; exit 1; }
	$(SUDO) apt-get install -y $(abspath $(DEB_DIR))/$$(basename $(DEB_DIR)/leakwatch_*.deb)

# The package under a real systemd: tests/system boots a Debian 12 tree (debootstrap,
# cached in build-nspawn) with systemd-nspawn, installs the package from make deb in
# it and checks the service, the metrics socket, a hook, upgrades, removal and purge.
check-systemd: deb $(TEST_HELPERS)
	./tools/install-deps --systemd
	@SUITE=system BUILD=$(BUILD) bash tests/run-integration.sh

# ---- in-process agents (docs/agents.md) ----
#
# The allocator probe is preloaded into other programs: it is built without the
# sanitizers (an ASan library cannot be preloaded into a program built without ASan)
# and links nothing of ours.
PROBE        := $(BUILD)/libleakwatch-probe.so
PROBE_CFLAGS := -std=gnu11 $(OPT) $(WARN) -fPIC -fstack-protector-strong -fvisibility=hidden \
                -D_GNU_SOURCE -D_FORTIFY_SOURCE=2 -Ilib
AGENT_PY     := agents/python/leakwatch_agent.py agents/python/sitecustomize.py
# The Python that byte-compiles the agent at install time: the system's, whose cache tag
# (cpython-311 on Debian 12) is the one the host's Python programs look for, never
# whichever python3 is first on PATH (a pyenv shim or a virtual environment would leave
# bytecode no program here loads). Empty: install no bytecode, as the Debian package
# does (py3compile compiles it at installation for the Pythons installed then).
PYTHON3      ?= $(wildcard /usr/bin/python3)

# The build tree holds the agents as $(LIBDIR)/leakwatch does (the probe, python/), so
# leakwatch run finds them next to build/leakwatch before anything is installed.
AGENT_PY_BUILD := $(addprefix $(BUILD)/python/,$(notdir $(AGENT_PY)))

.PHONY: install-agents bench-agents
all: $(PROBE) $(AGENT_PY_BUILD)
integration check-adversarial: $(PROBE) $(AGENT_PY_BUILD)

$(BUILD)/python/%.py: agents/python/%.py
	@mkdir -p $(dir $@)
	$(Q)cp $< $@

# libdw (elfutils) names the functions and source lines of the sampled stacks; the
# probe dlopen()s it when it first has sites to name (agents/probe/symbols.c), so only
# its header is needed here.
PROBE_SRC    := agents/probe/leakwatch-probe.c agents/probe/heap.c agents/probe/symbols.c
PROBE_LIBS   := -lm
$(PROBE): $(PROBE_SRC) agents/probe/heap.h agents/probe/symbols.h lib/proto.h
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $@")
	$(Q)$(CC) $(PROBE_CFLAGS) -shared -pthread -Wl,-z,relro -Wl,-z,now -Wl,--as-needed -o $@ $(PROBE_SRC) \
		$(PROBE_LIBS)

# `leakwatch run` finds both here: the probe for LD_PRELOAD, the Python directory for
# PYTHONPATH (docs/agents.md, "Loading the agents").
install: install-agents
INSTALLED += $(LIBDIR)/leakwatch/libleakwatch-probe.so $(addprefix $(LIBDIR)/leakwatch/python/,$(notdir $(AGENT_PY))) \
             $(LIBDIR)/leakwatch/python/__pycache__/*.pyc
install-agents: $(PROBE)
	install -d $(DESTDIR)$(LIBDIR)/leakwatch/python
	install -m 0644 $(PROBE) $(DESTDIR)$(LIBDIR)/leakwatch/libleakwatch-probe.so
	install -m 0644 $(AGENT_PY) $(DESTDIR)$(LIBDIR)/leakwatch/python/
	@# Compiled now: the programs that load the agent usually cannot write here, and
	@# compiling it at every start would cost them some 8 ms (docs/performance.md).
	$(if $(PYTHON3),$(PYTHON3) -m compileall -q -d $(LIBDIR)/leakwatch/python $(DESTDIR)$(LIBDIR)/leakwatch/python)

# The agents' cost, side by side with and without (docs/performance.md).
bench-agents: $(PROBE) $(BUILD)/bench/agents-malloc
	@BUILD=$(BUILD) python3 bench/agents.py

$(BUILD)/bench/agents-malloc: bench/agents-malloc.c
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(WORKLOAD_CFLAGS) -o $@ $<

# build-nspawn is the Debian tree make check-systemd boots: never cross into a file
# system that might still be mounted in it.
clean:
	rm -rf --one-file-system build build-asan build-nspawn

include tests/fuzz/fuzz.mk

# Not below $(BUILD)/deb: the package's own build, with its own dependency files.
-include $(shell find $(BUILD) -path $(BUILD)/deb -prune -o -name '*.d' -type f -print 2>/dev/null)
