/*
 * forward: forward a TCP port on the router to this host, with libpfwd.
 *
 *   forward PORT [SECONDS]
 *
 * Prints one line with the address the internet reaches, keeps the mapping
 * alive (renewed, made again after a router restart) for SECONDS, or until
 * SIGINT or SIGTERM when no SECONDS are given, then removes it and exits 0.
 * When no method can do it, prints the guide for doing it by hand and
 * exits 3; on bad input prints the error and exits 2; other errors exit 1.
 *
 * Build (after scripts/install-c PREFIX, with PKG_CONFIG_PATH set):
 *
 *   cc -o forward forward.c $(pkg-config --cflags --libs pfwd)
 */
/* sigaction and nanosleep are POSIX: name it, so that -std=c11 builds it too. */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <pfwd.h>

static volatile sig_atomic_t stop;

static void on_signal(int sig) {
    (void)sig;
    stop = 1;
}

static void on_event(const pfwd_event *event, void *user) {
    (void)user;
    printf("event: %s\n", pfwd_event_text(event));
    fflush(stdout);
}

/* Print an error and free it; the exit status for it. */
static int fail(pfwd_result r, pfwd_error *error) {
    int status = 1;
    if (r == PFWD_MANUAL) {
        char *guide = pfwd_error_guide(error, PFWD_FORMAT_TEXT);
        fputs(guide ? guide : pfwd_error_message(error), stdout);
        pfwd_string_free(guide);
        status = 3;
    } else {
        fprintf(stderr, "error: %s\n", pfwd_error_message(error));
        if (r == PFWD_INVALID_REQUEST || r == PFWD_INVALID_ARGUMENT) status = 2;
    }
    pfwd_error_free(error);
    return status;
}

int main(int argc, char **argv) {
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: forward PORT [SECONDS]\n");
        return 2;
    }
    long seconds = -1;
    if (argc == 3) {
        char *end;
        errno = 0;
        seconds = strtol(argv[2], &end, 10);
        if (errno || *end || end == argv[2] || seconds < 0) {
            fprintf(stderr, "error: \"%s\" is not a number of seconds\n", argv[2]);
            return 2;
        }
    }

    pfwd_error *error = NULL;
    pfwd_request_options options;
    pfwd_request_options_init(&options);
    options.protocol = PFWD_TCP;
    options.lease_seconds = 600;
    options.description = "pfwd C example";
    pfwd_request *request = NULL;
    pfwd_result r = pfwd_request_new(argv[1], &options, &request, &error);
    if (r != PFWD_OK) return fail(r, error);

    /* Ctrl-C or SIGTERM from here on ends the program cleanly (the mapping
       is removed), also when it comes while the router is being asked. */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    /* Discover and map at once: one round trip on a PCP router. */
    pfwd_client *client = NULL;
    pfwd_mapping *mapping = NULL;
    r = pfwd_forward(NULL, request, NULL, &client, &mapping, &error);
    if (r != PFWD_OK) {
        pfwd_request_free(request);
        return fail(r, error);
    }
    printf("forwarded: TCP %s:%u -> %s:%u by %s\n", pfwd_mapping_external_ip(mapping),
           pfwd_mapping_external_port(mapping), pfwd_mapping_internal_ip(mapping),
           pfwd_mapping_internal_port(mapping),
           pfwd_mapping_method(mapping) == PFWD_METHOD_PCP      ? "PCP"
           : pfwd_mapping_method(mapping) == PFWD_METHOD_NATPMP ? "NAT-PMP"
                                                                : "UPnP-IGD");
    fflush(stdout);

    /* The keeper adopts the mapping and reports on pfwd's own thread. */
    pfwd_keeper *keeper = NULL;
    r = pfwd_client_keep(client, request, mapping, NULL, &keeper, &error);
    if (r == PFWD_OK) r = pfwd_keeper_on_event(keeper, on_event, NULL, &error);
    int status = 0;
    if (r != PFWD_OK) {
        status = fail(r, error);
        error = NULL;
    } else {
        struct timespec tick = {0, 100 * 1000 * 1000};
        for (long waited = 0; !stop && (seconds < 0 || waited < seconds * 10); waited++)
            nanosleep(&tick, NULL);
        char *report = NULL;
        r = pfwd_keeper_close(keeper, NULL, &report, &error);
        if (r == PFWD_OK) {
            printf("closed: %s\n", report);
        } else {
            status = fail(r, error);
        }
        pfwd_string_free(report);
    }
    pfwd_keeper_free(keeper);
    pfwd_mapping_free(mapping);
    pfwd_client_free(client);
    pfwd_request_free(request);
    return status;
}
