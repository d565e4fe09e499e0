//! Files: reading seed files (JSON), and the `--state` store (SQLite).
//!
//! The state store is an SQLite database in WAL mode with `synchronous=FULL`: each commit
//! appends to the write-ahead log and fsyncs it before the update is acknowledged, so an
//! acknowledged update survives kill -9 and power loss alike, and a crash at any point
//! leaves a database SQLite recovers on the next open (committed transactions in the log are
//! kept, a partly written one is ignored). One row per contact, so the cost of an update
//! does not grow with the store. Writes go through one writer thread that commits whatever is queued as a single
//! transaction (group commit): concurrent clients share an fsync instead of queueing behind
//! one each.
//!
//! Commits only append to the WAL; a second thread, on its own connection, copies the WAL
//! into the database file (a passive checkpoint) a few times a second, so that work, which
//! grows with the number of distinct pages touched, never delays an answer. SQLite's
//! companion files `FILE-wal` and `FILE-shm` exist while the emulator runs (and after a
//! crash, until the next start) and are removed at a clean shutdown. One emulator per state
//! file: SQLite keeps two from corrupting it, but their in-memory views would differ.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, Sender, SyncSender};
use std::sync::Mutex;
use std::thread::JoinHandle;

use rusqlite::{params, Connection, OpenFlags};
use serde_json::{json, Map, Value};

use crate::store::Store;

/// Largest seed or legacy JSON state file read, so a wrong path cannot make the emulator
/// load gigabytes.
const MAX_FILE_BYTES: u64 = 256 * 1024 * 1024;
/// What an SQLite database file starts with.
const SQLITE_MAGIC: &[u8] = b"SQLite format 3\0";
/// Marks a database as this emulator's state store (`PRAGMA application_id`): "CCEM".
const APPLICATION_ID: i64 = 0x4343_454d;
/// The schema version (`PRAGMA user_version`).
const SCHEMA_VERSION: i64 = 1;
/// Most changes committed in one transaction.
const MAX_BATCH: usize = 4096;
/// Suffix of the database built while migrating a JSON state file.
const MIGRATING_SUFFIX: &str = ".migrating";

/// Reads a JSON store file; `what` ("seed", "state") names it in errors.
pub fn load(path: &Path, what: &str) -> Result<Store, String> {
    let shown = path.display();
    let size = fs::metadata(path)
        .map_err(|e| format!("{what} file {shown}: {e}"))?
        .len();
    if size > MAX_FILE_BYTES {
        return Err(format!(
            "{what} file {shown} is {size} bytes; the limit is {MAX_FILE_BYTES}"
        ));
    }
    let text = fs::read_to_string(path).map_err(|e| format!("{what} file {shown}: {e}"))?;
    let value: Value = serde_json::from_str(&text)
        .map_err(|e| format!("{what} file {shown} is not valid JSON: {e}"))?;
    Store::from_json(&value).map_err(|e| format!("{what} file {shown}: {e}"))
}

/// One change to write: rows are the seed format's parts, members already serialized.
enum Change {
    /// Insert or replace one instance, and one contact in it when given.
    Put {
        instance: String,
        contact: Option<(String, String)>,
    },
    /// Replace everything with this store (seed-format JSON).
    ReplaceAll(Value),
}

enum Job {
    Write(Change, SyncSender<Result<(), String>>),
    Close(SyncSender<()>),
}

/// A change handed to the writer; [`Pending::wait`] returns once it is on disk.
#[must_use = "a change is durable only once waited for"]
pub struct Pending(Option<Receiver<Result<(), String>>>);

impl Pending {
    /// Nothing to wait for (no state store).
    pub fn done() -> Pending {
        Pending(None)
    }

    /// Blocks until the change is committed (fsynced), or says why it was not.
    pub fn wait(self) -> Result<(), String> {
        match self.0 {
            None => Ok(()),
            Some(rx) => rx
                .recv()
                .unwrap_or_else(|_| Err("the state store is closed".into())),
        }
    }
}

/// The `--state` store: an SQLite database and its writer thread.
pub struct StateStore {
    path: PathBuf,
    jobs: Mutex<Option<Sender<Job>>>,
    writer: Mutex<Option<JoinHandle<()>>>,
    /// Dropping the sender stops the checkpointer.
    checkpointer: Mutex<Option<(Sender<()>, JoinHandle<()>)>>,
}

impl StateStore {
    /// Opens (or creates) the store at `path` and reads it. A new store starts as `seed`. A
    /// JSON state file from an earlier version is converted in place.
    pub fn open(path: &Path, seed: &Store) -> Result<(StateStore, Store), String> {
        let shown = path.display().to_string();
        match file_kind(path).map_err(|e| format!("state file {shown}: {e}"))? {
            StoreKind::Missing | StoreKind::Sqlite => {}
            StoreKind::Json => migrate(path)?,
        }
        let mut conn = connect(path).map_err(|e| format!("state file {shown}: {e}"))?;
        let fresh = check_schema(&mut conn).map_err(|e| format!("state file {shown}: {e}"))?;
        if fresh {
            write_all(&mut conn, &seed.to_json())
                .map_err(|e| format!("state file {shown}: cannot write the seed: {e}"))?;
        }
        let store = read_all(&conn).map_err(|e| format!("state file {shown}: {e}"))?;
        let checkpoint_conn = connect(path).map_err(|e| format!("state file {shown}: {e}"))?;
        let (stop, stopped) = mpsc::channel();
        let checkpointer = std::thread::Builder::new()
            .name("connect-emulator-checkpoint".into())
            .spawn(move || checkpoint_loop(checkpoint_conn, stopped))
            .map_err(|e| format!("cannot start the state checkpoint thread: {e}"))?;
        let (tx, rx) = mpsc::channel();
        let writer = std::thread::Builder::new()
            .name("connect-emulator-state".into())
            .spawn(move || writer_loop(conn, rx))
            .map_err(|e| format!("cannot start the state writer thread: {e}"))?;
        Ok((
            StateStore {
                path: path.to_path_buf(),
                jobs: Mutex::new(Some(tx)),
                writer: Mutex::new(Some(writer)),
                checkpointer: Mutex::new(Some((stop, checkpointer))),
            },
            store,
        ))
    }

    /// Queues one contact as `store` holds it now (or only the instance). Call with the store
    /// locked, so changes reach the disk in the order they were made.
    pub fn put(&self, store: &Store, instance: &str, contact: Option<&str>) -> Pending {
        let contact = contact.map(|c| {
            let members = store
                .contact(instance, c)
                .map(|m| Value::Object(m.clone()))
                .unwrap_or_else(|| json!({}));
            (c.to_string(), members.to_string())
        });
        self.send(Change::Put {
            instance: instance.to_string(),
            contact,
        })
    }

    /// Queues replacing the whole store. Call with the store locked.
    pub fn replace_all(&self, store: &Store) -> Pending {
        self.send(Change::ReplaceAll(store.to_json()))
    }

    fn send(&self, change: Change) -> Pending {
        let (tx, rx) = mpsc::sync_channel(1);
        let sent = lock(&self.jobs)
            .as_ref()
            .map(|jobs| jobs.send(Job::Write(change, tx)).is_ok())
            .unwrap_or(false);
        if !sent {
            let (tx, rx) = mpsc::sync_channel(1);
            let _ = tx.send(Err(format!(
                "the state file {} is closed",
                self.path.display()
            )));
            return Pending(Some(rx));
        }
        Pending(Some(rx))
    }

    /// Commits what is queued and closes the database (the WAL file is folded in and removed).
    /// Later changes are refused.
    pub fn close(&self) {
        if let Some((stop, checkpointer)) = lock(&self.checkpointer).take() {
            drop(stop);
            let _ = checkpointer.join();
        }
        let Some(jobs) = lock(&self.jobs).take() else {
            return;
        };
        let (tx, rx) = mpsc::sync_channel(1);
        if jobs.send(Job::Close(tx)).is_ok() {
            let _ = rx.recv();
        }
        if let Some(writer) = lock(&self.writer).take() {
            let _ = writer.join();
        }
    }
}

impl Drop for StateStore {
    fn drop(&mut self) {
        self.close();
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

enum StoreKind {
    Missing,
    Sqlite,
    Json,
}

fn file_kind(path: &Path) -> Result<StoreKind, String> {
    let mut file = match fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(StoreKind::Missing),
        Err(e) => return Err(e.to_string()),
    };
    let mut head = Vec::with_capacity(SQLITE_MAGIC.len());
    file.by_ref()
        .take(SQLITE_MAGIC.len() as u64)
        .read_to_end(&mut head)
        .map_err(|e| e.to_string())?;
    if head.is_empty() {
        // An empty file (e.g. made by `touch`) becomes a new store.
        return Ok(StoreKind::Missing);
    }
    if head == SQLITE_MAGIC {
        return Ok(StoreKind::Sqlite);
    }
    if head
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|&b| b == b'{')
    {
        return Ok(StoreKind::Json);
    }
    Err("is neither an SQLite state store nor a JSON state file of an earlier version".into())
}

/// Converts a JSON state file (earlier versions) into an SQLite store at the same path: built
/// beside it, then renamed over it, so a crash leaves the JSON file as it was.
fn migrate(path: &Path) -> Result<(), String> {
    let shown = path.display();
    let store = load(path, "state")?;
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(MIGRATING_SUFFIX);
    let building = path.with_file_name(name);
    remove_database(&building);
    let result = (|| {
        let mut conn = connect(&building)?;
        check_schema(&mut conn)?;
        write_all(&mut conn, &store.to_json())?;
        conn.close().map_err(|(_, e)| e.to_string())?;
        fs::rename(&building, path).map_err(|e| e.to_string())?;
        sync_dir(path);
        Ok::<(), String>(())
    })();
    if let Err(e) = result {
        remove_database(&building);
        return Err(format!(
            "state file {shown} (JSON, from an earlier version) could not be converted to the SQLite store: {e}"
        ));
    }
    eprintln!("connect-emulator: converted the JSON state file {shown} to the SQLite store");
    Ok(())
}

fn remove_database(path: &Path) {
    let _ = fs::remove_file(path);
    for suffix in ["-wal", "-shm", "-journal"] {
        let mut name = path.as_os_str().to_os_string();
        name.push(suffix);
        let _ = fs::remove_file(PathBuf::from(name));
    }
}

/// Makes a rename durable: fsync the directory that holds the file.
fn sync_dir(path: &Path) {
    if let Some(dir) = path.parent() {
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        if let Ok(d) = fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
}

fn connect(path: &Path) -> Result<Connection, String> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| e.to_string())?;
    // The checkpointer and the writer share the file; a moment's wait is normal.
    conn.busy_timeout(std::time::Duration::from_secs(5))
        .map_err(|e| e.to_string())?;
    let journal: String = conn
        .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
        .map_err(|e| e.to_string())?;
    if !journal.eq_ignore_ascii_case("wal") {
        return Err(format!(
            "cannot switch the database to WAL mode (got {journal})"
        ));
    }
    // FULL: the WAL is fsynced at every commit, so an acknowledged update survives power loss
    // too, not only a crash of this process. No automatic checkpoint: the checkpointer
    // thread does it. A 64 MiB page cache holds a 100,000-contact
    // store's B-tree, so an update reads nothing from the file.
    conn.execute_batch(
        "PRAGMA synchronous=FULL; PRAGMA cache_size=-65536; PRAGMA wal_autocheckpoint=0;",
    )
    .map_err(|e| e.to_string())?;
    Ok(conn)
}

/// Creates the tables in a new database; checks an existing one is ours. True when new.
fn check_schema(conn: &mut Connection) -> Result<bool, String> {
    let err = |e: rusqlite::Error| e.to_string();
    let app: i64 = conn
        .query_row("PRAGMA application_id", [], |r| r.get(0))
        .map_err(err)?;
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(err)?;
    if app == APPLICATION_ID {
        if version != SCHEMA_VERSION {
            return Err(format!(
                "store schema version {version}; this emulator reads version {SCHEMA_VERSION}"
            ));
        }
        return Ok(false);
    }
    let tables: i64 = conn
        .query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))
        .map_err(err)?;
    if app != 0 || tables != 0 {
        return Err("is an SQLite database but not a connect-emulator state store".into());
    }
    let tx = conn.transaction().map_err(err)?;
    tx.execute_batch(&format!(
        "CREATE TABLE instances (id TEXT PRIMARY KEY NOT NULL) WITHOUT ROWID;
         CREATE TABLE contacts (
             instance_id TEXT NOT NULL,
             id TEXT NOT NULL,
             members TEXT NOT NULL,
             PRIMARY KEY (instance_id, id)
         ) WITHOUT ROWID;
         PRAGMA application_id = {APPLICATION_ID};
         PRAGMA user_version = {SCHEMA_VERSION};"
    ))
    .map_err(err)?;
    tx.commit().map_err(err)?;
    Ok(true)
}

/// The whole store, through the seed format's reader (so every contact is checked).
fn read_all(conn: &Connection) -> Result<Store, String> {
    let err = |e: rusqlite::Error| e.to_string();
    let mut instances = Map::new();
    let mut stmt = conn.prepare("SELECT id FROM instances").map_err(err)?;
    let ids = stmt.query_map([], |r| r.get::<_, String>(0)).map_err(err)?;
    for id in ids {
        instances.insert(id.map_err(err)?, json!({ "contacts": {} }));
    }
    let mut stmt = conn
        .prepare("SELECT instance_id, id, members FROM contacts")
        .map_err(err)?;
    let rows = stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
            ))
        })
        .map_err(err)?;
    for row in rows {
        let (instance, contact, members) = row.map_err(err)?;
        let members: Value = serde_json::from_str(&members).map_err(|e| {
            format!("instances.{instance}.contacts.{contact}: stored members are not JSON: {e}")
        })?;
        let slot = instances
            .entry(instance)
            .or_insert_with(|| json!({ "contacts": {} }));
        if let Some(Value::Object(contacts)) = slot.get_mut("contacts") {
            contacts.insert(contact, members);
        }
    }
    Store::from_json(&json!({ "instances": instances }))
}

fn write_all(conn: &mut Connection, store: &Value) -> Result<(), String> {
    let tx = conn.transaction().map_err(|e| e.to_string())?;
    replace_all(&tx, store).map_err(|e| e.to_string())?;
    tx.commit().map_err(|e| e.to_string())
}

fn replace_all(conn: &Connection, store: &Value) -> rusqlite::Result<()> {
    conn.execute("DELETE FROM contacts", [])?;
    conn.execute("DELETE FROM instances", [])?;
    let empty = Map::new();
    let instances = store
        .get("instances")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let mut put_instance = conn.prepare_cached("INSERT INTO instances (id) VALUES (?1)")?;
    let mut put_contact =
        conn.prepare_cached("INSERT INTO contacts (instance_id, id, members) VALUES (?1, ?2, ?3)")?;
    for (instance, entry) in instances {
        put_instance.execute(params![instance])?;
        let contacts = entry
            .get("contacts")
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        for (contact, members) in contacts {
            put_contact.execute(params![instance, contact, members.to_string()])?;
        }
    }
    Ok(())
}

fn apply(conn: &Connection, change: &Change) -> rusqlite::Result<()> {
    match change {
        Change::Put { instance, contact } => {
            conn.prepare_cached("INSERT OR IGNORE INTO instances (id) VALUES (?1)")?
                .execute(params![instance])?;
            if let Some((contact, members)) = contact {
                conn.prepare_cached(
                    "INSERT INTO contacts (instance_id, id, members) VALUES (?1, ?2, ?3)
                     ON CONFLICT (instance_id, id) DO UPDATE SET members = excluded.members",
                )?
                .execute(params![instance, contact, members])?;
            }
            Ok(())
        }
        Change::ReplaceAll(store) => replace_all(conn, store),
    }
}

/// How often the checkpointer copies the WAL into the database file.
const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_millis(200);

/// Passive checkpoints until told to stop: they never block the writer, and once everything
/// is copied the writer starts the WAL over, so it stays small.
fn checkpoint_loop(conn: Connection, stop: Receiver<()>) {
    while let Err(mpsc::RecvTimeoutError::Timeout) = stop.recv_timeout(CHECKPOINT_EVERY) {
        if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
            eprintln!("connect-emulator: state file checkpoint: {e}");
        }
    }
}

/// Takes queued changes, commits each batch as one transaction, then answers every change in
/// it. A change that fails is rolled back alone (a savepoint each), so it cannot sink the
/// others of its batch.
fn writer_loop(mut conn: Connection, jobs: Receiver<Job>) {
    let mut closing = None;
    while closing.is_none() {
        let Ok(first) = jobs.recv() else { break };
        let mut batch = Vec::new();
        let mut next = Some(first);
        while let Some(job) = next.take() {
            match job {
                Job::Write(change, done) => batch.push((change, done)),
                Job::Close(done) => {
                    closing = Some(done);
                    break;
                }
            }
            if batch.len() < MAX_BATCH {
                next = jobs.try_recv().ok();
            }
        }
        if !batch.is_empty() {
            commit_batch(&mut conn, batch);
        }
    }
    // Closing folds the WAL into the database and removes it.
    if let Err((_, e)) = conn.close() {
        eprintln!("connect-emulator: closing the state file: {e}");
    }
    if let Some(done) = closing {
        let _ = done.send(());
    }
}

fn commit_batch(conn: &mut Connection, batch: Vec<(Change, SyncSender<Result<(), String>>)>) {
    let mut results: Vec<Result<(), String>> = Vec::with_capacity(batch.len());
    let committed = (|| {
        let mut tx = conn.transaction()?;
        for (change, _) in &batch {
            let sp = tx.savepoint()?;
            match apply(&sp, change) {
                Ok(()) => {
                    sp.commit()?;
                    results.push(Ok(()));
                }
                Err(e) => {
                    drop(sp); // rolls back this change only
                    results.push(Err(e.to_string()));
                }
            }
        }
        tx.commit()
    })();
    match committed {
        Ok(()) => {
            for ((_, done), result) in batch.into_iter().zip(results) {
                let _ = done.send(result);
            }
        }
        Err(e) => {
            let e = e.to_string();
            for (_, done) in batch {
                let _ = done.send(Err(e.clone()));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn changes_survive_a_reopen_and_nothing_is_left_beside_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        let mut seed = Store::default();
        seed.ensure("i", Some("seeded"));
        let (state, mut store) = StateStore::open(&path, &seed).unwrap();
        assert_eq!(store, seed);
        store.ensure("i", Some("c"));
        store.ensure("j", None);
        state.put(&store, "i", Some("c")).wait().unwrap();
        state.put(&store, "j", None).wait().unwrap();
        state.close();
        assert!(state.put(&store, "j", None).wait().is_err(), "closed");
        assert_eq!(names(dir.path()), ["state.db"], "the WAL is removed");
        let (_state, reopened) = StateStore::open(&path, &Store::default()).unwrap();
        assert_eq!(reopened, store, "the seed is used only for a new store");
    }

    #[test]
    fn a_json_state_file_is_converted_and_other_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        fs::write(
            &path,
            r#"{"instances": {"i": {"contacts": {"c": {"Name": "old"}}}}}"#,
        )
        .unwrap();
        let (state, store) = StateStore::open(&path, &Store::default()).unwrap();
        assert_eq!(store.contact("i", "c").unwrap()["Name"], "old");
        drop(state);
        assert_eq!(names(dir.path()), ["state.json"]);
        assert_eq!(
            file_kind(&path).map(|k| matches!(k, StoreKind::Sqlite)),
            Ok(true)
        );

        let junk = dir.path().join("junk");
        fs::write(&junk, "not a store").unwrap();
        let e = StateStore::open(&junk, &Store::default()).err().unwrap();
        assert!(e.contains("junk") && e.contains("neither an SQLite"), "{e}");
        let bad = dir.path().join("bad.json");
        fs::write(&bad, "{").unwrap();
        let e = StateStore::open(&bad, &Store::default()).err().unwrap();
        assert!(e.contains("not valid JSON"), "{e}");
        assert!(
            !names(dir.path())
                .iter()
                .any(|n| n.contains(MIGRATING_SUFFIX)),
            "no half-built store is left"
        );
    }

    #[test]
    fn errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("seed.json");
        assert!(load(&path, "seed").unwrap_err().starts_with("seed file "));
        fs::write(&path, "{").unwrap();
        assert!(load(&path, "seed")
            .unwrap_err()
            .contains("is not valid JSON"));
    }
}
