//! `connect-contact bulk` refusing what it must: a second run on an outbox in use, options out
//! of range, lines that are not UTF-8; and keeping its files owner-only whatever the umask.

mod common;

use std::collections::BTreeSet;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use common::*;
use connect_emulator::Quota;

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The files in `dir` other than the input.
fn written(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n != "in.jsonl")
        .collect();
    names.sort();
    names
}

#[test]
fn a_second_run_on_the_same_outbox_refuses_at_once_naming_the_first() {
    let dir = scratch("lock");
    // One contact per line (nothing merges), 3 bad lines; at 30 calls/s, about 10 s.
    let (text, bad) = input(300, 300);
    let good = 300 - bad.len();
    std::fs::write(dir.join("in.jsonl"), &text).unwrap();
    let journal = dir.join("in.jsonl.outbox.progress");
    let service = emulator(Some(Quota {
        rps: 30.0,
        burst: 5.0,
    }));
    let url = service.endpoint_url();
    let args = ["--rate", "30", "--burst", "5"];
    let mut first = bulk(&url, &dir, &args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // It holds the lock once it journals its first line.
    assert!(
        wait_until(&mut first, Duration::from_secs(60), || {
            !journal_records(&journal).is_empty()
        }),
        "the first run ended before journaling a line"
    );
    let started = Instant::now();
    let second = output(bulk(&url, &dir, &args));
    let took = started.elapsed();
    let err = stderr(&second);
    assert_eq!(second.status.code(), Some(255), "{err}");
    assert!(
        first.try_wait().unwrap().is_none(),
        "the first run ended before the second was refused: the test proves nothing"
    );
    assert!(
        err.contains(&format!(
            "bulk: another bulk run (pid {}) is using in.jsonl.outbox",
            first.id()
        )) && err.contains("in.jsonl.outbox.lock"),
        "{err}"
    );
    // At once: it waits for nothing (a generous ceiling for a loaded machine).
    assert!(took < Duration::from_secs(10), "{took:?}");

    let status = wait(&mut first, Duration::from_secs(120));
    let mut summary = String::new();
    first
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut summary)
        .unwrap();
    assert_eq!(status.code(), Some(1), "{summary}");
    assert!(
        summary.contains(&format!("bulk: 300 requests: {good} delivered, 3 failed")),
        "{summary}"
    );
    // Each line handled once in the journal, and each good line sent once.
    let records = journal_records(&journal);
    let lines: Vec<&str> = records
        .iter()
        .map(|r| r.rsplit(' ').next().unwrap())
        .collect();
    let distinct: BTreeSet<&str> = lines.iter().copied().collect();
    assert_eq!((lines.len(), distinct.len()), (300, 300), "{records:?}");
    let seen = deliveries_by_key(&service.updates());
    assert_eq!(seen.len(), good);
    assert!(seen.values().all(|&times| times == 1), "{seen:?}");

    // The lock died with its holder: the same command now runs, and has nothing to send.
    let again = output(bulk(&url, &dir, &args));
    assert_eq!(again.status.code(), Some(1), "{}", stderr(&again));
    assert_eq!(service.updates().as_array().unwrap().len(), good);
    service.shutdown().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_journal_failures_and_lock_files_are_owner_only_whatever_the_umask() {
    let dir = scratch("modes");
    let (text, _) = input(40, 40);
    std::fs::write(dir.join("in.jsonl"), &text).unwrap();
    // A failures file left world-readable by an older run is narrowed too.
    let failures = dir.join("in.jsonl.failures.jsonl");
    std::fs::write(&failures, "").unwrap();
    std::fs::set_permissions(&failures, std::fs::Permissions::from_mode(0o644)).unwrap();
    let service = emulator(None);
    let out = output(under_umask(
        &bulk(&service.endpoint_url(), &dir, &[]),
        "000",
    ));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    for name in [
        "in.jsonl.outbox.progress",
        "in.jsonl.failures.jsonl",
        "in.jsonl.outbox.lock",
    ] {
        let mode = std::fs::metadata(dir.join(name))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{name}: {:o}", mode & 0o777);
    }
    service.shutdown().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn each_out_of_range_option_exits_252_naming_the_option_and_its_rule() {
    let dir = scratch("options");
    let (text, _) = input(150, 10);
    std::fs::write(dir.join("in.jsonl"), &text).unwrap();
    let range = |option: &str, value: &str| {
        format!("argument {option}: invalid value: '{value}' (must be ")
    };
    let kind = |option: &str, kind: &str, value: &str| {
        format!("argument {option}: invalid {kind} value: '{value}'")
    };
    let mut refused: Vec<(&str, &str, String)> = Vec::new();
    for value in ["0", "-1", "100001", "1e30", "inf", "-inf", "NaN"] {
        refused.push(("--rate", value, range("--rate", value)));
    }
    refused.push(("--rate", "fast", kind("--rate", "float", "fast")));
    for value in ["0", "100001", "99999999999"] {
        refused.push(("--burst", value, range("--burst", value)));
    }
    for value in ["-1", "2.5", "many"] {
        refused.push(("--burst", value, kind("--burst", "int", value)));
    }
    for value in ["0", "0.09", "-5", "86401", "1e30", "inf", "NaN"] {
        refused.push((
            "--progress-interval",
            value,
            range("--progress-interval", value),
        ));
    }
    refused.push((
        "--progress-interval",
        "soon",
        kind("--progress-interval", "float", "soon"),
    ));
    for (option, value, expected) in &refused {
        // Refused before anything is read, written or sent (nothing listens on port 9).
        for dry in [false, true] {
            let mut extra = vec![*option, *value];
            if dry {
                extra.push("--dry-run");
            }
            // A refusal is immediate; an accepted value would retry the dead endpoint.
            let out = output_within(
                &mut bulk("http://127.0.0.1:9", &dir, &extra),
                Duration::from_secs(20),
            );
            let err = stderr(&out);
            assert_eq!(out.status.code(), Some(252), "{option} {value}: {err}");
            assert!(
                err.starts_with("usage: connect-contact ")
                    && err.contains(&format!("connect-contact: error: {expected}")),
                "{option} {value}: {err}"
            );
            assert!(!err.contains("panicked"), "{err}");
            assert_eq!(written(&dir), Vec::<String>::new(), "{option} {value}");
        }
    }
    // The bounds themselves are accepted.
    for (option, value) in [
        ("--rate", "100000"),
        ("--rate", "0.5"),
        ("--burst", "1"),
        ("--burst", "100000"),
        ("--progress-interval", "0.1"),
        ("--progress-interval", "86400"),
    ] {
        let out = output(bulk(
            "http://127.0.0.1:9",
            &dir,
            &[option, value, "--dry-run"],
        ));
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{option} {value}: {err}");
        assert!(err.contains("150 requests, 148 valid, 2 bad"), "{err}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_line_that_is_not_utf8_is_a_bad_line_and_a_byte_order_mark_is_skipped() {
    let dir = scratch("utf8");
    let mut bytes = b"\xEF\xBB\xBF".to_vec();
    bytes.extend_from_slice(br#"{"InstanceId": "inst", "ContactId": "c1", "Name": "first"}"#);
    bytes.extend_from_slice(b"\r\n");
    bytes.extend_from_slice(
        b"{\"InstanceId\": \"inst\", \"ContactId\": \"c2\", \"Name\": \"Ren\xE9e\"}\n",
    );
    bytes.extend_from_slice(br#"{"InstanceId": "inst", "ContactId": "c3", "Name": "third"}"#);
    bytes.push(b'\n');
    std::fs::write(dir.join("in.jsonl"), &bytes).unwrap();
    let verdict = "line 2: the request is not valid UTF-8 (byte 55 of the line)";

    let dry = bulk("http://127.0.0.1:9", &dir, &["--dry-run"]);
    for (how, command) in [
        ("file", bulk("http://127.0.0.1:9", &dir, &["--dry-run"])),
        ("stdin", from_stdin(&dry, &dir.join("in.jsonl"))),
    ] {
        let out = output(command);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{how}: {err}");
        assert!(err.contains(verdict), "{how}: {err}");
        assert!(
            !err.contains("line 1:") && !err.contains("line 3:"),
            "{how}: {err}"
        );
        assert!(err.contains("3 requests, 2 valid, 1 bad"), "{how}: {err}");
    }

    let service = emulator(None);
    let out = output(bulk(&service.endpoint_url(), &dir, &[]));
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains(verdict), "{err}");
    assert!(
        err.contains("bulk: 3 requests: 2 delivered, 1 failed"),
        "{err}"
    );
    let failures = std::fs::read_to_string(dir.join("in.jsonl.failures.jsonl")).unwrap();
    let listed: Vec<serde_json::Value> = failures
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(listed.len(), 1, "{failures}");
    assert_eq!(listed[0]["line"], 2);
    assert!(listed[0]["error"]
        .as_str()
        .unwrap()
        .contains("not valid UTF-8"));
    // Nothing replaced reached the service: only the two good lines, as written.
    let updates = service.updates().to_string();
    assert!(
        !updates.contains('\u{FFFD}') && !updates.contains("c2"),
        "{updates}"
    );
    assert!(
        updates.contains("first") && updates.contains("third"),
        "{updates}"
    );
    service.shutdown().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}
