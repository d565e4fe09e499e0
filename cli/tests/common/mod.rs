//! Helpers shared by the CLI's tests (`bulk`'s mostly): scratch folders, input files, the emulator, the
//! command with nothing from the real environment, bounded waits, a seeded generator.
#![allow(dead_code)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use connect_emulator::{
    Emulator, EmulatorConfig, Quota, DEFAULT_ACCESS_KEY_ID, DEFAULT_SECRET_ACCESS_KEY,
};
use serde_json::{json, Value};

pub const BIN: &str = env!("CARGO_BIN_EXE_connect-contact");

/// Line N's own reference key.
pub fn reference_key(n: usize) -> String {
    format!("r{n}")
}

pub fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "connect-contact-bulk-{name}-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `count` lines over `contacts` contacts; every 100th is bad (alternately not JSON and
/// missing ContactId). Line N carries its own reference key, `rN` (value N), so the service's
/// update log shows which lines reached it. Returns the text and the bad line numbers.
pub fn input(count: usize, contacts: usize) -> (String, BTreeSet<u64>) {
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
                "References": {reference_key(n): {"Type": "STRING", "Value": n.to_string()}},
                "SegmentAttributes": {"seq": {"ValueInteger": n}},
            })
            .to_string()
        };
        text.push_str(&line);
        text.push('\n');
    }
    (text, bad)
}

pub fn emulator(quota: Option<Quota>) -> Emulator {
    Emulator::start(EmulatorConfig {
        auto_create: true,
        log: false,
        quota,
        ..EmulatorConfig::default()
    })
    .unwrap()
}

pub fn bulk(url: &str, dir: &Path, extra: &[&str]) -> Command {
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

pub fn wait(child: &mut Child, limit: Duration) -> ExitStatus {
    connect_test_support::wait_within(child, limit, "bulk")
}

/// A raw admin GET of the emulator at `endpoint` (`/_emulator/...`), its body as JSON.
pub fn admin_get(endpoint: &str, path: &str) -> Value {
    connect_test_support::admin_get_json(endpoint, path)
}

pub fn contacts(endpoint: &str) -> Value {
    let mut store = admin_get(endpoint, "/_emulator/contacts");
    strip_timestamps(&mut store);
    store
}

pub fn strip_timestamps(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.retain(|k, _| !k.ends_with("Timestamp"));
            m.values_mut().for_each(strip_timestamps);
        }
        Value::Array(a) => a.iter_mut().for_each(strip_timestamps),
        _ => {}
    }
}

/// The same command reading its input from stdin (`-`) opened on `file`.
pub fn from_stdin(command: &Command, file: &Path) -> Command {
    let mut c = Command::new(command.get_program());
    c.env_clear()
        .envs(command.get_envs().filter_map(|(k, v)| v.map(|v| (k, v))))
        .args(
            command
                .get_args()
                .map(|a| if a == "in.jsonl" { "-".as_ref() } else { a }),
        )
        .stdin(std::fs::File::open(file).unwrap());
    if let Some(dir) = command.get_current_dir() {
        c.current_dir(dir);
    }
    c
}

/// The same command run by `sh` under `umask`.
pub fn under_umask(command: &Command, umask: &str) -> Command {
    let mut c = Command::new("sh");
    c.env_clear()
        .envs(command.get_envs().filter_map(|(k, v)| v.map(|v| (k, v))))
        .arg("-c")
        .arg(format!("umask {umask} && exec \"$0\" \"$@\""))
        .arg(command.get_program())
        .args(command.get_args())
        .stdin(Stdio::null());
    if let Some(dir) = command.get_current_dir() {
        c.current_dir(dir);
    }
    c
}

/// The journal's records (its lines after the input's name and the start record).
pub fn journal_records(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .skip(2)
        .map(str::to_string)
        .collect()
}

/// Waits (at most `limit`) until `ready` holds or the child has exited; true when it holds.
pub fn wait_until(child: &mut Child, limit: Duration, mut ready: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if ready() {
            return true;
        }
        if child.try_wait().unwrap().is_some() {
            return false;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    panic!("neither ready nor exited in {limit:?}");
}

/// The seed of a test's random choices: `CONNECT_BULK_TEST_SEED` when set (to replay a
/// failure), else from the clock. A failing assertion names it.
pub fn seed() -> u64 {
    match std::env::var("CONNECT_BULK_TEST_SEED") {
        Ok(text) => text
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("CONNECT_BULK_TEST_SEED={text}: not a number")),
        Err(_) => SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64,
    }
}

/// SplitMix64: small, seeded, good enough to place cut points.
pub struct Rng(pub u64);

impl Rng {
    pub fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        (z ^ (z >> 31)) % n
    }
}

/// How many times each reference key reached the service, from the emulator's update log.
pub fn deliveries_by_key(updates: &Value) -> std::collections::BTreeMap<String, usize> {
    let mut seen = std::collections::BTreeMap::new();
    for update in updates.as_array().unwrap() {
        if let Some(references) = update["References"].as_object() {
            for key in references.keys() {
                *seen.entry(key.clone()).or_insert(0) += 1;
            }
        }
    }
    seen
}

/// The number in the summary's `N delivered`.
pub fn delivered_in(summary: &str) -> u64 {
    let line = summary
        .lines()
        .find(|l| l.contains(" delivered, "))
        .unwrap_or_else(|| panic!("no summary: {summary}"));
    let before = line.split(" delivered, ").next().unwrap();
    before.rsplit(' ').next().unwrap().parse().unwrap()
}

/// Runs the command to its end, within `limit` (else kills it and fails), and returns what it
/// printed.
pub fn output_within(command: &mut Command, limit: Duration) -> std::process::Output {
    connect_test_support::output_within(command, limit)
}

/// [`output_within`] a minute, generous for any one bulk run of the tests.
pub fn output(mut command: Command) -> std::process::Output {
    output_within(&mut command, Duration::from_secs(60))
}
