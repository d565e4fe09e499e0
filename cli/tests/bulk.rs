//! `connect-contact bulk` against the emulator in quota mode: interrupted with SIGINT and
//! SIGKILL at random points and resumed until done, the emulator ends as if every good line
//! had been applied in order, and the failures file lists exactly the bad lines; the progress
//! display in a pseudo-terminal (util-linux `script`).

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use connect_contact::{ClientConfig, UpdateContactRequest};
use connect_emulator::{
    Emulator, EmulatorConfig, Quota, DEFAULT_ACCESS_KEY_ID, DEFAULT_SECRET_ACCESS_KEY,
};
use serde_json::{json, Value};

const BIN: &str = env!("CARGO_BIN_EXE_connect-contact");

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "connect-contact-bulk-{name}-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `count` lines over `contacts` contacts; every 100th is bad (alternately not JSON and
/// missing ContactId). Returns the text and the bad line numbers.
fn input(count: usize, contacts: usize) -> (String, BTreeSet<u64>) {
    let mut text = String::new();
    let mut bad = BTreeSet::new();
    for n in 1..=count {
        let line = if n % 100 == 37 {
            bad.insert(n as u64);
            if n % 200 == 37 {
                "{\"InstanceId\": \"inst\", \"ContactId\": ".to_string()
            } else {
                json!({"InstanceId": "inst", "Name": format!("no contact {n}")}).to_string()
            }
        } else {
            json!({
                "InstanceId": "inst",
                "ContactId": format!("c{}", n % contacts),
                "Name": format!("name {n}"),
                "References": {format!("r{}", n % 3): {"Type": "STRING", "Value": n.to_string()}},
                "SegmentAttributes": {"seq": {"ValueInteger": n}},
            })
            .to_string()
        };
        text.push_str(&line);
        text.push('\n');
    }
    (text, bad)
}

fn emulator(quota: Option<Quota>) -> Emulator {
    Emulator::start(EmulatorConfig {
        auto_create: true,
        log: false,
        quota,
        ..EmulatorConfig::default()
    })
    .unwrap()
}

fn bulk(url: &str, dir: &Path, extra: &[&str]) -> Command {
    let mut c = Command::new(BIN);
    c.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", "/nonexistent")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_ACCESS_KEY_ID", DEFAULT_ACCESS_KEY_ID)
        .env("AWS_SECRET_ACCESS_KEY", DEFAULT_SECRET_ACCESS_KEY)
        .env("NO_PROXY", "127.0.0.1,localhost")
        .current_dir(dir)
        .args([
            "bulk",
            "in.jsonl",
            "--endpoint-url",
            url,
            "--region",
            "us-east-1",
        ])
        .args(extra)
        .stdin(Stdio::null());
    c
}

fn wait(child: &mut Child, limit: Duration) -> ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("bulk did not finish in {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn contacts(endpoint: &str) -> Value {
    let address = endpoint.trim_start_matches("http://");
    let mut s = TcpStream::connect(address).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET /_emulator/contacts HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    let (_, body) = answer.split_once("\r\n\r\n").unwrap();
    let mut store: Value = serde_json::from_str(body).unwrap();
    strip_timestamps(&mut store);
    store
}

fn strip_timestamps(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.retain(|k, _| !k.ends_with("Timestamp"));
            m.values_mut().for_each(strip_timestamps);
        }
        Value::Array(a) => a.iter_mut().for_each(strip_timestamps),
        _ => {}
    }
}

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

/// A small pseudo-random number from the clock (the test needs varied, not reproducible, cut points).
fn jitter(max_ms: u64) -> u64 {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .subsec_nanos() as u64;
    nanos.wrapping_mul(6364136223846793005).rotate_left(17) % max_ms
}

#[test]
fn interrupted_and_killed_runs_resume_to_the_state_of_every_good_line_in_order() {
    let dir = scratch("resume");
    let (text, bad) = input(1000, 300);
    std::fs::write(dir.join("in.jsonl"), &text).unwrap();
    let service = emulator(Some(Quota {
        rps: 60.0,
        burst: 10.0,
    }));
    let url = service.endpoint_url();
    let mut interruptions = (0, 0);
    let mut done = None;
    for round in 0..30 {
        let mut child = bulk(&url, &dir, &["--rate", "60", "--burst", "10"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        if round < 6 {
            std::thread::sleep(Duration::from_millis(300 + jitter(1200)));
            if child.try_wait().unwrap().is_none() {
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
                        interruptions.0 += 1;
                        assert!(err.contains("run the same command to resume"), "{err}");
                    }
                    continue;
                }
                child.kill().unwrap();
                let _ = child.wait();
                interruptions.1 += 1;
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
    let summary = done.expect("bulk finished within 30 runs");
    assert!(
        interruptions.0 >= 1 && interruptions.1 >= 1,
        "{interruptions:?}"
    );
    assert!(
        summary.contains("bulk: 1000 requests: 990 delivered, 10 failed"),
        "{summary}"
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
    assert_eq!(listed.len(), bad.len(), "{failures}");
    assert_eq!(listed.iter().copied().collect::<BTreeSet<_>>(), bad);

    assert_eq!(contacts(&url), expected_store(&text));
    service.shutdown().unwrap();

    // The failures file can be fed back in: each of its lines is its bad request again.
    let again = scratch("again");
    std::fs::write(again.join("in.jsonl"), &failures).unwrap();
    let out = bulk("http://127.0.0.1:9", &again, &["--dry-run"])
        .output()
        .unwrap();
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
    let out = bulk("http://127.0.0.1:9", &dir, &["--dry-run"])
        .output()
        .unwrap();
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
    let c = bulk("http://127.0.0.1:9", &dir, &["--dry-run"]);
    let mut stdin = Command::new(c.get_program());
    stdin
        .env_clear()
        .envs(c.get_envs().filter_map(|(k, v)| v.map(|v| (k, v))))
        .current_dir(&dir)
        .args(
            c.get_args()
                .map(|a| if a == "in.jsonl" { "-".as_ref() } else { a }),
        )
        .stdin(std::fs::File::open(dir.join("in.jsonl")).unwrap());
    let out = stdin.output().unwrap();
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
    let out = bulk(
        &service.endpoint_url(),
        &dir,
        &["--rate", "40", "--progress-interval", "0.5"],
    )
    .output()
    .unwrap();
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
