"""The asyncio client: ``await client.update_contact(...)`` on any event loop.

Built on the C ABI's asynchronous call (``connect_update_contact_async``): the library's own
worker threads (config key ``async_workers``, default 2) make the calls; each outcome comes
back through one callback that copies the response and wakes the awaiting loop with
``loop.call_soon_threadsafe``. No Python thread is started, whatever the number of calls in
flight.

Cancelling the awaiting task detaches it: the call goes on in the library (ending within its
``timeout_ms``), and its outcome is dropped when it arrives. A call the library's queue
(``async_queue``, default 256) cannot take yet waits in this client, in order, for a slot.
"""

from __future__ import annotations

import asyncio
import atexit
import ctypes
import itertools
import json
import threading
import weakref
from collections import deque
from typing import TYPE_CHECKING, Any, Deque, Dict, Optional, Tuple, cast

from . import _lib
from ._shared import client_settings, closed_error, new_handle, to_json
from .exceptions import ClientExceptions, Status, error_for_status
from .types import UpdateContactResponse

if TYPE_CHECKING:  # Unpack is typing 3.11+; type checkers carry typing_extensions.
    from typing_extensions import Unpack

    from .types import ClientConfig, UpdateContactRequest

__all__ = ["Client"]

# Calls the library holds: user_data (a key) -> (loop, client, future). The callback pops
# its entry; an entry outlives a cancelled future until the library reports the call.
_pending: Dict[int, Tuple[asyncio.AbstractEventLoop, "Client", "asyncio.Future[Tuple[int, Any, str]]"]] = {}
_pending_lock = threading.Lock()
_keys = itertools.count(1)


def pending_calls() -> int:
    """How many calls the library still holds for asyncio clients (for tests and metrics)."""
    with _pending_lock:
        return len(_pending)


def _on_complete(status: int, response: Optional[int], user_data: Optional[int]) -> None:
    """The C callback, on a library worker thread (ctypes holds the GIL for us). Copies the
    outcome (the response is valid only now; so is connect_last_error_message) and hands it
    to the loop. Must never raise: ctypes would only print it."""
    try:
        with _pending_lock:
            entry = _pending.pop(user_data or 0, None)
        if entry is None:
            return
        loop, client, future = entry
        text = ctypes.string_at(response).decode("utf-8") if response else ""
        message = ""
        if status != Status.OK:
            message = (_LIB.connect_last_error_message() or b"").decode("utf-8", "replace")
        try:
            loop.call_soon_threadsafe(client._delivered, future, status, text, message)
        except RuntimeError:
            pass  # the loop is closed: nobody waits for this result any more
    except BaseException:  # noqa: BLE001 - a callback must return to the library
        pass


# One C function pointer for every call, alive as long as the module.
_LIB = _lib.lib()
_CALLBACK = _lib.UPDATE_CALLBACK(_on_complete)

# Open clients, so that interpreter exit frees them (waiting for running calls, each bounded
# by its timeout_ms) before Python finalizes: no callback may then arrive in a dying
# interpreter.
_open_clients: "weakref.WeakSet[Client]" = weakref.WeakSet()


@atexit.register
def _free_all_at_exit() -> None:
    for client in list(_open_clients):
        client._free_now()


class Client:
    """An asyncio Amazon Connect client for UpdateContact: the same constructor, responses and
    exceptions as :class:`connect_contact.Client`, with ``await``.

    ``async with connect_contact.aio.Client(region_name=...) as client:`` closes it on exit.
    Any number of calls may be in flight at once, from any number of tasks and event loops;
    ``config={"async_workers": N}`` sets how many run at the same time inside the library.
    """

    exceptions = ClientExceptions()

    def __init__(
        self,
        region_name: Optional[str] = None,
        endpoint_url: Optional[str] = None,
        aws_access_key_id: Optional[str] = None,
        aws_secret_access_key: Optional[str] = None,
        aws_session_token: Optional[str] = None,
        profile_name: Optional[str] = None,
        config: Optional[ClientConfig] = None,
    ) -> None:
        self._handle: Optional[int] = None
        self._lock = threading.Lock()
        self._closing = False
        self._in_flight = 0  # accepted by the library and not yet reported
        # Calls waiting for room in the library's queue, in order.
        self._waiting: Deque["asyncio.Future[None]"] = deque()
        self._free = _LIB.connect_client_free
        settings = client_settings(
            region_name, endpoint_url, aws_access_key_id, aws_secret_access_key, aws_session_token, profile_name, config
        )
        self._region = settings.get("region")
        self._endpoint_url = settings.get("endpoint_url")
        self._handle = new_handle(settings)
        _open_clients.add(self)

    async def update_contact(self, **kwargs: Unpack[UpdateContactRequest]) -> UpdateContactResponse:
        """Adds or updates a contact's information: boto3's ``update_contact``, awaited.

        Returns and raises exactly what :meth:`connect_contact.Client.update_contact` does.
        """
        request = to_json(kwargs, "request")
        loop = asyncio.get_running_loop()
        while True:
            if self._handle is None or self._closing:
                raise closed_error()
            future: asyncio.Future[Tuple[int, Any, str]] = loop.create_future()
            key = next(_keys)
            with _pending_lock:
                _pending[key] = (loop, self, future)
            with self._lock:
                self._in_flight += 1
            try:
                status = _LIB.connect_update_contact_async(self._handle, request, _CALLBACK, key)
            except BaseException:
                status = -1  # no status: the call did not return
                raise
            finally:
                if status != Status.OK:
                    # Refused (or never made): the callback will never come for this key.
                    with _pending_lock:
                        del _pending[key]
                    with self._lock:
                        self._in_flight -= 1
                        mine = self._in_flight
            if status == Status.OK:
                break
            if status != Status.QUEUE_FULL:
                message = (_LIB.connect_last_error_message() or b"").decode("utf-8", "replace")
                raise error_for_status(status, message)
            if not mine:
                # Full of other clients' calls: nothing of ours will wake us; poll.
                await asyncio.sleep(0.005)
                continue
            # The library's queue is full: wait until one of our calls is reported.
            slot: asyncio.Future[None] = loop.create_future()
            self._waiting.append(slot)
            try:
                await slot
            finally:
                if slot in self._waiting:
                    self._waiting.remove(slot)
        status, text, message = await future
        document: Optional[Dict[str, Any]] = json.loads(text) if text else None
        if status == Status.CANCELLED:
            raise closed_error()  # queued when close() began: never sent
        if status != Status.OK:
            raise error_for_status(status, message, document)
        return cast(UpdateContactResponse, document)

    def _delivered(self, future: "asyncio.Future[Tuple[int, Any, str]]", status: int, text: str, message: str) -> None:
        """On the loop: one call of this client was reported by the library."""
        with self._lock:
            self._in_flight -= 1
        if not future.done():  # a cancelled caller has gone: drop the result
            future.set_result((status, text, message))
        while self._waiting:
            slot = self._waiting.popleft()
            if not slot.done():
                slot.set_result(None)
                break

    async def close(self) -> None:
        """Stops new calls and frees the handle: calls the library is running end (each within
        its ``timeout_ms``) and are reported; calls still queued are not sent and their callers
        get ClientClosedError. The blocking free runs off the loop (in the loop's default
        executor), so the loop keeps serving other tasks meanwhile. Closing twice is fine."""
        self._closing = True
        while self._waiting:
            slot = self._waiting.popleft()
            if not slot.done():
                slot.set_result(None)  # it sees the client closing and raises
        if self._handle is not None:
            await asyncio.get_running_loop().run_in_executor(None, self._free_now)

    def _free_now(self) -> None:
        """Frees the handle, first letting running calls end (connect_client_free waits for
        them; queued ones are reported CANCELLED, and their results dropped)."""
        self._closing = True
        with self._lock:
            handle, self._handle = self._handle, None
        if handle is not None:
            self._free(handle)
        _open_clients.discard(self)

    @property
    def closed(self) -> bool:
        return self._closing or self._handle is None

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    def __del__(self) -> None:
        # Each pending call holds a reference to self, so none is in flight here.
        try:
            self._free_now()
        except Exception:
            pass

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return f"<connect_contact.aio.Client region={self._region!r} endpoint_url={self._endpoint_url!r} {state}>"
