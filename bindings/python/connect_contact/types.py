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


# BEGIN GENERATED from model/connect.json by scripts/generate-from-model; do not edit
class Reference(TypedDict, total=False):
    """``Reference``."""

    Value: str
    """0..4096 characters"""
    Type: Required[str]
    """required; open enum: URL, ATTACHMENT, CONTACT_ANALYSIS, NUMBER, STRING, DATE, EMAIL, EMAIL_MESSAGE, EMAIL_MESSAGE_PLAIN_TEXT, EMAIL_MESSAGE_PLAIN_TEXT_REDACTED, EMAIL_MESSAGE_REDACTED, VOICEMAIL_RECORDING, VOICEMAIL_RECORDING_REDACTED, VOICEMAIL_ANALYSIS, VOICEMAIL_ANALYSIS_REDACTED"""
    Status: str
    """open enum: AVAILABLE, DELETED, APPROVED, REJECTED, PROCESSING, FAILED, DRAFTING"""
    Arn: str
    """20..256 characters; pattern `^[-:/A-Za-z0-9]+`"""
    StatusReason: str
    """0..100 characters"""


class SegmentAttributeValue(TypedDict, total=False):
    """``SegmentAttributeValue``."""

    ValueString: str
    """0..1024 characters"""
    ValueMap: Dict[str, "SegmentAttributeValue"]
    ValueInteger: int
    ValueList: List["SegmentAttributeValue"]
    ValueArn: str
    """0..1024 characters"""


class QueueInfo(TypedDict, total=False):
    """``QueueInfo`` (the model's ``QueueInfoInput``)."""

    Id: str


class UserInfo(TypedDict, total=False):
    """``UserInfo``."""

    UserId: str
    """1..256 characters"""


class Endpoint(TypedDict, total=False):
    """``Endpoint``."""

    Type: str
    """open enum: TELEPHONE_NUMBER, VOIP, CONTACT_FLOW, CONNECT_PHONENUMBER_ARN, EMAIL_ADDRESS"""
    Address: str
    """0..256 characters"""


class EmailAddressInfo(TypedDict, total=False):
    """``EmailAddressInfo``."""

    EmailAddress: Required[str]
    """required; 1..255 characters; pattern `[^\\s@]+@[^\\s@]+\\.[^\\s@]+`; sensitive"""
    DisplayName: str
    """0..256 characters; sensitive"""


class AdditionalRecipients(TypedDict, total=False):
    """``AdditionalRecipients`` (the model's ``NullableAdditionalRecipients``)."""

    CcEmailAddresses: List["EmailAddressInfo"]
    """0..50 items"""


class UpdateContactRequest(TypedDict, total=False):
    """The keyword arguments of ``Client.update_contact`` (botocore 1.44.8 model)."""

    InstanceId: Required[str]
    """URI label; required; 1..100 characters"""
    ContactId: Required[str]
    """URI label; required; 1..256 characters"""
    Name: str
    """0..1024 characters; sensitive"""
    Description: str
    """0..4096 characters; sensitive"""
    References: Dict[str, "Reference"]
    SegmentAttributes: Dict[str, "SegmentAttributeValue"]
    QueueInfo: "QueueInfo"
    UserInfo: "UserInfo"
    CustomerEndpoint: "Endpoint"
    SystemEndpoint: "Endpoint"
    AdditionalRecipients: "AdditionalRecipients"


MODEL_TYPES = ["AdditionalRecipients", "EmailAddressInfo", "Endpoint", "QueueInfo", "Reference", "SegmentAttributeValue", "UpdateContactRequest", "UserInfo"]
# END GENERATED


class ResponseMetadata(TypedDict, total=False):
    """What boto3 calls ResponseMetadata."""

    RequestId: str
    HTTPStatusCode: int
    HTTPHeaders: Dict[str, str]
    RetryAttempts: int
    MaxAttemptsReached: bool
    RetryQuotaReached: bool


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
    beyond the ones the keyword arguments set. Durations are milliseconds; docs/configuration.md
    describes each key."""

    # BEGIN GENERATED from SETTINGS in src/config/mod.rs by scripts/regenerate; do not edit
    region: str
    endpoint_url: str
    ignore_configured_endpoint_urls: bool
    use_fips_endpoint: bool
    use_dualstack_endpoint: bool
    profile: str
    access_key_id: str
    secret_access_key: str
    session_token: str
    proxy: str
    ca_bundle: str
    connect_timeout_ms: int
    timeout_ms: int
    attempt_timeout_ms: int
    max_attempts: int
    retry_mode: str
    new_retries_2026: bool
    async_workers: int
    async_queue: int
    client_validation: bool
    strict_enums: bool
    allow_http: bool
    # END GENERATED from SETTINGS


__all__ = [
    "ClientConfig",
    "ErrorDetails",
    "ErrorResponse",
    "ResponseMetadata",
    "UpdateContactResponse",
] + MODEL_TYPES
