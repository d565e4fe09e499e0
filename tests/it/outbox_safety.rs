//! The outbox under abuse (issue 26): files that are not outboxes are refused untouched, an
//! outbox's files are owner-only, a file deleted or replaced while open refuses enqueues,
//! and a panicking delivery iteration does not stop delivery.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use connect_contact::{Client, Outbox, OutboxEvent, OutboxOptions, Status};
use connect_emulator::Emulator;
use rusqlite::Connection;

use crate::support::outbox::{emulator_config, quota_emulator, update};

const INSTANCE: &str = "outbox-safety";

/// The stamp of an outbox file. Pinned here on purpose: it is the file format, and a change
/// would make every existing outbox "another application's database".
const APPLICATION_ID: i32 = 0x4343_4F42;
const SCHEMA_VERSION: i32 = 1;

fn emulator() -> Emulator {
    quota_emulator(10_000.0, 10_000.0)
}

fn client(emulator: &Emulator) -> Arc<Client> {
    Arc::new(crate::support::client(&emulator_config(
        &emulator.endpoint_url(),
    )))
}

fn fresh_file(name: &str) -> PathBuf {
    let dir = crate::support::scratch_dir("outbox-safety");
    let path = dir.join(format!("{name}-{}.db", std::process::id()));
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(sibling(&path, suffix));
    }
    path
}

fn sibling(path: &Path, suffix: &str) -> PathBuf {
    PathBuf::from(format!("{}{suffix}", path.display()))
}

fn fast() -> OutboxOptions {
    let mut o = OutboxOptions::default();
    o.rate = 500.0;
    o.burst = 50;
    o.workers = 1;
    o.max_backoff = Duration::from_millis(50);
    o
}

fn pragma(path: &Path, name: &str) -> i32 {
    Connection::open(path)
        .unwrap()
        .query_row(&format!("PRAGMA {name}"), [], |r| r.get(0))
        .unwrap()
}

/// An SQLite file of another program, in its own (rollback) journal mode.
fn foreign_database(path: &Path, setup: &str) {
    let conn = Connection::open(path).unwrap();
    conn.execute_batch(setup).unwrap();
}

#[test]
fn another_applications_database_is_refused_naming_the_file_and_left_unchanged() {
    let emulator = emulator();
    let client = client(&emulator);
    let cases = [
        (
            "plain",
            "CREATE TABLE customers(id INTEGER PRIMARY KEY, name TEXT);
             INSERT INTO customers(name) VALUES ('Renee');",
            "not an outbox file",
        ),
        (
            "stamped",
            "PRAGMA application_id = 305419896; CREATE TABLE t(x);",
            "application_id 0x12345678",
        ),
        (
            "versioned",
            "PRAGMA user_version = 7; CREATE TABLE outbox(x);",
            "not an outbox file",
        ),
        (
            // An outbox table, but not ours (other columns).
            "lookalike",
            "CREATE TABLE outbox(id INTEGER PRIMARY KEY, payload BLOB);",
            "not an outbox file",
        ),
    ];
    for (name, setup, reason) in cases {
        let path = fresh_file(name);
        foreign_database(&path, setup);
        let before = std::fs::read(&path).unwrap();
        let e = Outbox::open(Arc::clone(&client), &path, fast()).unwrap_err();
        assert_eq!(e.status(), Status::Storage, "{name}: {e:?}");
        assert!(e.message().contains(path.to_str().unwrap()), "{name}: {e}");
        assert!(e.message().contains(reason), "{name}: {e}");
        assert_eq!(
            std::fs::read(&path).unwrap(),
            before,
            "{name}: the file was written"
        );
        for suffix in ["-wal", "-shm", "-journal"] {
            assert!(
                !sibling(&path, suffix).exists(),
                "{name}: {suffix} was made"
            );
        }
    }
}

#[test]
fn an_outbox_of_a_newer_schema_is_refused_saying_so() {
    let emulator = emulator();
    let client = client(&emulator);
    let path = fresh_file("newer");
    Outbox::open(Arc::clone(&client), &path, fast())
        .unwrap()
        .close();
    Connection::open(&path)
        .unwrap()
        .execute_batch(&format!("PRAGMA user_version = {}", SCHEMA_VERSION + 1))
        .unwrap();
    let e = Outbox::open(client, &path, fast()).unwrap_err();
    assert_eq!(e.status(), Status::Storage, "{e:?}");
    assert!(e.message().contains(path.to_str().unwrap()), "{e}");
    assert!(
        e.message().contains("newer version") && e.message().contains("schema version 2"),
        "{e}"
    );
    assert_eq!(pragma(&path, "user_version"), SCHEMA_VERSION + 1);
}

#[test]
fn a_new_outbox_is_stamped_and_an_unstamped_one_of_the_previous_release_is_adopted() {
    let emulator = emulator();
    let client = client(&emulator);
    let new = fresh_file("stamped");
    Outbox::open(Arc::clone(&client), &new, fast())
        .unwrap()
        .close();
    assert_eq!(pragma(&new, "application_id"), APPLICATION_ID);
    assert_eq!(pragma(&new, "user_version"), SCHEMA_VERSION);

    // The previous release's file: its tables, in WAL mode, no stamp, one update pending.
    let old = fresh_file("unstamped");
    foreign_database(
        &old,
        "PRAGMA journal_mode=WAL;
         CREATE TABLE outbox(id INTEGER PRIMARY KEY AUTOINCREMENT, contact TEXT NOT NULL,
            instance_id TEXT NOT NULL, contact_id TEXT NOT NULL, body TEXT NOT NULL,
            enqueued_ms INTEGER NOT NULL, dead INTEGER NOT NULL DEFAULT 0,
            attempts INTEGER NOT NULL DEFAULT 0, next_ms INTEGER NOT NULL DEFAULT 0,
            lease_owner TEXT, lease_until INTEGER NOT NULL DEFAULT 0,
            solo INTEGER NOT NULL DEFAULT 0, error_status INTEGER, error_code TEXT,
            error_message TEXT);
         CREATE INDEX outbox_by_contact ON outbox(dead, contact, id);
         CREATE TABLE outbox_counters(name TEXT PRIMARY KEY, value INTEGER NOT NULL);
         INSERT INTO outbox(contact, instance_id, contact_id, body, enqueued_ms)
            VALUES ('outbox-safety' || char(31) || 'c0', 'outbox-safety', 'c0',
                    '{\"Name\":\"carried over\"}', 0);",
    );
    assert_eq!(pragma(&old, "application_id"), 0);
    let outbox = Outbox::open(client, &old, fast()).unwrap();
    assert!(outbox.flush(Duration::from_secs(20)).unwrap());
    assert_eq!(outbox.stats().delivered, 1);
    outbox.close();
    assert_eq!(pragma(&old, "application_id"), APPLICATION_ID);
    assert_eq!(pragma(&old, "user_version"), SCHEMA_VERSION);
    let log = emulator.updates();
    assert_eq!(log[0]["Name"], "carried over", "{log}");
}

#[test]
fn an_outboxs_files_are_owner_only() {
    let emulator = emulator();
    let client = client(&emulator);
    let path = fresh_file("owner-only");
    let outbox = Outbox::open(client, &path, fast()).unwrap();
    outbox.enqueue(&update(INSTANCE, 1, 1)).unwrap();
    for suffix in ["", "-wal", "-shm"] {
        let file = sibling(&path, suffix);
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{} is {mode:o}", file.display());
    }
    outbox.close();
}

#[test]
fn an_enqueue_into_a_file_deleted_or_replaced_while_open_is_a_storage_error() {
    let emulator = emulator();
    let client = client(&emulator);
    let deleted = fresh_file("deleted");
    let replaced = fresh_file("replaced");
    let other = fresh_file("replacement");
    std::fs::write(&other, b"").unwrap();
    for path in [&deleted, &replaced] {
        let outbox = Outbox::open(Arc::clone(&client), path, fast()).unwrap();
        outbox.enqueue(&update(INSTANCE, 1, 1)).unwrap();
        if path == &deleted {
            std::fs::remove_file(path).unwrap();
        } else {
            std::fs::rename(&other, path).unwrap();
        }
        let e = outbox.enqueue(&update(INSTANCE, 2, 1)).unwrap_err();
        assert_eq!(e.status(), Status::Storage, "{e:?}");
        assert!(e.message().contains(path.to_str().unwrap()), "{e}");
        assert!(
            e.message()
                .contains("the outbox file was deleted or replaced while open"),
            "{e}"
        );
        outbox.close();
    }
}

#[test]
fn a_panicking_delivery_iteration_does_not_stop_delivery() {
    let emulator = emulator();
    let client = client(&emulator);
    let path = fresh_file("panic");
    let events = Arc::new(AtomicUsize::new(0));
    let mut options = fast();
    let seen = Arc::clone(&events);
    options.on_event = Some(Arc::new(move |_: &OutboxEvent| {
        if seen.fetch_add(1, Ordering::SeqCst) == 0 {
            panic!("test: the first on_event call panics (expected)");
        }
    }));
    // One delivery thread: if the panic ended it, nothing would deliver the second update.
    let outbox = Outbox::open(client, &path, options).unwrap();
    outbox.enqueue(&update(INSTANCE, 1, 2)).unwrap();
    assert!(outbox.flush(Duration::from_secs(20)).unwrap());
    outbox.enqueue(&update(INSTANCE, 2, 2)).unwrap();
    assert!(
        outbox.flush(Duration::from_secs(20)).unwrap(),
        "delivery stopped after a panic"
    );
    assert_eq!(events.load(Ordering::SeqCst), 2);
    assert_eq!(outbox.stats().delivered, 2);
    outbox.close();
}
