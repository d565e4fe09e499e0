//! Status codes and the error type: every way a call can fail, as one enum.
#![forbid(unsafe_code)]

use std::ffi::CStr;
use std::fmt;

/// The outcome of a call, as the C ABI reports it.
///
/// The numbers are grouped by hundreds (0 OK, 1xx caller, 2xx environment,
/// 3xx transport, 4xx service, 9xx internal) and never change once released;
/// a retired number stays reserved.
#[repr(i32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Status {
    /// The call succeeded.
    ///
    /// What to do: nothing.
    Ok = 0,
    /// A required pointer argument was NULL; nothing was done.
    ///
    /// What to do: pass a valid pointer; in Python, do not use a client after `close()`.
    NullArgument = 100,
    /// A string argument was not valid UTF-8.
    ///
    /// What to do: pass UTF-8 text.
    InvalidUtf8 = 101,
    /// A JSON argument was not parseable JSON (or was too large or too deep).
    ///
    /// What to do: fix the JSON document; the message says where parsing stopped.
    InvalidJson = 102,
    /// The request broke a rule of the API; it was not sent.
    ///
    /// What to do: fix the field the message names; retrying the same request fails the same way.
    Validation = 103,
    /// The client configuration is invalid.
    ///
    /// What to do: fix the config key, environment variable or profile entry the message names.
    InvalidConfig = 104,
    /// The client's queue of asynchronous calls is full; nothing was queued.
    ///
    /// What to do: retry later, or raise `async_queue`.
    QueueFull = 105,
    /// The call was not sent because connect_client_free() had begun: either it was still
    /// queued when the client was freed, or it was submitted after.
    ///
    /// What to do: nothing to undo: the call was never sent; submit it on a live client if still wanted.
    Cancelled = 106,
    /// No region was configured.
    ///
    /// What to do: set config key `region`, `AWS_REGION` or the profile's `region`.
    NoRegion = 200,
    /// No credentials were found.
    ///
    /// What to do: configure credentials (config keys, environment, profile, SSO, container or instance role).
    NoCredentials = 201,
    /// A configured credentials source failed.
    ///
    /// What to do: fix the source the message names (credential_process, SSO cache, STS, IMDS, ...).
    CredentialsProvider = 202,
    /// The operating system refused to start a worker thread for asynchronous calls.
    ///
    /// What to do: free system resources (threads, memory) or lower `async_workers`; blocking calls still work.
    ThreadStart = 203,
    /// The outbox file could not be opened, read or written (permissions, a missing
    /// directory, a full disk, a file that is not an outbox or is corrupt); the message names
    /// the file and SQLite's reason.
    ///
    /// What to do: fix the path, its directory's permissions or free space; move a corrupt file aside (its pending updates are in it) and open a new one.
    Storage = 204,
    /// DNS, connect, TLS or I/O failure.
    ///
    /// What to do: check the endpoint, DNS, proxy and TLS trust; retrying later may succeed.
    Transport = 300,
    /// A connect or call deadline expired.
    ///
    /// What to do: retry, or raise the timeouts (docs/configuration.md).
    Timeout = 301,
    /// The response could not be understood.
    ///
    /// What to do: check that the endpoint is Amazon Connect (or the emulator) and not a proxy page.
    InvalidResponse = 302,
    /// AccessDeniedException (403).
    ///
    /// What to do: grant `connect:UpdateContact` on the instance to the caller's identity.
    AccessDenied = 400,
    /// ConflictException (409).
    ///
    /// What to do: read the contact again and retry with its current state.
    Conflict = 401,
    /// InternalServiceException (500).
    ///
    /// What to do: retry later (the library already retried within `max_attempts`).
    InternalService = 402,
    /// InvalidActiveRegionException (400).
    ///
    /// What to do: call the contact's active region.
    InvalidActiveRegion = 403,
    /// InvalidParameterException (400).
    ///
    /// What to do: fix the parameter the service names.
    InvalidParameter = 404,
    /// InvalidRequestException (400).
    ///
    /// What to do: fix the request as the service's `Reason` says.
    InvalidRequest = 405,
    /// ResourceNotFoundException (404).
    ///
    /// What to do: check the instance id and contact id.
    ResourceNotFound = 406,
    /// ThrottlingException (429).
    ///
    /// What to do: slow down, raise `max_attempts`, or use `retry_mode` `adaptive`.
    Throttling = 407,
    /// Any other error code the service sent (UnrecognizedClientException, ExpiredTokenException, ...).
    ///
    /// What to do: read the error code and message; e.g. ExpiredTokenException: refresh credentials.
    ServiceError = 499,
    /// A bug inside the library was caught at the C boundary; the process keeps running.
    ///
    /// What to do: report a bug with the message; the client can still be freed.
    Panic = 900,
}

impl Status {
    /// Every status, in numeric order.
    pub const ALL: [Status; 26] = [
        Status::Ok,
        Status::NullArgument,
        Status::InvalidUtf8,
        Status::InvalidJson,
        Status::Validation,
        Status::InvalidConfig,
        Status::QueueFull,
        Status::Cancelled,
        Status::NoRegion,
        Status::NoCredentials,
        Status::CredentialsProvider,
        Status::ThreadStart,
        Status::Storage,
        Status::Transport,
        Status::Timeout,
        Status::InvalidResponse,
        Status::AccessDenied,
        Status::Conflict,
        Status::InternalService,
        Status::InvalidActiveRegion,
        Status::InvalidParameter,
        Status::InvalidRequest,
        Status::ResourceNotFound,
        Status::Throttling,
        Status::ServiceError,
        Status::Panic,
    ];

    /// The stable number of this status.
    pub fn code(self) -> i32 {
        self as i32
    }

    /// The status with this number, if there is one.
    pub fn from_code(code: i32) -> Option<Status> {
        Status::ALL.iter().copied().find(|s| s.code() == code)
    }

    /// The C name, e.g. `CONNECT_STATUS_THROTTLING`, NUL-terminated for the C ABI.
    pub fn c_name(self) -> &'static CStr {
        match self {
            Status::Ok => c"CONNECT_STATUS_OK",
            Status::NullArgument => c"CONNECT_STATUS_NULL_ARGUMENT",
            Status::InvalidUtf8 => c"CONNECT_STATUS_INVALID_UTF8",
            Status::InvalidJson => c"CONNECT_STATUS_INVALID_JSON",
            Status::Validation => c"CONNECT_STATUS_VALIDATION",
            Status::InvalidConfig => c"CONNECT_STATUS_INVALID_CONFIG",
            Status::QueueFull => c"CONNECT_STATUS_QUEUE_FULL",
            Status::Cancelled => c"CONNECT_STATUS_CANCELLED",
            Status::NoRegion => c"CONNECT_STATUS_NO_REGION",
            Status::NoCredentials => c"CONNECT_STATUS_NO_CREDENTIALS",
            Status::CredentialsProvider => c"CONNECT_STATUS_CREDENTIALS_PROVIDER",
            Status::ThreadStart => c"CONNECT_STATUS_THREAD_START",
            Status::Storage => c"CONNECT_STATUS_STORAGE",
            Status::Transport => c"CONNECT_STATUS_TRANSPORT",
            Status::Timeout => c"CONNECT_STATUS_TIMEOUT",
            Status::InvalidResponse => c"CONNECT_STATUS_INVALID_RESPONSE",
            Status::AccessDenied => c"CONNECT_STATUS_ACCESS_DENIED",
            Status::Conflict => c"CONNECT_STATUS_CONFLICT",
            Status::InternalService => c"CONNECT_STATUS_INTERNAL_SERVICE",
            Status::InvalidActiveRegion => c"CONNECT_STATUS_INVALID_ACTIVE_REGION",
            Status::InvalidParameter => c"CONNECT_STATUS_INVALID_PARAMETER",
            Status::InvalidRequest => c"CONNECT_STATUS_INVALID_REQUEST",
            Status::ResourceNotFound => c"CONNECT_STATUS_RESOURCE_NOT_FOUND",
            Status::Throttling => c"CONNECT_STATUS_THROTTLING",
            Status::ServiceError => c"CONNECT_STATUS_SERVICE_ERROR",
            Status::Panic => c"CONNECT_STATUS_PANIC",
        }
    }

    /// The C name as a Rust string.
    pub fn name(self) -> &'static str {
        // The names above are ASCII literals, so this never takes the fallback.
        self.c_name().to_str().unwrap_or("CONNECT_STATUS_UNKNOWN")
    }

    /// The status for an error code the service sent (already cleaned per restJson1).
    pub fn for_service_code(code: &str) -> Status {
        match code {
            "AccessDeniedException" => Status::AccessDenied,
            "ConflictException" => Status::Conflict,
            "InternalServiceException" => Status::InternalService,
            "InvalidActiveRegionException" => Status::InvalidActiveRegion,
            "InvalidParameterException" => Status::InvalidParameter,
            "InvalidRequestException" => Status::InvalidRequest,
            "ResourceNotFoundException" => Status::ResourceNotFound,
            "ThrottlingException" => Status::Throttling,
            _ => Status::ServiceError,
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

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

/// Every way an UpdateContact call or a client construction can fail.
///
/// Each variant maps to exactly one [`Status`]; the `Display` text is the message the C ABI
/// reports. No variant ever carries a secret or the sensitive Name/Description values.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The request or config text is not parseable JSON, or is too large or too deep.
    InvalidJson(String),
    /// The request breaks a rule of the API (message names the field path and the rule).
    Validation(String),
    /// The client configuration is invalid (message names the setting).
    InvalidConfig(String),
    /// No region in the config or the environment.
    NoRegion(String),
    /// No credentials in the config or the environment.
    NoCredentials(String),
    /// A configured credentials source failed.
    CredentialsProvider(String),
    /// The outbox file could not be opened, read or written (message names the file and
    /// SQLite's reason).
    Storage(String),
    /// DNS, connect, TLS or I/O failure.
    Transport {
        /// What failed, e.g. the OS reason for a refused connection.
        message: String,
        /// Attempts made, and the last response's request id and status if any.
        metadata: ResponseMetadata,
    },
    /// A deadline expired.
    Timeout {
        /// Which deadline expired, and while doing what.
        message: String,
        /// Attempts made, and the last response's request id and status if any.
        metadata: ResponseMetadata,
    },
    /// A response we could not understand.
    InvalidResponse {
        /// What was wrong with the response.
        message: String,
        /// Attempts made, and the request id and status of the response if known.
        metadata: ResponseMetadata,
    },
    /// The service answered with an error.
    Service(Box<ServiceError>),
}

impl Error {
    /// The status this error is reported as.
    pub fn status(&self) -> Status {
        match self {
            Error::InvalidJson(_) => Status::InvalidJson,
            Error::Validation(_) => Status::Validation,
            Error::InvalidConfig(_) => Status::InvalidConfig,
            Error::NoRegion(_) => Status::NoRegion,
            Error::NoCredentials(_) => Status::NoCredentials,
            Error::CredentialsProvider(_) => Status::CredentialsProvider,
            Error::Storage(_) => Status::Storage,
            Error::Transport { .. } => Status::Transport,
            Error::Timeout { .. } => Status::Timeout,
            Error::InvalidResponse { .. } => Status::InvalidResponse,
            Error::Service(e) => Status::for_service_code(&e.code),
        }
    }

    /// The error code of the response document: the service's code, else the status name.
    pub fn code(&self) -> &str {
        match self {
            Error::Service(e) => &e.code,
            other => other.status().name(),
        }
    }

    /// The message alone, as in the response document's `Error.Message`.
    pub fn message(&self) -> &str {
        match self {
            Error::InvalidJson(m)
            | Error::Validation(m)
            | Error::InvalidConfig(m)
            | Error::NoRegion(m)
            | Error::NoCredentials(m)
            | Error::CredentialsProvider(m)
            | Error::Storage(m) => m,
            Error::Transport { message, .. }
            | Error::Timeout { message, .. }
            | Error::InvalidResponse { message, .. } => message,
            Error::Service(e) => &e.message,
        }
    }

    /// Request id, HTTP status and attempts, for errors that happened on the wire.
    pub fn metadata(&self) -> Option<&ResponseMetadata> {
        match self {
            Error::Transport { metadata, .. }
            | Error::Timeout { metadata, .. }
            | Error::InvalidResponse { metadata, .. } => Some(metadata),
            Error::Service(e) => Some(&e.metadata),
            _ => None,
        }
    }

    /// Records how the call stopped retrying: in the metadata for errors on the wire (the
    /// service's message stays as it was sent), else at the end of the message.
    pub(crate) fn set_stop_reason(&mut self, reason: String) {
        match self.metadata_mut() {
            Some(m) => m.notes_mut().stop_reason = Some(reason),
            None => match self {
                Error::InvalidJson(m)
                | Error::Validation(m)
                | Error::InvalidConfig(m)
                | Error::NoRegion(m)
                | Error::NoCredentials(m)
                | Error::CredentialsProvider(m)
                | Error::Storage(m) => {
                    m.push_str(" (");
                    m.push_str(&reason);
                    m.push(')');
                }
                _ => {}
            },
        }
    }

    /// The message with how the call stopped, if it was recorded: the full sentence
    /// `connect_last_error_message()` gives.
    pub fn sentence(&self) -> String {
        match self.metadata().and_then(ResponseMetadata::stop_reason) {
            Some(reason) => format!("{} ({reason})", self.message()),
            None => self.message().to_owned(),
        }
    }

    /// For transport failures and timeouts, which of botocore's errors this is:
    /// `ConnectTimeout`, `ReadTimeout`, `EndpointConnection` (a failure to connect) or
    /// `ConnectionClosed` (the connection failed or closed before a valid response).
    pub fn transport_kind(&self) -> Option<&'static str> {
        match self {
            Error::Timeout { metadata, .. } if metadata.while_connecting => Some("ConnectTimeout"),
            Error::Timeout { .. } => Some("ReadTimeout"),
            Error::Transport { metadata, .. } if metadata.while_connecting => {
                Some("EndpointConnection")
            }
            Error::Transport { .. } => Some("ConnectionClosed"),
            _ => None,
        }
    }

    /// Changes the message in place (see [`crate::redact`]).
    pub(crate) fn edit_message(&mut self, edit: impl FnOnce(&mut String)) {
        match self {
            Error::InvalidJson(m)
            | Error::Validation(m)
            | Error::InvalidConfig(m)
            | Error::NoRegion(m)
            | Error::NoCredentials(m)
            | Error::CredentialsProvider(m)
            | Error::Storage(m) => edit(m),
            Error::Transport { message, .. }
            | Error::Timeout { message, .. }
            | Error::InvalidResponse { message, .. } => edit(message),
            Error::Service(e) => edit(&mut e.message),
        }
    }

    pub(crate) fn metadata_mut(&mut self) -> Option<&mut ResponseMetadata> {
        match self {
            Error::Transport { metadata, .. }
            | Error::Timeout { metadata, .. }
            | Error::InvalidResponse { metadata, .. } => Some(metadata),
            Error::Service(e) => Some(&mut e.metadata),
            _ => None,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Service(e) => write!(f, "{}: {}", e.code, e.message)?,
            other => f.write_str(other.message())?,
        }
        match self.metadata().and_then(ResponseMetadata::stop_reason) {
            Some(reason) => write!(f, " ({reason})"),
            None => Ok(()),
        }
    }
}

impl std::error::Error for Error {}

/// A service error, boxed: it is the largest variant by far, and boxing it keeps every `Result<_, Error>`
/// small on the hot path.
impl From<ServiceError> for Error {
    fn from(e: ServiceError) -> Error {
        Error::Service(Box::new(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_numbers_are_stable_and_grouped() {
        // These numbers are released ABI: changing one breaks every compiled caller.
        let expected = [
            (Status::Ok, 0),
            (Status::NullArgument, 100),
            (Status::InvalidUtf8, 101),
            (Status::InvalidJson, 102),
            (Status::Validation, 103),
            (Status::InvalidConfig, 104),
            (Status::QueueFull, 105),
            (Status::Cancelled, 106),
            (Status::NoRegion, 200),
            (Status::NoCredentials, 201),
            (Status::CredentialsProvider, 202),
            (Status::ThreadStart, 203),
            (Status::Storage, 204),
            (Status::Transport, 300),
            (Status::Timeout, 301),
            (Status::InvalidResponse, 302),
            (Status::AccessDenied, 400),
            (Status::Conflict, 401),
            (Status::InternalService, 402),
            (Status::InvalidActiveRegion, 403),
            (Status::InvalidParameter, 404),
            (Status::InvalidRequest, 405),
            (Status::ResourceNotFound, 406),
            (Status::Throttling, 407),
            (Status::ServiceError, 499),
            (Status::Panic, 900),
        ];
        assert_eq!(expected.len(), Status::ALL.len());
        for (status, code) in expected {
            assert_eq!(status.code(), code, "{status}");
            assert_eq!(Status::from_code(code), Some(status));
        }
        assert_eq!(Status::from_code(5), None);
    }

    #[test]
    fn names_match_variants() {
        assert_eq!(Status::Throttling.name(), "CONNECT_STATUS_THROTTLING");
        let mut names: Vec<_> = Status::ALL.iter().map(|s| s.name()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), Status::ALL.len(), "names are unique");
    }

    #[test]
    fn modeled_codes_map_to_their_status() {
        assert_eq!(
            Status::for_service_code("ThrottlingException"),
            Status::Throttling
        );
        assert_eq!(
            Status::for_service_code("ResourceNotFoundException"),
            Status::ResourceNotFound
        );
        assert_eq!(
            Status::for_service_code("UnrecognizedClientException"),
            Status::ServiceError
        );
    }
}
