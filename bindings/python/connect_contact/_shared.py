"""A C handle shared by threads (a ``connect_client *``, a ``connect_outbox *``): the one
place that decides when it may be freed."""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Callable, Iterator, Optional


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
