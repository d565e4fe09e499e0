//! Fork detection: a counter that goes up in the child of every `fork()`.
//!
//! After `fork()` only the forking thread exists in the child, yet the child holds copies of
//! everything else: the asynchronous workers' handles and queue ([`crate::ffi::pool`]) and the
//! pooled connections ([`crate::http::direct`]), whose sockets the parent goes on using. Code that
//! keeps such state notes [`generation`] when it makes it and throws it away (never joins,
//! never reads, never writes) when the generation has changed.
//!
//! The counter is moved by a `pthread_atfork` child handler that the C ABI installs once per
//! process, when its first client is created (src/ffi/client.rs: all `unsafe` is in src/ffi/);
//! so every C, C++ and Python client is covered. Reading it costs one relaxed atomic load.
#![forbid(unsafe_code)]

use std::sync::atomic::{AtomicU64, Ordering};

static GENERATION: AtomicU64 = AtomicU64::new(0);

/// How many forks separate this process from the one that loaded the library.
pub fn generation() -> u64 {
    GENERATION.load(Ordering::Relaxed)
}

/// Called in the child right after `fork()`; async-signal-safe (one atomic add).
pub fn forked() {
    GENERATION.fetch_add(1, Ordering::Relaxed);
}
