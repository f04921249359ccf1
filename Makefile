# leakwatch — build, test, install and benchmark.
#
#   make              build leakwatchd and leakwatch into build/
#   make test         build and run every test (unit tests with cmocka, then integration)
#   make check-asan   the same tests built with AddressSanitizer and UBSan
#   make check-valgrind  the unit tests under valgrind (leaks and descriptors)
#   make bench        benchmarks; prints figures
#   make install      honours PREFIX and DESTDIR
#
# Variables: BUILD (output directory), SAN=1 (sanitizers), WERROR= (to drop -Werror).

VERSION     := 0.1.0
PREFIX      ?= /usr/local
BINDIR      ?= $(PREFIX)/bin
SBINDIR     ?= $(PREFIX)/sbin
MANDIR      ?= $(PREFIX)/share/man
DATADIR     ?= $(PREFIX)/share
SYSCONFDIR  ?= /etc
DESTDIR     ?=

BUILD       ?= build
CC          ?= cc
PKG_CONFIG  ?= pkg-config
WERROR      ?= -Werror

PKGS        := libsystemd libproc2 sqlite3 json-c inih
PKG_CFLAGS  := $(shell $(PKG_CONFIG) --cflags $(PKGS))
PKG_LIBS    := $(shell $(PKG_CONFIG) --libs $(PKGS))
CMOCKA_LIBS := $(shell $(PKG_CONFIG) --libs cmocka)

WARN := -Wall -Wextra -Wshadow -Wformat=2 -Wformat-signedness -Wmissing-prototypes \
        -Wstrict-prototypes -Wold-style-definition -Wpointer-arith -Wwrite-strings \
        -Wundef -Wvla -Wcast-align -Wimplicit-fallthrough=5 -Wmissing-declarations \
        -Wredundant-decls -Wnested-externs -Wduplicated-cond -Wlogical-op \
        -Wnull-dereference -Wdate-time -Wstrict-overflow=2 $(WERROR)

OPT      ?= -O2 -g
CPPFLAGS += -D_GNU_SOURCE -DLEAKWATCH_VERSION='"$(VERSION)"' -Ilib -I$(BUILD)/gen
CFLAGS   += -std=gnu11 $(OPT) $(WARN) -fstack-protector-strong -fno-common $(PKG_CFLAGS)
LDFLAGS  += -Wl,-z,relro -Wl,-z,now -Wl,--as-needed
LDLIBS   += $(PKG_LIBS) -lm

ifeq ($(SAN),1)
CFLAGS  += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS += -fsanitize=address,undefined
else
CPPFLAGS += -D_FORTIFY_SOURCE=2
endif

LIB_SRC    := $(wildcard lib/*.c)
DAEMON_SRC := $(filter-out daemon/main.c,$(wildcard daemon/*.c))
CLIENT_SRC := $(filter-out client/main.c,$(wildcard client/*.c))
SQL        := $(sort $(wildcard sql/*.sql))

LIB_OBJ    := $(LIB_SRC:%.c=$(BUILD)/%.o) $(BUILD)/gen/sql-embed.o
DAEMON_OBJ := $(DAEMON_SRC:%.c=$(BUILD)/%.o)
CLIENT_OBJ := $(CLIENT_SRC:%.c=$(BUILD)/%.o)

UNIT_SRC   := $(wildcard tests/unit/test-*.c)
UNIT_BIN   := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)

PROGRAMS   := $(BUILD)/leakwatchd $(if $(wildcard client/main.c),$(BUILD)/leakwatch)
TEST_HELPERS := $(patsubst tests/workloads/%.c,$(BUILD)/tests/workloads/%,$(wildcard tests/workloads/*.c))

.PHONY: all test unit integration check-asan check-valgrind bench bench-client install clean
all: $(PROGRAMS)

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

$(BUILD)/leakwatchd: $(BUILD)/daemon/main.o $(DAEMON_OBJ) $(LIB_OBJ)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# The client links the daemon's modules too: leakwatch run samples and judges
# in-process with the daemon's own code when the daemon is not there to ask.
$(BUILD)/client/%.o: CPPFLAGS += -Idaemon
$(BUILD)/leakwatch: $(BUILD)/client/main.o $(CLIENT_OBJ) $(DAEMON_OBJ) $(LIB_OBJ)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# Unit tests link every object but the two mains (the chrony way), so a test
# exercises the real module and may override nothing.
$(BUILD)/tests/test-%: tests/unit/test-%.c $(DAEMON_OBJ) $(CLIENT_OBJ) $(LIB_OBJ)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  TEST    $@")
	$(Q)$(CC) $(CPPFLAGS) -Idaemon -Iclient -Itests/unit $(CFLAGS) -MMD -MP -o $@ $(filter %.c %.o,$^) $(LDFLAGS) $(LDLIBS) $(CMOCKA_LIBS)

# Workloads are what the daemon watches, not code under test: built without sanitizers
# even in an ASan build, so their memory looks like a normal program's.
WORKLOAD_CFLAGS := -std=gnu11 -O2 -g $(WARN) -D_GNU_SOURCE
$(BUILD)/tests/workloads/%: tests/workloads/%.c
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(WORKLOAD_CFLAGS) -o $@ $< -lm

unit: $(UNIT_BIN)
	@sh tests/run-unit.sh $(UNIT_BIN)

integration: $(PROGRAMS) $(TEST_HELPERS)
	@BUILD=$(BUILD) sh tests/run-integration.sh

test: unit integration

check-asan:
	$(MAKE) BUILD=build-asan SAN=1 OPT="-O1 -g" test

check-valgrind: $(UNIT_BIN) $(PROGRAMS)
	@VALGRIND=1 sh tests/run-unit.sh $(UNIT_BIN)

bench: $(PROGRAMS) $(TEST_HELPERS)
	@BUILD=$(BUILD) sh bench/run.sh

# The client's query benchmark: a month of history for 1000 processes (generated once,
# kept under $(BUILD)/bench), then median times of the heavy commands.
$(BUILD)/bench/gen-history: bench/gen-history.c $(LIB_OBJ)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -o $@ $(filter %.c %.o,$^) $(LDFLAGS) $(LDLIBS)

bench-client: $(PROGRAMS) $(BUILD)/bench/gen-history
	@BUILD=$(BUILD) sh bench/client-queries.sh

install: $(PROGRAMS)
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(BINDIR)
	install -m 0755 $(BUILD)/leakwatchd $(DESTDIR)$(SBINDIR)/leakwatchd
	$(if $(wildcard client/main.c),install -m 0755 $(BUILD)/leakwatch $(DESTDIR)$(BINDIR)/leakwatch)
	$(if $(wildcard client/main.c),install -d $(DESTDIR)$(MANDIR)/man1)
	$(if $(wildcard client/main.c),install -m 0644 man/leakwatch.1 $(DESTDIR)$(MANDIR)/man1/leakwatch.1)

clean:
	rm -rf build build-asan

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
