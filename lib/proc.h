/* SPDX-License-Identifier: GPL-2.0-or-later */
/* proc: the kernel's /proc text formats — pure parsers over buffers, and readers that
 * work relative to a proc root directory descriptor, so tests point them at fixtures.
 *
 * Everything read here is untrusted: a process chooses its own name (up to 15 bytes
 * through prctl, or 64 for some kernel threads), and that name may contain spaces,
 * parentheses, newlines, "VmRSS: 999999" or invalid UTF-8. Parsers never trust a
 * field they cannot locate unambiguously, bound every copy, and report a missing field
 * as missing (a bit in `have`), never as 0.
 *
 * Conventions: functions return 0 (or a length) on success and -errno on failure;
 * out-parameters are ret_* and are not written on failure, except where a parser
 * documents partial results through `have`. No function here logs. */
#ifndef LEAKWATCH_PROC_H
#define LEAKWATCH_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "sample.h"

/* Kernel threads may show names up to 64 bytes in stat (workqueue workers); user tasks
 * at most 15 (TASK_COMM_LEN 16 with the NUL). */
#define PROC_COMM_MAX 64
/* A cgroup path is cut here; real ones are far shorter, and rules compare prefixes. */
#define PROC_CGROUP_MAX 512
/* The command line kept for matching and display; longer ones are cut (pgrep -f reads
 * 4 KiB too). */
#define PROC_CMDLINE_MAX 4096
/* A systemd unit name is at most 256 bytes (UNIT_NAME_MAX). */
#define PROC_UNIT_MAX 256
/* /proc/sys/kernel/random/boot_id: 36 characters of UUID. */
#define PROC_BOOT_ID_LEN 36

/* ---- parsers over buffers ---- */

/* /proc/PID/stat. The name is between the first '(' and the *last* ')', because the
 * name itself may contain ')'; fields are then counted from that last ')'. */
struct proc_stat {
        char comm[PROC_COMM_MAX + 1];   /* as the kernel printed it, NUL-terminated */
        char state;                     /* R S D Z T t X I ... */
        pid_t ppid;
        pid_t pgrp;
        pid_t session;
        uint32_t flags;                 /* PF_* flags; PF_KTHREAD marks kernel threads */
        uint64_t minflt, majflt;
        uint64_t utime, stime;          /* clock ticks */
        int64_t num_threads;
        uint64_t starttime;             /* clock ticks after boot: part of process identity */
        uint64_t vsize;                 /* bytes */
        int64_t rss_pages;              /* approximate since Linux 6.2: the per-CPU
                                         * counters unsummed (use status VmRSS) */
        uint64_t start_brk;             /* field 47, where the brk heap begins; 0 when
                                         * absent, or hidden (no ptrace access) */
};
/* Returns 0, or -EINVAL if the text is not a stat line (too few fields, no parens, a
 * field that is not a number). Fields up to rss (24) are required; a field counts only
 * when a space or the newline ends it within len, so a cut line never gives a cut
 * number. A name longer than PROC_COMM_MAX (never printed by a kernel) is cut. */
int proc_parse_stat(const char *buf, size_t len, struct proc_stat *ret);
bool proc_stat_is_kthread(const struct proc_stat *st);
/* State Z, or X (being reaped): either way the memory is already released. */
bool proc_stat_is_zombie(const struct proc_stat *st);

/* /proc/PID/status. Only lines that start with a known key count; if a key appears
 * twice the last one wins, because only the first line (Name:) can carry text the
 * process chose, so anything spoofed through a name comes before the real line. For
 * the lines only some tasks have (Vm*, Rss*), the lines between Name: and the first
 * Umask: or State: line are ignored too (see proc.c). Linux escapes '\n' in Name:
 * (observed on 6.18), so this is defence in depth. A known line whose value does not parse makes
 * that field absent; a line counts only if its newline lies within len. */
enum proc_status_field {
        PS_UID, PS_PPID, PS_TGID, PS_VMSIZE, PS_VMRSS, PS_RSSANON, PS_RSSFILE,
        PS_RSSSHMEM, PS_VMDATA, PS_VMSWAP, PS_THREADS, PS__MAX
};
struct proc_status {
        uint32_t have;                  /* bit (1u << PS_*) set when the line was found */
        uid_t uid_real, uid_eff;        /* Uid: real effective saved fs */
        pid_t ppid, tgid;
        uint64_t vmsize_kb, vmrss_kb, rssanon_kb, rssfile_kb, rssshmem_kb, vmdata_kb, vmswap_kb;
        int64_t threads;
};
/* Returns 0 (fields it did not find are absent from have), or -EINVAL if none of the
 * fields was found. */
int proc_parse_status(const char *buf, size_t len, struct proc_status *ret);

/* /proc/PID/smaps_rollup, values in KiB. */
enum proc_rollup_field {
        PR_RSS, PR_PSS, PR_PSS_ANON, PR_PSS_FILE, PR_PSS_SHMEM, PR_SHARED_CLEAN,
        PR_SHARED_DIRTY, PR_PRIVATE_CLEAN, PR_PRIVATE_DIRTY, PR_ANONYMOUS, PR_SWAP,
        PR_SWAP_PSS, PR__MAX
};
struct proc_rollup {
        uint32_t have;                  /* bit (1u << PR_*) */
        uint64_t kb[PR__MAX];
};
/* Returns 0; -ENODATA for empty text (a process without mm: never report that as
 * zeros); -EINVAL for text without the [rollup] header line. */
int proc_parse_smaps_rollup(const char *buf, size_t len, struct proc_rollup *ret);

/* The [heap] (brk) records of /proc/PID/smaps text, which may be only a prefix of the
 * file: mappings come in address order and the heap usually sits right after the
 * executable's, so a reader can stop early instead of making the kernel walk every
 * mapping. Only a header whose name is exactly "[heap]" counts (a file's path starts
 * with '/', a named anonymous mapping is "[anon:...]"). The heap may be several
 * consecutive [heap] records (a child's brk memory grown after fork() does not merge
 * with the inherited part); the result is their sum.
 * Returns 0 when the records and their Rss: lines were found and the next record has
 * begun (or the text is complete); -EAGAIN when the text ends before that and more may
 * follow (complete == false); -ENOENT when the text is complete and has no heap;
 * -ENODATA when it is complete and empty (no mm: kernel thread or zombie); -EINVAL for
 * malformed text. */
struct proc_heap {
        uint64_t size_kb;               /* end - start of the mappings */
        uint64_t rss_kb;
};
int proc_parse_smaps_heap(const char *buf, size_t len, bool complete, struct proc_heap *ret);
/* The same, told the process's start_brk (struct proc_stat; 0 for unknown): the heap
 * never begins above it, so the first mapping that does (beyond a small slack) ends
 * the search with -ENOENT without the rest of the file. Sound for every address-space
 * layout, the legacy one with mmap regions below the executable included. */
int proc_parse_smaps_heap_brk(const char *buf, size_t len, bool complete, uint64_t start_brk,
                              struct proc_heap *ret);

/* /proc/PID/cgroup: the unified hierarchy's path ("0::/system.slice/x.service") or, on
 * a legacy host, the name=systemd hierarchy's; also the latter when the unified one is
 * mounted but unused (every process in its root "/"). The path is as printed, with
 * " (deleted)" if the cgroup was removed. Returns 0, -ENOENT if neither is there,
 * -ENAMETOOLONG if the path does not fit, -EINVAL if a hierarchy is listed twice (only
 * forged text can do that: the kernel refuses cgroup names holding a newline). */
int proc_parse_cgroup(const char *buf, size_t len, char *ret_path, size_t pathsz);

/* /proc/PID/cgroup: the cgroup whose memory controller charges the process — the line
 * of a legacy (v1) hierarchy that lists "memory" among its controllers, *ret_v1 true,
 * or else the unified hierarchy's, *ret_v1 false. The path is as printed (" (deleted)"
 * included). Returns 0, -ENOENT if neither is there, -ENAMETOOLONG if the path does
 * not fit, -EINVAL if either is listed twice (forged text). ret_path and *ret_v1 are
 * written only on success. */
int proc_parse_cgroup_memory(const char *buf, size_t len, char *ret_path, size_t pathsz, bool *ret_v1);

/* The systemd unit a cgroup path belongs to, read the way systemd reads it: leading
 * slices are skipped and the next component must be a unit of a type that holds
 * processes (.service, .scope, .socket, .mount, .swap); inside a user manager
 * (user@UID.service) its own unit below its slices is taken instead. Cgroups below a
 * unit are that unit's delegated business, named by the service itself, and never
 * give the answer. So "/user.slice/user-1000.slice/user@1000.service/app.slice/
 * foo.service" gives "foo.service", ".../user@1000.service/init.scope" "init.scope",
 * and "/system.slice/foo.service/sshd.service" "foo.service".
 * A user manager's units are named by that user: anything that acts on a unit (a
 * hook, systemctl) must use proc_cgroup_system_unit().
 * Returns 0, -ENOENT (not in a unit: "/", a container's own tree), -ENAMETOOLONG. */
int proc_cgroup_unit(const char *path, char *ret_unit, size_t unitsz);
/* The unit of the system manager: "user@1000.service" for the example above. */
int proc_cgroup_system_unit(const char *path, char *ret_unit, size_t unitsz);

/* /proc/PID/cmdline (NUL-separated) joined with spaces, like pgrep -f, without the
 * trailing NUL; cut to outsz - 1 bytes. Returns the length (0 for kernel threads). */
size_t proc_cmdline_join(const char *buf, size_t len, char *out, size_t outsz);

/* The soft limit on open descriptors from /proc/PID/limits ("Max open files"), the
 * ceiling a descriptor leak runs into. "unlimited" gives UINT64_MAX. Returns 0, or
 * -ENOENT without that line, -EINVAL if it is malformed. */
int proc_parse_limits_nofile(const char *buf, size_t len, uint64_t *ret_soft);

/* The soft limits a leak runs into, from /proc/PID/limits: RLIMIT_AS ("Max address
 * space", bytes, against VmSize), RLIMIT_DATA ("Max data size", bytes, against VmData)
 * and RLIMIT_NOFILE ("Max open files"); UINT64_MAX for "unlimited". Returns 0, or
 * -ENOENT if a line is missing, -EINVAL if one is malformed. */
struct proc_limits {
        uint64_t as, data, nofile;
};
int proc_parse_limits(const char *buf, size_t len, struct proc_limits *ret);

/* ---- readers relative to a proc root ---- */

/* Opens the proc root ("/proc" or a fixture directory). Returns an fd or -errno. */
int proc_root_open(const char *path);

/* Reads the whole of dirfd/name into buf, NUL-terminated, at most bufsz - 1 bytes.
 * Returns the length, -E2BIG if the file did not fit (buf then holds its first
 * bufsz - 1 bytes and a NUL: a prefix of cmdline has NULs of its own, so its length
 * is bufsz - 1, not strlen), or -errno from open/read (ENOENT, EACCES, ESRCH when the
 * process is gone). */
ssize_t proc_read_file(int dirfd, const char *name, char *buf, size_t bufsz);

/* Re-reads a kept-open stat or status from offset 0 with one pread (the kernel formats
 * these whole in every read, so a short read is their end); same returns as above.
 * Not for files the kernel hands out in pieces (smaps, maps). */
ssize_t proc_pread(int fd, char *buf, size_t bufsz);

/* The files the sampler keeps open across ticks for one process. Kept descriptors of a
 * zombie still read (state Z, no memory lines); once it is reaped they read with
 * ESRCH, as do opens relative to dir (observed on 6.18, see proc.c), so a reused PID
 * can never be read through an old process's descriptors. */
struct proc_files {
        int dir;                        /* O_PATH|O_DIRECTORY of PID */
        int stat;                       /* O_RDONLY stat */
        int status;                     /* O_RDONLY status */
        bool procfs;                    /* dir is on procfs (asked once, at open) */
};
#define PROC_FILES_INIT { .dir = -1, .stat = -1, .status = -1 }
/* Descriptors one struct proc_files holds open. */
#define PROC_FILES_FDS 3
/* Returns 0 or -errno (ENOENT: no such process; EACCES: not permitted). */
int proc_files_open(int rootfd, pid_t pid, struct proc_files *ret);
void proc_files_close(struct proc_files *f);

/* Number of open descriptors: st_size of PID/fd (Linux 6.2 and later report the count
 * there); on older kernels, or a fixture, counts the entries. Returns 0 or -errno
 * (EACCES is common: other users' fd directories need CAP_DAC_READ_SEARCH). */
int proc_count_fds(int piddir, uint64_t *ret_count);
/* The same for kept files, which know their file system: no fstatfs() per count. */
int proc_files_count_fds(const struct proc_files *f, uint64_t *ret_count);

/* Reads smaps_rollup of the process into ret. Returns 0, -ENODATA (no mm: kernel
 * thread or zombie; the kernel refuses the open with ESRCH for both, told apart from a
 * process that is gone here), or -errno; -ENOENT if the kernel has no smaps_rollup
 * (before 4.14, or without CONFIG_PROC_PAGE_MONITOR) — the process itself being gone
 * gives ESRCH. buf is scratch space (4 KiB is enough). */
int proc_read_rollup(int piddir, char *buf, size_t bufsz, struct proc_rollup *ret);

/* Reads /proc/PID/smaps only as far as the [heap] records, in small reads, never more
 * than bufsz bytes; reads the process's stat first for start_brk, which lets it stop
 * early when there is no heap (proc_parse_smaps_heap_brk()). Returns 0; -ENOENT: no
 * heap (common: many programs, Go ones among them, never call brk), or no smaps in
 * this kernel — record it as absent, not through proc_errno_reason(), whose ENOENT
 * means gone; -E2BIG: bufsz ran out before the answer (a PIE's heap usually begins
 * within the first 8 KiB, after the executable's five records); -ENODATA: no mm; or
 * -errno (ESRCH: gone). */
int proc_read_heap(int piddir, char *buf, size_t bufsz, struct proc_heap *ret);

/* Reads the boot id (the UUID the kernel makes at every boot) from
 * root/sys/kernel/random/boot_id into ret (PROC_BOOT_ID_LEN + 1 bytes). Returns 0,
 * -EINVAL if ret is too small or the file is not one UUID line, or -errno. */
int proc_read_boot_id(int rootfd, char *ret, size_t retsz);

/* Lists the numeric entries of the proc root (the processes) into *pids, growing the
 * array (and *cap) as needed with realloc; the caller frees *pids. Returns the count
 * or -errno; on failure *pids and *cap stay a valid pair (possibly grown). */
ssize_t proc_list_pids(int rootfd, pid_t **pids, size_t *cap);

/* Whether the proc root hides processes from us: procfs mounted with hidepid=invisible
 * (or 2), and we lack the capability to see through it. Then another user's process is
 * not listed, and one we watched vanishes from lookups while it runs: the readers above
 * give EACCES for it, never ENOENT (gone). */
bool proc_root_hides(int rootfd);
/* Whether PID runs but the proc root hides it (it exists for kill(), not in proc). */
bool proc_pid_hidden(int rootfd, pid_t pid);

/* Maps an errno from the readers above to the reason stored with an unknown value:
 * EACCES/EPERM denied; ESRCH/ENOENT gone; ENODATA zombie (no mm: the sampler has set
 * kernel threads aside by their stat flags before reading memory, so a process
 * without mm is one that exited since; a caller with a stat at hand should prefer
 * proc_stat_is_kthread()); 0 none; anything else error. */
enum unknown_reason proc_errno_reason(int negative_errno);

#endif
