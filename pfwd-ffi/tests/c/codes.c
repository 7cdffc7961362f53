/*
 * Every result code from a real situation, and NULL and bad arguments,
 * driven by tests/gateway/c.rs:
 *
 *   codes router     miniupnpd with every method; external ports below 1024
 *                    denied; TCP 7070 already forwarded to 192.168.77.20
 *   codes no-router  no daemon on the router
 *   codes no-network a namespace of its own without any interface up
 *
 * Prints "code NAME" for each code seen; the driver checks the whole set.
 * Outputs must be left untouched on failure (checked with a sentinel).
 */
#include "check.h"

#define SENTINEL ((void *)0x1)

static void seen(pfwd_result r) { SAY("code %s", pfwd_result_name(r)); }

static pfwd_request *request(uint16_t port, uint32_t external, uint16_t external_port) {
    char text[8];
    snprintf(text, sizeof text, "%u", port);
    pfwd_request_options o;
    pfwd_request_options_init(&o);
    o.external = external;
    o.external_port = external_port;
    o.lease_seconds = 600;
    pfwd_request *r = NULL;
    EXPECT(PFWD_OK, pfwd_request_new(text, &o, &r, ep_));
    return r;
}

/* Map `req` with a client limited to `methods`; expect `want`. */
static pfwd_error *map_expect(uint32_t methods, pfwd_request *req, const pfwd_call_options *call,
                              pfwd_result want) {
    pfwd_client_options co;
    pfwd_client_options_init(&co);
    co.methods = methods;
    co.budget_ms = 5000; /* under valgrind, UPnP's discovery can take seconds */
    pfwd_client *client = NULL;
    EXPECT(PFWD_OK, pfwd_client_new(&co, NULL, &client, ep_));
    pfwd_mapping *m = SENTINEL;
    pfwd_error *error = NULL;
    pfwd_result r = pfwd_client_map(client, req, call, &m, &error);
    if (r != want) {
        fprintf(stderr, "FAILED: map of port %u gave %s, not %s: %s\n", pfwd_mapping_internal_port(r == PFWD_OK ? m : NULL), pfwd_result_name(r),
                pfwd_result_name(want), pfwd_error_message(error));
        exit(1);
    }
    CHECK(m == SENTINEL && pfwd_error_result(error) == want);
    seen(r);
    pfwd_client_free(client);
    return error;
}

static void arguments(void) {
    pfwd_request *r = SENTINEL;
    pfwd_error *error = NULL;
    /* NULL where a pointer is required: a code, with and without an error. */
    CHECK(pfwd_request_new(NULL, NULL, &r, NULL) == PFWD_NULL_ARGUMENT && r == SENTINEL);
    CHECK(pfwd_request_new("80", NULL, NULL, &error) == PFWD_NULL_ARGUMENT);
    CHECK(pfwd_error_result(error) == PFWD_NULL_ARGUMENT && strstr(pfwd_error_message(error), "request_out"));
    char *json = pfwd_error_to_json(error);
    CHECK(json && strstr(json, "\"null_argument\"") && strstr(json, "100"));
    pfwd_string_free(json);
    pfwd_error_free(error);
    seen(PFWD_NULL_ARGUMENT);
    EXPECT(PFWD_NULL_ARGUMENT, pfwd_client_map(NULL, NULL, NULL, NULL, ep_));
    EXPECT(PFWD_NULL_ARGUMENT, pfwd_client_new(NULL, NULL, NULL, ep_));
    EXPECT(PFWD_NULL_ARGUMENT, pfwd_forward(NULL, NULL, NULL, NULL, NULL, ep_));
    EXPECT(PFWD_NULL_ARGUMENT, pfwd_client_unmap(NULL, NULL, NULL, ep_));
    EXPECT(PFWD_NULL_ARGUMENT, pfwd_client_list(NULL, NULL, NULL, ep_));
    EXPECT(PFWD_NULL_ARGUMENT, pfwd_client_external_address(NULL, NULL, NULL, ep_));
    EXPECT(PFWD_NULL_ARGUMENT, pfwd_client_guide(NULL, NULL, 0, NULL, NULL, ep_));
    EXPECT(PFWD_NULL_ARGUMENT, pfwd_client_keep(NULL, NULL, NULL, NULL, NULL, ep_));
    EXPECT(PFWD_NULL_ARGUMENT, pfwd_keeper_on_event(NULL, NULL, NULL, ep_));
    EXPECT(PFWD_NULL_ARGUMENT, pfwd_keeper_next_event(NULL, 0, NULL, ep_));
    EXPECT(PFWD_NULL_ARGUMENT, pfwd_keeper_add(NULL, NULL, NULL, ep_));
    EXPECT(PFWD_NULL_ARGUMENT, pfwd_keeper_remove(NULL, 0, NULL, ep_));
    EXPECT(PFWD_NULL_ARGUMENT, pfwd_keeper_close(NULL, NULL, NULL, ep_));
    EXPECT(PFWD_NULL_ARGUMENT, pfwd_mapping_to_json(NULL, NULL, ep_));
    EXPECT(PFWD_NULL_ARGUMENT, pfwd_mapping_from_json(NULL, NULL, ep_));
    EXPECT(PFWD_NULL_ARGUMENT, pfwd_client_check(NULL, NULL, NULL, NULL, NULL, ep_));
    EXPECT(PFWD_NULL_ARGUMENT, pfwd_check(NULL, NULL, NULL, NULL, NULL, ep_));
    EXPECT(PFWD_NULL_ARGUMENT, pfwd_request_from_mapping(NULL, NULL, ep_));
    /* Frees accept NULL; getters of NULL give their documented fallback. */
    pfwd_request_free(NULL);
    pfwd_client_free(NULL);
    pfwd_mapping_free(NULL);
    pfwd_keeper_free(NULL);
    pfwd_event_free(NULL);
    pfwd_error_free(NULL);
    pfwd_string_free(NULL);
    pfwd_cancel_token_free(NULL);
    pfwd_cancel_token_cancel(NULL);
    pfwd_request_options_init(NULL);
    pfwd_check_report_free(NULL);
    CHECK(pfwd_mapping_external_port(NULL) == 0 && strcmp(pfwd_mapping_external_ip(NULL), "") == 0);
    CHECK(pfwd_mapping_method(NULL) == PFWD_METHOD_NONE && pfwd_mapping_expires_at(NULL) == 0);
    CHECK(pfwd_event_get_kind(NULL) == 0 && pfwd_event_mapping(NULL) == NULL && pfwd_event_index(NULL) == -1);
    CHECK(pfwd_error_result(NULL) == PFWD_NULL_ARGUMENT && pfwd_error_message(NULL) != NULL);
    CHECK(pfwd_error_guide(NULL, PFWD_FORMAT_TEXT) == NULL && pfwd_error_to_json(NULL) == NULL);
    CHECK(pfwd_client_discovery(NULL) == NULL);
    CHECK(!pfwd_check_report_reachable(NULL) && !pfwd_check_report_verified(NULL));
    CHECK(pfwd_check_report_diagnosis(NULL) == 0 && pfwd_check_report_took_ms(NULL) == 0);
    CHECK(strcmp(pfwd_check_report_diagnosis_name(NULL), "") == 0 && strcmp(pfwd_check_report_explanation(NULL), "") == 0);
    CHECK(strcmp(pfwd_check_report_observed_address(NULL), "") == 0 && strcmp(pfwd_check_report_router_address(NULL), "") == 0);
    CHECK(pfwd_check_report_to_json(NULL) == NULL && pfwd_event_check_report(NULL) == NULL);
    CHECK(strcmp(pfwd_result_name(12), "would_deadlock") == 0 && strcmp(pfwd_result_name(13), "prober") == 0 && strcmp(pfwd_result_name(99), "unknown") == 0);

    /* Not UTF-8. */
    EXPECT(PFWD_INVALID_UTF8, pfwd_request_new("\xff\xfe", NULL, &r, ep_));
    pfwd_request *checked = NULL;
    EXPECT(PFWD_OK, pfwd_request_new("8080", NULL, &checked, ep_));
    pfwd_check_report *report = SENTINEL;
    EXPECT(PFWD_INVALID_UTF8, pfwd_check(NULL, checked, "\xff", NULL, &report, ep_));
    CHECK(report == SENTINEL);
    seen(PFWD_INVALID_UTF8);

    /* The binding's own checks: an options size of 0, an unknown protocol,
     * not a mapping's JSON. */
    pfwd_request_options o;
    pfwd_request_options_init(&o);
    o.size = 0;
    EXPECT(PFWD_INVALID_ARGUMENT, pfwd_request_new("80", &o, &r, ep_));
    pfwd_request_options_init(&o);
    o.protocol = 7;
    EXPECT(PFWD_INVALID_ARGUMENT, pfwd_request_new("80", &o, &r, ep_));
    pfwd_mapping *m = SENTINEL;
    EXPECT(PFWD_INVALID_ARGUMENT, pfwd_mapping_from_json("{\"port\": 1}", &m, ep_));
    CHECK(m == SENTINEL && r == SENTINEL);
    seen(PFWD_INVALID_ARGUMENT);

    /* The core's checks: a port out of range, an unknown service, port 0,
     * a target that cannot be a LAN host. */
    EXPECT(PFWD_INVALID_REQUEST, pfwd_request_new("70000", NULL, &r, ep_));
    EXPECT(PFWD_INVALID_REQUEST, pfwd_request_new("no-such-service", NULL, &r, ep_));
    EXPECT(PFWD_INVALID_REQUEST, pfwd_request_new("0", NULL, &r, ep_));
    pfwd_request_options_init(&o);
    o.target = "255.255.255.255";
    EXPECT(PFWD_INVALID_REQUEST, pfwd_request_new("80", &o, &r, ep_));
    CHECK(r == SENTINEL);
    /* A prober that is not plain HTTP, or has a path: refused before
     * anything is sent (no discovery, no probe). */
    pfwd_error *bad = NULL;
    CHECK(pfwd_check(NULL, checked, "https://203.0.113.5:8099", NULL, &report, &bad) == PFWD_INVALID_REQUEST);
    CHECK(report == SENTINEL && strstr(pfwd_error_message(bad), "plain HTTP"));
    pfwd_error_free(bad);
    EXPECT(PFWD_INVALID_REQUEST, pfwd_check(NULL, checked, "http://203.0.113.5:8099/v1", NULL, &report, ep_));
    CHECK(report == SENTINEL);
    pfwd_request_free(checked);
    /* The request that checks a mapping: exactly its outside port. */
    const char *record =
        "{\"method\":\"natpmp\",\"protocol\":\"udp\",\"external\":\"5.5.5.7:40000\","
        "\"internal\":\"192.168.77.10:51820\",\"gateway\":\"192.168.77.1\","
        "\"lease_seconds\":600,\"granted_at\":1795000000}";
    EXPECT(PFWD_OK, pfwd_mapping_from_json(record, &m, ep_));
    pfwd_request *of_mapping = NULL;
    EXPECT(PFWD_OK, pfwd_request_from_mapping(m, &of_mapping, ep_));
    CHECK(of_mapping != NULL);
    pfwd_request_free(of_mapping);
    pfwd_mapping_free(m);
    seen(PFWD_INVALID_REQUEST);
}

static void router(void) {
    /* Cancelled before it started: nothing is sent. */
    pfwd_cancel_token *token = pfwd_cancel_token_new();
    pfwd_cancel_token_cancel(token);
    pfwd_call_options call;
    pfwd_call_options_init(&call);
    call.cancel = token;
    pfwd_request *r = request(6001, PFWD_EXTERNAL_SAME, 0);
    pfwd_error_free(map_expect(0, r, &call, PFWD_CANCELLED));
    pfwd_cancel_token_free(token);

    /* A deadline too short for an answer (UPnP: a TCP connection and a
     * SOAP request take the router more than 1 ms). A mapping that is
     * there when the caller's thread wakes is returned all the same (on a
     * loaded machine that thread may wake late): then it is deleted and
     * the call made again; one of a few tries must time out. */
    pfwd_call_options_init(&call);
    call.timeout_ms = 1;
    {
        pfwd_client_options co;
        pfwd_client_options_init(&co);
        co.methods = PFWD_METHOD_UPNP;
        co.budget_ms = 5000;
        pfwd_client *upnp = NULL;
        EXPECT(PFWD_OK, pfwd_client_new(&co, NULL, &upnp, ep_));
        pfwd_result got = PFWD_OK;
        for (int i = 0; i < 10 && got == PFWD_OK; i++) {
            pfwd_mapping *m = NULL;
            pfwd_error *error = NULL;
            got = pfwd_client_map(upnp, r, &call, &m, &error);
            if (got == PFWD_OK) {
                EXPECT(PFWD_OK, pfwd_client_unmap(upnp, m, NULL, ep_));
                pfwd_mapping_free(m);
            } else {
                CHECK(m == NULL && pfwd_error_result(error) == got);
                pfwd_error_free(error);
            }
        }
        if (got != PFWD_TIMEOUT) {
            fprintf(stderr, "FAILED: a 1 ms deadline gave %s, not timeout\n", pfwd_result_name(got));
            exit(1);
        }
        seen(got);
        pfwd_client_free(upnp);
    }
    pfwd_request_free(r);

    /* PCP, exactly port 80, which the router's rules deny: no method can,
     * so the guide, with PCP's own code among the reasons. */
    r = request(80, PFWD_EXTERNAL_EXACT, 80);
    pfwd_error *error = map_expect(PFWD_METHOD_PCP, r, NULL, PFWD_MANUAL);
    CHECK(strstr(pfwd_error_message(error), "CANNOT_PROVIDE_EXTERNAL"));
    for (uint32_t f = PFWD_FORMAT_TEXT; f <= PFWD_FORMAT_JSON; f++) {
        char *guide = pfwd_error_guide(error, f);
        CHECK(guide && strstr(guide, "80"));
        pfwd_string_free(guide);
    }
    CHECK(pfwd_error_guide(error, 9) == NULL);
    pfwd_error_free(error);

    /* A saved PCP mapping whose nonce is not the one that made it (a
     * foreign or corrupted record): the router refuses to delete it, with
     * PCP's own code, and the mapping stays. */
    pfwd_request *own = request(6100, PFWD_EXTERNAL_SAME, 0);
    pfwd_client *pcp = NULL;
    pfwd_client_options po;
    pfwd_client_options_init(&po);
    po.methods = PFWD_METHOD_PCP;
    EXPECT(PFWD_OK, pfwd_client_new(&po, NULL, &pcp, ep_));
    pfwd_mapping *made = NULL;
    EXPECT(PFWD_OK, pfwd_client_map(pcp, own, NULL, &made, ep_));
    char *saved = NULL;
    EXPECT(PFWD_OK, pfwd_mapping_to_json(made, &saved, ep_));
    char *nonce = strstr(saved, "\"pcp_nonce\":\"");
    CHECK(nonce);
    nonce += strlen("\"pcp_nonce\":\"");
    *nonce = *nonce == '0' ? '1' : '0';
    pfwd_mapping *forged = NULL;
    EXPECT(PFWD_OK, pfwd_mapping_from_json(saved, &forged, ep_));
    pfwd_string_free(saved);
    error = NULL;
    pfwd_result refused = pfwd_client_unmap(pcp, forged, NULL, &error);
    CHECK(refused == PFWD_REFUSED);
    seen(refused);
    uint16_t code = 0;
    char *name = NULL;
    CHECK(pfwd_error_gateway_code(error, &code, &name));
    SAY("gateway code %u %s", code, name);
    CHECK(code == 2 && strcmp(name, "NOT_AUTHORIZED") == 0);
    CHECK(pfwd_error_method(error) == PFWD_METHOD_PCP);
    pfwd_string_free(name);
    pfwd_error_free(error);
    EXPECT(PFWD_OK, pfwd_client_unmap(pcp, made, NULL, ep_));
    pfwd_mapping_free(forged);
    pfwd_mapping_free(made);
    pfwd_client_free(pcp);
    pfwd_request_free(own);

    pfwd_request_free(r);

    /* UPnP, exactly 7070, held by 192.168.77.20: a conflict naming it. */
    r = request(7070, PFWD_EXTERNAL_EXACT, 7070);
    error = map_expect(PFWD_METHOD_UPNP, r, NULL, PFWD_CONFLICT);
    char *holder = NULL, *description = NULL;
    CHECK(pfwd_error_holder(error, &holder, &description));
    SAY("holder %s %s", holder, description);
    CHECK(strcmp(holder, "192.168.77.20:7070") == 0 && strcmp(description, "nas") == 0);
    pfwd_string_free(holder);
    pfwd_string_free(description);
    char *json = pfwd_error_to_json(error);
    CHECK(strstr(json, "\"conflict\"") && strstr(json, "192.168.77.20"));
    pfwd_string_free(json);
    pfwd_error_free(error);
    pfwd_request_free(r);


    /* A record of a rule made by hand (method "manual"): only a person can
     * remove it in the router's settings. */
    pfwd_client_options uo;
    pfwd_client_options_init(&uo);
    uo.methods = PFWD_METHOD_UPNP;
    uo.budget_ms = 5000;
    pfwd_client *upnp = NULL;
    EXPECT(PFWD_OK, pfwd_client_new(&uo, NULL, &upnp, ep_));
    r = request(6300, PFWD_EXTERNAL_SAME, 0);
    pfwd_mapping *m = NULL;
    EXPECT(PFWD_OK, pfwd_client_map(upnp, r, NULL, &m, ep_));
    CHECK(pfwd_mapping_method(m) == PFWD_METHOD_UPNP);
    char *text = NULL;
    EXPECT(PFWD_OK, pfwd_mapping_to_json(m, &text, ep_));
    char *method = strstr(text, "\"method\":\"upnp\"");
    CHECK(method);
    char by_hand[4096];
    snprintf(by_hand, sizeof by_hand, "%.*s\"method\":\"manual\"%s", (int)(method - text), text,
             method + strlen("\"method\":\"upnp\""));
    pfwd_string_free(text);
    pfwd_mapping *manual = NULL;
    EXPECT(PFWD_OK, pfwd_mapping_from_json(by_hand, &manual, ep_));
    EXPECT(PFWD_UNSUPPORTED, pfwd_client_unmap(upnp, manual, NULL, ep_));
    seen(PFWD_UNSUPPORTED);
    EXPECT(PFWD_OK, pfwd_client_unmap(upnp, m, NULL, ep_));
    pfwd_mapping_free(manual);
    pfwd_mapping_free(m);
    pfwd_request_free(r);
    pfwd_client_free(upnp);
}

static void no_router(void) {
    /* Nothing answers: discovery succeeds with nothing; the address cannot
     * be had, and a mapping is the guide. */
    pfwd_client_options co;
    pfwd_client_options_init(&co);
    co.budget_ms = 1000;
    pfwd_client *client = NULL;
    EXPECT(PFWD_OK, pfwd_client_new(&co, NULL, &client, ep_));
    char *address = SENTINEL;
    pfwd_error *error = NULL;
    pfwd_result r = pfwd_client_external_address(client, NULL, &address, &error);
    CHECK(address == SENTINEL);
    SAY("external address without a router: %s: %s", pfwd_result_name(r), pfwd_error_message(error));
    CHECK(r == PFWD_NO_GATEWAY);
    seen(r);
    pfwd_error_free(error);

    pfwd_client_free(client);

    pfwd_request *req = request(8080, PFWD_EXTERNAL_SAME, 0);
    pfwd_mapping *m = SENTINEL;
    client = SENTINEL;
    error = NULL;
    r = pfwd_forward(&co, req, NULL, &client, &m, &error);
    CHECK(r == PFWD_MANUAL && client == SENTINEL && m == SENTINEL);
    char *guide = pfwd_error_guide(error, PFWD_FORMAT_MARKDOWN);
    CHECK(guide && strstr(guide, "8080"));
    pfwd_string_free(guide);
    seen(r);
    pfwd_error_free(error);

    pfwd_request_free(req);
}

static void faulty_router(void) {
    /* A NAT-PMP router that answers its address but garbles every answer to
     * a mapping request (the test's own fake, in the router's namespace):
     * pfwd cannot understand it, and says so. */
    pfwd_client_options co;
    pfwd_client_options_init(&co);
    co.methods = PFWD_METHOD_NATPMP;
    pfwd_client *client = NULL;
    EXPECT(PFWD_OK, pfwd_client_new(&co, NULL, &client, ep_));
    const char *record =
        "{\"method\":\"natpmp\",\"protocol\":\"tcp\",\"external\":\"5.5.5.7:8080\","
        "\"internal\":\"192.168.77.10:8080\",\"gateway\":\"192.168.77.1\","
        "\"lease_seconds\":600,\"granted_at\":1795000000}";
    pfwd_mapping *m = NULL;
    EXPECT(PFWD_OK, pfwd_mapping_from_json(record, &m, ep_));
    pfwd_error *error = NULL;
    pfwd_result r = pfwd_client_unmap(client, m, NULL, &error);
    SAY("a garbled answer: %s: %s", pfwd_result_name(r), pfwd_error_message(error));
    CHECK(r == PFWD_INVALID_RESPONSE);
    seen(r);
    pfwd_error_free(error);
    pfwd_mapping_free(m);
    pfwd_client_free(client);
}

static void no_network(void) {
    /* A host with no network at all (no route): the OS says why. */
    pfwd_client_options co;
    pfwd_client_options_init(&co);
    co.gateway = "192.168.77.1";
    pfwd_request *req = request(8080, PFWD_EXTERNAL_SAME, 0);
    pfwd_client *client = SENTINEL;
    pfwd_mapping *m = SENTINEL;
    pfwd_error *error = NULL;
    pfwd_result r = pfwd_forward(&co, req, NULL, &client, &m, &error);
    int os = 0;
    SAY("no network: %s: %s", pfwd_result_name(r), pfwd_error_message(error));
    CHECK(r == PFWD_IO && pfwd_error_os_error(error, &os) && os != 0);
    CHECK(client == SENTINEL && m == SENTINEL);
    SAY("errno %d", os);
    seen(r);
    pfwd_error_free(error);
    pfwd_request_free(req);
}

int main(int argc, char **argv) {
    CHECK(argc == 2);
    arguments();
    if (strcmp(argv[1], "router") == 0) {
        router();
    } else if (strcmp(argv[1], "no-router") == 0) {
        no_router();
    } else if (strcmp(argv[1], "faulty-router") == 0) {
        faulty_router();
    } else {
        CHECK(strcmp(argv[1], "no-network") == 0);
        no_network();
    }
    SAY("done");
    return 0;
}
