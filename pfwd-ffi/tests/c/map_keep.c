/*
 * The whole job against miniupnpd, driven by tests/gateway/c.rs, which
 * proves each mapping with bytes from the internet between the steps:
 * map once; save to JSON, forget everything, load it and unmap; keep a
 * mapping with events by callback across a router restart (and a blocking
 * call inside the callback: WOULD_DEADLOCK); list; the guide; close; a
 * polled keeper closed by pfwd_shutdown(); the log callback.
 *
 *   map_keep STATE_FILE
 */
#include <pthread.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int log_lines;
static uint32_t kinds[64];
static int nkinds;
static int deadlock_seen = -1;
static int after_closed;
static pfwd_client *shared_client;

static void on_log(pfwd_log_level level, const char *target, const char *message, void *user) {
    CHECK(user == &log_lines);
    CHECK(level >= PFWD_LOG_ERROR && level <= PFWD_LOG_TRACE);
    CHECK(target && message);
    pthread_mutex_lock(&lock);
    log_lines++;
    pthread_mutex_unlock(&lock);
}

static void on_event(const pfwd_event *event, void *user) {
    CHECK(user == &nkinds);
    uint32_t kind = pfwd_event_get_kind(event);
    if (kind == PFWD_EVENT_MAPPED && deadlock_seen < 0) {
        /* A blocking call on the thread that delivers the events. */
        char *address = NULL;
        pfwd_error *error = NULL;
        pfwd_result r = pfwd_client_external_address(shared_client, NULL, &address, &error);
        CHECK(address == NULL); /* outputs only on success */
        CHECK(pfwd_error_result(error) == r);
        pthread_mutex_lock(&lock);
        deadlock_seen = (int)r;
        pthread_mutex_unlock(&lock);
        pfwd_error_free(error);
    }
    if (kind == PFWD_EVENT_MAPPED || kind == PFWD_EVENT_RESTORED) {
        const pfwd_mapping *m = pfwd_event_mapping(event);
        CHECK(m != NULL && pfwd_mapping_internal_port(m) == 9090);
        CHECK(pfwd_event_index(event) == 0);
    }
    CHECK(strlen(pfwd_event_text(event)) > 0);
    pthread_mutex_lock(&lock);
    if (nkinds > 0 && kinds[nkinds - 1] == PFWD_EVENT_CLOSED) after_closed++;
    if (nkinds < 64) kinds[nkinds++] = kind;
    pthread_mutex_unlock(&lock);
}

/* Wait up to `seconds` for an event of `kind` in the callback's record. */
static int seen(uint32_t kind, int seconds) {
    for (int i = 0; i < seconds * 10; i++) {
        pthread_mutex_lock(&lock);
        int found = 0;
        for (int k = 0; k < nkinds; k++) found |= kinds[k] == kind;
        pthread_mutex_unlock(&lock);
        if (found) return 1;
        usleep(100 * 1000);
    }
    return 0;
}

static pfwd_request *request(const char *port, uint32_t protocol) {
    pfwd_request_options o;
    pfwd_request_options_init(&o);
    o.protocol = protocol;
    o.lease_seconds = 600;
    o.description = "pfwd C test";
    pfwd_request *r = NULL;
    EXPECT(PFWD_OK, pfwd_request_new(port, &o, &r, ep_));
    return r;
}

int main(int argc, char **argv) {
    CHECK(argc == 2);
    CHECK(strcmp(pfwd_version(), PFWD_VERSION) == 0);
    EXPECT(PFWD_OK, pfwd_set_log_callback(on_log, &log_lines, PFWD_LOG_DEBUG, ep_));

    /* Discover; what each method answered; the external address. */
    pfwd_client_options co;
    pfwd_client_options_init(&co);
    co.budget_ms = 2000;
    pfwd_client *client = NULL;
    EXPECT(PFWD_OK, pfwd_client_new(&co, NULL, &client, ep_));
    char *discovery = pfwd_client_discovery(client);
    CHECK(discovery && strstr(discovery, "\"methods\""));
    SAY("discovery %s", discovery);
    pfwd_string_free(discovery);
    char *address = NULL;
    EXPECT(PFWD_OK, pfwd_client_external_address(client, NULL, &address, ep_));
    SAY("external %s", address);
    pfwd_string_free(address);

    /* Map once, by service name. */
    pfwd_request *web = request("http-alt", PFWD_TCP);
    pfwd_mapping *m = NULL;
    EXPECT(PFWD_OK, pfwd_client_map(client, web, NULL, &m, ep_));
    CHECK(pfwd_mapping_internal_port(m) == 8080);
    CHECK(pfwd_mapping_protocol(m) == PFWD_TCP);
    CHECK(pfwd_mapping_method(m) == PFWD_METHOD_PCP);
    CHECK(pfwd_mapping_lease_seconds(m) > 0);
    time_t now = time(NULL);
    CHECK(pfwd_mapping_granted_at(m) <= now && pfwd_mapping_granted_at(m) > now - 60);
    CHECK(pfwd_mapping_expires_at(m) == pfwd_mapping_granted_at(m) + pfwd_mapping_lease_seconds(m));
    CHECK(strcmp(pfwd_mapping_description(m), "pfwd C test") == 0);
    SAY("mapped %u %s", pfwd_mapping_external_port(m), pfwd_mapping_to_string(m));
    wait_driver();

    /* Save it, forget everything (as a restart would), load it, unmap. */
    char *json = NULL;
    EXPECT(PFWD_OK, pfwd_mapping_to_json(m, &json, ep_));
    FILE *f = fopen(argv[1], "w");
    CHECK(f && fputs(json, f) >= 0 && fclose(f) == 0);
    pfwd_string_free(json);
    uint16_t port = pfwd_mapping_external_port(m);
    pfwd_mapping_free(m);
    pfwd_client_free(client);
    char saved[4096] = {0};
    f = fopen(argv[1], "r");
    CHECK(f && fread(saved, 1, sizeof saved - 1, f) > 0);
    fclose(f);
    EXPECT(PFWD_OK, pfwd_client_new(&co, NULL, &client, ep_));
    pfwd_mapping *loaded = NULL;
    EXPECT(PFWD_OK, pfwd_mapping_from_json(saved, &loaded, ep_));
    CHECK(pfwd_mapping_external_port(loaded) == port);
    EXPECT(PFWD_OK, pfwd_client_unmap(client, loaded, NULL, ep_));
    pfwd_mapping_free(loaded);
    SAY("unmapped %u", port);
    wait_driver();

    /* Keep one in the background, events by callback. */
    shared_client = client;
    pfwd_keeper_options ko;
    pfwd_keeper_options_init(&ko);
    ko.check_interval_ms = 2000;
    pfwd_request *kept = request("9090", PFWD_TCP);
    pfwd_keeper *keeper = NULL;
    EXPECT(PFWD_OK, pfwd_client_keep(client, kept, NULL, &ko, &keeper, ep_));
    EXPECT(PFWD_OK, pfwd_keeper_on_event(keeper, on_event, &nkinds, ep_));
    CHECK(seen(PFWD_EVENT_MAPPED, 10));
    pthread_mutex_lock(&lock);
    CHECK(deadlock_seen == PFWD_WOULD_DEADLOCK);
    pthread_mutex_unlock(&lock);
    SAY("kept 9090");
    wait_driver(); /* the driver restarts the router */
    CHECK(seen(PFWD_EVENT_RESTORED, 20));
    SAY("restored 9090");
    wait_driver();

    /* The router's list; the guide on demand. */
    char *list = NULL;
    EXPECT(PFWD_OK, pfwd_client_list(client, NULL, &list, ep_));
    CHECK(list[0] == '[');
    SAY("list %s", list);
    pfwd_string_free(list);
    for (uint32_t format = PFWD_FORMAT_TEXT; format <= PFWD_FORMAT_JSON; format++) {
        char *guide = NULL;
        EXPECT(PFWD_OK, pfwd_client_guide(client, web, format, NULL, &guide, ep_));
        CHECK(strstr(guide, "8080"));
        pfwd_string_free(guide);
    }

    /* Close: the mapping is deleted, CLOSED is the last event. */
    char *report = NULL;
    EXPECT(PFWD_OK, pfwd_keeper_close(keeper, NULL, &report, ep_));
    SAY("closed %s", report);
    pfwd_string_free(report);
    CHECK(seen(PFWD_EVENT_CLOSED, 2));
    usleep(200 * 1000);
    pthread_mutex_lock(&lock);
    CHECK(kinds[nkinds - 1] == PFWD_EVENT_CLOSED && after_closed == 0);
    pthread_mutex_unlock(&lock);
    EXPECT(PFWD_CLOSED, pfwd_keeper_add(keeper, kept, NULL, ep_));
    wait_driver();

    /* A polled keeper, still alive at pfwd_shutdown(). */
    pfwd_request *ssh = request("2222", PFWD_TCP);
    pfwd_keeper *polled = NULL;
    EXPECT(PFWD_OK, pfwd_client_keep(client, ssh, NULL, NULL, &polled, ep_));
    pfwd_event *event = NULL;
    EXPECT(PFWD_OK, pfwd_keeper_next_event(polled, 5000, &event, ep_));
    CHECK(event && pfwd_event_get_kind(event) == PFWD_EVENT_MAPPED);
    SAY("polled %u", pfwd_mapping_external_port(pfwd_event_mapping(event)));
    pfwd_event_free(event);
    wait_driver();
    size_t closed = pfwd_shutdown();
    CHECK(closed >= 1);
    SAY("shutdown %zu", closed);
    /* Drain to CLOSED; after it, PFWD_CLOSED. */
    uint32_t last = 0;
    for (;;) {
        pfwd_error *error = NULL;
        event = NULL;
        pfwd_result r = pfwd_keeper_next_event(polled, 1000, &event, &error);
        pfwd_error_free(error);
        if (r == PFWD_CLOSED) break;
        CHECK(r == PFWD_OK);
        if (event) last = pfwd_event_get_kind(event);
        pfwd_event_free(event);
    }
    CHECK(last == PFWD_EVENT_CLOSED);
    EXPECT(PFWD_OK, pfwd_keeper_close(polled, NULL, NULL, ep_));

    pfwd_keeper_free(polled);
    pfwd_keeper_free(keeper);
    pfwd_request_free(ssh);
    pfwd_request_free(kept);
    pfwd_request_free(web);
    pfwd_client_free(client);
    pthread_mutex_lock(&lock);
    CHECK(log_lines > 0);
    pthread_mutex_unlock(&lock);
    EXPECT(PFWD_OK, pfwd_set_log_callback(NULL, NULL, PFWD_LOG_OFF, ep_));
    SAY("done");
    return 0;
}
