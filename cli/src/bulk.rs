//! `connect-contact bulk FILE.jsonl|-`: one UpdateContact request per line, delivered through
//! the library's outbox at the quota's pace, with progress, a clean stop on Ctrl-C and resume.
//!
//! Where it stopped is a journal next to the outbox file (`OUTBOX.progress`): its first line
//! names the input (length and FNV-1a hash of its bytes), its second (`S N`) the outbox's
//! delivered counter when the input was started, then one record per input line handled:
//! `E ID LINE` once the outbox has stored line LINE as update ID, `B LINE` once a bad line is
//! in the failures file. Each record is synced before the next line is read, and the outbox
//! keeps what it stored until the service has it, so running the same command again
//! continues at the first line without a record and waits for what is still pending. The one
//! window: a kill between the outbox's commit and the journal's record re-stores that line
//! on resume, which sends the same values twice in a row (the contact ends the same).
//!
//! One run at a time per outbox: a run holds an exclusive `flock` on `OUTBOX.lock` (which
//! names its pid) from start to exit; the kernel drops it when the process ends, however it
//! ends, so a kill never leaves a stale lock. The journal, the failures file and the lock file
//! hold requests or point at them, Name and Description included: they are owner-only (0600).

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, IsTerminal, Read, Seek, Write};
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;
use connect_contact::{
    validate, Checker, Client, Error, Outbox, OutboxOptions, UpdateContactRequest,
};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::{json, Value};

use crate::global::Global;
use crate::update::failure_of;
use crate::url::without_password;
use crate::{Failure, EXIT_OTHER, EXIT_PARAMETERS};

/// Seconds between progress lines: `--progress-interval`'s range.
const PROGRESS_INTERVAL: RangeInclusive<f64> = 0.1..=86_400.0;

/// Exit status when some lines failed (they are in the failures file).
pub const EXIT_SOME_FAILED: u8 = 1;
/// Exit status after Ctrl-C (128 + SIGINT, as shells report it).
pub const EXIT_INTERRUPTED: u8 = 130;

#[derive(Args, Debug)]
pub struct BulkArgs {
    /// JSONL input: one request per line (the API's member names, as --cli-input-json takes
    /// them), or a failures file to retry; `-` reads stdin.
    #[arg(value_name = "FILE")]
    input: String,
    /// The outbox file [default: FILE.outbox, or connect-contact-stdin.outbox for stdin], or
    /// a postgresql:// URL of a queue several hosts share (the journal and the run lock are
    /// then FILE.progress and FILE.lock).
    #[arg(long, value_name = "PATH|URL")]
    outbox: Option<PathBuf>,
    /// The queue of a PostgreSQL outbox: one per account and Region [default: default].
    #[arg(long, value_name = "NAME")]
    queue: Option<String>,
    /// Where failed lines go, one JSON object per line: {"line", "error", "request"}
    /// [default: FILE.failures.jsonl].
    #[arg(long, value_name = "PATH")]
    failures: Option<PathBuf>,
    /// Validate every line and report the bad ones; send nothing, write nothing.
    #[arg(long)]
    dry_run: bool,
    /// Calls per second to start from [default: 2, the service's quota].
    // Values are taken as typed (a negative one too) and checked in `settings`.
    #[arg(long, value_name = "N", allow_hyphen_values = true)]
    rate: Option<String>,
    /// Calls that may go at once after a quiet spell [default: 5].
    #[arg(long, value_name = "N", allow_hyphen_values = true)]
    burst: Option<String>,
    /// Seconds between progress lines when stderr is not a terminal (0.1 to 86400) [default: 5].
    #[arg(long, value_name = "SECONDS", allow_hyphen_values = true)]
    progress_interval: Option<String>,
}

/// The options' values, each checked; the outbox's own bounds are the library's.
struct Settings {
    options: OutboxOptions,
    progress_interval: Duration,
}

/// argparse's sentence for a value that is not of the option's type.
fn not_a(kind: &str, option: &str, text: &str) -> Failure {
    Failure::usage(format!("argument {option}: invalid {kind} value: '{text}'"))
}

/// argparse's form for a value out of the option's range, with the rule.
fn out_of_range(option: &str, text: &str, rule: &str) -> Failure {
    Failure::usage(format!(
        "argument {option}: invalid value: '{text}' ({rule})"
    ))
}

/// The library's verdict on one outbox option (its rule, without the library's prefix).
fn outbox_rule(key: &str, value: Value) -> Result<(), String> {
    OutboxOptions::from_json(&json!({ key: value }).to_string())
        .map(|_| ())
        .map_err(|e| {
            let message = e.message();
            message
                .strip_prefix(&format!("outbox option {key}: "))
                .unwrap_or(message)
                .to_string()
        })
}

fn settings(args: &BulkArgs) -> Result<Settings, Failure> {
    let mut options = OutboxOptions::default();
    if let Some(text) = &args.rate {
        let rate: f64 = text
            .trim()
            .parse()
            .map_err(|_| not_a("float", "--rate", text))?;
        // JSON has no infinity: ask about a finite value beyond any bound instead.
        let asked = if rate.is_finite() { rate } else { f64::MAX };
        outbox_rule("rate", Value::from(asked))
            .and_then(|()| {
                rate.is_finite()
                    .then_some(())
                    .ok_or_else(|| "must be a finite number".to_string())
            })
            .map_err(|rule| out_of_range("--rate", text, &rule))?;
        options.rate = rate;
    }
    if let Some(text) = &args.burst {
        let burst: u64 = text
            .trim()
            .parse()
            .map_err(|_| not_a("int", "--burst", text))?;
        outbox_rule("burst", Value::from(burst))
            .map_err(|rule| out_of_range("--burst", text, &rule))?;
        // In range, so it fits.
        options.burst = u32::try_from(burst).unwrap_or(u32::MAX);
    }
    if let Some(queue) = &args.queue {
        outbox_rule("queue", Value::from(queue.as_str()))
            .map_err(|rule| out_of_range("--queue", queue, &rule))?;
        options.queue = queue.clone();
    }
    let mut progress_interval = Duration::from_secs(5);
    if let Some(text) = &args.progress_interval {
        let seconds: f64 = text
            .trim()
            .parse()
            .map_err(|_| not_a("float", "--progress-interval", text))?;
        if !PROGRESS_INTERVAL.contains(&seconds) {
            return Err(out_of_range(
                "--progress-interval",
                text,
                &format!(
                    "must be a number of seconds from {} to {}",
                    PROGRESS_INTERVAL.start(),
                    PROGRESS_INTERVAL.end()
                ),
            ));
        }
        progress_interval = Duration::from_secs_f64(seconds);
    }
    Ok(Settings {
        options,
        progress_interval,
    })
}

/// FNV-1a, 64 bits: a stable fingerprint of the input's bytes.
fn fingerprint(bytes: &[u8]) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        hash ^= u64::from(*b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("len={} fnv1a64={hash:016x}", bytes.len())
}

/// A request line, or a failures-file line (whose `request` is retried).
fn parse_line(text: &str) -> Result<UpdateContactRequest, Error> {
    let value: Value =
        serde_json::from_str(text).map_err(|e| Error::InvalidJson(format!("Invalid JSON: {e}")))?;
    match value.get("request") {
        Some(request) if value.get("line").is_some() && value.get("error").is_some() => {
            UpdateContactRequest::from_value(request)
        }
        _ => UpdateContactRequest::from_value(&value),
    }
}

/// One input line: its bytes, and its text or why it is not text.
struct Line<'a> {
    raw: &'a [u8],
    text: Result<&'a str, String>,
}

impl Line<'_> {
    /// Whether it holds nothing (blank lines are skipped, and not counted).
    fn blank(&self) -> bool {
        matches!(self.text, Ok(text) if text.trim().is_empty())
    }

    /// The request it holds, checked as the outbox's enqueue checks it.
    fn request(&self) -> Result<UpdateContactRequest, String> {
        let text = self.text.as_ref().map_err(Clone::clone)?;
        parse_line(text).map_err(|e| e.message().to_string())
    }

    /// The request as the failures file lists it: its JSON, or its text.
    fn listed(&self) -> Value {
        match self.text {
            Ok(text) => serde_json::from_str(text).unwrap_or_else(|_| Value::from(text)),
            Err(_) => Value::from(String::from_utf8_lossy(self.raw)),
        }
    }
}

/// The UTF-8 byte-order mark some editors put at the start of a file.
const BOM: &[u8] = b"\xEF\xBB\xBF";

/// The input's lines, split as `str::lines` splits text (at `\n`, a `\r` before it dropped),
/// after a byte-order mark at the very start. A line that is not UTF-8 is a bad line, never
/// replaced with U+FFFD: the library refuses such text (INVALID_UTF8) and so does bulk.
fn split_lines(bytes: &[u8]) -> Vec<Line<'_>> {
    let bytes = bytes.strip_prefix(BOM).unwrap_or(bytes);
    let bytes = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    if bytes.is_empty() {
        return Vec::new();
    }
    bytes
        .split(|b| *b == b'\n')
        .map(|raw| {
            let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
            let text = std::str::from_utf8(raw).map_err(|e| {
                format!(
                    "the request is not valid UTF-8 (byte {} of the line)",
                    e.valid_up_to() + 1
                )
            });
            Line { raw, text }
        })
        .collect()
}

/// What the journal says was done for this input.
#[derive(Default)]
struct Journal {
    /// The outbox's delivered counter when this input was started (`S N`).
    delivered_before: Option<u64>,
    /// Update id → input line.
    enqueued: BTreeMap<u64, usize>,
    /// Lines handled (enqueued or reported bad).
    handled: BTreeSet<usize>,
}

fn read_journal(path: &Path, identity: &str) -> Journal {
    let mut journal = Journal::default();
    let Ok(file) = File::open(path) else {
        return journal;
    };
    let mut lines = BufReader::new(file).lines();
    if lines.next().and_then(Result::ok).as_deref() != Some(identity) {
        return journal;
    }
    for line in lines.map_while(Result::ok) {
        let parts: Vec<&str> = line.split(' ').collect();
        match parts.as_slice() {
            ["E", id, n] => {
                if let (Ok(id), Ok(n)) = (id.parse(), n.parse()) {
                    journal.enqueued.insert(id, n);
                    journal.handled.insert(n);
                }
            }
            ["B", n] => {
                if let Ok(n) = n.parse() {
                    journal.handled.insert(n);
                }
            }
            ["S", delivered] => journal.delivered_before = delivered.parse().ok(),
            // A record torn by a kill: the line is handled again.
            _ => {}
        }
    }
    journal
}

/// Appends one record and syncs it.
fn append(file: &mut File, record: &str) -> std::io::Result<()> {
    file.write_all(record.as_bytes())?;
    file.write_all(b"\n")?;
    file.sync_data()
}

fn io_failure(what: &Path, e: impl std::fmt::Display) -> Failure {
    Failure::new(EXIT_OTHER, format!("bulk: {}: {e}", what.display()))
}

/// Opens (creating if need be) a file only its owner may read: 0600 at creation, and set to
/// 0600 again on the open file, so neither the umask nor an older, wider file leaves it open.
fn private_file(path: &Path, options: &mut OpenOptions) -> Result<File, Failure> {
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(options, 0o600);
    let file = options.open(path).map_err(|e| io_failure(path, e))?;
    #[cfg(unix)]
    file.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o600))
        .map_err(|e| io_failure(path, e))?;
    Ok(file)
}

/// Takes this outbox's run lock (`BESIDE.lock`, `BESIDE` the outbox file or, for a URL, the
/// input): an exclusive `flock`, held by the returned file until the process exits, and the
/// holder's pid written in it. When another run holds it, refuses at once naming that run
/// and the outbox (`shown`).
fn lock_run(beside: &Path, shown: &str) -> Result<File, Failure> {
    let path = PathBuf::from(format!("{}.lock", beside.display()));
    let mut file = private_file(
        &path,
        OpenOptions::new().read(true).write(true).create(true),
    )?;
    match rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => {}
        Err(rustix::io::Errno::WOULDBLOCK) => {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            let who = match holder.trim().parse::<u32>() {
                Ok(pid) => format!("another bulk run (pid {pid})"),
                Err(_) => "another bulk run".to_string(),
            };
            return Err(Failure::new(
                EXIT_OTHER,
                format!(
                    "bulk: {who} is using {shown} (lock {}); wait for it to finish or stop it, then run this again",
                    path.display()
                ),
            ));
        }
        Err(e) => return Err(io_failure(&path, e)),
    }
    file.set_len(0)
        .and_then(|()| file.rewind())
        .and_then(|()| writeln!(file, "{}", std::process::id()))
        .map_err(|e| io_failure(&path, e))?;
    Ok(file)
}

fn human(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 3600 {
        format!("{}h{:02}m", s / 3600, (s % 3600) / 60)
    } else if s >= 60 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{s}s")
    }
}

struct Progress {
    bar: Option<ProgressBar>,
    interval: Duration,
    last_line: Instant,
    rate: f64,
}

impl Progress {
    fn new(total: u64, interval: Duration, rate: f64) -> Progress {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template(
                    "{bar:30.cyan/blue} {pos}/{len} done  {msg}  ETA {prefix}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            bar
        });
        Progress {
            bar,
            interval,
            last_line: Instant::now(),
            rate,
        }
    }

    fn update(&mut self, done: u64, total: u64, pending: u64, rate: f64, throttled: u64) {
        let pace = if rate > 0.0 { rate } else { self.rate };
        let eta = human(Duration::from_secs_f64(pending as f64 / pace.max(0.01)));
        let msg = format!("{pending} pending  {rate:.1}/s  {throttled} throttled");
        match &self.bar {
            Some(bar) => {
                bar.set_position(done);
                bar.set_message(msg);
                bar.set_prefix(eta);
            }
            None if self.last_line.elapsed() >= self.interval => {
                self.last_line = Instant::now();
                eprintln!("bulk: {done}/{total} done, {msg}, ETA {eta}");
            }
            None => {}
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish();
        }
    }
}

fn default_path(input: &str, suffix: &str) -> PathBuf {
    if input == "-" {
        PathBuf::from(format!("connect-contact-stdin{suffix}"))
    } else {
        PathBuf::from(format!("{input}{suffix}"))
    }
}

/// Reads the whole input: the journal keys progress by its bytes.
fn read_input(input: &str) -> Result<Vec<u8>, Failure> {
    let mut bytes = Vec::new();
    let result = if input == "-" {
        std::io::stdin().read_to_end(&mut bytes).map(|_| ())
    } else {
        File::open(input).and_then(|mut f| f.read_to_end(&mut bytes).map(|_| ()))
    };
    result.map_err(|e| Failure::new(EXIT_PARAMETERS, format!("bulk: cannot read {input}: {e}")))?;
    Ok(bytes)
}

fn dry_run(lines: &[Line<'_>]) -> Result<(), Failure> {
    let mut bad = 0;
    for (i, line) in lines.iter().enumerate() {
        if line.blank() {
            continue;
        }
        let verdict = line.request().and_then(|request| {
            validate(&request, Checker::default()).map_err(|e| e.message().to_string())
        });
        if let Err(message) = verdict {
            bad += 1;
            eprintln!("line {}: {message}", i + 1);
        }
    }
    let total = lines.iter().filter(|l| !l.blank()).count();
    eprintln!(
        "bulk: dry run: {total} requests, {} valid, {bad} bad; nothing sent",
        total - bad
    );
    if bad > 0 {
        return Err(Failure::new(EXIT_SOME_FAILED, String::new()));
    }
    Ok(())
}

/// Runs the command.
pub fn run(global: &Global, args: &BulkArgs) -> Result<(), Failure> {
    let settings = settings(args)?;
    let bytes = read_input(&args.input)?;
    let lines = split_lines(&bytes);
    if args.dry_run {
        return dry_run(&lines);
    }
    let outbox_path = args
        .outbox
        .clone()
        .unwrap_or_else(|| default_path(&args.input, ".outbox"));
    let failures_path = args
        .failures
        .clone()
        .unwrap_or_else(|| default_path(&args.input, ".failures.jsonl"));
    // A PostgreSQL outbox: shown without its password, its journal and lock beside the input.
    let url = outbox_path
        .to_str()
        .filter(|s| s.starts_with("postgres://") || s.starts_with("postgresql://"));
    let (beside, shown) = match url {
        Some(url) => (default_path(&args.input, ""), without_password(url)),
        None => (outbox_path.clone(), outbox_path.display().to_string()),
    };
    let journal_path = PathBuf::from(format!("{}.progress", beside.display()));
    // Everything that can refuse to start comes before a file is written.
    let client = Arc::new(Client::new(&global.client_config()).map_err(|e| failure_of(&e))?);
    // Held until the process exits: one run per outbox.
    let _lock = lock_run(&beside, &shown)?;

    let interrupted = Arc::new(AtomicBool::new(false));
    {
        let flag = Arc::clone(&interrupted);
        // Only fails when a handler is already set; then the default action stays.
        let _ = ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst));
    }

    let rate = settings.options.rate;
    let outbox =
        Outbox::open(client, &outbox_path, settings.options).map_err(|e| failure_of(&e))?;

    let identity = fingerprint(&bytes);
    let journal = read_journal(&journal_path, &identity);
    let resuming = !journal.handled.is_empty();

    // Failures already written (a resume must not list a line twice).
    let mut failed_lines = BTreeSet::new();
    if resuming {
        if let Ok(f) = File::open(&failures_path) {
            for line in BufReader::new(f).lines().map_while(Result::ok) {
                if let Some(n) = serde_json::from_str::<Value>(&line)
                    .ok()
                    .and_then(|v| v["line"].as_u64())
                {
                    failed_lines.insert(n as usize);
                }
            }
        }
    }
    let mut failures = private_file(
        &failures_path,
        OpenOptions::new()
            .create(true)
            .write(true)
            .append(resuming)
            .truncate(!resuming),
    )?;
    // Append only; emptied under the lock when this input starts afresh.
    let mut journal_file =
        private_file(&journal_path, OpenOptions::new().create(true).append(true))?;
    let delivered_before = match (resuming, journal.delivered_before) {
        (true, Some(n)) => n,
        // A journal without its start record: resumed all the same (never emptied, so nothing
        // is sent again); what is delivered from now on is what can be counted.
        (true, None) => {
            let n = outbox.stats().delivered;
            append(&mut journal_file, &format!("S {n}"))
                .map_err(|e| io_failure(&journal_path, e))?;
            n
        }
        (false, _) => {
            let n = outbox.stats().delivered;
            journal_file
                .set_len(0)
                .and_then(|()| append(&mut journal_file, &format!("{identity}\nS {n}")))
                .map_err(|e| io_failure(&journal_path, e))?;
            n
        }
    };
    let total = lines.iter().filter(|l| !l.blank()).count() as u64;
    let mut progress = Progress::new(total, settings.progress_interval, rate);
    let mut enqueued = journal.enqueued;
    // A line stored twice (the kill window) has two ids: count lines, not ids.
    let stored: BTreeSet<usize> = enqueued.values().copied().collect();
    let mut bad = journal.handled.difference(&stored).count() as u64;
    let write_failure = |failures: &mut File,
                         failed: &mut BTreeSet<usize>,
                         line: usize,
                         error: &str,
                         request: Value|
     -> std::io::Result<()> {
        if failed.insert(line) {
            let record = json!({ "line": line, "error": error, "request": request });
            append(failures, &record.to_string())?;
        }
        Ok(())
    };

    let mut stopped_at = None;
    for (i, line) in lines.iter().enumerate() {
        let n = i + 1;
        if line.blank() || journal.handled.contains(&n) {
            continue;
        }
        if interrupted.load(Ordering::SeqCst) {
            stopped_at = Some(n);
            break;
        }
        let stored = line.request().and_then(|request| {
            outbox
                .enqueue(&request)
                .map_err(|e| e.message().to_string())
        });
        match stored {
            Ok(id) => {
                append(&mut journal_file, &format!("E {id} {n}"))
                    .map_err(|e| io_failure(&journal_path, e))?;
                enqueued.insert(id, n);
            }
            Err(message) => {
                eprintln!("line {n}: {message}");
                write_failure(&mut failures, &mut failed_lines, n, &message, line.listed())
                    .map_err(|e| io_failure(&failures_path, e))?;
                append(&mut journal_file, &format!("B {n}"))
                    .map_err(|e| io_failure(&journal_path, e))?;
                bad += 1;
            }
        }
        if n % 64 == 0 {
            let s = outbox.stats();
            let done = (enqueued.len() as u64).saturating_sub(s.pending) + bad;
            progress.update(done, total, s.pending, s.send_rate, s.throttled);
        }
    }

    // Wait for delivery (or Ctrl-C).
    let mut finished = false;
    while !interrupted.load(Ordering::SeqCst) {
        finished = outbox
            .flush(Duration::from_millis(200))
            .map_err(|e| failure_of(&e))?;
        let s = outbox.stats();
        let done = (enqueued.len() as u64).saturating_sub(s.pending) + bad;
        progress.update(done, total, s.pending, s.send_rate, s.throttled);
        if finished {
            break;
        }
    }
    progress.finish();

    // Updates the service refused for good: into the failures file, then out of the outbox.
    let mut failed_delivery = 0;
    for dead in outbox.dead_letters().map_err(|e| failure_of(&e))? {
        let Some(&n) = enqueued.get(&dead.id) else {
            continue;
        };
        let error = format!("{}: {}", dead.code, dead.message);
        write_failure(
            &mut failures,
            &mut failed_lines,
            n,
            &error,
            lines[n - 1].listed(),
        )
        .map_err(|e| io_failure(&failures_path, e))?;
        let _ = outbox.discard_dead(dead.id);
        failed_delivery += 1;
    }
    let stats = outbox.stats();
    outbox.close();
    let pending = stats.pending;

    let failed = failed_lines.len();
    if !finished || stopped_at.is_some() {
        eprintln!(
            "bulk: interrupted{}: {pending} updates pending in {shown}; run the same command to resume",
            stopped_at
                .map(|n| format!(" before line {n}"))
                .unwrap_or_default(),
        );
        return Err(Failure::new(EXIT_INTERRUPTED, String::new()));
    }
    // What the outbox delivered for this input, counted by the outbox (across resumed runs).
    let delivered = stats.delivered.saturating_sub(delivered_before);
    eprintln!(
        "bulk: {total} requests: {delivered} delivered, {failed} failed ({bad} bad lines, {failed_delivery} refused by the service this run){}",
        if failed > 0 {
            format!("; failures in {}", failures_path.display())
        } else {
            String::new()
        }
    );
    if failed > 0 {
        return Err(Failure::new(EXIT_SOME_FAILED, String::new()));
    }
    Ok(())
}
