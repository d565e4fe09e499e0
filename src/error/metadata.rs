//! What a response told us: its metadata (request id, HTTP status, attempts, headers) and,
//! for an error response, the service's error.
#![forbid(unsafe_code)]

/// What the service (or the connection) told us about one call.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ResponseMetadata {
    /// `x-amzn-RequestId` of the last response, when there was one.
    pub request_id: Option<String>,
    /// HTTP status of the last response, when there was one.
    pub http_status: Option<u16>,
    /// Attempts made beyond the first.
    pub retry_attempts: u32,
    /// The last response's headers (boto3's `HTTPHeaders`).
    pub http_headers: HttpHeaders,
    /// The last attempt was attempt `max_attempts` (boto3's `MaxAttemptsReached`, which its
    /// standard and adaptive modes set whenever the attempt limit is reached, success or not).
    pub max_attempts_reached: bool,
    /// A retry was wanted but the retry quota could not pay for it (boto3's
    /// `RetryQuotaReached`).
    pub retry_quota_reached: bool,
    /// The failure happened while connecting (resolving, TCP or TLS handshake), before any
    /// of the request was sent.
    pub while_connecting: bool,
    /// How a failed call ended and where it went; boxed, so errors stay small.
    pub(crate) notes: Option<Box<CallNotes>>,
}

/// What the client adds to a failed call's metadata.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CallNotes {
    /// How the call stopped retrying, when retries happened or one was declined, e.g.
    /// `gave up after 3 attempts: max_attempts 3 reached`. Never part of the service's message.
    pub stop_reason: Option<String>,
    /// The URL of the last attempt (botocore names it in its connection and timeout errors).
    /// Path and labels only: requests carry no query.
    pub url: Option<String>,
}

impl ResponseMetadata {
    /// How the retry loop stopped, when it did not simply succeed or fail at once, e.g.
    /// `gave up after 3 attempts: max_attempts 3 reached`.
    pub fn stop_reason(&self) -> Option<&str> {
        self.notes.as_ref()?.stop_reason.as_deref()
    }

    /// The URL of the last attempt, when one was made.
    pub fn url(&self) -> Option<&str> {
        self.notes.as_ref()?.url.as_deref()
    }

    pub(crate) fn notes_mut(&mut self) -> &mut CallNotes {
        self.notes.get_or_insert_with(Default::default)
    }
}

/// Response headers as received: `name: value` lines (names as the server wrote them),
/// kept as one string so the hot path pays one allocation for them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HttpHeaders(String);

impl HttpHeaders {
    /// Collects `(name, value)` pairs.
    pub fn from_pairs<'a, I>(pairs: I) -> HttpHeaders
    where
        I: IntoIterator<Item = (&'a str, &'a str)>,
        I::IntoIter: Clone,
    {
        let pairs = pairs.into_iter();
        let size = pairs.clone().map(|(n, v)| n.len() + v.len() + 2).sum();
        let mut text = String::with_capacity(size);
        for (name, value) in pairs {
            if name.contains(['\n', ':']) || value.contains('\n') {
                continue;
            }
            text.push_str(name);
            text.push(':');
            text.push_str(value.trim());
            text.push('\n');
        }
        HttpHeaders(text)
    }

    /// Replaces every occurrence of each of `values` (names and values alike), allocating only
    /// when one is there.
    pub fn replace_all(&mut self, values: &[&str], with: &str) {
        for value in values {
            if !value.is_empty() && self.0.contains(value) {
                self.0 = self.0.replace(value, with);
            }
        }
    }

    /// The headers in arrival order, names as received.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.lines().filter_map(|l| l.split_once(':'))
    }

    /// True when no header was captured (no response was read).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Writes [`HttpHeaders::to_map`] as a JSON object without building the map: names in
    /// arrival order (JSON objects are unordered), unless a name repeats or needs escaping.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        let plain = |n: &str| {
            n.bytes()
                .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\')
        };
        // One pass over the lines: names seen so far on the stack (a response has a handful).
        let mut seen = [""; 32];
        let mut count = 0;
        let simple = self.iter().all(|(name, _)| {
            let fresh = count < seen.len()
                && plain(name)
                && !seen[..count].iter().any(|o| o.eq_ignore_ascii_case(name));
            if fresh {
                seen[count] = name;
                count += 1;
            }
            fresh
        });
        if !simple {
            // Writing into a Vec cannot fail.
            let _ = serde_json::to_writer(out, &self.to_map());
            return;
        }
        out.push(b'{');
        for (i, (name, value)) in self.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.push(b'"');
            out.extend(name.bytes().map(|b| b.to_ascii_lowercase()));
            out.extend_from_slice(b"\":");
            if value
                .bytes()
                .all(|b| (b' '..=b'~').contains(&b) && b != b'"' && b != b'\\')
            {
                // Nothing to escape (the usual header value): as serde_json would write it.
                out.push(b'"');
                out.extend_from_slice(value.as_bytes());
                out.push(b'"');
            } else {
                let _ = serde_json::to_writer(&mut *out, value);
            }
        }
        out.push(b'}');
    }

    /// As boto3 shows them: names lower-cased; a repeated name's values joined by ", ".
    pub fn to_map(&self) -> std::collections::BTreeMap<String, String> {
        let mut map = std::collections::BTreeMap::<String, String>::new();
        for (name, value) in self.iter() {
            map.entry(name.to_ascii_lowercase())
                .and_modify(|v| {
                    v.push_str(", ");
                    v.push_str(value);
                })
                .or_insert_with(|| value.to_owned());
        }
        map
    }
}

/// An error response from the service, parsed per restJson1.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceError {
    /// The cleaned error code, e.g. `ThrottlingException`; for a body-less
    /// response (a load balancer's 502), the HTTP status as text.
    pub code: String,
    /// The service's message (or the HTTP reason phrase when there was none).
    pub message: String,
    /// Request id and attempts.
    pub metadata: ResponseMetadata,
    /// The modeled error's members the body carried (e.g. `Message`, `Reason`); the response
    /// document shows them next to `Error`, as boto3 does.
    pub fields: Option<Box<serde_json::Map<String, serde_json::Value>>>,
}
