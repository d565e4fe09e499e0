//! Outbox benchmark (figures for docs/outbox.md, not a timed test), against the in-process
//! emulator on 127.0.0.1:
//!
//! - delivered calls/s as a fraction of the emulator's quota, and the share of attempts
//!   throttled, at 2 rps/burst 5 and 200 rps/burst 50, with 1 and 4 processes (each process
//!   its own outbox file, all sharing the one account quota);
//! - coalescing: calls per update on a stream with 5 updates per contact;
//! - µs per durable enqueue and enqueues/s from 1 and 4 threads.
//!
//! `cargo run --example outbox_bench [seconds-at-2-rps]` (default 30), or one run:
//! `cargo run --example outbox_bench quota <processes> <rps> <burst> <seconds>`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use connect_contact::{Client, ClientConfig, Outbox, OutboxOptions, UpdateContactRequest};
use connect_emulator::{
    Emulator, EmulatorConfig, Quota, DEFAULT_ACCESS_KEY_ID, DEFAULT_REGION,
    DEFAULT_SECRET_ACCESS_KEY,
};

fn client(endpoint: &str) -> Arc<Client> {
    Arc::new(
        Client::new(&ClientConfig {
            region: Some(DEFAULT_REGION.into()),
            endpoint_url: Some(endpoint.into()),
            access_key_id: Some(DEFAULT_ACCESS_KEY_ID.into()),
            secret_access_key: Some(DEFAULT_SECRET_ACCESS_KEY.into()),
            ..Default::default()
        })
        .unwrap(),
    )
}

fn request(contact: String, seq: u64) -> UpdateContactRequest {
    let mut r = UpdateContactRequest::new("bench-instance", contact);
    r.name = Some(format!("n{seq}"));
    r
}

fn file(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("outbox-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn options(rate: f64, burst: u32) -> OutboxOptions {
    let mut o = OutboxOptions::default();
    o.rate = rate;
    o.burst = burst;
    o
}

/// Child: enqueue `n` updates (distinct contacts) into a fresh file with delivery parked
/// (an endpoint nothing listens on), wait for `start_at` (seconds since the epoch, so every
/// process starts together), then deliver; print "attempts throttled seconds" of delivery.
fn child(endpoint: &str, tag: &str, n: u64, rate: f64, burst: u32, start_at: f64) {
    let path = file(&format!("child-{tag}.db"));
    let mut parked = options(rate, burst);
    parked.workers = 1;
    parked.max_backoff = Duration::from_millis(10);
    let outbox = Outbox::open(client("http://127.0.0.1:9"), &path, parked).unwrap();
    for i in 0..n {
        outbox.enqueue(&request(format!("{tag}-{i}"), i)).unwrap();
    }
    outbox.close();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    std::thread::sleep(Duration::from_secs_f64((start_at - now).max(0.0)));
    let outbox = Outbox::open(client(endpoint), &path, options(rate, burst)).unwrap();
    let before = outbox.stats();
    let started = Instant::now();
    assert!(outbox.flush(Duration::from_secs(600)).unwrap());
    let elapsed = started.elapsed().as_secs_f64();
    let after = outbox.stats();
    println!(
        "{} {} {elapsed}",
        after.attempts - before.attempts,
        after.throttled - before.throttled
    );
    outbox.close();
}

fn quota_run(processes: u64, rps: f64, burst: u32, seconds: f64) {
    let emulator = Emulator::start(EmulatorConfig {
        auto_create: true,
        log: false,
        quota: Some(Quota {
            rps,
            burst: burst as f64,
        }),
        ..EmulatorConfig::default()
    })
    .unwrap();
    // Enough work for `seconds` at the quota; enqueueing happens while delivery starts.
    let per = ((rps * seconds) as u64 / processes).max(1);
    // Enqueueing takes a few ms per update (an fsync each): deliver after it, all at once.
    let start_at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
        + 2.0
        + per as f64 * 0.01;
    let children: Vec<_> = (0..processes)
        .map(|p| {
            std::process::Command::new(std::env::current_exe().unwrap())
                .args([
                    "child",
                    &emulator.endpoint_url(),
                    &format!("p{p}-{rps}"),
                    &per.to_string(),
                    &rps.to_string(),
                    &burst.to_string(),
                    &start_at.to_string(),
                ])
                .stdout(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let (mut attempts, mut throttled, mut elapsed) = (0u64, 0u64, 0f64);
    for c in children {
        let out = c.wait_with_output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        let mut words = text.split_whitespace();
        attempts += words.next().unwrap().parse::<u64>().unwrap();
        throttled += words.next().unwrap().parse::<u64>().unwrap();
        elapsed = elapsed.max(words.next().unwrap().parse::<f64>().unwrap());
    }
    let delivered = emulator.updates().as_array().unwrap().len() as f64;
    // The quota allows `burst` at once, then `rps` per second.
    let allowed = burst as f64 + rps * elapsed;
    println!(
        "quota {rps} rps burst {burst}, {processes} process(es): {delivered} delivered in {elapsed:.1} s = {:.3} of the quota; {throttled}/{attempts} attempts throttled ({:.2}%)",
        delivered / allowed,
        100.0 * throttled as f64 / attempts.max(1) as f64
    );
}

fn coalescing() {
    let emulator = Emulator::start(EmulatorConfig {
        auto_create: true,
        log: false,
        ..EmulatorConfig::default()
    })
    .unwrap();
    let path = file("coalesce.db");
    let (contacts, per) = (200u64, 5u64);
    let outbox = Outbox::open(client(&emulator.endpoint_url()), &path, options(200.0, 50)).unwrap();
    for round in 0..per {
        for c in 0..contacts {
            outbox
                .enqueue(&request(format!("c{c}"), round * contacts + c))
                .unwrap();
        }
    }
    assert!(outbox.flush(Duration::from_secs(300)).unwrap());
    let calls = emulator.updates().as_array().unwrap().len() as f64;
    println!(
        "coalescing, {per} updates per contact over {contacts} contacts, enqueued while delivering at 200 rps: {:.3} calls per update",
        calls / (contacts * per) as f64
    );
    outbox.close();
}

fn enqueue_cost(threads: usize) {
    let path = file(&format!("enqueue-{threads}.db"));
    // An endpoint nothing listens on, one worker: delivery stays out of the way.
    let mut o = options(0.1, 1);
    o.workers = 1;
    o.max_backoff = Duration::from_secs(60);
    let outbox = Arc::new(Outbox::open(client("http://127.0.0.1:9"), &path, o).unwrap());
    let per = 2000 / threads as u64;
    let started = Instant::now();
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let outbox = Arc::clone(&outbox);
            std::thread::spawn(move || {
                for i in 0..per {
                    outbox.enqueue(&request(format!("t{t}-{i}"), i)).unwrap();
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let elapsed = started.elapsed().as_secs_f64();
    let n = per * threads as u64;
    println!(
        "enqueue, {threads} thread(s): {n} durable enqueues in {elapsed:.2} s = {:.0}/s, {:.0} µs each (per thread: {:.0} µs)",
        n as f64 / elapsed,
        elapsed * 1e6 / n as f64,
        elapsed * 1e6 * threads as f64 / n as f64
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("child") {
        child(
            &args[2],
            &args[3],
            args[4].parse().unwrap(),
            args[5].parse().unwrap(),
            args[6].parse().unwrap(),
            args[7].parse().unwrap(),
        );
        return;
    }
    if args.get(1).map(String::as_str) == Some("quota") {
        // `quota <processes> <rps> <burst> <seconds>`: one run.
        quota_run(
            args[2].parse().unwrap(),
            args[3].parse().unwrap(),
            args[4].parse().unwrap(),
            args[5].parse().unwrap(),
        );
        return;
    }
    let slow_seconds: f64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(30.0);
    enqueue_cost(1);
    enqueue_cost(4);
    coalescing();
    quota_run(1, 200.0, 50, 10.0);
    quota_run(4, 200.0, 50, 10.0);
    quota_run(1, 2.0, 5, slow_seconds);
    quota_run(4, 2.0, 5, slow_seconds);
}
