//! `credential_process`: a helper program prints a JSON credential document (version 1).
#![forbid(unsafe_code)]

use std::io::Read;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{from_json_document, Credentials, ProvideCredentials};
use crate::error::Error;

/// How long a helper may run; it may prompt for MFA or open a browser, so this is generous.
pub const PROCESS_TIMEOUT: Duration = Duration::from_secs(60);
/// Largest output read from a helper.
const MAX_OUTPUT: u64 = 64 * 1024;

/// Runs `command` through the shell, as the AWS CLI does. Its stderr goes to ours, so the
/// helper's own diagnostics reach the user; its stdout (the secret) never reaches a message.
#[derive(Debug)]
pub struct CredentialProcess {
    command: String,
    /// "profile \"dev\"", for messages.
    source: String,
    timeout: Duration,
}

impl CredentialProcess {
    pub fn new(command: &str, source: &str, timeout: Duration) -> Self {
        CredentialProcess {
            command: command.to_owned(),
            source: format!("credential_process of {source}"),
            timeout,
        }
    }

    fn run(&self) -> Result<Vec<u8>, Error> {
        let fail = |why: String| Error::CredentialsProvider(format!("{}: {why}", self.source));
        let (shell, flag) = if cfg!(windows) {
            ("cmd", "/C")
        } else {
            ("sh", "-c")
        };
        let mut child = Command::new(shell)
            .arg(flag)
            .arg(&self.command)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| fail(format!("cannot start: {e}")))?;
        let mut stdout = child.stdout.take().expect("stdout is piped");
        // Read on another thread so a chatty helper cannot fill the pipe and stall while we
        // wait for it to exit.
        let reader = std::thread::spawn(move || {
            let mut out = Vec::new();
            let read = (&mut stdout).take(MAX_OUTPUT + 1).read_to_end(&mut out);
            read.map(|_| out)
        });
        let deadline = Instant::now() + self.timeout;
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(10))
                }
                Ok(None) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(fail(format!(
                        "did not finish within {} s and was stopped",
                        self.timeout.as_secs_f32()
                    )));
                }
                Err(e) => return Err(fail(format!("cannot be waited for: {e}"))),
            }
        };
        let out = match reader.join() {
            Ok(Ok(out)) => out,
            _ => return Err(fail("its output could not be read".into())),
        };
        // Checked first: a helper cut off by the size limit may die of SIGPIPE.
        if out.len() as u64 > MAX_OUTPUT {
            return Err(fail(format!("printed more than {MAX_OUTPUT} bytes")));
        }
        if !status.success() {
            return Err(fail(format!(
                "exited with {status} (see its standard error)"
            )));
        }
        Ok(out)
    }
}

impl ProvideCredentials for CredentialProcess {
    fn name(&self) -> String {
        self.source.clone()
    }

    fn provide(&self) -> Result<Arc<Credentials>, Error> {
        let out = self.run()?;
        let version = serde_json::from_slice::<serde_json::Value>(&out)
            .ok()
            .and_then(|v| v.get("Version").and_then(|v| v.as_u64()));
        if version != Some(1) {
            return Err(Error::CredentialsProvider(format!(
                "{}: the output is not a JSON object with \"Version\": 1",
                self.source
            )));
        }
        Ok(Arc::new(from_json_document(&out, &self.source)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(command: &str, timeout: Duration) -> Result<Arc<Credentials>, Error> {
        CredentialProcess::new(command, "profile \"p\"", timeout).provide()
    }

    #[test]
    fn reads_version_1_documents() {
        let c = run(
            r#"echo '{"Version": 1, "AccessKeyId": "AKID", "SecretAccessKey": "S", "SessionToken": "T", "Expiration": "2030-01-01T00:00:00Z"}'"#,
            PROCESS_TIMEOUT,
        )
        .unwrap();
        assert_eq!((c.access_key_id(), c.session_token()), ("AKID", Some("T")));
        assert!(c.expiry().is_some());
        let c = run(
            r#"printf '{"Version":1,"AccessKeyId":"A","SecretAccessKey":"S"}'"#,
            PROCESS_TIMEOUT,
        )
        .unwrap();
        assert_eq!(c.expiry(), None);
    }

    #[test]
    fn failures_are_provider_errors_without_the_output() {
        for (command, why) in [
            ("echo CANARY-SECRET", "\"Version\": 1"),
            (
                r#"echo '{"Version":2,"AccessKeyId":"A","SecretAccessKey":"CANARY"}'"#,
                "\"Version\": 1",
            ),
            (
                r#"echo '{"Version":1,"SecretAccessKey":"CANARY"}'"#,
                "AccessKeyId",
            ),
            ("echo CANARY >&2; exit 3", "exited with"),
            ("/nonexistent/helper", "exited with"),
            ("head -c 70000 /dev/zero", "more than"),
        ] {
            let e = run(command, PROCESS_TIMEOUT).unwrap_err();
            assert!(matches!(e, Error::CredentialsProvider(_)), "{e:?}");
            let m = e.to_string();
            assert!(m.contains(why) && !m.contains("CANARY"), "{command}: {m}");
            assert!(m.starts_with("credential_process of profile \"p\""), "{m}");
        }
    }

    #[test]
    fn a_hanging_helper_is_stopped() {
        let start = Instant::now();
        let e = run("sleep 30", Duration::from_millis(300)).unwrap_err();
        assert!(e.to_string().contains("did not finish"), "{e}");
        assert!(start.elapsed() < Duration::from_secs(5));
    }
}
