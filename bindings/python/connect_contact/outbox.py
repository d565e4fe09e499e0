"""The durable outbox (docs/outbox.md) through the C ABI: ``client.outbox(path, ...)``."""

from __future__ import annotations

import ctypes
import json
from typing import Any, Callable, Dict, List, Optional

from . import _lib
from ._shared import SharedHandle, closed_error
from .exceptions import Status

_LIB = _lib.lib()
_EVENT = _lib.OUTBOX_EVENT_CALLBACK
_CLOSED = "this Outbox is closed; open the file again with client.outbox(path)"


_OPTIONS = {
    "Rate": ("rate", 1),
    "Burst": ("burst", 1),
    "MaxAge": ("max_age_ms", 1000),
    "Workers": ("workers", 1),
    "MaxCoalesce": ("max_coalesce", 1),
    "MaxBackoff": ("max_backoff_ms", 1000),
    "Lease": ("lease_ms", 1000),
    # A PostgreSQL store's queue (a name, not a number).
    "Queue": ("queue", None),
}


class Outbox:
    """Updates kept in a file until the service has them (see docs/outbox.md). Durations are
    in seconds. OnEvent, when given, is called with ``{"Id", "Event": "Delivered"|"Dead",
    "Error"?}`` on a delivery thread.

    Thread safety: any number of threads may call its methods at once. :meth:`close` refuses
    new calls (they raise ClientClosedError), waits for the ones in flight (a ``flush`` for
    up to its Timeout), then closes the outbox; it waits in slices of 0.1 s, so Ctrl-C
    interrupts it, and the last call in flight then closes the outbox when it ends."""

    def __init__(
        self,
        client_handle: int,
        path: str,
        OnEvent: Optional[Callable[[Dict[str, Any]], None]] = None,
        **options: Any,
    ) -> None:
        # Set first, so close() and __del__ work whatever fails below.
        self._handle = SharedHandle(_LIB.connect_outbox_close, lambda: closed_error(_CLOSED))
        settings: Dict[str, Any] = {}
        for key, value in options.items():
            if key not in _OPTIONS:
                raise TypeError(f"unknown outbox option {key!r}; known: {', '.join(_OPTIONS)}")
            name, scale = _OPTIONS[key]
            settings[name] = value if scale is None else value * scale
        self._on_event = OnEvent

        def deliver(_id: int, _status: int, event_json: bytes, _data: Any) -> None:
            if self._on_event is not None:
                self._on_event(json.loads(event_json.decode("utf-8")))

        # Kept alive as long as the outbox: the library calls it from its threads.
        self._callback = _EVENT(deliver) if OnEvent is not None else _EVENT()
        handle = ctypes.c_void_p()
        _LIB.connect_outbox_open(
            client_handle,
            str(path).encode("utf-8"),
            json.dumps(settings).encode("utf-8"),
            self._callback,
            None,
            ctypes.byref(handle),
        )
        self._handle.set(handle.value)

    def enqueue(self, **request: Any) -> int:
        """Validates as ``update_contact`` does (same exceptions), stores durably, returns the id."""
        out = ctypes.c_uint64()
        with self._handle.use() as handle:
            _LIB.connect_outbox_enqueue(handle, json.dumps(request).encode("utf-8"), ctypes.byref(out))
        return out.value

    def flush(self, Timeout: float = 60.0) -> bool:
        """True when everything enqueued before the call is delivered or dead."""
        with self._handle.use() as handle:
            status = _LIB.connect_outbox_flush(handle, int(Timeout * 1000))
            if status in (Status.OK, Status.TIMEOUT):
                return status == Status.OK
            return bool(_lib._check_status(status, None, ()))

    def get_stats(self) -> Dict[str, Any]:
        return self._document(_LIB.connect_outbox_stats)

    def list_dead_letters(self) -> List[Dict[str, Any]]:
        return self._document(_LIB.connect_outbox_dead_letters)

    def retry_dead_letter(self, Id: int) -> None:
        with self._handle.use() as handle:
            _LIB.connect_outbox_retry(handle, Id)

    def discard_dead_letter(self, Id: int) -> None:
        with self._handle.use() as handle:
            _LIB.connect_outbox_discard(handle, Id)

    def close(self) -> None:
        """Stops delivering once the calls in flight have returned; pending updates stay in
        the file; later calls raise ClientClosedError. Closing twice is fine."""
        self._handle.close()

    @property
    def closed(self) -> bool:
        return self._handle.closed

    def __enter__(self) -> Outbox:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __del__(self) -> None:
        # Tolerate a half-built object and a dying interpreter.
        try:
            self._handle.free_unused()
        except Exception:
            pass

    def _document(self, function: Any) -> Any:
        out = ctypes.c_void_p()
        # Freed whatever the call returns: on a failure (PANIC, STORAGE) the library also
        # writes an error document there, which is ours to free.
        try:
            with self._handle.use() as handle:
                function(handle, ctypes.byref(out))
            return json.loads(ctypes.string_at(out.value).decode("utf-8"))
        finally:
            if out.value:
                _LIB.connect_string_free(out)
