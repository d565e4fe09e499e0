//! Diagnostic logging: one line per attempt, to a sink the application installs (the C ABI's
//! `connect_set_log_callback`) or, without one, to stderr when `CONNECT_CONTACT_LOG` names a
//! level. Off by default; a disabled level costs one atomic load.
//!
//! Lines never contain the secret key, the session token, the Authorization header, or the
//! Name and Description of a request: callers format only IDs, statuses, codes and timings.
#![forbid(unsafe_code)]

use std::fmt;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, RwLock};

use once_cell::sync::Lazy;

/// Severity of a log line; larger is more verbose.
#[repr(i32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    /// A call failed.
    Error = 1,
    /// A call needed retries or a correction (clock skew).
    Warn = 2,
    /// One line per call.
    Info = 3,
    /// One line per attempt, with the retry decision.
    Debug = 4,
}

impl LogLevel {
    /// The level with this number (the C ABI's `connect_log_level`).
    pub fn from_code(code: i32) -> Option<LogLevel> {
        [
            LogLevel::Error,
            LogLevel::Warn,
            LogLevel::Info,
            LogLevel::Debug,
        ]
        .into_iter()
        .find(|l| *l as i32 == code)
    }

    fn parse(name: &str) -> Option<LogLevel> {
        match name.trim().to_ascii_lowercase().as_str() {
            "error" => Some(LogLevel::Error),
            "warn" | "warning" => Some(LogLevel::Warn),
            "info" => Some(LogLevel::Info),
            "debug" | "trace" => Some(LogLevel::Debug),
            _ => None,
        }
    }

    /// `ERROR`, `WARN`, `INFO` or `DEBUG`.
    pub fn name(self) -> &'static str {
        match self {
            LogLevel::Error => "ERROR",
            LogLevel::Warn => "WARN",
            LogLevel::Info => "INFO",
            LogLevel::Debug => "DEBUG",
        }
    }
}

/// Receives log lines; called from whichever thread makes the call.
pub trait LogSink: Send + Sync {
    /// One line, without a trailing newline; never holds a secret or a sensitive value.
    fn log(&self, level: LogLevel, message: &str);
}

struct Stderr;

impl LogSink for Stderr {
    fn log(&self, level: LogLevel, message: &str) {
        eprintln!("connect-contact {}: {message}", level.name());
    }
}

/// 0 = off.
static MIN_LEVEL: AtomicI32 = AtomicI32::new(0);
static SINK: Lazy<RwLock<Option<Arc<dyn LogSink>>>> = Lazy::new(|| {
    let from_env = std::env::var("CONNECT_CONTACT_LOG")
        .ok()
        .and_then(|v| LogLevel::parse(&v));
    match from_env {
        Some(level) => {
            MIN_LEVEL.store(level as i32, Ordering::Relaxed);
            RwLock::new(Some(Arc::new(Stderr) as Arc<dyn LogSink>))
        }
        None => RwLock::new(None),
    }
});

/// Installs `sink` for lines at `min_level` and more severe; `None` goes back to the
/// `CONNECT_CONTACT_LOG` default (stderr, or off). Waits for lines being written to the old
/// sink, so once this returns the old sink is never called again.
pub fn set_sink(min_level: LogLevel, sink: Option<Arc<dyn LogSink>>) {
    let mut slot = SINK.write().unwrap_or_else(|p| p.into_inner());
    match sink {
        Some(sink) => {
            *slot = Some(sink);
            MIN_LEVEL.store(min_level as i32, Ordering::Relaxed);
        }
        None => {
            let level = std::env::var("CONNECT_CONTACT_LOG")
                .ok()
                .and_then(|v| LogLevel::parse(&v));
            *slot = level.map(|_| Arc::new(Stderr) as Arc<dyn LogSink>);
            MIN_LEVEL.store(level.map_or(0, |l| l as i32), Ordering::Relaxed);
        }
    }
}

/// True when a line at `level` would be written.
pub fn enabled(level: LogLevel) -> bool {
    Lazy::force(&SINK);
    (level as i32) <= MIN_LEVEL.load(Ordering::Relaxed)
}

/// Writes a line if `level` is enabled; format with `format_args!` so nothing is formatted
/// when it is not.
pub fn emit(level: LogLevel, message: fmt::Arguments<'_>) {
    if !enabled(level) {
        return;
    }
    let sink = SINK.read().unwrap_or_else(|p| p.into_inner());
    if let Some(sink) = sink.as_ref() {
        sink.log(level, &message.to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    struct Collect(Mutex<Vec<String>>);

    impl LogSink for Collect {
        fn log(&self, level: LogLevel, message: &str) {
            self.0
                .lock()
                .unwrap()
                .push(format!("{} {message}", level.name()));
        }
    }

    #[test]
    fn levels_filter_and_the_sink_can_be_replaced() {
        let sink = Arc::new(Collect(Mutex::new(Vec::new())));
        set_sink(LogLevel::Info, Some(sink.clone()));
        emit(LogLevel::Debug, format_args!("hidden unit-test line"));
        emit(LogLevel::Warn, format_args!("shown unit-test line"));
        set_sink(LogLevel::Debug, None);
        emit(
            LogLevel::Error,
            format_args!("after removal unit-test line"),
        );
        let lines: Vec<String> = sink
            .0
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l.contains("unit-test line"))
            .cloned()
            .collect();
        assert_eq!(lines, vec!["WARN shown unit-test line"]);
        assert_eq!(LogLevel::parse("DEBUG"), Some(LogLevel::Debug));
        assert_eq!(LogLevel::from_code(2), Some(LogLevel::Warn));
        assert_eq!(LogLevel::from_code(9), None);
    }
}
