//! The emulated service, free of any HTTP plumbing: a received request in, a reply (or a
//! dropped connection) out. Order as the service: authentication, then faults, then the
//! operation's validation and data.

use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use percent_encoding::percent_decode_str;
use serde_json::{json, Value};

use crate::admin;
use crate::auth::{self, SignedRequest};
use crate::config::{Credential, EmulatorConfig};
use crate::faults::{Decision, FaultState, Faults};
use crate::model::ServiceModel;
use crate::persist;
use crate::reply::{ApiError, Reply};
use crate::store::Store;

/// Largest request body read; the service's own limit is lower.
pub const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;
/// Prefix of the admin API.
pub const ADMIN_PREFIX: &str = "/_emulator/";

/// A request as received.
pub struct Incoming {
    pub method: String,
    /// The request target as sent, still percent-encoded.
    pub raw_uri: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Incoming {
    /// The path part of the target.
    pub fn path(&self) -> &str {
        self.raw_uri.split('?').next().unwrap_or_default()
    }
}

/// What to do with the connection.
#[derive(Debug)]
pub enum Outcome {
    Reply(Reply),
    /// Close the connection without answering (an injected fault).
    Drop,
}

impl From<ApiError> for Outcome {
    fn from(e: ApiError) -> Outcome {
        Outcome::Reply(e.into())
    }
}

pub struct Service {
    region: String,
    credentials: Vec<Credential>,
    auto_create: bool,
    state_file: Option<PathBuf>,
    /// The store as it was at start, for `POST /_emulator/reset`.
    initial: Store,
    store: Mutex<Store>,
    faults: Mutex<FaultState>,
}

/// A poisoned lock only means another request panicked mid-way; the data is still usable.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Service {
    /// Loads the state file if it exists, else the seed file.
    pub fn new(config: &EmulatorConfig) -> Result<Service, String> {
        config.faults.check().map_err(|e| format!("faults: {e}"))?;
        if config.credentials.is_empty() {
            return Err("no credentials configured; requests could never be accepted".into());
        }
        let seed = match &config.seed_file {
            Some(path) => persist::load(path, "seed")?,
            None => Store::default(),
        };
        let store = match &config.state_file {
            Some(path) if path.exists() => persist::load(path, "state")?,
            _ => seed.clone(),
        };
        let service = Service {
            region: config.region.clone(),
            credentials: config.credentials.clone(),
            auto_create: config.auto_create,
            state_file: config.state_file.clone(),
            initial: seed,
            store: Mutex::new(store),
            faults: Mutex::new(FaultState::new(config.faults.clone())),
        };
        // Writing once at start proves the path is writable before any client relies on it.
        service.save(&lock(&service.store)).map_err(|e| e.message)?;
        Ok(service)
    }

    /// The delay to add before answering this request (API requests only).
    pub fn latency_for(&self, path: &str) -> Duration {
        if path.starts_with(ADMIN_PREFIX) {
            Duration::ZERO
        } else {
            lock(&self.faults).latency()
        }
    }

    pub fn handle(&self, request: &Incoming) -> Outcome {
        let path = request.path();
        if let Some(rest) = path.strip_prefix(ADMIN_PREFIX) {
            return Outcome::Reply(admin::handle(self, &request.method, rest, &request.body));
        }
        let signed = SignedRequest {
            method: &request.method,
            raw_uri: &request.raw_uri,
            headers: &request.headers,
            body: &request.body,
        };
        if let Err(e) = auth::verify(&signed, &self.credentials, &self.region, SystemTime::now()) {
            return e.into();
        }
        let (instance_id, contact_id) = match contact_route(path) {
            Ok(ids) => ids,
            Err(e) => return e.into(),
        };
        let operation = match request.method.as_str() {
            "POST" => Operation::UpdateContact,
            "GET" => Operation::DescribeContact,
            _ => return ApiError::unknown_operation().into(),
        };
        match lock(&self.faults).decide(&instance_id, Instant::now()) {
            Decision::Pass => {}
            Decision::Drop => return Outcome::Drop,
            Decision::Fail(e) => return e.into(),
        }
        let result = match operation {
            Operation::UpdateContact => self.update_contact(instance_id, contact_id, &request.body),
            Operation::DescribeContact => lock(&self.store)
                .describe(&instance_id, &contact_id, &self.region)
                .map(|v| Reply::json(200, &v)),
        };
        Outcome::Reply(result.unwrap_or_else(Reply::from))
    }

    fn update_contact(
        &self,
        instance_id: String,
        contact_id: String,
        body: &[u8],
    ) -> Result<Reply, ApiError> {
        let mut document = if body.iter().all(u8::is_ascii_whitespace) {
            json!({})
        } else {
            serde_json::from_slice::<Value>(body).map_err(|e| {
                ApiError::invalid_request(format!("The request body is not valid JSON: {e}"))
            })?
        };
        let Value::Object(members) = &mut document else {
            return Err(ApiError::invalid_request(
                "The request body must be a JSON object",
            ));
        };
        // The IDs travel in the path; restJson1 binds them from there whatever the body says.
        let model = ServiceModel::vendored();
        let uri_members = model.uri_members("UpdateContact");
        if members.keys().all(|k| uri_members.contains(k)) {
            return Err(ApiError::invalid_request(
                "Invalid input: nothing to update; give at least one member besides the IDs",
            ));
        }
        members.insert("InstanceId".into(), json!(&instance_id));
        members.insert("ContactId".into(), json!(&contact_id));
        // The service's own reading of its model: enums are closed here.
        model
            .check_input("UpdateContact", &document)
            .map_err(|v| ApiError::invalid_parameter(v.message))?;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs_f64();
        let mut store = lock(&self.store);
        store.update(
            &instance_id,
            &contact_id,
            &document,
            self.auto_create,
            (now * 1000.0).round() / 1000.0,
        )?;
        self.save(&store)?;
        Ok(Reply::empty_ok())
    }

    /// Writes the state file, if there is one. Called with the store locked, so writes happen
    /// in the order of the changes and the file always holds the latest.
    pub(crate) fn save(&self, store: &Store) -> Result<(), ApiError> {
        match &self.state_file {
            None => Ok(()),
            Some(path) => persist::save(path, store).map_err(|e| {
                ApiError::internal(format!(
                    "The change was applied but the state file {} could not be written: {e}",
                    path.display()
                ))
            }),
        }
    }

    /// Writes the state file one last time (at shutdown).
    pub fn flush(&self) -> Result<(), String> {
        self.save(&lock(&self.store)).map_err(|e| e.message)
    }

    pub fn store(&self) -> MutexGuard<'_, Store> {
        lock(&self.store)
    }

    /// Replaces the store (admin), persisting it.
    pub fn replace_store(&self, new: Store) -> Result<(), ApiError> {
        let mut store = lock(&self.store);
        *store = new;
        self.save(&store)
    }

    /// Back to the store the emulator started with, and no faults.
    pub fn reset(&self) -> Result<(), ApiError> {
        self.set_faults(Faults::default());
        self.replace_store(self.initial.clone())
    }

    pub fn faults(&self) -> Faults {
        lock(&self.faults).settings()
    }

    /// Replaces the faults; a new sequence starts from its first step.
    pub fn set_faults(&self, faults: Faults) {
        *lock(&self.faults) = FaultState::new(faults);
    }
}

enum Operation {
    UpdateContact,
    DescribeContact,
}

/// `/contacts/{InstanceId}/{ContactId}` → the two IDs, percent-decoded (an ID may hold `%2F`).
fn contact_route(path: &str) -> Result<(String, String), ApiError> {
    let mut segments = path
        .strip_prefix("/contacts/")
        .ok_or_else(ApiError::unknown_operation)?
        .split('/');
    let (Some(instance), Some(contact), None) = (segments.next(), segments.next(), segments.next())
    else {
        return Err(ApiError::unknown_operation());
    };
    let decode = |label: &str, name: &str| {
        percent_decode_str(label)
            .decode_utf8()
            .map(|s| s.into_owned())
            .map_err(|_| {
                ApiError::invalid_parameter(format!(
                    "{name}: the path label is not valid UTF-8 once decoded"
                ))
            })
    };
    Ok((
        decode(instance, "InstanceId")?,
        decode(contact, "ContactId")?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_decodes_labels() {
        assert_eq!(
            contact_route("/contacts/a%2Fb/c%20d%C3%A9").unwrap(),
            ("a/b".into(), "c dé".into())
        );
        assert_eq!(
            contact_route("/contacts/a/b/c").unwrap_err().code,
            "UnknownOperationException"
        );
        assert_eq!(
            contact_route("/other").unwrap_err().code,
            "UnknownOperationException"
        );
        assert_eq!(
            contact_route("/contacts/%FF/c").unwrap_err().code,
            "InvalidParameterException"
        );
        assert_eq!(
            contact_route("/contacts//c").unwrap(),
            (String::new(), "c".into())
        );
    }
}
