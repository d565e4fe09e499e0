//! The SQLite store: one outbox file (WAL mode) that several processes of one machine may
//! open. The file's write lock serializes every step (`BEGIN IMMEDIATE`); enqueues commit
//! with `synchronous=FULL`, delivery threads with `NORMAL` (docs/outbox.md, "Storage").

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

use super::deliver::now_ms;
#[cfg(test)]
use super::deliver::now_ms as deliver_now_ms;
use super::lock;
use super::pacer::PacerState;
use super::store::{Counter, DeadRow, PendingRow, Store, StoredStats, Tx, Worker};
use crate::error::Error;

#[cfg(test)]
mod claim_tests;
mod file;
mod heads;

use file::{file_id, open_file, worker_connection, FileId};
use heads::{FIRST_DUE, PENDING_UP_TO, READY_HEAD, RELEASE, RUN_OF};

/// A failure of the outbox file: CONNECT_STATUS_STORAGE, naming the file and SQLite's reason
/// (its message and result code, e.g. `unable to open database file (SQLITE_CANTOPEN)`).
fn storage(path: &Path, e: rusqlite::Error) -> Error {
    let reason = match &e {
        rusqlite::Error::SqliteFailure(failure, message) => {
            let text = message.clone().unwrap_or_else(|| failure.to_string());
            format!("{text} ({})", sqlite_code_name(failure.code))
        }
        other => other.to_string(),
    };
    storage_reason(path, &reason)
}

fn storage_reason(path: &Path, reason: &str) -> Error {
    Error::Storage(format!("outbox file {}: {reason}", path.display()))
}

fn sqlite_code_name(code: rusqlite::ErrorCode) -> &'static str {
    use rusqlite::ErrorCode as C;
    match code {
        C::CannotOpen => "SQLITE_CANTOPEN",
        C::NotADatabase => "SQLITE_NOTADB",
        C::DatabaseCorrupt => "SQLITE_CORRUPT",
        C::DiskFull => "SQLITE_FULL",
        C::ReadOnly => "SQLITE_READONLY",
        C::PermissionDenied => "SQLITE_PERM",
        C::SystemIoFailure => "SQLITE_IOERR",
        C::DatabaseBusy => "SQLITE_BUSY",
        C::DatabaseLocked => "SQLITE_LOCKED",
        C::OutOfMemory => "SQLITE_NOMEM",
        C::FileLockingProtocolFailed => "SQLITE_PROTOCOL",
        C::SchemaChanged => "SQLITE_SCHEMA",
        C::TooBig => "SQLITE_TOOBIG",
        C::ConstraintViolation => "SQLITE_CONSTRAINT",
        C::NoLargeFileSupport => "SQLITE_NOLFS",
        C::AuthorizationForStatementDenied => "SQLITE_AUTH",
        _ => "SQLITE_ERROR",
    }
}

/// An outbox file opened for this process.
pub(crate) struct SqliteStore {
    path: PathBuf,
    describe: String,
    /// The file opened, to notice it deleted or replaced while open.
    file: FileId,
    /// Enqueue, stats and dead-letter calls.
    conn: Mutex<Connection>,
}

impl SqliteStore {
    /// Opens (making it when missing) the outbox file at `path`, and frees the leases of
    /// this machine's processes that no longer run.
    pub(crate) fn open(path: &Path) -> Result<SqliteStore, Error> {
        let conn = open_file(path)?;
        let file =
            file_id(path).map_err(|e| storage_reason(path, &format!("cannot read it: {e}")))?;
        release_leases_of_dead_processes(&conn).map_err(|e| storage(path, e))?;
        Ok(SqliteStore {
            path: path.to_path_buf(),
            describe: format!("outbox file {}", path.display()),
            file,
            conn: Mutex::new(conn),
        })
    }

    fn fail(&self) -> impl Fn(rusqlite::Error) -> Error + '_ {
        move |e| storage(&self.path, e)
    }
}

/// Leases held by processes of this host that no longer run (killed, crashed) are released at
/// once rather than when they time out. A lease owner is `pid-start_ms-random-claim`.
fn release_leases_of_dead_processes(conn: &Connection) -> rusqlite::Result<()> {
    let owners: Vec<String> = {
        let mut stmt = conn.prepare(
            "SELECT DISTINCT lease_owner FROM outbox_heads WHERE lease_owner IS NOT NULL AND lease_until > ?1",
        )?;
        let rows = stmt.query_map([now_ms()], |r| r.get::<_, String>(0))?;
        rows.collect::<Result<_, _>>()?
    };
    for owner in owners {
        let pid = owner.split('-').next().unwrap_or("");
        let gone = !pid.is_empty()
            && Path::new("/proc/self").exists()
            && !Path::new("/proc").join(pid).exists();
        if gone {
            conn.execute(
                "UPDATE outbox_heads SET lease_owner = NULL, lease_until = 0 WHERE lease_owner = ?1",
                [&owner],
            )?;
        }
    }
    Ok(())
}

impl Store for SqliteStore {
    fn describe(&self) -> &str {
        &self.describe
    }

    fn enqueue(
        &self,
        contact: &str,
        instance_id: &str,
        contact_id: &str,
        body: &str,
    ) -> Result<u64, Error> {
        let conn = lock(&self.conn);
        conn.execute(
            "INSERT INTO outbox(contact, instance_id, contact_id, body, enqueued_ms) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![contact, instance_id, contact_id, body, now_ms()],
        )
        .map_err(self.fail())?;
        let id = conn.last_insert_rowid() as u64;
        drop(conn);
        // Committed to the file this outbox opened; acknowledged only if that file is still
        // the one at `path` (deleted or renamed over, the update would be lost at close).
        if file_id(&self.path).ok() != Some(self.file) {
            return Err(storage_reason(
                &self.path,
                "the outbox file was deleted or replaced while open; the update was not \
                 stored (close this outbox and open the file again)",
            ));
        }
        Ok(id)
    }

    fn last_id(&self) -> Result<i64, Error> {
        lock(&self.conn)
            .query_row("SELECT COALESCE(MAX(id), 0) FROM outbox", [], |r| r.get(0))
            .map_err(self.fail())
    }

    fn pending_up_to(&self, id: i64) -> Result<bool, Error> {
        // A contact's head is its first pending update: none at or below `id` means every
        // update up to it is delivered or dead (an index lookup, not a count).
        lock(&self.conn)
            .query_row(PENDING_UP_TO, [id], |r| r.get(0))
            .map_err(self.fail())
    }

    fn stats(&self) -> StoredStats {
        let conn = lock(&self.conn);
        let (pending, oldest): (i64, Option<i64>) = conn
            .query_row(
                "SELECT COUNT(*), MIN(enqueued_ms) FROM outbox WHERE dead = 0",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap_or((0, None));
        let dead: i64 = conn
            .query_row("SELECT COUNT(*) FROM outbox WHERE dead = 1", [], |r| {
                r.get(0)
            })
            .unwrap_or(0);
        let counter = |c: Counter| -> u64 {
            conn.query_row(
                "SELECT value FROM outbox_counters WHERE name = ?1",
                [c.name()],
                |r| r.get::<_, i64>(0),
            )
            .unwrap_or(0) as u64
        };
        StoredStats {
            pending: pending as u64,
            oldest_enqueued_ms: oldest,
            dead: dead as u64,
            delivered: counter(Counter::Delivered),
            attempts: counter(Counter::Attempts),
            throttled: counter(Counter::Throttled),
            send_rate: conn
                .query_row("SELECT rate FROM outbox_pacer WHERE id = 1", [], |r| {
                    r.get(0)
                })
                .ok(),
        }
    }

    fn dead_letters(&self) -> Result<Vec<DeadRow>, Error> {
        let conn = lock(&self.conn);
        let mut stmt = conn
            .prepare(
                "SELECT id, instance_id, contact_id, body, error_status, error_code, error_message, attempts
                 FROM outbox WHERE dead = 1 ORDER BY id",
            )
            .map_err(self.fail())?;
        let rows = stmt
            .query_map([], |r| {
                Ok(DeadRow {
                    id: r.get(0)?,
                    instance_id: r.get(1)?,
                    contact_id: r.get(2)?,
                    body: r.get(3)?,
                    status: r.get(4)?,
                    code: r.get(5)?,
                    message: r.get(6)?,
                    attempts: r.get(7)?,
                })
            })
            .map_err(self.fail())?;
        rows.collect::<Result<Vec<_>, _>>().map_err(self.fail())
    }

    fn retry_dead(&self, id: u64, now_ms: i64) -> Result<bool, Error> {
        let n = lock(&self.conn)
            .execute(
                "UPDATE outbox SET dead = 0, next_ms = 0, attempts = 0, solo = 0, lease_until = 0,
                 enqueued_ms = ?2 WHERE id = ?1 AND dead = 1",
                params![id as i64, now_ms],
            )
            .map_err(self.fail())?;
        Ok(n == 1)
    }

    fn discard_dead(&self, id: u64) -> Result<bool, Error> {
        let n = lock(&self.conn)
            .execute("DELETE FROM outbox WHERE id = ?1 AND dead = 1", [id as i64])
            .map_err(self.fail())?;
        Ok(n == 1)
    }

    fn transact(
        &self,
        step: &mut dyn FnMut(&mut dyn Tx) -> Result<(), Error>,
    ) -> Result<(), Error> {
        let mut conn = lock(&self.conn);
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(self.fail())?;
        let mut tx = SqliteTx {
            path: &self.path,
            tx,
        };
        step(&mut tx)?;
        Box::new(tx).commit()
    }

    /// The enqueue connection's `journal_mode` and `synchronous` as SQLite reports them (e.g.
    /// `("wal", 2)`, 2 being FULL): the settings the durability promise rests on.
    fn durability(&self) -> Result<(String, i64), Error> {
        let conn = lock(&self.conn);
        let mode = conn
            .query_row("PRAGMA journal_mode", [], |r| r.get::<_, String>(0))
            .map_err(self.fail())?;
        let sync = conn
            .query_row("PRAGMA synchronous", [], |r| r.get::<_, i64>(0))
            .map_err(self.fail())?;
        Ok((mode, sync))
    }

    fn worker(&self) -> Result<Box<dyn Worker>, Error> {
        Ok(Box::new(SqliteWorker {
            conn: worker_connection(&self.path)?,
            path: self.path.clone(),
        }))
    }
}

/// A delivery thread's connection to the file.
struct SqliteWorker {
    path: PathBuf,
    conn: Connection,
}

impl Worker for SqliteWorker {
    fn begin(&mut self) -> Result<Box<dyn Tx + '_>, Error> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| storage(&self.path, e))?;
        Ok(Box::new(SqliteTx {
            path: &self.path,
            tx,
        }))
    }

    fn cut_us(&mut self) -> Option<i64> {
        self.conn
            .query_row("SELECT cut_us FROM outbox_pacer WHERE id = 1", [], |r| {
                r.get::<_, i64>(0)
            })
            .ok()
    }

    fn release(&mut self, contact: &str, token: &str) -> Result<bool, Error> {
        let n = self
            .conn
            .prepare_cached(RELEASE)
            .and_then(|mut s| s.execute(params![contact, token]))
            .map_err(|e| storage(&self.path, e))?;
        Ok(n == 1)
    }
}

/// One `BEGIN IMMEDIATE` transaction: the file's write lock is held from its start, so
/// steps of every process on the file are serialized.
struct SqliteTx<'c> {
    path: &'c Path,
    tx: rusqlite::Transaction<'c>,
}

const PACER_COLUMNS: &str =
    "rate, start_rate, burst, tokens, refilled_us, grown_us, cut_us, ceiling, unavailable_us";

impl SqliteTx<'_> {
    /// Runs a cached statement; the rows it changed.
    fn run(&self, sql: &str, params: impl rusqlite::Params) -> Result<usize, Error> {
        self.tx
            .prepare_cached(sql)
            .and_then(|mut s| s.execute(params))
            .map_err(|e| storage(self.path, e))
    }

    fn fail(&self) -> impl Fn(rusqlite::Error) -> Error + '_ {
        move |e| storage(self.path, e)
    }
}

impl Tx for SqliteTx<'_> {
    fn ready_head(&mut self, now_ms: i64) -> Result<Option<String>, Error> {
        self.tx
            .query_row(READY_HEAD, [now_ms], |r| r.get(0))
            .optional()
            .map_err(self.fail())
    }

    fn first_due(&mut self) -> Result<Option<i64>, Error> {
        self.tx
            .query_row(FIRST_DUE, [], |r| r.get(0))
            .optional()
            .map_err(self.fail())
    }

    fn run_of(&mut self, contact: &str, limit: usize) -> Result<Vec<PendingRow>, Error> {
        let mut stmt = self.tx.prepare_cached(RUN_OF).map_err(self.fail())?;
        let rows = stmt
            .query_map(params![contact, limit as i64], |r| {
                Ok(PendingRow {
                    id: r.get(0)?,
                    instance_id: r.get(1)?,
                    contact_id: r.get(2)?,
                    body: r.get(3)?,
                    enqueued_ms: r.get(4)?,
                    attempts: r.get(5)?,
                    solo: r.get::<_, i64>(6)? != 0,
                })
            })
            .map_err(self.fail())?;
        rows.collect::<Result<_, _>>().map_err(self.fail())
    }

    fn drop_head(&mut self, contact: &str) -> Result<(), Error> {
        self.run("DELETE FROM outbox_heads WHERE contact = ?1", [contact])
            .map(drop)
    }

    fn load_pacer(&mut self) -> Result<Option<PacerState>, Error> {
        self.tx
            .query_row(
                &format!("SELECT {PACER_COLUMNS} FROM outbox_pacer WHERE id = 1"),
                [],
                |r| {
                    Ok(PacerState {
                        rate: r.get(0)?,
                        start_rate: r.get(1)?,
                        burst: r.get(2)?,
                        tokens: r.get(3)?,
                        refilled_us: r.get(4)?,
                        grown_us: r.get(5)?,
                        cut_us: r.get(6)?,
                        ceiling: r.get(7)?,
                        unavailable_us: r.get(8)?,
                    })
                },
            )
            .optional()
            .map_err(self.fail())
    }

    fn store_pacer(&mut self, s: &PacerState) -> Result<(), Error> {
        self.run(
            &format!(
                "INSERT OR REPLACE INTO outbox_pacer(id, {PACER_COLUMNS}) VALUES (1, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
            ),
            params![
                s.rate,
                s.start_rate,
                s.burst,
                s.tokens,
                s.refilled_us,
                s.grown_us,
                s.cut_us,
                s.ceiling,
                s.unavailable_us
            ],
        )
        .map(drop)
    }

    fn lease(
        &mut self,
        contact: &str,
        token: &str,
        until_ms: i64,
        take: bool,
    ) -> Result<(), Error> {
        self.run(
            "UPDATE outbox_heads SET lease_owner = ?1, lease_until = ?2
             WHERE contact = ?3 AND (?4 OR lease_owner = ?1)",
            params![token, until_ms, contact, take],
        )
        .map(drop)
    }

    fn release(&mut self, contact: &str, token: &str) -> Result<bool, Error> {
        Ok(self.run(RELEASE, params![contact, token])? == 1)
    }

    fn delete_pending(&mut self, id: i64) -> Result<bool, Error> {
        Ok(self.run("DELETE FROM outbox WHERE id = ?1 AND dead = 0", [id])? == 1)
    }

    fn reschedule(&mut self, id: i64, next_ms: i64, error: &Error) -> Result<(), Error> {
        self.run(
            "UPDATE outbox SET attempts = attempts + 1, next_ms = ?2,
             error_status = ?3, error_code = ?4, error_message = ?5
             WHERE id = ?1 AND dead = 0",
            params![
                id,
                next_ms,
                error.status().code(),
                error.code(),
                error.message()
            ],
        )
        .map(drop)
    }

    fn set_solo(&mut self, id: i64) -> Result<(), Error> {
        self.run(
            "UPDATE outbox SET solo = 1 WHERE id = ?1 AND dead = 0",
            [id],
        )
        .map(drop)
    }

    fn bury(&mut self, id: i64, error: &Error) -> Result<bool, Error> {
        let buried = self.run(
            "UPDATE outbox SET dead = 1, attempts = attempts + 1,
             error_status = ?2, error_code = ?3, error_message = ?4 WHERE id = ?1 AND dead = 0",
            params![id, error.status().code(), error.code(), error.message()],
        )?;
        Ok(buried == 1)
    }

    fn bump(&mut self, counter: Counter, by: i64) -> Result<(), Error> {
        self.run(
            "INSERT INTO outbox_counters(name, value) VALUES (?1, ?2)
             ON CONFLICT(name) DO UPDATE SET value = value + ?2",
            params![counter.name(), by],
        )
        .map(drop)
    }

    fn commit(self: Box<Self>) -> Result<(), Error> {
        let path = self.path;
        self.tx.commit().map_err(|e| storage(path, e))
    }
}
