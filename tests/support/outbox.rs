//! What the outbox's tests (tests/it/outbox.rs) and its benchmarks (examples/outbox_bench.rs,
//! examples/outbox_crash.rs, which include this file by path) share: a client configuration
//! for the in-process emulator, the numbered updates whose traces the checks read, an
//! emulator with an account quota, and a small deterministic random sequence.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{BufRead, BufReader, Read};
use std::time::Duration;

use connect_contact::{ClientConfig, OutboxOptions, UpdateContactRequest};
use connect_emulator::{
    Emulator, EmulatorConfig, Quota, DEFAULT_ACCESS_KEY_ID, DEFAULT_REGION,
    DEFAULT_SECRET_ACCESS_KEY,
};
use serde_json::{json, Value};

/// The emulator's region and keys at `endpoint`, a 5 s call deadline.
pub fn emulator_config(endpoint: &str) -> ClientConfig {
    ClientConfig {
        region: Some(DEFAULT_REGION.into()),
        endpoint_url: Some(endpoint.into()),
        access_key_id: Some(DEFAULT_ACCESS_KEY_ID.into()),
        secret_access_key: Some(DEFAULT_SECRET_ACCESS_KEY.into()),
        timeout: Some(Duration::from_secs(5)),
        ..Default::default()
    }
}

/// Options for a handle that only enqueues or reads counters: one delivery thread with one
/// token to spend (the file's pacer at 0.001 calls/s), so whatever it is pointed at, it sends
/// next to nothing. Another handle opening the file with its own rate and burst resets the pacer.
pub fn parked_options() -> OutboxOptions {
    let mut o = OutboxOptions::default();
    o.rate = 0.001;
    o.burst = 1;
    o.workers = 1;
    o
}

/// Update number `seq` of `instance`: to contact `c{seq % contacts}`, Name `n{seq}` and one
/// reference `u{seq}` (the service merges References by key, so every delivered update
/// leaves a trace).
pub fn update(instance: &str, seq: u64, contacts: u64) -> UpdateContactRequest {
    UpdateContactRequest::from_json(
        &json!({
            "InstanceId": instance,
            "ContactId": format!("c{}", seq % contacts),
            "Name": format!("n{seq}"),
            "References": {format!("u{seq}"): {"Type": "STRING", "Value": seq.to_string()}},
        })
        .to_string(),
    )
    .unwrap()
}

/// An emulator on 127.0.0.1 that creates contacts on first update and allows `rps` calls per
/// second with a burst of `burst` (its account quota).
pub fn quota_emulator(rps: f64, burst: f64) -> Emulator {
    Emulator::start(EmulatorConfig {
        auto_create: true,
        log: false,
        quota: Some(Quota { rps, burst }),
        ..EmulatorConfig::default()
    })
    .unwrap()
}

/// xorshift64: the same kill points on every run with the same seed.
pub struct XorShift(pub u64);

impl XorShift {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// What an enqueueing child printed: `try <seq>` before each enqueue, `ack <seq> <id>` after
/// it returned, and `finished` (its own word) at the end. `on_ack` hears the number of
/// acknowledgements so far after each one (to kill the child at a chosen point).
pub fn read_child(
    stdout: impl Read,
    finished: &str,
    mut on_ack: impl FnMut(usize),
) -> (BTreeSet<u64>, HashMap<u64, u64>, bool) {
    let (mut tried, mut acked, mut done) = (BTreeSet::new(), HashMap::new(), false);
    for line in BufReader::new(stdout).lines() {
        let Ok(line) = line else { break };
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["try", seq] => {
                tried.insert(seq.parse().unwrap());
            }
            ["ack", seq, id] => {
                acked.insert(seq.parse().unwrap(), id.parse().unwrap());
                on_ack(acked.len());
            }
            [word] if *word == finished => done = true,
            _ => {}
        }
    }
    (tried, acked, done)
}

/// Each call in the emulator's update log as (contact, the update numbers it carried: the
/// `u{seq}` keys of its References, see [`update`]).
pub fn calls_carried(log: &Value) -> Vec<(String, Vec<u64>)> {
    log.as_array()
        .unwrap()
        .iter()
        .map(|call| {
            let contact = call["ContactId"].as_str().unwrap().to_string();
            let seqs = call["References"]
                .as_object()
                .unwrap()
                .keys()
                .map(|k| k[1..].parse().unwrap())
                .collect();
            (contact, seqs)
        })
        .collect()
}

/// Calls that went backwards for their contact: carrying nothing newer than a call before
/// them. A resend after a kill may repeat the last call (at least once), never go back.
pub fn order_violations(calls: &[(String, Vec<u64>)]) -> Vec<String> {
    let mut last_of: BTreeMap<&str, u64> = BTreeMap::new();
    let mut violations = Vec::new();
    for (contact, seqs) in calls {
        let max = *seqs.iter().max().unwrap();
        if let Some(prev) = last_of.get(contact.as_str()) {
            if max < *prev {
                violations.push(format!(
                    "{contact}: a call up to u{max} after one up to u{prev}"
                ));
            }
        }
        last_of.insert(contact, max);
    }
    violations
}
