//! `connect-contact outbox stats|dead-letters|retry|discard` on an outbox file this test's own
//! handle has open (as the program that owns it would): outputs, exit codes, and nothing
//! changed by a read-only command (the pending rows and the shared pacer row compared before
//! and after); a file that is not an outbox refused untouched; a missing file not created.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{scratch, BIN};
use connect_contact::{
    Client, ClientConfig, Outbox, OutboxAdmin, OutboxOptions, UpdateContactRequest,
};
use connect_emulator::{
    Emulator, EmulatorConfig, DEFAULT_ACCESS_KEY_ID, DEFAULT_SECRET_ACCESS_KEY,
};
use serde_json::{json, Value};

/// The sensitive values the updates carry: never printed.
const SECRET_NAME: &str = "secret-name";
const SECRET_DESCRIPTION: &str = "secret-description";

fn outbox_command(args: &[&str]) -> Output {
    let mut c = Command::new(BIN);
    c.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", "/nonexistent")
        .arg("outbox")
        .args(args)
        .stdin(Stdio::null());
    common::output_within(&mut c, Duration::from_secs(60))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// An update to a contact the service does not have: a dead letter at its first attempt.
fn update(n: u64) -> UpdateContactRequest {
    UpdateContactRequest::from_json(
        &json!({
            "InstanceId": "inst",
            "ContactId": format!("gone-{n}"),
            "Name": format!("{SECRET_NAME}-{n}"),
            "Description": SECRET_DESCRIPTION,
        })
        .to_string(),
    )
    .unwrap()
}

/// A client of the emulator at `endpoint` resolved without this machine's environment or
/// profile files (the suite runs among hostile `AWS_*` settings).
fn clean_client(endpoint: &str) -> Arc<Client> {
    let config = ClientConfig::from_json(
        &json!({
            "region": "us-east-1",
            "endpoint_url": endpoint,
            "access_key_id": DEFAULT_ACCESS_KEY_ID,
            "secret_access_key": DEFAULT_SECRET_ACCESS_KEY,
            "max_attempts": 1,
        })
        .to_string(),
    )
    .unwrap();
    let settings = config
        .resolve_with(&|name| match name {
            "AWS_CONFIG_FILE" | "AWS_SHARED_CREDENTIALS_FILE" => Some("/dev/null".into()),
            "HOME" => Some("/nonexistent".into()),
            _ => None,
        })
        .unwrap();
    Arc::new(Client::with_settings(settings))
}

fn options(rate: f64, burst: u32) -> OutboxOptions {
    let mut o = OutboxOptions::default();
    o.rate = rate;
    o.burst = burst;
    o.workers = 1;
    o
}

fn wait_for(what: &str, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !ready() {
        assert!(Instant::now() < deadline, "not within 30 s: {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// An outbox file with 4 dead letters (ids 1 to 4) and 2 pending updates (5, 6), and the
/// handle that keeps it open: paced to one call in 1000 s, its one token spent, so nothing
/// more is sent while the test runs.
struct Fixture {
    _dir: PathBuf,
    path: PathBuf,
    _service: Emulator,
    owner: Outbox,
}

fn fixture(name: &str) -> Fixture {
    let dir = scratch(&format!("outbox-{name}"));
    let path = dir.join("app.outbox");
    // No contact exists: every update is refused (ResourceNotFoundException), for good.
    let service = Emulator::start(EmulatorConfig {
        auto_create: false,
        log: false,
        ..EmulatorConfig::default()
    })
    .unwrap();
    let client = clean_client(&service.endpoint_url());
    let fast = Outbox::open(Arc::clone(&client), &path, options(1000.0, 10)).unwrap();
    for n in 1..=3 {
        fast.enqueue(&update(n)).unwrap();
    }
    assert!(fast.flush(Duration::from_secs(30)).unwrap());
    fast.close();
    let owner = Outbox::open(client, &path, options(0.001, 1)).unwrap();
    owner.enqueue(&update(4)).unwrap();
    wait_for("the fourth dead letter", || owner.stats().dead == 4);
    for n in 5..=6 {
        owner.enqueue(&update(n)).unwrap();
    }
    // Its delivery thread has booked the next call (the bucket below zero) and waits 1000 s;
    // the pacer row then stays as it is (checked over 1.5 s, more than its idle wake-up).
    let mut settled = (rows(&path), Instant::now());
    wait_for("the next call booked, the pacer row settled", || {
        let now = rows(&path);
        let booked = now
            .iter()
            .any(|r| r.starts_with("outbox_pacer: ") && r.contains("Real(-"));
        if now != settled.0 {
            settled = (now, Instant::now());
        }
        booked && settled.1.elapsed() > Duration::from_millis(1500)
    });
    let stats = owner.stats();
    assert_eq!((stats.pending, stats.dead), (2, 4), "{stats:?}");
    Fixture {
        _dir: dir,
        path,
        _service: service,
        owner,
    }
}

impl Fixture {
    fn run(&self, args: &[&str]) -> Output {
        run_on(&self.path, args)
    }
}

/// `outbox COMMAND PATH REST...` for `args` = `[COMMAND, REST...]`.
fn run_on(path: &Path, args: &[&str]) -> Output {
    {
        let (command, rest) = args.split_first().unwrap();
        let path = path.to_str().unwrap();
        let all: Vec<&str> = [*command, path]
            .into_iter()
            .chain(rest.iter().copied())
            .collect();
        outbox_command(&all)
    }
}

/// Every row of the outbox table and of the shared pacer, as text.
fn rows(path: &Path) -> Vec<String> {
    let conn =
        rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap();
    let mut all = Vec::new();
    for table in ["outbox", "outbox_pacer", "outbox_counters"] {
        let mut stmt = conn
            .prepare(&format!("SELECT * FROM {table} ORDER BY 1"))
            .unwrap();
        let columns = stmt.column_count();
        let found: Vec<String> = stmt
            .query_map([], |r| {
                let cells: Vec<String> = (0..columns)
                    .map(|i| match r.get_ref(i).unwrap() {
                        rusqlite::types::ValueRef::Text(t) => {
                            String::from_utf8_lossy(t).into_owned()
                        }
                        other => format!("{other:?}"),
                    })
                    .collect();
                Ok(format!("{table}: {}", cells.join(" | ")))
            })
            .unwrap()
            .map(Result::unwrap)
            .collect();
        all.extend(found);
    }
    all
}

/// One sample line of the text exposition format: `name{labels} value` (labels optional).
fn sample(line: &str) -> Option<(String, f64)> {
    let (series, value) = line.rsplit_once(' ')?;
    let value: f64 = value.parse().ok()?;
    let name = match series.split_once('{') {
        Some((name, labels)) => {
            let labels = labels.strip_suffix('}')?;
            for pair in split_labels(labels)? {
                let (key, quoted) = pair.split_once('=')?;
                let ok =
                    !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
                if !ok || !quoted.starts_with('"') || !quoted.ends_with('"') || quoted.len() < 2 {
                    return None;
                }
            }
            name
        }
        None => series,
    };
    let first = name.chars().next()?;
    let ok = (first.is_ascii_alphabetic() || first == '_' || first == ':')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':');
    ok.then(|| (name.to_string(), value))
}

/// `a="x",b="y"` split at the commas outside quotes (a `\"` inside stays inside).
fn split_labels(labels: &str) -> Option<Vec<String>> {
    let (mut parts, mut current, mut quoted, mut escaped) =
        (Vec::new(), String::new(), false, false);
    for c in labels.chars() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            ',' if !quoted => {
                parts.push(std::mem::take(&mut current));
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    if quoted {
        return None;
    }
    if !current.is_empty() {
        parts.push(current);
    }
    Some(parts)
}

#[test]
fn read_only_commands_show_the_counters_and_dead_letters_and_change_nothing() {
    let f = fixture("read");
    let before = rows(&f.path);
    assert!(
        before.iter().any(|r| r.starts_with("outbox_pacer: ")),
        "{before:?}"
    );

    // The table.
    let out = f.run(&["stats"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let table = text(&out.stdout);
    let value = |name: &str| {
        table
            .lines()
            .find_map(|l| l.strip_prefix(name).map(|v| v.trim().to_string()))
            .unwrap_or_else(|| panic!("no {name} in\n{table}"))
    };
    assert_eq!(value("pending "), "2", "{table}");
    assert_eq!(value("dead "), "4", "{table}");
    assert_eq!(value("delivered "), "0", "{table}");
    assert_eq!(value("attempts "), "4", "{table}");
    assert_eq!(value("throttled "), "0", "{table}");
    assert_eq!(value("send rate "), "0.001 calls/s", "{table}");
    assert!(value("oldest pending age ").ends_with(" s"), "{table}");

    // JSON: the library's own rendering.
    let out = f.run(&["stats", "--output", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stats: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(stats["pending"], 2, "{stats}");
    assert_eq!(stats["dead"], 4, "{stats}");
    assert_eq!(stats["delivered"], 0, "{stats}");
    assert_eq!(stats["attempts"], 4, "{stats}");
    assert_eq!(stats["throttled"], 0, "{stats}");
    // 0.001 configured; the pacer probes upward a little while it is what holds sends back.
    let rate = stats["send_rate"].as_f64().unwrap();
    assert!((0.001..0.0011).contains(&rate), "{stats}");
    assert!(stats["oldest_pending_age_ms"].as_u64().is_some(), "{stats}");

    // Prometheus: every line a comment or a sample that parses, each metric typed.
    let out = f.run(&["stats", "--output", "prometheus"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let exposition = text(&out.stdout);
    let mut samples = std::collections::BTreeMap::new();
    let mut types = std::collections::BTreeMap::new();
    for line in exposition.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap();
            types.insert(name.to_string(), kind.to_string());
        } else if !line.starts_with("# HELP ") {
            let (name, value) =
                sample(line).unwrap_or_else(|| panic!("not a sample line: {line:?}\n{exposition}"));
            samples.insert(name, value);
        }
    }
    let expected = [
        ("connect_contact_outbox_pending", "gauge", 2.0),
        ("connect_contact_outbox_dead", "gauge", 4.0),
        ("connect_contact_outbox_delivered_total", "counter", 0.0),
        ("connect_contact_outbox_attempts_total", "counter", 4.0),
        ("connect_contact_outbox_throttled_total", "counter", 0.0),
    ];
    for (name, kind, value) in expected {
        assert_eq!(
            types.get(name).map(String::as_str),
            Some(kind),
            "{exposition}"
        );
        assert_eq!(samples.get(name), Some(&value), "{name}\n{exposition}");
    }
    assert_eq!(types["connect_contact_outbox_send_rate"], "gauge");
    // (serde_json reads floats to within an ulp or so.)
    let sent = samples["connect_contact_outbox_send_rate"];
    assert!((sent - rate).abs() < 1e-12, "{rate}\n{exposition}");
    assert_eq!(
        types["connect_contact_outbox_oldest_pending_age_seconds"],
        "gauge"
    );
    assert!(
        samples["connect_contact_outbox_oldest_pending_age_seconds"] >= 0.0,
        "{exposition}"
    );
    assert_eq!(types.len(), samples.len(), "{exposition}");

    // The dead letters: ids, contacts, attempts and the service's error; no request value.
    let out = f.run(&["dead-letters"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let listing = text(&out.stdout);
    let lines: Vec<&str> = listing.lines().collect();
    assert_eq!(lines.len(), 5, "{listing}");
    assert!(lines[0].starts_with("ID "), "{listing}");
    for (n, line) in (1..=4).zip(&lines[1..]) {
        let cells: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(
            &cells[..5],
            [
                n.to_string().as_str(),
                &format!("gone-{n}"),
                "1",
                "CONNECT_STATUS_RESOURCE_NOT_FOUND",
                "ResourceNotFoundException"
            ],
            "{listing}"
        );
        assert!(line.contains("not found"), "{listing}");
    }
    let out = f.run(&["dead-letters", "--output", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let listed: Value = serde_json::from_slice(&out.stdout).unwrap();
    let listed = listed.as_array().unwrap();
    assert_eq!(listed.len(), 4, "{listed:?}");
    assert_eq!(listed[0]["Id"], 1);
    assert_eq!(listed[0]["ContactId"], "gone-1");
    assert_eq!(listed[0]["Attempts"], 1);
    assert_eq!(listed[0]["Error"]["Code"], "ResourceNotFoundException");
    for output in [&listing, &Value::from(listed.clone()).to_string()] {
        assert!(
            !output.contains(SECRET_NAME) && !output.contains(SECRET_DESCRIPTION),
            "a sensitive value was printed:\n{output}"
        );
    }

    // Nothing changed: the rows, the pacer and the counters are as they were.
    assert_eq!(rows(&f.path), before);
    assert_eq!(f.owner.stats().pending, 2);
}

#[test]
fn retry_and_discard_by_id_and_all() {
    let f = fixture("steer");
    let admin = || OutboxAdmin::open(&f.path, "default").unwrap();
    let dead_ids = || -> Vec<u64> {
        admin()
            .dead_letters()
            .unwrap()
            .iter()
            .map(|d| d.id)
            .collect()
    };

    let out = f.run(&["retry", "2"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "retried 2\n");
    assert_eq!(dead_ids(), [1, 3, 4]);
    assert_eq!(f.owner.stats().pending, 3);

    // An id that is not a dead letter (pending 5, unknown 99): reported, exit 1, the rest done.
    let out = f.run(&["discard", "3", "5", "99"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "discarded 3\n");
    assert!(
        text(&out.stderr).contains("outbox discard: not a dead letter: 5, 99"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(dead_ids(), [1, 4]);
    let out = f.run(&["retry", "99"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert_eq!(dead_ids(), [1, 4]);

    // --all without --yes and without a terminal: refused, nothing discarded.
    let out = f.run(&["discard", "--all"]);
    assert_eq!(out.status.code(), Some(252), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("--yes"), "{}", text(&out.stderr));
    assert_eq!(dead_ids(), [1, 4]);

    let out = f.run(&["retry", "--all", "--output", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let done: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(done, json!({"retried": [1, 4], "NotDeadLetters": []}));
    assert!(dead_ids().is_empty());
    assert_eq!(f.owner.stats().pending, 5);

    // The five back in line die again (an outbox that sends at once); then discard them all.
    drop(f.owner);
    let client = clean_client(&f._service.endpoint_url());
    let fast = Outbox::open(client, &f.path, options(1000.0, 10)).unwrap();
    assert!(fast.flush(Duration::from_secs(30)).unwrap());
    assert_eq!(fast.stats().dead, 5);
    let out = run_on(&f.path, &["discard", "--all", "--yes"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "discarded 1\ndiscarded 2\ndiscarded 4\ndiscarded 5\ndiscarded 6\n",
        "{}",
        text(&out.stdout)
    );
    assert_eq!(fast.stats().dead, 0);
    let out = run_on(&f.path, &["discard", "--all", "--yes"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "no dead letters\n");
}

#[test]
fn a_file_that_is_not_an_outbox_is_refused_untouched_and_a_missing_one_not_created() {
    let dir = scratch("outbox-refused");
    let other = dir.join("other.db");
    {
        let conn = rusqlite::Connection::open(&other).unwrap();
        conn.execute_batch("CREATE TABLE notes(body TEXT); INSERT INTO notes VALUES ('mine');")
            .unwrap();
    }
    let plain = dir.join("notes.txt");
    std::fs::write(&plain, "not an outbox\n").unwrap();
    let empty = dir.join("empty.db");
    std::fs::write(&empty, "").unwrap();
    let commands: [&[&str]; 5] = [
        &["stats"],
        &["dead-letters"],
        &["retry", "--all"],
        &["discard", "--all", "--yes"],
        &["retry", "1"],
    ];
    for file in [&other, &plain, &empty] {
        let bytes = std::fs::read(file).unwrap();
        for command in commands {
            let (verb, rest) = command.split_first().unwrap();
            let args: Vec<&str> = [*verb, file.to_str().unwrap()]
                .into_iter()
                .chain(rest.iter().copied())
                .collect();
            let out = outbox_command(&args);
            let err = text(&out.stderr);
            assert_eq!(out.status.code(), Some(255), "{args:?}: {err}");
            assert!(err.starts_with("outbox: outbox file "), "{args:?}: {err}");
            assert!(out.stdout.is_empty(), "{args:?}");
            assert_eq!(
                std::fs::read(file).unwrap(),
                bytes,
                "{args:?} changed {}",
                file.display()
            );
        }
    }
    let names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 3, "files appeared: {names:?}");

    let missing = dir.join("missing.outbox");
    for command in commands {
        let (verb, rest) = command.split_first().unwrap();
        let args: Vec<&str> = [*verb, missing.to_str().unwrap()]
            .into_iter()
            .chain(rest.iter().copied())
            .collect();
        let out = outbox_command(&args);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(255), "{args:?}: {err}");
        assert!(err.contains("no such file (nothing was created)"), "{err}");
        assert!(!missing.exists(), "{args:?} created {}", missing.display());
    }
    // A queue is a PostgreSQL outbox's: a usage error for a file.
    let out = outbox_command(&["stats", other.to_str().unwrap(), "--queue", "q"]);
    assert_eq!(out.status.code(), Some(252), "{}", text(&out.stderr));
    let _ = std::fs::remove_dir_all(&dir);
}
