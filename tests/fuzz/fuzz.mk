# SPDX-License-Identifier: GPL-2.0-or-later
# tests/fuzz/fuzz.mk — fuzzing the parsers of untrusted bytes (docs/adversarial.md,
# "Fuzzing the parsers"); included by the Makefile.
#
#   make check-fuzz   every harness for FUZZ_CHECK_SECONDS, FUZZ_JOBS at a time (CI)
#   make fuzz         every harness for FUZZ_SECONDS (600 unless told)
#   make fuzz FUZZ_HARNESSES="stat status" FUZZ_SECONDS=60
#
# The libFuzzer harnesses are built with clang, ASan and UBSan into $(FUZZ_BUILD) by a
# second make of this Makefile (FUZZ=1), so they compile from the same rules and
# variables as everything else. The same harnesses linked with tests/fuzz/replay.c
# instead of libFuzzer are unit tests: make unit feeds each of them its corpus
# (tests/fuzz/corpus/NAME) under whatever compiler builds the rest, so an input that
# once crashed a parser stays fixed without clang.

FUZZ_ALL           := stat status smaps cmdline cgroup limits agent config control hsperf
FUZZ_HARNESSES     ?= $(FUZZ_ALL)
FUZZ_BUILD         ?= build-fuzz
FUZZ_CC            ?= clang-14
FUZZ_SECONDS       ?= 600
# 10 harnesses, 2 at a time, 20 s each: about 100 s of fuzzing in CI.
FUZZ_CHECK_SECONDS ?= 20
FUZZ_JOBS          ?= 2
# Fuzzing is background work on a shared machine.
FUZZ_NICE          ?= 19

# What a harness links: every object of leakwatchd but its main (the control harness
# compiles daemon/main.c into itself); and where the headers it includes beyond lib/
# are. These two variables are all a move of code between directories changes here.
FUZZ_LINK_OBJ = $(DAEMON_OBJ) $(SHARED_OBJ)
FUZZ_INCLUDE_DIRS = daemon core store

FUZZ_COMMON_OBJ := $(BUILD)/tests/fuzz/fuzz.o
$(BUILD)/tests/fuzz/%.o: CPPFLAGS += $(addprefix -I,$(FUZZ_INCLUDE_DIRS)) -Itests/fuzz

# ---- the corpus replayed in the unit tests ----

FUZZ_REPLAY_BIN := $(FUZZ_ALL:%=$(BUILD)/tests/fuzz-%)
UNIT_BIN += $(FUZZ_REPLAY_BIN)
unit check-valgrind: $(FUZZ_REPLAY_BIN)

$(FUZZ_REPLAY_BIN): $(BUILD)/tests/fuzz-%: $(BUILD)/tests/fuzz/fuzz-%.o $(BUILD)/tests/fuzz/replay.o \
                    $(FUZZ_COMMON_OBJ) $(FUZZ_LINK_OBJ)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# ---- libFuzzer ----

.PHONY: fuzz check-fuzz fuzz-build fuzz-clean
FUZZ_BIN = $(FUZZ_HARNESSES:%=$(FUZZ_BUILD)/fuzz/fuzz-%)

fuzz-build:
	@command -v $(FUZZ_CC) >/dev/null || { echo "$(FUZZ_CC) not found: tools/install-deps --tests installs it" >&2; exit 1; }
	@$(MAKE) --no-print-directory BUILD=$(FUZZ_BUILD) CC=$(FUZZ_CC) SAN=1 FUZZ=1 OPT="-O1 -g" $(FUZZ_BIN)

check-fuzz: fuzz-build
	@nice -n $(FUZZ_NICE) bash tests/fuzz/run.sh $(FUZZ_BUILD) $(FUZZ_CHECK_SECONDS) $(FUZZ_JOBS) $(FUZZ_HARNESSES)

fuzz: fuzz-build
	@nice -n $(FUZZ_NICE) bash tests/fuzz/run.sh $(FUZZ_BUILD) $(FUZZ_SECONDS) $(FUZZ_JOBS) $(FUZZ_HARNESSES)

ifeq ($(FUZZ),1)
# clang lacks some of gcc's warnings, and warns where gcc does not about the loader's
# vasprintf() of formats its callers checked (config.c).
WARN := $(filter-out -Wformat-signedness -Wimplicit-fallthrough=5 -Wduplicated-cond -Wlogical-op,$(WARN)) \
        -Wimplicit-fallthrough -Wno-format-nonliteral
# Coverage for libFuzzer in every object; its main() only in the harnesses.
CFLAGS += -fsanitize=fuzzer-no-link

$(BUILD)/fuzz/fuzz-%: $(BUILD)/tests/fuzz/fuzz-%.o $(FUZZ_COMMON_OBJ) $(FUZZ_LINK_OBJ)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -fsanitize=fuzzer -o $@ $^ $(LDLIBS)
endif

clean: fuzz-clean
fuzz-clean:
	rm -rf $(FUZZ_BUILD)
