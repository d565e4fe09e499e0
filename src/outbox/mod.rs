//! The outbox: UpdateContact requests kept in a store (today an SQLite file in WAL mode)
//! until the service has them, delivered in order per contact by background threads paced
//! to the account's quota. Several processes may open one store; each update is delivered by
//! the one that leased it. Semantics, the coalescing rule and pacing: docs/outbox.md.
//!
//! The parts: this file is the API; [`options`] the settings; [`pacer`] the shared rate's
//! rule; [`deliver`] claiming, sending and recording; [`store`] the traits delivery speaks
//! to; [`sqlite`] the SQLite store behind them; [`admin`] a store opened to look at and
//! steer without delivering.
#![forbid(unsafe_code)]

use std::fmt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::client::Client;
use crate::error::{Error, Status};
use crate::model::UpdateContactRequest;
use crate::retry::random_unit;

mod admin;
mod deliver;
mod options;
mod pacer;
#[cfg(feature = "postgres")]
mod postgres;
mod sqlite;
mod store;

pub use admin::OutboxAdmin;
use deliver::{contact_key, now_ms, Delivery, Pacer};
pub use options::OutboxOptions;
use store::Store;

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

/// Counters of an outbox store and its send rate (both shared by every process using it).
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
/// A durable, quota-aware queue of UpdateContact calls (see the module docs and
/// docs/outbox.md).
pub struct Outbox {
    delivery: Arc<Delivery>,
    threads: Vec<JoinHandle<()>>,
    /// The process that opened it: in the child of a fork its threads do not exist.
    pid: u32,
}

impl fmt::Debug for Outbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Outbox")
            .field("store", &self.delivery.store.describe())
            .field("options", &self.delivery.options)
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The store `target` names — a PostgreSQL URL (`postgres://` or `postgresql://`), else an
/// outbox file's path: the one choice point between stores.
fn open_store(
    target: &Path,
    options: &OutboxOptions,
    timeout: Duration,
) -> Result<Box<dyn Store>, Error> {
    let url = target
        .to_str()
        .filter(|t| t.starts_with("postgres://") || t.starts_with("postgresql://"));
    match url {
        #[cfg(feature = "postgres")]
        Some(url) => Ok(Box::new(postgres::PgStore::open(
            url,
            &options.queue,
            timeout,
            &machine(),
        )?)),
        #[cfg(not(feature = "postgres"))]
        Some(_) => Err(Error::InvalidConfig(
            "outbox: a PostgreSQL URL, but this build of connect-contact has no PostgreSQL \
             store (build it with the cargo feature `postgres`)"
                .into(),
        )),
        None if options.queue != options::DEFAULT_QUEUE => Err(Error::InvalidConfig(format!(
            "outbox option queue: {:?} needs a PostgreSQL store; an outbox file is one queue \
             (leave queue unset, or give a postgresql:// URL)",
            options.queue
        ))),
        None => Ok(Box::new(sqlite::SqliteStore::open(target)?)),
    }
}

/// This machine, as lease owners name it: the host name, the kernel's boot and the process
/// namespace (containers of one host share a host name, not a namespace). A lease whose
/// owner names this machine and a process that is gone is freed at open.
fn machine() -> String {
    let read = |path: &str| {
        std::fs::read_to_string(path)
            .map(|s| s.trim().to_string())
            .unwrap_or_default()
    };
    let host = read("/proc/sys/kernel/hostname");
    let boot: String = read("/proc/sys/kernel/random/boot_id")
        .chars()
        .take(8)
        .collect();
    let namespace = std::fs::read_link("/proc/self/ns/pid")
        .map(|p| {
            p.to_string_lossy()
                .chars()
                .filter(char::is_ascii_digit)
                .collect::<String>()
        })
        .unwrap_or_default();
    format!("{host}/{boot}/{namespace}").replace(['-', '@'], ".")
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
        let store = open_store(path.as_ref(), &options, client.settings().timeout)?;
        let mut pacer = None;
        store.transact(&mut |tx| {
            pacer = Some(Pacer::open(tx, options.rate, options.burst)?);
            Ok(())
        })?;
        let pacer = pacer.expect("set by the step that committed");
        let owner = format!(
            "{}-{}-{}@{}",
            std::process::id(),
            now_ms(),
            (random_unit() * 1e9) as u64,
            machine()
        );
        let delivery = Arc::new(Delivery {
            client: client.single_attempt(),
            checker: client,
            pacer,
            owner,
            options,
            store,
            stop: AtomicBool::new(false),
            wake: (Mutex::new(0), Condvar::new()),
        });
        // Threads go into the outbox as they start: an open that fails part-way drops it,
        // which stops and joins them (and closes their connections) before returning.
        let mut outbox = Outbox {
            delivery,
            threads: Vec::new(),
            pid: std::process::id(),
        };
        for i in 0..outbox.delivery.options.workers {
            let conn = outbox.delivery.store.worker()?;
            let worker = Arc::clone(&outbox.delivery);
            let handle = std::thread::Builder::new()
                .name(format!("connect-outbox-{i}"))
                .spawn(move || worker.deliver(conn))
                .map_err(|e| {
                    Error::InvalidConfig(format!(
                        "{}: cannot start a delivery thread: {e}",
                        outbox.delivery.store.describe()
                    ))
                })?;
            outbox.threads.push(handle);
        }
        Ok(outbox)
    }

    /// Validates the request exactly as [`Client::update_contact`] does (a failure stores
    /// nothing), stores it durably and returns its id. Delivery happens in the background.
    pub fn enqueue(&self, request: &UpdateContactRequest) -> Result<u64, Error> {
        self.delivery.checker.check(request)?;
        let body = String::from_utf8(request.to_body()).unwrap_or_default();
        let contact = contact_key(&request.instance_id, &request.contact_id);
        let id = self.delivery.store.enqueue(
            &contact,
            &request.instance_id,
            &request.contact_id,
            &body,
        )?;
        self.delivery.notify();
        Ok(id)
    }

    /// Waits until every update enqueued (in this store, by any process) before the call is
    /// delivered or dead; false when `timeout` passed first.
    pub fn flush(&self, timeout: Duration) -> Result<bool, Error> {
        let deadline = Instant::now() + timeout;
        let mark = self.delivery.store.last_id()?;
        loop {
            if !self.delivery.store.pending_up_to(mark)? {
                return Ok(true);
            }
            if Instant::now() >= deadline {
                return Ok(false);
            }
            std::thread::sleep(Duration::from_millis(10).min(deadline - Instant::now()));
        }
    }

    /// The store's counters and send rate.
    pub fn stats(&self) -> OutboxStats {
        admin::stats_of(&*self.delivery.store, self.delivery.pacer.rate())
    }

    /// The dead letters, oldest first.
    pub fn dead_letters(&self) -> Result<Vec<DeadLetter>, Error> {
        admin::dead_letters_of(&*self.delivery.store)
    }

    /// Puts a dead letter back in line (with a fresh max_age). False when `id` is not a dead
    /// letter. It keeps its place: it goes before any later update of the same contact that
    /// is still pending.
    pub fn retry_dead(&self, id: u64) -> Result<bool, Error> {
        let revived = self.delivery.store.retry_dead(id)?;
        self.delivery.notify();
        Ok(revived)
    }

    /// Deletes a dead letter. False when `id` is not a dead letter.
    pub fn discard_dead(&self, id: u64) -> Result<bool, Error> {
        self.delivery.store.discard_dead(id)
    }

    /// Stops delivering: calls in flight finish (each within the client's timeout) and are
    /// recorded; everything still pending stays in the store for the next open.
    pub fn close(mut self) {
        self.stop_threads();
    }

    fn stop_threads(&mut self) {
        if std::process::id() != self.pid {
            // The child of a fork: the delivery threads do not exist here (joining them would
            // fail), and the connections are copies of the parent's, which goes on using the
            // store. Forget both; the parent's outbox is unaffected.
            std::mem::forget(std::mem::take(&mut self.threads));
            std::mem::forget(Arc::clone(&self.delivery));
            return;
        }
        self.delivery.stop.store(true, Ordering::SeqCst);
        self.delivery.notify();
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

/// The durability an enqueue commits with, as the store's engine reports it: for a file
/// `journal_mode` and `synchronous` (e.g. `("wal", 2)`, 2 being FULL). Read back for the
/// project's tests (`unstable::outbox_enqueue_durability`).
pub fn enqueue_durability(outbox: &Outbox) -> Result<(String, i64), Error> {
    outbox.delivery.store.durability()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::{Connection, OpenFlags};
    use std::cell::Cell;
    use std::path::PathBuf;

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
}
