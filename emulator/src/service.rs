//! The emulated service, free of any HTTP plumbing: a received request in, a reply (or a
//! dropped connection) out. Order as the service: authentication, then permissions and the
//! quota, then faults, then the operation's validation and data.

use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use percent_encoding::percent_decode_str;
use serde_json::{json, Value};

use crate::auth::{self, SignedRequest};
use crate::config::{Credential, EmulatorConfig};
use crate::faults::{Decision, FaultState, Faults};
use crate::model::ServiceModel;
use crate::persist::{self, Pending, StateStore};
use crate::policy::{self, Policy, ACCOUNT};
use crate::quota::{Quota, QuotaState};
use crate::reply::{ApiError, Incoming, Outcome, Reply};
use crate::store::Store;

/// Largest request body read; the service's own limit is lower.
pub const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;
pub struct Service {
    region: String,
    credentials: Vec<Credential>,
    auto_create: bool,
    /// The `--state` store; every change is on disk before it is acknowledged.
    state: Option<StateStore>,
    /// The store as it was at start, for `POST /_emulator/reset`.
    initial: Store,
    store: Mutex<Store>,
    faults: Mutex<FaultState>,
    policy: Option<Policy>,
    /// The quota in force, if any (the admin API may change it).
    quota: Mutex<Option<QuotaState>>,
    /// Every UpdateContact the store accepted, in order (`GET /_emulator/updates`); bounded.
    updates: Mutex<Vec<Value>>,
}

/// Most updates kept in the log; older ones are dropped first.
pub const MAX_LOGGED_UPDATES: usize = 200_000;

/// A poisoned lock only means another request panicked mid-way; the data is still usable.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Service {
    /// Loads the state file if it exists, else the seed file.
    pub fn new(config: &EmulatorConfig) -> Result<Service, String> {
        config.faults.check().map_err(|e| format!("faults: {e}"))?;
        if let Some(quota) = &config.quota {
            quota.check().map_err(|e| format!("quota: {e}"))?;
        }
        let policy = config
            .policy_file
            .as_deref()
            .map(Policy::load)
            .transpose()?;
        if config.credentials.is_empty() {
            return Err("no credentials configured; requests could never be accepted".into());
        }
        let seed = match &config.seed_file {
            Some(path) => persist::load(path, "seed")?,
            None => Store::default(),
        };
        let (state, store) = match &config.state_file {
            Some(path) => {
                let (state, store) = StateStore::open(path, &seed)?;
                (Some(state), store)
            }
            None => (None, seed.clone()),
        };
        Ok(Service {
            region: config.region.clone(),
            credentials: config.credentials.clone(),
            auto_create: config.auto_create,
            state,
            initial: seed,
            store: Mutex::new(store),
            faults: Mutex::new(FaultState::new(config.faults.clone())),
            policy,
            quota: Mutex::new(config.quota.map(QuotaState::new)),
            updates: Mutex::new(Vec::new()),
        })
    }

    /// The delay to add before answering an API request.
    pub fn latency(&self) -> Duration {
        lock(&self.faults).latency()
    }

    /// Answers an API request (the admin API is routed by the server, see `admin`).
    pub fn handle(&self, request: &Incoming) -> Outcome {
        let path = request.path();
        let signed = SignedRequest {
            method: &request.method,
            raw_uri: &request.raw_uri,
            headers: &request.headers,
            body: &request.body,
        };
        let principal =
            match auth::verify(&signed, &self.credentials, &self.region, SystemTime::now()) {
                Ok(principal) => principal,
                Err(e) => return e.into(),
            };
        let (instance_id, contact_id) = match contact_route(path) {
            Ok(ids) => ids,
            Err(e) => return e.into(),
        };
        let operation = match request.method.as_str() {
            "POST" => Operation::UpdateContact,
            "GET" => Operation::DescribeContact,
            _ => return ApiError::unknown_operation().into(),
        };
        if let Err(e) = self.admit(principal, &operation, &instance_id, &contact_id) {
            return e.into();
        }
        match lock(&self.faults).decide(&instance_id, &contact_id, Instant::now()) {
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

    /// Permissions (the policy file), then the quota: as the service, after the signature.
    fn admit(
        &self,
        principal: &str,
        operation: &Operation,
        instance_id: &str,
        contact_id: &str,
    ) -> Result<(), ApiError> {
        if let Some(policy) = &self.policy {
            let resource = policy::contact_arn(&self.region, instance_id, contact_id);
            policy.check(principal, operation.action(), &resource)?;
        }
        if let Some(quota) = lock(&self.quota).as_mut() {
            quota.take(ACCOUNT, &self.region, Instant::now())?;
        }
        Ok(())
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
        let pending = self.persist(&store, &instance_id, Some(&contact_id));
        {
            let mut log = lock(&self.updates);
            if log.len() >= MAX_LOGGED_UPDATES {
                log.remove(0);
            }
            log.push(document);
        }
        // Wait for the disk without holding the store, so other updates join the same commit.
        drop(store);
        durable(pending)?;
        Ok(Reply::empty_ok())
    }

    /// Queues one instance (and contact) for the state store. Call with the store locked, so
    /// changes reach the disk in the order they were made.
    fn persist(&self, store: &Store, instance: &str, contact: Option<&str>) -> Pending {
        match &self.state {
            Some(state) => state.put(store, instance, contact),
            None => Pending::done(),
        }
    }

    /// Every UpdateContact input the store accepted, oldest first (IDs included), as a JSON
    /// array; the log keeps the last [`MAX_LOGGED_UPDATES`].
    pub fn updates(&self) -> Value {
        Value::Array(lock(&self.updates).clone())
    }

    /// Closes the state store (at shutdown); every acknowledged change is already on disk.
    pub fn flush(&self) -> Result<(), String> {
        if let Some(state) = &self.state {
            state.close();
        }
        Ok(())
    }

    pub fn store(&self) -> MutexGuard<'_, Store> {
        lock(&self.store)
    }

    /// Creates an instance (and contact) if missing, durably.
    pub fn ensure(&self, instance: &str, contact: Option<&str>) -> Result<(), ApiError> {
        let mut store = lock(&self.store);
        store.ensure(instance, contact);
        let pending = self.persist(&store, instance, contact);
        drop(store);
        durable(pending)
    }

    /// Replaces the store (admin), durably.
    pub fn replace_store(&self, new: Store) -> Result<(), ApiError> {
        let mut store = lock(&self.store);
        *store = new;
        let pending = match &self.state {
            Some(state) => state.replace_all(&store),
            None => Pending::done(),
        };
        drop(store);
        durable(pending)
    }

    /// Back to the store the emulator started with, and no faults.
    pub fn reset(&self) -> Result<(), ApiError> {
        self.set_faults(Faults::default());
        self.replace_store(self.initial.clone())
    }

    /// The quota in force, if any.
    pub fn quota(&self) -> Option<Quota> {
        lock(&self.quota).as_ref().map(QuotaState::quota)
    }

    /// Replaces the quota (`None`: none); the bucket starts full.
    pub fn set_quota(&self, quota: Option<Quota>) -> Result<(), String> {
        if let Some(q) = &quota {
            q.check()?;
        }
        *lock(&self.quota) = quota.map(QuotaState::new);
        Ok(())
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

impl Operation {
    /// The IAM action a policy names.
    fn action(&self) -> &'static str {
        match self {
            Operation::UpdateContact => "connect:UpdateContact",
            Operation::DescribeContact => "connect:DescribeContact",
        }
    }
}

/// Waits for a queued change to reach the disk; a failure is the service's 500.
fn durable(pending: Pending) -> Result<(), ApiError> {
    pending.wait().map_err(|e| {
        ApiError::internal(format!(
            "The change was applied but could not be written to the state file: {e}"
        ))
    })
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
