"""pfwd's exceptions: one class per error kind of the core.

The native module hands every error over in one place (``pfwd-py/src/errors.rs``)
as the core's JSON; ``_from_core`` picks the class by its kind number.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Dict, Optional, Tuple, Type

from ._types import ErrorKind, Instructions, Method, _method

__all__ = [
    "Error",
    "NoGatewayError",
    "UnsupportedError",
    "RefusedError",
    "ConflictError",
    "GatewayTimeoutError",
    "InvalidRequestError",
    "InvalidResponseError",
    "NetworkError",
    "ManualForwardingRequired",
    "CancelledError",
    "ClosedError",
    "WouldDeadlockError",
    "ProberError",
    "GatewayCode",
    "Holder",
]


@dataclass(frozen=True)
class GatewayCode:
    """The router's own result code, the same view for every protocol."""

    method: Method
    number: int
    name: str
    meaning: str
    advice: str


@dataclass(frozen=True)
class Holder:
    """Who already holds a port: the LAN host and port, and its description."""

    internal: str
    description: str


class Error(Exception):
    """Every error pfwd raises; ``.kind`` says which, ``.to_dict()`` is the core's JSON."""

    kind: ErrorKind = ErrorKind.IO

    def __init__(self, message: str, data: Optional[Dict[str, Any]] = None) -> None:
        super().__init__(message)
        self.message = message
        self._data: Dict[str, Any] = data if data is not None else {"message": message}
        m = self._data.get("method")
        self.method: Optional[Method] = _method(m) if m else None

    @property
    def code(self) -> Optional[GatewayCode]:
        """The router's own code, where it gave one (refusals, conflicts)."""
        c = self._data.get("gateway_code")
        if not c:
            return None
        return GatewayCode(
            method=_method(c["method"]),
            number=c["number"],
            name=c["name"],
            meaning=c["meaning"],
            advice=c["advice"],
        )

    def to_dict(self) -> Dict[str, Any]:
        """The core's JSON shape: kind, code, message, and where present method,
        gateway_code, holder, os_error, instructions."""
        return dict(self._data)

    def __str__(self) -> str:
        return self.message


class NoGatewayError(Error):
    """No default route, or nothing answered within the budget."""

    kind = ErrorKind.NO_GATEWAY


class UnsupportedError(Error):
    """The router lacks the action (a manual rule cannot be deleted by pfwd)."""

    kind = ErrorKind.UNSUPPORTED


class RefusedError(Error):
    """The router said no; ``.code`` is its own code with meaning and advice."""

    kind = ErrorKind.REFUSED


class ConflictError(Error):
    """The external port is forwarded elsewhere; ``.holder`` says where, if known."""

    kind = ErrorKind.CONFLICT

    @property
    def holder(self) -> Optional[Holder]:
        """The host that holds the port, where the router says."""
        h = self._data.get("holder")
        return Holder(internal=h["internal"], description=h["description"]) if h else None


class GatewayTimeoutError(Error, TimeoutError):
    """The router stopped answering, or the call's timeout passed."""

    kind = ErrorKind.TIMEOUT


class InvalidRequestError(Error, ValueError):
    """The request cannot be carried out (nothing was sent)."""

    kind = ErrorKind.INVALID_REQUEST


class InvalidResponseError(Error):
    """The router answered something that is not the protocol."""

    kind = ErrorKind.INVALID_RESPONSE


class NetworkError(Error, OSError):
    """A system call failed; ``.errno`` is the OS error where there is one."""

    kind = ErrorKind.IO

    def __init__(self, message: str, data: Optional[Dict[str, Any]] = None) -> None:
        Error.__init__(self, message, data)
        self.errno = self._data.get("os_error")


class ManualForwardingRequired(Error):
    """No method could map: ``.instructions`` says how to do it by hand."""

    kind = ErrorKind.MANUAL
    instructions: Instructions

    def __init__(
        self,
        message: str,
        data: Optional[Dict[str, Any]] = None,
        instructions: Optional[Instructions] = None,
    ) -> None:
        super().__init__(message, data)
        self.instructions = instructions if instructions is not None else Instructions(message, message, "{}")


class CancelledError(Error):
    """The call was cancelled (its token, or the asyncio task)."""

    kind = ErrorKind.CANCELLED


class ClosedError(Error):
    """The keeper or client is closed (or used in a child after fork())."""

    kind = ErrorKind.CLOSED


class WouldDeadlockError(Error):
    """A blocking call where it would wait for itself (inside an event callback)."""

    kind = ErrorKind.WOULD_DEADLOCK


class ProberError(Error):
    """The prober of a check from outside (``pfwd probe-server``) could not be reached or refused."""

    kind = ErrorKind.PROBER


_BY_KIND: Dict[int, Type[Error]] = {
    cls.kind.value: cls
    for cls in (
        NoGatewayError,
        UnsupportedError,
        RefusedError,
        ConflictError,
        GatewayTimeoutError,
        InvalidRequestError,
        InvalidResponseError,
        NetworkError,
        ManualForwardingRequired,
        CancelledError,
        ClosedError,
        WouldDeadlockError,
        ProberError,
    )
}


def _from_parts(data: Dict[str, Any], message: str, guide: Optional[Tuple[str, str, str]]) -> Error:
    cls = _BY_KIND.get(int(data.get("code", 8)), Error)
    if cls is ManualForwardingRequired:
        instructions = Instructions(*guide) if guide else None
        return ManualForwardingRequired(message, data, instructions)
    return cls(message, data)


def _from_core(text: str) -> Error:
    """The exception for an error the native module hands over."""
    d = json.loads(text)
    guide = d.get("guide")
    return _from_parts(d["json"], d["message"], tuple(guide) if guide else None)


def _from_carried(d: Dict[str, Any]) -> Error:
    """The exception for an error an event carries."""
    guide = d.get("guide")
    return _from_parts(d["json"], d["message"], tuple(guide) if guide else None)
