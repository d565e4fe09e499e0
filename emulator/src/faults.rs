//! Fault injection: a per-instance throttle, a fraction or an exact sequence of error answers
//! (any error UpdateContact's model declares, or 503), dropped connections and added latency,
//! optionally only for one instance or contact.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::str::FromStr;
use std::time::{Duration, Instant};

use serde_json::{json, Map, Value};

use crate::reply::ApiError;

/// The errors a fault may answer with: every error UpdateContact's model declares (checked
/// against the vendored model by a test), plus the 503 the service's front end sends. By
/// status, the first of this table with that status is meant (400: InvalidRequestException).
pub const INJECTABLE_ERRORS: &[(&str, u16, &str)] = &[
    ("InvalidRequestException", 400, "The request is not valid."),
    (
        "InvalidParameterException",
        400,
        "One or more of the specified parameters are not valid.",
    ),
    (
        "InvalidActiveRegionException",
        400,
        "This API is not supported in the current active Region for this instance.",
    ),
    (
        "AccessDeniedException",
        403,
        "You do not have sufficient access to perform this action.",
    ),
    (
        "ResourceNotFoundException",
        404,
        "The specified resource was not found.",
    ),
    (
        "ConflictException",
        409,
        "The request could not be processed because of a conflict in the current state of the resource.",
    ),
    ("ThrottlingException", 429, "Rate exceeded"),
    (
        "InternalServiceException",
        500,
        "Request processing failed because of an error or failure with the service.",
    ),
    ("ServiceUnavailableException", 503, "Service unavailable"),
];

/// The error code a fault means by `status`, if any.
fn code_for_status(status: u16) -> Option<&'static str> {
    INJECTABLE_ERRORS
        .iter()
        .find(|(_, s, _)| *s == status)
        .map(|(c, _, _)| *c)
}

/// The table's spelling of an error code (case-insensitive match), if it is injectable.
fn known_code(code: &str) -> Option<&'static str> {
    INJECTABLE_ERRORS
        .iter()
        .find(|(c, _, _)| c.eq_ignore_ascii_case(code))
        .map(|(c, _, _)| *c)
}

fn choices() -> String {
    let statuses: std::collections::BTreeSet<u16> =
        INJECTABLE_ERRORS.iter().map(|(_, s, _)| *s).collect();
    let statuses: Vec<String> = statuses.iter().map(u16::to_string).collect();
    let codes: Vec<&str> = INJECTABLE_ERRORS.iter().map(|(c, _, _)| *c).collect();
    format!(
        "{} or an error code ({})",
        statuses.join(", "),
        codes.join(", ")
    )
}
/// Bound on the throttle's table, so requests to ever new instance ids cannot grow it forever.
const MAX_THROTTLED_INSTANCES: usize = 10_000;
/// Bound on an injected sequence and on added latency.
const MAX_SEQUENCE: usize = 100_000;
const MAX_LATENCY_MS: u64 = 60_000;

/// One answer of a fault sequence.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultStep {
    /// Handle the request normally (written `200`).
    Pass,
    /// Answer with the error this status means (see [`INJECTABLE_ERRORS`]).
    Status(u16),
    /// Answer with this error code (one of [`INJECTABLE_ERRORS`]).
    Error(&'static str),
    /// Close the connection without answering (written `drop`).
    Drop,
}

impl FromStr for FaultStep {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "200" | "pass" => Ok(FaultStep::Pass),
            "drop" => Ok(FaultStep::Drop),
            _ => match s.parse::<u16>() {
                Ok(n) if code_for_status(n).is_some() => Ok(FaultStep::Status(n)),
                _ => known_code(s)
                    .map(FaultStep::Error)
                    .ok_or_else(|| format!("fault step {s:?} is not 200, drop, {}", choices())),
            },
        }
    }
}

impl fmt::Display for FaultStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FaultStep::Pass => f.write_str("200"),
            FaultStep::Status(n) => write!(f, "{n}"),
            FaultStep::Error(code) => f.write_str(code),
            FaultStep::Drop => f.write_str("drop"),
        }
    }
}

/// The fault settings. The default injects nothing.
#[derive(Clone, Debug, PartialEq)]
pub struct Faults {
    /// Requests per second allowed per instance (a token bucket holding one second's worth);
    /// more answer 429 ThrottlingException.
    pub throttle_rps: Option<f64>,
    /// Fraction (0..=1) of requests answered with `error_code`, else `error_status`.
    pub error_rate: f64,
    /// A status of [`INJECTABLE_ERRORS`] (500 by default).
    pub error_status: u16,
    /// An error code of [`INJECTABLE_ERRORS`]; wins over `error_status`.
    pub error_code: Option<&'static str>,
    /// Faults apply only to requests for this instance, when set.
    pub instance_id: Option<String>,
    /// Faults apply only to requests for this contact, when set.
    pub contact_id: Option<String>,
    /// Answers consumed in order by the next requests, before any other fault applies.
    pub sequence: Vec<FaultStep>,
    /// Delay added to every API response.
    pub latency_ms: u64,
    /// Fraction (0..=1) of requests whose connection is closed without an answer.
    pub drop_rate: f64,
    /// An outage: for this many seconds from when the faults are set, every API request is
    /// answered 503 ServiceUnavailableException; then the service recovers (0: none).
    pub outage_seconds: f64,
}

impl Default for Faults {
    fn default() -> Self {
        Faults {
            throttle_rps: None,
            error_rate: 0.0,
            error_status: 500,
            error_code: None,
            instance_id: None,
            contact_id: None,
            sequence: Vec::new(),
            latency_ms: 0,
            drop_rate: 0.0,
            outage_seconds: 0.0,
        }
    }
}

impl Faults {
    /// Checks the ranges; the message names the setting.
    pub fn check(&self) -> Result<(), String> {
        if let Some(rps) = self.throttle_rps {
            if !(rps.is_finite() && rps > 0.0) {
                return Err(format!("throttle_rps must be a positive number, got {rps}"));
            }
        }
        for (name, rate) in [
            ("error_rate", self.error_rate),
            ("drop_rate", self.drop_rate),
        ] {
            if !(0.0..=1.0).contains(&rate) {
                return Err(format!("{name} must be between 0 and 1, got {rate}"));
            }
        }
        if code_for_status(self.error_status).is_none() {
            return Err(format!(
                "error_status must be one of {}, got {}",
                choices(),
                self.error_status
            ));
        }
        if let Some(code) = self.error_code {
            if known_code(code) != Some(code) {
                return Err(format!(
                    "error_code must be one of {}, got {code}",
                    choices()
                ));
            }
        }
        if !(self.outage_seconds.is_finite() && (0.0..=86_400.0).contains(&self.outage_seconds)) {
            return Err(format!(
                "outage_seconds must be between 0 and 86400, got {}",
                self.outage_seconds
            ));
        }
        if self.sequence.len() > MAX_SEQUENCE {
            return Err(format!(
                "sequence has {} steps; the limit is {MAX_SEQUENCE}",
                self.sequence.len()
            ));
        }
        if self.latency_ms > MAX_LATENCY_MS {
            return Err(format!(
                "latency_ms must be at most {MAX_LATENCY_MS}, got {}",
                self.latency_ms
            ));
        }
        Ok(())
    }

    /// The admin API's JSON form.
    pub fn to_json(&self) -> Value {
        let sequence: Vec<Value> = self
            .sequence
            .iter()
            .map(|s| match s {
                FaultStep::Drop => json!("drop"),
                FaultStep::Pass => json!(200),
                FaultStep::Status(n) => json!(n),
                FaultStep::Error(code) => json!(code),
            })
            .collect();
        json!({
            "throttle_rps": self.throttle_rps,
            "error_rate": self.error_rate,
            "error_status": self.error_status,
            "error_code": self.error_code,
            "instance_id": self.instance_id,
            "contact_id": self.contact_id,
            "sequence": sequence,
            "latency_ms": self.latency_ms,
            "drop_rate": self.drop_rate,
            "outage_seconds": self.outage_seconds,
        })
    }

    /// Reads the admin API's JSON form; members left out keep their defaults.
    pub fn from_json(value: &Value) -> Result<Faults, String> {
        let Value::Object(map) = value else {
            return Err("faults must be a JSON object".into());
        };
        const MEMBERS: &[&str] = &[
            "throttle_rps",
            "error_rate",
            "error_status",
            "error_code",
            "instance_id",
            "contact_id",
            "sequence",
            "latency_ms",
            "drop_rate",
            "outage_seconds",
        ];
        if let Some(unknown) = map.keys().find(|k| !MEMBERS.contains(&k.as_str())) {
            return Err(format!(
                "{unknown}: unknown member; expected one of {}",
                MEMBERS.join(", ")
            ));
        }
        let mut faults = Faults::default();
        if let Some(v) = map.get("throttle_rps").filter(|v| !v.is_null()) {
            faults.throttle_rps = Some(v.as_f64().ok_or("throttle_rps must be a number or null")?);
        }
        faults.error_rate = float(map, "error_rate")?.unwrap_or(faults.error_rate);
        faults.drop_rate = float(map, "drop_rate")?.unwrap_or(faults.drop_rate);
        faults.outage_seconds = float(map, "outage_seconds")?.unwrap_or(0.0);
        faults.error_status = whole(map, "error_status")?.map_or(Ok(faults.error_status), |n| {
            u16::try_from(n).map_err(|_| format!("error_status {n} is not an HTTP status"))
        })?;
        faults.latency_ms = whole(map, "latency_ms")?.unwrap_or(0);
        if let Some(v) = map.get("error_code").filter(|v| !v.is_null()) {
            let code = v.as_str().ok_or("error_code must be a string or null")?;
            faults.error_code =
                Some(known_code(code).ok_or_else(|| {
                    format!("error_code must be one of {}, got {code}", choices())
                })?);
        }
        for (name, slot) in [
            ("instance_id", &mut faults.instance_id),
            ("contact_id", &mut faults.contact_id),
        ] {
            if let Some(v) = map.get(name).filter(|v| !v.is_null()) {
                *slot = Some(
                    v.as_str()
                        .ok_or_else(|| format!("{name} must be a string or null"))?
                        .to_string(),
                );
            }
        }
        if let Some(v) = map.get("sequence") {
            let Value::Array(items) = v else {
                return Err("sequence must be an array such as [500, 503, \"drop\", 200]".into());
            };
            faults.sequence = items
                .iter()
                .enumerate()
                .map(|(i, item)| match item {
                    Value::String(s) => s.parse(),
                    Value::Number(n) => n.to_string().parse(),
                    _ => Err(format!(
                        "sequence[{i}] must be a status number, an error code or \"drop\""
                    )),
                })
                .collect::<Result<_, _>>()?;
        }
        faults.check()?;
        Ok(faults)
    }
}

fn float(map: &Map<String, Value>, name: &str) -> Result<Option<f64>, String> {
    map.get(name)
        .map(|v| v.as_f64().ok_or_else(|| format!("{name} must be a number")))
        .transpose()
}

fn whole(map: &Map<String, Value>, name: &str) -> Result<Option<u64>, String> {
    map.get(name)
        .map(|v| {
            v.as_u64()
                .ok_or_else(|| format!("{name} must be a whole number"))
        })
        .transpose()
}

/// What a fault decides for one request.
#[derive(Debug, PartialEq)]
pub enum Decision {
    Pass,
    Fail(ApiError),
    Drop,
}

/// The settings plus their running state: what is left of the sequence, the throttle's buckets.
pub struct FaultState {
    settings: Faults,
    remaining: VecDeque<FaultStep>,
    buckets: HashMap<String, Bucket>,
    /// When the outage (if any) ends.
    outage_until: Option<Instant>,
}

struct Bucket {
    tokens: f64,
    at: Instant,
}

impl FaultState {
    pub fn new(settings: Faults) -> FaultState {
        let remaining = settings.sequence.iter().copied().collect();
        let outage_until = (settings.outage_seconds > 0.0)
            .then(|| Instant::now() + Duration::from_secs_f64(settings.outage_seconds));
        FaultState {
            settings,
            remaining,
            buckets: HashMap::new(),
            outage_until,
        }
    }

    /// The settings, with `sequence` showing only the steps not yet consumed.
    pub fn settings(&self) -> Faults {
        Faults {
            sequence: self.remaining.iter().copied().collect(),
            ..self.settings.clone()
        }
    }

    pub fn latency(&self) -> Duration {
        Duration::from_millis(self.settings.latency_ms)
    }

    /// Decides the fate of one API request to `instance` and `contact`.
    pub fn decide(&mut self, instance: &str, contact: &str, now: Instant) -> Decision {
        let scoped_out = |only: &Option<String>, id: &str| only.as_deref().is_some_and(|o| o != id);
        if scoped_out(&self.settings.instance_id, instance)
            || scoped_out(&self.settings.contact_id, contact)
        {
            return Decision::Pass;
        }
        if self.outage_until.is_some_and(|until| now < until) {
            return Decision::Fail(injected_status(503));
        }
        if let Some(step) = self.remaining.pop_front() {
            return match step {
                FaultStep::Pass => Decision::Pass,
                FaultStep::Drop => Decision::Drop,
                FaultStep::Status(status) => Decision::Fail(injected_status(status)),
                FaultStep::Error(code) => Decision::Fail(injected(code)),
            };
        }
        if let Some(rps) = self.settings.throttle_rps {
            if !self.take_token(instance, rps, now) {
                return Decision::Fail(ApiError::throttling());
            }
        }
        if self.settings.drop_rate > 0.0 && fastrand::f64() < self.settings.drop_rate {
            return Decision::Drop;
        }
        if self.settings.error_rate > 0.0 && fastrand::f64() < self.settings.error_rate {
            return Decision::Fail(match self.settings.error_code {
                Some(code) => injected(code),
                None => injected_status(self.settings.error_status),
            });
        }
        Decision::Pass
    }

    fn take_token(&mut self, instance: &str, rps: f64, now: Instant) -> bool {
        if !self.buckets.contains_key(instance) && self.buckets.len() >= MAX_THROTTLED_INSTANCES {
            self.buckets.clear();
        }
        let bucket = self.buckets.entry(instance.to_string()).or_insert(Bucket {
            tokens: rps.max(1.0),
            at: now,
        });
        let elapsed = now.saturating_duration_since(bucket.at).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * rps).min(rps.max(1.0));
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// The error `code` (one of [`INJECTABLE_ERRORS`]) as the service answers it.
fn injected(code: &'static str) -> ApiError {
    INJECTABLE_ERRORS
        .iter()
        .find(|(c, _, _)| *c == code)
        .map(|&(code, status, message)| ApiError::new(status, code, message))
        .unwrap_or_else(|| ApiError::internal(format!("unknown injected error {code}")))
}

fn injected_status(status: u16) -> ApiError {
    injected(code_for_status(status).unwrap_or("InternalServiceException"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_outage_fails_every_request_then_recovers() {
        let mut state = FaultState::new(Faults {
            outage_seconds: 0.2,
            ..Faults::default()
        });
        let start = Instant::now();
        for i in 0..5 {
            match state.decide("i", &format!("c{i}"), start) {
                Decision::Fail(e) => assert_eq!(e.status, 503),
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(
            state.decide("i", "c", start + Duration::from_millis(250)),
            Decision::Pass
        );
        let json = Faults::from_json(&json!({"outage_seconds": 30})).unwrap();
        assert_eq!(json.outage_seconds, 30.0);
        assert!(Faults::from_json(&json!({"outage_seconds": -1}))
            .unwrap_err()
            .contains("outage_seconds"));
    }

    #[test]
    fn sequence_is_consumed_in_order_then_passes() {
        let faults = Faults {
            sequence: vec![
                FaultStep::Status(500),
                FaultStep::Status(503),
                FaultStep::Drop,
                FaultStep::Pass,
            ],
            ..Faults::default()
        };
        let mut state = FaultState::new(faults);
        let now = Instant::now();
        let codes: Vec<String> = (0..5)
            .map(|_| match state.decide("i", "c", now) {
                Decision::Pass => "pass".to_string(),
                Decision::Drop => "drop".to_string(),
                Decision::Fail(e) => format!("{} {}", e.status, e.code),
            })
            .collect();
        assert_eq!(
            codes,
            [
                "500 InternalServiceException",
                "503 ServiceUnavailableException",
                "drop",
                "pass",
                "pass"
            ]
        );
        assert!(state.settings().sequence.is_empty());
    }

    #[test]
    fn throttle_is_per_instance_and_refills() {
        let mut state = FaultState::new(Faults {
            throttle_rps: Some(2.0),
            ..Faults::default()
        });
        let t0 = Instant::now();
        assert_eq!(state.decide("a", "c", t0), Decision::Pass);
        assert_eq!(state.decide("a", "c", t0), Decision::Pass);
        assert_eq!(
            state.decide("a", "c", t0),
            Decision::Fail(ApiError::throttling())
        );
        assert_eq!(
            state.decide("b", "c", t0),
            Decision::Pass,
            "another instance has its own bucket"
        );
        assert_eq!(
            state.decide("a", "c", t0 + Duration::from_millis(500)),
            Decision::Pass
        );
    }

    #[test]
    fn every_modeled_error_of_update_contact_is_injectable_with_its_status() {
        // The vendored model the emulator validates with.
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../model/connect.json");
        let model: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let modeled: Vec<(String, u16)> = model["operations"]["UpdateContact"]["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                let name = e["shape"].as_str().unwrap().to_string();
                let status = model["shapes"][&name]["error"]["httpStatusCode"]
                    .as_u64()
                    .unwrap() as u16;
                (name, status)
            })
            .collect();
        assert_eq!(modeled.len(), 8);
        for (name, status) in &modeled {
            let step: FaultStep = name.parse().unwrap();
            let mut state = FaultState::new(Faults {
                sequence: vec![step],
                ..Faults::default()
            });
            match state.decide("i", "c", Instant::now()) {
                Decision::Fail(e) => assert_eq!((e.code, e.status), (name.as_str(), *status)),
                other => panic!("{name}: {other:?}"),
            }
        }
        let extra: Vec<&str> = INJECTABLE_ERRORS
            .iter()
            .map(|(c, _, _)| *c)
            .filter(|c| !modeled.iter().any(|(m, _)| m == c))
            .collect();
        assert_eq!(extra, ["ServiceUnavailableException"]);
        for (status, code) in [
            (400, "InvalidRequestException"),
            (403, "AccessDeniedException"),
            (404, "ResourceNotFoundException"),
            (409, "ConflictException"),
            (429, "ThrottlingException"),
            (500, "InternalServiceException"),
            (503, "ServiceUnavailableException"),
        ] {
            assert_eq!(injected_status(status).code, code);
        }
    }

    #[test]
    fn faults_scoped_to_an_instance_or_contact_leave_the_others_alone() {
        let mut state = FaultState::new(Faults {
            error_rate: 1.0,
            error_code: Some("ConflictException"),
            instance_id: Some("i".into()),
            contact_id: Some("c".into()),
            sequence: vec![FaultStep::Drop],
            ..Faults::default()
        });
        let now = Instant::now();
        assert_eq!(state.decide("other", "c", now), Decision::Pass);
        assert_eq!(state.decide("i", "other", now), Decision::Pass);
        assert_eq!(state.settings().sequence, [FaultStep::Drop], "not consumed");
        assert_eq!(state.decide("i", "c", now), Decision::Drop);
        match state.decide("i", "c", now) {
            Decision::Fail(e) => assert_eq!((e.status, e.code), (409, "ConflictException")),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn json_round_trip_and_errors() {
        let v = json!({"throttle_rps": 5, "error_rate": 0.5, "error_status": 503, "sequence": [500, "drop", 200, "conflictexception"], "latency_ms": 10, "error_code": "AccessDeniedException", "instance_id": "i"});
        let f = Faults::from_json(&v).unwrap();
        assert_eq!(
            f.sequence,
            [
                FaultStep::Status(500),
                FaultStep::Drop,
                FaultStep::Pass,
                FaultStep::Error("ConflictException")
            ]
        );
        assert_eq!(f.error_code, Some("AccessDeniedException"));
        assert_eq!(f.instance_id.as_deref(), Some("i"));
        assert!(Faults::from_json(&json!({"error_code": "TeapotException"}))
            .unwrap_err()
            .contains("error_code must be one of"));
        assert_eq!(Faults::from_json(&f.to_json()).unwrap(), f);
        assert!(Faults::from_json(&json!({"eror_rate": 1}))
            .unwrap_err()
            .contains("eror_rate: unknown member"));
        assert!(Faults::from_json(&json!({"sequence": [418]}))
            .unwrap_err()
            .contains("418"));
        assert!(Faults::from_json(&json!({"drop_rate": 3}))
            .unwrap_err()
            .contains("drop_rate"));
    }
}
