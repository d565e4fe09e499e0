//! restJson1 for UpdateContact: the request path (URI labels) and error responses.
#![forbid(unsafe_code)]

use serde_json::{Map, Value};

/// Appends `label` percent-encoded as a Smithy httpLabel: `A-Z a-z 0-9 - . _ ~` stay,
/// everything else (`/`, space, `%`, non-ASCII as UTF-8 bytes) becomes `%XX`.
pub fn encode_label(label: &str, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in label.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(HEX[usize::from(b >> 4)] as char);
            out.push(HEX[usize::from(b & 0xF)] as char);
        }
    }
}

/// `{base}/contacts/{InstanceId}/{ContactId}` with both labels encoded.
pub fn update_contact_path(base: &str, instance_id: &str, contact_id: &str) -> String {
    let mut path =
        String::with_capacity(base.len() + 11 + 3 * (instance_id.len() + contact_id.len()));
    path.push_str(base);
    path.push_str("/contacts/");
    encode_label(instance_id, &mut path);
    path.push('/');
    encode_label(contact_id, &mut path);
    path
}

/// The code and message of an error response, and the modeled error's members.
#[derive(Debug, PartialEq, Eq)]
pub struct ErrorDocument {
    pub code: String,
    pub message: String,
    /// The members of the modeled error shape that the body carries, by their model names
    /// (boto3 adds them to the response next to `Error`), e.g. `{"Message": "..."}`.
    pub fields: Option<Map<String, Value>>,
    /// A generic 5xx (empty body or an HTML page: not the service's answer). botocore reports
    /// no request id for one.
    pub generic: bool,
}

/// The members of each error UpdateContact declares (model/connect.json; a test keeps this
/// table and the model in step).
pub fn modeled_error_members(code: &str) -> &'static [&'static str] {
    match code {
        "InvalidRequestException" => &["Message", "Reason"],
        "AccessDeniedException"
        | "ConflictException"
        | "InternalServiceException"
        | "InvalidActiveRegionException"
        | "InvalidParameterException"
        | "ResourceNotFoundException"
        | "ThrottlingException" => &["Message"],
        _ => &[],
    }
}

/// Reads a non-2xx response as botocore's restJson1 parser does:
/// - a 5xx whose body is empty or an HTML page is generic: the HTTP status is the code and
///   its reason phrase the message, whatever `x-amzn-ErrorType` says;
/// - otherwise the code comes from `x-amzn-ErrorType`, else the body's `code`/`Code`, else
///   `__type`, else the HTTP status (cleaned: `A:b` → `A`, `ns#A` → `A`); the message is the
///   body's `message`, else `Message`, else empty, and a body that is not JSON is the message
///   itself;
/// - a modeled error's members present in the body are kept in `fields`.
pub fn parse_error(status: u16, error_type_header: Option<&str>, body: &[u8]) -> ErrorDocument {
    let trimmed = body.trim_ascii();
    if status >= 500 && (trimmed.is_empty() || trimmed.starts_with(b"<html>")) {
        return ErrorDocument {
            code: status.to_string(),
            message: reason_phrase(status).to_owned(),
            fields: None,
            generic: true,
        };
    }
    let document: Map<String, Value> = if trimmed.is_empty() {
        Map::new()
    } else {
        match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(map)) => map,
            Ok(_) => Map::new(),
            Err(_) => {
                let mut map = Map::new();
                map.insert(
                    "message".into(),
                    String::from_utf8_lossy(body).into_owned().into(),
                );
                map
            }
        }
    };
    let text = |name: &str| document.get(name).and_then(Value::as_str);
    let code = error_type_header
        .filter(|h| !h.trim().is_empty())
        .or_else(|| text("code"))
        .or_else(|| text("Code"))
        .or_else(|| text("__type"))
        .map(clean_error_code)
        .filter(|c| !c.is_empty())
        .map_or_else(|| status.to_string(), str::to_owned);
    let message = match document.get("message").or_else(|| document.get("Message")) {
        Some(Value::String(m)) => m.clone(),
        Some(other) => other.to_string(),
        None => String::new(),
    };
    let fields: Map<String, Value> = modeled_error_members(&code)
        .iter()
        .filter_map(|m| Some((m.to_string(), document.get(*m)?.clone())))
        .collect();
    ErrorDocument {
        code,
        message,
        fields: (!fields.is_empty()).then_some(fields),
        generic: false,
    }
}

/// `ThrottlingException:http://internal…` → `ThrottlingException`;
/// `com.amazonaws.connect#InvalidRequestException` → `InvalidRequestException`.
pub fn clean_error_code(raw: &str) -> &str {
    let before_colon = raw.split(':').next().unwrap_or(raw);
    before_colon
        .rsplit('#')
        .next()
        .unwrap_or(before_colon)
        .trim()
}

/// The standard reason phrase for a status (a load balancer's page rarely says more); empty
/// for a status without one, as botocore's.
pub fn reason_phrase(status: u16) -> &'static str {
    ureq::http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoded(s: &str) -> String {
        let mut out = String::new();
        encode_label(s, &mut out);
        out
    }

    #[test]
    fn labels_keep_unreserved_and_encode_the_rest() {
        assert_eq!(encoded("AZaz09-._~"), "AZaz09-._~");
        assert_eq!(encoded("a/b c%d?e#f"), "a%2Fb%20c%25d%3Fe%23f");
        assert_eq!(encoded("é😀"), "%C3%A9%F0%9F%98%80");
        assert_eq!(encoded("+=&;:@!*'()"), "%2B%3D%26%3B%3A%40%21%2A%27%28%29");
        assert_eq!(
            update_contact_path("", "inst/1", "c 2"),
            "/contacts/inst%2F1/c%202"
        );
        assert_eq!(
            update_contact_path("/prefix", "i", "c"),
            "/prefix/contacts/i/c"
        );
    }

    #[test]
    fn error_code_sources_in_order() {
        let body = br#"{"code":"FromCode","__type":"FromType","message":"m"}"#;
        assert_eq!(
            parse_error(400, Some("FromHeader:http://x"), body).code,
            "FromHeader"
        );
        assert_eq!(parse_error(400, None, body).code, "FromCode");
        let body = br#"{"__type":"com.amazonaws.connect#InvalidRequestException","Message":"capital","Reason":{"AttachedFileInvalidRequestExceptionReason":"INVALID_FILE_NAME"},"Other":1}"#;
        assert_eq!(
            parse_error(400, None, body),
            ErrorDocument {
                code: "InvalidRequestException".into(),
                message: "capital".into(),
                fields: Some(
                    serde_json::json!({"Message": "capital", "Reason": {"AttachedFileInvalidRequestExceptionReason": "INVALID_FILE_NAME"}})
                        .as_object()
                        .unwrap()
                        .clone()
                ),
                generic: false,
            },
            "the modeled members, by their model names; nothing else"
        );
        assert_eq!(
            parse_error(400, Some(""), br#"{"__type":"a#B:c"}"#).code,
            "B"
        );
        assert_eq!(
            parse_error(400, None, br#"{"Code":"Capital","message":"lower"}"#),
            ErrorDocument {
                code: "Capital".into(),
                message: "lower".into(),
                fields: None,
                generic: false,
            }
        );
    }

    #[test]
    fn the_modeled_members_are_the_models() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/model/connect.json");
        let model: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        let errors = model["operations"]["UpdateContact"]["errors"]
            .as_array()
            .unwrap();
        assert_eq!(errors.len(), 8);
        for e in errors {
            let name = e["shape"].as_str().unwrap();
            let mut members: Vec<&str> = model["shapes"][name]["members"]
                .as_object()
                .unwrap()
                .keys()
                .map(String::as_str)
                .collect();
            members.sort_unstable();
            assert_eq!(members, modeled_error_members(name), "{name}");
        }
        assert!(modeled_error_members("UnrecognizedClientException").is_empty());
    }

    #[test]
    fn cleaning_cuts_at_colon_then_keeps_after_hash() {
        assert_eq!(
            clean_error_code("ThrottlingException:http://internal.amazon.com/"),
            "ThrottlingException"
        );
        assert_eq!(
            clean_error_code("aws.protocoltests#FooError:http://x#y"),
            "FooError"
        );
        assert_eq!(clean_error_code("Plain"), "Plain");
    }

    #[test]
    fn empty_html_or_odd_bodies_as_botocore_reads_them() {
        let html = b"<html><body><h1>502 Bad Gateway</h1></body></html>";
        let doc = |code: &str, message: &str, generic: bool| ErrorDocument {
            code: code.into(),
            message: message.into(),
            fields: None,
            generic,
        };
        let generic = |code: &str, message: &str| doc(code, message, true);
        let parsed = |code: &str, message: &str| doc(code, message, false);
        assert_eq!(parse_error(502, None, html), generic("502", "Bad Gateway"));
        assert_eq!(
            parse_error(503, Some("ServiceUnavailableException"), b" \n"),
            generic("503", "Service Unavailable"),
            "a generic 5xx ignores the header"
        );
        assert_eq!(parse_error(599, None, b""), generic("599", ""));
        // Not generic: the header or the status is the code; a body that is not JSON is the
        // message; JSON that is not an object says nothing.
        assert_eq!(parse_error(500, None, b"[1,2]"), parsed("500", ""));
        assert_eq!(
            parse_error(500, None, b"{\"message\": 5}"),
            parsed("500", "5")
        );
        assert_eq!(
            parse_error(599, None, b"\xff\xfe"),
            parsed("599", "\u{fffd}\u{fffd}")
        );
        assert_eq!(
            parse_error(429, Some("ThrottlingException"), b"<html/>"),
            parsed("ThrottlingException", "<html/>")
        );
        assert_eq!(
            parse_error(403, Some("AccessDeniedException"), b""),
            parsed("AccessDeniedException", "")
        );
    }
}
