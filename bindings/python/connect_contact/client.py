"""The Client: one C ``connect_client`` handle, shared safely by many threads."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, Optional, cast

from . import _lib
from ._shared import SharedHandle, client_settings, closed_error, new_handle, to_json
from .exceptions import ClientExceptions
from .types import UpdateContactResponse

if TYPE_CHECKING:  # Unpack is typing 3.11+; type checkers carry typing_extensions.
    from typing_extensions import Unpack

    from .outbox import Outbox
    from .types import ClientConfig, UpdateContactRequest


class Client:
    """An Amazon Connect client for UpdateContact, created like ``boto3.client("connect")``.

    Arguments left ``None`` come from the environment, as in boto3 (``AWS_REGION`` /
    ``AWS_DEFAULT_REGION``, ``AWS_ENDPOINT_URL_CONNECT`` / ``AWS_ENDPOINT_URL``,
    ``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY`` / ``AWS_SESSION_TOKEN``,
    ``AWS_MAX_ATTEMPTS``). ``config`` is a dict of the library's other config keys
    (:class:`connect_contact.types.ClientConfig`; docs/configuration.md describes each); the
    keyword arguments win over the same keys in it. ``profile_name`` is passed on as
    ``profile``. :meth:`config` shows what the client resolved and where each value came from.

    Thread safety: any number of threads may call :meth:`update_contact` at once (the GIL
    is released during the call). :meth:`close` refuses new calls, waits for the ones in
    flight, then frees the handle.

    Ctrl-C: a call in progress is one C call and cannot be interrupted; KeyboardInterrupt
    is raised when it returns, which ``timeout_ms`` bounds. :meth:`close` waits in short
    slices, so Ctrl-C interrupts it at once; the client stays closed to new calls and the
    last call in flight frees the handle when it ends, so nothing leaks.
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
        lib = _lib.lib()
        # Set first, so close() and __del__ work whatever fails below. The free function is
        # bound now: at interpreter shutdown __del__ may run after module globals are None.
        self._handle = SharedHandle(lib.connect_client_free, closed_error)
        self._update = lib.connect_update_contact
        self._string_free = lib.connect_string_free

        settings = client_settings(
            region_name, endpoint_url, aws_access_key_id, aws_secret_access_key, aws_session_token, profile_name, config
        )
        # Kept for repr only: never the secret key or the session token.
        self._region = settings.get("region")
        self._endpoint_url = settings.get("endpoint_url")
        self._handle.set(new_handle(settings))

    def update_contact(self, **kwargs: Unpack[UpdateContactRequest]) -> UpdateContactResponse:
        """Adds or updates a contact's information: boto3's ``update_contact``.

        Returns ``{"ResponseMetadata": {"RequestId", "HTTPStatusCode", "RetryAttempts"}}``.
        Raises a :class:`~connect_contact.ClientError` subclass for a service error,
        ParamValidationError before sending a bad request, and the other
        :class:`~connect_contact.Error` subclasses for local failures.
        """
        request = to_json(kwargs, "request")
        with self._handle.use() as handle:
            document = _lib.OwnedString()
            try:
                # ctypes releases the GIL here; an error status raises from the errcheck.
                self._update(handle, request, document)
                return cast(UpdateContactResponse, _lib.read_document(document))
            finally:
                if document.value:
                    self._string_free(document)

    def config(self) -> Dict[str, Dict[str, Any]]:
        """The resolved configuration, like ``aws configure list``: for each setting (see
        docs/configuration.md) ``{"value": ..., "source": ...}``, the source being the config
        key, the environment variable, the profile key or ``default``. Secrets (the secret key,
        the session token, the proxy URL) show only their source."""
        with self._handle.use() as handle:
            document = _lib.OwnedString()
            try:
                _lib.lib().connect_client_config_json(handle, document)
                return _lib.read_document(document)
            finally:
                if document.value:
                    self._string_free(document)

    def close(self) -> None:
        """Frees the client after the calls in flight finish; later calls raise
        ClientClosedError. Closing twice is fine.

        Waits in slices of 0.1 s, so KeyboardInterrupt (Ctrl-C) takes effect while calls
        are in flight; the client is then still closed to new calls, and the last call in
        flight frees it when it ends (each ends within its timeout_ms)."""
        self._handle.close()

    def outbox(self, path: str, **options: Any) -> "Outbox":
        """Opens a durable outbox on this client (docs/outbox.md): ``Rate``, ``Burst``,
        ``MaxAge``, ``MaxBackoff`` and ``Lease`` (seconds), ``Workers``, ``MaxCoalesce``,
        ``OnEvent``.
        The outbox keeps its own reference to the client."""
        from .outbox import Outbox

        with self._handle.use() as handle:
            return Outbox(handle, path, **options)

    @property
    def closed(self) -> bool:
        return self._handle.closed

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __del__(self) -> None:
        # Tolerate a half-built object and a dying interpreter.
        try:
            self._handle.free_unused()
        except Exception:
            pass

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return f"<connect_contact.Client region={self._region!r} endpoint_url={self._endpoint_url!r} {state}>"
