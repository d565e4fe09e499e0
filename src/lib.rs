//! placeholder
#![deny(unsafe_code)]
pub mod error;
pub mod model;
pub mod validate;
