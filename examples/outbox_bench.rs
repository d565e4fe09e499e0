//! Outbox benchmark (figures for docs/outbox.md, not a timed test), against the in-process
//! emulator on 127.0.0.1:
//!
//! - delivered calls/s as a fraction of the emulator's quota, and the share of attempts
//!   throttled, at 2 rps/burst 5 and 200 rps/burst 50: 1 process, 4 processes sharing one
//!   outbox file (one pacer), and 4 processes with a file each (independent outboxes sharing
//!   the one account quota);
//! - coalescing: calls per update on a stream with 5 updates per contact;
//! - µs per durable enqueue and enqueues/s from 1 and 4 threads;
//! - an outage: a stream of updates with 30 s of outage in the middle (every call refused
//!   with a 503), all delivered after it and none dead;
//! - a backlog: delivery rate with N ready updates in the file, and the CPU an idle outbox
//!   uses with N updates all in backoff (not due for an hour).
//!
//! `cargo run --example outbox_bench [seconds-at-2-rps]` (default 60), or one run:
//! `cargo run --example outbox_bench quota <processes> <rps> <burst> <seconds> [shared|separate]`,
//! or the same processes as hosts of one PostgreSQL queue (a server of the benchmark's own, as
//! the tests start it; needs `--features postgres`):
//! `cargo run --features postgres --example outbox_bench quota-pg <processes> <rps> <burst> <seconds>`,
//! `cargo run --release --features postgres --example outbox_bench enqueue-pg` (enqueue cost,
//! PostgreSQL beside a file, 1 and 8 threads),
//! or `cargo run --example outbox_bench outage [outage-seconds]` (default 30),
//! or `cargo run --example outbox_bench backlog [rate=R] [rows ...]` (default rate 200, rows
//! 1000 10000 100000).

#[path = "../tests/support/outbox.rs"]
mod outbox_support;
#[path = "../tests/support/postgres.rs"]
mod postgres_support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use connect_contact::{Client, Outbox, OutboxOptions, UpdateContactRequest};
use connect_emulator::{Emulator, EmulatorConfig, Faults};

fn client(endpoint: &str) -> Arc<Client> {
    Arc::new(Client::new(&outbox_support::emulator_config(endpoint)).unwrap())
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

/// Fills `path` with `n` updates to distinct contacts `{tag}-{i}`, with delivery parked (an
/// endpoint nothing listens on, one token to spend): the file is ready before the clock starts.
fn preload(path: &std::path::Path, tag: &str, n: u64) {
    let parked = outbox_support::parked_options();
    let outbox = Outbox::open(client("http://127.0.0.1:9"), path, parked).unwrap();
    for i in 0..n {
        outbox.enqueue(&request(format!("{tag}-{i}"), i)).unwrap();
    }
    outbox.close();
}

/// The file's counters, read without sending anything (an unreachable endpoint).
fn counters(path: &std::path::Path) -> (u64, u64) {
    let parked = outbox_support::parked_options();
    let outbox = Outbox::open(client("http://127.0.0.1:9"), path, parked).unwrap();
    let stats = outbox.stats();
    outbox.close();
    (stats.attempts, stats.throttled)
}

fn epoch_seconds() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// Child: wait for `start_at` (seconds since the epoch, so every process starts together),
/// open `path` (preloaded by the parent) and deliver until it is empty; print the seconds
/// delivery took.
fn child(endpoint: &str, path: &str, rate: f64, burst: u32, start_at: f64) {
    std::thread::sleep(Duration::from_secs_f64(
        (start_at - epoch_seconds()).max(0.0),
    ));
    let outbox = Outbox::open(client(endpoint), path, options(rate, burst)).unwrap();
    let started = Instant::now();
    assert!(outbox.flush(Duration::from_secs(900)).unwrap());
    println!("{}", started.elapsed().as_secs_f64());
    outbox.close();
}

/// `processes` processes deliver `rps × seconds` updates in all against the emulator's quota:
/// all from one shared file (or, with `postgres`, one database queue), or each from a file of
/// its own (independent outboxes).
fn quota_run(
    processes: u64,
    rps: f64,
    burst: u32,
    seconds: f64,
    shared: bool,
    postgres: Option<&str>,
) {
    let emulator = outbox_support::quota_emulator(rps, burst as f64);
    let total = ((rps * seconds) as u64).max(processes);
    let per = total / processes;
    let files: Vec<std::path::PathBuf> = if let Some(url) = postgres {
        let url = std::path::PathBuf::from(url);
        preload(&url, "s", per * processes);
        vec![url]
    } else if shared {
        let path = file(&format!("shared-{processes}-{rps}.db"));
        preload(&path, "s", per * processes);
        vec![path]
    } else {
        (0..processes)
            .map(|p| {
                let path = file(&format!("own-{p}-{rps}.db"));
                preload(&path, &format!("p{p}"), per);
                path
            })
            .collect()
    };
    let before: Vec<(u64, u64)> = files.iter().map(|f| counters(f)).collect();
    let start_at = epoch_seconds() + 1.0;
    let children: Vec<_> = (0..processes)
        .map(|p| {
            let path = &files[if shared { 0 } else { p as usize }];
            std::process::Command::new(std::env::current_exe().unwrap())
                .args([
                    "child",
                    &emulator.endpoint_url(),
                    path.to_str().unwrap(),
                    &rps.to_string(),
                    &burst.to_string(),
                    &start_at.to_string(),
                ])
                .stdout(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut elapsed = 0f64;
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(out.status.success());
        let text = String::from_utf8_lossy(&out.stdout);
        elapsed = elapsed.max(text.trim().parse::<f64>().unwrap());
    }
    let (mut attempts, mut throttled) = (0, 0);
    for (f, (a0, t0)) in files.iter().zip(before) {
        let (a, t) = counters(f);
        attempts += a - a0;
        throttled += t - t0;
    }
    let delivered = emulator.updates().as_array().unwrap().len() as f64;
    // The quota allows `burst` at once, then `rps` per second.
    let allowed = burst as f64 + rps * elapsed;
    println!(
        "quota {rps} rps burst {burst}, {processes} process(es), {}: {delivered} delivered in {elapsed:.1} s = {:.3} of the quota; {throttled}/{attempts} attempts throttled ({:.2}%)",
        match (postgres, shared) {
            (Some(_), _) => "one PostgreSQL queue",
            (None, true) => "one shared file",
            (None, false) => "a file each",
        },
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
    enqueue_cost_at(&file(&format!("enqueue-{threads}.db")), threads, "a file");
}

/// Durable enqueues into `path` (a file or a PostgreSQL URL) from `threads` threads sharing
/// one handle.
fn enqueue_cost_at(path: &std::path::Path, threads: usize, what: &str) {
    // An endpoint nothing listens on, one worker: delivery stays out of the way.
    let mut o = options(0.1, 1);
    o.workers = 1;
    o.max_backoff = Duration::from_secs(60);
    let outbox = Arc::new(Outbox::open(client("http://127.0.0.1:9"), path, o).unwrap());
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
        "enqueue into {what}, {threads} thread(s): {n} durable enqueues in {elapsed:.2} s = {:.0}/s, {:.0} µs each (per thread: {:.0} µs)",
        n as f64 / elapsed,
        elapsed * 1e6 / n as f64,
        elapsed * 1e6 * threads as f64 / n as f64
    );
}

/// A stream of 5 updates/s to distinct contacts for `outage + 30` seconds against the
/// emulator at the service's default quota (2 rps, burst 5 would take minutes to drain a
/// backlog, so 20 rps, burst 20), with every call refused for `outage` seconds from the
/// 15th second on. Prints what was delivered, what died, the largest backlog, how the outbox
/// tried during the outage and how long it took to drain after it.
fn outage_run(outage: f64) {
    let emulator = outbox_support::quota_emulator(20.0, 20.0);
    let path = file("outage.db");
    let outbox = Outbox::open(client(&emulator.endpoint_url()), &path, options(20.0, 20)).unwrap();
    let started = Instant::now();
    let total = ((outage + 30.0) * 5.0) as u64;
    let (mut outage_at, mut recovered_at, mut most_pending) = (None, None, 0);
    let mut attempts_at_outage = 0;
    for seq in 0..total {
        let due = Duration::from_millis(seq * 200);
        std::thread::sleep(due.saturating_sub(started.elapsed()));
        outbox
            .enqueue(&request(format!("outage-{seq}"), seq))
            .unwrap();
        let stats = outbox.stats();
        most_pending = most_pending.max(stats.pending);
        if outage_at.is_none() && started.elapsed() >= Duration::from_secs(15) {
            emulator
                .set_faults(Faults {
                    outage_seconds: outage,
                    ..Faults::default()
                })
                .unwrap();
            outage_at = Some(started.elapsed());
            attempts_at_outage = stats.attempts;
        }
        if let Some(at) = outage_at {
            if recovered_at.is_none() && started.elapsed() >= at + Duration::from_secs_f64(outage) {
                recovered_at = Some((started.elapsed(), outbox.stats()));
            }
        }
    }
    let stream_end = started.elapsed();
    assert!(outbox.flush(Duration::from_secs(600)).unwrap());
    let drained = started.elapsed();
    let stats = outbox.stats();
    let (recovered, at_recovery) = recovered_at.expect("the stream outlasts the outage");
    println!(
        "outage {outage} s in a stream of {total} updates (5/s, quota 20 rps burst 20): \
         delivered {}, dead {}, largest backlog {most_pending}, attempts during the outage {}, \
         backlog when it ended {}, stream ended at {:.1} s, all delivered at {:.1} s \
         ({:.1} s after the outage ended)",
        stats.delivered,
        stats.dead,
        at_recovery.attempts - attempts_at_outage,
        at_recovery.pending,
        stream_end.as_secs_f64(),
        drained.as_secs_f64(),
        (drained - recovered).as_secs_f64(),
    );
    let calls = emulator.updates().as_array().map_or(0, Vec::len);
    println!("calls the emulator applied: {calls} for {total} updates");
    outbox.close();
}

/// Fills a fresh outbox file with `rows` updates to distinct contacts in one `INSERT ...
/// SELECT` (a recursive CTE, not one enqueue each: a million enqueues would take an hour of
/// fsyncs), due `due_in_ms` from now. The outbox makes its tables first (an open and close).
fn fill(path: &std::path::Path, rows: u64, due_in_ms: i64) {
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    let mut parked = options(0.001, 1);
    parked.workers = 1;
    Outbox::open(client("http://127.0.0.1:9"), path, parked)
        .unwrap()
        .close();
    let conn = rusqlite::Connection::open(path).unwrap();
    let now = (epoch_seconds() * 1000.0) as i64;
    // The contact key is the outbox's own (instance, unit separator, contact).
    conn.execute(
        "INSERT INTO outbox(contact, instance_id, contact_id, body, enqueued_ms, next_ms)
         WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ?1 - 1)
         SELECT 'bench-instance' || char(31) || 'b' || i, 'bench-instance', 'b' || i,
                '{\"Name\":\"n' || i || '\"}', ?2, ?3 FROM n",
        rusqlite::params![rows as i64, now, now + due_in_ms],
    )
    .unwrap();
}

/// CPU seconds (user + system) this process has used, from /proc/self/stat (getrusage's
/// figures, in clock ticks of 1/100 s on Linux).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    // Fields after the command name (which may hold spaces, inside parentheses).
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name and state.
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    ticks / 100.0
}

/// Delivery rate with `rows` ready updates in the file (the emulator's quota and the
/// outbox's rate `rps`, burst 50), over `seconds` after a 2 s start; then the CPU an idle
/// outbox uses over 5 s with `rows` updates all in backoff.
fn backlog_run(rows: u64, rps: f64, seconds: f64) {
    let emulator = outbox_support::quota_emulator(rps, 50.0);
    let path = file(&format!("backlog-{rows}.db"));
    let filled = Instant::now();
    fill(&path, rows, 0);
    let fill_s = filled.elapsed().as_secs_f64();
    let opened = Instant::now();
    let outbox = Outbox::open(client(&emulator.endpoint_url()), &path, options(rps, 50)).unwrap();
    let open_s = opened.elapsed().as_secs_f64();
    // Delivered, read from the file's counter (the emulator's log is bounded).
    let counter = rusqlite::Connection::open(&path).unwrap();
    let delivered = || -> u64 {
        counter
            .query_row(
                "SELECT COALESCE((SELECT value FROM outbox_counters WHERE name = 'delivered'), 0)",
                [],
                |r| r.get::<_, i64>(0),
            )
            .unwrap() as u64
    };
    // From 1 s after the open (or 10% of the rows delivered, when sooner: the burst is behind)
    // until 90% of the rows are delivered or `seconds` passed.
    let opened = Instant::now();
    while opened.elapsed() < Duration::from_secs(1) && delivered() < rows / 10 {
        std::thread::sleep(Duration::from_millis(10));
    }
    let (t0, n0) = (Instant::now(), delivered());
    let mut n1 = n0;
    while t0.elapsed() < Duration::from_secs_f64(seconds) && n1 < rows * 9 / 10 {
        std::thread::sleep(Duration::from_millis(100));
        n1 = delivered();
    }
    let dt = t0.elapsed().as_secs_f64();
    outbox.close();
    let rate = (n1 - n0) as f64 / dt;
    // Idle: every row due in an hour.
    fill(&path, rows, 3_600_000);
    let outbox = Outbox::open(client(&emulator.endpoint_url()), &path, options(rps, 50)).unwrap();
    std::thread::sleep(Duration::from_secs(1));
    let (c0, t0) = (cpu_seconds(), Instant::now());
    std::thread::sleep(Duration::from_secs(5));
    let idle = (cpu_seconds() - c0) / t0.elapsed().as_secs_f64();
    outbox.close();
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    println!(
        "backlog {rows} rows: delivered {rate:.1}/s at rate {rps} ({} calls in {dt:.1} s); idle CPU {:.2}% of a core; fill {fill_s:.1} s, open {open_s:.2} s",
        n1 - n0,
        100.0 * idle
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("backlog") {
        // `backlog [rate=R] [rows ...]`: the delivery rate (at R calls/s, default 200) and the
        // idle CPU at each backlog.
        let rate: f64 = args[2..]
            .iter()
            .find_map(|a| a.strip_prefix("rate=")?.parse().ok())
            .unwrap_or(200.0);
        let mut sizes: Vec<u64> = args[2..]
            .iter()
            .filter(|a| !a.starts_with("rate="))
            .map(|a| a.parse().unwrap())
            .collect();
        if sizes.is_empty() {
            sizes = vec![1_000, 10_000, 100_000];
        }
        for rows in sizes {
            backlog_run(rows, rate, 10.0);
        }
        return;
    }
    if args.get(1).map(String::as_str) == Some("outage") {
        outage_run(args.get(2).and_then(|s| s.parse().ok()).unwrap_or(30.0));
        return;
    }
    if args.get(1).map(String::as_str) == Some("child") {
        child(
            &args[2],
            &args[3],
            args[4].parse().unwrap(),
            args[5].parse().unwrap(),
            args[6].parse().unwrap(),
        );
        return;
    }
    if args.get(1).map(String::as_str) == Some("enqueue-pg") {
        // fsync on, as the file's enqueues are (synchronous=FULL).
        let pg = postgres_support::Postgres::start_durable();
        for threads in [1, 8] {
            let url = pg.database(&format!("enqueue-{threads}"));
            enqueue_cost_at(std::path::Path::new(&url), threads, "PostgreSQL");
            enqueue_cost_at(&file(&format!("enqueue-{threads}.db")), threads, "a file");
        }
        return;
    }
    if args.get(1).map(String::as_str) == Some("quota-pg") {
        let pg = postgres_support::Postgres::start();
        let url = pg.database("bench");
        quota_run(
            args[2].parse().unwrap(),
            args[3].parse().unwrap(),
            args[4].parse().unwrap(),
            args[5].parse().unwrap(),
            true,
            Some(&url),
        );
        return;
    }
    if args.get(1).map(String::as_str) == Some("quota") {
        // `quota <processes> <rps> <burst> <seconds> [shared|separate]`: one run.
        quota_run(
            args[2].parse().unwrap(),
            args[3].parse().unwrap(),
            args[4].parse().unwrap(),
            args[5].parse().unwrap(),
            args.get(6).map(String::as_str) != Some("separate"),
            None,
        );
        return;
    }
    let slow_seconds: f64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(60.0);
    enqueue_cost(1);
    enqueue_cost(4);
    coalescing();
    for (rps, burst, seconds) in [(200.0, 50, 20.0), (2.0, 5, slow_seconds)] {
        quota_run(1, rps, burst, seconds, true, None);
        quota_run(4, rps, burst, seconds, true, None);
        quota_run(4, rps, burst, seconds, false, None);
    }
}
