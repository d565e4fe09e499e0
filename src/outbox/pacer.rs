//! The pacer's rule: one token bucket per outbox store, shared by every process and handle
//! on it, whose rate adapts to throttling and outages. [`PacerState`] is free of storage (a
//! store keeps it, delivery's `Pacer` reads and writes it in the store's steps), so it is
//! tested on its own.

use std::time::Duration;

/// Cut factor on a throttle (multiplicative decrease).
const CUT: f64 = 0.7;
/// After an isolated throttle the rate climbs back quickly to this share of the rate where
/// throttling began...
const RECOVER_TO: f64 = 0.95;
/// ... at this share of the configured rate per second,
const RECOVER_SPEED: f64 = 0.2;
/// then probes above it at this share of the configured rate per second.
const PROBE_SPEED: f64 = 0.001;
/// A throttle this soon after the previous cut means the cut was not enough (other senders
/// share the quota): no quick climb back, the rate it was cut to becomes the new ceiling.
const REPEAT_WINDOW_US: i64 = 20_000_000;
/// After this long without a throttle a ceiling lowered below the configured rate is
/// forgotten (the contention that lowered it is over, or the file was idle): the rate climbs
/// back quickly towards the configured one.
const CEILING_EXPIRY_US: i64 = 300_000_000;
/// The rate never drops below this share of the configured rate.
const FLOOR: f64 = 0.02;
/// Cut factor when the service is unavailable (5xx, network, expired credentials): an outage
/// should cost the account's quota a few probes, not every pending update at the full rate.
const UNAVAILABLE_CUT: f64 = 0.5;

/// The longest a send waits for its token. At the slowest rate the options allow
/// ([`MIN_RATE`] at the pacer's floor) one wait is 1/(0.001 × 0.02) s, about 14 hours; a
/// file's stored state could ask for more (or for a wait that does not fit a `Duration`).
const LONGEST_WAIT: Duration = Duration::from_secs(24 * 3600);

/// `seconds` as a wait: none for zero, a negative or a NaN, at most [`LONGEST_WAIT`].
pub(super) fn wait_secs(seconds: f64) -> Duration {
    if seconds > 0.0 {
        Duration::try_from_secs_f64(seconds).map_or(LONGEST_WAIT, |d| d.min(LONGEST_WAIT))
    } else {
        Duration::ZERO
    }
}

/// The pacer's state: a token bucket whose rate adapts (cut on throttle, probed upward while
/// it is what limits the sends). One row in the outbox file, shared by every process and
/// handle on it; the arithmetic is here, free of SQLite, so it can be tested on its own.
/// Times are microseconds since the Unix epoch (one host's clock, shared by its processes).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct PacerState {
    /// Calls per second now.
    pub(crate) rate: f64,
    /// The configured rate and burst.
    pub(crate) start_rate: f64,
    pub(crate) burst: f64,
    /// Tokens at `refilled_us`; negative when sends are booked ahead (callers waiting).
    pub(crate) tokens: f64,
    pub(crate) refilled_us: i64,
    /// When the rate last grew (growth is counted per elapsed second).
    pub(crate) grown_us: i64,
    /// When the rate was last cut (0: never).
    pub(crate) cut_us: i64,
    /// The rate where throttling began (before any throttle: the configured rate).
    pub(crate) ceiling: f64,
    /// When the rate was last halved because the service was unavailable (0: never).
    pub(crate) unavailable_us: i64,
}

impl PacerState {
    pub(super) fn new(rate: f64, burst: u32, now_us: i64) -> PacerState {
        PacerState {
            rate,
            start_rate: rate,
            burst: burst as f64,
            tokens: burst as f64,
            refilled_us: now_us,
            grown_us: now_us,
            cut_us: 0,
            ceiling: rate,
            unavailable_us: 0,
        }
    }

    fn refill(&mut self, now_us: i64) {
        // A clock that went back counts as no time passing.
        let dt = (now_us - self.refilled_us).max(0) as f64 / 1e6;
        self.tokens = (self.tokens + dt * self.rate).min(self.burst);
        self.refilled_us = self.refilled_us.max(now_us);
    }

    /// Books one send; returns how long to wait before making it.
    pub(super) fn reserve(&mut self, now_us: i64) -> Duration {
        self.refill(now_us);
        let dt = ((now_us - self.grown_us).max(0) as f64 / 1e6).min(1.0);
        self.grown_us = self.grown_us.max(now_us);
        if self.ceiling < self.start_rate && now_us - self.cut_us > CEILING_EXPIRY_US {
            self.ceiling = self.start_rate;
        }
        // Grow only while the bucket is what holds sends back (a rate nobody uses proves
        // nothing about the quota), and not while the service is unavailable (until a call
        // gets through).
        if self.tokens < 1.0 && self.unavailable_us == 0 {
            let speed = if self.rate < RECOVER_TO * self.ceiling {
                RECOVER_SPEED
            } else {
                PROBE_SPEED
            };
            self.rate += self.start_rate * speed * dt;
        }
        self.tokens -= 1.0;
        wait_secs(-self.tokens / self.rate)
    }

    /// A call sent at `sent_us` failed for a reason other than throttling that is retried (the
    /// service or the network is down, credentials expired): halves the rate, once per batch
    /// in flight, down to the floor, so an outage is probed at a trickle. The ceiling stays:
    /// this says nothing about the quota, and after the outage the rate climbs back quickly.
    /// True when it cut.
    pub(super) fn on_unavailable(&mut self, sent_us: i64, now_us: i64) -> bool {
        if sent_us < self.unavailable_us.max(self.cut_us) {
            return false;
        }
        self.refill(now_us);
        self.rate = (self.rate * UNAVAILABLE_CUT).max(self.start_rate * FLOOR);
        self.unavailable_us = now_us.max(self.unavailable_us + 1);
        self.tokens = self.tokens.min(0.0);
        true
    }

    /// A call went through: the service is available again, the rate may grow.
    pub(super) fn on_delivered(&mut self) {
        self.unavailable_us = 0;
    }

    /// A call sent at `sent_us` was throttled. Cuts the rate unless the call was sent before
    /// the last cut (calls in flight answer together: one cut per overshoot), and empties the
    /// bucket, charging it for the call, so the next send waits at least 1/rate. True when
    /// it cut.
    pub(super) fn on_throttle(&mut self, sent_us: i64, now_us: i64) -> bool {
        if sent_us < self.cut_us {
            return false;
        }
        let repeated = self.cut_us > 0 && now_us - self.cut_us < REPEAT_WINDOW_US;
        let cut = (self.rate * CUT).max(self.start_rate * FLOOR);
        self.ceiling = if repeated { cut } else { self.rate };
        self.rate = cut;
        self.cut_us = now_us.max(self.cut_us + 1);
        self.tokens = -1.0;
        self.refilled_us = now_us;
        true
    }
}

impl PacerState {
    /// The state to pace from when a store is opened with `fresh`'s configuration: the stored
    /// state when its configured rate and burst are the same (it goes on from there), else
    /// `fresh` (the last process to open with a different rate or burst sets the store's).
    /// True when it must be written.
    pub(super) fn adopt(stored: Option<PacerState>, fresh: PacerState) -> (PacerState, bool) {
        match stored {
            Some(s) if s.start_rate == fresh.start_rate && s.burst == fresh.burst => (s, false),
            _ => (fresh, true),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outbox::options::MIN_RATE;

    const S: i64 = 1_000_000;

    #[test]
    fn waits_saturate_at_extreme_pacer_states() {
        // A rate far below what the options accept (a file's stored state may hold anything).
        let mut p = PacerState::new(1e-25, 1, 100 * S);
        assert_eq!(p.reserve(100 * S), Duration::ZERO);
        assert_eq!(p.reserve(100 * S), LONGEST_WAIT);
        p.rate = 0.0;
        assert_eq!(p.reserve(100 * S), LONGEST_WAIT);
        p.rate = f64::NAN;
        assert_eq!(p.reserve(100 * S), Duration::ZERO);
        assert_eq!(wait_secs(f64::INFINITY), LONGEST_WAIT);
        assert_eq!(wait_secs(-1.0), Duration::ZERO);
        assert_eq!(wait_secs(1.5), Duration::from_millis(1500));
        // The slowest accepted rate at the pacer's floor still fits under the cap.
        assert!(wait_secs(1.0 / (MIN_RATE * FLOOR)) < LONGEST_WAIT);
    }

    #[test]
    fn an_outage_halves_the_rate_once_per_batch_down_to_the_floor_and_keeps_the_ceiling() {
        const S: i64 = 1_000_000;
        let mut p = PacerState::new(20.0, 20, 100 * S);
        // Four calls of one batch fail: one cut.
        assert!(p.on_unavailable(100 * S, 100 * S + 10));
        assert!(!p.on_unavailable(100 * S + 5, 100 * S + 20));
        assert_eq!(p.rate, 10.0);
        assert_eq!(p.ceiling, 20.0);
        // Each later batch halves it again, never below the floor.
        for i in 1..20 {
            assert!(p.on_unavailable(100 * S + i * S, 100 * S + i * S + 10));
        }
        assert_eq!(p.rate, 20.0 * FLOOR);
        // No growth while calls keep failing, however long the bucket holds sends back.
        let mut t = 200 * S;
        for _ in 0..100 {
            t += S / 50;
            p.reserve(t);
        }
        assert_eq!(p.rate, 20.0 * FLOOR);
        p.on_delivered();
        // Once calls go through and the bucket limits them, it climbs back quickly (the
        // ceiling was never lowered).
        for _ in 0..600 {
            t += S / 50;
            p.reserve(t);
        }
        assert!(p.rate >= 0.9 * 20.0, "{}", p.rate);
    }

    #[test]
    fn pacer_starts_at_burst_then_books_sends_at_the_rate() {
        let mut p = PacerState::new(2.0, 5, 100 * S);
        for _ in 0..5 {
            assert_eq!(p.reserve(100 * S), Duration::ZERO);
        }
        // Booked ahead: the 6th waits 1/rate, the 7th 2/rate.
        assert_eq!(p.reserve(100 * S), Duration::from_millis(500));
        assert_eq!(p.reserve(100 * S), Duration::from_millis(1000));
        // A clock that went back changes nothing.
        let before = p.clone();
        p.refill(99 * S);
        assert_eq!(p, before);
    }

    #[test]
    fn pacer_cuts_once_per_overshoot_and_charges_the_bucket() {
        let mut p = PacerState::new(2.0, 5, 100 * S);
        for _ in 0..5 {
            p.reserve(100 * S);
        }
        assert!(p.on_throttle(100 * S, 100 * S + 10));
        assert!((p.rate - 1.4).abs() < 1e-9);
        assert_eq!(p.ceiling, 2.0, "where throttling began");
        // A call sent before the cut answers late: old news, no second cut.
        assert!(!p.on_throttle(100 * S + 5, 100 * S + 20));
        assert!((p.rate - 1.4).abs() < 1e-9);
        // The bucket was charged: no burst after a throttle, the next send waits 2/rate.
        let wait = p.reserve(100 * S + 10);
        assert!((wait.as_secs_f64() - 2.0 / 1.4).abs() < 1e-3, "{wait:?}");
        // A call sent after the cut and throttled soon after: the cut was not enough; the
        // new rate becomes the ceiling (no quick climb back).
        assert!(p.on_throttle(101 * S, 102 * S));
        assert!((p.rate - 0.98).abs() < 1e-4);
        assert!((p.ceiling - p.rate).abs() < 1e-12);
    }

    #[test]
    fn pacer_grows_only_while_it_holds_sends_back() {
        let mut p = PacerState::new(10.0, 5, 100 * S);
        assert!(p.on_throttle(100 * S, 100 * S));
        assert!((p.rate - 7.0).abs() < 1e-9);
        // Idle for a minute: the bucket is full, nothing was held back, no growth.
        for _ in 0..6 {
            p.reserve(160 * S);
        }
        assert!((p.rate - 7.0).abs() < 1e-9);
        // Busy: quick climb (20% of the configured rate per second) to 95% of the ceiling...
        for i in 1..=100 {
            p.reserve(160 * S + i * S / 100);
        }
        assert!((p.rate - 9.0).abs() < 1e-6, "{}", p.rate);
        for i in 1..=200 {
            p.reserve(161 * S + i * S / 100);
        }
        assert!(p.rate >= 9.5 && p.rate < 9.56, "{}", p.rate);
        // ... then a slow probe (0.1% of the configured rate per second).
        let at = p.rate;
        for i in 1..=1000 {
            p.reserve(163 * S + i * S / 100);
        }
        assert!((p.rate - at - 0.1).abs() < 1e-6, "{}", p.rate - at);
        // Never below the floor.
        for i in 0..40 {
            p.on_throttle(200 * S + i * S, 200 * S + i * S);
        }
        assert!((p.rate - 0.2).abs() < 1e-9);
        assert!(
            (p.ceiling - 0.2).abs() < 1e-9,
            "repeated throttles lowered the ceiling"
        );
        // Five quiet minutes later the lowered ceiling is forgotten: a quick climb again.
        for _ in 0..6 {
            p.reserve(600 * S);
        }
        assert_eq!(p.ceiling, 10.0);
        p.reserve(601 * S);
        assert!((p.rate - 2.2).abs() < 1e-6, "{}", p.rate);
    }

    #[test]
    fn a_store_keeps_its_pacer_state_only_for_the_same_rate_and_burst() {
        let mut stored = PacerState::new(2.0, 5, 100 * S);
        stored.on_throttle(100 * S, 100 * S);
        let (kept, write) =
            PacerState::adopt(Some(stored.clone()), PacerState::new(2.0, 5, 200 * S));
        assert_eq!((kept, write), (stored.clone(), false));
        let fresh = PacerState::new(4.0, 5, 200 * S);
        assert_eq!(
            PacerState::adopt(Some(stored), fresh.clone()),
            (fresh.clone(), true)
        );
        assert_eq!(PacerState::adopt(None, fresh.clone()), (fresh, true));
    }
}
