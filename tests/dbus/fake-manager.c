/* fake-manager: stands in for systemd on a private D-Bus bus in the tests — owns the
 * name org.freedesktop.systemd1 and implements Manager.RestartUnit(s unit, s mode) -> o
 * job, writing one line "UNIT MODE" per call to a record file, so a test can see exactly
 * what leakwatchd asked. A unit whose name starts with "fail" gets the error
 * org.freedesktop.systemd1.UnitMasked instead (what systemd says of a masked unit), and
 * one starting with "slow" is answered only after SLOW_SEC.
 *
 *   fake-manager BUS_ADDRESS RECORD_FILE
 *
 * Prints "ready" on stdout once it owns the name; exits when the bus goes away. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>
#include <unistd.h>

#define SLOW_SEC 1

static const char *record_path;
static unsigned jobs;

static int record(const char *unit, const char *mode)
{
        FILE *f = fopen(record_path, "ae");

        if (!f)
                return -errno;
        fprintf(f, "%s %s\n", unit, mode);
        return fclose(f) == 0 ? 0 : -errno;
}

static int method_restart_unit(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
        const char *unit, *mode;
        char job[64];
        int r;

        (void)userdata;
        r = sd_bus_message_read(m, "ss", &unit, &mode);
        if (r < 0)
                return r;
        r = record(unit, mode);
        if (r < 0)
                return r;
        if (strncmp(unit, "fail", 4) == 0)
                return sd_bus_error_setf(ret_error, "org.freedesktop.systemd1.UnitMasked", "Unit %s is masked.",
                                         unit);
        if (strncmp(unit, "slow", 4) == 0)
                sleep(SLOW_SEC);
        snprintf(job, sizeof(job), "/org/freedesktop/systemd1/job/%u", ++jobs);
        return sd_bus_reply_method_return(m, "o", job);
}

static const sd_bus_vtable manager_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD("RestartUnit", "ss", "o", method_restart_unit, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END,
};

int main(int argc, char **argv)
{
        sd_event *event = NULL;
        sd_bus *bus = NULL;
        int r;

        if (argc != 3) {
                fprintf(stderr, "usage: fake-manager BUS_ADDRESS RECORD_FILE\n");
                return 2;
        }
        record_path = argv[2];
        r = sd_event_default(&event);
        if (r >= 0)
                r = sd_bus_new(&bus);
        if (r >= 0)
                r = sd_bus_set_address(bus, argv[1]);
        if (r >= 0)
                r = sd_bus_set_bus_client(bus, 1);
        if (r >= 0)
                r = sd_bus_start(bus);
        if (r >= 0)
                r = sd_bus_add_object_vtable(bus, NULL, "/org/freedesktop/systemd1", "org.freedesktop.systemd1.Manager",
                                             manager_vtable, NULL);
        if (r >= 0)
                r = sd_bus_request_name(bus, "org.freedesktop.systemd1", 0);
        if (r >= 0)
                r = sd_bus_attach_event(bus, event, 0);
        /* Exit with the bus: the test ends it by killing dbus-daemon. */
        if (r >= 0)
                r = sd_bus_set_exit_on_disconnect(bus, 1);
        if (r < 0) {
                fprintf(stderr, "fake-manager: %s\n", strerror(-r));
                return 1;
        }
        printf("ready\n");
        fflush(stdout);
        r = sd_event_loop(event);
        sd_bus_flush_close_unref(bus);
        sd_event_unref(event);
        return r < 0 ? 1 : 0;
}
