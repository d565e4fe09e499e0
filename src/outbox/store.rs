//! The seam between delivery and where updates are kept. Delivery ([`super::deliver`]) and
//! pacing ([`super::pacer`]) speak only to these traits; a store (today [`super::sqlite`])
//! holds the updates, the per-contact heads and leases, the shared pacer state and the
//! counters, and makes each [`Tx`] one atomic step that other processes see whole or not at
//! all. What a store must promise is written on each method; docs/outbox.md says what users
//! are promised.

use super::pacer::PacerState;
use crate::error::Error;

/// A pending update, as a claim reads it.
#[derive(Clone, Debug)]
pub(crate) struct PendingRow {
    pub(crate) id: i64,
    pub(crate) instance_id: String,
    pub(crate) contact_id: String,
    /// The request body as enqueued (JSON, without the ids).
    pub(crate) body: String,
    pub(crate) enqueued_ms: i64,
    pub(crate) attempts: i64,
    /// Sent alone, never coalesced (a merged call that carried it failed for good).
    pub(crate) solo: bool,
}

/// A dead letter as stored.
#[derive(Clone, Debug)]
pub(crate) struct DeadRow {
    pub(crate) id: i64,
    pub(crate) instance_id: String,
    pub(crate) contact_id: String,
    pub(crate) body: String,
    pub(crate) status: Option<i32>,
    pub(crate) code: Option<String>,
    pub(crate) message: Option<String>,
    pub(crate) attempts: i64,
}

/// What a store counts, and what it holds now.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct StoredStats {
    pub(crate) pending: u64,
    pub(crate) oldest_enqueued_ms: Option<i64>,
    pub(crate) dead: u64,
    pub(crate) delivered: u64,
    pub(crate) attempts: u64,
    pub(crate) throttled: u64,
    /// The shared pacer's rate, when the store has one yet.
    pub(crate) send_rate: Option<f64>,
}

/// The counters a store keeps for every process on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Counter {
    /// Calls made (one call may carry several coalesced updates).
    Attempts,
    /// Calls the service throttled.
    Throttled,
    /// Updates the service accepted.
    Delivered,
}

impl Counter {
    /// The counter's name in the store.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Counter::Attempts => "attempts",
            Counter::Throttled => "throttled",
            Counter::Delivered => "delivered",
        }
    }
}

/// A place where an outbox keeps its updates. Every method that changes something has made
/// it durable when it returns `Ok` (an acknowledged enqueue survives a crash of the process
/// and, where the store promises it, of the machine). Errors are
/// [`Error::Storage`](crate::error::Error) naming the store ([`Store::describe`]) and its
/// reason, never a secret.
pub(crate) trait Store: Send + Sync {
    /// How messages name this store, e.g. `outbox file /var/lib/app/outbox.db`.
    fn describe(&self) -> &str;

    /// Stores one pending update of `contact` (the key of its instance and contact ids) and
    /// returns its id: ids grow with each enqueue, and a contact's updates are delivered in
    /// id order.
    fn enqueue(
        &self,
        contact: &str,
        instance_id: &str,
        contact_id: &str,
        body: &str,
    ) -> Result<u64, Error>;

    /// The highest id given so far (0: none).
    fn last_id(&self) -> Result<i64, Error>;

    /// Whether any update with an id at or below `id` is still pending.
    fn pending_up_to(&self, id: i64) -> Result<bool, Error>;

    /// Counts and counters, as far as they can be read now (zeros where they cannot).
    fn stats(&self) -> StoredStats;

    /// The dead letters, oldest first.
    fn dead_letters(&self) -> Result<Vec<DeadRow>, Error>;

    /// Makes dead letter `id` pending again, due now, its attempts reset and its age counted
    /// from `now_ms`; false when `id` is not a dead letter.
    fn retry_dead(&self, id: u64, now_ms: i64) -> Result<bool, Error>;

    /// Deletes dead letter `id`; false when it is not one.
    fn discard_dead(&self, id: u64) -> Result<bool, Error>;

    /// Runs `step` in one transaction of the store's own connection (opening, setting up).
    fn transact(&self, step: &mut dyn FnMut(&mut dyn Tx) -> Result<(), Error>)
        -> Result<(), Error>;

    /// The durability settings an enqueue commits with, as the engine reports them (for the
    /// project's tests: `unstable::outbox_enqueue_durability`).
    fn durability(&self) -> Result<(String, i64), Error>;

    /// A connection of its own for one delivery thread.
    fn worker(&self) -> Result<Box<dyn Worker>, Error>;
}

/// A delivery thread's connection to the store.
pub(crate) trait Worker: Send {
    /// Starts one atomic step. Two steps of different workers on one contact or on the pacer
    /// never interleave: a store serializes them (a write lock, or row locks).
    fn begin(&mut self) -> Result<Box<dyn Tx + '_>, Error>;

    /// When the shared pacer last cut its rate (microseconds since the epoch), read outside
    /// any step.
    fn cut_us(&mut self) -> Option<i64>;

    /// Frees `contact`'s lease when claim `token` holds it, outside any step.
    fn release(&mut self, contact: &str, token: &str) -> Result<bool, Error>;
}

/// One atomic step: nothing of it is seen by others until [`Tx::commit`], and all of it is
/// dropped when the step is dropped without one.
pub(crate) trait Tx {
    /// The contact whose head is due first at `now_ms` and whose lease (if any) has run out;
    /// ties go to the oldest head. A store finds it without reading the backlog.
    fn ready_head(&mut self, now_ms: i64) -> Result<Option<String>, Error>;

    /// The first time anything becomes due (a retry time, an enqueue, a lease running out).
    fn first_due(&mut self) -> Result<Option<i64>, Error>;

    /// Up to `limit` of `contact`'s pending updates, in id order.
    fn run_of(&mut self, contact: &str, limit: usize) -> Result<Vec<PendingRow>, Error>;

    /// Forgets `contact`'s head (found without pending updates).
    fn drop_head(&mut self, contact: &str) -> Result<(), Error>;

    fn load_pacer(&mut self) -> Result<Option<PacerState>, Error>;
    fn store_pacer(&mut self, state: &PacerState) -> Result<(), Error>;

    /// Leases `contact` to claim `token` until `until_ms`: taking it (`take`, the claim is
    /// new) or extending it (only while `token` still holds it).
    fn lease(&mut self, contact: &str, token: &str, until_ms: i64, take: bool)
        -> Result<(), Error>;

    /// Frees `contact`'s lease when `token` holds it; true when it did.
    fn release(&mut self, contact: &str, token: &str) -> Result<bool, Error>;

    /// Deletes pending update `id` (delivered); true when it was pending.
    fn delete_pending(&mut self, id: i64) -> Result<bool, Error>;

    /// Pending update `id` failed and is tried again at `next_ms`: one more attempt, and
    /// `error` kept as its last.
    fn reschedule(&mut self, id: i64, next_ms: i64, error: &Error) -> Result<(), Error>;

    /// Pending update `id` is sent alone from now on.
    fn set_solo(&mut self, id: i64) -> Result<(), Error>;

    /// Makes pending update `id` a dead letter with `error`; true when it was pending.
    fn bury(&mut self, id: i64, error: &Error) -> Result<bool, Error>;

    fn bump(&mut self, counter: Counter, by: i64) -> Result<(), Error>;

    fn commit(self: Box<Self>) -> Result<(), Error>;
}
