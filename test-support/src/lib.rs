//! What the tests of three crates (the library's `tests/it`, `emulator/tests`, `cli/tests`)
//! would otherwise each write: start the emulator binary (`connect-emulator`, or
//! `connect-contact emulator`) and read the address from its first line, a raw GET of its
//! admin API, and a child process run within a deadline (killed, and the test failed, when it
//! overruns; its output read while it runs, so a chatty child cannot fill a pipe and stall).
#![forbid(unsafe_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long an emulator may take to print where it listens.
pub const STARTUP: Duration = Duration::from_secs(30);

/// Spawns `command` (an emulator told to listen on `127.0.0.1:0`) with its stdout piped, and
/// returns it with the URL of its first line, `listening on http://HOST:PORT`. The child is
/// killed, and the test fails, when that line is something else or does not come within
/// [`STARTUP`]. Its stdout is not read after that line (start it `--quiet`).
pub fn spawn_emulator(command: &mut Command) -> (Child, String) {
    let mut child = command
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{command:?} does not start: {e}"));
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stdout);
        let mut line = String::new();
        let _ = reader.read_line(&mut line);
        let _ = tx.send(line);
        // Keep the pipe open (and drained) for as long as the emulator writes to it.
        let _ = std::io::copy(&mut reader, &mut std::io::sink());
    });
    let line = match rx.recv_timeout(STARTUP) {
        Ok(line) => line,
        Err(_) => {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{command:?} printed nothing within {STARTUP:?}");
        }
    };
    match line.trim().strip_prefix("listening on ") {
        Some(url) => (child, url.to_owned()),
        None => {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{command:?}: first line {line:?}, not \"listening on URL\"");
        }
    }
}

/// A raw `GET path` of the emulator at `endpoint` (`http://HOST:PORT`), unsigned as the admin
/// API (`/_emulator/...`) takes it: the status and the body.
pub fn admin_get(endpoint: &str, path: &str) -> (u16, String) {
    let address = endpoint.trim_start_matches("http://").trim_end_matches('/');
    let mut stream =
        TcpStream::connect(address).unwrap_or_else(|e| panic!("nothing listens at {address}: {e}"));
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let (head, body) = answer
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("GET {path}: not an HTTP response: {answer:?}"));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("GET {path}: no status in {head:?}"));
    (status, body.to_owned())
}

/// [`admin_get`]'s body as JSON, which must come with status 200.
pub fn admin_get_json(endpoint: &str, path: &str) -> serde_json::Value {
    let (status, body) = admin_get(endpoint, path);
    assert_eq!(status, 200, "GET {path}: {body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {path}: not JSON ({e}): {body}"))
}

/// Waits for `child` to exit, at most `limit`; when it overruns, kills it and fails naming
/// `what`.
pub fn wait_within(child: &mut Child, limit: Duration, what: &str) -> ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} did not finish in {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn drain(pipe: Option<impl Read + Send + 'static>) -> JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut out = Vec::new();
        if let Some(mut pipe) = pipe {
            let _ = pipe.read_to_end(&mut out);
        }
        out
    })
}

/// Runs `command` to its end with stdout and stderr captured, within `limit` ([`wait_within`]),
/// and returns what it printed. `command`'s stdin is left as set (e.g. `Stdio::null()`).
pub fn output_within(command: &mut Command, limit: Duration) -> Output {
    try_output_within(command, limit).unwrap_or_else(|e| panic!("{command:?} does not start: {e}"))
}

/// [`output_within`], with the error when the program cannot be started (to say how to
/// install it).
pub fn try_output_within(command: &mut Command, limit: Duration) -> std::io::Result<Output> {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let stdout = drain(child.stdout.take());
    let stderr = drain(child.stderr.take());
    let status = wait_within(&mut child, limit, &format!("{command:?}"));
    Ok(Output {
        status,
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn a_child_gets_its_output_and_an_overrun_is_killed() {
        // More than a pipe holds: read while it runs, or the child would never finish.
        let out = output_within(
            Command::new("sh").args(["-c", "head -c 200000 /dev/zero; echo done >&2"]),
            Duration::from_secs(20),
        );
        assert!(out.status.success());
        assert_eq!(out.stdout.len(), 200_000);
        assert_eq!(out.stderr, b"done\n");
        let overrun = std::panic::catch_unwind(|| {
            output_within(Command::new("sleep").arg("30"), Duration::from_millis(200))
        });
        let message = *overrun.unwrap_err().downcast::<String>().unwrap();
        assert!(message.contains("did not finish in 200ms"), "{message}");
    }

    #[test]
    fn the_address_comes_from_the_first_line_and_anything_else_fails() {
        let (mut child, url) = spawn_emulator(Command::new("sh").args([
            "-c",
            "echo 'listening on http://127.0.0.1:9'; exec sleep 30",
        ]));
        assert_eq!(url, "http://127.0.0.1:9");
        let _ = child.kill();
        let _ = child.wait();
        let wrong = std::panic::catch_unwind(|| {
            spawn_emulator(Command::new("sh").args(["-c", "echo 'error: port taken'"]))
        });
        let message = *wrong.unwrap_err().downcast::<String>().unwrap();
        assert!(
            message.contains("first line \"error: port taken\\n\""),
            "{message}"
        );
    }

    #[test]
    fn a_raw_get_reads_status_and_body() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let server = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") && s.read(&mut byte).unwrap() == 1 {
                head.push(byte[0]);
            }
            s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n{\"ok\":true}")
                .unwrap();
            String::from_utf8(head).unwrap()
        });
        assert_eq!(admin_get_json(&endpoint, "/_emulator/contacts")["ok"], true);
        let request = server.join().unwrap();
        assert!(
            request.starts_with("GET /_emulator/contacts HTTP/1.1\r\n"),
            "{request}"
        );
    }
}
