//! Crash benchmark of the outbox (issue 18; figures for docs/outbox.md, not a timed test):
//! `updates` updates over `contacts` contacts are enqueued by a child process that is killed
//! with SIGKILL at random points — while it enqueues (and delivers), then while it only
//! delivers — and restarted each time on the same file, until a last child drains the file.
//! Then it checks, against the in-process emulator on 127.0.0.1:
//!
//! - every acknowledged update (its enqueue returned an id) reached the service, none is
//!   missing, nothing is left pending or dead;
//! - only updates that were tried reached it (an enqueue cut short by the kill may or may not
//!   have committed: either is correct, it was never acknowledged);
//! - the emulator's state equals applying those updates in enqueue order (each contact's
//!   Name is its last update's, its References hold one key per update);
//! - per contact, calls never go back to an older update (a resend after a kill may repeat
//!   the last call: delivery is at least once).
//!
//! `cargo run --release --example outbox_crash [updates] [contacts] [rps] [seed]`
//! (defaults 10000, 500, 50: the emulator's quota and the outbox's rate, burst 50; slow
//! enough that a backlog is left when enqueueing ends, so kills land during delivery too).
//! Exits 1 when a check fails.
//!
//! `cargo run --release --features postgres --example outbox_crash postgres [updates]
//! [contacts] [rps] [seed]`: the same checks for a fleet on one PostgreSQL queue (a server
//! the benchmark starts, as the tests do): four hosts, each a series of killed and restarted
//! children enqueueing its own share of the updates (host h the updates h, h+4, ..., so each
//! contact's updates come from one host, in order), while the database itself is crashed
//! (`SIGQUIT`, as `pg_ctl stop -m immediate`) and started again twice. A child retries an
//! enqueue the database refused (an application's retry: one whose commit was lost with the
//! crash answer is sent again, which the checks count as a resend).

#[path = "../tests/support/outbox.rs"]
mod outbox_support;
#[path = "../tests/support/postgres.rs"]
mod postgres_support;

use std::collections::BTreeSet;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use connect_contact::{Client, Outbox, OutboxOptions, UpdateContactRequest};

const INSTANCE: &str = "crash-instance";

fn client(endpoint: &str) -> Arc<Client> {
    Arc::new(Client::new(&outbox_support::emulator_config(endpoint)).unwrap())
}

fn update(seq: u64, contacts: u64) -> UpdateContactRequest {
    outbox_support::update(INSTANCE, seq, contacts)
}

fn options(rps: f64) -> OutboxOptions {
    let mut o = OutboxOptions::default();
    o.rate = rps;
    o.burst = 50;
    o.max_backoff = Duration::from_millis(500);
    o
}

/// `f` until it succeeds, for at most 120 s: the database may be down for a while.
fn retried<T>(mut f: impl FnMut() -> Result<T, connect_contact::Error>) -> T {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        match f() {
            Ok(v) => return v,
            Err(e)
                if e.status() == connect_contact::Status::Storage && Instant::now() < deadline =>
            {
                std::thread::sleep(Duration::from_millis(100))
            }
            Err(e) => panic!("{e:?}"),
        }
    }
}

/// Child: open the store, enqueue `start, start + step, ...` below `end`, printing
/// `try <seq>` before and `ack <seq> <id>` after each enqueue, then flush and print `done`.
/// A store refusing (the database down) is tried again.
fn child(endpoint: &str, path: &str, start: u64, end: u64, step: u64, contacts: u64, rps: f64) {
    let outbox = retried(|| Outbox::open(client(endpoint), path, options(rps)));
    for seq in (start..end).step_by(step as usize) {
        println!("try {seq}");
        let id = retried(|| outbox.enqueue(&update(seq, contacts)));
        println!("ack {seq} {id}");
    }
    assert!(retried(|| outbox.flush(Duration::from_secs(900))));
    println!("done");
    outbox.close();
}

/// Runs one child, killing it with SIGKILL after `kill_after` (None: let it finish).
/// Returns the seqs it tried, those it acknowledged, and whether it finished (`done`).
fn run_child(
    args: &[String],
    kill_after: Option<Duration>,
) -> (BTreeSet<u64>, BTreeSet<u64>, bool) {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .arg("child")
        .args(args)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let pid = child.id();
    let killer = kill_after.map(|after| {
        std::thread::spawn(move || {
            std::thread::sleep(after);
            // SIGKILL by pid; harmless if the child has exited already.
            let _ = Command::new("kill")
                .args(["-9", &pid.to_string()])
                .stderr(Stdio::null())
                .status();
        })
    });
    let (tried, acked, done) = outbox_support::read_child(stdout, "done", |_| {});
    let _ = child.wait();
    if let Some(k) = killer {
        k.join().unwrap();
    }
    (tried, acked.into_keys().collect(), done)
}

/// What one host's series of children did.
struct HostRun {
    tried: BTreeSet<u64>,
    acked: BTreeSet<u64>,
    enqueue_kills: u32,
    delivery_kills: u32,
    restarts: u32,
}

/// Host `h` of `hosts`: children enqueue its share of the updates (`h`, `h + hosts`, ...),
/// each killed with SIGKILL at a random point 20 ms..1.5 s after it starts and followed by
/// one that goes on from the next update not yet tried (the one cut short may or may not
/// have committed); then, everything enqueued, deliverers killed at random points.
fn host(
    h: u64,
    hosts: u64,
    total: u64,
    seed: u64,
    child_args: &dyn Fn(u64, u64, u64) -> Vec<String>,
) -> HostRun {
    // Host 0 draws what the one-file run always drew.
    let mut rng = outbox_support::XorShift((seed ^ h.wrapping_mul(0x9E37_79B9)).max(1));
    let mut run = HostRun {
        tried: BTreeSet::new(),
        acked: BTreeSet::new(),
        enqueue_kills: 0,
        delivery_kills: 0,
        restarts: 0,
    };
    let mut next = h;
    while next < total {
        let kill_after = Duration::from_millis(20 + rng.next() % 1480);
        let (t, a, done) = run_child(&child_args(next, total, hosts), Some(kill_after));
        run.restarts += 1;
        if let Some(last) = t.iter().next_back() {
            next = last + hosts;
        }
        if !done {
            if next < total {
                run.enqueue_kills += 1;
            } else {
                run.delivery_kills += 1;
            }
        }
        run.tried.extend(t);
        run.acked.extend(a);
    }
    for _ in 0..5 {
        let kill_after = Duration::from_millis(20 + rng.next() % 980);
        let (_, _, done) = run_child(&child_args(total, total, 1), Some(kill_after));
        run.restarts += 1;
        if done {
            break;
        }
        run.delivery_kills += 1;
    }
    run
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
            args[8].parse().unwrap(),
        );
        return;
    }
    let fleet = args.get(1).map(String::as_str) == Some("postgres");
    let args: Vec<String> = if fleet {
        args.iter()
            .enumerate()
            .filter(|(i, _)| *i != 1)
            .map(|(_, a)| a.clone())
            .collect()
    } else {
        args
    };
    let arg = |i: usize, default: u64| args.get(i).map_or(default, |a| a.parse().unwrap());
    let (total, contacts, rps, seed) = (
        arg(1, 10_000),
        arg(2, 500),
        arg(3, 50) as f64,
        arg(4, 0x9E37_79B9_7F4A_7C15),
    );
    let emulator = outbox_support::quota_emulator(rps, 50.0);
    let dir = std::env::temp_dir().join(format!("outbox-crash-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // The fleet's database: a server of this run's own, crashed twice below.
    let pg = fleet.then(postgres_support::Postgres::start);
    let path = match &pg {
        Some(pg) => std::path::PathBuf::from(pg.database("crash")),
        None => dir.join("outbox.db"),
    };
    let hosts: u64 = if fleet { 4 } else { 1 };
    let endpoint = emulator.endpoint_url();
    let store = path.to_str().unwrap().to_string();
    let child_args = move |start: u64, end: u64, step: u64| -> Vec<String> {
        vec![
            endpoint.clone(),
            store.clone(),
            start.to_string(),
            end.to_string(),
            step.to_string(),
            contacts.to_string(),
            rps.to_string(),
        ]
    };
    let started = Instant::now();
    let (mut tried, mut acked) = (BTreeSet::new(), BTreeSet::new());
    let (mut enqueue_kills, mut delivery_kills, mut restarts) = (0u32, 0u32, 0u32);
    let crashes = std::thread::scope(|scope| {
        // The database crashes twice while the hosts enqueue and deliver.
        let crasher = pg.as_ref().map(|pg| {
            scope.spawn(move || {
                for wait in [3, 6] {
                    std::thread::sleep(Duration::from_secs(wait));
                    pg.crash();
                    std::thread::sleep(Duration::from_millis(1500));
                    pg.resume();
                }
                2
            })
        });
        let runs: Vec<_> = (0..hosts)
            .map(|h| {
                let child_args = child_args.clone();
                scope.spawn(move || host(h, hosts, total, seed, &child_args))
            })
            .collect();
        for run in runs {
            let r = run.join().unwrap();
            tried.extend(r.tried);
            acked.extend(r.acked);
            enqueue_kills += r.enqueue_kills;
            delivery_kills += r.delivery_kills;
            restarts += r.restarts;
        }
        crasher.map_or(0, |c| c.join().unwrap())
    });
    // A last child, not killed, drains the store.
    let (_, _, done) = run_child(&child_args(total, total, 1), None);
    let elapsed = started.elapsed();

    let mut failures = Vec::new();
    if !done {
        failures.push("the last child did not finish its flush".to_string());
    }
    // The file: nothing pending or dead.
    let mut parked = options(0.001);
    parked.burst = 1;
    parked.workers = 1;
    let outbox = Outbox::open(client("http://127.0.0.1:9"), &path, parked).unwrap();
    let stats = outbox.stats();
    outbox.close();
    if stats.pending != 0 || stats.dead != 0 {
        failures.push(format!(
            "{} pending and {} dead left in the file",
            stats.pending, stats.dead
        ));
    }
    // The emulator's log: which updates each call carried.
    let calls = outbox_support::calls_carried(&emulator.updates());
    let carried: u64 = calls.iter().map(|(_, seqs)| seqs.len() as u64).sum();
    let applied: BTreeSet<u64> = calls.iter().flat_map(|(_, seqs)| seqs.clone()).collect();
    failures.extend(outbox_support::order_violations(&calls));
    let missing: Vec<u64> = acked.difference(&applied).copied().collect();
    if !missing.is_empty() {
        failures.push(format!(
            "{} acknowledged updates never delivered, e.g. {:?}",
            missing.len(),
            &missing[..missing.len().min(10)]
        ));
    }
    let untried: Vec<u64> = applied.difference(&tried).copied().collect();
    if !untried.is_empty() {
        failures.push(format!("delivered but never enqueued: {untried:?}"));
    }
    // The state: applying the applied updates in order.
    let mut wrong = 0;
    for c in 0..contacts {
        let mine: BTreeSet<u64> = applied
            .iter()
            .copied()
            .filter(|s| s % contacts == c)
            .collect();
        let Some(last) = mine.iter().next_back() else {
            continue;
        };
        let stored = emulator.contact(INSTANCE, &format!("c{c}"));
        let ok = stored.as_ref().is_some_and(|s| {
            let refs: BTreeSet<u64> = s["References"]
                .as_object()
                .map(|m| m.keys().map(|k| k[1..].parse().unwrap()).collect())
                .unwrap_or_default();
            s["Name"] == format!("n{last}") && refs == mine
        });
        if !ok {
            wrong += 1;
        }
    }
    if wrong > 0 {
        failures.push(format!(
            "{wrong} contacts differ from applying their updates in order"
        ));
    }
    let unacked_applied = applied.difference(&acked).count();
    println!(
        "crash benchmark: {total} updates over {contacts} contacts, quota and rate {rps}/s burst 50, {}",
        if fleet {
            format!("{hosts} hosts on one PostgreSQL queue, the database crashed {crashes} times")
        } else {
            "one file".to_string()
        }
    );
    println!(
        "  {} tried, {} acknowledged, {} delivered ({} of them cut short by a kill after committing)",
        tried.len(),
        acked.len(),
        applied.len(),
        unacked_applied
    );
    println!(
        "  {} SIGKILLs ({enqueue_kills} while enqueueing and delivering, {delivery_kills} while only delivering), {restarts} restarts + 1 final drain, {:.1} s",
        enqueue_kills + delivery_kills,
        elapsed.as_secs_f64()
    );
    println!(
        "  {} calls carried {carried} updates ({} resent after a kill: at least once); store: {} delivered, {} attempts, {} throttled",
        calls.len(),
        carried - applied.len() as u64,
        stats.delivered,
        stats.attempts,
        stats.throttled
    );
    if failures.is_empty() {
        println!(
            "  PASS: every acknowledged update delivered, none missing; state = applying them in order"
        );
        let _ = std::fs::remove_dir_all(&dir);
    } else {
        for f in &failures {
            println!("  FAIL: {f}");
        }
        if !fleet {
            println!("  file kept: {}", path.display());
        }
        std::process::exit(1);
    }
}
