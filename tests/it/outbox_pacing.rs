//! The shared pacer across processes (issue 27): four processes delivering from one outbox
//! file against the emulator's account quota pace as one — few throttles AND most of the
//! quota used, so neither an overeager nor a sluggish pacer passes. The figures at the
//! service's 2 rps are examples/outbox_bench.rs's (docs/outbox.md#figures); this is the same
//! run at a scaled quota (20 rps, burst 10) for about 10 s.
//!
//! Child processes are this test binary run again on `outbox_pacing::child_process` with
//! `OUTBOX_PACING_CHILD` set: each waits for a common start time, opens the file and flushes
//! it, then prints `delivering-took <seconds since the start>`.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::support::outbox::{parked_options, quota_emulator};
use connect_contact::{Client, Outbox, OutboxOptions, OutboxStats};
use serde_json::{json, Value};

const CHILD_ENV: &str = "OUTBOX_PACING_CHILD";
const RATE: f64 = 20.0;
const BURST: u32 = 10;
const PROCESSES: usize = 4;
/// Delivery takes about this long at the quota: `BURST + RATE × SECONDS` updates.
const SECONDS: f64 = 10.0;

/// The pacer must deliver at least this fraction of what the quota allows over the time it
/// took (`burst + rate × elapsed`): at a fifth of the rate it delivers about 0.2.
pub(crate) const MIN_FRACTION_OF_QUOTA: f64 = 0.85;

/// At most 2% of the attempts throttled, plus this many: the pacer starts at exactly the
/// quota's rate, so the emulator's bucket has no slack and one early call may be refused
/// (one cut), and a slow probe above the rate may find the quota once more
/// (docs/outbox.md#figures).
pub(crate) const THROTTLE_SLACK: u64 = 2;

/// Whether `delivered` updates over `elapsed` is at least [`MIN_FRACTION_OF_QUOTA`] of
/// `burst + rate × elapsed`; the message gives the figures.
pub(crate) fn check_fraction_of_quota(
    delivered: u64,
    elapsed: Duration,
    rate: f64,
    burst: u32,
) -> Result<(), String> {
    let allowed = f64::from(burst) + rate * elapsed.as_secs_f64();
    let fraction = delivered as f64 / allowed;
    if fraction >= MIN_FRACTION_OF_QUOTA {
        Ok(())
    } else {
        Err(format!(
            "{delivered} delivered in {:.2} s is {fraction:.3} of the {allowed:.0} that {rate}/s with a burst of {burst} allow (at least {MIN_FRACTION_OF_QUOTA} required)",
            elapsed.as_secs_f64()
        ))
    }
}

/// Whether at most 2% of the attempts plus [`THROTTLE_SLACK`] were throttled.
pub(crate) fn check_throttled(stats: &OutboxStats) -> Result<(), String> {
    let allowed = (stats.attempts as f64 * 0.02).floor() as u64 + THROTTLE_SLACK;
    if stats.throttled <= allowed {
        Ok(())
    } else {
        Err(format!(
            "{} of {} attempts throttled (at most 2% + {THROTTLE_SLACK} = {allowed} allowed)",
            stats.throttled, stats.attempts
        ))
    }
}

fn client(endpoint: &str) -> Arc<Client> {
    Arc::new(crate::support::client(
        &crate::support::outbox::emulator_config(endpoint),
    ))
}

fn epoch_seconds() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

fn options() -> OutboxOptions {
    let mut o = OutboxOptions::default();
    o.rate = RATE;
    o.burst = BURST;
    // Distinct contacts, nothing to coalesce; one attempt per update unless throttled.
    o.max_coalesce = 1;
    o
}

/// The file's counters, through a parked handle. It points at the emulator too, so the one
/// call it may make is counted like every other (accepted or throttled) and the file's
/// totals stay comparable with the emulator's log.
fn counters(path: &std::path::Path, endpoint: &str) -> OutboxStats {
    let outbox = Outbox::open(client(endpoint), path, parked_options()).unwrap();
    let stats = outbox.stats();
    outbox.close();
    stats
}

/// Not a test on its own: the body of a child process (does nothing without
/// OUTBOX_PACING_CHILD).
#[test]
fn child_process() {
    let Ok(spec) = std::env::var(CHILD_ENV) else {
        return;
    };
    println!();
    let spec: Value = serde_json::from_str(&spec).unwrap();
    let start_at = spec["start_at"].as_f64().unwrap();
    // Bounded: the parent sets the start at most a few seconds ahead.
    std::thread::sleep(Duration::from_secs_f64(
        (start_at - epoch_seconds()).clamp(0.0, 30.0),
    ));
    let outbox = Outbox::open(
        client(spec["endpoint"].as_str().unwrap()),
        spec["file"].as_str().unwrap(),
        options(),
    )
    .unwrap();
    // A generous ceiling: a pacer five times too slow still finishes (in about 50 s) and is
    // caught by the fraction of the quota, not by this timeout.
    assert!(outbox.flush(Duration::from_secs(150)).unwrap());
    println!("delivering-took {}", epoch_seconds() - start_at);
    outbox.close();
}

#[test]
fn four_processes_on_one_file_pace_as_one_near_the_quota() {
    let emulator = quota_emulator(RATE, f64::from(BURST));
    let dir = crate::support::scratch_dir("outbox-pacing");
    let path = dir.join(format!("four-processes-{}.db", std::process::id()));
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    let total = (f64::from(BURST) + RATE * SECONDS) as u64;
    {
        // Preloaded with delivery parked, so every process starts on a full file together.
        let parked =
            Outbox::open(client(&emulator.endpoint_url()), &path, parked_options()).unwrap();
        for seq in 0..total {
            parked
                .enqueue(&crate::support::outbox::update("pacing", seq, total))
                .unwrap();
        }
        parked.close();
    }
    let before = counters(&path, &emulator.endpoint_url());
    assert!(before.pending + 2 >= total, "parked: {before:?}");
    // Far enough ahead for four debug test binaries to start on a loaded machine.
    let start_at = epoch_seconds() + 3.0;
    let children: Vec<_> = (0..PROCESSES)
        .map(|_| {
            crate::support::command(std::env::current_exe().unwrap())
                .args([
                    "outbox_pacing::child_process",
                    "--exact",
                    "--nocapture",
                    "--test-threads=1",
                ])
                .env(
                    CHILD_ENV,
                    json!({"file": path, "endpoint": emulator.endpoint_url(), "start_at": start_at})
                        .to_string(),
                )
                .stdout(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut elapsed = 0f64;
    for child in children {
        let out = child.wait_with_output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "a child failed:\n{text}");
        let took = text
            .lines()
            .find_map(|l| l.strip_prefix("delivering-took "))
            .unwrap_or_else(|| panic!("no time in:\n{text}"));
        elapsed = elapsed.max(took.trim().parse().unwrap());
    }
    let after = counters(&path, &emulator.endpoint_url());
    let accepted = emulator.updates().as_array().unwrap().len() as u64;
    assert_eq!((after.pending, after.dead), (0, 0));
    assert_eq!(after.delivered, total);
    assert_eq!(accepted, total, "each update reached the service once");
    // What the four delivered while the clock ran (a parked handle may have sent one or two
    // before: not theirs).
    let delivered = after.delivered - before.delivered;
    // Every attempt the file counted is one the emulator accepted or throttled: the counters
    // are the service's view, not the pacer's opinion of itself.
    assert_eq!(
        after.attempts,
        accepted + after.throttled,
        "attempts = accepted + throttled"
    );
    println!(
        "{PROCESSES} processes, quota {RATE}/s burst {BURST}: {delivered} delivered in {elapsed:.2} s, {} of {} attempts throttled",
        after.throttled, after.attempts
    );
    let throttled = check_throttled(&after);
    let fraction =
        check_fraction_of_quota(delivered, Duration::from_secs_f64(elapsed), RATE, BURST);
    assert!(
        throttled.is_ok() && fraction.is_ok(),
        "{PROCESSES} processes on one file: {:?}; {:?}",
        throttled,
        fraction
    );
    // Shared, not four pacers: four at the full rate would be throttled on most attempts.
    assert!(
        elapsed < SECONDS * 10.0,
        "a generous ceiling: {elapsed:.1} s"
    );
}

#[test]
fn the_pacing_bounds_fail_a_slow_or_throttled_pacer() {
    // The bounds themselves: at a fifth of the rate over the same updates, or with one
    // attempt in ten throttled, the checks fail.
    let total = u64::from(BURST) + (RATE * SECONDS) as u64;
    assert!(check_fraction_of_quota(total, Duration::from_secs_f64(SECONDS), RATE, BURST).is_ok());
    let slow = Duration::from_secs_f64(SECONDS * 5.0);
    assert!(check_fraction_of_quota(total, slow, RATE, BURST).is_err());
    assert!(check_throttled(&counters_like(total, 4)).is_ok());
    assert!(check_throttled(&counters_like(total, total / 10)).is_err());
}

fn counters_like(delivered: u64, throttled: u64) -> OutboxStats {
    OutboxStats {
        delivered,
        throttled,
        attempts: delivered + throttled,
        ..OutboxStats::default()
    }
}
