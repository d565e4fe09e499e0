//! placeholder
#![deny(unsafe_code)]
pub mod client;
pub mod config;
pub mod error;
pub mod ffi;
pub mod model;
pub mod protocol;
pub mod response;
pub mod retry;
pub mod signing;
pub mod transport;
pub mod validate;
