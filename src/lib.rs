//! # connect-contact
//!
//! Amazon Connect's **UpdateContact** (`POST /contacts/{InstanceId}/{ContactId}`) as a small,
//! blocking client: validate the request against the service model, sign it (SigV4, service
//! `connect`), send it over a pooled HTTP/1.1 connection, retry what is worth retrying within a
//! deadline, and report every outcome as one [`Status`] with a message. The same core is the
//! C ABI (`include/connect_contact.h`, docs/c.md) and, through it, the Python binding.
//!
//! ## A call
//!
//! ```no_run
//! use connect_contact::{Client, ClientConfig, UpdateContactRequest};
//!
//! // Everything not given here comes from the environment and the shared profile files,
//! // as in every AWS SDK (AWS_REGION, AWS_PROFILE, AWS_ACCESS_KEY_ID, ~/.aws/config, ...).
//! let client = Client::new(&ClientConfig { region: Some("us-east-1".into()), ..Default::default() })?;
//! let mut request = UpdateContactRequest::new("instance-id", "contact-id");
//! request.name = Some("Billing callback".into());
//! let output = client.update_contact(&request)?;
//! println!("request id {:?}", output.metadata.request_id);
//! # Ok::<(), connect_contact::Error>(())
//! ```
//!
//! A [`Client`] is `Send + Sync`: share one (in an `Arc`) between threads; its connections,
//! credentials cache, retry quota and adaptive rate limiter are shared too.
//!
//! ## Requests from JSON, checked before anything is sent
//!
//! [`UpdateContactRequest::from_json`] reads the document `aws connect update-contact
//! --cli-input-json` and boto3 take. A misspelt member is refused, never dropped; the
//! service model's limits are checked by [`validate`] (and by every call), and messages
//! read like botocore's without echoing a value:
//!
//! ```
//! use connect_contact::{validate, Checker, Status, UpdateContactRequest};
//!
//! let typo = UpdateContactRequest::from_json(r#"{"InstanceId": "i", "ContactId": "c", "Nmae": "x"}"#);
//! assert_eq!(typo.unwrap_err().status(), Status::Validation);
//!
//! let mut request = UpdateContactRequest::new("i", "c");
//! request.name = Some("x".repeat(1025)); // the model allows 1,024 characters
//! let error = validate(&request, Checker::default()).unwrap_err();
//! assert!(error.message().contains("Invalid length for parameter Name"), "{error}");
//! # Ok::<(), connect_contact::Error>(())
//! ```
//!
//! Enum values the vendored model does not know are sent as given, since the service adds
//! values over time; `strict_enums` in [`ClientConfig`] refuses them instead.
//!
//! ## Configuration
//!
//! [`ClientConfig`] (or its JSON form, [`ClientConfig::from_json`], the same keys as the C
//! ABI's config JSON) takes precedence over the environment, which takes precedence over the
//! shared profile. [`ClientConfig::resolve`] decides every value into [`Settings`]
//! ([`ClientConfig::resolve_with`] takes the environment as a function, for tests), and
//! [`Client::with_settings`] builds a client from them. Credentials follow the default chain:
//! explicit keys, the environment, the profile (static keys, roles with `source_profile` or
//! `credential_source`, web identity, SSO, `credential_process`), web identity from the
//! environment, the container endpoint, EC2 instance metadata (IMDSv2).
//!
//! ## Errors
//!
//! One enum, [`Error`], with one [`Status`] per variant; the status numbers are the C ABI's
//! and never change. A service error keeps the service's code, message and request id
//! ([`ServiceError`]). Nothing the library reports or logs carries the secret key, the session
//! token, the Authorization header, or the model's sensitive values (Name, Description,
//! EmailAddress, DisplayName).
//!
//! ## The outbox: updates that must not be lost
//!
//! An [`Outbox`] keeps requests in a file (SQLite, WAL, each enqueue synced before it
//! returns) until the service has them, and delivers them from background threads: in order
//! per contact, paced to the account's quota by a pacer the processes sharing the file share
//! too, retried through throttling and outages until [`OutboxOptions::max_age`], with what
//! fails for good kept as [`DeadLetter`]s. Pending updates of one contact are coalesced into
//! one call by the service's own merge rule.
//!
//! ```no_run
//! use std::sync::Arc;
//! use std::time::Duration;
//! use connect_contact::{Client, ClientConfig, Outbox, OutboxOptions, UpdateContactRequest};
//!
//! let client = Arc::new(Client::new(&ClientConfig::default())?);
//! let outbox = Outbox::open(client, "/var/lib/pbx/connect-outbox.db", OutboxOptions::default())?;
//! let mut request = UpdateContactRequest::new("instance-id", "contact-id");
//! request.name = Some("Billing callback".into());
//! let id = outbox.enqueue(&request)?; // validated as a call is, then durable
//! outbox.flush(Duration::from_secs(30))?;
//! println!("{id}: {:?}", outbox.stats());
//! # Ok::<(), connect_contact::Error>(())
//! ```
//!
//! Semantics, pacing and the figures: docs/outbox.md.
//!
//! ## Logging
//!
//! [`set_log_sink`] sends diagnostic lines (one per attempt at [`LogLevel::Debug`]) to a
//! [`LogSink`]; without one, `CONNECT_CONTACT_LOG=debug` writes them to stderr.
//!
//! ## Stability
//!
//! Only what this page lists is the API. `unstable` (hidden) serves the project's own fuzz
//! targets, benchmarks and examples and may change in any release. CHANGELOG.md states the
//! ABI policy of the C library.
#![deny(unsafe_code)]
#![deny(missing_docs)]
#![warn(missing_debug_implementations)]

mod client;
mod config;
mod credentials;
mod env;
mod error;
// The C ABI: public so the cdylib exports it, hidden because Rust callers use the API above.
#[doc(hidden)]
pub mod ffi;
mod fork;
mod http;
mod json;
mod log;
mod model;
mod outbox;
mod protocol;
mod redact;
mod retry;

pub use client::Client;
pub use config::{ClientConfig, Settings};
pub use credentials::Credentials;
pub use error::{Error, HttpHeaders, ResponseMetadata, ServiceError, Status};
pub use log::{set_sink as set_log_sink, LogLevel, LogSink};
pub use model::validate::{validate, Checker};
pub use model::{
    AdditionalRecipients, EmailAddressInfo, Endpoint, QueueInfo, Reference, SegmentAttributeValue,
    UpdateContactRequest, UserInfo, BOTOCORE_VERSION,
};
pub use outbox::{
    DeadLetter, Outbox, OutboxAdmin, OutboxCallback, OutboxEvent, OutboxOptions, OutboxStats,
};
pub use protocol::response::UpdateContactOutput;

/// Parts of the library that its own fuzz targets, benchmarks and examples reach into.
///
/// Not part of the API: anything here may change or go in any release, without notice in
/// CHANGELOG.md.
#[doc(hidden)]
pub mod unstable {
    pub use crate::config::{DefaultValue, Setting, ValueKind, SETTINGS};
    pub use crate::credentials::sso::cache_file as sso_cache_file;
    pub use crate::env::endpoint::{partition_of, Partition, PARTITIONS};
    pub use crate::env::profile::{FileKind, ProfileSet, Section};
    pub use crate::http::framing::{read_response_bytes, ReadOutcome};
    pub use crate::outbox::enqueue_durability as outbox_enqueue_durability;
    pub use crate::outbox::MERGED_MEMBERS as OUTBOX_MERGED_MEMBERS;
    pub use crate::protocol::rest_json::{encode_label, parse_error};
    pub use crate::protocol::signing::Signer;
}
