"""Python arguments to the text the core parses: types checked here, values
checked by the core (``pfwd._pfwd.build_requests``), before anything is sent."""

from __future__ import annotations

import ipaddress
from datetime import timedelta
from typing import Iterable, List, Optional, Union

from . import _pfwd
from ._types import Family, Mapping, Method, Protocol

__all__ = ["PortLike", "HostLike", "LeaseLike", "requests", "check_requests", "prober_text"]

PortLike = Union[int, str]
HostLike = Union[str, ipaddress.IPv4Address, ipaddress.IPv6Address]
FamilyLike = Union[str, Family]
LeaseLike = Union[int, float, timedelta, str]


def _type_name(value: object) -> str:
    return f"{type(value).__name__} {value!r}"


def port_text(value: object, what: str) -> str:
    """A port or service name as text; ``TypeError`` for anything else."""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise TypeError(
            f"{what} must be a port number (1-65535) or a service name such as 'http', "
            f"not {_type_name(value)}"
        )
    return str(value)


def methods_list(methods: Optional[Iterable[Union[str, Method]]]) -> Optional[List[str]]:
    """The methods as the core's names."""
    if methods is None:
        return None
    if isinstance(methods, (str, Method)):
        methods = [methods]
    out = []
    for m in methods:
        if not isinstance(m, (str, Method)):
            raise TypeError(f"methods must be names such as 'pcp' or 'upnp', not {_type_name(m)}")
        out.append(m.value if isinstance(m, Method) else m)
    return out


def gateway_text(gateway: Optional[HostLike]) -> Optional[str]:
    """The gateway's address as text."""
    if gateway is None or isinstance(gateway, str):
        return gateway
    if isinstance(gateway, ipaddress.IPv4Address):
        return str(gateway)
    raise TypeError(f"gateway must be an IPv4 address, not {_type_name(gateway)}")


def timeout_seconds(timeout: Optional[Union[int, float, timedelta]]) -> Optional[float]:
    """A timeout in seconds."""
    if timeout is None:
        return None
    if isinstance(timeout, timedelta):
        return timeout.total_seconds()
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
        raise TypeError(f"timeout must be seconds or a timedelta, not {_type_name(timeout)}")
    return float(timeout)


def requests(
    port_or_service: PortLike,
    *,
    to: Optional[HostLike] = None,
    protocol: Optional[Union[str, Protocol]] = None,
    external: Optional[PortLike] = None,
    exact: bool = False,
    lease: Optional[LeaseLike] = None,
    permanent: bool = False,
    description: Optional[str] = None,
    family: Optional[FamilyLike] = None,
) -> List[_pfwd.Request]:
    """The core's requests (one per protocol) for these arguments.

    Raises ``TypeError`` for a wrong type and ``pfwd.InvalidRequestError`` (a
    ``ValueError``) for a wrong value, saying what is accepted.
    """
    port = port_text(port_or_service, "port_or_service")
    if to is not None and not isinstance(to, (str, ipaddress.IPv4Address, ipaddress.IPv6Address)):
        raise TypeError(f"to must be an IP address or 'host[:port]', not {_type_name(to)}")
    if family is not None and not isinstance(family, (str, Family)):
        raise TypeError(f"family must be 'ipv4' or 'ipv6' (or pfwd.Family), not {_type_name(family)}")
    if protocol is not None and not isinstance(protocol, (str, Protocol)):
        raise TypeError(f"protocol must be 'tcp', 'udp' or 'both', not {_type_name(protocol)}")
    ext = None if external is None else port_text(external, "external")
    lease_seconds: Optional[float] = None
    lease_text: Optional[str] = None
    if isinstance(lease, timedelta):
        lease_seconds = lease.total_seconds()
    elif isinstance(lease, str):
        lease_text = lease
    elif isinstance(lease, bool) or (lease is not None and not isinstance(lease, (int, float))):
        raise TypeError(f"lease must be seconds, a timedelta or text such as '2h', not {_type_name(lease)}")
    elif lease is not None:
        lease_seconds = float(lease)
    if description is not None and not isinstance(description, str):
        raise TypeError(f"description must be text, not {_type_name(description)}")
    return _pfwd.build_requests(
        port,
        to=None if to is None else str(to),
        protocol=protocol.value if isinstance(protocol, Protocol) else protocol,
        external=ext,
        exact=bool(exact),
        lease_seconds=lease_seconds,
        lease_text=lease_text,
        permanent=bool(permanent),
        description=description,
        family=family.value if isinstance(family, Family) else family,
    )


def prober_text(via: Optional[str], what: str) -> Optional[str]:
    """A prober's address (``http://HOST:PORT``) checked by the core.

    Raises ``TypeError`` for anything but text, and
    ``pfwd.InvalidRequestError`` (a ``ValueError``) for an address the core
    cannot read, saying how to write it.
    """
    if via is None:
        return None
    if not isinstance(via, str):
        raise TypeError(
            f"{what} must be a prober address such as 'http://203.0.113.5:8099', not {_type_name(via)}"
        )
    return _pfwd.parse_prober(via, what)


def check_requests(
    target: Union[PortLike, Mapping],
    *,
    to: Optional[HostLike] = None,
    protocol: Optional[Union[str, Protocol]] = None,
    external: Optional[PortLike] = None,
) -> List[_pfwd.Request]:
    """The requests to check (one per protocol): for a port or service as
    ``requests`` makes them, for a ``Mapping`` the core's request for it
    (its protocol, LAN host and port, exactly its outside port)."""
    if isinstance(target, Mapping):
        if to is not None or protocol is not None or external is not None:
            raise TypeError("a Mapping says what to check: give no to, protocol or external with it")
        return [_pfwd.check_request(target.to_json())]
    return requests(target, to=to, protocol=protocol, external=external)
