/*
 * An IPv6 pinhole from C against miniupnpd in the dual-stack testbed,
 * driven by tests/gateway/c.rs, which proves it with bytes from the
 * internet over IPv6: a request with PCP's family IPv6 is opened for the
 * host's own address; the mapping says its family; unmap closes it. Bad
 * input: an unknown family, another outside port over IPv6, a unique
 * local target, NULL.
 *
 *   pinhole
 */
#include "check.h"

static pfwd_request *pinhole(const char *port) {
    pfwd_request_options o;
    pfwd_request_options_init(&o);
    CHECK(o.family == PFWD_FAMILY_AUTO);
    o.family = PFWD_FAMILY_IPV6;
    o.lease_seconds = 600;
    pfwd_request *r = NULL;
    EXPECT(PFWD_OK, pfwd_request_new(port, &o, &r, ep_));
    return r;
}

/* `pfwd_request_new` refuses `o` with `want`, saying `why`. */
static void refused(const char *port, const pfwd_request_options *o, pfwd_result want,
                    const char *why) {
    pfwd_request *r = NULL;
    pfwd_error *e = NULL;
    pfwd_result got = pfwd_request_new(port, o, &r, &e);
    if (got != want || strstr(pfwd_error_message(e), why) == NULL) {
        fprintf(stderr, "FAILED: %s (%u) %s; wanted %s\n", pfwd_result_name(got), got,
                pfwd_error_message(e), why);
        exit(1);
    }
    CHECK(r == NULL);
    pfwd_error_free(e);
}

int main(void) {
    pfwd_client *client = NULL;
    EXPECT(PFWD_OK, pfwd_client_new(NULL, NULL, &client, ep_));

    pfwd_request *r = pinhole("8080");
    pfwd_mapping *m = NULL;
    EXPECT(PFWD_OK, pfwd_client_map(client, r, NULL, &m, ep_));
    CHECK(pfwd_mapping_family(m) == PFWD_FAMILY_IPV6);
    CHECK(strcmp(pfwd_mapping_external_ip(m), pfwd_mapping_internal_ip(m)) == 0);
    CHECK(pfwd_mapping_external_port(m) == 8080);
    CHECK(pfwd_mapping_method(m) == PFWD_METHOD_PCP);
    SAY("mapped %s %u", pfwd_mapping_external_ip(m),
        pfwd_mapping_external_port(m));
    wait_driver();
    EXPECT(PFWD_OK, pfwd_client_unmap(client, m, NULL, ep_));
    SAY("unmapped");
    wait_driver();

    pfwd_request_options o;
    pfwd_request_options_init(&o);
    o.family = 5;
    refused("8080", &o, PFWD_INVALID_ARGUMENT, "not a pfwd_family");
    o.family = PFWD_FAMILY_IPV6;
    o.external = PFWD_EXTERNAL_EXACT;
    o.external_port = 9090;
    refused("8080", &o, PFWD_INVALID_REQUEST, "nothing is translated");
    pfwd_request_options_init(&o);
    o.target = "fd12:3456::10";
    refused("8080", &o, PFWD_INVALID_REQUEST, "unique local");
    o.target = "2001:db8:77::10";
    o.family = PFWD_FAMILY_IPV4;
    refused("8080", &o, PFWD_INVALID_REQUEST, "is an IPv6 address but the request asks for IPv4");
    CHECK(pfwd_mapping_family(NULL) == 0);

    pfwd_mapping_free(m);
    pfwd_request_free(r);
    pfwd_client_free(client);
    SAY("done");
    return 0;
}
