//! The response document handed to C and Python callers, shaped as boto3 users know it.
#![forbid(unsafe_code)]

use std::io::Write as _;

use serde_json::{json, Map, Value};

use crate::error::{Error, ResponseMetadata};

/// The result of a successful UpdateContact (the service returns no members).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UpdateContactOutput {
    pub metadata: ResponseMetadata,
}

impl UpdateContactOutput {
    /// `{"ResponseMetadata": {"RequestId": …, "HTTPStatusCode": 200, "RetryAttempts": 0}}`
    /// Written directly (one allocation, every call takes this path) in serde_json's own
    /// output for the `json!` form: keys in its sorted order, strings escaped by serde_json.
    pub fn to_document(&self) -> String {
        let m = &self.metadata;
        let mut out = Vec::with_capacity(96);
        out.extend_from_slice(b"{\"ResponseMetadata\":{");
        if let Some(status) = m.http_status {
            let _ = write!(out, "\"HTTPStatusCode\":{status},");
        }
        if let Some(id) = &m.request_id {
            out.extend_from_slice(b"\"RequestId\":");
            // Writing a &str into a Vec cannot fail.
            let _ = serde_json::to_writer(&mut out, id.as_str());
            out.push(b',');
        }
        let _ = write!(out, "\"RetryAttempts\":{}}}}}", m.retry_attempts);
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
    /// This error as a response document.
    pub fn to_document(&self) -> String {
        error_document(self.code(), self.message(), self.metadata())
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
    out.insert("RetryAttempts".into(), m.retry_attempts.into());
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ServiceError;

    #[test]
    fn the_written_success_document_is_what_serde_json_writes() {
        for request_id in [None, Some(""), Some("r-1"), Some("q\"\\\n\u{1}é😀</")] {
            for http_status in [None, Some(200), Some(204)] {
                let metadata = ResponseMetadata {
                    request_id: request_id.map(str::to_owned),
                    http_status,
                    retry_attempts: 3,
                };
                let expected = json!({ "ResponseMetadata": metadata_json(&metadata) }).to_string();
                assert_eq!(UpdateContactOutput { metadata }.to_document(), expected);
            }
        }
    }

    #[test]
    fn documents_have_the_boto3_shape() {
        let ok = UpdateContactOutput {
            metadata: ResponseMetadata {
                request_id: Some("r-1".into()),
                http_status: Some(200),
                retry_attempts: 0,
            },
        };
        let v: Value = serde_json::from_str(&ok.to_document()).unwrap();
        assert_eq!(
            v,
            json!({"ResponseMetadata": {"RequestId": "r-1", "HTTPStatusCode": 200, "RetryAttempts": 0}})
        );
        let err = Error::Service(ServiceError {
            code: "ThrottlingException".into(),
            message: "Rate \"exceeded\"\n".into(),
            metadata: ResponseMetadata {
                request_id: Some("r-2".into()),
                http_status: Some(429),
                retry_attempts: 2,
            },
        });
        let v: Value = serde_json::from_str(&err.to_document()).unwrap();
        assert_eq!(
            v["Error"],
            json!({"Code": "ThrottlingException", "Message": "Rate \"exceeded\"\n"})
        );
        assert_eq!(v["ResponseMetadata"]["RetryAttempts"], 2);
        let v: Value =
            serde_json::from_str(&Error::Validation("Name: too long".into()).to_document())
                .unwrap();
        assert_eq!(
            v,
            json!({"Error": {"Code": "CONNECT_STATUS_VALIDATION", "Message": "Name: too long"}, "ResponseMetadata": {"RetryAttempts": 0}})
        );
    }
}
