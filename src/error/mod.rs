//! The error type: every way a call can fail, as one enum, each variant reported as one
//! [`Status`] (`status.rs`), with what the response told us (`metadata.rs`).
#![forbid(unsafe_code)]

use std::fmt;

mod metadata;
mod status;

pub use metadata::{HttpHeaders, ResponseMetadata, ServiceError};
// Only tests write a metadata's notes by hand; the library goes through `notes_mut`.
#[cfg(test)]
pub(crate) use metadata::CallNotes;
pub use status::Status;

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
