//! What goes on the wire for UpdateContact: restJson1 (the path, its labels, error documents),
//! the response and error document the C ABI returns, the signing identity and SigV4.
#![forbid(unsafe_code)]

pub mod identity;
pub mod response;
pub mod rest_json;
pub mod signing;
