//! Delivery: the threads that claim a contact's run of pending updates (leasing it, merging
//! what can go in one call, booking the pacer's token), send it and record what happened —
//! all through the [`Store`] traits, so any store delivers the same way.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{json, Map, Value};

use super::options::OutboxOptions;
use super::pacer::{wait_secs, PacerState};
use super::store::{Counter, Store, Tx, Worker};
use super::{lock, OutboxEvent, MERGED_MEMBERS};
use crate::client::Client;
use crate::error::Error;
use crate::log::{emit, LogLevel};
use crate::model::UpdateContactRequest;
use crate::retry::{random_unit, retry_later, FailureKind};

pub(super) fn now_us() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}

pub(super) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// The key of a contact's updates in a store.
pub(super) fn contact_key(instance_id: &str, contact_id: &str) -> String {
    format!("{instance_id}\u{1f}{contact_id}")
}

/// A stored update as `--cli-input-json` takes it: the body with the ids put back.
pub(super) fn request_json(instance_id: &str, contact_id: &str, body: &str) -> String {
    let mut map = match serde_json::from_str::<Value>(body) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    };
    map.insert("InstanceId".into(), json!(instance_id));
    map.insert("ContactId".into(), json!(contact_id));
    Value::Object(map).to_string()
}

/// Merges update `next` into `into`, giving the body one call sends for both in order: the
/// members the service merges by key (References, SegmentAttributes) are merged by key with
/// `next` winning; every other member of `next` replaces `into`'s.
pub(crate) fn coalesce(into: &mut Map<String, Value>, next: &Map<String, Value>) {
    for (name, value) in next {
        match (into.get_mut(name), value) {
            (Some(Value::Object(existing)), Value::Object(entries))
                if MERGED_MEMBERS.contains(&name.as_str()) =>
            {
                for (k, v) in entries {
                    existing.insert(k.clone(), v.clone());
                }
            }
            _ => {
                into.insert(name.clone(), value.clone());
            }
        }
    }
}

/// An idle delivery thread looks at the store at least this often: another process's
/// enqueue does not wake it (this process's does, at once).
pub(super) const IDLE_MAX: Duration = Duration::from_secs(1);

/// How long an idle thread sleeps: until the first due time, at most [`IDLE_MAX`].
pub(super) fn idle_wait(due_ms: Option<i64>, now_ms: i64) -> Duration {
    match due_ms {
        Some(due) => {
            Duration::from_millis((due - now_ms).clamp(1, IDLE_MAX.as_millis() as i64) as u64)
        }
        None => IDLE_MAX,
    }
}

/// What an outbox's handle and its delivery threads share.
pub(super) struct Delivery {
    pub(super) store: Box<dyn Store>,
    /// This process's lease owner prefix (`pid-start_ms-random`).
    pub(super) owner: String,
    /// Sends: the user's client with one attempt per call (the outbox retries).
    pub(super) client: Client,
    /// Validates as the user's client does.
    pub(super) checker: Arc<Client>,
    pub(super) options: OutboxOptions,
    /// The pacer shared through the store.
    pub(super) pacer: Pacer,
    pub(super) stop: AtomicBool,
    pub(super) wake: (Mutex<u64>, Condvar),
}

/// The shared pacer: [`PacerState`] in the store, read and written inside the delivery
/// threads' short transactions (a token is booked in the one that leases the work, a
/// throttle recorded in the one that records the call). Those transactions need not reach
/// the disk at once: a power cut may lose the pacer's last changes, which only means pacing
/// from slightly older state.
pub(super) struct Pacer {
    start_rate: f64,
    burst: u32,
    /// Set when this process cut the rate for an outage: its next delivery tells the store's
    /// pacer the service is back (other deliveries touch no pacer state).
    pub(super) unavailable: AtomicBool,
    /// The rate last seen, for the throttled update's hold-back.
    rate: Mutex<f64>,
}

impl Pacer {
    /// Makes the store's pacer state with this rate and burst, or resets it to them when it
    /// holds another configuration; a state of the same configuration is kept as it is.
    pub(super) fn open(tx: &mut dyn Tx, rate: f64, burst: u32) -> Result<Pacer, Error> {
        let fresh = PacerState::new(rate, burst, now_us());
        let (state, write) = PacerState::adopt(tx.load_pacer()?, fresh);
        if write {
            tx.store_pacer(&state)?;
        }
        Ok(Pacer {
            start_rate: rate,
            burst,
            unavailable: AtomicBool::new(false),
            rate: Mutex::new(state.rate),
        })
    }

    /// Applies `f` to the stored state inside `tx` and writes it back.
    pub(super) fn update<T>(
        &self,
        tx: &mut dyn Tx,
        f: impl FnOnce(&mut PacerState) -> T,
    ) -> Result<T, Error> {
        let mut state = tx
            .load_pacer()?
            .unwrap_or_else(|| PacerState::new(self.start_rate, self.burst, now_us()));
        let out = f(&mut state);
        tx.store_pacer(&state)?;
        *lock(&self.rate) = state.rate;
        Ok(out)
    }

    pub(super) fn rate(&self) -> f64 {
        *lock(&self.rate)
    }
}

/// One leased run of a contact's pending updates.
struct Claim {
    /// The contact's key, and this claim's lease token (its lease owner in the store).
    contact: String,
    token: String,
    ids: Vec<i64>,
    instance_id: String,
    contact_id: String,
    body: Map<String, Value>,
    enqueued_ms: i64,
    attempts: i64,
    /// The pacer's booking for this send: when it was made and how long to wait.
    booked_us: i64,
    wait: Duration,
}

/// What a delivery thread found to do.
enum Next {
    Claimed(Claim),
    /// Nothing ready; the first due time in the store (a retry or a lease running out), if any.
    Idle(Option<i64>),
}

enum Outcome {
    Delivered,
    Retry { throttled: bool, error: Error },
    Final(Error),
}

/// Claims made by this process, numbering lease tokens (`owner-n`): a lease is one claim's,
/// so a thread whose lease ran out and was taken over, even by a thread of its own process,
/// no longer holds it.
static CLAIMS: AtomicU64 = AtomicU64::new(0);

impl Delivery {
    pub(super) fn notify(&self) {
        let (m, c) = &self.wake;
        *lock(m) += 1;
        c.notify_all();
    }

    fn lease(&self) -> Duration {
        // Checked at open.
        self.options
            .lease_for(self.client.settings().timeout)
            .unwrap_or(Duration::from_secs(30))
    }

    /// A delivery thread: [`Delivery::deliver_loop`] until the outbox closes. A panic in it
    /// (a bug, or an `on_event` callback that panicked) is logged and delivery goes on, on a
    /// fresh connection; rows it had leased wait for their lease to run out.
    pub(super) fn deliver(self: Arc<Self>, conn: Box<dyn Worker>) {
        let mut conn = Some(conn);
        while !self.stop.load(Ordering::SeqCst) {
            let next = match conn.take() {
                Some(c) => Ok(c),
                None => self.store.worker(),
            };
            let c = match next {
                Ok(c) => c,
                Err(e) => {
                    emit(
                        LogLevel::Error,
                        format_args!("{e}; a delivery thread tries again in 1 s"),
                    );
                    self.idle(Duration::from_secs(1));
                    continue;
                }
            };
            let worker = Arc::clone(&self);
            if catch_unwind(AssertUnwindSafe(move || worker.deliver_loop(c))).is_ok() {
                return;
            }
            emit(
                LogLevel::Error,
                format_args!(
                    "{}: a delivery thread panicked (the message is on stderr); delivery goes on",
                    self.store.describe()
                ),
            );
        }
    }

    /// Waits up to `d`, less when woken (an enqueue, close).
    fn idle(&self, d: Duration) {
        let (m, c) = &self.wake;
        let guard = lock(m);
        if !self.stop.load(Ordering::SeqCst) {
            let _ = c.wait_timeout(guard, d);
        }
    }

    fn deliver_loop(self: Arc<Self>, mut conn: Box<dyn Worker>) {
        while !self.stop.load(Ordering::SeqCst) {
            let seen = *lock(&self.wake.0);
            // A claim that cannot be made now (the store busy or failing) is tried again soon.
            let next = self
                .claim(conn.as_mut())
                .unwrap_or_else(|_| Next::Idle(Some(now_ms() + 50)));
            let mut claim = match next {
                Next::Claimed(claim) => claim,
                Next::Idle(due) => {
                    let (m, c) = &self.wake;
                    let guard = lock(m);
                    if *guard == seen && !self.stop.load(Ordering::SeqCst) {
                        let _ = c.wait_timeout(guard, idle_wait(due, now_ms()));
                    }
                    continue;
                }
            };
            if !self.pace(conn.as_mut(), &mut claim) {
                // Closing: give the lease back so another process may send it at once.
                let _ = conn.release(&claim.contact, &claim.token);
                return;
            }
            let sent_us = now_us();
            let outcome = self.send(&claim);
            // A failure to record is retried by the lease running out: at-least-once.
            let _ = self.record(conn.as_mut(), &claim, sent_us, outcome);
        }
    }

    /// Leases the ready contact due first: its head is due and no claim holds the contact
    /// (a contact's lease covers all its rows, so a row in flight is never claimed again,
    /// and nothing of a contact is sent while an earlier call for it may still land).
    fn claim(&self, conn: &mut dyn Worker) -> Result<Next, Error> {
        let now = now_ms();
        let mut tx = conn.begin()?;
        let Some(contact) = tx.ready_head(now)? else {
            return Ok(Next::Idle(tx.first_due()?));
        };
        let rows = tx.run_of(&contact, self.options.max_coalesce)?;
        let Some(first) = rows.first().cloned() else {
            // A head without pending rows (a store keeps none; a hand-edited one may):
            // dropped, so it is not picked again.
            tx.drop_head(&contact)?;
            tx.commit()?;
            return Ok(Next::Idle(Some(now)));
        };
        let mut claim = Claim {
            contact,
            token: format!("{}-{}", self.owner, CLAIMS.fetch_add(1, Ordering::Relaxed)),
            ids: vec![first.id],
            instance_id: first.instance_id.clone(),
            contact_id: first.contact_id.clone(),
            body: match serde_json::from_str(&first.body) {
                Ok(Value::Object(m)) => m,
                _ => Map::new(),
            },
            enqueued_ms: first.enqueued_ms,
            attempts: first.attempts,
            booked_us: 0,
            wait: Duration::ZERO,
        };
        if !first.solo {
            for row in rows.iter().skip(1) {
                if row.solo {
                    break;
                }
                let Ok(Value::Object(next)) = serde_json::from_str::<Value>(&row.body) else {
                    break;
                };
                let mut merged = claim.body.clone();
                coalesce(&mut merged, &next);
                // Only merges the client would send as they are.
                if !self.valid(&claim.instance_id, &claim.contact_id, &merged) {
                    break;
                }
                claim.body = merged;
                claim.ids.push(row.id);
                claim.enqueued_ms = claim.enqueued_ms.min(row.enqueued_ms);
                claim.attempts = claim.attempts.max(row.attempts);
            }
        }
        // The pacer's token is booked in the same step, and the lease covers the wait for
        // it, so the lease cannot run out before the call is made.
        let booked_us = now_us();
        claim.wait = self.pacer.update(tx.as_mut(), |p| p.reserve(booked_us))?;
        claim.booked_us = booked_us;
        self.lease_claim(tx.as_mut(), &claim, true)?;
        tx.commit()?;
        Ok(Next::Claimed(claim))
    }

    /// Leases the claim's contact (`take`: it is free, the claim is new) or extends the
    /// claim's lease (only while the claim still holds it).
    fn lease_claim(&self, tx: &mut dyn Tx, claim: &Claim, take: bool) -> Result<(), Error> {
        let until = now_ms() + claim.wait.saturating_add(self.lease()).as_millis() as i64;
        tx.lease(&claim.contact, &claim.token, until, take)
    }

    fn valid(&self, instance_id: &str, contact_id: &str, body: &Map<String, Value>) -> bool {
        let text = request_json(
            instance_id,
            contact_id,
            &Value::Object(body.clone()).to_string(),
        );
        match UpdateContactRequest::from_json(&text) {
            Ok(r) => self.checker.check(&r).is_ok(),
            Err(_) => false,
        }
    }

    /// Waits for the claim's token; books again (and extends the lease) when the rate was cut
    /// while waiting, since the booking was made at the old rate. False when the outbox is
    /// closing.
    fn pace(&self, conn: &mut dyn Worker, claim: &mut Claim) -> bool {
        for _ in 0..8 {
            let until = Instant::now() + claim.wait;
            loop {
                if self.stop.load(Ordering::SeqCst) {
                    return false;
                }
                let left = until.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    break;
                }
                std::thread::sleep(left.min(Duration::from_millis(100)));
            }
            let cut_since = conn.cut_us().is_some_and(|cut| cut > claim.booked_us);
            if claim.wait.is_zero() || !cut_since {
                return true;
            }
            match self.rebook(conn, claim) {
                Ok(()) => {}
                // The store cannot be written now: send at the last booking's time.
                Err(_) => return true,
            }
        }
        true
    }

    fn rebook(&self, conn: &mut dyn Worker, claim: &mut Claim) -> Result<(), Error> {
        let mut tx = conn.begin()?;
        let booked_us = now_us();
        claim.wait = self.pacer.update(tx.as_mut(), |p| p.reserve(booked_us))?;
        claim.booked_us = booked_us;
        self.lease_claim(tx.as_mut(), claim, false)?;
        tx.commit()
    }

    fn send(&self, claim: &Claim) -> Outcome {
        let text = request_json(
            &claim.instance_id,
            &claim.contact_id,
            &Value::Object(claim.body.clone()).to_string(),
        );
        let result = UpdateContactRequest::from_json(&text)
            .and_then(|request| self.client.update_contact(&request));
        match result {
            Ok(_) => Outcome::Delivered,
            Err(error) => {
                let throttled = FailureKind::of(&error) == FailureKind::Throttling;
                if retry_later(&error) {
                    Outcome::Retry { throttled, error }
                } else {
                    Outcome::Final(error)
                }
            }
        }
    }

    /// Records a call's outcome. Only a claim that still holds its contact's lease records
    /// what happened to the rows: when the lease ran out and another thread or process took
    /// the contact over, that one sends (or has sent) them again and records them itself, so
    /// this call counts as an attempt and nothing else. Delivered and dead are counted, and
    /// told, for the rows this call deleted or buried, not for the ids it carried.
    fn record(
        &self,
        conn: &mut dyn Worker,
        claim: &Claim,
        sent_us: i64,
        outcome: Outcome,
    ) -> Result<(), Error> {
        let now = now_ms();
        let mut events = Vec::new();
        let mut tx = conn.begin()?;
        tx.bump(Counter::Attempts, 1)?;
        if let Outcome::Retry { throttled, .. } = &outcome {
            let at = now_us();
            if *throttled {
                tx.bump(Counter::Throttled, 1)?;
                self.pacer
                    .update(tx.as_mut(), |p| p.on_throttle(sent_us, at))?;
            } else {
                self.pacer
                    .update(tx.as_mut(), |p| p.on_unavailable(sent_us, at))?;
                self.pacer.unavailable.store(true, Ordering::Relaxed);
            }
        }
        if matches!(outcome, Outcome::Delivered)
            && self.pacer.unavailable.swap(false, Ordering::Relaxed)
        {
            self.pacer.update(tx.as_mut(), PacerState::on_delivered)?;
        }
        // Ours when the lease is still this claim's; freed in the same step.
        let held = tx.release(&claim.contact, &claim.token)?;
        match outcome {
            _ if !held => {}
            Outcome::Delivered => {
                let mut deleted = 0;
                for id in &claim.ids {
                    if tx.delete_pending(*id)? {
                        deleted += 1;
                        events.push(OutboxEvent::Delivered { id: *id as u64 });
                    }
                }
                tx.bump(Counter::Delivered, deleted)?;
            }
            Outcome::Retry { throttled, error } => {
                let age = Duration::from_millis((now - claim.enqueued_ms).max(0) as u64);
                if age >= self.options.max_age {
                    events.extend(bury(tx.as_mut(), &claim.ids, &error)?);
                } else {
                    let delay = if throttled {
                        // Held back one to two sends' worth at the (cut) rate, so a throttle
                        // is not followed at once by the same call; it keeps its place.
                        wait_secs((1.0 + random_unit()) / self.pacer.rate())
                            .min(self.options.max_backoff)
                    } else {
                        let exp = Duration::from_millis(100)
                            .saturating_mul(1u32 << claim.attempts.clamp(0, 16) as u32)
                            .min(self.options.max_backoff);
                        exp.mul_f64(0.5 + 0.5 * random_unit())
                    };
                    for id in &claim.ids {
                        tx.reschedule(*id, now + delay.as_millis() as i64, &error)?;
                    }
                }
            }
            Outcome::Final(_) if claim.ids.len() > 1 => {
                // A merged call failed for good: send each update alone, so only the one at
                // fault becomes a dead letter.
                for id in &claim.ids {
                    tx.set_solo(*id)?;
                }
            }
            Outcome::Final(error) => {
                events.extend(bury(tx.as_mut(), &claim.ids, &error)?);
            }
        }
        tx.commit()?;
        if let Some(callback) = &self.options.on_event {
            for event in &events {
                callback(event);
            }
        }
        Ok(())
    }
}

/// Makes the pending ones of `ids` dead letters with `error`: an event for each.
fn bury(tx: &mut dyn Tx, ids: &[i64], error: &Error) -> Result<Vec<OutboxEvent>, Error> {
    let mut events = Vec::new();
    for id in ids {
        if tx.bury(*id, error)? {
            events.push(OutboxEvent::Dead {
                id: *id as u64,
                status: error.status(),
                code: error.code().to_string(),
                message: error.message().to_string(),
            });
        }
    }
    Ok(events)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(text: &str) -> Map<String, Value> {
        match serde_json::from_str(text).unwrap() {
            Value::Object(m) => m,
            _ => unreachable!(),
        }
    }

    #[test]
    fn coalescing_merges_maps_by_key_and_replaces_the_rest() {
        let mut a = obj(
            r#"{"Name":"a","References":{"x":{"Type":"URL","Value":"1"},"y":{"Type":"URL","Value":"2"}}}"#,
        );
        coalesce(
            &mut a,
            &obj(
                r#"{"Description":"d","References":{"y":{"Type":"URL","Value":"3"}},"SegmentAttributes":{"k":{"ValueString":"v"}}}"#,
            ),
        );
        assert_eq!(
            Value::Object(a),
            serde_json::from_str::<Value>(r#"{"Name":"a","Description":"d","References":{"x":{"Type":"URL","Value":"1"},"y":{"Type":"URL","Value":"3"}},"SegmentAttributes":{"k":{"ValueString":"v"}}}"#).unwrap()
        );
    }

    #[test]
    fn an_idle_thread_sleeps_until_the_first_due_time_and_at_most_a_second() {
        assert_eq!(idle_wait(None, 1_000), IDLE_MAX);
        assert_eq!(idle_wait(Some(1_250), 1_000), Duration::from_millis(250));
        assert_eq!(idle_wait(Some(900_000), 1_000), IDLE_MAX);
        // Due already (a lease that ran out, a clock step): look again at once, not spin.
        assert_eq!(idle_wait(Some(500), 1_000), Duration::from_millis(1));
    }
}
