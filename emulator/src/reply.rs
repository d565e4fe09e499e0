//! What a handler answers: a response to write, or a connection to drop; and the service's
//! error responses (status, `x-amzn-ErrorType`, `{"message": ...}`).

use serde_json::{json, Value};

/// A request as received.
pub struct Incoming {
    pub method: String,
    /// The request target as sent, still percent-encoded.
    pub raw_uri: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Incoming {
    /// The path part of the target.
    pub fn path(&self) -> &str {
        self.raw_uri.split('?').next().unwrap_or_default()
    }
}

/// What to do with the connection.
#[derive(Debug)]
pub enum Outcome {
    Reply(Reply),
    /// Close the connection without answering (an injected fault).
    Drop,
}

impl From<ApiError> for Outcome {
    fn from(e: ApiError) -> Outcome {
        Outcome::Reply(e.into())
    }
}

/// One HTTP response, before it is written.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub status: u16,
    pub content_type: Option<&'static str>,
    pub body: Vec<u8>,
    /// The service error code, also sent as `x-amzn-ErrorType`; `None` for successes.
    pub error_code: Option<String>,
}

impl Reply {
    /// 200 with an empty body, as UpdateContact answers.
    pub fn empty_ok() -> Reply {
        Reply {
            status: 200,
            content_type: None,
            body: Vec::new(),
            error_code: None,
        }
    }

    /// A JSON document with this status.
    pub fn json(status: u16, value: &Value) -> Reply {
        Reply {
            status,
            content_type: Some("application/json"),
            // Serializing a `Value` cannot fail.
            body: serde_json::to_vec(value).unwrap_or_default(),
            error_code: None,
        }
    }
}

impl From<ApiError> for Reply {
    fn from(e: ApiError) -> Reply {
        let mut reply = Reply::json(e.status, &json!({ "message": e.message }));
        reply.error_code = Some(e.code.to_string());
        reply
    }
}

/// An error as the service reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn new(status: u16, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }

    pub fn invalid_parameter(message: impl Into<String>) -> ApiError {
        ApiError::new(400, "InvalidParameterException", message)
    }

    pub fn invalid_request(message: impl Into<String>) -> ApiError {
        ApiError::new(400, "InvalidRequestException", message)
    }

    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(404, "ResourceNotFoundException", message)
    }

    pub fn invalid_signature(message: impl Into<String>) -> ApiError {
        ApiError::new(403, "InvalidSignatureException", message)
    }

    pub fn unrecognized_client() -> ApiError {
        ApiError::new(
            403,
            "UnrecognizedClientException",
            "The security token included in the request is invalid.",
        )
    }

    pub fn incomplete_signature(message: impl Into<String>) -> ApiError {
        ApiError::new(403, "IncompleteSignatureException", message)
    }

    pub fn throttling() -> ApiError {
        ApiError::new(429, "ThrottlingException", "Rate exceeded")
    }

    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new(500, "InternalServiceException", message)
    }

    pub fn unknown_operation() -> ApiError {
        ApiError::new(
            404,
            "UnknownOperationException",
            "No operation matches this method and path",
        )
    }

    pub fn too_large(limit: usize) -> ApiError {
        ApiError::new(
            413,
            "RequestEntityTooLargeException",
            format!("The request body exceeds {limit} bytes"),
        )
    }
}

/// A fresh request id shaped like the service's (a UUID v4).
pub fn request_id() -> String {
    let a = fastrand::u64(..);
    let b = fastrand::u64(..);
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0x0fff,
        0x8000 | (b >> 48) & 0x3fff,
        b & 0xffff_ffff_ffff
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_look_like_uuids() {
        let id = request_id();
        let parts: Vec<usize> = id.split('-').map(str::len).collect();
        assert_eq!(parts, [8, 4, 4, 4, 12], "{id}");
        assert_ne!(id, request_id());
    }

    #[test]
    fn error_reply_carries_code_and_message() {
        let r = Reply::from(ApiError::throttling());
        assert_eq!(r.status, 429);
        assert_eq!(r.error_code.as_deref(), Some("ThrottlingException"));
        let body: Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(body, json!({"message": "Rate exceeded"}));
    }
}
