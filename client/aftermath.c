/* SPDX-License-Identifier: GPL-2.0-or-later */
/* aftermath: an alert's sites, evidence bundles and restarts, read, printed and in JSON. */
#include "aftermath.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "jsonval.h"
#include "objects.h"
#include "util.h"

int aftermath_read(struct query *q, const struct query_alert *a, struct aftermath *ret)
{
        /* Tracing begins with the suspicion, before the alert: its sites from the start
         * of the evidence. */
        int64_t from = a->evidence_from ? MIN(a->evidence_from, a->start_ms) : a->start_ms;
        struct aftermath x = { 0 };
        int r;

        r = query_sites(q, a->process_id, from, a->end_ms ? a->end_ms + 1 : INT64_MAX, &x.sites, &x.nsites);
        if (r >= 0)
                r = query_alert_bundles(q, a->id, &x.bundles, &x.nbundles);
        if (r >= 0)
                r = query_restarts(q, a->id, &x.restarts, &x.nrestarts);
        if (r < 0) {
                aftermath_free(&x);
                return r;
        }
        *ret = x;
        return 0;
}

void aftermath_free(struct aftermath *x)
{
        query_sites_free(x->sites, x->nsites);
        query_alert_bundles_free(x->bundles, x->nbundles);
        query_restarts_free(x->restarts, x->nrestarts);
        *x = (struct aftermath){ 0 };
}

static int by_name(const void *a, const void *b)
{
        return strcmp(((const struct aftermath_file *)a)->name, ((const struct aftermath_file *)b)->name);
}

int aftermath_list(const char *path, struct aftermath_file *ret, size_t max)
{
        int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        size_t n = 0;
        DIR *d;

        if (fd < 0)
                return -errno;
        d = fdopendir(fd);
        if (!d) {
                int r = -errno;

                close(fd);
                return r;
        }
        for (struct dirent *de; (de = readdir(d));) {
                struct stat st;

                if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
                        continue;
                if (n < max) {
                        snprintf(ret[n].name, sizeof(ret[n].name), "%s", de->d_name);
                        ret[n].bytes = (int64_t)st.st_size;
                }
                n++;
        }
        closedir(d);
        qsort(ret, MIN(n, max), sizeof(*ret), by_name);
        return (int)MIN(n, (size_t)INT32_MAX);
}

/* Why a bundle's directory could not be listed, in words. */
static const char *list_error(int r)
{
        return r == -ENOENT ? "gone (pruned, or removed)" : r == -EACCES || r == -EPERM ?
               "not readable by this user (the directory is leakwatchd's, mode 0700)" : strerror(-r);
}

static struct json_object *obj_holds(const struct aftermath_file *f, size_t n)
{
        struct json_object *arr = json_object_new_array();

        for (size_t i = 0; arr && i < n; i++) {
                struct json_object *o = json_object_new_object();

                if (!o || json_add(o, "name", json_text(f[i].name, strlen(f[i].name))) < 0 ||
                    json_add(o, "bytes", json_object_new_int64(f[i].bytes)) < 0 || json_object_array_add(arr, o) < 0) {
                        json_object_put(o);
                        json_object_put(arr);
                        return NULL;
                }
        }
        return arr;
}

int aftermath_json(struct json_object *o, const struct aftermath *x)
{
        struct json_object *bundles = json_object_new_array(), *restarts = json_object_new_array();
        struct aftermath_file *files = calloc(AFTERMATH_FILES_MAX, sizeof(*files));
        int r = bundles && restarts && files ? 0 : -ENOMEM;

        for (size_t i = 0; r == 0 && i < x->nbundles; i++) {
                struct json_object *b = obj_bundle(&x->bundles[i]), *holds = NULL;
                int n = b ? aftermath_list(x->bundles[i].path, files, AFTERMATH_FILES_MAX) : 0;

                r = b ? 0 : -ENOMEM;
                if (r == 0 && n >= 0 && !(holds = obj_holds(files, MIN((size_t)n, (size_t)AFTERMATH_FILES_MAX))))
                        r = -ENOMEM;
                if (r == 0)
                        r = json_add(b, "holds", holds), holds = NULL;
                if (r == 0)
                        r = json_add(b, "holds_error", n < 0 ? json_str(list_error(n)) : NULL);
                if (r == 0)
                        r = json_object_array_add(bundles, b), b = NULL;
                json_object_put(holds);
                json_object_put(b);
        }
        for (size_t i = 0; r == 0 && i < x->nrestarts; i++) {
                struct json_object *e = obj_restart(&x->restarts[i]);

                r = e ? json_object_array_add(restarts, e) : -ENOMEM;
                if (r < 0)
                        json_object_put(e);
        }
        if (r == 0)
                r = json_add(o, "sites", obj_sites(x->sites, x->nsites));
        if (r == 0)
                r = json_add(o, "bundles", bundles), bundles = NULL;
        if (r == 0)
                r = json_add(o, "restarts", restarts), restarts = NULL;
        json_object_put(bundles);
        json_object_put(restarts);
        free(files);
        return r < 0 ? -ENOMEM : 0;
}

void aftermath_print_bundles(const struct out *o, const struct query_bundle *x, size_t n, unsigned indent)
{
        struct aftermath_file *files = calloc(AFTERMATH_FILES_MAX, sizeof(*files));

        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *path = out_escape(x[i].path, strlen(x[i].path));
                _cleanup_free_ char *ev = out_escape(x[i].event, strlen(x[i].event));
                _cleanup_free_ char *why = x[i].note ? out_escape(x[i].note, strlen(x[i].note)) : NULL;
                char t[64], size[32];
                int k = files ? aftermath_list(x[i].path, files, AFTERMATH_FILES_MAX) : -ENOMEM;

                fprintf(o->f, "%*s%s %s: %s (%" PRId64 " files, %s)%s%s\n", (int)indent, "",
                        out_time(o, x[i].t_ms, TIME_SECONDS, t, sizeof(t)), ev ? ev : "?", path ? path : "?",
                        x[i].files, format_size(x[i].bytes > 0 ? (uint64_t)x[i].bytes : 0, size, sizeof(size)),
                        why ? "; " : "", why ? why : "");
                fprintf(o->f, "%*s  holds: ", (int)indent, "");
                if (k < 0)
                        fprintf(o->f, "(%s)", list_error(k));
                for (int j = 0; j < k && j < AFTERMATH_FILES_MAX; j++) {
                        _cleanup_free_ char *name = out_escape(files[j].name, strlen(files[j].name));

                        fprintf(o->f, "%s%s", j ? ", " : "", name ? name : "?");
                }
                if (k > AFTERMATH_FILES_MAX)
                        fprintf(o->f, ", and %d more", k - AFTERMATH_FILES_MAX);
                fputc('\n', o->f);
        }
        free(files);
}
