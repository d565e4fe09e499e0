//! `connect-contact bulk FILE.jsonl|-`: one UpdateContact request per line, delivered through
//! the library's outbox at the quota's pace, with progress, a clean stop on Ctrl-C and resume.
//!
//! Where it stopped is a journal next to the outbox file (`OUTBOX.progress`): its first line
//! names the input (length and FNV-1a hash of its bytes), then one record per input line
//! handled: `E ID LINE` once the outbox has stored line LINE as update ID, `B LINE` once a bad
//! line is in the failures file. Each record is synced before the next line is read, and the
//! outbox keeps what it stored until the service has it, so running the same command again
//! continues at the first line without a record and waits for what is still pending. The one
//! window: a kill between the outbox's commit and the journal's record re-stores that line
//! on resume, which sends the same values twice in a row (the contact ends the same).

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, IsTerminal, Read, Write};
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
use crate::{Failure, EXIT_OTHER, EXIT_PARAMETERS};

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
    /// The outbox file [default: FILE.outbox, or connect-contact-stdin.outbox for stdin].
    #[arg(long, value_name = "PATH")]
    outbox: Option<PathBuf>,
    /// Where failed lines go, one JSON object per line: {"line", "error", "request"}
    /// [default: FILE.failures.jsonl].
    #[arg(long, value_name = "PATH")]
    failures: Option<PathBuf>,
    /// Validate every line and report the bad ones; send nothing, write nothing.
    #[arg(long)]
    dry_run: bool,
    /// Calls per second to start from [default: 2, the service's quota].
    #[arg(long, value_name = "N")]
    rate: Option<f64>,
    /// Calls that may go at once after a quiet spell [default: 5].
    #[arg(long, value_name = "N")]
    burst: Option<u32>,
    /// Seconds between progress lines when stderr is not a terminal.
    #[arg(long, value_name = "SECONDS", default_value_t = 5.0)]
    progress_interval: f64,
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

/// What the journal says was done for this input.
#[derive(Default)]
struct Journal {
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
    fn new(total: u64, interval: f64, rate: f64) -> Progress {
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
            interval: Duration::from_secs_f64(interval.max(0.1)),
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

fn dry_run(lines: &[&str]) -> Result<(), Failure> {
    let mut bad = 0;
    for (i, text) in lines.iter().enumerate() {
        if text.trim().is_empty() {
            continue;
        }
        if let Err(e) = parse_line(text).and_then(|request| validate(&request, Checker::default()))
        {
            bad += 1;
            eprintln!("line {}: {}", i + 1, e.message());
        }
    }
    let total = lines.iter().filter(|l| !l.trim().is_empty()).count();
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
    let bytes = read_input(&args.input)?;
    let text = String::from_utf8_lossy(&bytes);
    let lines: Vec<&str> = text.lines().collect();
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
    let journal_path = PathBuf::from(format!("{}.progress", outbox_path.display()));
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
    let mut failures = OpenOptions::new()
        .create(true)
        .write(true)
        .append(resuming)
        .truncate(!resuming)
        .open(&failures_path)
        .map_err(|e| io_failure(&failures_path, e))?;
    let mut journal_file = if resuming {
        OpenOptions::new().append(true).open(&journal_path)
    } else {
        File::create(&journal_path)
    }
    .map_err(|e| io_failure(&journal_path, e))?;
    if !resuming {
        append(&mut journal_file, &identity).map_err(|e| io_failure(&journal_path, e))?;
    }

    let interrupted = Arc::new(AtomicBool::new(false));
    {
        let flag = Arc::clone(&interrupted);
        // Only fails when a handler is already set; then the default action stays.
        let _ = ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst));
    }

    let client = Arc::new(Client::new(&global.client_config()).map_err(|e| failure_of(&e))?);
    let mut options = OutboxOptions::default();
    if let Some(rate) = args.rate {
        options.rate = rate;
    }
    if let Some(burst) = args.burst {
        options.burst = burst;
    }
    let rate = options.rate;
    let outbox = Outbox::open(client, &outbox_path, options).map_err(|e| failure_of(&e))?;

    let total = lines.iter().filter(|l| !l.trim().is_empty()).count() as u64;
    let mut progress = Progress::new(total, args.progress_interval, rate);
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
    for (i, text) in lines.iter().enumerate() {
        let n = i + 1;
        if text.trim().is_empty() || journal.handled.contains(&n) {
            continue;
        }
        if interrupted.load(Ordering::SeqCst) {
            stopped_at = Some(n);
            break;
        }
        match parse_line(text).and_then(|request| outbox.enqueue(&request)) {
            Ok(id) => {
                append(&mut journal_file, &format!("E {id} {n}"))
                    .map_err(|e| io_failure(&journal_path, e))?;
                enqueued.insert(id, n);
            }
            Err(e) => {
                let request = serde_json::from_str(text).unwrap_or_else(|_| Value::from(*text));
                eprintln!("line {n}: {}", e.message());
                write_failure(&mut failures, &mut failed_lines, n, e.message(), request)
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
        let request = serde_json::from_str(lines[n - 1]).unwrap_or(Value::Null);
        write_failure(&mut failures, &mut failed_lines, n, &error, request)
            .map_err(|e| io_failure(&failures_path, e))?;
        let _ = outbox.discard_dead(dead.id);
        failed_delivery += 1;
    }
    let pending = outbox.stats().pending;
    outbox.close();

    let failed = failed_lines.len();
    if !finished || stopped_at.is_some() {
        eprintln!(
            "bulk: interrupted{}: {pending} updates pending in {}; run the same command to resume",
            stopped_at
                .map(|n| format!(" before line {n}"))
                .unwrap_or_default(),
            outbox_path.display()
        );
        return Err(Failure::new(EXIT_INTERRUPTED, String::new()));
    }
    let delivered = (total as usize).saturating_sub(failed);
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
