"""What a reachability check found: ``CheckReport`` and its ``Diagnosis``,
read from the core's JSON (``CheckReport::to_json``, as ``pfwd check --json``
prints it)."""

from __future__ import annotations

import enum
import ipaddress
import json
from dataclasses import dataclass, field
from typing import Any, Dict, Optional, Tuple, Union

__all__ = ["Diagnosis", "CheckReport"]

IPAddress = Union[ipaddress.IPv4Address, ipaddress.IPv6Address]


class Diagnosis(str, enum.Enum):
    """What a check concluded, with the core's stable names."""

    REACHABLE = "reachable"
    """Reachable, and verified: the token came back through the mapping to this host."""
    REACHABLE_UNVERIFIED = "reachable_unverified"
    """Something answered from outside, but pfwd could not tell what (the server holds the port)."""
    NOT_FORWARDED = "not_forwarded"
    """The router does not forward the port."""
    NOTHING_LISTENING = "nothing_listening"
    """The router forwards the port, but nothing listens on the LAN host."""
    REACHED_SOMETHING_ELSE = "reached_something_else"
    """Something answered on the public address, but not this host."""
    DOUBLE_NAT = "double_nat"
    """The internet sees another address than the router's: a second NAT sits in front."""
    BLOCKED_UPSTREAM = "blocked_upstream"
    """The router holds the mapping, yet nothing arrived: blocked before the router or by a firewall."""
    INCONCLUSIVE = "inconclusive"
    """UDP without an answer while the server holds the port: nothing can tell."""
    NOT_CHECKED = "not_checked"
    """No prober was given: only the LAN-side steps ran."""

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class CheckReport:
    """What a check found, and what it means.

    Test ``report.reachable`` (something answered from outside) or
    ``report.verified`` (the path to this host is proven); the report itself
    has no truth value of its own. ``str(report)`` is the explanation;
    ``to_json()`` is the core's JSON, ``facts`` every step's findings in it.
    """

    reachable: bool
    """Whether something answered from outside and was not shown to be something else."""
    verified: bool
    """Whether the one-time token came back through the mapping to this host."""
    observed_address: Optional[IPAddress]
    """The address the internet sees for this network, from the prober."""
    router_address: Optional[ipaddress.IPv4Address]
    """The router's internet address, as the router tells it."""
    diagnosis: Diagnosis
    """What it means, as a stable name."""
    explanation: str
    """What it means in plain words, with what to do."""
    facts: Dict[str, Any] = field(hash=False)
    """Every step's findings (the LAN side, the router, the prober's answer), as the core's JSON."""
    took_ms: int
    """How long the whole check took, in milliseconds."""
    _json: str = field(repr=False, compare=False)

    def to_json(self) -> str:
        """The report as the core wrote it: one JSON object."""
        return self._json

    def to_dict(self) -> Dict[str, Any]:
        """The core's JSON as a dict."""
        result: Dict[str, Any] = json.loads(self._json)
        return result

    @classmethod
    def from_json(cls, text: str) -> "CheckReport":
        """Read a report that ``to_json()`` (or ``pfwd check --json``) wrote."""
        return cls._from_dict(json.loads(text), text)

    @classmethod
    def _from_dict(cls, d: Dict[str, Any], text: Optional[str] = None) -> "CheckReport":
        observed = d.get("observed_address")
        router = d.get("router_address")
        return cls(
            reachable=bool(d["reachable"]),
            verified=bool(d["verified"]),
            observed_address=ipaddress.ip_address(observed) if observed else None,
            router_address=ipaddress.IPv4Address(router) if router else None,
            diagnosis=Diagnosis(d["diagnosis"]),
            explanation=d["explanation"],
            facts=d.get("facts", {}),
            took_ms=int(d.get("took_ms", 0)),
            _json=text if text is not None else json.dumps(d, separators=(",", ":")),
        )

    def __reduce__(self) -> Tuple[Any, Tuple[str]]:
        return (CheckReport.from_json, (self._json,))

    def __str__(self) -> str:
        return self.explanation
