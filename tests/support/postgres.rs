//! A PostgreSQL server of the tests' own: `initdb` into a temporary folder, listening on
//! 127.0.0.1 at a free port, with a password (SCRAM). PostgreSQL refuses to run as root, so as
//! root it runs as the `postgres` user the Debian package creates (through `runuser`).
//!
//! The server runs under a small guard shell whose stdin is held by this process: a line
//! `crash` stops the server at once (SIGQUIT, as `pg_ctl stop -m immediate`: no checkpoint,
//! crash recovery at the next start), `start` starts it again, and when this process exits —
//! however it exits — the pipe closes and the guard stops the server and removes its folder.
//! No test uses a server it did not start.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The password of the tests' database user: tests check it never shows up anywhere.
pub const PASSWORD: &str = "pg-secret-4b1d9e";
pub const USER: &str = "connect";

/// The guard: `$1` the bin folder, `$2` the data folder, `$3` the port, `$4` the folder to
/// remove at the end, `$5` `tls` for a server that takes TLS connections only, `$6` `durable`
/// for fsync on (the tests run with fsync off: a crash they cause is the server's, not the
/// machine's, so what was written survives it either way).
const GUARD: &str = r#"
bin="$1"; data="$2"; port="$3"; root="$4"
tls=""
[ "$5" = tls ] && tls="-c ssl=on -c ssl_cert_file=$root/server.pem -c ssl_key_file=$root/server.key"
fsync=off
[ "$6" = durable ] && fsync=on
start() {
  "$bin/postgres" -D "$data" -p "$port" -c listen_addresses=127.0.0.1 \
    -c unix_socket_directories="$data" -c fsync=$fsync -c max_connections=300 \
    -c shared_buffers=32MB -c log_min_messages=fatal $tls >"$root/server.log" 2>&1 &
  pid=$!
}
start
echo started
while read -r cmd; do
  case "$cmd" in
    crash) kill -QUIT "$pid"; wait "$pid" ;;
    start) start ;;
  esac
  echo "$cmd"
done
kill -QUIT "$pid" 2>/dev/null; wait "$pid"
rm -rf "$root"
"#;

pub struct Postgres {
    root: PathBuf,
    bin: PathBuf,
    port: u16,
    guard: Mutex<(Child, Option<ChildStdin>, BufReader<ChildStdout>)>,
}

/// The folder of PostgreSQL's programs: the newest under /usr/lib/postgresql (Debian), else
/// where `pg_config` says, else the folder of `postgres` on PATH.
fn bin_dir() -> PathBuf {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("postgres").is_file().then_some((v, bin))
        })
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return bin;
    }
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output() {
        let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if dir.join("postgres").is_file() {
            return dir;
        }
    }
    panic!(
        "PostgreSQL is missing (no /usr/lib/postgresql/*/bin/postgres, no pg_config): \
         run scripts/setup test, which installs it with apt-get (package postgresql)"
    );
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// `program` run as the server's user: `postgres` through runuser when this is root.
fn as_server_user(program: &Path) -> Command {
    if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    }
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

impl Postgres {
    /// A new server (about a second: initdb and start).
    pub fn start() -> Postgres {
        Postgres::start_with(false, false)
    }

    /// A new server that syncs its WAL to disk at each commit, as a production server does
    /// (for benchmarks of what a commit costs).
    pub fn start_durable() -> Postgres {
        Postgres::start_with(false, true)
    }

    /// A new server that takes TLS connections only (`hostssl`), with the tests' certificate
    /// for localhost and 127.0.0.1 (tests/data/tls/server.pem, signed by tests/data/tls/ca.pem).
    pub fn start_tls() -> Postgres {
        Postgres::start_with(true, false)
    }

    fn start_with(tls: bool, durable: bool) -> Postgres {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let bin = bin_dir();
        let root = std::env::temp_dir().join(format!(
            "connect-pg-{}-{}",
            std::process::id(),
            N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root).unwrap();
        let pwfile = root.join("pw");
        std::fs::write(&pwfile, PASSWORD).unwrap();
        let mut owned = vec![pwfile.clone()];
        if tls {
            let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/tls");
            for file in ["server.pem", "server.key"] {
                std::fs::copy(data.join(file), root.join(file)).unwrap();
                owned.push(root.join(file));
            }
            // PostgreSQL refuses a key others may read.
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(
                root.join("server.key"),
                std::fs::Permissions::from_mode(0o600),
            )
            .unwrap();
        }
        if is_root() {
            let id = |flag: &str| -> u32 {
                let out = Command::new("id")
                    .args([flag, "postgres"])
                    .output()
                    .unwrap();
                String::from_utf8_lossy(&out.stdout)
                    .trim()
                    .parse()
                    .expect("the postgres user (made by the Debian package postgresql)")
            };
            let (uid, gid) = (id("-u"), id("-g"));
            std::os::unix::fs::chown(&root, Some(uid), Some(gid)).unwrap();
            for file in &owned {
                std::os::unix::fs::chown(file, Some(uid), Some(gid)).unwrap();
            }
        }
        let data = root.join("data");
        let out = as_server_user(&bin.join("initdb"))
            .arg("-D")
            .arg(&data)
            .args([
                "-U",
                USER,
                "--auth=scram-sha-256",
                "-E",
                "UTF8",
                "--no-sync",
            ])
            .arg(format!("--pwfile={}", pwfile.display()))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "initdb failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        if tls {
            // TLS or nothing, over TCP (initdb's file also lets plain TCP in).
            let hba = "local all all scram-sha-256\nhostssl all all 127.0.0.1/32 scram-sha-256\n";
            let path = data.join("pg_hba.conf");
            let out = as_server_user(Path::new("/bin/sh"))
                .args(["-c", "printf '%s' \"$1\" > \"$2\"", "write", hba])
                .arg(&path)
                .status()
                .unwrap();
            assert!(out.success(), "cannot write {}", path.display());
        }
        let port = free_port();
        let mut child = as_server_user(Path::new("/bin/sh"))
            .args(["-c", GUARD, "guard"])
            .arg(&bin)
            .arg(&data)
            .arg(port.to_string())
            .arg(&root)
            .arg(if tls { "tls" } else { "plain" })
            .arg(if durable { "durable" } else { "fast" })
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        let pg = Postgres {
            root,
            bin,
            port,
            guard: Mutex::new((child, Some(stdin), stdout)),
        };
        pg.wait_ready();
        pg
    }

    /// One server for every test of this process (each takes a database of its own).
    pub fn shared() -> &'static Postgres {
        static SHARED: OnceLock<Postgres> = OnceLock::new();
        SHARED.get_or_init(Postgres::start)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Polls `pg_isready` until the server takes connections (at most 30 s).
    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let ready = Command::new(self.bin.join("pg_isready"))
                .args(["-q", "-h", "127.0.0.1", "-p", &self.port.to_string()])
                .status()
                .is_ok_and(|s| s.success());
            if ready {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "PostgreSQL did not start in 30 s: {}",
                std::fs::read_to_string(self.root.join("server.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn command(&self, cmd: &str) {
        let mut guard = self.guard.lock().unwrap();
        let (_, stdin, stdout) = &mut *guard;
        let stdin = stdin.as_mut().unwrap();
        writeln!(stdin, "{cmd}").unwrap();
        stdin.flush().unwrap();
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        assert_eq!(line.trim(), cmd, "the guard answered {line:?}");
    }

    /// Stops the server at once, as a crash does (returns when it is down).
    pub fn crash(&self) {
        self.command("crash");
    }

    /// Starts it again after [`Postgres::crash`] (returns when it takes connections).
    pub fn resume(&self) {
        self.command("start");
        self.wait_ready();
    }

    /// The URL of database `db`, with the password, TLS off.
    pub fn url_of(&self, db: &str) -> String {
        format!(
            "postgresql://{USER}:{PASSWORD}@127.0.0.1:{}/{db}?sslmode=disable",
            self.port
        )
    }

    /// Runs `sql` in `db` with psql; its output, unaligned.
    pub fn psql(&self, db: &str, sql: &str) -> String {
        let out = Command::new(self.bin.join("psql"))
            .args([
                "-X",
                "-q",
                "-At",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                "127.0.0.1",
            ])
            .args([
                "-p",
                &self.port.to_string(),
                "-U",
                USER,
                "-d",
                db,
                "-c",
                sql,
            ])
            .env("PGPASSWORD", PASSWORD)
            .env("PGCONNECT_TIMEOUT", "10")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "psql {sql:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// A new, empty database named after `name` (and this process); its URL.
    pub fn database(&self, name: &str) -> String {
        let db: String = format!("t_{name}_{}", std::process::id())
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '_'
                }
            })
            .collect();
        self.psql("postgres", &format!("DROP DATABASE IF EXISTS {db}"));
        self.psql("postgres", &format!("CREATE DATABASE {db}"));
        self.url_of(&db)
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let guard = self.guard.get_mut().unwrap();
        // Closing the guard's stdin stops the server and removes its folder.
        let (child, stdin, _) = guard;
        drop(stdin.take());
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
    }
}
