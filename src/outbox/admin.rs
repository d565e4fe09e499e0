//! [`OutboxAdmin`]: an outbox store opened to look at and steer, not to deliver — no delivery
//! thread, no client, the shared pacer neither read into a handle nor written. What the
//! `connect-contact outbox` commands use on a store another process may be delivering from.

use std::fmt;
use std::path::Path;
use std::time::Duration;

use super::deliver::request_json;
use super::store::Store;
use super::{open_store, DeadLetter, OutboxOptions, OutboxStats};
use crate::error::{Error, Status};

/// How long opening a PostgreSQL store may take.
const OPEN_TIMEOUT: Duration = Duration::from_secs(10);

/// An outbox store (a file, or a PostgreSQL URL and queue) opened without delivering: its
/// counters, its dead letters, and retrying or discarding them. Opening creates nothing — a
/// missing file is an error, and so is an empty one — and sends nothing; it leaves the
/// shared pacer as it is (an [`Outbox`](super::Outbox) opened with another rate or burst
/// resets it). Like any open, it frees leases held by this machine's processes that no
/// longer run. A file that is not an outbox is refused untouched (CONNECT_STATUS_STORAGE).
pub struct OutboxAdmin {
    store: Box<dyn Store>,
}

impl fmt::Debug for OutboxAdmin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OutboxAdmin")
            .field("store", &self.store.describe())
            .finish()
    }
}

impl OutboxAdmin {
    /// Opens the existing store `target` names (an outbox file's path, or a `postgres://` or
    /// `postgresql://` URL whose `queue` is used; an outbox file takes only `default`).
    pub fn open(target: impl AsRef<Path>, queue: &str) -> Result<OutboxAdmin, Error> {
        let target = target.as_ref();
        let options = OutboxOptions {
            queue: queue.to_string(),
            ..OutboxOptions::default()
        };
        options.check()?;
        let is_url = target
            .to_str()
            .is_some_and(|t| t.starts_with("postgres://") || t.starts_with("postgresql://"));
        if !is_url {
            let refuse = |reason: String| {
                Err(Error::Storage(format!(
                    "outbox file {}: {reason}",
                    target.display()
                )))
            };
            match std::fs::metadata(target) {
                Ok(meta) if meta.len() == 0 => {
                    return refuse("an empty file, not an outbox (nothing was written)".into())
                }
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    return refuse("no such file (nothing was created)".into())
                }
                Err(e) => return refuse(format!("cannot read it: {e}")),
            }
        }
        Ok(OutboxAdmin {
            store: open_store(target, &options, OPEN_TIMEOUT)?,
        })
    }

    /// The store's counters and send rate (0 when no outbox has ever paced it).
    pub fn stats(&self) -> OutboxStats {
        stats_of(&*self.store, 0.0)
    }

    /// The dead letters, oldest first.
    pub fn dead_letters(&self) -> Result<Vec<DeadLetter>, Error> {
        dead_letters_of(&*self.store)
    }

    /// Puts a dead letter back in line, as [`Outbox::retry_dead`](super::Outbox::retry_dead)
    /// does; an outbox open on the store delivers it. False when `id` is not a dead letter.
    pub fn retry_dead(&self, id: u64) -> Result<bool, Error> {
        self.store.retry_dead(id)
    }

    /// Deletes a dead letter. False when `id` is not a dead letter.
    pub fn discard_dead(&self, id: u64) -> Result<bool, Error> {
        self.store.discard_dead(id)
    }
}

/// `store`'s counters; `rate` when it has no pacer yet.
pub(super) fn stats_of(store: &dyn Store, rate: f64) -> OutboxStats {
    let s = store.stats();
    OutboxStats {
        pending: s.pending,
        oldest_pending_age: s.oldest_pending_age,
        delivered: s.delivered,
        dead: s.dead,
        attempts: s.attempts,
        throttled: s.throttled,
        send_rate: s.send_rate.unwrap_or(rate),
    }
}

/// `store`'s dead letters, oldest first.
pub(super) fn dead_letters_of(store: &dyn Store) -> Result<Vec<DeadLetter>, Error> {
    Ok(store
        .dead_letters()?
        .into_iter()
        .map(|r| DeadLetter {
            id: r.id as u64,
            request: request_json(&r.instance_id, &r.contact_id, &r.body),
            status: r
                .status
                .and_then(Status::from_code)
                .unwrap_or(Status::ServiceError),
            code: r.code.unwrap_or_default(),
            message: r.message.unwrap_or_default(),
            attempts: r.attempts as u64,
        })
        .collect())
}
