//! connect-emulator: a local Amazon Connect endpoint for UpdateContact and DescribeContact.
//!
//! It verifies SigV4 signatures, validates requests with its own reading of the vendored
//! service model (model/connect.json, interpreted at run time; no code shared with the
//! client library, and enums closed as the service has them), stores what was written so it
//! can be read back, and fails on demand (any modeled error, 503, dropped connections,
//! latency); optionally it checks permissions against a policy file and enforces the
//! service's request quota. Start it in-process:
//!
//! ```no_run
//! use connect_emulator::{Emulator, EmulatorConfig};
//! let emulator = Emulator::start(EmulatorConfig { auto_create: true, ..EmulatorConfig::default() }).unwrap();
//! println!("{}", emulator.endpoint_url()); // http://127.0.0.1:PORT
//! emulator.shutdown().unwrap();
//! ```
#![forbid(unsafe_code)]

mod admin;
mod auth;
mod config;
mod faults;
pub mod model;
mod persist;
mod policy;
mod quota;
mod reply;
mod run;
mod server;
mod service;
mod store;

pub use auth::CLOCK_WINDOW;
pub use config::{
    parse_args, Command, Credential, EmulatorConfig, DEFAULT_ACCESS_KEY_ID, DEFAULT_LISTEN,
    DEFAULT_REGION, DEFAULT_SECRET_ACCESS_KEY, USAGE,
};
pub use faults::{FaultStep, Faults, INJECTABLE_ERRORS};
pub use policy::{contact_arn, Policy, ACCOUNT};
pub use quota::Quota;
pub use run::run_command;
pub use server::{Emulator, StartError};
pub use service::MAX_BODY_BYTES;
pub use store::MERGED_MEMBERS;
