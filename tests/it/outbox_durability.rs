//! The outbox's durability beyond a process crash (issue 27): an acknowledged enqueue has had
//! its commit synced to the disk. SIGKILL (tests/it/outbox.rs) keeps the page cache, so it
//! cannot tell `synchronous=FULL` from `NORMAL` or `OFF`; these tests can.
//!
//! - The enqueue connection reports `journal_mode=wal` and `synchronous=2` (FULL), read
//!   back through `unstable::outbox_enqueue_durability`.
//! - A child process (this test binary run again on `outbox_durability::child_process` with
//!   `OUTBOX_DURABILITY_CHILD` set) enqueues under `strace -f -y`, writing a marker to
//!   /dev/null before each enqueue and after it returns. The trace must show, on the
//!   enqueueing thread and between the two markers, a write to the file's `-wal` and then an
//!   fsync or fdatasync of it that succeeded.

use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use crate::support::outbox::parked_options;
use connect_contact::unstable::outbox_enqueue_durability;
use connect_contact::{Client, Outbox};

const INSTANCE: &str = "durability-instance";
const CHILD_ENV: &str = "OUTBOX_DURABILITY_CHILD";
const ENQUEUES: u64 = 5;

/// A client that delivers nowhere (nothing listens): only enqueue matters here.
fn parked_client() -> Arc<Client> {
    Arc::new(crate::support::client(
        &crate::support::outbox::emulator_config(&crate::support::dead_url()),
    ))
}

fn fresh_file(name: &str) -> PathBuf {
    // Canonical: strace -y prints the file behind a descriptor by its resolved path.
    let dir = crate::support::scratch_dir("outbox-durability")
        .canonicalize()
        .unwrap();
    let path = dir.join(format!("{name}-{}.db", std::process::id()));
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    path
}

#[test]
fn the_enqueue_connection_is_wal_with_synchronous_full() {
    let path = fresh_file("pragmas");
    let outbox = Outbox::open(parked_client(), &path, parked_options()).unwrap();
    let (mode, synchronous) = outbox_enqueue_durability(&outbox).unwrap();
    assert_eq!(mode.to_ascii_lowercase(), "wal");
    // SQLite's numbers: 0 OFF, 1 NORMAL, 2 FULL, 3 EXTRA.
    assert_eq!(synchronous, 2, "synchronous must be FULL (2)");
    outbox.close();
}

/// Not a test on its own: the body of the traced child (does nothing without
/// OUTBOX_DURABILITY_CHILD, which holds the outbox file's path).
#[test]
fn child_process() {
    let Ok(file) = std::env::var(CHILD_ENV) else {
        return;
    };
    let outbox = Outbox::open(parked_client(), &file, parked_options()).unwrap();
    let mut marker = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/null")
        .unwrap();
    for seq in 0..ENQUEUES {
        marker
            .write_all(format!("{}\n", before(seq)).as_bytes())
            .unwrap();
        outbox
            .enqueue(&crate::support::outbox::update(INSTANCE, seq, 3))
            .unwrap();
        marker
            .write_all(format!("{}\n", after(seq)).as_bytes())
            .unwrap();
    }
    outbox.close();
}

fn before(seq: u64) -> String {
    format!("cc-durability-enqueue-{seq}-called")
}

fn after(seq: u64) -> String {
    format!("cc-durability-enqueue-{seq}-returned")
}

/// One syscall of the trace that matters here, on thread `tid`.
#[derive(Debug, PartialEq)]
enum Event {
    Marker(String),
    WalWrite,
    /// An fsync/fdatasync of the WAL; `ok` once its result (0) is seen.
    WalSync {
        ok: bool,
    },
}

/// The trace's events per thread, in order. strace -f splits a call that another thread
/// interrupts into `... <unfinished ...>` and `<... fdatasync resumed>) = 0`.
fn events(trace: &str, wal: &str) -> HashMap<u32, Vec<Event>> {
    let wal_fd = format!("<{wal}>");
    let mut by_thread: HashMap<u32, Vec<Event>> = HashMap::new();
    for line in trace.lines() {
        let Some((tid, call)) = line.split_once(' ') else {
            continue;
        };
        let Ok(tid) = tid.parse::<u32>() else {
            continue;
        };
        let call = call.trim_start();
        let list = by_thread.entry(tid).or_default();
        let succeeded = call.trim_end().ends_with("= 0");
        if call.starts_with("<... fsync resumed>") || call.starts_with("<... fdatasync resumed>") {
            if let Some(Event::WalSync { ok }) = list.last_mut() {
                *ok = succeeded;
            }
        } else if call.starts_with("fsync(") || call.starts_with("fdatasync(") {
            if call.contains(&wal_fd) {
                list.push(Event::WalSync { ok: succeeded });
            }
        } else if call.starts_with("pwrite64(") || call.starts_with("write(") {
            if call.contains(&wal_fd) {
                list.push(Event::WalWrite);
            } else if let Some(start) = call.find("\"cc-durability-") {
                let text = &call[start + 1..];
                let end = text.find(['\\', '"']).unwrap_or(text.len());
                list.push(Event::Marker(text[..end].to_owned()));
            }
        }
    }
    by_thread
}

/// For each enqueue, what the trace lacks between its two markers (empty: all there).
fn unsynced_enqueues(trace: &str, wal: &str) -> Vec<String> {
    let by_thread = events(trace, wal);
    let mut problems = Vec::new();
    for seq in 0..ENQUEUES {
        let (called, returned) = (Event::Marker(before(seq)), Event::Marker(after(seq)));
        let Some(list) = by_thread.values().find(|l| l.contains(&called)) else {
            problems.push(format!("enqueue {seq}: no marker before it in the trace"));
            continue;
        };
        let from = list.iter().position(|e| *e == called).unwrap();
        let Some(to) = list.iter().position(|e| *e == returned) else {
            problems.push(format!(
                "enqueue {seq}: no marker after it on the same thread"
            ));
            continue;
        };
        let between = &list[from..to];
        let wrote = between.iter().position(|e| *e == Event::WalWrite);
        let synced = wrote.and_then(|w| {
            between[w..]
                .iter()
                .position(|e| *e == Event::WalSync { ok: true })
        });
        if synced.is_none() {
            problems.push(format!(
                "enqueue {seq}: returned without a successful fsync/fdatasync of the WAL after \
                 writing it (between its markers: {between:?})"
            ));
        }
    }
    problems
}

fn require_strace() {
    let found = std::process::Command::new("strace")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        found,
        "strace is required for this test (apt-get install strace; scripts/setup test does it)"
    );
}

#[test]
fn each_enqueue_syncs_the_wal_before_it_returns() {
    require_strace();
    let path = fresh_file("strace");
    let wal = format!("{}-wal", path.display());
    let trace_file = path.with_extension("strace");
    let _ = std::fs::remove_file(&trace_file);
    // Created first, so the child's open is an ordinary one (nothing to set up under trace).
    Outbox::open(parked_client(), &path, parked_options())
        .unwrap()
        .close();
    let output = crate::support::command("strace")
        .args(["-f", "-qq", "-y", "-s", "64", "-o"])
        .arg(&trace_file)
        .args(["-e", "trace=fsync,fdatasync,write,pwrite64"])
        .arg(std::env::current_exe().unwrap())
        .args([
            "outbox_durability::child_process",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, &path)
        .output()
        .unwrap();
    let shown = |o: &[u8]| String::from_utf8_lossy(o).into_owned();
    assert!(
        output.status.success() && shown(&output.stdout).contains("1 passed"),
        "the traced child failed ({}):\n{}\n{}",
        output.status,
        shown(&output.stdout),
        shown(&output.stderr)
    );
    let trace = std::fs::read_to_string(&trace_file).unwrap();
    assert!(
        trace.contains(&before(0)),
        "the markers are in the trace: {}",
        trace_file.display()
    );
    let problems = unsynced_enqueues(&trace, &wal);
    assert!(
        problems.is_empty(),
        "{} (trace: {})",
        problems.join("; "),
        trace_file.display()
    );
}

#[test]
fn the_trace_reader_finds_a_missing_sync() {
    // The reader itself, on hand-written traces: a sync in place, one missing, one failed,
    // one on another thread, one split by strace, one before the WAL write.
    let wal = "/x/o.db-wal";
    let good = |seq| {
        format!(
            "7 write(3</dev/null>, \"{}\\n\", 30) = 30\n\
             7 pwrite64(5<{wal}>, \"\\0\"..., 4096, 0) = 4096\n\
             7 fdatasync(5<{wal}> <unfinished ...>\n\
             8 write(9<{wal}>, \"x\", 1) = 1\n\
             7 <... fdatasync resumed>) = 0\n\
             7 write(3</dev/null>, \"{}\\n\", 30) = 30\n",
            before(seq),
            after(seq)
        )
    };
    let all_good: String = (0..ENQUEUES).map(good).collect();
    assert_eq!(unsynced_enqueues(&all_good, wal), Vec::<String>::new());
    let broken = [
        ("7 fdatasync(5<{wal}> <unfinished ...>\n", ""),
        (
            "<... fdatasync resumed>) = 0",
            "<... fdatasync resumed>) = -1 EIO",
        ),
        (
            "7 fdatasync(5<{wal}> <unfinished ...>",
            "8 fdatasync(5<{wal}> <unfinished ...>",
        ),
        (
            "7 fdatasync(5<{wal}> <unfinished ...>",
            "7 fdatasync(6</x/o.db> <unfinished ...>",
        ),
    ];
    for (from, to) in broken {
        let from = from.replace("{wal}", wal);
        let to = to.replace("{wal}", wal);
        let trace = all_good.replacen(&from, &to, 1);
        assert_ne!(trace, all_good, "{from}");
        assert_eq!(unsynced_enqueues(&trace, wal).len(), 1, "{to}");
    }
    let synced_first = all_good.replacen(
        &format!("7 pwrite64(5<{wal}>, \"\\0\"..., 4096, 0) = 4096\n"),
        "",
        1,
    );
    assert_eq!(unsynced_enqueues(&synced_first, wal).len(), 1);
}
