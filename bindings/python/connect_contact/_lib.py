"""Finds libconnect_contact, declares its C ABI (include/connect_contact.h) for ctypes, and
turns failed statuses into exceptions."""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import os
from typing import Any, Dict, List, Optional, Tuple

from .exceptions import error_for_status

ENV_VAR = "CONNECT_CONTACT_LIB"
_FILE_NAME = "libconnect_contact.so"


class OwnedString(ctypes.c_void_p):
    """A ``char *`` the library allocated: read it with :func:`take_string`, then free it
    with ``connect_string_free``. Kept as a pointer (not ``c_char_p``, which would copy the
    text and lose the address we must free)."""


def _candidates() -> List[Tuple[str, Optional[str]]]:
    """(description, path or name for CDLL) in search order; None means "skip, say why"."""
    found: List[Tuple[str, Optional[str]]] = []
    from_env = os.environ.get(ENV_VAR)
    found.append((f"${ENV_VAR}", from_env or None))
    found.append(("the package directory", os.path.join(os.path.dirname(__file__), _FILE_NAME)))
    found.append(("ctypes.util.find_library('connect_contact')", ctypes.util.find_library("connect_contact")))
    # find_library ignores LD_LIBRARY_PATH on some systems; the dynamic loader does not.
    found.append(("the system loader", _FILE_NAME))
    return found


def load_library() -> ctypes.CDLL:
    """The first candidate that loads, else ImportError naming every place tried and why."""
    tried: List[str] = []
    for where, target in _candidates():
        if target is None:
            tried.append(f"  {where}: not set" if where.startswith("$") else f"  {where}: nothing found")
            continue
        if os.sep in target and not os.path.exists(target):
            tried.append(f"  {where}: {target}: no such file")
            continue
        try:
            return ctypes.CDLL(target)
        except OSError as e:
            tried.append(f"  {where}: {target}: {e}")
    raise ImportError(
        "connect_contact could not load libconnect_contact.so. Tried:\n"
        + "\n".join(tried)
        + f"\nBuild it with `cargo build --release` and set {ENV_VAR} to "
        "target/release/libconnect_contact.so, or copy it into the package directory."
    )


def _check_status(result: int, func: Any, args: Tuple[Any, ...]) -> int:
    """The errcheck of every status-returning export: a non-zero status raises.

    Runs on the calling thread right after the call, so connect_last_error_message() is
    this call's message. A response document among the arguments is read (not freed: the
    caller frees it in ``finally``) to fill the exception's ``response``.
    """
    if result == 0:
        return result
    document = next((read_document(a) for a in args if isinstance(a, OwnedString) and a.value), None)
    message = (_LIB.connect_last_error_message() or b"").decode("utf-8", "replace")
    name = (_LIB.connect_status_name(result) or b"").decode("ascii", "replace")
    raise error_for_status(result, message, document, name)


def read_document(ptr: OwnedString) -> Dict[str, Any]:
    """The JSON document a library-owned string holds (not freed here)."""
    value: Dict[str, Any] = json.loads(ctypes.string_at(ptr.value).decode("utf-8"))
    return value


def _declare(lib: ctypes.CDLL) -> ctypes.CDLL:
    client_p = ctypes.c_void_p  # connect_client * is opaque to us
    status = ctypes.c_int32  # connect_status is an int32_t enum

    lib.connect_client_new.argtypes = [ctypes.c_char_p, ctypes.POINTER(client_p)]
    lib.connect_client_new.restype = status
    lib.connect_client_new.errcheck = _check_status

    lib.connect_client_free.argtypes = [client_p]
    lib.connect_client_free.restype = None

    lib.connect_update_contact.argtypes = [client_p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_void_p)]
    lib.connect_update_contact.restype = status
    lib.connect_update_contact.errcheck = _check_status

    lib.connect_client_config_json.argtypes = [client_p, ctypes.POINTER(ctypes.c_void_p)]
    lib.connect_client_config_json.restype = status
    lib.connect_client_config_json.errcheck = _check_status

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
