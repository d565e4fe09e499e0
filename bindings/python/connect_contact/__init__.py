"""connect_contact: Amazon Connect UpdateContact from Python, with boto3's names and
exceptions, over the connect-contact C library (ctypes; standard library only).

    import connect_contact
    with connect_contact.Client(region_name="us-east-1") as client:
        client.update_contact(InstanceId="...", ContactId="...", Name="...")

The library is found through $CONNECT_CONTACT_LIB, then a libconnect_contact.so inside this
package, then the system loader; importing fails with an ImportError listing each place.
"""

from ._lib import version
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
    ParamValidationError,
    ReadTimeoutError,
    ResourceNotFoundException,
    Status,
    ThrottlingException,
)

__version__ = "0.1.0"

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
    "ParamValidationError",
    "ReadTimeoutError",
    "ResourceNotFoundException",
    "Status",
    "ThrottlingException",
    "version",
]
