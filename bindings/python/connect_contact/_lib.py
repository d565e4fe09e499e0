"""Finds libconnect_contact, declares its C ABI (include/connect_contact.h) for ctypes, and
turns failed statuses into exceptions."""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import os
from typing import Any, Dict, List, Optional, Tuple

from ._version import __version__, soname
from .exceptions import Status, error_for_status

ENV_VAR = "CONNECT_CONTACT_LIB"
#: The file name inside the package (what the build ships).
PACKAGED_NAME = "libconnect_contact.so"
#: The name the system loader knows the installed library by (scripts/install.sh makes it).
SONAME = soname()


class OwnedString(ctypes.c_void_p):
    """A ``char *`` the library allocated: read it with :func:`take_string`, then free it
    with ``connect_string_free``. Kept as a pointer (not ``c_char_p``, which would copy the
    text and lose the address we must free)."""


def _candidates() -> List[Tuple[str, Optional[str]]]:
    """(description, path or name for CDLL) in search order; None means "skip, say why".

    The library built with this package first (pip install ships it inside), then
    $CONNECT_CONTACT_LIB, then the soname through the system loader (LD_LIBRARY_PATH,
    ld.so.cache: an installed library of this ABI)."""
    from_env = os.environ.get(ENV_VAR)
    return [
        ("the package directory", os.path.join(os.path.dirname(os.path.abspath(__file__)), PACKAGED_NAME)),
        (f"${ENV_VAR}", from_env or None),
        ("the system loader", SONAME),
    ]


def load_library() -> ctypes.CDLL:
    """The first candidate that loads, else ImportError naming every place tried and why.
    A library of another version than this package is refused (ImportError saying both)."""
    tried: List[str] = []
    for where, target in _candidates():
        if target is None:
            tried.append(f"  {where}: not set")
            continue
        if os.sep in target and not os.path.exists(target):
            tried.append(f"  {where}: {target}: no such file")
            continue
        try:
            lib = ctypes.CDLL(target)
        except OSError as e:
            tried.append(f"  {where}: {target}: {e}")
            continue
        lib.connect_version.argtypes = []
        lib.connect_version.restype = ctypes.c_char_p
        found = (lib.connect_version() or b"").decode("ascii", "replace")
        if found != __version__:
            raise ImportError(
                f"connect_contact {__version__} found libconnect_contact {found} at {target} "
                f"(from {where}); the versions must match. Reinstall the package "
                f"(`pip install ./bindings/python` builds the matching library) or point "
                f"{ENV_VAR} at a {__version__} build."
            )
        return lib
    raise ImportError(
        "connect_contact could not load libconnect_contact. Tried, in order:\n"
        + "\n".join(tried)
        + "\nReinstall with `pip install ./bindings/python` (it builds the library into the "
        f"package), or set {ENV_VAR} to a built target/release/libconnect_contact.so, or install "
        f"the library ({SONAME}) with scripts/install.sh."
    )


def _check_status(result: int, func: Any, args: Tuple[Any, ...]) -> int:
    """The errcheck of every status-returning export: a non-zero status raises.

    Runs on the calling thread right after the call, so connect_last_error_message() is
    this call's message. A response document among the arguments is read (not freed: the
    caller frees it in ``finally``) to fill the exception's ``response``.
    """
    if result == Status.OK:
        return result
    document = next((read_document(a) for a in args if isinstance(a, OwnedString) and a.value), None)
    message = (_LIB.connect_last_error_message() or b"").decode("utf-8", "replace")
    name = (_LIB.connect_status_name(result) or b"").decode("ascii", "replace")
    raise error_for_status(result, message, document, name)


def read_document(ptr: OwnedString) -> Dict[str, Any]:
    """The JSON document a library-owned string holds (not freed here)."""
    value: Dict[str, Any] = json.loads(ctypes.string_at(ptr.value or 0).decode("utf-8"))
    return value


#: connect_update_callback: (status, const char *response_json, void *user_data). The response
#: is a borrowed pointer (c_void_p, read with string_at), valid only during the callback.
UPDATE_CALLBACK = ctypes.CFUNCTYPE(None, ctypes.c_int32, ctypes.c_void_p, ctypes.c_void_p)

#: connect_outbox_callback: (id, status, const char *event_json, void *user_data).
OUTBOX_EVENT_CALLBACK = ctypes.CFUNCTYPE(None, ctypes.c_uint64, ctypes.c_int32, ctypes.c_char_p, ctypes.c_void_p)


def _declare(lib: ctypes.CDLL) -> ctypes.CDLL:
    client_p = ctypes.c_void_p  # connect_client * is opaque to us
    status = ctypes.c_int32  # connect_status is an int32_t enum

    lib.connect_client_new.argtypes = [ctypes.c_char_p, ctypes.POINTER(client_p)]
    lib.connect_client_new.restype = status
    lib.connect_client_new.errcheck = _check_status  # type: ignore[assignment]

    lib.connect_client_free.argtypes = [client_p]
    lib.connect_client_free.restype = None

    lib.connect_update_contact.argtypes = [client_p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_void_p)]
    lib.connect_update_contact.restype = status
    lib.connect_update_contact.errcheck = _check_status  # type: ignore[assignment]

    lib.connect_client_config_json.argtypes = [client_p, ctypes.POINTER(ctypes.c_void_p)]
    lib.connect_client_config_json.restype = status
    lib.connect_client_config_json.errcheck = _check_status  # type: ignore[assignment]

    lib.connect_update_contact_async.argtypes = [client_p, ctypes.c_char_p, UPDATE_CALLBACK, ctypes.c_void_p]
    lib.connect_update_contact_async.restype = status
    # No errcheck: the asyncio client turns a refusal into its exception itself.

    outbox_p = ctypes.c_void_p  # connect_outbox * is opaque too
    out_p = ctypes.POINTER(ctypes.c_void_p)
    lib.connect_outbox_open.argtypes = [
        client_p,
        ctypes.c_char_p,
        ctypes.c_char_p,
        OUTBOX_EVENT_CALLBACK,
        ctypes.c_void_p,
        ctypes.POINTER(outbox_p),
    ]
    lib.connect_outbox_enqueue.argtypes = [outbox_p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_uint64)]
    lib.connect_outbox_stats.argtypes = [outbox_p, out_p]
    lib.connect_outbox_dead_letters.argtypes = [outbox_p, out_p]
    lib.connect_outbox_retry.argtypes = [outbox_p, ctypes.c_uint64]
    lib.connect_outbox_discard.argtypes = [outbox_p, ctypes.c_uint64]
    for f in (
        lib.connect_outbox_open,
        lib.connect_outbox_enqueue,
        lib.connect_outbox_stats,
        lib.connect_outbox_dead_letters,
        lib.connect_outbox_retry,
        lib.connect_outbox_discard,
    ):
        f.restype = status
        f.errcheck = _check_status  # type: ignore[assignment]
    lib.connect_outbox_flush.argtypes = [outbox_p, ctypes.c_uint64]
    lib.connect_outbox_flush.restype = status
    # No errcheck: TIMEOUT is an answer (not everything was delivered), which Outbox.flush reads.
    lib.connect_outbox_close.argtypes = [outbox_p]
    lib.connect_outbox_close.restype = None

    lib.connect_string_free.argtypes = [ctypes.c_void_p]
    lib.connect_string_free.restype = None

    # Static strings owned by the library: c_char_p's copy is what we want.
    lib.connect_last_error_message.argtypes = []
    lib.connect_last_error_message.restype = ctypes.c_char_p
    lib.connect_status_name.argtypes = [status]
    lib.connect_status_name.restype = ctypes.c_char_p
    lib.connect_version.argtypes = []
    lib.connect_version.restype = ctypes.c_char_p
    return lib


_LIB = _declare(load_library())


def lib() -> ctypes.CDLL:
    """The loaded, declared library."""
    return _LIB


def version() -> str:
    """The library's version, e.g. ``"0.1.0"``."""
    return (_LIB.connect_version() or b"").decode("ascii", "replace")
