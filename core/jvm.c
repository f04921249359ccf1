/* jvm: the HotSpot performance-data file of a Java process, found and read without following a link. */
#include "jvm.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proc.h"
#include "util.h"

/* The process's PID in its own PID namespace (the last NSpid of its status): the JVM
 * names the file after the PID it sees. Returns it, or -errno. */
static int ns_pid(int proc_root, pid_t pid)
{
        char path[32], buf[4096], *line, *end;
        long v = -1;
        ssize_t n;

        snprintf(path, sizeof(path), "%d/status", (int)pid);
        n = proc_read_file(proc_root, path, buf, sizeof(buf));
        if (n < 0)
                return (int)n;
        line = strstr(buf, "\nNSpid:");
        if (!line)
                return pid;             /* a kernel before 4.1: one namespace */
        line += strlen("\nNSpid:");
        for (;;) {
                long x;

                line += strspn(line, " \t");
                if (*line < '0' || *line > '9')
                        break;
                errno = 0;
                x = strtol(line, &end, 10);
                if (errno || x <= 0 || x > 4194304)
                        return -EINVAL;
                v = x;
                line = end;
        }
        return v > 0 ? (int)v : -EINVAL;
}

/* Reads the regular file fd, owned by uid, whole. */
static int read_perf(int fd, uid_t uid, struct hsperf_jvm *ret)
{
        struct stat st;
        uint8_t *buf;
        size_t done = 0;
        int r;

        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode) || st.st_uid != uid)
                return -EPERM;
        if (st.st_size <= 0 || st.st_size > HSPERF_FILE_MAX)
                return -EFBIG;
        buf = malloc((size_t)st.st_size);
        if (!buf)
                return -ENOMEM;
        while (done < (size_t)st.st_size) {
                ssize_t n = pread(fd, buf + done, (size_t)st.st_size - done, (off_t)done);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        break;
                done += (size_t)n;
        }
        r = hsperf_parse(buf, done, ret);
        free(buf);
        return r;
}

int jvm_read(int proc_root, pid_t pid, uid_t uid, struct hsperf_jvm *ret)
{
        char path[32], name[32];
        int nspid, root, tmp, r = -ENOENT;
        unsigned seen = 0;
        DIR *d;

        nspid = ns_pid(proc_root, pid);
        if (nspid < 0)
                return nspid;
        snprintf(path, sizeof(path), "%d/root", (int)pid);
        /* The process's root directory (a magic link: opening it is the point). */
        root = openat(proc_root, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (root < 0)
                return -errno;
        tmp = openat(root, "tmp", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        close(root);
        if (tmp < 0)
                return errno == ENOTDIR ? -ELOOP : -errno;
        d = fdopendir(tmp);
        if (!d) {
                close(tmp);
                return -errno;
        }
        snprintf(name, sizeof(name), "%d", nspid);
        /* hsperfdata_USER, USER as the JVM saw it: each such directory is tried for the
         * PID's file, the first one that holds it counts. */
        for (struct dirent *de; r == -ENOENT && seen < JVM_TMP_SCAN_MAX && (de = readdir(d)); seen++) {
                int dir, fd;

                if (strncmp(de->d_name, "hsperfdata_", strlen("hsperfdata_")) != 0)
                        continue;
                dir = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (dir < 0) {
                        if (errno == ELOOP || errno == ENOTDIR)
                                r = -ELOOP;
                        continue;
                }
                fd = openat(dir, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
                close(dir);
                if (fd < 0) {
                        if (errno == ELOOP)
                                r = -ELOOP;
                        continue;
                }
                r = read_perf(fd, uid, ret);
                close(fd);
        }
        closedir(d);
        return r;
}
