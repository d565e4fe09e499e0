//! A scripted HTTP/1.1 server on 127.0.0.1 for tests: records every request and answers
//! what the test's responder says. Deliberately tiny; the emulator is the real server.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::PathBuf;

#[path = "env.rs"]
mod env;
#[path = "outbox.rs"]
pub mod outbox;
pub mod postgres;
#[allow(unused_imports)]
pub use env::{cargo_command, clean_env, clean_home, command, toolchain_command, CLEAN_MARK};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// One request as it arrived.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: String,
    /// The request target exactly as sent (still percent-encoded).
    pub path: String,
    /// Header names lower-cased, in arrival order.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// What the server does with a request.
pub enum Reply {
    Respond {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    },
    /// Wait, then answer 200 (to trigger client timeouts).
    Stall(Duration),
    /// Close the connection without answering.
    Close,
}

impl Reply {
    pub fn ok(request_id: &str) -> Reply {
        Reply::Respond {
            status: 200,
            headers: vec![("x-amzn-RequestId".into(), request_id.into())],
            body: b"{}".to_vec(),
        }
    }

    pub fn error(status: u16, code: &str, message: &str, request_id: &str) -> Reply {
        Reply::Respond {
            status,
            headers: vec![
                ("x-amzn-ErrorType".into(), code.into()),
                ("x-amzn-RequestId".into(), request_id.into()),
            ],
            body: serde_json::json!({ "message": message })
                .to_string()
                .into_bytes(),
        }
    }
}

type Responder = dyn Fn(&Recorded, usize) -> Reply + Send + Sync;

pub struct TestServer {
    pub port: u16,
    /// The connections open now (by sequence number), shut down when the server is dropped.
    connections: Arc<Mutex<HashMap<usize, TcpStream>>>,
    recorded: Arc<Mutex<Vec<Recorded>>>,
    counter: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    accept_thread: Option<JoinHandle<()>>,
}

const MAX_CONNECTIONS: usize = 50_000;
const MAX_REQUESTS_PER_CONNECTION: usize = 10_000;
const MAX_BODY: usize = 8 * 1024 * 1024;

impl TestServer {
    /// Starts on an ephemeral port; `responder` gets each request and its sequence number.
    pub fn start(
        responder: impl Fn(&Recorded, usize) -> Reply + Send + Sync + 'static,
    ) -> TestServer {
        Self::start_with(true, responder)
    }

    /// For soak tests: requests are counted, not kept.
    pub fn start_unrecorded(
        responder: impl Fn(&Recorded, usize) -> Reply + Send + Sync + 'static,
    ) -> TestServer {
        Self::start_with(false, responder)
    }

    fn start_with(
        record: bool,
        responder: impl Fn(&Recorded, usize) -> Reply + Send + Sync + 'static,
    ) -> TestServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let port = listener.local_addr().unwrap().port();
        let recorded = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let responder: Arc<Responder> = Arc::new(responder);
        let counter = Arc::new(AtomicUsize::new(0));
        let connections: Arc<Mutex<HashMap<usize, TcpStream>>> = Arc::default();
        let (rec, stop2, counter2) = (recorded.clone(), stop.clone(), counter.clone());
        let open = connections.clone();
        let accept_thread = std::thread::spawn(move || {
            let counter = counter2;
            let mut workers: Vec<JoinHandle<()>> = Vec::new();
            for (id, stream) in listener.incoming().take(MAX_CONNECTIONS).enumerate() {
                workers.retain(|w| !w.is_finished());
                if stop2.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                if let Ok(clone) = stream.try_clone() {
                    open.lock().unwrap().insert(id, clone);
                }
                let open = open.clone();
                let (rec, responder, counter, stop) = (
                    rec.clone(),
                    responder.clone(),
                    counter.clone(),
                    stop2.clone(),
                );
                workers.push(std::thread::spawn(move || {
                    serve(
                        stream,
                        record.then_some(&*rec),
                        &*responder,
                        &counter,
                        &stop,
                    );
                    open.lock().unwrap().remove(&id);
                }));
            }
            for w in workers {
                let _ = w.join();
            }
        });
        TestServer {
            port,
            connections,
            recorded,
            counter,
            stop,
            accept_thread: Some(accept_thread),
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Requests served so far (recorded or not).
    pub fn count(&self) -> usize {
        self.counter.load(Ordering::SeqCst)
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.recorded.lock().unwrap().clone()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // End every connection (idle keep-alive ones wait in a read), and wake the accept loop
        // so it sees the flag.
        for (_, connection) in self.connections.lock().unwrap().drain() {
            let _ = connection.shutdown(Shutdown::Both);
        }
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(t) = self.accept_thread.take() {
            let _ = t.join();
        }
    }
}

fn serve(
    stream: TcpStream,
    recorded: Option<&Mutex<Vec<Recorded>>>,
    responder: &Responder,
    counter: &AtomicUsize,
    stop: &AtomicBool,
) {
    // Idle keep-alive connections stay open as long as the client keeps them (a server closing
    // them while a slow client, e.g. under valgrind, reuses one would fail calls at random);
    // dropping the server shuts them down. The timeout only bounds a client that vanished.
    let _ = stream.set_read_timeout(Some(Duration::from_secs(60)));
    let mut writer = match stream.try_clone() {
        Ok(w) => w,
        Err(_) => return,
    };
    let mut reader = BufReader::new(stream);
    for _ in 0..MAX_REQUESTS_PER_CONNECTION {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let Some(request) = read_request(&mut reader) else {
            return;
        };
        let n = counter.fetch_add(1, Ordering::SeqCst);
        if let Some(recorded) = recorded {
            recorded.lock().unwrap().push(request.clone());
        }
        match responder(&request, n) {
            Reply::Close => {
                let _ = writer.shutdown(Shutdown::Both);
                return;
            }
            Reply::Stall(d) => {
                std::thread::sleep(d);
                if write_response(&mut writer, 200, &[], b"{}").is_err() {
                    return;
                }
            }
            Reply::Respond {
                status,
                headers,
                body,
            } => {
                if write_response(&mut writer, status, &headers, &body).is_err() {
                    return;
                }
            }
        }
    }
}

/// Reads one HTTP/1.1 request (head and Content-Length body); None at EOF or on garbage.
pub fn read_request(reader: &mut impl BufRead) -> Option<Recorded> {
    let mut line = String::new();
    if reader.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_string();
    let path = parts.next()?.to_string();
    let mut headers = Vec::new();
    for _ in 0..200 {
        let mut h = String::new();
        reader.read_line(&mut h).ok()?;
        let h = h.trim_end_matches(['\r', '\n']);
        if h.is_empty() {
            break;
        }
        let (k, v) = h.split_once(':')?;
        headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
    }
    let len: usize = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    if len > MAX_BODY {
        return None;
    }
    let mut body = vec![0; len];
    reader.read_exact(&mut body).ok()?;
    Some(Recorded {
        method,
        path,
        headers,
        body,
    })
}

fn write_response(
    w: &mut TcpStream,
    status: u16,
    headers: &[(String, String)],
    body: &[u8],
) -> std::io::Result<()> {
    let mut out = format!(
        "HTTP/1.1 {status} Scripted\r\ncontent-length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str("\r\n");
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(body);
    w.write_all(&bytes)
}

/// target/<profile>/, where cargo puts the cdylib, found from the test executable
/// (target/<profile>/deps/<test>-<hash>).
pub fn target_profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    exe.parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>/deps layout")
        .to_path_buf()
}

/// The cdylib of this build. A test executable is target/<profile>/deps/<test>-<hash>;
/// `cargo test` builds the library (every crate-type) into that deps/ directory but copies it
/// up to target/<profile>/ only when the library itself is a build target, so deps/ comes
/// first and target/<profile>/ is the fallback.
pub fn cdylib_path() -> PathBuf {
    let deps = target_profile_dir().join("deps");
    let candidates = [
        deps.join("libconnect_contact.so"),
        target_profile_dir().join("libconnect_contact.so"),
    ];
    let lib = candidates
        .iter()
        .find(|p| p.is_file())
        .cloned()
        .unwrap_or_else(|| {
            panic!(
                "libconnect_contact.so not found at {} or {}: the cdylib was not built \
             (Cargo.toml's crate-type must include \"cdylib\"); run `cargo build`",
                candidates[0].display(),
                candidates[1].display()
            )
        });
    // Programs linked against the library find it by its soname: build.rs links that name to
    // the library beside it, here and in deps/.
    lib
}

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A scratch directory for compiled test programs.
pub fn scratch_dir(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A server whose every connection is handed to `handler` (with the connection's sequence
/// number) to misbehave as a test needs: stall, dribble, truncate, reset.
pub struct RawServer {
    pub port: u16,
    stop: Arc<AtomicBool>,
    accept_thread: Option<JoinHandle<()>>,
}

impl RawServer {
    pub fn start(handler: impl Fn(TcpStream, usize) + Send + Sync + 'static) -> RawServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = stop.clone();
        let handler = Arc::new(handler);
        let accept_thread = std::thread::spawn(move || {
            let mut workers: Vec<JoinHandle<()>> = Vec::new();
            for (n, stream) in listener.incoming().take(MAX_CONNECTIONS).enumerate() {
                if stop2.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
                let handler = handler.clone();
                workers.retain(|w| !w.is_finished());
                workers.push(std::thread::spawn(move || handler(stream, n)));
            }
            for w in workers {
                let _ = w.join();
            }
        });
        RawServer {
            port,
            stop,
            accept_thread: Some(accept_thread),
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for RawServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(t) = self.accept_thread.take() {
            let _ = t.join();
        }
    }
}

/// Writes a complete response with a body.
pub fn respond(
    stream: &mut TcpStream,
    status: u16,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<()> {
    let headers: Vec<(String, String)> = headers
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    write_response(stream, status, &headers, body)
}

/// Compiles `sources` with `compiler` and strict warnings (`-Wall -Wextra -Werror -pedantic`
/// plus `flags`, e.g. `-std=c11`) against include/ and the built shared library; returns
/// the program. Panics with the compiler's output on failure.
pub fn build_program(compiler: &str, flags: &[&str], sources: &[PathBuf], name: &str) -> PathBuf {
    let lib = cdylib_path();
    let lib_dir = lib.parent().unwrap();
    let out = scratch_dir(name).join(name);
    // Tests of one binary run in parallel and may build the same program: each compiles to
    // its own file and renames it into place, so none overwrites a program another runs.
    static BUILDS: AtomicUsize = AtomicUsize::new(0);
    let building = out.with_extension(format!(
        "build-{}-{}",
        std::process::id(),
        BUILDS.fetch_add(1, Ordering::SeqCst)
    ));
    let output = command(compiler)
        .args(["-Wall", "-Wextra", "-Werror", "-pedantic", "-g", "-O1"])
        .args(flags)
        .arg("-I")
        .arg(repo_root().join("include"))
        .args(sources)
        .arg("-o")
        .arg(&building)
        .arg(format!("-L{}", lib_dir.display()))
        .arg(format!("-Wl,-rpath,{}", lib_dir.display()))
        .args(["-lconnect_contact", "-lpthread"])
        .output()
        .expect("the compiler runs");
    assert!(
        output.status.success(),
        "{compiler} {flags:?} {name}:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    std::fs::rename(&building, &out).expect("the program can be moved into place");
    out
}

/// Runs `program args` (under `wrapper`, e.g. valgrind, when not empty) in the clean
/// environment ([`command`]) plus `env`; returns stdout and stderr together and whether it
/// exited with 0.
pub fn run_program(
    wrapper: &[&str],
    program: &std::path::Path,
    args: &[String],
    env: &[(&str, &str)],
) -> (String, bool) {
    let mut command = match wrapper.split_first() {
        Some((first, rest)) => {
            let mut c = self::command(first);
            c.args(rest).arg(program);
            c
        }
        None => self::command(program),
    };
    let output = command
        .args(args)
        .envs(env.iter().copied())
        .output()
        .expect("the program runs");
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    println!("{text}");
    (text, output.status.success())
}

/// valgrind with the options every C test uses: any error or definite leak fails the run.
pub const VALGRIND: &[&str] = &[
    "valgrind",
    "--error-exitcode=99",
    "--leak-check=full",
    "--errors-for-leak-kinds=definite",
    "--show-leak-kinds=definite",
];

/// Fails clearly when valgrind is missing, and checks what valgrind printed.
pub fn assert_valgrind_clean(output: &str) {
    assert!(
        output.contains("ERROR SUMMARY: 0 errors"),
        "valgrind reports no errors"
    );
    assert!(
        output.contains("definitely lost: 0 bytes")
            || output.contains("All heap blocks were freed"),
        "no definite leaks"
    );
}

pub fn require_valgrind() {
    let found = std::process::Command::new("valgrind")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        found,
        "valgrind is required for this test (apt-get install valgrind)"
    );
}

/// The numbers of the closing line "N passed, M failed" the test programs print.
pub fn closing_counts(output: &str) -> (u32, u32) {
    let line = output
        .lines()
        .rev()
        .find(|l| l.ends_with(" failed"))
        .expect("closing line N passed, M failed");
    let nums: Vec<u32> = line
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|s| s.parse().ok())
        .collect();
    (nums[0], nums[1])
}

/// A URL where nothing listens: bind an ephemeral port, then free it.
pub fn dead_url() -> String {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    format!("http://127.0.0.1:{port}")
}

/// The answers most tests script, by InstanceId (the second path segment):
/// "error-<Code>-<status>" -> that error with message "scripted message for <Code>";
/// "slow" -> stalls 2 s; anything else -> 200. Request ids are "req-<n>".
pub fn standard_reply(request: &Recorded, n: usize) -> Reply {
    let instance = request.path.split('/').nth(2).unwrap_or("");
    let request_id = format!("req-{n}");
    if let Some((code, status)) = instance
        .strip_prefix("error-")
        .and_then(|rest| rest.rsplit_once('-'))
    {
        return Reply::error(
            status.parse().unwrap_or(400),
            code,
            &format!("scripted message for {code}"),
            &request_id,
        );
    }
    match instance {
        "slow" => Reply::Stall(Duration::from_secs(2)),
        _ => Reply::ok(&request_id),
    }
}

/// The clean environment plus `vars` as a lookup for `ClientConfig::resolve_with`.
pub fn clean_lookup(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let mut all: std::collections::HashMap<String, String> = clean_env().into_iter().collect();
    all.extend(vars.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    move |name| all.get(name).cloned()
}

/// Settings from `config` and the clean environment plus `vars`, never the process's.
pub fn resolve(
    config: &connect_contact::ClientConfig,
    vars: &[(&str, &str)],
) -> Result<connect_contact::Settings, connect_contact::Error> {
    config.resolve_with(&clean_lookup(vars))
}

/// A client from `config` and the clean environment: what `Client::new` would build on a
/// machine with no AWS settings at all.
pub fn client(config: &connect_contact::ClientConfig) -> connect_contact::Client {
    connect_contact::Client::with_settings(resolve(config, &[]).expect("the config resolves"))
}

/// For tests that must go through `connect_client_new` in this process (which reads the
/// process environment, as the C ABI promises): runs the test `name` (its path as libtest
/// prints it) again in a child process of this test binary with the clean environment, and
/// returns true, having checked that the child ran exactly that test and it passed; the
/// caller then returns. In the child it returns false and the test runs.
pub fn in_clean_process(name: &str) -> bool {
    if std::env::var_os(CLEAN_MARK).is_some() {
        return false;
    }
    let exe = std::env::current_exe().expect("test executable path");
    let output = command(exe)
        .args([name, "--exact", "--nocapture", "--test-threads=1"])
        .output()
        .expect("the test binary runs again");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success() && text.contains("test result: ok. 1 passed"),
        "{name} in a clean child process:\n{text}"
    );
    true
}
