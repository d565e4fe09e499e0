//! restJson1 for UpdateContact: the request path (URI labels) and error responses.
#![forbid(unsafe_code)]

use serde_json::Value;

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

/// The code and message of an error response.
#[derive(Debug, PartialEq, Eq)]
pub struct ErrorDocument {
    pub code: String,
    pub message: String,
}

/// Reads a non-2xx response per restJson1: code from `x-amzn-ErrorType`, else the body's
/// `code`, else `__type`, cleaned; message from `message`, else `Message`. A body that is
/// empty, HTML or otherwise not an error document yields the HTTP status as the code and
/// the reason phrase as the message, as botocore does.
pub fn parse_error(status: u16, error_type_header: Option<&str>, body: &[u8]) -> ErrorDocument {
    let document: Option<Value> = serde_json::from_slice(body).ok().filter(Value::is_object);
    let field = |names: &[&str]| {
        document.as_ref().and_then(|d| {
            names
                .iter()
                .find_map(|n| d.get(*n).and_then(Value::as_str).filter(|s| !s.is_empty()))
        })
    };
    let code = error_type_header
        .filter(|h| !h.trim().is_empty())
        .or_else(|| field(&["code", "__type"]))
        .map(clean_error_code)
        .filter(|c| !c.is_empty())
        .map_or_else(|| status.to_string(), str::to_owned);
    let message = field(&["message", "Message"])
        .map(str::to_owned)
        .unwrap_or_else(|| {
            format!(
                "{} (HTTP {status}, no error message in the response)",
                reason_phrase(status)
            )
        });
    ErrorDocument { code, message }
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

/// The standard reason phrase for a status (a load balancer's page rarely says more).
pub fn reason_phrase(status: u16) -> &'static str {
    ureq::http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Unknown Status")
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
        let body =
            br#"{"__type":"com.amazonaws.connect#InvalidRequestException","Message":"capital"}"#;
        assert_eq!(
            parse_error(400, None, body),
            ErrorDocument {
                code: "InvalidRequestException".into(),
                message: "capital".into()
            }
        );
        assert_eq!(
            parse_error(400, Some(""), br#"{"__type":"a#B:c"}"#).code,
            "B"
        );
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
    fn empty_html_or_odd_bodies_give_status_and_reason() {
        let html = b"<html><body><h1>502 Bad Gateway</h1></body></html>";
        let doc = parse_error(502, None, html);
        assert_eq!(doc.code, "502");
        assert!(doc.message.starts_with("Bad Gateway"), "{}", doc.message);
        assert_eq!(parse_error(503, None, b"").code, "503");
        assert_eq!(parse_error(500, None, b"[1,2]").code, "500");
        assert_eq!(parse_error(500, None, b"{\"message\": 5}").code, "500");
        assert_eq!(
            parse_error(599, None, b"\xff\xfe").message,
            "Unknown Status (HTTP 599, no error message in the response)"
        );
        let doc = parse_error(429, Some("ThrottlingException"), b"<html/>");
        assert_eq!(doc.code, "ThrottlingException");
        assert!(doc.message.starts_with("Too Many Requests"));
    }
}
