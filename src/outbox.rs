//! The outbox: UpdateContact requests kept in an SQLite file (WAL mode) until the service has
//! them, delivered in order per contact by background threads paced to the account's quota.
//! Several processes may open one file; each row is delivered by the one that leased it.
//! Semantics, the coalescing rule and pacing: docs/outbox.md.
#![forbid(unsafe_code)]

use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rusqlite::{params, Connection, OpenFlags, OptionalExtension, TransactionBehavior};
use serde_json::{json, Map, Value};

use crate::client::Client;
use crate::error::{Error, Status};
use crate::log::{emit, LogLevel};
use crate::model::UpdateContactRequest;
use crate::retry::{random_unit, FailureKind};

/// Members the service merges by key on update (the others replace the stored value). The
/// emulator's store has the same list (`connect_emulator::MERGED_MEMBERS`); a test holds them
/// equal.
pub const MERGED_MEMBERS: &[&str] = &["References", "SegmentAttributes"];

/// What happened to an enqueued update, as told to [`OutboxOptions::on_event`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OutboxEvent {
    /// The service accepted the update (the id [`Outbox::enqueue`] returned).
    Delivered {
        /// The update's id.
        id: u64,
    },
    /// The update was moved to the dead letters.
    Dead {
        /// The update's id.
        id: u64,
        /// The last error: status, code and message.
        status: Status,
        /// The service's error code, or the status name for a local failure.
        code: String,
        /// The error message.
        message: String,
    },
}

/// A callback told of each delivery and each dead letter, on a delivery thread.
pub type OutboxCallback = Arc<dyn Fn(&OutboxEvent) + Send + Sync>;

/// How an [`Outbox`] paces, retries and leases. Start from `OutboxOptions::default()`.
#[derive(Clone)]
#[non_exhaustive]
pub struct OutboxOptions {
    /// Calls per second to start from (default 2, the service's default quota); adapts.
    pub rate: f64,
    /// Calls that may go at once after a quiet spell (default 5, the service's burst).
    pub burst: u32,
    /// How long a retryable failure is retried before the update becomes a dead letter
    /// (default 24 hours, counted from enqueue).
    pub max_age: Duration,
    /// Delivery threads in this process (default 4): calls in flight at once.
    pub workers: usize,
    /// Most pending updates of one contact merged into one call (default 50; 1 turns
    /// coalescing off).
    pub max_coalesce: usize,
    /// Longest wait between retries of one update (default 30 s).
    pub max_backoff: Duration,
    /// How long a delivery thread holds a contact's updates for one call before another
    /// thread or process may take them over (default `None`: the client's timeout + 30 s);
    /// at least the client's timeout + 1 s, so a call ends (and is recorded) inside its lease.
    /// A process that dies holding a lease is recovered sooner, by the next open.
    pub lease: Option<Duration>,
    /// Told of each delivery and dead letter.
    pub on_event: Option<OutboxCallback>,
}

impl Default for OutboxOptions {
    fn default() -> Self {
        OutboxOptions {
            rate: 2.0,
            burst: 5,
            max_age: Duration::from_secs(24 * 3600),
            workers: 4,
            max_coalesce: 50,
            max_backoff: Duration::from_secs(30),
            lease: None,
            on_event: None,
        }
    }
}

impl fmt::Debug for OutboxOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OutboxOptions")
            .field("rate", &self.rate)
            .field("burst", &self.burst)
            .field("max_age", &self.max_age)
            .field("workers", &self.workers)
            .field("max_coalesce", &self.max_coalesce)
            .field("max_backoff", &self.max_backoff)
            .field("lease", &self.lease)
            .field("on_event", &self.on_event.is_some())
            .finish()
    }
}

/// The slowest `rate` accepted, calls per second: one call in about 17 minutes. Below it a
/// send's wait (1/rate, and 50 times that at the pacer's floor) stops meaning anything.
pub(crate) const MIN_RATE: f64 = 0.001;
/// The fastest `rate` accepted, calls per second.
pub(crate) const MAX_RATE: f64 = 100_000.0;

impl OutboxOptions {
    /// Reads options from JSON (`rate`, `burst`, `max_age_ms`, `workers`, `max_coalesce`,
    /// `max_backoff_ms`, `lease_ms`); unknown keys are refused.
    pub fn from_json(text: &str) -> Result<OutboxOptions, Error> {
        let mut o = OutboxOptions::default();
        if text.trim().is_empty() {
            return Ok(o);
        }
        let value: Value = serde_json::from_str(text)
            .map_err(|e| Error::InvalidJson(format!("outbox options: {e}")))?;
        let Value::Object(map) = value else {
            return Err(Error::InvalidConfig(
                "outbox options: must be a JSON object".into(),
            ));
        };
        let number = |key: &str, v: &Value| {
            v.as_f64().ok_or_else(|| {
                Error::InvalidConfig(format!("outbox option {key}: must be a number"))
            })
        };
        for (key, v) in &map {
            match key.as_str() {
                "rate" => o.rate = number(key, v)?,
                "burst" => o.burst = number(key, v)? as u32,
                "max_age_ms" => o.max_age = Duration::from_millis(number(key, v)? as u64),
                "workers" => o.workers = number(key, v)? as usize,
                "max_coalesce" => o.max_coalesce = number(key, v)? as usize,
                "max_backoff_ms" => o.max_backoff = Duration::from_millis(number(key, v)? as u64),
                "lease_ms" => o.lease = Some(Duration::from_millis(number(key, v)? as u64)),
                other => {
                    return Err(Error::InvalidConfig(format!(
                        "outbox option {other}: unknown (known: rate, burst, max_age_ms, workers, max_coalesce, max_backoff_ms, lease_ms)"
                    )))
                }
            }
        }
        o.check()?;
        Ok(o)
    }

    fn check(&self) -> Result<(), Error> {
        let bad = |what: &str| Err(Error::InvalidConfig(format!("outbox option {what}")));
        if !(MIN_RATE..=MAX_RATE).contains(&self.rate) {
            return bad(&format!(
                "rate: must be a number of calls per second from {MIN_RATE} (one call in about {} minutes) to {MAX_RATE}",
                (1.0 / MIN_RATE / 60.0).round()
            ));
        }
        if !(1..=100_000).contains(&self.burst) {
            return bad("burst: must be 1..=100000");
        }
        if !(1..=64).contains(&self.workers) {
            return bad("workers: must be 1..=64");
        }
        if !(1..=1000).contains(&self.max_coalesce) {
            return bad("max_coalesce: must be 1..=1000");
        }
        if self.max_age.is_zero() {
            return bad("max_age: must be more than zero");
        }
        if self.max_backoff < Duration::from_millis(10) {
            return bad("max_backoff: must be at least 10 ms");
        }
        Ok(())
    }

    /// The lease of one call with a client whose calls end within `timeout`: `lease`, which
    /// must be at least `timeout` + 1 s, or `timeout` + 30 s.
    fn lease_for(&self, timeout: Duration) -> Result<Duration, Error> {
        let least = timeout + Duration::from_secs(1);
        match self.lease {
            None => Ok(timeout + Duration::from_secs(30)),
            Some(lease) if lease >= least => Ok(lease),
            Some(lease) => Err(Error::InvalidConfig(format!(
                "outbox option lease: {} ms is less than the client's timeout + 1 s ({} ms): a call must end inside its lease",
                lease.as_millis(),
                least.as_millis()
            ))),
        }
    }
}

/// Counters of an outbox file and its send rate (both shared by every process using it).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct OutboxStats {
    /// Updates waiting to be delivered.
    pub pending: u64,
    /// Age of the oldest pending update.
    pub oldest_pending_age: Option<Duration>,
    /// Updates the service accepted (since the file was made).
    pub delivered: u64,
    /// Dead letters now in the file.
    pub dead: u64,
    /// Calls made (one call may carry several coalesced updates).
    pub attempts: u64,
    /// Calls the service throttled.
    pub throttled: u64,
    /// The file's current send rate (its shared pacer's), calls per second.
    pub send_rate: f64,
}

impl OutboxStats {
    /// `{"pending", "oldest_pending_age_ms", "delivered", "dead", "attempts", "throttled",
    /// "send_rate"}`.
    pub fn to_json(&self) -> String {
        json!({
            "pending": self.pending,
            "oldest_pending_age_ms": self.oldest_pending_age.map(|d| d.as_millis() as u64),
            "delivered": self.delivered,
            "dead": self.dead,
            "attempts": self.attempts,
            "throttled": self.throttled,
            "send_rate": self.send_rate,
        })
        .to_string()
    }
}

/// An update the outbox gave up on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeadLetter {
    /// The id [`Outbox::enqueue`] returned.
    pub id: u64,
    /// The request, as `--cli-input-json` takes it (it may hold the sensitive Name and
    /// Description: treat it as the caller's data).
    pub request: String,
    /// The last error's status.
    pub status: Status,
    /// The last error's code.
    pub code: String,
    /// The last error's message.
    pub message: String,
    /// Calls made for it.
    pub attempts: u64,
}

impl DeadLetter {
    fn to_value(&self) -> Value {
        json!({
            "Id": self.id,
            "Request": serde_json::from_str::<Value>(&self.request).unwrap_or(Value::Null),
            "Error": {"Code": self.code, "Message": self.message, "Status": self.status.name()},
            "Attempts": self.attempts,
        })
    }

    /// A JSON array of dead letters: `[{"Id", "Request", "Error": {"Code", "Message",
    /// "Status"}, "Attempts"}]`.
    pub fn list_to_json(list: &[DeadLetter]) -> String {
        Value::Array(list.iter().map(DeadLetter::to_value).collect()).to_string()
    }
}

/// A durable, quota-aware queue of UpdateContact calls (see the module docs and
/// docs/outbox.md).
pub struct Outbox {
    shared: Arc<Shared>,
    threads: Vec<JoinHandle<()>>,
    /// The process that opened it: in the child of a fork its threads do not exist.
    pid: u32,
}

impl fmt::Debug for Outbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Outbox")
            .field("path", &self.shared.path)
            .field("options", &self.shared.options)
            .finish_non_exhaustive()
    }
}

struct Shared {
    path: PathBuf,
    owner: String,
    client: Client,
    checker: Arc<Client>,
    options: OutboxOptions,
    /// Enqueue, stats and dead-letter calls.
    conn: Mutex<Connection>,
    /// The pacer shared through the file.
    pacer: Pacer,
    stop: AtomicBool,
    wake: (Mutex<u64>, Condvar),
    /// The file opened, to notice it deleted or replaced while open.
    file: FileId,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

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

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// The SQLite `application_id` of an outbox file: "CCOB" (connect-contact outbox). A file
/// carrying another (or none, unless it is empty or an unstamped outbox of the previous
/// release) is not opened.
const APPLICATION_ID: i32 = 0x4343_4F42;
/// The version of the tables below, kept in the file's `user_version`: a file of a newer
/// version is refused (this code would misread it).
const SCHEMA_VERSION: i32 = 1;

/// The outbox's tables. Also the reference an unstamped file's tables are compared with.
const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS outbox(
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
type FileId = (u64, u64);

fn file_id(path: &Path) -> std::io::Result<FileId> {
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
fn open_file(path: &Path) -> Result<Connection, Error> {
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
fn worker_connection(path: &Path) -> Result<Connection, Error> {
    #[cfg(test)]
    tests::fail_hook()?;
    let conn = open_connection(path)?;
    conn.execute_batch("PRAGMA synchronous=NORMAL;")
        .map_err(|e| storage(path, e))?;
    Ok(conn)
}

impl Outbox {
    /// Opens (or creates) the outbox file at `path` and starts delivering what it holds.
    pub fn open(
        client: Arc<Client>,
        path: impl AsRef<Path>,
        options: OutboxOptions,
    ) -> Result<Outbox, Error> {
        options.check()?;
        options.lease_for(client.settings().timeout)?;
        let path = path.as_ref().to_path_buf();
        let mut conn = open_file(&path)?;
        let file =
            file_id(&path).map_err(|e| storage_reason(&path, &format!("cannot read it: {e}")))?;
        release_leases_of_dead_processes(&conn).map_err(|e| storage(&path, e))?;
        let pacer = Pacer::open(&mut conn, &options).map_err(|e| storage(&path, e))?;
        let owner = format!(
            "{}-{}-{}",
            std::process::id(),
            now_ms(),
            (random_unit() * 1e9) as u64
        );
        let shared = Arc::new(Shared {
            client: client.single_attempt(),
            checker: client,
            pacer,
            owner,
            options,
            conn: Mutex::new(conn),
            stop: AtomicBool::new(false),
            wake: (Mutex::new(0), Condvar::new()),
            path,
            file,
        });
        // Threads go into the outbox as they start: an open that fails part-way drops it,
        // which stops and joins them (and closes their connections) before returning.
        let mut outbox = Outbox {
            shared,
            threads: Vec::new(),
            pid: std::process::id(),
        };
        for i in 0..outbox.shared.options.workers {
            let conn = worker_connection(&outbox.shared.path)?;
            let worker = Arc::clone(&outbox.shared);
            let handle = std::thread::Builder::new()
                .name(format!("connect-outbox-{i}"))
                .spawn(move || worker.deliver(conn))
                .map_err(|e| {
                    Error::InvalidConfig(format!(
                        "outbox file {}: cannot start a delivery thread: {e}",
                        outbox.shared.path.display()
                    ))
                })?;
            outbox.threads.push(handle);
        }
        Ok(outbox)
    }

    /// Validates the request exactly as [`Client::update_contact`] does (a failure stores
    /// nothing), stores it durably and returns its id. Delivery happens in the background.
    pub fn enqueue(&self, request: &UpdateContactRequest) -> Result<u64, Error> {
        self.shared.checker.check(request)?;
        let body = String::from_utf8(request.to_body()).unwrap_or_default();
        let contact = contact_key(&request.instance_id, &request.contact_id);
        let conn = lock(&self.shared.conn);
        conn.execute(
            "INSERT INTO outbox(contact, instance_id, contact_id, body, enqueued_ms) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![contact, request.instance_id, request.contact_id, body, now_ms()],
        )
        .map_err(|e| storage(&self.shared.path, e))?;
        let id = conn.last_insert_rowid() as u64;
        drop(conn);
        // Committed to the file this outbox opened; acknowledged only if that file is still
        // the one at `path` (deleted or renamed over, the update would be lost at close).
        if file_id(&self.shared.path).ok() != Some(self.shared.file) {
            return Err(storage_reason(
                &self.shared.path,
                "the outbox file was deleted or replaced while open; the update was not \
                 stored (close this outbox and open the file again)",
            ));
        }
        self.shared.notify();
        Ok(id)
    }

    /// Waits until every update enqueued (in this file, by any process) before the call is
    /// delivered or dead; false when `timeout` passed first.
    pub fn flush(&self, timeout: Duration) -> Result<bool, Error> {
        let deadline = Instant::now() + timeout;
        let mark: i64 = lock(&self.shared.conn)
            .query_row("SELECT COALESCE(MAX(id), 0) FROM outbox", [], |r| r.get(0))
            .map_err(|e| storage(&self.shared.path, e))?;
        loop {
            // A contact's head is its first pending update: none at or below the mark means
            // every update up to it is delivered or dead (an index lookup, not a count).
            let left: bool = lock(&self.shared.conn)
                .query_row(PENDING_UP_TO, [mark], |r| r.get(0))
                .map_err(|e| storage(&self.shared.path, e))?;
            if !left {
                return Ok(true);
            }
            if Instant::now() >= deadline {
                return Ok(false);
            }
            std::thread::sleep(Duration::from_millis(10).min(deadline - Instant::now()));
        }
    }

    /// The file's counters and send rate.
    pub fn stats(&self) -> OutboxStats {
        let conn = lock(&self.shared.conn);
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
        let counter = |name: &str| -> u64 {
            conn.query_row(
                "SELECT value FROM outbox_counters WHERE name = ?1",
                [name],
                |r| r.get::<_, i64>(0),
            )
            .unwrap_or(0) as u64
        };
        OutboxStats {
            pending: pending as u64,
            oldest_pending_age: oldest.map(|t| Duration::from_millis((now_ms() - t).max(0) as u64)),
            delivered: counter("delivered"),
            dead: dead as u64,
            attempts: counter("attempts"),
            throttled: counter("throttled"),
            send_rate: conn
                .query_row("SELECT rate FROM outbox_pacer WHERE id = 1", [], |r| {
                    r.get(0)
                })
                .unwrap_or_else(|_| self.shared.pacer.rate()),
        }
    }

    /// The dead letters, oldest first.
    pub fn dead_letters(&self) -> Result<Vec<DeadLetter>, Error> {
        let conn = lock(&self.shared.conn);
        let mut stmt = conn
            .prepare(
                "SELECT id, instance_id, contact_id, body, error_status, error_code, error_message, attempts
                 FROM outbox WHERE dead = 1 ORDER BY id",
            )
            .map_err(|e| storage(&self.shared.path, e))?;
        let rows = stmt
            .query_map([], |r| {
                let body: String = r.get(3)?;
                Ok(DeadLetter {
                    id: r.get::<_, i64>(0)? as u64,
                    request: request_json(&r.get::<_, String>(1)?, &r.get::<_, String>(2)?, &body),
                    status: Status::from_code(r.get::<_, Option<i32>>(4)?.unwrap_or(499))
                        .unwrap_or(Status::ServiceError),
                    code: r.get::<_, Option<String>>(5)?.unwrap_or_default(),
                    message: r.get::<_, Option<String>>(6)?.unwrap_or_default(),
                    attempts: r.get::<_, i64>(7)? as u64,
                })
            })
            .map_err(|e| storage(&self.shared.path, e))?;
        rows.collect::<Result<Vec<_>, _>>()
            .map_err(|e| storage(&self.shared.path, e))
    }

    /// Puts a dead letter back in line (with a fresh max_age). False when `id` is not a dead
    /// letter. It keeps its place: it goes before any later update of the same contact that
    /// is still pending.
    pub fn retry_dead(&self, id: u64) -> Result<bool, Error> {
        let n = lock(&self.shared.conn)
            .execute(
                "UPDATE outbox SET dead = 0, next_ms = 0, attempts = 0, solo = 0, lease_until = 0,
                 enqueued_ms = ?2 WHERE id = ?1 AND dead = 1",
                params![id as i64, now_ms()],
            )
            .map_err(|e| storage(&self.shared.path, e))?;
        self.shared.notify();
        Ok(n == 1)
    }

    /// Deletes a dead letter. False when `id` is not a dead letter.
    pub fn discard_dead(&self, id: u64) -> Result<bool, Error> {
        let n = lock(&self.shared.conn)
            .execute("DELETE FROM outbox WHERE id = ?1 AND dead = 1", [id as i64])
            .map_err(|e| storage(&self.shared.path, e))?;
        Ok(n == 1)
    }

    /// Stops delivering: calls in flight finish (each within the client's timeout) and are
    /// recorded; everything still pending stays in the file for the next open.
    pub fn close(mut self) {
        self.stop_threads();
    }

    fn stop_threads(&mut self) {
        if std::process::id() != self.pid {
            // The child of a fork: the delivery threads do not exist here (joining them would
            // fail), and the connections are copies of the parent's, which goes on using the
            // file. Forget both; the parent's outbox is unaffected.
            std::mem::forget(std::mem::take(&mut self.threads));
            std::mem::forget(Arc::clone(&self.shared));
            return;
        }
        self.shared.stop.store(true, Ordering::SeqCst);
        self.shared.notify();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

impl Drop for Outbox {
    fn drop(&mut self) {
        self.stop_threads();
    }
}

/// The enqueue connection's `journal_mode` and `synchronous` as SQLite reports them (e.g.
/// `("wal", 2)`, 2 being FULL): the settings the durability promise rests on, read back for
/// the project's tests (`unstable::outbox_enqueue_durability`).
pub fn enqueue_durability(outbox: &Outbox) -> Result<(String, i64), Error> {
    let conn = lock(&outbox.shared.conn);
    let fail = |e| storage(&outbox.shared.path, e);
    let mode = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get::<_, String>(0))
        .map_err(fail)?;
    let sync = conn
        .query_row("PRAGMA synchronous", [], |r| r.get::<_, i64>(0))
        .map_err(fail)?;
    Ok((mode, sync))
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

fn contact_key(instance_id: &str, contact_id: &str) -> String {
    format!("{instance_id}\u{1f}{contact_id}")
}

fn request_json(instance_id: &str, contact_id: &str, body: &str) -> String {
    let mut map = match serde_json::from_str::<Value>(body) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    };
    map.insert("InstanceId".into(), json!(instance_id));
    map.insert("ContactId".into(), json!(contact_id));
    Value::Object(map).to_string()
}

/// Merges update `next` into `into`, giving the body one call sends for both in order: the
/// members the service merges by key (References, SegmentAttributes) are merged by key with
/// `next` winning; every other member of `next` replaces `into`'s.
pub(crate) fn coalesce(into: &mut Map<String, Value>, next: &Map<String, Value>) {
    for (name, value) in next {
        match (into.get_mut(name), value) {
            (Some(Value::Object(existing)), Value::Object(entries))
                if MERGED_MEMBERS.contains(&name.as_str()) =>
            {
                for (k, v) in entries {
                    existing.insert(k.clone(), v.clone());
                }
            }
            _ => {
                into.insert(name.clone(), value.clone());
            }
        }
    }
}

/// Cut factor on a throttle (multiplicative decrease).
const CUT: f64 = 0.7;
/// After an isolated throttle the rate climbs back quickly to this share of the rate where
/// throttling began...
const RECOVER_TO: f64 = 0.95;
/// ... at this share of the configured rate per second,
const RECOVER_SPEED: f64 = 0.2;
/// then probes above it at this share of the configured rate per second.
const PROBE_SPEED: f64 = 0.001;
/// A throttle this soon after the previous cut means the cut was not enough (other senders
/// share the quota): no quick climb back, the rate it was cut to becomes the new ceiling.
const REPEAT_WINDOW_US: i64 = 20_000_000;
/// After this long without a throttle a ceiling lowered below the configured rate is
/// forgotten (the contention that lowered it is over, or the file was idle): the rate climbs
/// back quickly towards the configured one.
const CEILING_EXPIRY_US: i64 = 300_000_000;
/// The rate never drops below this share of the configured rate.
const FLOOR: f64 = 0.02;
/// Cut factor when the service is unavailable (5xx, network, expired credentials): an outage
/// should cost the account's quota a few probes, not every pending update at the full rate.
const UNAVAILABLE_CUT: f64 = 0.5;

/// The longest a send waits for its token. At the slowest rate the options allow
/// ([`MIN_RATE`] at the pacer's floor) one wait is 1/(0.001 × 0.02) s, about 14 hours; a
/// file's stored state could ask for more (or for a wait that does not fit a `Duration`).
const LONGEST_WAIT: Duration = Duration::from_secs(24 * 3600);

/// `seconds` as a wait: none for zero, a negative or a NaN, at most [`LONGEST_WAIT`].
fn wait_secs(seconds: f64) -> Duration {
    if seconds > 0.0 {
        Duration::try_from_secs_f64(seconds).map_or(LONGEST_WAIT, |d| d.min(LONGEST_WAIT))
    } else {
        Duration::ZERO
    }
}

/// The pacer's state: a token bucket whose rate adapts (cut on throttle, probed upward while
/// it is what limits the sends). One row in the outbox file, shared by every process and
/// handle on it; the arithmetic is here, free of SQLite, so it can be tested on its own.
/// Times are microseconds since the Unix epoch (one host's clock, shared by its processes).
#[derive(Clone, Debug, PartialEq)]
struct PacerState {
    /// Calls per second now.
    rate: f64,
    /// The configured rate and burst.
    start_rate: f64,
    burst: f64,
    /// Tokens at `refilled_us`; negative when sends are booked ahead (callers waiting).
    tokens: f64,
    refilled_us: i64,
    /// When the rate last grew (growth is counted per elapsed second).
    grown_us: i64,
    /// When the rate was last cut (0: never).
    cut_us: i64,
    /// The rate where throttling began (before any throttle: the configured rate).
    ceiling: f64,
    /// When the rate was last halved because the service was unavailable (0: never).
    unavailable_us: i64,
}

impl PacerState {
    fn new(rate: f64, burst: u32, now_us: i64) -> PacerState {
        PacerState {
            rate,
            start_rate: rate,
            burst: burst as f64,
            tokens: burst as f64,
            refilled_us: now_us,
            grown_us: now_us,
            cut_us: 0,
            ceiling: rate,
            unavailable_us: 0,
        }
    }

    fn refill(&mut self, now_us: i64) {
        // A clock that went back counts as no time passing.
        let dt = (now_us - self.refilled_us).max(0) as f64 / 1e6;
        self.tokens = (self.tokens + dt * self.rate).min(self.burst);
        self.refilled_us = self.refilled_us.max(now_us);
    }

    /// Books one send; returns how long to wait before making it.
    fn reserve(&mut self, now_us: i64) -> Duration {
        self.refill(now_us);
        let dt = ((now_us - self.grown_us).max(0) as f64 / 1e6).min(1.0);
        self.grown_us = self.grown_us.max(now_us);
        if self.ceiling < self.start_rate && now_us - self.cut_us > CEILING_EXPIRY_US {
            self.ceiling = self.start_rate;
        }
        // Grow only while the bucket is what holds sends back (a rate nobody uses proves
        // nothing about the quota), and not while the service is unavailable (until a call
        // gets through).
        if self.tokens < 1.0 && self.unavailable_us == 0 {
            let speed = if self.rate < RECOVER_TO * self.ceiling {
                RECOVER_SPEED
            } else {
                PROBE_SPEED
            };
            self.rate += self.start_rate * speed * dt;
        }
        self.tokens -= 1.0;
        wait_secs(-self.tokens / self.rate)
    }

    /// A call sent at `sent_us` failed for a reason other than throttling that is retried (the
    /// service or the network is down, credentials expired): halves the rate, once per batch
    /// in flight, down to the floor, so an outage is probed at a trickle. The ceiling stays:
    /// this says nothing about the quota, and after the outage the rate climbs back quickly.
    /// True when it cut.
    fn on_unavailable(&mut self, sent_us: i64, now_us: i64) -> bool {
        if sent_us < self.unavailable_us.max(self.cut_us) {
            return false;
        }
        self.refill(now_us);
        self.rate = (self.rate * UNAVAILABLE_CUT).max(self.start_rate * FLOOR);
        self.unavailable_us = now_us.max(self.unavailable_us + 1);
        self.tokens = self.tokens.min(0.0);
        true
    }

    /// A call went through: the service is available again, the rate may grow.
    fn on_delivered(&mut self) {
        self.unavailable_us = 0;
    }

    /// A call sent at `sent_us` was throttled. Cuts the rate unless the call was sent before
    /// the last cut (calls in flight answer together: one cut per overshoot), and empties the
    /// bucket, charging it for the call, so the next send waits at least 1/rate. True when
    /// it cut.
    fn on_throttle(&mut self, sent_us: i64, now_us: i64) -> bool {
        if sent_us < self.cut_us {
            return false;
        }
        let repeated = self.cut_us > 0 && now_us - self.cut_us < REPEAT_WINDOW_US;
        let cut = (self.rate * CUT).max(self.start_rate * FLOOR);
        self.ceiling = if repeated { cut } else { self.rate };
        self.rate = cut;
        self.cut_us = now_us.max(self.cut_us + 1);
        self.tokens = -1.0;
        self.refilled_us = now_us;
        true
    }
}

/// The shared pacer: [`PacerState`] in the file's `outbox_pacer` row, read and written
/// inside the delivery threads' short `IMMEDIATE` transactions (a token is booked in the one
/// that leases the work, a throttle recorded in the one that records the call). Those
/// connections use `synchronous=NORMAL`: a power cut may lose the pacer's last changes, which
/// only means pacing from slightly older state.
struct Pacer {
    start_rate: f64,
    burst: u32,
    /// Set when this process cut the rate for an outage: its next delivery tells the file's
    /// pacer the service is back (other deliveries touch no pacer state).
    unavailable: AtomicBool,
    /// The rate last seen, for the throttled update's hold-back.
    rate: Mutex<f64>,
}

const PACER_COLUMNS: &str =
    "rate, start_rate, burst, tokens, refilled_us, grown_us, cut_us, ceiling, unavailable_us";

fn now_us() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}

impl Pacer {
    /// Makes the file's pacer row with `options`' rate and burst, or resets it to them when
    /// it holds another configuration (the last process to open with a different rate or
    /// burst sets the file's); a row with the same configuration is kept as it is.
    fn open(conn: &mut Connection, options: &OutboxOptions) -> rusqlite::Result<Pacer> {
        let fresh = PacerState::new(options.rate, options.burst, now_us());
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let stored = load_pacer(&tx)?;
        let kept = stored.filter(|s| s.start_rate == fresh.start_rate && s.burst == fresh.burst);
        let rate = match &kept {
            Some(s) => s.rate,
            None => {
                store_pacer(&tx, &fresh)?;
                fresh.rate
            }
        };
        tx.commit()?;
        Ok(Pacer {
            start_rate: options.rate,
            burst: options.burst,
            unavailable: AtomicBool::new(false),
            rate: Mutex::new(rate),
        })
    }

    /// Applies `f` to the stored state inside `tx` and writes it back.
    fn update<T>(
        &self,
        tx: &rusqlite::Transaction<'_>,
        f: impl FnOnce(&mut PacerState) -> T,
    ) -> rusqlite::Result<T> {
        let mut state = load_pacer(tx)?
            .unwrap_or_else(|| PacerState::new(self.start_rate, self.burst, now_us()));
        let out = f(&mut state);
        store_pacer(tx, &state)?;
        *lock(&self.rate) = state.rate;
        Ok(out)
    }

    /// True when the rate was cut after `booked_us` (that booking was made at the old rate).
    fn cut_since(&self, conn: &Connection, booked_us: i64) -> bool {
        conn.query_row("SELECT cut_us FROM outbox_pacer WHERE id = 1", [], |r| {
            r.get::<_, i64>(0)
        })
        .is_ok_and(|cut| cut > booked_us)
    }

    fn rate(&self) -> f64 {
        *lock(&self.rate)
    }
}

fn load_pacer(tx: &rusqlite::Transaction<'_>) -> rusqlite::Result<Option<PacerState>> {
    tx.query_row(
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
}

fn store_pacer(tx: &rusqlite::Transaction<'_>, s: &PacerState) -> rusqlite::Result<()> {
    tx.execute(
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
    )?;
    Ok(())
}

/// One leased run of a contact's pending updates.
struct Claim {
    /// The contact's key, and this claim's lease token (its owner in `outbox_heads`).
    contact: String,
    token: String,
    ids: Vec<i64>,
    instance_id: String,
    contact_id: String,
    body: Map<String, Value>,
    enqueued_ms: i64,
    attempts: i64,
    /// The pacer's booking for this send: when it was made and how long to wait.
    booked_us: i64,
    wait: Duration,
}

/// What a delivery thread found to do.
enum Next {
    Claimed(Claim),
    /// Nothing ready; the first due time in the file (a retry or a lease running out), if any.
    Idle(Option<i64>),
}

enum Outcome {
    Delivered,
    Retry { throttled: bool, error: Error },
    Final(Error),
}

/// Claims made by this process, numbering lease tokens (`owner-n`): a lease is one claim's,
/// so a thread whose lease ran out and was taken over, even by a thread of its own process,
/// no longer holds it.
static CLAIMS: AtomicU64 = AtomicU64::new(0);

impl Shared {
    fn notify(&self) {
        let (m, c) = &self.wake;
        *lock(m) += 1;
        c.notify_all();
    }

    fn lease(&self) -> Duration {
        // Checked at open.
        self.options
            .lease_for(self.client.settings().timeout)
            .unwrap_or(Duration::from_secs(30))
    }

    /// A delivery thread: [`Shared::deliver_loop`] until the outbox closes. A panic in it (a
    /// bug, or an `on_event` callback that panicked) is logged and delivery goes on, on a
    /// fresh connection; rows it had leased wait for their lease to run out.
    fn deliver(self: Arc<Self>, conn: Connection) {
        let mut conn = Some(conn);
        while !self.stop.load(Ordering::SeqCst) {
            let next = match conn.take() {
                Some(c) => Ok(c),
                None => worker_connection(&self.path),
            };
            let c = match next {
                Ok(c) => c,
                Err(e) => {
                    emit(
                        LogLevel::Error,
                        format_args!("{e}; a delivery thread tries again in 1 s"),
                    );
                    self.idle(Duration::from_secs(1));
                    continue;
                }
            };
            let worker = Arc::clone(&self);
            if catch_unwind(AssertUnwindSafe(move || worker.deliver_loop(c))).is_ok() {
                return;
            }
            emit(
                LogLevel::Error,
                format_args!(
                    "outbox file {}: a delivery thread panicked (the message is on stderr); \
                     delivery goes on",
                    self.path.display()
                ),
            );
        }
    }

    /// Waits up to `d`, less when woken (an enqueue, close).
    fn idle(&self, d: Duration) {
        let (m, c) = &self.wake;
        let guard = lock(m);
        if !self.stop.load(Ordering::SeqCst) {
            let _ = c.wait_timeout(guard, d);
        }
    }

    fn deliver_loop(self: Arc<Self>, mut conn: Connection) {
        while !self.stop.load(Ordering::SeqCst) {
            let seen = *lock(&self.wake.0);
            // A claim that cannot be made now (the file busy or failing) is tried again soon.
            let next = self
                .claim(&mut conn)
                .unwrap_or_else(|_| Next::Idle(Some(now_ms() + 50)));
            let mut claim = match next {
                Next::Claimed(claim) => claim,
                Next::Idle(due) => {
                    let (m, c) = &self.wake;
                    let guard = lock(m);
                    if *guard == seen && !self.stop.load(Ordering::SeqCst) {
                        let _ = c.wait_timeout(guard, idle_wait(due, now_ms()));
                    }
                    continue;
                }
            };
            if !self.pace(&mut conn, &mut claim) {
                // Closing: give the lease back so another process may send it at once.
                let _ = self.release(&mut conn, &claim);
                return;
            }
            let sent_us = now_us();
            let outcome = self.send(&claim);
            // A failure to record is retried by the lease running out: at-least-once.
            let _ = self.record(&mut conn, &claim, sent_us, outcome);
        }
    }

    /// Leases the ready contact due first: its head is due and no claim holds the contact
    /// (a contact's lease covers all its rows, so a row in flight is never claimed again,
    /// and nothing of a contact is sent while an earlier call for it may still land).
    fn claim(&self, conn: &mut Connection) -> rusqlite::Result<Next> {
        let now = now_ms();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let contact: Option<String> = tx.query_row(READY_HEAD, [now], |r| r.get(0)).optional()?;
        let Some(contact) = contact else {
            let due = tx.query_row(FIRST_DUE, [], |r| r.get(0)).optional()?;
            return Ok(Next::Idle(due));
        };
        let mut rows: Vec<(i64, String, String, String, i64, i64, i64)> = Vec::new();
        {
            let mut stmt = tx.prepare_cached(RUN_OF)?;
            let mapped =
                stmt.query_map(params![contact, self.options.max_coalesce as i64], |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                        r.get(6)?,
                    ))
                })?;
            for row in mapped {
                rows.push(row?);
            }
        }
        let Some(first) = rows.first().cloned() else {
            // A head without pending rows (the triggers keep none; a hand-edited file may):
            // dropped, so it is not picked again.
            tx.execute("DELETE FROM outbox_heads WHERE contact = ?1", [&contact])?;
            tx.commit()?;
            return Ok(Next::Idle(Some(now)));
        };
        let mut claim = Claim {
            contact,
            token: format!("{}-{}", self.owner, CLAIMS.fetch_add(1, Ordering::Relaxed)),
            ids: vec![first.0],
            instance_id: first.1.clone(),
            contact_id: first.2.clone(),
            body: match serde_json::from_str(&first.3) {
                Ok(Value::Object(m)) => m,
                _ => Map::new(),
            },
            enqueued_ms: first.4,
            attempts: first.5,
            booked_us: 0,
            wait: Duration::ZERO,
        };
        if first.6 == 0 {
            for row in rows.iter().skip(1) {
                if row.6 != 0 {
                    break;
                }
                let Ok(Value::Object(next)) = serde_json::from_str::<Value>(&row.3) else {
                    break;
                };
                let mut merged = claim.body.clone();
                coalesce(&mut merged, &next);
                // Only merges the client would send as they are.
                if !self.valid(&claim.instance_id, &claim.contact_id, &merged) {
                    break;
                }
                claim.body = merged;
                claim.ids.push(row.0);
                claim.enqueued_ms = claim.enqueued_ms.min(row.4);
                claim.attempts = claim.attempts.max(row.5);
            }
        }
        // The pacer's token is booked in the same transaction, and the lease covers the wait
        // for it, so the lease cannot run out before the call is made.
        let booked_us = now_us();
        claim.wait = self.pacer.update(&tx, |p| p.reserve(booked_us))?;
        claim.booked_us = booked_us;
        self.lease_claim(&tx, &claim, true)?;
        tx.commit()?;
        Ok(Next::Claimed(claim))
    }

    /// Leases the claim's contact (`take`: it is free, the claim is new) or extends the
    /// claim's lease (only while the claim still holds it).
    fn lease_claim(
        &self,
        tx: &rusqlite::Transaction<'_>,
        claim: &Claim,
        take: bool,
    ) -> rusqlite::Result<()> {
        let until = now_ms() + claim.wait.saturating_add(self.lease()).as_millis() as i64;
        tx.prepare_cached(
            "UPDATE outbox_heads SET lease_owner = ?1, lease_until = ?2
             WHERE contact = ?3 AND (?4 OR lease_owner = ?1)",
        )?
        .execute(params![claim.token, until, claim.contact, take])?;
        Ok(())
    }

    fn valid(&self, instance_id: &str, contact_id: &str, body: &Map<String, Value>) -> bool {
        let text = request_json(
            instance_id,
            contact_id,
            &Value::Object(body.clone()).to_string(),
        );
        match UpdateContactRequest::from_json(&text) {
            Ok(r) => self.checker.check(&r).is_ok(),
            Err(_) => false,
        }
    }

    /// Waits for the claim's token; books again (and extends the lease) when the rate was cut
    /// while waiting, since the booking was made at the old rate. False when the outbox is
    /// closing.
    fn pace(&self, conn: &mut Connection, claim: &mut Claim) -> bool {
        for _ in 0..8 {
            let until = Instant::now() + claim.wait;
            loop {
                if self.stop.load(Ordering::SeqCst) {
                    return false;
                }
                let left = until.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    break;
                }
                std::thread::sleep(left.min(Duration::from_millis(100)));
            }
            if claim.wait.is_zero() || !self.pacer.cut_since(conn, claim.booked_us) {
                return true;
            }
            match self.rebook(conn, claim) {
                Ok(()) => {}
                // The file cannot be written now: send at the last booking's time.
                Err(_) => return true,
            }
        }
        true
    }

    fn rebook(&self, conn: &mut Connection, claim: &mut Claim) -> rusqlite::Result<()> {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let booked_us = now_us();
        claim.wait = self.pacer.update(&tx, |p| p.reserve(booked_us))?;
        claim.booked_us = booked_us;
        self.lease_claim(&tx, claim, false)?;
        tx.commit()
    }

    /// Frees a claim's lease without sending it (only while the claim still holds it).
    fn release(&self, conn: &mut Connection, claim: &Claim) -> rusqlite::Result<()> {
        conn.prepare_cached(RELEASE)?
            .execute(params![claim.contact, claim.token])?;
        Ok(())
    }

    fn send(&self, claim: &Claim) -> Outcome {
        let text = request_json(
            &claim.instance_id,
            &claim.contact_id,
            &Value::Object(claim.body.clone()).to_string(),
        );
        let result = UpdateContactRequest::from_json(&text)
            .and_then(|request| self.client.update_contact(&request));
        match result {
            Ok(_) => Outcome::Delivered,
            Err(error) => {
                let kind = FailureKind::of(&error);
                let throttled = kind == FailureKind::Throttling;
                if retryable(&error) {
                    Outcome::Retry { throttled, error }
                } else {
                    Outcome::Final(error)
                }
            }
        }
    }

    /// Records a call's outcome. Only a claim that still holds its contact's lease records
    /// what happened to the rows: when the lease ran out and another thread or process took
    /// the contact over, that one sends (or has sent) them again and records them itself, so
    /// this call counts as an attempt and nothing else. Delivered and dead are counted, and
    /// told, for the rows this call deleted or buried, not for the ids it carried.
    fn record(
        &self,
        conn: &mut Connection,
        claim: &Claim,
        sent_us: i64,
        outcome: Outcome,
    ) -> rusqlite::Result<()> {
        let now = now_ms();
        let mut events = Vec::new();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        bump(&tx, "attempts", 1)?;
        if let Outcome::Retry { throttled, .. } = &outcome {
            let at = now_us();
            if *throttled {
                bump(&tx, "throttled", 1)?;
                self.pacer.update(&tx, |p| p.on_throttle(sent_us, at))?;
            } else {
                self.pacer.update(&tx, |p| p.on_unavailable(sent_us, at))?;
                self.pacer.unavailable.store(true, Ordering::Relaxed);
            }
        }
        if matches!(outcome, Outcome::Delivered)
            && self.pacer.unavailable.swap(false, Ordering::Relaxed)
        {
            self.pacer.update(&tx, PacerState::on_delivered)?;
        }
        // Ours when the lease is still this claim's; freed in the same step.
        let held = tx
            .prepare_cached(RELEASE)?
            .execute(params![claim.contact, claim.token])?
            == 1;
        match outcome {
            _ if !held => {}
            Outcome::Delivered => {
                let mut stmt =
                    tx.prepare_cached("DELETE FROM outbox WHERE id = ?1 AND dead = 0")?;
                let mut deleted = 0;
                for id in &claim.ids {
                    if stmt.execute([id])? == 1 {
                        deleted += 1;
                        events.push(OutboxEvent::Delivered { id: *id as u64 });
                    }
                }
                drop(stmt);
                bump(&tx, "delivered", deleted)?;
            }
            Outcome::Retry { throttled, error } => {
                let age = Duration::from_millis((now - claim.enqueued_ms).max(0) as u64);
                if age >= self.options.max_age {
                    events.extend(self.bury(&tx, &claim.ids, &error)?);
                } else {
                    let delay = if throttled {
                        // Held back one to two sends' worth at the (cut) rate, so a throttle
                        // is not followed at once by the same call; it keeps its place.
                        wait_secs((1.0 + random_unit()) / self.pacer.rate())
                            .min(self.options.max_backoff)
                    } else {
                        let exp = Duration::from_millis(100)
                            .saturating_mul(1u32 << claim.attempts.clamp(0, 16) as u32)
                            .min(self.options.max_backoff);
                        exp.mul_f64(0.5 + 0.5 * random_unit())
                    };
                    let mut stmt = tx.prepare_cached(
                        "UPDATE outbox SET attempts = attempts + 1, next_ms = ?2,
                         error_status = ?3, error_code = ?4, error_message = ?5
                         WHERE id = ?1 AND dead = 0",
                    )?;
                    for id in &claim.ids {
                        stmt.execute(params![
                            id,
                            now + delay.as_millis() as i64,
                            error.status().code(),
                            error.code(),
                            error.message()
                        ])?;
                    }
                }
            }
            Outcome::Final(error) if claim.ids.len() > 1 => {
                // A merged call failed for good: send each update alone, so only the one at
                // fault becomes a dead letter.
                let _ = error;
                let mut stmt =
                    tx.prepare_cached("UPDATE outbox SET solo = 1 WHERE id = ?1 AND dead = 0")?;
                for id in &claim.ids {
                    stmt.execute([id])?;
                }
            }
            Outcome::Final(error) => {
                events.extend(self.bury(&tx, &claim.ids, &error)?);
            }
        }
        tx.commit()?;
        if let Some(callback) = &self.options.on_event {
            for event in &events {
                callback(event);
            }
        }
        Ok(())
    }

    fn bury(
        &self,
        tx: &rusqlite::Transaction<'_>,
        ids: &[i64],
        error: &Error,
    ) -> rusqlite::Result<Vec<OutboxEvent>> {
        let mut stmt = tx.prepare_cached(
            "UPDATE outbox SET dead = 1, attempts = attempts + 1,
             error_status = ?2, error_code = ?3, error_message = ?4 WHERE id = ?1 AND dead = 0",
        )?;
        let mut events = Vec::new();
        for id in ids {
            let buried = stmt.execute(params![
                id,
                error.status().code(),
                error.code(),
                error.message()
            ])?;
            if buried == 1 {
                events.push(OutboxEvent::Dead {
                    id: *id as u64,
                    status: error.status(),
                    code: error.code().to_string(),
                    message: error.message().to_string(),
                });
            }
        }
        Ok(events)
    }
}

fn bump(tx: &rusqlite::Transaction<'_>, name: &str, by: i64) -> rusqlite::Result<()> {
    tx.execute(
        "INSERT INTO outbox_counters(name, value) VALUES (?1, ?2)
         ON CONFLICT(name) DO UPDATE SET value = value + ?2",
        params![name, by],
    )?;
    Ok(())
}

/// Codes that mean the credentials need refreshing: retried until max_age.
const EXPIRED_CREDENTIAL_CODES: &[&str] = &[
    "ExpiredTokenException",
    "ExpiredToken",
    "RequestExpired",
    "TokenRefreshRequired",
];

/// Throttling, 5xx, network and expired credentials are retried; validation, not found,
/// access denied, conflict and the rest are final.
pub(crate) fn retryable(error: &Error) -> bool {
    if FailureKind::of(error) != FailureKind::Final {
        return true;
    }
    match error {
        Error::NoCredentials(_) | Error::CredentialsProvider(_) => true,
        Error::Service(e) => {
            EXPIRED_CREDENTIAL_CODES.contains(&e.code.as_str())
                || e.metadata.http_status.is_some_and(|s| s >= 500)
        }
        _ => false,
    }
}

mod heads;
use heads::{
    ensure_heads, idle_wait, FIRST_DUE, HEADS_SCHEMA, PENDING_UP_TO, READY_HEAD, RELEASE, RUN_OF,
};

#[cfg(test)]
mod claim_tests;

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    thread_local! {
        /// Worker connections the next opens on this thread make before one fails (None:
        /// never): an open that fails part-way, on demand.
        static WORKER_CONNECTIONS_BEFORE_FAILURE: Cell<Option<usize>> = const { Cell::new(None) };
    }

    /// Called by [`worker_connection`]: fails when the count set on this thread runs out.
    pub(super) fn fail_hook() -> Result<(), Error> {
        WORKER_CONNECTIONS_BEFORE_FAILURE.with(|left| match left.get() {
            Some(0) => {
                left.set(None);
                Err(Error::Storage(
                    "test hook: a worker connection fails".into(),
                ))
            }
            Some(n) => {
                left.set(Some(n - 1));
                Ok(())
            }
            None => Ok(()),
        })
    }

    /// A client of the clean environment (none of this machine's settings) whose calls go to
    /// a port nobody listens on: every attempt fails, fast, and counts in `attempts`.
    fn unreachable_client() -> Arc<Client> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let config = crate::config::ClientConfig::from_json(&format!(
            r#"{{"region": "us-east-1", "endpoint_url": "http://127.0.0.1:{port}",
                "access_key_id": "AKIDUNIT", "secret_access_key": "unit-secret",
                "max_attempts": 1, "timeout_ms": 2000}}"#
        ))
        .unwrap();
        Arc::new(Client::with_settings(
            config.resolve_with(&|_| None).unwrap(),
        ))
    }

    fn scratch_file(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("connect-outbox-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
        path
    }

    /// This process's open descriptors on `path` or its `-wal` and `-shm`.
    fn descriptors_on(path: &Path) -> usize {
        let prefix = path.to_str().unwrap();
        std::fs::read_dir("/proc/self/fd")
            .unwrap()
            .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
            .filter(|target| target.to_str().is_some_and(|t| t.starts_with(prefix)))
            .count()
    }

    fn attempts_in(path: &Path) -> i64 {
        let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
        conn.query_row(
            "SELECT COALESCE((SELECT value FROM outbox_counters WHERE name = 'attempts'), 0)",
            [],
            |r| r.get(0),
        )
        .unwrap()
    }

    #[test]
    fn an_open_that_fails_part_way_leaves_no_thread_or_connection_behind() {
        let client = unreachable_client();
        let path = scratch_file("failed-open.db");
        let mut options = OutboxOptions {
            rate: 1000.0,
            max_backoff: Duration::from_millis(10),
            workers: 1,
            ..OutboxOptions::default()
        };
        // One pending update, tried once (its first attempt fails: nobody listens).
        let outbox = Outbox::open(Arc::clone(&client), &path, options.clone()).unwrap();
        let mut request = UpdateContactRequest::new("i", "c");
        request.name = Some("n".into());
        outbox.enqueue(&request).unwrap();
        for _ in 0..500 {
            if attempts_in(&path) > 0 {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        outbox.close();
        assert_eq!(
            descriptors_on(&path),
            0,
            "a closed outbox keeps nothing open"
        );
        let tried = attempts_in(&path);
        assert!(tried > 0, "the update was tried");

        // Four delivery threads; the third one's connection fails.
        options.workers = 4;
        WORKER_CONNECTIONS_BEFORE_FAILURE.with(|left| left.set(Some(2)));
        let e = Outbox::open(Arc::clone(&client), &path, options).unwrap_err();
        assert_eq!(e.message(), "test hook: a worker connection fails", "{e:?}");
        // The two threads that had started were stopped and joined, and every connection,
        // theirs and the outbox's, closed.
        assert_eq!(
            descriptors_on(&path),
            0,
            "connections left open after a failed open"
        );
        // Nothing delivers afterwards: the update (due again within 10 ms) is not tried.
        std::thread::sleep(Duration::from_millis(300));
        assert_eq!(
            attempts_in(&path),
            tried,
            "a delivery thread outlived the failed open"
        );
    }

    #[test]
    fn waits_saturate_at_extreme_pacer_states() {
        // A rate far below what the options accept (a file's stored state may hold anything).
        let mut p = PacerState::new(1e-25, 1, 100 * S);
        assert_eq!(p.reserve(100 * S), Duration::ZERO);
        assert_eq!(p.reserve(100 * S), LONGEST_WAIT);
        p.rate = 0.0;
        assert_eq!(p.reserve(100 * S), LONGEST_WAIT);
        p.rate = f64::NAN;
        assert_eq!(p.reserve(100 * S), Duration::ZERO);
        assert_eq!(wait_secs(f64::INFINITY), LONGEST_WAIT);
        assert_eq!(wait_secs(-1.0), Duration::ZERO);
        assert_eq!(wait_secs(1.5), Duration::from_millis(1500));
        // The slowest accepted rate at the pacer's floor still fits under the cap.
        assert!(wait_secs(1.0 / (MIN_RATE * FLOOR)) < LONGEST_WAIT);
    }

    fn obj(text: &str) -> Map<String, Value> {
        match serde_json::from_str(text).unwrap() {
            Value::Object(m) => m,
            _ => unreachable!(),
        }
    }

    #[test]
    fn an_outage_halves_the_rate_once_per_batch_down_to_the_floor_and_keeps_the_ceiling() {
        const S: i64 = 1_000_000;
        let mut p = PacerState::new(20.0, 20, 100 * S);
        // Four calls of one batch fail: one cut.
        assert!(p.on_unavailable(100 * S, 100 * S + 10));
        assert!(!p.on_unavailable(100 * S + 5, 100 * S + 20));
        assert_eq!(p.rate, 10.0);
        assert_eq!(p.ceiling, 20.0);
        // Each later batch halves it again, never below the floor.
        for i in 1..20 {
            assert!(p.on_unavailable(100 * S + i * S, 100 * S + i * S + 10));
        }
        assert_eq!(p.rate, 20.0 * FLOOR);
        // No growth while calls keep failing, however long the bucket holds sends back.
        let mut t = 200 * S;
        for _ in 0..100 {
            t += S / 50;
            p.reserve(t);
        }
        assert_eq!(p.rate, 20.0 * FLOOR);
        p.on_delivered();
        // Once calls go through and the bucket limits them, it climbs back quickly (the
        // ceiling was never lowered).
        for _ in 0..600 {
            t += S / 50;
            p.reserve(t);
        }
        assert!(p.rate >= 0.9 * 20.0, "{}", p.rate);
    }

    #[test]
    fn coalescing_merges_maps_by_key_and_replaces_the_rest() {
        let mut a = obj(
            r#"{"Name":"a","References":{"x":{"Type":"URL","Value":"1"},"y":{"Type":"URL","Value":"2"}}}"#,
        );
        coalesce(
            &mut a,
            &obj(
                r#"{"Description":"d","References":{"y":{"Type":"URL","Value":"3"}},"SegmentAttributes":{"k":{"ValueString":"v"}}}"#,
            ),
        );
        assert_eq!(
            Value::Object(a),
            serde_json::from_str::<Value>(r#"{"Name":"a","Description":"d","References":{"x":{"Type":"URL","Value":"1"},"y":{"Type":"URL","Value":"3"}},"SegmentAttributes":{"k":{"ValueString":"v"}}}"#).unwrap()
        );
    }

    const S: i64 = 1_000_000;

    #[test]
    fn pacer_starts_at_burst_then_books_sends_at_the_rate() {
        let mut p = PacerState::new(2.0, 5, 100 * S);
        for _ in 0..5 {
            assert_eq!(p.reserve(100 * S), Duration::ZERO);
        }
        // Booked ahead: the 6th waits 1/rate, the 7th 2/rate.
        assert_eq!(p.reserve(100 * S), Duration::from_millis(500));
        assert_eq!(p.reserve(100 * S), Duration::from_millis(1000));
        // A clock that went back changes nothing.
        let before = p.clone();
        p.refill(99 * S);
        assert_eq!(p, before);
    }

    #[test]
    fn pacer_cuts_once_per_overshoot_and_charges_the_bucket() {
        let mut p = PacerState::new(2.0, 5, 100 * S);
        for _ in 0..5 {
            p.reserve(100 * S);
        }
        assert!(p.on_throttle(100 * S, 100 * S + 10));
        assert!((p.rate - 1.4).abs() < 1e-9);
        assert_eq!(p.ceiling, 2.0, "where throttling began");
        // A call sent before the cut answers late: old news, no second cut.
        assert!(!p.on_throttle(100 * S + 5, 100 * S + 20));
        assert!((p.rate - 1.4).abs() < 1e-9);
        // The bucket was charged: no burst after a throttle, the next send waits 2/rate.
        let wait = p.reserve(100 * S + 10);
        assert!((wait.as_secs_f64() - 2.0 / 1.4).abs() < 1e-3, "{wait:?}");
        // A call sent after the cut and throttled soon after: the cut was not enough; the
        // new rate becomes the ceiling (no quick climb back).
        assert!(p.on_throttle(101 * S, 102 * S));
        assert!((p.rate - 0.98).abs() < 1e-4);
        assert!((p.ceiling - p.rate).abs() < 1e-12);
    }

    #[test]
    fn pacer_grows_only_while_it_holds_sends_back() {
        let mut p = PacerState::new(10.0, 5, 100 * S);
        assert!(p.on_throttle(100 * S, 100 * S));
        assert!((p.rate - 7.0).abs() < 1e-9);
        // Idle for a minute: the bucket is full, nothing was held back, no growth.
        for _ in 0..6 {
            p.reserve(160 * S);
        }
        assert!((p.rate - 7.0).abs() < 1e-9);
        // Busy: quick climb (20% of the configured rate per second) to 95% of the ceiling...
        for i in 1..=100 {
            p.reserve(160 * S + i * S / 100);
        }
        assert!((p.rate - 9.0).abs() < 1e-6, "{}", p.rate);
        for i in 1..=200 {
            p.reserve(161 * S + i * S / 100);
        }
        assert!(p.rate >= 9.5 && p.rate < 9.56, "{}", p.rate);
        // ... then a slow probe (0.1% of the configured rate per second).
        let at = p.rate;
        for i in 1..=1000 {
            p.reserve(163 * S + i * S / 100);
        }
        assert!((p.rate - at - 0.1).abs() < 1e-6, "{}", p.rate - at);
        // Never below the floor.
        for i in 0..40 {
            p.on_throttle(200 * S + i * S, 200 * S + i * S);
        }
        assert!((p.rate - 0.2).abs() < 1e-9);
        assert!(
            (p.ceiling - 0.2).abs() < 1e-9,
            "repeated throttles lowered the ceiling"
        );
        // Five quiet minutes later the lowered ceiling is forgotten: a quick climb again.
        for _ in 0..6 {
            p.reserve(600 * S);
        }
        assert_eq!(p.ceiling, 10.0);
        p.reserve(601 * S);
        assert!((p.rate - 2.2).abs() < 1e-6, "{}", p.rate);
    }

    #[test]
    fn options_are_checked_by_name() {
        let e = OutboxOptions::from_json(r#"{"rate": 0}"#).unwrap_err();
        assert!(e.message().contains("rate"), "{e:?}");
        for tiny in ["1e-25", "0.0009"] {
            let e = OutboxOptions::from_json(&format!(r#"{{"rate": {tiny}}}"#)).unwrap_err();
            assert_eq!(e.status(), Status::InvalidConfig);
            assert!(
                e.message().contains("outbox option rate") && e.message().contains("from 0.001"),
                "{e:?}"
            );
        }
        let o = OutboxOptions::from_json(r#"{"rate": 0.001}"#).unwrap();
        assert_eq!(o.rate, MIN_RATE);
        let e = OutboxOptions::from_json(r#"{"speed": 1}"#).unwrap_err();
        assert!(e.message().contains("speed"), "{e:?}");
        let o = OutboxOptions::from_json(r#"{"rate": 200, "burst": 50}"#).unwrap();
        assert_eq!((o.rate, o.burst), (200.0, 50));
    }
}
