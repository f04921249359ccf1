/* jvm: a Java process's heap from outside — the HotSpot performance-data file it keeps
 * for jstat, /tmp/hsperfdata_USER/PID as seen in the process's own mount namespace
 * (through /proc/PID/root), read without attaching to it and parsed by lib/hsperf.
 *
 * The file and every directory on the way are the process's to choose: each step is
 * opened relative to the one before with O_NOFOLLOW (a symbolic link anywhere is
 * refused), the file must be a regular file owned by the process's user and no larger
 * than HSPERF_FILE_MAX, and it is opened non-blocking (a FIFO planted there cannot hold
 * the daemon). */
#ifndef LEAKWATCH_JVM_H
#define LEAKWATCH_JVM_H

#include <sys/types.h>

#include "hsperf.h"

/* Directories looked at in the process's /tmp: its entries are read up to this many (a
 * busy /tmp must not cost a scan of thousands of names each time). */
#define JVM_TMP_SCAN_MAX 4096

/* Reads the performance data of process pid, running as uid, relative to the proc root
 * proc_root. Returns 0, -ENOENT (no such file: not a HotSpot JVM, or run with
 * -XX:-UsePerfData), -EPERM (a file not owned by uid, or not a regular file), -ELOOP (a
 * symbolic link on the way), -EFBIG, what hsperf_parse() returns, or -errno. */
int jvm_read(int proc_root, pid_t pid, uid_t uid, struct hsperf_jvm *ret);

#endif
