"""TypedDicts for UpdateContact's request and response, with boto3's member names.

Static type checkers use them; at run time the dicts are plain dicts and the library checks
them (unknown members, types, required members, the model's limits).
"""

from __future__ import annotations

import sys
from typing import Dict, List

if sys.version_info >= (3, 11):
    from typing import Required, TypedDict
else:  # pragma: no cover - typing_extensions is only needed by type checkers on 3.9/3.10
    from typing import TYPE_CHECKING, TypedDict

    if TYPE_CHECKING:
        from typing_extensions import Required
    else:
        # At run time the markers only need to be subscriptable.
        class _Marker:
            def __class_getitem__(cls, item: object) -> object:
                return item

        Required = _Marker


class Reference(TypedDict, total=False):
    """One entry of ``References``; ``Type`` is URL, ATTACHMENT, CONTACT_ANALYSIS, NUMBER,
    STRING, DATE, EMAIL or EMAIL_MESSAGE."""

    Type: Required[str]
    Value: str
    Status: str
    Arn: str
    StatusReason: str


class SegmentAttributeValue(TypedDict, total=False):
    """A segment attribute's value: a string, integer, ARN, or a nested map or list."""

    ValueString: str
    ValueMap: Dict[str, "SegmentAttributeValue"]
    ValueInteger: int
    ValueList: List["SegmentAttributeValue"]
    ValueArn: str


class Endpoint(TypedDict, total=False):
    """``CustomerEndpoint`` / ``SystemEndpoint``; ``Type`` is TELEPHONE_NUMBER, VOIP,
    CONTACT_FLOW, CONNECT_PHONENUMBER_ARN or EMAIL_ADDRESS."""

    Type: str
    Address: str


class QueueInfo(TypedDict, total=False):
    Id: str


class UserInfo(TypedDict, total=False):
    UserId: str


class UpdateContactRequest(TypedDict, total=False):
    """The keyword arguments of ``Client.update_contact``."""

    InstanceId: Required[str]
    ContactId: Required[str]
    Name: str
    Description: str
    References: Dict[str, Reference]
    SegmentAttributes: Dict[str, SegmentAttributeValue]
    QueueInfo: QueueInfo
    UserInfo: UserInfo
    CustomerEndpoint: Endpoint
    SystemEndpoint: Endpoint


class ResponseMetadata(TypedDict, total=False):
    """What boto3 calls ResponseMetadata, minus HTTPHeaders (the C ABI does not return them)."""

    RequestId: str
    HTTPStatusCode: int
    RetryAttempts: int


class UpdateContactResponse(TypedDict):
    ResponseMetadata: ResponseMetadata


class ErrorDetails(TypedDict):
    Code: str
    Message: str


class ErrorResponse(TypedDict):
    """``ClientError.response``."""

    Error: ErrorDetails
    ResponseMetadata: ResponseMetadata


class ClientConfig(TypedDict, total=False):
    """The ``config`` argument of :class:`connect_contact.Client`: the library's config keys
    beyond the ones the keyword arguments set. Durations are milliseconds."""

    connect_timeout_ms: int
    timeout_ms: int
    max_attempts: int
    retry_mode: str
    client_validation: bool
    allow_http: bool
    region: str
    endpoint_url: str
    access_key_id: str
    secret_access_key: str
    session_token: str
    profile: str


__all__ = [
    "ClientConfig",
    "Endpoint",
    "ErrorDetails",
    "ErrorResponse",
    "QueueInfo",
    "Reference",
    "ResponseMetadata",
    "SegmentAttributeValue",
    "UpdateContactRequest",
    "UpdateContactResponse",
    "UserInfo",
]
