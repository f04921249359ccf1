/* SPDX-License-Identifier: GPL-2.0-or-later */
/* backtest: leakwatch backtest — the detector (lib/detect.h) replayed over a stored
 * series or a CSV file of "t,value" rows, printing the verdicts it would have given. */
#ifndef LEAKWATCH_BACKTEST_H
#define LEAKWATCH_BACKTEST_H

#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

#include "cli.h"

/* Bounds on a CSV input: a line longer than this is not a "t,value" row, and more rows
 * than this are years of one-second samples. */
#define BACKTEST_MAX_LINE 256
#define BACKTEST_MAX_ROWS 100000000

/* Reads "t,value" rows from f: t in seconds (a decimal, any origin), value in units
 * (bytes for memory; a size suffix is allowed). Blank lines and lines starting with '#'
 * are skipped, and a first line that is not a row is taken for a header. Times must
 * rise. Returns the number of rows (arrays malloc'ed), or -EINVAL with the line number
 * in *ret_line, -E2BIG past the bounds, -ENOMEM. */
ssize_t backtest_read_csv(FILE *f, double **ret_t, double **ret_v, size_t *ret_line);

int cmd_backtest(struct cli *c, int argc, char **argv);

#endif
