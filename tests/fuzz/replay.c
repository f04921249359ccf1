/* SPDX-License-Identifier: GPL-2.0-or-later */
/* replay: runs a fuzz harness over files without libFuzzer, so the corpus — every input
 * that once crashed a parser among them — is checked by the unit tests under any
 * compiler (and under ASan, UBSan and valgrind in make check-asan and check-valgrind).
 *
 *   fuzz-NAME [FILE|DIR]...    the files given, or those of each directory given;
 *                              without arguments, tests/fuzz/corpus/NAME (relative to
 *                              the source tree, where make runs the unit tests)
 *
 * Each input is handed over in a buffer of exactly its size, as libFuzzer does, so a
 * read one byte past it is caught by ASan and valgrind. Exits 0 after the last input;
 * a violated property traps (FUZZ_CHECK), an input that hangs is ended by an alarm,
 * and a directory that cannot be read fails. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"
#include "util.h"

/* A corpus file larger than this is a mistake (libFuzzer's own inputs are far smaller). */
#define REPLAY_INPUT_MAX (1024 * 1024)
/* An input that takes longer is a hang, as for libFuzzer's -timeout in make check-fuzz:
 * SIGALRM ends the program, and the test fails. */
#define REPLAY_INPUT_SECONDS 10

/* Harnesses without state have no LLVMFuzzerInitialize(): it is then NULL. */
#pragma weak LLVMFuzzerInitialize

static int replay_file(const char *path)
{
        _cleanup_free_ uint8_t *buf = NULL;
        _cleanup_close_ int fd = -1;
        struct stat st;
        ssize_t n;

        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0 || fstat(fd, &st) < 0) {
                fprintf(stderr, "%s: %s\n", path, strerror(errno));
                return -errno;
        }
        if (st.st_size > REPLAY_INPUT_MAX) {
                fprintf(stderr, "%s: larger than %d bytes\n", path, REPLAY_INPUT_MAX);
                return -EFBIG;
        }
        /* malloc(0) may return NULL; one byte is allocated then, and none handed over. */
        buf = malloc(st.st_size > 0 ? (size_t)st.st_size : 1);
        if (!buf)
                return -ENOMEM;
        n = pread_full(fd, buf, (size_t)st.st_size, 0);
        if (n < 0) {
                fprintf(stderr, "%s: %s\n", path, strerror((int)-n));
                return (int)n;
        }
        alarm(REPLAY_INPUT_SECONDS);
        LLVMFuzzerTestOneInput(buf, (size_t)n);
        alarm(0);
        return 0;
}

static int entry_filter(const struct dirent *de)
{
        return de->d_name[0] != '.';
}

/* Every file of dir, in name order (a failure then always shows on the same input). */
static int replay_dir(const char *dir, unsigned *count)
{
        struct dirent **list = NULL;
        int n, r = 0;

        n = scandir(dir, &list, entry_filter, alphasort);
        if (n < 0) {
                fprintf(stderr, "%s: %s\n", dir, strerror(errno));
                return -errno;
        }
        for (int i = 0; i < n; i++) {
                char path[4096];

                if (r == 0) {
                        snprintf(path, sizeof(path), "%s/%s", dir, list[i]->d_name);
                        r = replay_file(path);
                        if (r == 0)
                                (*count)++;
                }
                free(list[i]);
        }
        free(list);
        return r;
}

static int replay(const char *path, unsigned *count)
{
        struct stat st;

        if (stat(path, &st) < 0) {
                fprintf(stderr, "%s: %s\n", path, strerror(errno));
                return -errno;
        }
        if (S_ISDIR(st.st_mode))
                return replay_dir(path, count);
        if (replay_file(path) < 0)
                return -EIO;
        (*count)++;
        return 0;
}

int main(int argc, char **argv)
{
        const char *self = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
        char corpus[256];
        unsigned count = 0;
        int r = 0;

        if (strncmp(self, "fuzz-", 5) != 0) {
                fprintf(stderr, "%s: the program's name must be fuzz-NAME\n", argv[0]);
                return EXIT_FAILURE;
        }
        if (LLVMFuzzerInitialize)
                LLVMFuzzerInitialize(&argc, &argv);
        snprintf(corpus, sizeof(corpus), "tests/fuzz/corpus/%s", self + 5);
        if (argc < 2)
                r = replay(corpus, &count);
        for (int i = 1; r == 0 && i < argc; i++)
                r = replay(argv[i], &count);
        if (r < 0)
                return EXIT_FAILURE;
        if (count == 0) {
                /* An empty corpus would pass without checking anything. */
                fprintf(stderr, "no inputs replayed\n");
                return EXIT_FAILURE;
        }
        printf("%u inputs replayed\n", count);
        return EXIT_SUCCESS;
}
