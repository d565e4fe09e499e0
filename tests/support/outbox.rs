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

/// The live leases in an outbox file, read from the file itself (as another process sees
/// them): (contact key, lease token `pid-start-random-claim`, until in ms since the epoch).
pub fn live_leases(path: &std::path::Path) -> Vec<(String, String, i64)> {
    let conn = rusqlite::Connection::open_with_flags(
        path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .unwrap();
    conn.busy_timeout(Duration::from_secs(10)).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let mut stmt = conn
        .prepare(
            "SELECT contact, lease_owner, lease_until FROM outbox_heads
             WHERE lease_owner IS NOT NULL AND lease_until > ?1 ORDER BY contact",
        )
        .unwrap();
    let rows = stmt
        .query_map([now], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap();
    rows.collect::<Result<_, _>>().unwrap()
}

/// The live leases of process `pid`.
pub fn leases_of(path: &std::path::Path, pid: u32) -> Vec<(String, String, i64)> {
    let prefix = format!("{pid}-");
    live_leases(path)
        .into_iter()
        .filter(|(_, owner, _)| owner.starts_with(&prefix))
        .collect()
}

/// Sends `signal` (`STOP`, `CONT`, `KILL`) to process `pid` with kill(1).
pub fn signal(pid: u32, signal: &str) {
    let status = std::process::Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .status()
        .expect("kill(1) runs");
    assert!(status.success(), "kill -{signal} {pid}: {status:?}");
}

/// True when nothing holds the outbox file's write lock now (a `BEGIN IMMEDIATE` that does
/// not wait succeeds; it is rolled back at once).
pub fn write_lock_free(path: &std::path::Path) -> bool {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.busy_timeout(Duration::ZERO).unwrap();
    match conn.execute_batch("BEGIN IMMEDIATE") {
        Ok(()) => {
            conn.execute_batch("ROLLBACK").unwrap();
            true
        }
        Err(_) => false,
    }
}

/// Stops process `pid` (SIGSTOP) at a moment it holds no write lock on the outbox file, so
/// that others can go on using the file while it is stopped: stopped inside a transaction,
/// it is let go on (SIGCONT) and stopped again, at most 100 times.
pub fn stop_outside_a_transaction(pid: u32, path: &std::path::Path) {
    for _ in 0..100 {
        signal(pid, "STOP");
        if write_lock_free(path) {
            return;
        }
        signal(pid, "CONT");
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!(
        "process {pid} held the write lock of {} at each of 100 stops",
        path.display()
    );
}

/// How many calls in the emulator's update log carried update `seq` (see [`calls_carried`]).
pub fn times_carried(log: &Value, seq: u64) -> usize {
    calls_carried(log)
        .iter()
        .filter(|(_, seqs)| seqs.contains(&seq))
        .count()
}
