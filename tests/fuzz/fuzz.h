/* SPDX-License-Identifier: GPL-2.0-or-later */
/* fuzz: what every harness in tests/fuzz shares — the libFuzzer entry points and the
 * property check.
 *
 * A harness feeds its input to a parser and checks properties of the answer. The same
 * harness links either with libFuzzer (make fuzz, make check-fuzz: clang with ASan and
 * UBSan) or with replay.c (the unit tests: any compiler), which feeds it every file of
 * its corpus, so an input that once failed stays checked without clang. */
#ifndef LEAKWATCH_FUZZ_H
#define LEAKWATCH_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Called once per input; returns 0 (libFuzzer's contract). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* Optional set-up, called once before any input; a harness without state leaves it out
 * (replay.c declares it weak). */
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* A property that must hold: on violation says which one and where, then traps, so
 * libFuzzer records the input as a crash and replay.c fails. */
#define FUZZ_CHECK(cond)                                                                             \
        do {                                                                                         \
                if (!(cond)) {                                                                       \
                        fprintf(stderr, "%s:%d: property violated: %s\n", __FILE__, __LINE__, #cond); \
                        __builtin_trap();                                                            \
                }                                                                                    \
        } while (0)

/* The length of data's first len bytes up to and with their last newline (0 if none):
 * the text a parser that counts only whole lines reads of it. */
size_t fuzz_whole_lines(const uint8_t *data, size_t len);

/* The directory of the test fixtures ($LEAKWATCH_TEST_FIXTURES, or tests/fixtures
 * relative to the working directory, which is the source tree under make). */
const char *fuzz_fixtures(void);

#endif
