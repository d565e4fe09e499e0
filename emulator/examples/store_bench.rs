//! Durable updates per second: 8 clients updating random contacts of a store of 1,000 and of
//! 100,000 contacts, with `--state` (SQLite, each update fsynced before its answer) and in
//! memory. Not part of the tests; run it in release mode:
//!
//! ```sh
//! cargo run --release -p connect-emulator --example store_bench [SECONDS]
//! ```
//!
//! The clients sign each request with aws-sigv4 and send it over a keep-alive connection, in
//! this process, so they share the machine's cores with the emulator.

#[path = "../tests/common/mod.rs"]
mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::{agent, contact_path, send, Signer};
use connect_emulator::{Emulator, EmulatorConfig};
use serde_json::{json, Map, Value};

const CLIENTS: usize = 8;

fn main() {
    let seconds: u64 = std::env::args()
        .nth(1)
        .map(|s| s.parse().expect("SECONDS must be a whole number"))
        .unwrap_or(5);
    println!("{CLIENTS} clients, {seconds} s each run");
    println!("| contacts | store | updates/s | p50 ms | p99 ms |");
    println!("| ---: | --- | ---: | ---: | ---: |");
    for contacts in [1_000, 100_000] {
        for durable in [true, false] {
            let (rate, p50, p99) = run(contacts, durable, Duration::from_secs(seconds));
            let store = if durable {
                "--state (SQLite)"
            } else {
                "memory"
            };
            println!("| {contacts} | {store} | {rate:.0} | {p50:.2} | {p99:.2} |");
        }
    }
}

fn run(contacts: usize, durable: bool, length: Duration) -> (f64, f64, f64) {
    let dir = tempfile::tempdir().unwrap();
    let seed = dir.path().join("seed.json");
    let members: Map<String, Value> = (0..contacts)
        .map(|i| (format!("c{i}"), json!({ "Name": format!("contact {i}") })))
        .collect();
    std::fs::write(
        &seed,
        json!({ "instances": { "bench": { "contacts": members } } }).to_string(),
    )
    .unwrap();
    let emulator = Emulator::start(EmulatorConfig {
        log: false,
        seed_file: Some(seed),
        state_file: durable.then(|| dir.path().join("state.db")),
        ..EmulatorConfig::default()
    })
    .expect("the emulator starts");
    let done = AtomicUsize::new(0);
    let started = Instant::now();
    let mut latencies: Vec<f64> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..CLIENTS)
            .map(|t| {
                let (emulator, done) = (&emulator, &done);
                scope.spawn(move || {
                    let agent = agent();
                    let signer = Signer::default();
                    let mut latencies = Vec::new();
                    let mut n = 0u64;
                    while started.elapsed() < length {
                        let contact = format!("c{}", fastrand::usize(..contacts));
                        let body = format!(r#"{{"Description":"client {t} update {n}"}}"#);
                        let sent = Instant::now();
                        let answer = send(
                            &agent,
                            emulator,
                            &signer,
                            "POST",
                            &contact_path("bench", &contact),
                            &body,
                        )
                        .expect("a response");
                        assert_eq!(answer.status, 200, "{answer:?}");
                        latencies.push(sent.elapsed().as_secs_f64() * 1000.0);
                        done.fetch_add(1, Ordering::Relaxed);
                        n += 1;
                    }
                    latencies
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap())
            .collect()
    });
    let elapsed = started.elapsed().as_secs_f64();
    emulator.shutdown().unwrap();
    latencies.sort_by(f64::total_cmp);
    let at = |q: f64| latencies[((latencies.len() - 1) as f64 * q) as usize];
    (
        done.load(Ordering::Relaxed) as f64 / elapsed,
        at(0.5),
        at(0.99),
    )
}
