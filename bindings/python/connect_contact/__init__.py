"""connect_contact: Amazon Connect UpdateContact from Python, with boto3's names and
exceptions, over the connect-contact C library (ctypes; standard library only).

    import connect_contact
    with connect_contact.Client(region_name="us-east-1") as client:
        client.update_contact(InstanceId="...", ContactId="...", Name="...")

The asyncio client is ``connect_contact.aio.Client`` (``await client.update_contact(...)``).

The library is found inside this package (``pip install`` builds it there), then through
$CONNECT_CONTACT_LIB, then by its soname through the system loader; importing fails with an
ImportError listing each place, or naming both versions when the library's differs.
"""

from ._lib import version
from ._version import __version__
from .client import Client
from .exceptions import (
    AccessDeniedException,
    ClientClosedError,
    ClientError,
    ConflictException,
    ConnectionClosedError,
    ConnectTimeoutError,
    CredentialsProviderError,
    EndpointConnectionError,
    Error,
    HTTPClientError,
    InternalLibraryError,
    InternalServiceException,
    InvalidActiveRegionException,
    InvalidConfigError,
    InvalidParameterException,
    InvalidRequestException,
    InvalidResponseError,
    NoCredentialsError,
    NoRegionError,
    OutboxStorageError,
    ParamValidationError,
    ReadTimeoutError,
    ResourceNotFoundException,
    Status,
    ThrottlingException,
)


__all__ = [
    "AccessDeniedException",
    "Client",
    "ClientClosedError",
    "ClientError",
    "ConflictException",
    "ConnectionClosedError",
    "ConnectTimeoutError",
    "CredentialsProviderError",
    "EndpointConnectionError",
    "Error",
    "HTTPClientError",
    "InternalLibraryError",
    "InternalServiceException",
    "InvalidActiveRegionException",
    "InvalidConfigError",
    "InvalidParameterException",
    "InvalidRequestException",
    "InvalidResponseError",
    "NoCredentialsError",
    "NoRegionError",
    "OutboxStorageError",
    "ParamValidationError",
    "ReadTimeoutError",
    "ResourceNotFoundException",
    "Status",
    "ThrottlingException",
    "version",
    "__version__",
]
