"""The lease keeper's events, as frozen dataclasses."""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Dict, List, Optional, Tuple, Union

from ._check import CheckReport
from ._errors import Error, _from_carried
from ._types import Mapping

__all__ = [
    "Event",
    "Mapped",
    "Renewed",
    "Lost",
    "Restored",
    "ExternalAddressChanged",
    "Failed",
    "Warning",
    "Removed",
    "Missed",
    "Checked",
    "TakenOver",
    "Closed",
    "CloseReport",
]


@dataclass(frozen=True)
class CloseReport:
    """What closing deleted, and what is left on the router (keep those)."""

    deleted: List[Tuple[int, Mapping]]
    """The mappings removed from the router, with their index."""
    left: List[Tuple[int, Mapping, Error]]
    """The mappings still on the router, with their index and why; they
    end with their leases, and their records stay for ``pfwd unmap``."""

    @property
    def clean(self) -> bool:
        """True when nothing is left on the router."""
        return not self.left


@dataclass(frozen=True)
class Mapped:
    """The keeper holds the mapping for the first time."""

    index: int
    mapping: Mapping


@dataclass(frozen=True)
class Renewed:
    """The mapping was renewed."""

    index: int
    mapping: Mapping


@dataclass(frozen=True)
class Lost:
    """The router lost the mapping (restart, expiry); pfwd makes it again."""

    index: int
    mapping: Mapping
    reason: str


@dataclass(frozen=True)
class Restored:
    """A lost mapping was made again."""

    index: int
    mapping: Mapping


@dataclass(frozen=True)
class ExternalAddressChanged:
    """The router's internet address changed."""

    old: ipaddress.IPv4Address
    new: ipaddress.IPv4Address


@dataclass(frozen=True)
class Failed:
    """An attempt failed; pfwd tries again after ``retry_in``."""

    index: int
    error: Error
    retry_in: timedelta


@dataclass(frozen=True)
class Warning:  # noqa: A001 - the core's name for it
    """Worth knowing, not a mapping's failure."""

    index: Optional[int]
    message: str
    error: Optional[Error]


@dataclass(frozen=True)
class Removed:
    """An item was removed; ``mapping`` is the one deleted, if one was held."""

    index: int
    mapping: Optional[Mapping]


@dataclass(frozen=True)
class Missed:
    """``count`` events were dropped because the reader fell behind."""

    count: int


@dataclass(frozen=True)
class Checked:
    """A check from outside (``check_via``) of a mapping just made or restored."""

    index: int
    report: CheckReport


@dataclass(frozen=True)
class TakenOver:
    """Another pfwd process took the mapping over (it keeps it now); this
    keeper let it go without deleting it."""

    index: int
    mapping: Mapping
    by: int


@dataclass(frozen=True)
class Closed:
    """The keeper closed; the last event."""

    report: CloseReport


Event = Union[
    Mapped,
    Renewed,
    Lost,
    Restored,
    ExternalAddressChanged,
    Failed,
    Warning,
    Removed,
    Missed,
    Checked,
    TakenOver,
    Closed,
]


def _mapping(d: Dict[str, Any]) -> Mapping:
    return Mapping._from_core(json.dumps(d))


def _report(d: Dict[str, Any]) -> CloseReport:
    return CloseReport(
        deleted=[(i, _mapping(m)) for i, m in d.get("deleted", [])],
        left=[(i, _mapping(m), _from_carried(e)) for i, m, e in d.get("left", [])],
    )


def _report_from_json(text: str) -> CloseReport:
    return _report(json.loads(text))


def _event(text: str) -> Event:
    d = json.loads(text)
    k = d["kind"]
    if k == "mapped":
        return Mapped(d["index"], _mapping(d["mapping"]))
    if k == "renewed":
        return Renewed(d["index"], _mapping(d["mapping"]))
    if k == "restored":
        return Restored(d["index"], _mapping(d["mapping"]))
    if k == "lost":
        return Lost(d["index"], _mapping(d["mapping"]), d["reason"])
    if k == "external_address_changed":
        return ExternalAddressChanged(ipaddress.IPv4Address(d["old"]), ipaddress.IPv4Address(d["new"]))
    if k == "failed":
        return Failed(d["index"], _from_carried(d["error"]), timedelta(seconds=d["retry_in"]))
    if k == "removed":
        m = d.get("mapping")
        return Removed(d["index"], _mapping(m) if m else None)
    if k == "missed":
        return Missed(d["count"])
    if k == "checked":
        return Checked(d["index"], CheckReport._from_dict(d["report"]))
    if k == "taken_over":
        return TakenOver(d["index"], _mapping(d["mapping"]), d["by"])
    if k == "closed":
        return Closed(_report(d["report"]))
    e = d.get("error")
    return Warning(d.get("index"), d.get("message", ""), _from_carried(e) if e else None)
