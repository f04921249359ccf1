/* evidence: the escalation that keeps what a leak looked like while it happens — for an
 * alert of a rule with escalate = evidence (or restart, before the restart), a bundle in
 * a directory of its own under the state directory: the alert as the hooks get it
 * (alert.json), the process's status, limits, smaps_rollup and smaps, its cgroup's
 * memory files (cgroup.memory.*), the latest census of its in-process agents (census:
 * the Python agent's counts of objects by type, the probe's mallinfo2), the allocation
 * sites they last named (sites), and the chart of its memory around the alert
 * (chart.svg, lib/svg). leakwatch.conf(5) (escalate) describes each file.
 *
 * Written by the daemon itself, safely: STATE/evidence is made mode 0700 and must be
 * owned by the daemon's user and closed to everyone else; each bundle is a new directory
 * (mkdirat, never reused), each file created with O_EXCL | O_NOFOLLOW, nothing followed
 * through a symbolic link, every file cut at a bound and the whole bundle too. The
 * process is read through its /proc directory only after its start time proved it is
 * the process alerted on (a PID given to another process would give that one's files).
 * At most EVIDENCE_KEEP bundles are kept: the oldest alert's go first. */
#ifndef LEAKWATCH_EVIDENCE_H
#define LEAKWATCH_EVIDENCE_H

#include <limits.h>
#include <stdint.h>

#include "alert.h"
#include "sampler.h"
#include "store.h"

/* smaps of a process with many mappings runs to megabytes (about 1.5 KiB a mapping);
 * 8 MiB holds some 5,000 mappings, and the rollup has the totals of all of them. */
#define EVIDENCE_SMAPS_MAX (8u * 1024 * 1024)
/* Every other file: status, limits, the cgroup's memory.stat are a few KiB. */
#define EVIDENCE_FILE_MAX (256u * 1024)
/* One bundle in all (the files above with room to spare): what an alert may cost the
 * state directory. */
#define EVIDENCE_BUNDLE_MAX (12u * 1024 * 1024)
/* Bundles kept: at the bound above, 100 of them are 1.2 GiB at most. */
#define EVIDENCE_KEEP 100
/* Room for a reason a bundle could not be made (it names a path). */
#define EVIDENCE_WHY_MAX (PATH_MAX + 128)

struct evidence;

/* state_dir: where STATE/evidence goes (the database's directory); proc_root and
 * cgroup_root: the paths the watch reads. Opens nothing yet. Returns 0 or -ENOMEM. */
int evidence_new(const char *state_dir, const char *proc_root, const char *cgroup_root, struct store *store,
                 struct evidence **ret);
void evidence_free(struct evidence *e);

/* What a bundle holds. */
struct evidence_result {
        char path[PATH_MAX];            /* the bundle's directory */
        uint64_t bytes;
        unsigned files;
        char note[256];                 /* what is missing and why, or "" */
};

/* Takes the bundle of alert event a about process p. Returns 0 (a bundle was made,
 * perhaps with only the alert in it: ret->note says why), or -errno with why (no bundle:
 * the directory could not be made safely). */
int evidence_take(struct evidence *e, const struct sampler_proc *p, const struct alert *a,
                  struct evidence_result *ret, char *why, size_t whysz);

#endif
