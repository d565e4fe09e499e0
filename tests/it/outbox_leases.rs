//! The outbox's leases under abuse (issues 26 and 27): a row in flight is never claimed
//! again, a killed owner's work is recovered at the next open (well before its lease runs
//! out) and resent, a stopped owner's work is taken over when its lease runs out and its late
//! record counts nothing twice, and two processes contending for one file each deliver some
//! and nothing twice.
//!
//! Leases are read from the file (`outbox_heads`), as another process sees them. Child
//! processes are this test binary run again on `outbox_leases::child_process` with
//! `OUTBOX_LEASE_CHILD` set.

use std::collections::{BTreeSet, HashMap};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use connect_contact::{Outbox, OutboxEvent};
use connect_emulator::{Emulator, FaultStep, Faults};
use serde_json::{json, Value};

use crate::outbox::{check_log_ranked, client, emulator, fast, fresh_file, update};
use crate::support::outbox::{
    calls_carried, leases_of, live_leases, order_violations, signal, stop_outside_a_transaction,
    times_carried,
};

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// Polls `check` every 10 ms for up to `limit`; true as soon as it holds.
fn wait_until(limit: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if check() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn with_events(events: &Arc<Mutex<Vec<OutboxEvent>>>) -> connect_contact::OutboxOptions {
    let mut options = fast();
    let seen = Arc::clone(events);
    options.on_event = Some(Arc::new(move |e: &OutboxEvent| {
        seen.lock().unwrap().push(e.clone())
    }));
    options
}

fn delivered_ids(events: &[OutboxEvent]) -> Vec<u64> {
    events
        .iter()
        .filter_map(|e| match e {
            OutboxEvent::Delivered { id } => Some(*id),
            _ => None,
        })
        .collect()
}

/// The file's `delivered` counter (shared by every process on it).
fn delivered_counter(path: &Path) -> u64 {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.busy_timeout(Duration::from_secs(10)).unwrap();
    conn.query_row(
        "SELECT COALESCE((SELECT value FROM outbox_counters WHERE name = 'delivered'), 0)",
        [],
        |r| r.get::<_, i64>(0),
    )
    .unwrap() as u64
}

#[test]
fn retrying_a_dead_letter_while_a_later_update_of_its_contact_is_in_flight_sends_each_once() {
    // The first call is refused for good (a dead letter); later calls are slow, so the second
    // update is in flight while the first is retried.
    let emulator = emulator(
        true,
        Faults {
            sequence: vec![FaultStep::Status(400)],
            ..Faults::default()
        },
    );
    let path = fresh_file("retry-in-flight");
    let events = Arc::new(Mutex::new(Vec::new()));
    let outbox = Outbox::open(
        client(&emulator.endpoint_url()),
        &path,
        with_events(&events),
    )
    .unwrap();
    let first = outbox.enqueue(&update(0, 1)).unwrap();
    assert!(outbox.flush(Duration::from_secs(20)).unwrap());
    let dead: Vec<u64> = outbox
        .dead_letters()
        .unwrap()
        .iter()
        .map(|d| d.id)
        .collect();
    assert_eq!(dead, vec![first]);
    emulator
        .set_faults(Faults {
            latency_ms: 1500,
            ..Faults::default()
        })
        .unwrap();
    let second = outbox.enqueue(&update(1, 1)).unwrap();
    // In flight: its contact is leased (from the file), its call waits out the latency.
    assert!(
        wait_until(Duration::from_secs(10), || !live_leases(&path).is_empty()),
        "the second update was never leased"
    );
    assert!(emulator.updates().as_array().unwrap().is_empty());
    assert!(outbox.retry_dead(first).unwrap());
    assert!(outbox.flush(Duration::from_secs(30)).unwrap());
    let log = emulator.updates();
    assert_eq!(
        times_carried(&log, 1),
        1,
        "the update in flight was sent again: {log}"
    );
    assert_eq!(times_carried(&log, 0), 1, "{log}");
    // The retried update went after the call in flight (it could not go before it), alone.
    assert_eq!(
        calls_carried(&log),
        vec![("c0".to_string(), vec![1]), ("c0".to_string(), vec![0])]
    );
    let stats = outbox.stats();
    assert_eq!((stats.delivered, stats.pending, stats.dead), (2, 0, 0));
    let mut delivered = delivered_ids(&events.lock().unwrap());
    delivered.sort();
    assert_eq!(delivered, vec![first, second], "one Delivered event each");
    outbox.close();
}

/// What a child process is asked to do: open `file` with `workers` delivery threads (and a
/// lease of `lease_ms`, a client timeout of `timeout_ms`, when given), enqueue `count`
/// updates from `start` over `contacts` contacts, flush.
fn child_spec(
    file: &Path,
    endpoint: &str,
    range: (u64, u64, u64),
    workers: usize,
    lease_ms: Option<u64>,
    timeout_ms: u64,
) -> String {
    json!({
        "file": file, "endpoint": endpoint, "start": range.0, "count": range.1,
        "contacts": range.2, "workers": workers, "lease_ms": lease_ms, "timeout_ms": timeout_ms,
    })
    .to_string()
}

/// A running child and the lines it printed so far.
struct Kid {
    child: Child,
    lines: Receiver<String>,
    seen: Vec<String>,
}

impl Kid {
    fn spawn(spec: String) -> Kid {
        let mut child = crate::support::command(std::env::current_exe().unwrap())
            .args([
                "outbox_leases::child_process",
                "--exact",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("OUTBOX_LEASE_CHILD", spec)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Kid {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Reads lines until one is `word` (true) or `limit` passed or the child's output ended.
    fn wait_for(&mut self, word: &str, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        if self.seen.iter().any(|l| l == word) {
            return true;
        }
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    let hit = line == word;
                    self.seen.push(line);
                    if hit {
                        return true;
                    }
                }
                Err(_) => return false,
            }
        }
    }

    /// `ack <seq> <id>` lines: update number to outbox id.
    fn acked(&self) -> HashMap<u64, u64> {
        self.words("ack")
            .map(|w| (w[0].parse().unwrap(), w[1].parse().unwrap()))
            .collect()
    }

    /// `delivered <id>` lines (its Delivered events).
    fn delivered(&self) -> Vec<u64> {
        self.words("delivered")
            .map(|w| w[0].parse().unwrap())
            .collect()
    }

    fn words<'a>(&'a self, head: &'a str) -> impl Iterator<Item = Vec<&'a str>> + 'a {
        self.seen.iter().filter_map(move |l| {
            let mut w = l.split_whitespace();
            (w.next() == Some(head)).then(|| w.collect())
        })
    }

    /// Waits for the child to exit (reaped: its pid is gone) and reads what it printed last.
    fn finish(&mut self) -> std::process::ExitStatus {
        let status = self.child.wait().unwrap();
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(5)) {
            self.seen.push(line);
        }
        status
    }
}

impl Drop for Kid {
    /// A test that fails leaves no child behind, stopped or running (SIGKILL ends a stopped
    /// process too).
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Not a test on its own: the body of a child process (does nothing without
/// OUTBOX_LEASE_CHILD).
#[test]
fn child_process() {
    let Ok(spec) = std::env::var("OUTBOX_LEASE_CHILD") else {
        return;
    };
    // The harness has printed "test ... " without a newline: start our lines on a fresh one.
    println!();
    let spec: Value = serde_json::from_str(&spec).unwrap();
    let mut config = crate::support::outbox::emulator_config(spec["endpoint"].as_str().unwrap());
    config.timeout = Some(Duration::from_millis(spec["timeout_ms"].as_u64().unwrap()));
    let mut options = fast();
    options.workers = spec["workers"].as_u64().unwrap() as usize;
    options.lease = spec["lease_ms"].as_u64().map(Duration::from_millis);
    options.on_event = Some(Arc::new(|e: &OutboxEvent| match e {
        OutboxEvent::Delivered { id } => println!("delivered {id}"),
        OutboxEvent::Dead { id, .. } => println!("dead {id}"),
    }));
    let outbox = Outbox::open(
        Arc::new(crate::support::client(&config)),
        spec["file"].as_str().unwrap(),
        options,
    )
    .unwrap();
    println!("opened");
    let start = spec["start"].as_u64().unwrap();
    let contacts = spec["contacts"].as_u64().unwrap();
    for seq in start..start + spec["count"].as_u64().unwrap() {
        let id = outbox.enqueue(&update(seq, contacts)).unwrap();
        println!("ack {seq} {id}");
    }
    println!("enqueued");
    assert!(outbox.flush(Duration::from_secs(60)).unwrap());
    println!("flushed");
    outbox.close();
    println!("closed");
}

/// Waits until `kid` holds a lease, stops it outside any transaction and waits for calls it
/// had in flight to reach the emulator (they land while it is stopped, unrecorded). A stop
/// that caught it between its claim and its call is undone and tried again, at most 20
/// times. Returns the updates those calls carried and the leases it held when stopped.
fn stop_with_calls_landed(
    kid: &Kid,
    path: &Path,
    emulator: &Emulator,
    latency: Duration,
) -> (BTreeSet<u64>, Vec<(String, String, i64)>) {
    for _ in 0..20 {
        assert!(
            wait_until(Duration::from_secs(20), || !leases_of(path, kid.pid())
                .is_empty()),
            "the child never held a lease"
        );
        stop_outside_a_transaction(kid.pid(), path);
        let held = leases_of(path, kid.pid());
        let before = emulator.updates().as_array().unwrap().len();
        // A call in flight lands after at most the latency.
        std::thread::sleep(latency + Duration::from_millis(500));
        let log = emulator.updates();
        let landed: BTreeSet<u64> = calls_carried(&log)[before..]
            .iter()
            .flat_map(|(_, seqs)| seqs.iter().copied())
            .collect();
        if !held.is_empty() && !landed.is_empty() {
            return (landed, held);
        }
        signal(kid.pid(), "CONT");
    }
    panic!("no stop of the child caught a call in flight in 20 tries");
}

#[test]
fn a_killed_owners_leases_are_freed_by_the_next_open_and_its_unrecorded_call_is_sent_again() {
    let latency = Duration::from_millis(1500);
    let emulator = emulator(
        true,
        Faults {
            latency_ms: latency.as_millis() as u64,
            ..Faults::default()
        },
    );
    let path = fresh_file("killed-owner");
    let (count, contacts) = (12u64, 4u64);
    // A long lease (2 minutes): recovered at the next open, not by expiry.
    let mut kid = Kid::spawn(child_spec(
        &path,
        &emulator.endpoint_url(),
        (0, count, contacts),
        2,
        Some(120_000),
        5_000,
    ));
    assert!(kid.wait_for("enqueued", Duration::from_secs(30)));
    let (landed, _) = stop_with_calls_landed(&kid, &path, &emulator, latency);
    signal(kid.pid(), "KILL");
    let pid = kid.pid();
    let _ = kid.finish();
    let acked = kid.acked();
    assert_eq!(acked.len() as u64, count);
    // Killed holding leases (read from the file): they run for two more minutes.
    let held = leases_of(&path, pid);
    assert!(!held.is_empty(), "no lease held at the kill");
    let expiry = held.iter().map(|(_, _, until)| *until).min().unwrap();
    emulator.set_faults(Faults::default()).unwrap();
    let events = Arc::new(Mutex::new(Vec::new()));
    let outbox = Outbox::open(
        client(&emulator.endpoint_url()),
        &path,
        with_events(&events),
    )
    .unwrap();
    assert_eq!(
        leases_of(&path, pid),
        vec![],
        "the open did not free the dead process's leases"
    );
    assert!(outbox.flush(Duration::from_secs(30)).unwrap());
    assert!(now_ms() < expiry, "recovered only when the leases ran out");
    let log = emulator.updates();
    // The calls that landed unrecorded were sent again (at least once), and everything
    // acknowledged was delivered, in order per contact.
    for seq in &landed {
        assert!(
            times_carried(&log, *seq) >= 2,
            "update {seq} landed before the kill and was not resent: {log}"
        );
    }
    for seq in acked.keys() {
        assert!(times_carried(&log, *seq) >= 1, "update {seq} lost");
    }
    let violations = order_violations(&calls_carried(&log));
    assert!(violations.is_empty(), "{violations:?}");
    let stats = outbox.stats();
    assert_eq!((stats.pending, stats.dead, stats.delivered), (0, 0, count));
    outbox.close();
}

#[test]
fn a_stopped_owners_work_is_taken_over_when_its_lease_runs_out_and_its_late_record_counts_nothing()
{
    let latency = Duration::from_millis(800);
    let emulator = emulator(
        true,
        Faults {
            latency_ms: latency.as_millis() as u64,
            ..Faults::default()
        },
    );
    let path = fresh_file("stopped-owner");
    let (count, contacts) = (12u64, 3u64);
    // One delivery thread, a call deadline of 2 s and a lease of 3 s.
    let mut kid = Kid::spawn(child_spec(
        &path,
        &emulator.endpoint_url(),
        (0, count, contacts),
        1,
        Some(3_000),
        2_000,
    ));
    assert!(kid.wait_for("enqueued", Duration::from_secs(30)));
    // The owner has leased work and its call is in flight: this test takes the file's write
    // lock, so when the answer comes the owner's record waits for it; then the owner is
    // stopped there (alive, not progressing, holding no lock) and the lock given back.
    assert!(wait_until(Duration::from_secs(20), || !leases_of(
        &path,
        kid.pid()
    )
    .is_empty()));
    let lock = rusqlite::Connection::open(&path).unwrap();
    lock.busy_timeout(Duration::from_secs(10)).unwrap();
    let before = emulator.updates().as_array().unwrap().len();
    lock.execute_batch("BEGIN IMMEDIATE").unwrap();
    let held = leases_of(&path, kid.pid());
    assert!(!held.is_empty());
    assert!(wait_until(latency * 4, || emulator
        .updates()
        .as_array()
        .unwrap()
        .len()
        > before));
    let landed: BTreeSet<u64> = calls_carried(&emulator.updates())[before..]
        .iter()
        .flat_map(|(_, seqs)| seqs.iter().copied())
        .collect();
    // The answer reaches the owner, whose record then waits for the lock.
    std::thread::sleep(Duration::from_millis(300));
    signal(kid.pid(), "STOP");
    lock.execute_batch("ROLLBACK").unwrap();
    // Another process (this one) opens the file while the owner is stopped, alive: its live
    // leases stay its own until they run out, then the other takes the work over.
    let events = Arc::new(Mutex::new(Vec::new()));
    let outbox = Outbox::open(
        client(&emulator.endpoint_url()),
        &path,
        with_events(&events),
    )
    .unwrap();
    let after = leases_of(&path, kid.pid());
    assert!(
        held.iter().all(|l| after.contains(l) || l.2 <= now_ms()),
        "the open freed a live process's leases: held {held:?}, after {after:?}"
    );
    assert!(outbox.flush(Duration::from_secs(30)).unwrap());
    let log = emulator.updates();
    for seq in &landed {
        assert_eq!(
            times_carried(&log, *seq),
            2,
            "update {seq}: sent by the stopped owner, then once more by the one that took over"
        );
    }
    // The owner goes on: its late record (a delivery) finds the lease taken, counts nothing.
    signal(kid.pid(), "CONT");
    assert!(kid.wait_for("closed", Duration::from_secs(60)));
    assert!(kid.finish().success());
    let acked = kid.acked();
    let ids: BTreeSet<u64> = acked.values().copied().collect();
    let mine = delivered_ids(&events.lock().unwrap());
    let theirs = kid.delivered();
    let all: Vec<u64> = mine.iter().chain(theirs.iter()).copied().collect();
    let unique: BTreeSet<u64> = all.iter().copied().collect();
    assert_eq!(
        all.len(),
        unique.len(),
        "a Delivered event fired twice: {all:?}"
    );
    assert_eq!(unique, ids);
    for seq in &landed {
        assert!(
            !theirs.contains(&acked[seq]),
            "the stopped owner told of update {seq} it no longer held"
        );
    }
    assert_eq!(delivered_counter(&path), count, "delivered counted twice");
    let violations = order_violations(&calls_carried(&emulator.updates()));
    assert!(violations.is_empty(), "{violations:?}");
    outbox.close();
}

#[test]
fn a_stopped_owners_late_failure_does_not_bury_the_update_the_one_that_took_over_delivers() {
    // The first call is refused for good; every call waits 1.5 s.
    let latency = Duration::from_millis(1500);
    let emulator = emulator(
        true,
        Faults {
            latency_ms: latency.as_millis() as u64,
            sequence: vec![FaultStep::Status(400)],
            ..Faults::default()
        },
    );
    let path = fresh_file("stopped-owner-failure");
    let mut kid = Kid::spawn(child_spec(
        &path,
        &emulator.endpoint_url(),
        (0, 1, 1),
        1,
        Some(3_000),
        2_000,
    ));
    assert!(kid.wait_for("enqueued", Duration::from_secs(30)));
    assert!(wait_until(Duration::from_secs(20), || !leases_of(
        &path,
        kid.pid()
    )
    .is_empty()));
    // The owner's call is refused while this test holds the write lock: its record (a dead
    // letter) waits for the lock, and the owner is stopped there.
    let lock = rusqlite::Connection::open(&path).unwrap();
    lock.busy_timeout(Duration::from_secs(10)).unwrap();
    lock.execute_batch("BEGIN IMMEDIATE").unwrap();
    assert!(wait_until(latency * 4, || emulator
        .faults()
        .sequence
        .is_empty()));
    std::thread::sleep(Duration::from_millis(300));
    signal(kid.pid(), "STOP");
    lock.execute_batch("ROLLBACK").unwrap();
    // This process takes the update over when the lease runs out; while its call is in
    // flight the owner goes on and records its refusal late.
    let events = Arc::new(Mutex::new(Vec::new()));
    let outbox = Outbox::open(
        client(&emulator.endpoint_url()),
        &path,
        with_events(&events),
    )
    .unwrap();
    assert!(
        wait_until(Duration::from_secs(20), || !leases_of(
            &path,
            std::process::id()
        )
        .is_empty()),
        "never took the update over"
    );
    signal(kid.pid(), "CONT");
    assert!(outbox.flush(Duration::from_secs(30)).unwrap());
    assert!(kid.wait_for("closed", Duration::from_secs(60)));
    assert!(kid.finish().success());
    assert_eq!(
        outbox.dead_letters().unwrap(),
        vec![],
        "the late refusal buried an update delivered meanwhile"
    );
    assert!(
        kid.words("dead").next().is_none(),
        "the owner told of a dead letter"
    );
    assert_eq!(times_carried(&emulator.updates(), 0), 1);
    assert_eq!(delivered_ids(&events.lock().unwrap()).len(), 1);
    assert_eq!(delivered_counter(&path), 1);
    outbox.close();
}

#[test]
fn two_processes_contending_for_one_file_deliver_each_update_once_and_each_some() {
    let latency = Duration::from_millis(1000);
    let emulator = emulator(
        true,
        Faults {
            latency_ms: latency.as_millis() as u64,
            ..Faults::default()
        },
    );
    let path = fresh_file("contention");
    let contacts = 8;
    let mut a = Kid::spawn(child_spec(
        &path,
        &emulator.endpoint_url(),
        (0, 40, contacts),
        4,
        None,
        5_000,
    ));
    assert!(a.wait_for("enqueued", Duration::from_secs(30)));
    // A is mid-flight (holding leases, its calls waiting out the latency) and stopped, so
    // its leases cannot change under the check; B opens the file then.
    let (_, held) = stop_with_calls_landed(&a, &path, &emulator, latency);
    let mut b = Kid::spawn(child_spec(
        &path,
        &emulator.endpoint_url(),
        (1000, 40, contacts),
        4,
        None,
        5_000,
    ));
    assert!(b.wait_for("opened", Duration::from_secs(30)));
    let after = leases_of(&path, a.pid());
    for lease in &held {
        assert!(
            after.contains(lease),
            "B's open freed A's live lease {lease:?}"
        );
    }
    signal(a.pid(), "CONT");
    assert!(a.wait_for("closed", Duration::from_secs(90)));
    assert!(b.wait_for("closed", Duration::from_secs(90)));
    assert!(a.finish().success() && b.finish().success());
    let mut ids = a.acked();
    ids.extend(b.acked());
    assert_eq!(ids.len(), 80);
    // Each update reached the service once, in id order per contact.
    check_log_ranked(&emulator.updates(), &ids.keys().copied().collect(), &ids);
    let (da, db) = (a.delivered(), b.delivered());
    assert!(
        !da.is_empty() && !db.is_empty(),
        "A delivered {da:?}, B {db:?}"
    );
    let all: BTreeSet<u64> = da.iter().chain(db.iter()).copied().collect();
    assert_eq!(all.len(), da.len() + db.len(), "told twice");
    assert_eq!(all, ids.values().copied().collect());
    assert_eq!(delivered_counter(&path), 80);
}

#[test]
fn a_lease_shorter_than_a_call_is_refused_naming_the_option_and_the_rule() {
    let emulator = emulator(true, Faults::default());
    let path = fresh_file("short-lease");
    // The test client's calls may take 5 s: a lease must be at least 6 s.
    let mut options = fast();
    options.lease = Some(Duration::from_millis(5_999));
    let e = Outbox::open(client(&emulator.endpoint_url()), &path, options).unwrap_err();
    assert_eq!(e.status(), connect_contact::Status::InvalidConfig, "{e:?}");
    assert!(e.message().contains("outbox option lease"), "{e}");
    assert!(e.message().contains("timeout + 1 s (6000 ms)"), "{e}");
    assert!(!path.exists(), "nothing written");
    let o = connect_contact::OutboxOptions::from_json(r#"{"lease_ms": 6000}"#).unwrap();
    assert_eq!(o.lease, Some(Duration::from_secs(6)));
    let mut options = fast();
    options.lease = o.lease;
    Outbox::open(client(&emulator.endpoint_url()), &path, options)
        .unwrap()
        .close();
}
