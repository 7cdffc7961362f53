"""A UPnP-only router that refuses ports below 1024 (miniupnpd permission
rules; its NAT-PMP and PCP would grant another port instead)."""

from __future__ import annotations

import json

import pytest

import pfwd
from conftest import router_list

pytestmark = pytest.mark.usefixtures("wait_empty")


def test_the_guide_when_no_method_may_map() -> None:
    with pytest.raises(pfwd.ManualForwardingRequired) as manual:
        pfwd.forward(80, lease=600)
    guide = manual.value.instructions
    assert "TCP port 80 -> 192.168.77.10:80" in str(guide)
    assert "80" in guide.markdown
    assert guide.to_dict()["rules"]
    assert manual.value.kind is pfwd.ErrorKind.MANUAL
    assert router_list() == ""


def test_a_refusal_carries_the_routers_code() -> None:
    client = pfwd.Client.discover(methods=["upnp"])
    # A UPnP mapping of port 80 (as a record would hold it): renewing asks
    # the router directly, and it refuses.
    record = {
        "version": 1,
        "method": "upnp",
        "protocol": "tcp",
        "external": "5.5.5.7:80",
        "internal": "192.168.77.10:80",
        "gateway": "192.168.77.1",
        "lease_seconds": 600,
        "granted_at": 1795000000,
    }
    with pytest.raises(pfwd.RefusedError) as refused:
        client.renew(pfwd.Mapping.from_json(json.dumps(record)))
    code = refused.value.code
    assert code is not None and code.method is pfwd.Method.UPNP
    assert code.number in (606, 718) and code.name and code.meaning and code.advice


def test_a_kept_mapping_that_fails_reports_it() -> None:
    client = pfwd.Client.discover()
    fwd = client.keep(pfwd.request(80, lease=600))
    failed = next(e for e in fwd.events(timeout=10) if isinstance(e, pfwd.Failed))
    assert isinstance(failed.error, pfwd.Error)
    fwd.close()
