//! The status codes: one number per outcome, the C ABI's `connect_status` (cbindgen writes the
//! header's enum from this declaration, scripts/regenerate docs/errors.md from its comments).
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
