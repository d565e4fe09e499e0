//! The outbox file: judged before anything is written to it, created owner-only, stamped
//! with its application id and schema version, opened in WAL mode with the durability each
//! connection needs.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, TransactionBehavior};

use super::heads::{ensure_heads, HEADS_SCHEMA};
use super::{storage, storage_reason};
use crate::error::Error;

/// The SQLite `application_id` of an outbox file: "CCOB" (connect-contact outbox). A file
/// carrying another (or none, unless it is empty or an unstamped outbox of the previous
/// release) is not opened.
pub(super) const APPLICATION_ID: i32 = 0x4343_4F42;
/// The version of the tables below, kept in the file's `user_version`: a file of a newer
/// version is refused (this code would misread it).
const SCHEMA_VERSION: i32 = 1;

/// The outbox's tables. Also the reference an unstamped file's tables are compared with.
pub(super) const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS outbox(
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        contact TEXT NOT NULL,
        instance_id TEXT NOT NULL,
        contact_id TEXT NOT NULL,
        body TEXT NOT NULL,
        enqueued_ms INTEGER NOT NULL,
        dead INTEGER NOT NULL DEFAULT 0,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_ms INTEGER NOT NULL DEFAULT 0,
        lease_owner TEXT,
        lease_until INTEGER NOT NULL DEFAULT 0,
        solo INTEGER NOT NULL DEFAULT 0,
        error_status INTEGER,
        error_code TEXT,
        error_message TEXT);
     CREATE INDEX IF NOT EXISTS outbox_by_contact ON outbox(dead, contact, id);
     CREATE TABLE IF NOT EXISTS outbox_counters(name TEXT PRIMARY KEY, value INTEGER NOT NULL);
     CREATE TABLE IF NOT EXISTS outbox_pacer(
        id INTEGER PRIMARY KEY CHECK (id = 1),
        rate REAL NOT NULL,
        start_rate REAL NOT NULL,
        burst REAL NOT NULL,
        tokens REAL NOT NULL,
        refilled_us INTEGER NOT NULL,
        grown_us INTEGER NOT NULL,
        cut_us INTEGER NOT NULL,
        ceiling REAL NOT NULL,
        unavailable_us INTEGER NOT NULL DEFAULT 0);";

/// What a file holds, judged before anything is written to it.
#[derive(Debug, PartialEq)]
enum Found {
    /// Zero bytes, or an SQLite database with nothing in it: made into an outbox.
    Empty,
    /// Stamped as an outbox of this schema version.
    Outbox,
    /// An outbox made before files were stamped (application_id 0, the tables of
    /// [`SCHEMA`]): stamped and used.
    Unstamped,
}

/// Which file an open outbox uses: (device, inode), to notice it deleted or replaced.
pub(super) type FileId = (u64, u64);

pub(super) fn file_id(path: &Path) -> std::io::Result<FileId> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(path)?;
    Ok((meta.dev(), meta.ino()))
}

/// Makes `path` ready to open for writing, writing nothing to a file that is not an outbox:
/// a missing file is created owner-only (0600, whatever the umask; SQLite gives `-wal` and
/// `-shm` the main file's mode), an existing one is judged through a read-only connection
/// and refused unless it is empty or an outbox this version reads.
fn prepare_file(path: &Path) -> Result<(), Error> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    match std::fs::metadata(path) {
        Ok(meta) if meta.len() > 0 => {
            let conn = Connection::open_with_flags(
                path,
                OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )
            .map_err(|e| storage(path, e))?;
            conn.busy_timeout(Duration::from_secs(30))
                .map_err(|e| storage(path, e))?;
            judge(&conn)
                .map_err(|e| storage(path, e))?
                .map_err(|reason| storage_reason(path, &reason))?;
            Ok(())
        }
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            // This process holds no SQLite lock on a file it has just made, so closing this
            // descriptor cannot drop one (POSIX locks belong to the process and the inode).
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path)
            {
                Ok(file) => file
                    .set_permissions(std::fs::Permissions::from_mode(0o600))
                    .map_err(|e| storage_reason(path, &format!("cannot make it owner-only: {e}"))),
                // Another process made it first: judged by the stamp step under its lock.
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
                Err(e) => Err(storage_reason(path, &format!("cannot create it: {e}"))),
            }
        }
        Err(e) => Err(storage_reason(path, &format!("cannot read it: {e}"))),
    }
}

/// What the file behind `conn` is, or why it is not opened (the reason, naming no data).
fn judge(conn: &Connection) -> rusqlite::Result<Result<Found, String>> {
    let pragma = |name: &str| conn.query_row(&format!("PRAGMA {name}"), [], |r| r.get::<_, i32>(0));
    let (application_id, version) = (pragma("application_id")?, pragma("user_version")?);
    if application_id == APPLICATION_ID {
        return Ok(match version {
            SCHEMA_VERSION => Ok(Found::Outbox),
            v if v > SCHEMA_VERSION => Err(format!(
                "made by a newer version of connect-contact (outbox schema version {v}; this \
                 version reads version {SCHEMA_VERSION}); open it with that version or newer"
            )),
            v => Err(format!(
                "an outbox file of an unknown schema version {v} (this version reads version \
                 {SCHEMA_VERSION})"
            )),
        });
    }
    let refused = Err(format!(
        "not an outbox file: an SQLite database of another application (application_id \
         {application_id:#x}, user_version {version}); it was left unchanged"
    ));
    if application_id != 0 || version != 0 {
        return Ok(refused);
    }
    let tables = columns_by_table(conn)?;
    let objects: i64 = conn.query_row("SELECT COUNT(*) FROM sqlite_master", [], |r| r.get(0))?;
    if objects == 0 {
        return Ok(Ok(Found::Empty));
    }
    // An outbox of the previous release: the `outbox` table and no table but ours, each with
    // exactly the columns SCHEMA gives it.
    let reference = Connection::open_in_memory()?;
    reference.execute_batch(SCHEMA)?;
    reference.execute_batch(HEADS_SCHEMA)?;
    let ours = columns_by_table(&reference)?;
    let unstamped = tables.contains_key("outbox")
        && tables
            .iter()
            .all(|(name, columns)| ours.get(name) == Some(columns));
    Ok(if unstamped {
        Ok(Found::Unstamped)
    } else {
        refused
    })
}

/// Each table (SQLite's own aside) with its column names in order.
fn columns_by_table(
    conn: &Connection,
) -> rusqlite::Result<std::collections::BTreeMap<String, Vec<String>>> {
    let names: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let mut tables = std::collections::BTreeMap::new();
    for name in names {
        let columns = conn
            .prepare("SELECT name FROM pragma_table_info(?1) ORDER BY cid")?
            .query_map([&name], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        tables.insert(name, columns);
    }
    Ok(tables)
}

/// Judges the file again under the write lock (another process may have made it meanwhile)
/// and, when it is empty or unstamped, stamps it and makes the tables, in one transaction.
fn stamp(conn: &mut Connection, path: &Path) -> Result<(), Error> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(|e| storage(path, e))?;
    let found = judge(&tx)
        .map_err(|e| storage(path, e))?
        .map_err(|reason| storage_reason(path, &reason))?;
    if found != Found::Outbox {
        tx.execute_batch(&format!(
            "PRAGMA application_id = {APPLICATION_ID}; PRAGMA user_version = {SCHEMA_VERSION}; {SCHEMA}"
        ))
        .map_err(|e| storage(path, e))?;
    }
    tx.commit().map_err(|e| storage(path, e))
}

/// The first connection to an outbox file: judged (refused untouched unless it is empty or
/// an outbox), created owner-only when missing, stamped, with its tables.
pub(super) fn open_file(path: &Path) -> Result<Connection, Error> {
    prepare_file(path)?;
    let mut conn = open_connection(path)?;
    stamp(&mut conn, path)?;
    ensure_heads(&mut conn).map_err(|e| storage(path, e))?;
    Ok(conn)
}

/// A connection to an outbox file already made ready by [`open_file`].
fn open_connection(path: &Path) -> Result<Connection, Error> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| storage(path, e))?;
    conn.busy_timeout(Duration::from_secs(30))
        .map_err(|e| storage(path, e))?;
    // Switching a new file to WAL needs it to itself for a moment: when another process is
    // making the same file, SQLite may answer busy (or leave the old mode) at once rather
    // than wait, so try again for up to 2 s.
    let mut tries = 0;
    loop {
        tries += 1;
        let last = tries >= 100;
        match conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get::<_, String>(0)) {
            Ok(mode) if mode.eq_ignore_ascii_case("wal") => break,
            Ok(mode) if last => {
                return Err(storage_reason(
                    path,
                    &format!("cannot use WAL mode (got journal mode {mode})"),
                ))
            }
            Err(e) if last || e.sqlite_error_code() != Some(rusqlite::ErrorCode::DatabaseBusy) => {
                return Err(storage(path, e))
            }
            _ => std::thread::sleep(Duration::from_millis(20)),
        }
    }
    // FULL: the WAL is fsynced at each commit, so an acknowledged enqueue survives power loss.
    conn.execute_batch("PRAGMA synchronous=FULL;")
        .map_err(|e| storage(path, e))?;
    Ok(conn)
}

/// A delivery thread's connection. Leases and delivery records need not reach the disk at
/// once: lost by a power cut, a lease is simply free again and a delivered row is sent again
/// (at least once, see docs/outbox.md). A process crash loses neither (WAL).
pub(super) fn worker_connection(path: &Path) -> Result<Connection, Error> {
    #[cfg(test)]
    crate::outbox::tests::fail_hook()?;
    let conn = open_connection(path)?;
    conn.execute_batch("PRAGMA synchronous=NORMAL;")
        .map_err(|e| storage(path, e))?;
    Ok(conn)
}
