//! `connect-contact bulk` against the emulator in quota mode: interrupted with SIGINT and
//! SIGKILL at seeded points and resumed until done, every good line reaches the service (its
//! own reference key is in the update log), nothing is stored twice beyond what the kills
//! explain, the emulator ends as if every good line had been applied in order, and the
//! failures file lists exactly the bad lines; the progress display in a pseudo-terminal
//! (util-linux `script`).

mod common;
// The library's tests' PostgreSQL server (a server of this test process's own).
#[path = "../../tests/support/postgres.rs"]
mod postgres_support;

use std::collections::BTreeSet;
use std::io::Read;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;
use connect_contact::{ClientConfig, UpdateContactRequest};
use connect_emulator::{Quota, DEFAULT_ACCESS_KEY_ID, DEFAULT_SECRET_ACCESS_KEY};
use serde_json::Value;

/// The outbox's delivery threads in a bulk run (the library's default; bulk does not change
/// it): calls that may be in flight when a run is killed.
const WORKERS: u64 = 4;

/// The store after applying every good line in order, one call each, on a fresh emulator.
fn expected_store(text: &str) -> Value {
    let reference = emulator(None);
    // Nothing from this process's environment (no profile, retry or endpoint settings).
    let settings = ClientConfig {
        region: Some("us-east-1".into()),
        endpoint_url: Some(reference.endpoint_url()),
        access_key_id: Some(DEFAULT_ACCESS_KEY_ID.into()),
        secret_access_key: Some(DEFAULT_SECRET_ACCESS_KEY.into()),
        ..ClientConfig::default()
    }
    .resolve_with(&|name| match name {
        "AWS_CONFIG_FILE" | "AWS_SHARED_CREDENTIALS_FILE" => Some("/dev/null".into()),
        "HOME" => Some("/nonexistent".into()),
        _ => None,
    });
    let client = connect_contact::Client::with_settings(settings.unwrap());
    for line in text.lines() {
        if let Ok(request) = UpdateContactRequest::from_json(line) {
            if client.update_contact(&request).is_ok() {
                continue;
            }
            // Only bad lines may fail.
            assert!(
                connect_contact::validate(&request, Default::default()).is_err(),
                "{line}"
            );
        }
    }
    let store = contacts(&reference.endpoint_url());
    reference.shutdown().unwrap();
    store
}

#[test]
fn interrupted_and_killed_runs_resume_to_the_state_of_every_good_line_in_order() {
    let seed = seed();
    let mut rng = Rng(seed);
    let replay = format!("seed {seed}; replay with CONNECT_BULK_TEST_SEED={seed}");
    let dir = scratch("resume");
    // Two lines per contact: merged when both wait, sent apart when not.
    let (text, bad) = input(1000, 500);
    let good = 1000 - bad.len() as u64;
    std::fs::write(dir.join("in.jsonl"), &text).unwrap();
    let journal = dir.join("in.jsonl.outbox.progress");
    let service = emulator(Some(Quota {
        rps: 60.0,
        burst: 10.0,
    }));
    let url = service.endpoint_url();
    let (mut interruptions, mut kills) = (0, 0u64);
    let mut cuts = Vec::new();
    let mut done = None;
    for round in 0..30 {
        let mut child = bulk(&url, &dir, &["--rate", "60", "--burst", "10"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        if round < 6 {
            // The cut point, from the files: after some more lines are journaled (while the
            // input is read), or after some more calls reached the service (while delivering).
            let records = journal_records(&journal).len();
            let while_reading = records < 900 && rng.below(2) == 0;
            let reached = if while_reading {
                let target = records + 20 + rng.below(300.min(980 - records as u64)) as usize;
                cuts.push(format!("line record {target}"));
                wait_until(&mut child, Duration::from_secs(60), || {
                    journal_records(&journal).len() >= target
                })
            } else {
                let target =
                    service.updates().as_array().unwrap().len() + 10 + rng.below(60) as usize;
                cuts.push(format!("call {target}"));
                wait_until(&mut child, Duration::from_secs(60), || {
                    service.updates().as_array().unwrap().len() >= target
                })
            };
            if reached {
                if round % 2 == 0 {
                    let _ = Command::new("kill")
                        .args(["-INT", &child.id().to_string()])
                        .status();
                    let status = wait(&mut child, Duration::from_secs(60));
                    let mut err = String::new();
                    child
                        .stderr
                        .take()
                        .unwrap()
                        .read_to_string(&mut err)
                        .unwrap();
                    if status.code() == Some(130) {
                        interruptions += 1;
                        assert!(
                            err.contains("run the same command to resume"),
                            "{replay}: {err}"
                        );
                    }
                    continue;
                }
                child.kill().unwrap();
                let _ = child.wait();
                kills += 1;
                continue;
            }
        }
        let status = wait(&mut child, Duration::from_secs(120));
        let mut err = String::new();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut err)
            .unwrap();
        if status.code() == Some(1) || status.success() {
            done = Some(err);
            break;
        }
    }
    let replay = format!("{replay}; cuts at {cuts:?}");
    let summary = done.unwrap_or_else(|| panic!("{replay}: bulk did not finish within 30 runs"));
    assert!(
        interruptions >= 1 && kills >= 1,
        "{replay}: {interruptions} interrupted, {kills} killed"
    );
    assert!(
        summary.contains("bulk: 1000 requests: ") && summary.contains(" delivered, 10 failed"),
        "{replay}: {summary}"
    );
    // Delivered, as the outbox counted it: every good line once, plus at most the one line
    // each kill may store twice (the window between the outbox's commit and the journal's).
    let delivered = delivered_in(&summary);
    assert!(
        (good..=good + kills).contains(&delivered),
        "{replay}: {delivered} delivered for {good} good lines and {kills} kills"
    );
    // The service saw every good line at least once (its own reference key), no bad one, and
    // no more calls than one per good line plus what each kill may repeat: the calls in
    // flight (one per delivery thread) and the twice-stored line.
    let updates = service.updates();
    let seen = deliveries_by_key(&updates);
    let lost: Vec<usize> = (1..=1000)
        .filter(|n| !bad.contains(&(*n as u64)) && !seen.contains_key(&reference_key(*n)))
        .collect();
    assert!(lost.is_empty(), "{replay}: lines never delivered: {lost:?}");
    assert_eq!(
        seen.len() as u64,
        good,
        "{replay}: keys of lines that are not good"
    );
    let calls = updates.as_array().unwrap().len() as u64;
    assert!(
        calls <= good + kills * (WORKERS + 1),
        "{replay}: {calls} calls for {good} good lines and {kills} kills"
    );

    let failures = std::fs::read_to_string(dir.join("in.jsonl.failures.jsonl")).unwrap();
    let listed: Vec<u64> = failures
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["line"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(listed.len(), bad.len(), "{replay}: {failures}");
    assert_eq!(
        listed.iter().copied().collect::<BTreeSet<_>>(),
        bad,
        "{replay}"
    );

    assert_eq!(contacts(&url), expected_store(&text), "{replay}");
    service.shutdown().unwrap();

    // The failures file can be fed back in: each of its lines is its bad request again.
    let again = scratch("again");
    std::fs::write(again.join("in.jsonl"), &failures).unwrap();
    let out = output(bulk("http://127.0.0.1:9", &again, &["--dry-run"]));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("10 requests, 0 valid, 10 bad"), "{err}");
    let _ = std::fs::remove_dir_all(&again);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn dry_run_reports_bad_lines_and_sends_nothing() {
    let dir = scratch("dry");
    let (text, bad) = input(300, 50);
    std::fs::write(dir.join("in.jsonl"), &text).unwrap();
    // Nothing listens on port 9: a send would fail.
    let out = output(bulk("http://127.0.0.1:9", &dir, &["--dry-run"]));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    for n in &bad {
        assert!(err.contains(&format!("line {n}: ")), "{err}");
    }
    assert!(
        err.contains("300 requests, 297 valid, 3 bad; nothing sent"),
        "{err}"
    );
    assert!(!dir.join("in.jsonl.outbox").exists());
    // The same from stdin (`-`).
    let stdin = from_stdin(
        &bulk("http://127.0.0.1:9", &dir, &["--dry-run"]),
        &dir.join("in.jsonl"),
    );
    let out = output(stdin);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("300 requests, 297 valid, 3 bad; nothing sent"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_progress_bar_shows_in_a_terminal_and_ends_with_the_summary() {
    let dir = scratch("pty");
    let (text, _) = input(200, 200);
    std::fs::write(dir.join("in.jsonl"), &text).unwrap();
    let service = emulator(Some(Quota {
        rps: 40.0,
        burst: 5.0,
    }));
    let command = bulk(
        &service.endpoint_url(),
        &dir,
        &["--rate", "40", "--burst", "5"],
    );
    let line: Vec<String> = std::iter::once(BIN.to_string())
        .chain(
            command
                .get_args()
                .map(|a| format!("'{}'", a.to_string_lossy())),
        )
        .collect();
    let mut script = Command::new("script");
    script
        .args(["-qfec", &line.join(" "), "/dev/null"])
        .current_dir(&dir)
        .env_clear()
        .envs(command.get_envs().filter_map(|(k, v)| v.map(|v| (k, v))))
        .env("TERM", "xterm")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = script.spawn().expect("script (util-linux) runs");
    let status = wait(&mut child, Duration::from_secs(120));
    let mut screen = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut screen)
        .unwrap();
    assert_eq!(status.code(), Some(1), "{screen}");
    // The bar redraws in place: several positions, pending and rate, then the summary.
    assert!(screen.contains("/200 done"), "{screen}");
    assert!(
        screen.contains("pending") && screen.contains("/s") && screen.contains("ETA"),
        "{screen}"
    );
    assert!(
        screen.contains('\r') || screen.contains("\x1b["),
        "no redraw: {screen:?}"
    );
    assert!(
        screen.contains("bulk: 200 requests: 198 delivered, 2 failed"),
        "{screen}"
    );
    assert!(
        !screen.contains("bulk: 0/200 done,"),
        "plain lines on a terminal: {screen}"
    );
    service.shutdown().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn plain_lines_when_stderr_is_not_a_terminal() {
    let dir = scratch("plain");
    let (text, _) = input(120, 120);
    std::fs::write(dir.join("in.jsonl"), &text).unwrap();
    let service = emulator(Some(Quota {
        rps: 40.0,
        burst: 5.0,
    }));
    let out = output(bulk(
        &service.endpoint_url(),
        &dir,
        &["--rate", "40", "--progress-interval", "0.5"],
    ));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.lines()
            .any(|l| l.starts_with("bulk: ") && l.contains("/120 done, ") && l.contains("ETA")),
        "{err}"
    );
    assert!(!err.contains('\r') && !err.contains("\x1b["), "{err:?}");
    assert!(
        err.contains("bulk: 120 requests: 119 delivered, 1 failed"),
        "{err}"
    );
    service.shutdown().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_postgresql_outbox_takes_the_same_run_and_never_shows_its_password() {
    let dir = scratch("postgres");
    let (text, bad) = input(60, 12);
    std::fs::write(dir.join("in.jsonl"), &text).unwrap();
    let pg = postgres_support::Postgres::start();
    let url = pg.database("bulk");
    let service = emulator(None);
    let out = output(bulk(
        &service.endpoint_url(),
        &dir,
        &[
            "--outbox", &url, "--queue", "bulk-run", "--rate", "100", "--burst", "20",
        ],
    ));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!(
            "bulk: 60 requests: {} delivered, {} failed",
            60 - bad.len(),
            bad.len()
        )),
        "{err}"
    );
    assert!(!err.contains(postgres_support::PASSWORD), "{err}");
    // The journal and the lock are beside the input; nothing is named after the URL.
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(
        files,
        [
            "in.jsonl",
            "in.jsonl.failures.jsonl",
            "in.jsonl.lock",
            "in.jsonl.progress"
        ],
    );
    assert_eq!(contacts(&service.endpoint_url()), expected_store(&text));
    // The queue holds nothing more (the bad lines went to the failures file).
    let db = url.rsplit('/').next().unwrap().split('?').next().unwrap();
    assert_eq!(
        pg.psql(
            db,
            "SELECT COUNT(*) FROM connect_outbox WHERE queue = 'bulk-run'"
        ),
        "0"
    );
    // Another run holds the lock: refused, naming the outbox without its password.
    let mut holder = Command::new("flock")
        .args(["in.jsonl.lock", "sleep", "30"])
        .current_dir(&dir)
        .spawn()
        .unwrap();
    let lock = dir.join("in.jsonl.lock");
    assert!(
        wait_until(&mut holder, Duration::from_secs(10), || {
            std::process::Command::new("flock")
                .args(["-n", lock.to_str().unwrap(), "true"])
                .status()
                .is_ok_and(|s| !s.success())
        }),
        "flock did not take the lock"
    );
    let out = output(bulk(&service.endpoint_url(), &dir, &["--outbox", &url]));
    let _ = holder.kill();
    let _ = holder.wait();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "is using postgresql://connect@127.0.0.1:{}/",
            pg.port()
        )),
        "{err}"
    );
    assert!(!err.contains(postgres_support::PASSWORD), "{err}");
    // The password may stay out of the command line (where other users can read it): a URL
    // without one takes PGPASSWORD, as libpq's programs do.
    let quiet = scratch("postgres-pgpassword");
    let (small, small_bad) = input(10, 5);
    std::fs::write(quiet.join("in.jsonl"), &small).unwrap();
    let bare = url.replace(&format!(":{}@", postgres_support::PASSWORD), "@");
    assert!(!bare.contains(postgres_support::PASSWORD));
    let mut command = bulk(
        &service.endpoint_url(),
        &quiet,
        &["--outbox", &bare, "--queue", "quiet"],
    );
    command.env("PGPASSWORD", postgres_support::PASSWORD);
    let out = output(command);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "bulk: 10 requests: {} delivered",
            10 - small_bad.len()
        )),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&quiet);
    // A bad queue name is refused before anything starts, naming the option.
    let out = output(bulk(
        &service.endpoint_url(),
        &dir,
        &["--outbox", &url, "--queue", "two words"],
    ));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(252), "{err}");
    assert!(
        err.contains("argument --queue: invalid value: 'two words'"),
        "{err}"
    );
    service.shutdown().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}
