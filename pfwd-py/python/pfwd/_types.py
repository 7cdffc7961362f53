"""The values pfwd hands out: protocols, methods, error kinds, mappings, guides."""

from __future__ import annotations

import enum
import ipaddress
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Dict, List, Optional, Tuple, Union

from . import _pfwd

__all__ = [
    "Protocol",
    "Method",
    "ErrorKind",
    "Mapping",
    "GatewayMapping",
    "Instructions",
    "MethodStatus",
    "Discovery",
]


class Protocol(str, enum.Enum):
    """A transport protocol."""

    TCP = "tcp"
    UDP = "udp"

    def __str__(self) -> str:
        return self.value


class Family(str, enum.Enum):
    """An address family: IPv4's port mapping on the router's public
    address, or IPv6's pinhole for the host's own global address."""

    IPV4 = "ipv4"
    IPV6 = "ipv6"

    def __str__(self) -> str:
        return self.value


class Method(str, enum.Enum):
    """How a mapping was made (the router's protocol, or by hand)."""

    PCP = "pcp"
    NATPMP = "natpmp"
    UPNP = "upnp"
    MANUAL = "manual"

    def __str__(self) -> str:
        return self.value


class ErrorKind(enum.IntEnum):
    """The core's error kinds, with its stable numbers (pfwd_core::ErrorKind)."""

    NO_GATEWAY = 1
    UNSUPPORTED = 2
    REFUSED = 3
    CONFLICT = 4
    TIMEOUT = 5
    INVALID_REQUEST = 6
    INVALID_RESPONSE = 7
    IO = 8
    MANUAL = 9
    CANCELLED = 10
    CLOSED = 11
    WOULD_DEADLOCK = 12
    PROBER = 13


def _method(text: str) -> Method:
    """A method from the core's JSON ("pcp", "natpmp", "upnp", "manual")."""
    return Method(text.lower().replace("-", ""))


IPAddress = Union[ipaddress.IPv4Address, ipaddress.IPv6Address]


def _addr(text: str) -> Tuple[IPAddress, int]:
    host, _, port = text.rpartition(":")
    return ipaddress.ip_address(host.strip("[]")), int(port)


def _joined(address: IPAddress, port: int) -> str:
    return f"[{address}]:{port}" if address.version == 6 else f"{address}:{port}"


def _utc(seconds: Optional[int]) -> Optional[datetime]:
    return None if seconds is None else datetime.fromtimestamp(seconds, tz=timezone.utc)


@dataclass(frozen=True)
class Mapping:
    """What the router granted: a contract to renew and delete later.

    ``to_json()`` is the core's JSON shape (it keeps the PCP nonce), the same
    that the ``pfwd`` command records; ``Mapping.from_json`` reads it back,
    and pickling goes through it.
    """

    protocol: Protocol
    """TCP or UDP (a request for both gives two mappings)."""
    method: Method
    """The method that made it, and that renews and deletes it."""
    external_address: IPAddress
    """The router's public address; for an IPv6 pinhole, the host's own."""
    external_port: int
    """The outside port the router granted (it may differ from the one asked for)."""
    internal_address: IPAddress
    """The server on the LAN that the router forwards to."""
    internal_port: int
    """The server's port."""
    gateway: IPAddress
    """The router that holds the mapping."""
    lease: Optional[timedelta]
    """The granted lease; ``None`` when permanent."""
    description: str
    """The description asked for; UPnP routers show it in their list (PCP and NAT-PMP cannot carry one)."""
    granted_at: datetime
    """When the router granted it (UTC)."""
    expires_at: Optional[datetime]
    """When the lease ends unless renewed (UTC); ``None`` when permanent."""
    _json: str = field(repr=False)

    @property
    def permanent(self) -> bool:
        """Whether the lease never ends by itself."""
        return self.lease is None

    @property
    def family(self) -> Family:
        """``Family.IPV6`` for a pinhole (nothing translated), else ``IPV4``."""
        return Family.IPV6 if self.internal_address.version == 6 else Family.IPV4

    @property
    def external(self) -> str:
        """``address:port`` as seen from the internet (``[address]:port`` for IPv6)."""
        return _joined(self.external_address, self.external_port)

    @property
    def internal(self) -> str:
        """``address:port`` of the server on the LAN."""
        return _joined(self.internal_address, self.internal_port)

    def to_json(self) -> str:
        """The core's JSON shape, with everything needed to unmap later."""
        return self._json

    def to_dict(self) -> Dict[str, Any]:
        """The core's JSON shape as a dict."""
        result: Dict[str, Any] = json.loads(self._json)
        return result

    @classmethod
    def from_json(cls, text: str) -> "Mapping":
        """Read a mapping that ``to_json()`` (or the ``pfwd`` command) wrote."""
        return cls._from_core(_pfwd.mapping_json(text))

    @classmethod
    def _from_core(cls, text: str) -> "Mapping":
        d = json.loads(text)
        ext, ext_port = _addr(d["external"])
        internal, int_port = _addr(d["internal"])
        permanent = bool(d.get("permanent"))
        granted = _utc(d.get("granted_at"))
        return cls(
            protocol=Protocol(d["protocol"]),
            method=_method(d["method"]),
            external_address=ext,
            external_port=ext_port,
            internal_address=internal,
            internal_port=int_port,
            gateway=ipaddress.ip_address(d["gateway"]),
            lease=None if permanent else timedelta(seconds=d["lease_seconds"]),
            description=d.get("description", ""),
            granted_at=granted if granted is not None else datetime.now(timezone.utc),
            expires_at=_utc(d.get("expires_at")),
            _json=text,
        )

    def __reduce__(self) -> Tuple[Any, Tuple[str]]:
        return (Mapping.from_json, (self._json,))

    def __str__(self) -> str:
        lease = "permanent" if self.lease is None else f"lease {self.lease}"
        return (
            f"{self.protocol.value.upper()} {self.external} -> {self.internal}"
            f" via {self.method.value}, {lease}"
        )


@dataclass(frozen=True)
class GatewayMapping:
    """One mapping as the router lists it (UPnP), made by pfwd or not."""

    protocol: Protocol
    external_port: int
    internal_client: str
    internal_port: int
    description: str
    lease: Optional[timedelta]
    enabled: bool

    @classmethod
    def _from_dict(cls, d: Dict[str, Any]) -> "GatewayMapping":
        seconds = d.get("lease_seconds", 0)
        return cls(
            protocol=Protocol(d["protocol"]),
            external_port=d["external_port"],
            internal_client=d["internal_client"],
            internal_port=d["internal_port"],
            description=d["description"],
            lease=None if not seconds else timedelta(seconds=seconds),
            enabled=bool(d.get("enabled", True)),
        )


class Instructions:
    """How to forward the port by hand: ``str()`` is the text guide."""

    __slots__ = ("_text", "_markdown", "_json")

    def __init__(self, text: str, markdown: str, json_text: str) -> None:
        self._text = text
        self._markdown = markdown
        self._json = json_text

    @property
    def markdown(self) -> str:
        """The guide as Markdown."""
        return self._markdown

    def to_dict(self) -> Dict[str, Any]:
        """The guide's data (rules, router, steps, reasons, warnings)."""
        result: Dict[str, Any] = json.loads(self._json)
        return result

    def to_json(self) -> str:
        """The guide as JSON text."""
        return self._json

    def __str__(self) -> str:
        return self._text

    def __repr__(self) -> str:
        first = self._text.strip().splitlines()[0] if self._text.strip() else ""
        return f"<pfwd.Instructions {first!r}>"

    def __reduce__(self) -> Tuple[Any, Tuple[str, str, str]]:
        return (Instructions, (self._text, self._markdown, self._json))


@dataclass(frozen=True)
class MethodStatus:
    """What probing one method found."""

    method: Method
    """The method probed."""
    state: str
    """"answered", "failed", "not_waited" or "skipped"."""
    reason: Optional[str]
    """Why it failed or was skipped, in words; ``None`` when it answered."""
    took: Optional[timedelta]
    """How long its answer took; ``None`` without one."""


@dataclass(frozen=True)
class Discovery:
    """What discovery found, method by method."""

    gateway: Optional[ipaddress.IPv4Address]
    """The router asked (the default gateway); ``None`` when there is none."""
    local_address: Optional[ipaddress.IPv4Address]
    """This host's address on the router's network."""
    external_address: Optional[ipaddress.IPv4Address]
    """The router's public address, when a method told it."""
    methods: List[MethodStatus]
    """Each method's outcome, best method first."""
    took: timedelta
    """How long discovery took."""

    @property
    def answered(self) -> List[Method]:
        """The methods that answered, best first."""
        return [m.method for m in self.methods if m.state == "answered"]

    @classmethod
    def _from_json(cls, text: str) -> "Discovery":
        d = json.loads(text)
        gw = d.get("gateway") or {}
        ext = d.get("external_address")
        methods = []
        for m in d.get("methods", []):
            probe = m.get("probe", {})
            took = m.get("took_ms")
            methods.append(
                MethodStatus(
                    method=_method(m["method"]),
                    state=probe.get("state", "failed"),
                    reason=probe.get("reason"),
                    took=None if took is None else timedelta(milliseconds=took),
                )
            )
        return cls(
            gateway=ipaddress.IPv4Address(gw["gateway"]) if gw.get("gateway") else None,
            local_address=ipaddress.IPv4Address(gw["local"]) if gw.get("local") else None,
            external_address=ipaddress.IPv4Address(ext) if ext else None,
            methods=methods,
            took=timedelta(milliseconds=d.get("took_ms", 0)),
        )
