"""What the blocking client, the asyncio client and the outbox share: a C handle shared by
threads (a ``connect_client *``, a ``connect_outbox *``) and the one place that decides when it
may be freed; the JSON they send; the config document from boto3's constructor arguments; a
new client handle; the error for a closed handle."""

from __future__ import annotations

import ctypes
import json
import threading
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Callable, Dict, Iterator, Mapping, Optional

from . import _lib
from .exceptions import ClientClosedError, Status, error_for_status, status_name

if TYPE_CHECKING:
    from .types import ClientConfig

#: The closed error's message for either client.
CLIENT_CLOSED = "this Client is closed; create a new one"


def to_json(value: Mapping[str, Any], what: str) -> bytes:
    """``value`` as ASCII JSON bytes. ASCII escapes keep any str (lone surrogates included)
    encodable; the library then judges the JSON. A value json cannot write is the caller's
    error, raised as ParamValidationError like botocore's type checks."""
    try:
        return json.dumps(value, ensure_ascii=True, allow_nan=False).encode("ascii")
    except (TypeError, ValueError) as e:
        # The message names the type or problem (e.g. "Object of type bytes ..."), never a value.
        raise error_for_status(Status.INVALID_JSON, f"{what}: {e}") from None


def client_settings(
    region_name: Optional[str],
    endpoint_url: Optional[str],
    aws_access_key_id: Optional[str],
    aws_secret_access_key: Optional[str],
    aws_session_token: Optional[str],
    profile_name: Optional[str],
    config: Optional[ClientConfig],
) -> Dict[str, Any]:
    """The library's config document from boto3's constructor arguments (both clients):
    ``config`` first, the keyword arguments win over the same keys in it."""
    settings: Dict[str, Any] = dict(config or {})
    for key, value in (
        ("region", region_name),
        ("endpoint_url", endpoint_url),
        ("access_key_id", aws_access_key_id),
        ("secret_access_key", aws_secret_access_key),
        ("session_token", aws_session_token),
        ("profile", profile_name),
    ):
        if value is not None:
            settings[key] = value
    return settings


def new_handle(settings: Mapping[str, Any]) -> int:
    """A new ``connect_client *`` for ``settings``; a refused config raises."""
    handle = ctypes.c_void_p()
    _lib.lib().connect_client_new(to_json(settings, "config"), ctypes.byref(handle))
    assert handle.value is not None  # written on success, and failure raised
    return handle.value


def closed_error(message: str = CLIENT_CLOSED) -> ClientClosedError:
    """The error for a call on a closed handle: its status is NULL_ARGUMENT (the handle is
    gone)."""
    return ClientClosedError(
        message,
        status=Status.NULL_ARGUMENT,
        status_name=status_name(Status.NULL_ARGUMENT),
    )


class SharedHandle:
    """Each call holds the handle for the length of its C call (:meth:`use`); :meth:`close`
    refuses new calls, waits for those in flight, then frees it, so no call ever runs on a
    freed handle (the C functions leave that to the caller).

    The wait is in slices of 0.1 s, so KeyboardInterrupt (Ctrl-C) takes effect at once; the
    handle then stays closed to new calls, and the last call in flight frees it when it ends.
    """

    def __init__(self, free: Callable[[int], None], closed_error: Callable[[], Exception]) -> None:
        self._free = free
        self._closed_error = closed_error
        self._cond = threading.Condition()
        self._handle: Optional[int] = None
        self._in_flight = 0
        # Set by close(): no new calls. _closers counts close() calls still waiting.
        self._closing = False
        self._closers = 0

    def set(self, handle: Optional[int]) -> None:
        """The handle, once made."""
        with self._cond:
            self._handle = handle

    @contextmanager
    def use(self) -> Iterator[int]:
        """The handle for one call; raises the closed error once close() has begun."""
        with self._cond:
            handle = self._handle
            if handle is None or self._closing:
                raise self._closed_error()
            self._in_flight += 1
        try:
            yield handle
        finally:
            orphan = None
            with self._cond:
                self._in_flight -= 1
                if self._in_flight == 0:
                    self._cond.notify_all()
                    # A close() interrupted (Ctrl-C) while this call ran: free for it.
                    if self._closing and not self._closers:
                        orphan, self._handle = self._handle, None
            if orphan is not None:
                self._free(orphan)

    def close(self) -> None:
        """Refuses new calls, waits for those in flight, frees. Twice is fine."""
        with self._cond:
            self._closing = True
            self._closers += 1
            try:
                while self._in_flight:
                    self._cond.wait(0.1)
            finally:
                self._closers -= 1
            handle, self._handle = self._handle, None
        if handle is not None:
            self._free(handle)

    def free_unused(self) -> None:
        """For ``__del__``: no call can be in flight (each holds a reference to the owner),
        so free without waiting."""
        handle, self._handle = self._handle, None
        if handle is not None:
            self._free(handle)

    @property
    def closed(self) -> bool:
        return self._closing or self._handle is None
