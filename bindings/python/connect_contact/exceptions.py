"""Exceptions, shaped like botocore's, and the one table from C status numbers to them.

Everything raised by this package derives from :class:`Error`, and every exception carries
``status`` (the ``connect_status`` number of the C ABI) and ``status_name``
(``"CONNECT_STATUS_..."``). Messages come from the library, which promises never to put a
secret key or a session token in them, nor a request's Name or Description in a message it
composes (a service's own message may quote the request, its Name and Description values
redacted); this module adds nothing from the client's configuration either.
"""

from __future__ import annotations

import enum
from typing import Any, Dict, Mapping, Optional, Type

OPERATION_NAME = "UpdateContact"


# The C ABI's status numbers by name, so no module writes a bare number: written from the
# library's `Status::ALL` by tests/it/derived_docs.rs (scripts/regenerate), and checked
# against connect_status_name() of the loaded library both ways by the binding's tests.
# BEGIN GENERATED from Status::ALL by scripts/regenerate; do not edit
class Status(enum.IntEnum):
    """The C ABI's connect_status numbers (CONNECT_STATUS_<name>)."""

    OK = 0
    NULL_ARGUMENT = 100
    INVALID_UTF8 = 101
    INVALID_JSON = 102
    VALIDATION = 103
    INVALID_CONFIG = 104
    QUEUE_FULL = 105
    CANCELLED = 106
    NO_REGION = 200
    NO_CREDENTIALS = 201
    CREDENTIALS_PROVIDER = 202
    THREAD_START = 203
    STORAGE = 204
    TRANSPORT = 300
    TIMEOUT = 301
    INVALID_RESPONSE = 302
    ACCESS_DENIED = 400
    CONFLICT = 401
    INTERNAL_SERVICE = 402
    INVALID_ACTIVE_REGION = 403
    INVALID_PARAMETER = 404
    INVALID_REQUEST = 405
    RESOURCE_NOT_FOUND = 406
    THROTTLING = 407
    SERVICE_ERROR = 499
    PANIC = 900
# END GENERATED from Status::ALL


class Error(Exception):
    """Base of every exception this package raises.

    ``document`` is the library's whole response document when there is one, else ``None``:
    ``Error``, ``ResponseMetadata`` (``RetryAttempts``, ``MaxAttemptsReached``, ...) and, when
    any, the library's ``Details`` (``StopReason``: how retrying stopped; ``Transport``;
    ``EndpointUrl``). ``response`` is what botocore's exception of the same name has:
    the boto3-shaped ``{"Error", "ResponseMetadata"}`` for a :class:`ClientError`, ``None``
    for the connection and timeout errors (botocore's have none), else the document.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int,
        status_name: str,
        response: Optional[Dict[str, Any]] = None,
        document: Optional[Dict[str, Any]] = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.status_name = status_name
        self.response = response
        self.document = document if document is not None else response

    def __reduce__(self) -> Any:
        # Keyword-only arguments defeat Exception's default pickling (multiprocessing,
        # concurrent.futures); rebuild through a helper that knows them.
        return (_rebuild, (type(self), self.message, self.status, self.status_name, self.response, self.document))


def _rebuild(
    cls: Type[Error],
    message: str,
    status: int,
    status_name: str,
    response: Any,
    document: Any = None,
) -> Error:
    err = cls.__new__(cls)
    Error.__init__(err, message, status=status, status_name=status_name, response=response, document=document)
    if isinstance(err, ClientError):
        err.operation_name = OPERATION_NAME
    if isinstance(err, (HTTPClientError, ConnectionError)):
        err.kwargs = _transport_kwargs(document, message)
    return err


class ClientError(Error):
    """The service answered with an error (botocore's ``ClientError``).

    ``response`` is ``{"Error": {"Code", "Message"}, "ResponseMetadata": {...}}`` exactly as
    boto3 builds it (the service's message untouched; ``HTTPHeaders``, ``RetryAttempts`` and,
    when the attempt limit was reached, ``MaxAttemptsReached``), ``operation_name`` is
    ``"UpdateContact"``, and ``str()`` is botocore's sentence.
    """

    response: Dict[str, Any]

    def __init__(
        self,
        error_response: Mapping[str, Any],
        operation_name: str = OPERATION_NAME,
        *,
        status: int = Status.SERVICE_ERROR.value,
        status_name: str = "CONNECT_STATUS_" + Status.SERVICE_ERROR.name,
    ) -> None:
        document = dict(error_response)
        # boto3's dictionary: the library's own Details stay in ``document``.
        response = {k: v for k, v in document.items() if k != "Details"}
        super().__init__(
            _client_error_text(response, operation_name),
            status=status,
            status_name=status_name,
            response=response,
            document=document,
        )
        self.operation_name = operation_name


def _client_error_text(response: Mapping[str, Any], operation_name: str) -> str:
    # The sentence botocore prints (its retry note only when the attempt limit was reached),
    # so log searches and doctests keep working.
    error = response.get("Error") or {}
    metadata = response.get("ResponseMetadata") or {}
    retry_info = ""
    if metadata.get("MaxAttemptsReached", False) and "RetryAttempts" in metadata:
        retry_info = f" (reached max retries: {metadata['RetryAttempts']})"
    return (
        f"An error occurred ({error.get('Code', 'Unknown')}) when calling the "
        f"{operation_name} operation{retry_info}: {error.get('Message', 'Unknown')}"
    )


# One subclass per error the UpdateContact model declares.
class AccessDeniedException(ClientError):
    """403: you do not have sufficient permissions."""


class ConflictException(ClientError):
    """409: the request conflicts with the contact's current state."""


class InternalServiceException(ClientError):
    """500: the service failed (retried before it is raised)."""


class InvalidActiveRegionException(ClientError):
    """400: the Region is not the instance's active Region."""


class InvalidParameterException(ClientError):
    """400: one or more parameters are not valid."""


class InvalidRequestException(ClientError):
    """400: the request is not valid."""


class ResourceNotFoundException(ClientError):
    """404: the instance or contact does not exist."""


class ThrottlingException(ClientError):
    """429: too many requests (retried before it is raised)."""


class ParamValidationError(Error, ValueError):
    """The request broke a rule of the API, or could not be written as JSON; nothing was sent."""


class InvalidConfigError(Error, ValueError):
    """The client configuration is invalid (the message names the key)."""


class NoRegionError(Error):
    """No region in the arguments, the config or the environment."""


class NoCredentialsError(Error):
    """No credentials in the arguments, the config or the environment."""


class CredentialsProviderError(Error):
    """A configured source of credentials failed."""


class OutboxStorageError(Error, OSError):
    """The outbox file could not be opened, read or written (permissions, a full disk, not an
    outbox file, corrupt); the message names the file and SQLite's reason."""


def _transport_kwargs(document: Optional[Mapping[str, Any]], message: str) -> Dict[str, Any]:
    details = (document or {}).get("Details") or {}
    return {"endpoint_url": details.get("EndpointUrl"), "error": message}


class HTTPClientError(Error):
    """The request did not get a usable HTTP answer (botocore's ``HTTPClientError``).

    As botocore's: ``response`` is ``None`` and ``kwargs`` holds ``endpoint_url`` (the URL of
    the last attempt) and ``error`` (the library's description). ``document`` is the
    library's response document (``RetryAttempts``, ``Details``)."""

    kwargs: Dict[str, Any]


class ConnectionError(Error):  # noqa: A001 - botocore's name, kept for ``except`` parity
    """A connection could not be established (botocore's ``ConnectionError``); ``response``,
    ``kwargs`` and ``document`` as for :class:`HTTPClientError`."""

    kwargs: Dict[str, Any]


class EndpointConnectionError(ConnectionError):
    """DNS, connect or TLS failure (``CONNECT_STATUS_TRANSPORT``): botocore's
    ``Could not connect to the endpoint URL: "..."``."""

    fmt = 'Could not connect to the endpoint URL: "{endpoint_url}"'


class ConnectTimeoutError(ConnectionError):
    """The connect timeout expired (``CONNECT_STATUS_TIMEOUT``): botocore's
    ``Connect timeout on endpoint URL: "..."``."""

    fmt = 'Connect timeout on endpoint URL: "{endpoint_url}"'


class ConnectionClosedError(HTTPClientError):
    """The connection failed or closed before a valid response came (``CONNECT_STATUS_TRANSPORT``):
    botocore's ``Connection was closed before we received a valid response from endpoint URL: "..."``."""

    fmt = 'Connection was closed before we received a valid response from endpoint URL: "{endpoint_url}".'


class ReadTimeoutError(HTTPClientError):
    """A deadline expired after the connection was made (``CONNECT_STATUS_TIMEOUT``): the
    attempt's or the whole call's. botocore's ``Read timeout on endpoint URL: "..."``."""

    fmt = 'Read timeout on endpoint URL: "{endpoint_url}"'


# Details.Transport of the library's document -> the botocore class it stands for.
_TRANSPORT_CLASSES: Dict[str, Type[Error]] = {
    "ConnectTimeout": ConnectTimeoutError,
    "ReadTimeout": ReadTimeoutError,
    "EndpointConnection": EndpointConnectionError,
    "ConnectionClosed": ConnectionClosedError,
}


class InvalidResponseError(Error):
    """The service's response could not be understood."""


class InternalLibraryError(Error):
    """A bug in the library (a caught panic) or in this binding (a NULL argument)."""


class ClientClosedError(Error, ValueError):
    """The client (or an outbox) was used after ``close()``. Its status is NULL_ARGUMENT: the
    handle is gone."""


# The one table from a failed status to its exception class, by the generated Status names
# above; tests/it/derived_docs.rs checks that every status but OK has a row.
_CLASS_BY_STATUS: Dict[int, Type[Error]] = {
    Status.NULL_ARGUMENT: InternalLibraryError,
    Status.INVALID_UTF8: ParamValidationError,
    Status.INVALID_JSON: ParamValidationError,
    Status.VALIDATION: ParamValidationError,
    Status.INVALID_CONFIG: InvalidConfigError,
    # QUEUE_FULL, CANCELLED and THREAD_START come only from connect_update_contact_async,
    # whose caller (the asyncio client) turns the first two into waiting and
    # ClientClosedError itself: should one arrive here, it is a bug.
    Status.QUEUE_FULL: InternalLibraryError,
    Status.CANCELLED: InternalLibraryError,
    Status.NO_REGION: NoRegionError,
    Status.NO_CREDENTIALS: NoCredentialsError,
    Status.CREDENTIALS_PROVIDER: CredentialsProviderError,
    Status.THREAD_START: InternalLibraryError,
    Status.STORAGE: OutboxStorageError,
    Status.TRANSPORT: EndpointConnectionError,
    Status.TIMEOUT: ReadTimeoutError,
    Status.INVALID_RESPONSE: InvalidResponseError,
    Status.ACCESS_DENIED: AccessDeniedException,
    Status.CONFLICT: ConflictException,
    Status.INTERNAL_SERVICE: InternalServiceException,
    Status.INVALID_ACTIVE_REGION: InvalidActiveRegionException,
    Status.INVALID_PARAMETER: InvalidParameterException,
    Status.INVALID_REQUEST: InvalidRequestException,
    Status.RESOURCE_NOT_FOUND: ResourceNotFoundException,
    Status.THROTTLING: ThrottlingException,
    Status.SERVICE_ERROR: ClientError,
    Status.PANIC: InternalLibraryError,
}

#: The modeled service errors, by error code (what ``client.exceptions`` exposes).
MODELED_ERRORS: Dict[str, Type[ClientError]] = {
    cls.__name__: cls
    for cls in _CLASS_BY_STATUS.values()
    if issubclass(cls, ClientError) and cls is not ClientError
}


def status_name(status: int) -> str:
    """``CONNECT_STATUS_<NAME>`` for a known number, else ``CONNECT_STATUS_UNKNOWN``."""
    try:
        return "CONNECT_STATUS_" + Status(status).name
    except ValueError:
        return "CONNECT_STATUS_UNKNOWN"


def error_for_status(
    status: int,
    message: str,
    response: Optional[Dict[str, Any]] = None,
    name: Optional[str] = None,
) -> Error:
    """The exception for a failed call: ``status`` picks the class, ``response`` is the
    library's document when it gave one, ``message`` the fallback text."""
    name = name or status_name(status)
    cls = _CLASS_BY_STATUS.get(status, InternalLibraryError)
    if issubclass(cls, ClientError):
        # A service error always comes with a document; build one if it somehow did not.
        doc = response or {"Error": {"Code": name, "Message": message}, "ResponseMetadata": {}}
        return cls(doc, OPERATION_NAME, status=status, status_name=name)
    details = (response or {}).get("Details") or {}
    botocore_cls = _TRANSPORT_CLASSES.get(details.get("Transport"))
    cls = botocore_cls or cls
    if issubclass(cls, (HTTPClientError, ConnectionError)):
        kwargs = _transport_kwargs(response, message)
        fmt: Optional[str] = getattr(botocore_cls, "fmt", None)
        # botocore's sentence where the library says which failure this was; else its own.
        text = fmt.format(**kwargs) if fmt and kwargs["endpoint_url"] else message or name
        err = cls(text, status=status, status_name=name, response=None, document=response)
        err.kwargs = kwargs
        return err
    if response is not None:
        message = (response.get("Error") or {}).get("Message") or message
    return cls(message or name, status=status, status_name=name, response=response)


class ClientExceptions:
    """``client.exceptions``: the modeled errors and ClientError, as boto3 exposes them."""

    ClientError = ClientError
    AccessDeniedException = AccessDeniedException
    ConflictException = ConflictException
    InternalServiceException = InternalServiceException
    InvalidActiveRegionException = InvalidActiveRegionException
    InvalidParameterException = InvalidParameterException
    InvalidRequestException = InvalidRequestException
    ResourceNotFoundException = ResourceNotFoundException
    ThrottlingException = ThrottlingException

    def from_code(self, error_code: str) -> Type[ClientError]:
        """The class for a service error code (ClientError for an unmodeled one), as boto3's."""
        return MODELED_ERRORS.get(error_code, ClientError)
