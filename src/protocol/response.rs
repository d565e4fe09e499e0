//! The response document handed to C and Python callers, shaped as boto3 users know it.
#![forbid(unsafe_code)]

use serde_json::{json, Map, Value};

use crate::error::{Error, ResponseMetadata};
use crate::json::push_decimal;

/// The result of a successful UpdateContact (the service returns no members).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UpdateContactOutput {
    /// Request id, HTTP status and retry count of the successful call.
    pub metadata: ResponseMetadata,
}

impl UpdateContactOutput {
    /// `{"ResponseMetadata": {"RequestId": …, "HTTPStatusCode": 200, "HTTPHeaders": {…},
    /// "RetryAttempts": 0}}` (plus `"MaxAttemptsReached": true` when it applies, as boto3).
    /// Written directly (every call takes this path): the same JSON value as the `json!`
    /// form, keys in serde_json's sorted order, strings escaped by serde_json; header names
    /// in arrival order.
    pub fn to_document(&self) -> String {
        let m = &self.metadata;
        let mut out = Vec::with_capacity(160);
        out.extend_from_slice(b"{\"ResponseMetadata\":{");
        if !m.http_headers.is_empty() {
            out.extend_from_slice(b"\"HTTPHeaders\":");
            m.http_headers.write_json(&mut out);
            out.push(b',');
        }
        if let Some(status) = m.http_status {
            out.extend_from_slice(b"\"HTTPStatusCode\":");
            push_decimal(&mut out, status.into());
            out.push(b',');
        }
        if m.max_attempts_reached {
            out.extend_from_slice(b"\"MaxAttemptsReached\":true,");
        }
        if let Some(id) = &m.request_id {
            out.extend_from_slice(b"\"RequestId\":");
            let _ = serde_json::to_writer(&mut out, id.as_str());
            out.push(b',');
        }
        out.extend_from_slice(b"\"RetryAttempts\":");
        push_decimal(&mut out, m.retry_attempts.into());
        out.extend_from_slice(b"}}");
        String::from_utf8(out).unwrap_or_default()
    }
}

/// `{"Error": {"Code": …, "Message": …}, "ResponseMetadata": {…}}` for any failure; `code`
/// is the service's error code, or the status name for a local failure.
pub fn error_document(code: &str, message: &str, metadata: Option<&ResponseMetadata>) -> String {
    let default = ResponseMetadata::default();
    json!({
        "Error": { "Code": code, "Message": message },
        "ResponseMetadata": metadata_json(metadata.unwrap_or(&default)),
    })
    .to_string()
}

impl Error {
    /// This error as a response document: boto3's `Error` (the service's message as it was
    /// sent) and `ResponseMetadata`, then, when there is any, the library's own `Details`:
    /// `StopReason` (how retrying stopped), `Transport` ([`Error::transport_kind`]) and
    /// `EndpointUrl` (the URL of the last attempt).
    pub fn to_document(&self) -> String {
        let default = ResponseMetadata::default();
        let metadata = self.metadata().unwrap_or(&default);
        let mut doc = json!({
            "Error": { "Code": self.code(), "Message": self.message() },
            "ResponseMetadata": metadata_json(metadata),
        });
        let mut details = Map::new();
        if let Some(reason) = metadata.stop_reason() {
            details.insert("StopReason".into(), reason.into());
        }
        if let Some(kind) = self.transport_kind() {
            details.insert("Transport".into(), kind.into());
        }
        if let Some(url) = metadata.url() {
            details.insert("EndpointUrl".into(), url.into());
        }
        if !details.is_empty() {
            doc["Details"] = Value::Object(details);
        }
        // A modeled error's members sit next to Error, as boto3 puts them.
        if let (Error::Service(e), Value::Object(top)) = (self, &mut doc) {
            for (name, value) in e.fields.iter().flat_map(|f| f.iter()) {
                top.entry(name.clone()).or_insert_with(|| value.clone());
            }
        }
        doc.to_string()
    }
}

fn metadata_json(m: &ResponseMetadata) -> Value {
    let mut out = Map::new();
    if let Some(id) = &m.request_id {
        out.insert("RequestId".into(), id.as_str().into());
    }
    if let Some(status) = m.http_status {
        out.insert("HTTPStatusCode".into(), status.into());
    }
    if !m.http_headers.is_empty() {
        out.insert(
            "HTTPHeaders".into(),
            serde_json::to_value(m.http_headers.to_map()).unwrap_or_default(),
        );
    }
    if m.max_attempts_reached {
        out.insert("MaxAttemptsReached".into(), true.into());
    }
    if m.retry_quota_reached {
        out.insert("RetryQuotaReached".into(), true.into());
    }
    out.insert("RetryAttempts".into(), m.retry_attempts.into());
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{CallNotes, HttpHeaders, ServiceError};

    #[test]
    fn the_written_success_document_is_what_serde_json_means() {
        for request_id in [None, Some(""), Some("r-1"), Some("q\"\\\n\u{1}é😀</")] {
            for http_status in [None, Some(200), Some(204)] {
                for (headers, reached) in [
                    (vec![], false),
                    (
                        vec![("X-Amzn-RequestId", "r\"1"), ("x-dup", "a"), ("X-Dup", "b")],
                        true,
                    ),
                    (
                        vec![("X-Amzn-RequestId", "r\"1\u{1}é"), ("Content-Length", "2")],
                        false,
                    ),
                ] {
                    let metadata = ResponseMetadata {
                        request_id: request_id.map(str::to_owned),
                        http_status,
                        retry_attempts: 3,
                        http_headers: HttpHeaders::from_pairs(headers),
                        max_attempts_reached: reached,
                        ..Default::default()
                    };
                    let expected = json!({ "ResponseMetadata": metadata_json(&metadata) });
                    let written = UpdateContactOutput { metadata }.to_document();
                    let parsed: Value = serde_json::from_str(&written).unwrap();
                    assert_eq!(parsed, expected, "{written}");
                }
            }
        }
    }

    #[test]
    fn documents_have_the_boto3_shape() {
        let ok = UpdateContactOutput {
            metadata: ResponseMetadata {
                request_id: Some("r-1".into()),
                http_status: Some(200),
                ..Default::default()
            },
        };
        let v: Value = serde_json::from_str(&ok.to_document()).unwrap();
        assert_eq!(
            v,
            json!({"ResponseMetadata": {"RequestId": "r-1", "HTTPStatusCode": 200, "RetryAttempts": 0}})
        );
        let err = Error::from(ServiceError {
            code: "ThrottlingException".into(),
            message: "Rate \"exceeded\"\n".into(),
            metadata: ResponseMetadata {
                request_id: Some("r-2".into()),
                http_status: Some(429),
                retry_attempts: 2,
                http_headers: HttpHeaders::from_pairs([
                    ("x-amzn-RequestId", "r-2"),
                    ("Retry-After", "1"),
                ]),
                max_attempts_reached: true,
                notes: Some(Box::new(CallNotes {
                    stop_reason: Some("gave up after 3 attempts: max_attempts 3 reached".into()),
                    url: None,
                })),
                ..Default::default()
            },
            fields: serde_json::json!({"Message": "Rate \"exceeded\"\n"})
                .as_object()
                .cloned()
                .map(Box::new),
        });
        let v: Value = serde_json::from_str(&err.to_document()).unwrap();
        assert_eq!(
            v,
            json!({
                "Error": {"Code": "ThrottlingException", "Message": "Rate \"exceeded\"\n"},
                "ResponseMetadata": {
                    "RequestId": "r-2", "HTTPStatusCode": 429, "RetryAttempts": 2,
                    "HTTPHeaders": {"x-amzn-requestid": "r-2", "retry-after": "1"},
                    "MaxAttemptsReached": true,
                },
                "Details": {"StopReason": "gave up after 3 attempts: max_attempts 3 reached"},
                "Message": "Rate \"exceeded\"\n",
            }),
            "the service's message untouched; the stop reason apart"
        );
        assert_eq!(
            err.to_string(),
            "ThrottlingException: Rate \"exceeded\"\n (gave up after 3 attempts: max_attempts 3 reached)"
        );
        let timeout = Error::Timeout {
            message: "timed out talking to h:1 (connect)".into(),
            metadata: ResponseMetadata {
                while_connecting: true,
                notes: Some(Box::new(CallNotes {
                    stop_reason: None,
                    url: Some("https://h:1/contacts/i/c".into()),
                })),
                ..Default::default()
            },
        };
        let v: Value = serde_json::from_str(&timeout.to_document()).unwrap();
        assert_eq!(
            v["Details"],
            json!({"Transport": "ConnectTimeout", "EndpointUrl": "https://h:1/contacts/i/c"})
        );
        let v: Value =
            serde_json::from_str(&Error::Validation("Name: too long".into()).to_document())
                .unwrap();
        assert_eq!(
            v,
            json!({"Error": {"Code": "CONNECT_STATUS_VALIDATION", "Message": "Name: too long"}, "ResponseMetadata": {"RetryAttempts": 0}})
        );
    }
}
