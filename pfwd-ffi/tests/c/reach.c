/*
 * The check from outside, from C, against miniupnpd and a prober in the
 * internet's namespace (tests/gateway/c.rs starts both): a port nobody
 * forwarded; the same port mapped and free, verified by the token; a
 * keeper that checks what it maps (PFWD_EVENT_CHECKED); the LAN-side
 * steps only; a prober that is not there (PFWD_PROBER).
 *
 *   reach PROBER_URL DEAD_PROBER_URL
 */
#include <unistd.h>

#include "check.h"

static pfwd_request *request(const char *port) {
    pfwd_request_options o;
    pfwd_request_options_init(&o);
    o.protocol = PFWD_TCP;
    o.lease_seconds = 600;
    pfwd_request *r = NULL;
    EXPECT(PFWD_OK, pfwd_request_new(port, &o, &r, ep_));
    return r;
}

static void say_report(const char *what, const pfwd_check_report *report) {
    SAY("%s %s reachable=%d verified=%d observed=%s router=%s", what,
        pfwd_check_report_diagnosis_name(report), pfwd_check_report_reachable(report),
        pfwd_check_report_verified(report), pfwd_check_report_observed_address(report),
        pfwd_check_report_router_address(report));
}

int main(int argc, char **argv) {
    CHECK(argc == 3);
    const char *via = argv[1];
    pfwd_client_options co;
    pfwd_client_options_init(&co);
    pfwd_client *client = NULL;
    EXPECT(PFWD_OK, pfwd_client_new(&co, NULL, &client, ep_));
    pfwd_request *web = request("8080");

    /* Nobody forwarded it. */
    pfwd_check_report *report = NULL;
    EXPECT(PFWD_OK, pfwd_client_check(client, web, via, NULL, &report, ep_));
    CHECK(pfwd_check_report_diagnosis(report) == PFWD_DIAGNOSIS_NOT_FORWARDED);
    say_report("before", report);
    pfwd_check_report_free(report);

    /* Mapped, the port free: pfwd listens and the token comes back. */
    pfwd_mapping *m = NULL;
    EXPECT(PFWD_OK, pfwd_client_map(client, web, NULL, &m, ep_));
    pfwd_request *exactly = NULL;
    EXPECT(PFWD_OK, pfwd_request_from_mapping(m, &exactly, ep_));
    report = NULL;
    EXPECT(PFWD_OK, pfwd_client_check(client, exactly, via, NULL, &report, ep_));
    CHECK(pfwd_check_report_diagnosis(report) == PFWD_DIAGNOSIS_REACHABLE);
    CHECK(pfwd_check_report_reachable(report) && pfwd_check_report_verified(report));
    char *json = pfwd_check_report_to_json(report);
    CHECK(json && strstr(json, "\"token_returned\":true"));
    pfwd_string_free(json);
    CHECK(strlen(pfwd_check_report_explanation(report)) > 0);
    say_report("mapped", report);
    pfwd_check_report_free(report);
    EXPECT(PFWD_OK, pfwd_client_unmap(client, m, NULL, ep_));
    pfwd_mapping_free(m);
    pfwd_request_free(exactly);

    /* A keeper that checks what it maps. */
    pfwd_keeper_options ko;
    pfwd_keeper_options_init(&ko);
    ko.check_via = via;
    pfwd_request *kept = request("9090");
    pfwd_keeper *keeper = NULL;
    EXPECT(PFWD_OK, pfwd_client_keep(client, kept, NULL, &ko, &keeper, ep_));
    int checked = 0;
    for (int i = 0; i < 40 && !checked; i++) {
        pfwd_event *event = NULL;
        EXPECT(PFWD_OK, pfwd_keeper_next_event(keeper, 500, &event, ep_));
        if (event && pfwd_event_get_kind(event) == PFWD_EVENT_CHECKED) {
            const pfwd_check_report *r = pfwd_event_check_report(event);
            CHECK(r && pfwd_check_report_diagnosis(r) == PFWD_DIAGNOSIS_REACHABLE);
            say_report("checked", r);
            checked = 1;
        }
        pfwd_event_free(event);
    }
    CHECK(checked);
    char *closed = NULL;
    EXPECT(PFWD_OK, pfwd_keeper_close(keeper, NULL, &closed, ep_));
    pfwd_string_free(closed);
    pfwd_keeper_free(keeper);
    pfwd_request_free(kept);

    /* No prober: the LAN-side steps, never "reachable". */
    report = NULL;
    EXPECT(PFWD_OK, pfwd_check(NULL, web, NULL, NULL, &report, ep_));
    CHECK(pfwd_check_report_diagnosis(report) == PFWD_DIAGNOSIS_NOT_CHECKED);
    CHECK(!pfwd_check_report_reachable(report));
    CHECK(strcmp(pfwd_check_report_observed_address(report), "") == 0);
    say_report("unchecked", report);
    pfwd_check_report_free(report);

    /* A prober that is not there. */
    report = NULL;
    pfwd_error *error = NULL;
    CHECK(pfwd_client_check(client, web, argv[2], NULL, &report, &error) == PFWD_PROBER);
    CHECK(report == NULL && pfwd_error_result(error) == PFWD_PROBER);
    CHECK(strstr(pfwd_error_message(error), "could not be reached"));
    SAY("code %s", pfwd_result_name(pfwd_error_result(error)));
    pfwd_error_free(error);

    pfwd_request_free(web);
    pfwd_client_free(client);
    SAY("done");
    return 0;
}
