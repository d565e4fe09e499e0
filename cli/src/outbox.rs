//! `connect-contact outbox stats|dead-letters|retry|discard PATH`: an outbox store (a file, or
//! a postgresql:// URL and `--queue`) looked at and steered from the shell, while the program
//! that owns it may have it open. The store is opened with the library's [`OutboxAdmin`]:
//! nothing is delivered, nothing is created (a missing file is an error), the shared pacer is
//! left as it is, and a file that is not an outbox is refused untouched (exit 255).
//!
//! Dead letters are listed by id, contact, attempts and the service's error; the request
//! itself is never printed (it may hold the sensitive members: Name, Description, ...).

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use connect_contact::{DeadLetter, Error, OutboxAdmin, OutboxStats};
use serde_json::{json, Value};

use crate::global::Global;
use crate::update::failure_of;
use crate::url::without_password;
use crate::{Failure, EXIT_OTHER, EXIT_PARAMETERS};

/// Exit status when some of the ids given were not dead letters (the others were handled).
pub const EXIT_NOT_DEAD: u8 = 1;

#[derive(Args, Debug)]
pub struct OutboxArgs {
    #[command(subcommand)]
    command: OutboxCmd,
}

#[derive(Subcommand, Debug)]
enum OutboxCmd {
    /// The store's counters: pending, oldest pending age, delivered, dead, attempts,
    /// throttled, send rate (a table; --output json or prometheus).
    Stats(Store),
    /// The dead letters: id, contact, attempts, the service's error (never the request's
    /// values; --output json).
    DeadLetters(Store),
    /// Put dead letters back in line; a program that has the outbox open delivers them.
    Retry(Pick),
    /// Delete dead letters (--all asks first on a terminal, unless --yes).
    Discard {
        #[command(flatten)]
        pick: Pick,
        /// Discard --all without asking.
        #[arg(long)]
        yes: bool,
    },
}

#[derive(Args, Debug)]
struct Store {
    /// The outbox file, or the postgresql:// URL of a shared queue.
    #[arg(value_name = "PATH|URL")]
    path: PathBuf,
    /// The queue of a PostgreSQL outbox [default: default].
    #[arg(long, value_name = "NAME")]
    queue: Option<String>,
}

#[derive(Args, Debug)]
struct Pick {
    #[command(flatten)]
    store: Store,
    /// The dead letters' ids (as `outbox dead-letters` lists them).
    #[arg(
        value_name = "ID",
        required_unless_present = "all",
        conflicts_with = "all"
    )]
    ids: Vec<u64>,
    /// Every dead letter in the store.
    #[arg(long)]
    all: bool,
}

/// How a store is named in messages: a URL without its password.
fn shown(path: &Path) -> String {
    let text = path.display().to_string();
    if text.starts_with("postgres://") || text.starts_with("postgresql://") {
        without_password(&text)
    } else {
        text
    }
}

fn failure(error: &Error) -> Failure {
    match error {
        // The library's messages name the store (a URL without its password) and the reason.
        Error::Storage(m) => Failure::new(EXIT_OTHER, format!("outbox: {m}")),
        Error::InvalidConfig(m) => Failure::new(EXIT_PARAMETERS, format!("outbox: {m}")),
        other => failure_of(other),
    }
}

fn open(store: &Store) -> Result<OutboxAdmin, Failure> {
    OutboxAdmin::open(&store.path, store.queue.as_deref().unwrap_or("default"))
        .map_err(|e| failure(&e))
}

/// `--output`: the table (the default), json or prometheus; `allowed` names the command's.
fn output(global: &Global, command: &str, allowed: &[&str]) -> Result<String, Failure> {
    let chosen = global.output.clone().unwrap_or_else(|| "table".into());
    if allowed.contains(&chosen.as_str()) {
        Ok(chosen)
    } else {
        Err(Failure::usage(format!(
            "argument --output: outbox {command} prints {}, not {chosen}",
            allowed.join(", ")
        )))
    }
}

fn print(text: &str) -> Result<(), Failure> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(|e| Failure::new(EXIT_OTHER, format!("outbox: stdout: {e}")))
}

pub fn run(global: &Global, args: &OutboxArgs) -> Result<(), Failure> {
    match &args.command {
        OutboxCmd::Stats(store) => {
            let format = output(global, "stats", &["table", "json", "prometheus"])?;
            let stats = open(store)?.stats();
            print(&match format.as_str() {
                "json" => format!("{}\n", stats.to_json()),
                "prometheus" => prometheus(&stats, &shown(&store.path), store.queue.as_deref()),
                _ => table(&stats),
            })
        }
        OutboxCmd::DeadLetters(store) => {
            let format = output(global, "dead-letters", &["table", "json"])?;
            let dead = open(store)?.dead_letters().map_err(|e| failure(&e))?;
            print(&if format == "json" {
                format!("{}\n", dead_letters_json(&dead))
            } else {
                dead_letters_table(&dead)
            })
        }
        OutboxCmd::Retry(pick) => steer(global, pick, "retry", false),
        OutboxCmd::Discard { pick, yes } => steer(global, pick, "discard", *yes),
    }
}

/// Seconds, as an operator reads them.
fn age(seconds: f64) -> String {
    if seconds < 120.0 {
        format!("{seconds:.1} s")
    } else if seconds < 7200.0 {
        format!("{:.1} min", seconds / 60.0)
    } else {
        format!("{:.1} h", seconds / 3600.0)
    }
}

fn table(s: &OutboxStats) -> String {
    let rows = [
        ("pending", s.pending.to_string()),
        (
            "oldest pending age",
            s.oldest_pending_age
                .map_or_else(|| "-".to_string(), |d| age(d.as_secs_f64())),
        ),
        ("delivered", s.delivered.to_string()),
        ("dead", s.dead.to_string()),
        ("attempts", s.attempts.to_string()),
        ("throttled", s.throttled.to_string()),
        ("send rate", format!("{:.3} calls/s", s.send_rate)),
    ];
    rows.iter()
        .map(|(name, value)| format!("{name:<20}{value}\n"))
        .collect()
}

/// A label value in the text exposition format: `\`, `"` and newlines escaped.
fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The Prometheus text exposition format (for node_exporter's textfile collector and the
/// like): each metric's HELP and TYPE, one sample labelled with the store.
fn prometheus(s: &OutboxStats, store: &str, queue: Option<&str>) -> String {
    let mut labels = format!("outbox=\"{}\"", label(store));
    if let Some(queue) = queue {
        labels.push_str(&format!(",queue=\"{}\"", label(queue)));
    }
    let age = s.oldest_pending_age.map_or(0.0, |d| d.as_secs_f64());
    let metrics: [(&str, &str, &str, String); 7] = [
        (
            "pending",
            "gauge",
            "Updates waiting to be delivered.",
            s.pending.to_string(),
        ),
        (
            "oldest_pending_age_seconds",
            "gauge",
            "Age of the oldest pending update (0 when none is pending).",
            age.to_string(),
        ),
        (
            "dead",
            "gauge",
            "Dead letters in the store.",
            s.dead.to_string(),
        ),
        (
            "delivered_total",
            "counter",
            "Updates the service accepted.",
            s.delivered.to_string(),
        ),
        (
            "attempts_total",
            "counter",
            "Calls made (one call may carry several coalesced updates).",
            s.attempts.to_string(),
        ),
        (
            "throttled_total",
            "counter",
            "Calls the service throttled.",
            s.throttled.to_string(),
        ),
        (
            "send_rate",
            "gauge",
            "The store's shared send rate, calls per second.",
            s.send_rate.to_string(),
        ),
    ];
    let mut text = String::new();
    for (name, kind, help, value) in metrics {
        let name = format!("connect_contact_outbox_{name}");
        text.push_str(&format!(
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name}{{{labels}}} {value}\n"
        ));
    }
    text
}

/// A dead letter's instance and contact ids (not sensitive; the rest of the request may be).
fn ids_of(d: &DeadLetter) -> (String, String) {
    let request: Value = serde_json::from_str(&d.request).unwrap_or(Value::Null);
    let member = |name: &str| request[name].as_str().unwrap_or("").to_string();
    (member("InstanceId"), member("ContactId"))
}

fn dead_letters_json(dead: &[DeadLetter]) -> String {
    Value::Array(
        dead.iter()
            .map(|d| {
                let (instance, contact) = ids_of(d);
                json!({
                    "Id": d.id,
                    "InstanceId": instance,
                    "ContactId": contact,
                    "Attempts": d.attempts,
                    "Error": {"Code": d.code, "Message": d.message, "Status": d.status.name()},
                })
            })
            .collect(),
    )
    .to_string()
}

/// One line of a table cell: control characters shown as spaces.
fn cell(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

fn dead_letters_table(dead: &[DeadLetter]) -> String {
    if dead.is_empty() {
        return "no dead letters\n".into();
    }
    let header = ["ID", "CONTACT", "ATTEMPTS", "STATUS", "CODE", "MESSAGE"];
    let rows: Vec<[String; 6]> = dead
        .iter()
        .map(|d| {
            [
                d.id.to_string(),
                cell(&ids_of(d).1),
                d.attempts.to_string(),
                d.status.name().to_string(),
                cell(&d.code),
                cell(&d.message),
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &rows {
        for (w, value) in widths.iter_mut().zip(row) {
            *w = (*w).max(value.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut text = String::new();
        for (i, value) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                text.push_str(value);
            } else {
                text.push_str(&format!("{value:<w$}  ", w = widths[i]));
            }
        }
        text.push('\n');
        text
    };
    let mut text = line(header.to_vec());
    for row in &rows {
        text.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    text
}

/// Asks on the terminal whether to discard all `count` dead letters of `store`.
fn confirmed(count: usize, store: &str) -> Result<bool, Failure> {
    if !std::io::stdin().is_terminal() {
        return Err(Failure::new(
            EXIT_PARAMETERS,
            "outbox discard --all: no terminal to ask on; add --yes to discard every dead \
             letter (nothing was discarded)"
                .into(),
        ));
    }
    eprint!("Discard all {count} dead letters of {store}? [y/N] ");
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(|e| Failure::new(EXIT_OTHER, format!("outbox: stdin: {e}")))?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes" | "YES" | "Yes"))
}

/// `retry` or `discard` of the ids picked (or of every dead letter).
fn steer(global: &Global, pick: &Pick, verb: &str, yes: bool) -> Result<(), Failure> {
    let format = output(global, verb, &["table", "json"])?;
    let admin = open(&pick.store)?;
    let ids: Vec<u64> = if pick.all {
        let all: Vec<u64> = admin
            .dead_letters()
            .map_err(|e| failure(&e))?
            .iter()
            .map(|d| d.id)
            .collect();
        if verb == "discard"
            && !yes
            && !all.is_empty()
            && !confirmed(all.len(), &shown(&pick.store.path))?
        {
            return Err(Failure::new(
                EXIT_NOT_DEAD,
                "outbox discard: nothing was discarded".into(),
            ));
        }
        all
    } else {
        pick.ids.clone()
    };
    let (mut done, mut unknown) = (Vec::new(), Vec::new());
    for id in ids {
        let handled = if verb == "retry" {
            admin.retry_dead(id)
        } else {
            admin.discard_dead(id)
        }
        .map_err(|e| failure(&e))?;
        if handled {
            done.push(id);
        } else {
            unknown.push(id);
        }
    }
    let past = if verb == "retry" {
        "retried"
    } else {
        "discarded"
    };
    if format == "json" {
        print(&format!(
            "{}\n",
            json!({ past: done, "NotDeadLetters": unknown })
        ))?;
    } else {
        let mut text = String::new();
        for id in &done {
            text.push_str(&format!("{past} {id}\n"));
        }
        if done.is_empty() && unknown.is_empty() {
            text.push_str("no dead letters\n");
        }
        print(&text)?;
    }
    if unknown.is_empty() {
        Ok(())
    } else {
        let list: Vec<String> = unknown.iter().map(u64::to_string).collect();
        Err(Failure::new(
            EXIT_NOT_DEAD,
            format!("outbox {verb}: not a dead letter: {}", list.join(", ")),
        ))
    }
}
