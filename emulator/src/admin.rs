//! The admin API under `/_emulator/`: no signature, answers only where the emulator listens.
//!
//! - `GET /_emulator/health` → `{"status": "ok", "instances": N, "contacts": N}`
//! - `GET /_emulator/faults`, `PUT /_emulator/faults` (body: the faults JSON)
//! - `GET /_emulator/quota`, `PUT /_emulator/quota` (`{"rps": N, "burst": N}`, or `null`)
//! - `GET /_emulator/contacts` (the store, in the seed format), `PUT /_emulator/contacts`
//!   (replace the store with a document in the seed format)
//! - `GET /_emulator/updates`: every UpdateContact input accepted, in order (the request log)
//! - `POST /_emulator/reset`: the store as at start, no faults

use serde_json::{json, Value};

use crate::faults::Faults;
use crate::quota::Quota;
use crate::reply::{ApiError, Reply};
use crate::service::Service;
use crate::store::Store;

/// Prefix of the admin API.
pub const PREFIX: &str = "/_emulator/";

/// `rest` is the path after `/_emulator/`.
pub fn handle(service: &Service, method: &str, rest: &str, body: &[u8]) -> Reply {
    let result = match (method, rest) {
        ("GET", "health") => {
            let (instances, contacts) = service.store().counts();
            Ok(json!({ "status": "ok", "instances": instances, "contacts": contacts }))
        }
        ("GET", "faults") => Ok(service.faults().to_json()),
        ("PUT", "faults") => parse(body)
            .and_then(|v| Faults::from_json(&v).map_err(ApiError::invalid_parameter))
            .map(|faults| {
                service.set_faults(faults);
                service.faults().to_json()
            }),
        ("GET", "quota") => Ok(Quota::to_json(service.quota())),
        ("PUT", "quota") => parse(body)
            .and_then(|v| Quota::from_json(&v).map_err(ApiError::invalid_parameter))
            .and_then(|q| service.set_quota(q).map_err(ApiError::invalid_parameter))
            .map(|()| Quota::to_json(service.quota())),
        ("GET", "updates") => Ok(service.updates()),
        ("GET", "contacts") => Ok(service.store().to_json()),
        ("PUT", "contacts") => parse(body)
            .and_then(|v| Store::from_json(&v).map_err(ApiError::invalid_parameter))
            .and_then(|store| service.replace_store(store))
            .map(|()| service.store().to_json()),
        ("POST", "reset") => service.reset().map(|()| json!({ "status": "reset" })),
        _ => Err(ApiError::new(
            404,
            "UnknownOperationException",
            "Unknown admin route; see GET/PUT /_emulator/faults, GET/PUT /_emulator/quota, GET/PUT /_emulator/contacts, GET /_emulator/updates, POST /_emulator/reset, \
             GET /_emulator/health",
        )),
    };
    match result {
        Ok(v) => Reply::json(200, &v),
        Err(e) => e.into(),
    }
}

fn parse(body: &[u8]) -> Result<Value, ApiError> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::invalid_request(format!("The request body is not valid JSON: {e}")))
}
