//! Adaptive retry mode: a client-side token bucket whose rate follows CUBIC, switched on by
//! the first throttle and shared by every thread using the client.
//!
//! Time is passed in (seconds on a monotonic scale) so the control law can be tested without
//! sleeping.
#![forbid(unsafe_code)]

use std::sync::Mutex;
use std::time::{Duration, Instant};

const BETA: f64 = 0.7;
const SCALE: f64 = 0.4;
const SMOOTH: f64 = 0.8;
const MIN_FILL_RATE: f64 = 0.5;
const MIN_CAPACITY: f64 = 1.0;

#[derive(Debug)]
struct State {
    enabled: bool,
    fill_rate: f64,
    max_capacity: f64,
    capacity: f64,
    last_refill: Option<f64>,
    measured_rate: f64,
    last_rate_bucket: f64,
    requests_in_bucket: u64,
    last_max_rate: f64,
    last_throttle: f64,
    time_window: f64,
}

/// The shared limiter of one client.
#[derive(Debug)]
pub struct AdaptiveLimiter {
    origin: Instant,
    state: Mutex<State>,
}

impl Default for AdaptiveLimiter {
    fn default() -> Self {
        AdaptiveLimiter {
            origin: Instant::now(),
            state: Mutex::new(State {
                enabled: false,
                fill_rate: 0.0,
                max_capacity: 0.0,
                capacity: 0.0,
                last_refill: None,
                measured_rate: 0.0,
                last_rate_bucket: 0.0,
                requests_in_bucket: 0,
                last_max_rate: 0.0,
                last_throttle: 0.0,
                time_window: 0.0,
            }),
        }
    }
}

impl AdaptiveLimiter {
    /// Seconds since the limiter was made.
    pub fn now(&self) -> f64 {
        self.origin.elapsed().as_secs_f64()
    }

    /// Takes a send token at `now`; returns how long the caller must wait first (zero while
    /// the limiter is off or a token is available).
    pub fn acquire(&self, now: f64) -> Duration {
        let mut s = self.lock();
        if !s.enabled {
            return Duration::ZERO;
        }
        s.refill(now);
        s.capacity -= 1.0;
        if s.capacity >= 0.0 {
            Duration::ZERO
        } else {
            // The token is borrowed against the future; the debt is paid by waiting.
            Duration::from_secs_f64(-s.capacity / s.fill_rate)
        }
    }

    /// Records a response at `now`: a throttle cuts the rate, anything else grows it.
    pub fn on_response(&self, now: f64, throttled: bool) {
        let mut s = self.lock();
        s.update_measured_rate(now);
        let rate = if throttled {
            let rate_to_use = if s.enabled {
                s.measured_rate.min(s.fill_rate)
            } else {
                s.measured_rate
            };
            s.last_max_rate = rate_to_use;
            s.time_window = (s.last_max_rate * (1.0 - BETA) / SCALE).cbrt();
            s.last_throttle = now;
            s.enabled = true;
            rate_to_use * BETA
        } else {
            s.time_window = (s.last_max_rate * (1.0 - BETA) / SCALE).cbrt();
            SCALE * (now - s.last_throttle - s.time_window).powi(3) + s.last_max_rate
        };
        let rate = rate.min(2.0 * s.measured_rate);
        s.refill(now);
        s.fill_rate = rate.max(MIN_FILL_RATE);
        s.max_capacity = rate.max(MIN_CAPACITY);
        s.capacity = s.capacity.min(s.max_capacity);
    }

    /// Current fill rate (requests per second) and whether the limiter is on.
    #[cfg(test)]
    pub fn rate(&self) -> (f64, bool) {
        let s = self.lock();
        (s.fill_rate, s.enabled)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl State {
    fn refill(&mut self, now: f64) {
        if let Some(last) = self.last_refill {
            self.capacity =
                (self.capacity + (now - last).max(0.0) * self.fill_rate).min(self.max_capacity);
        }
        self.last_refill = Some(now);
    }

    /// Sending rate, smoothed over half-second buckets.
    fn update_measured_rate(&mut self, now: f64) {
        let bucket = (now * 2.0).floor() / 2.0;
        self.requests_in_bucket += 1;
        if bucket > self.last_rate_bucket {
            let current = self.requests_in_bucket as f64 / (bucket - self.last_rate_bucket);
            self.measured_rate = current * SMOOTH + self.measured_rate * (1.0 - SMOOTH);
            self.requests_in_bucket = 0;
            self.last_rate_bucket = bucket;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Simulates a client sending as fast as the limiter lets it, for `seconds`, with
    /// `throttled(t)` deciding each answer; returns the fill rate over time.
    fn simulate(
        limiter: &AdaptiveLimiter,
        start: f64,
        seconds: f64,
        throttled: impl Fn(f64) -> bool,
    ) -> Vec<(f64, f64)> {
        let mut t = start;
        let mut rates = Vec::new();
        let mut steps = 0;
        while t < start + seconds && steps < 200_000 {
            t += limiter.acquire(t).as_secs_f64().max(0.001);
            limiter.on_response(t, throttled(t));
            rates.push((t, limiter.rate().0));
            steps += 1;
        }
        rates
    }

    #[test]
    fn off_until_the_first_throttle() {
        let limiter = AdaptiveLimiter::default();
        for i in 0..100 {
            assert_eq!(limiter.acquire(i as f64 * 0.01), Duration::ZERO);
            limiter.on_response(i as f64 * 0.01, false);
        }
        assert!(!limiter.rate().1);
        limiter.on_response(1.0, true);
        assert!(limiter.rate().1, "the first throttle switches it on");
    }

    #[test]
    fn sustained_throttling_converges_to_the_floor() {
        let limiter = AdaptiveLimiter::default();
        let rates = simulate(&limiter, 0.0, 60.0, |_| true);
        let (_, last) = *rates.last().unwrap();
        assert!(
            last <= MIN_FILL_RATE + 1e-9,
            "rate falls to the floor, got {last}"
        );
        // Sending slows accordingly: over the last 10 simulated seconds at most ~0.5/s plus a burst.
        let late = rates
            .iter()
            .filter(|(t, _)| *t > rates.last().unwrap().0 - 10.0)
            .count();
        assert!(late <= 8, "{late} requests in the last 10 s");
    }

    #[test]
    fn recovers_along_the_cubic_after_throttling_stops() {
        let limiter = AdaptiveLimiter::default();
        // 100 rps of successes, then a throttling burst, then successes again.
        for i in 0..1000 {
            limiter.on_response(i as f64 * 0.01, false);
        }
        limiter.on_response(10.0, true);
        let (after_throttle, _) = limiter.rate();
        assert!(
            after_throttle < 100.0 * BETA + 1.0,
            "cut by beta: {after_throttle}"
        );
        let rates = simulate(&limiter, 10.0, 30.0, |_| false);
        let (_, end) = *rates.last().unwrap();
        assert!(
            end > after_throttle,
            "grows back: {after_throttle} -> {end}"
        );
    }
}
