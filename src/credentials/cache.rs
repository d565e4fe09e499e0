//! Caching and refresh of temporary credentials, shared by every thread of a client.
//!
//! botocore's windows: refresh 15 minutes before expiry (advisory: on failure keep using
//! the still-valid credentials) and force it 10 minutes before (mandatory: refresh or fail).
//! One refresh at a time: in the advisory window other threads go on with the current
//! credentials; in the mandatory window they wait for the one refresh and use its result.
//!
//! Deadlines: a refresh runs on a thread of its own, and a caller waits for it only until its
//! call deadline ([`ProvideCredentials::provide_by`]). A caller whose deadline passes first
//! gets TIMEOUT naming the provider, and the refresh goes on, bounded by the provider's own
//! limits (credential_process 60 s, container and IMDS 2 s a request); its credentials serve
//! the calls after it. So `timeout_ms` bounds every call, credential lookup included.
//!
//! Credentials that come back already expired are refused (CREDENTIALS_PROVIDER naming the
//! provider): sending them would only earn ExpiredTokenException from the service.
#![forbid(unsafe_code)]

use std::fmt;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, RwLock};
use std::time::{Duration, Instant, SystemTime};

use super::{Credentials, ProvideCredentials};
use crate::error::{Error, ResponseMetadata};

pub const ADVISORY_REFRESH: Duration = Duration::from_secs(15 * 60);
pub const MANDATORY_REFRESH: Duration = Duration::from_secs(10 * 60);
/// Pause after a failed advisory refresh before the next try.
pub const ADVISORY_RETRY_PAUSE: Duration = Duration::from_secs(30);

type Clock = Arc<dyn Fn() -> SystemTime + Send + Sync>;

/// Wraps a provider that fetches (STS, SSO, IMDS, ...) so that the fast path is a read lock
/// and an `Arc` clone.
pub struct Cached {
    shared: Arc<CacheState>,
}

struct CacheState {
    inner: Box<dyn ProvideCredentials>,
    current: RwLock<Option<Arc<Credentials>>>,
    refresh: Mutex<Refresh>,
    /// Signalled when a refresh ends.
    ended: Condvar,
    clock: Clock,
}

/// The refresh in flight, if any, and how the last one ended.
#[derive(Default)]
struct Refresh {
    /// The [`crate::fork::generation`] of the refresh in flight; one started before a fork
    /// has no thread in the child and is not waited for there.
    running: Option<u64>,
    /// How many refreshes have ended: a waiter watches it move.
    ended: u64,
    /// The failure of the last refresh, for the callers waiting on it.
    failure: Option<Error>,
    /// When an advisory refresh last failed.
    advisory_failed_at: Option<SystemTime>,
}

impl fmt::Debug for Cached {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cached")
            .field("inner", &self.shared.inner)
            .finish()
    }
}

enum Freshness {
    Fresh,
    /// Inside the advisory window but usable.
    Advisory,
    /// Missing, or inside the mandatory window.
    Stale,
}

impl Cached {
    pub fn new(inner: impl ProvideCredentials + 'static) -> Self {
        Cached::with_clock(Box::new(inner), Arc::new(SystemTime::now))
    }

    /// For tests: a clock that can jump forward.
    pub fn with_clock(inner: Box<dyn ProvideCredentials>, clock: Clock) -> Self {
        Cached {
            shared: Arc::new(CacheState {
                inner,
                current: RwLock::new(None),
                refresh: Mutex::new(Refresh::default()),
                ended: Condvar::new(),
                clock,
            }),
        }
    }
}

impl CacheState {
    fn freshness(&self, credentials: Option<&Arc<Credentials>>) -> Freshness {
        let Some(c) = credentials else {
            return Freshness::Stale;
        };
        let Some(expiry) = c.expiry() else {
            return Freshness::Fresh;
        };
        let left = expiry
            .duration_since((self.clock)())
            .unwrap_or(Duration::ZERO);
        if left > ADVISORY_REFRESH {
            Freshness::Fresh
        } else if left > MANDATORY_REFRESH {
            Freshness::Advisory
        } else {
            Freshness::Stale
        }
    }

    fn read(&self) -> Option<Arc<Credentials>> {
        self.current
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    fn lock(&self) -> MutexGuard<'_, Refresh> {
        self.refresh
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// One fetch, stored on success; already-expired credentials are a failure.
    fn fetch(&self) -> Result<(), Error> {
        let fresh = self.inner.provide()?;
        if fresh.expiry().is_some_and(|t| t <= (self.clock)()) {
            return Err(Error::CredentialsProvider(format!(
                "{}: the credentials it returned have already expired",
                self.inner.name()
            )));
        }
        *self
            .current
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(fresh);
        Ok(())
    }

    /// Starts a refresh on its own thread unless one is running; `refresh` is the locked
    /// state. Returns it with the count of ended refreshes before this one, for `wait`.
    /// Without a thread, the refresh runs here (and the deadline cannot cut it short).
    fn start<'a>(
        self: &'a Arc<Self>,
        mut refresh: MutexGuard<'a, Refresh>,
    ) -> (MutexGuard<'a, Refresh>, u64) {
        let generation = crate::fork::generation();
        let round = refresh.ended;
        if refresh.running == Some(generation) {
            return (refresh, round);
        }
        refresh.running = Some(generation);
        let shared = Arc::clone(self);
        let spawned = std::thread::Builder::new()
            .name("connect-credentials".into())
            .spawn(move || shared.finish(shared.fetch()));
        if spawned.is_err() {
            drop(refresh);
            self.finish(self.fetch());
            return (self.lock(), round);
        }
        (refresh, round)
    }

    fn finish(&self, outcome: Result<(), Error>) {
        let mut refresh = self.lock();
        refresh.running = None;
        refresh.ended += 1;
        refresh.failure = outcome.err();
        drop(refresh);
        self.ended.notify_all();
    }

    /// Waits until the refresh started after `round` ended refreshes has ended, or `deadline`:
    /// Ok(None) when it ended well, Ok(Some(failure)) when it failed, Err(()) when the
    /// deadline came first.
    fn wait<'a>(
        &'a self,
        (mut refresh, round): (MutexGuard<'a, Refresh>, u64),
        deadline: Option<Instant>,
    ) -> Result<Option<Error>, ()> {
        while refresh.ended == round && refresh.running == Some(crate::fork::generation()) {
            refresh = match deadline {
                None => self
                    .ended
                    .wait(refresh)
                    .unwrap_or_else(|poisoned| poisoned.into_inner()),
                Some(deadline) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Err(());
                    }
                    self.ended
                        .wait_timeout(refresh, left)
                        .unwrap_or_else(|poisoned| poisoned.into_inner())
                        .0
                }
            };
        }
        Ok(refresh.failure.clone().filter(|_| refresh.ended != round))
    }

    fn timed_out(&self) -> Error {
        Error::Timeout {
            message: format!(
                "the call deadline passed while waiting for credentials from {}; the lookup \
                 goes on in the background and later calls use its result",
                self.inner.name()
            ),
            metadata: ResponseMetadata::default(),
        }
    }
}

impl ProvideCredentials for Cached {
    fn provide(&self) -> Result<Arc<Credentials>, Error> {
        self.provide_within(None)
    }

    fn provide_by(&self, deadline: Instant) -> Result<Arc<Credentials>, Error> {
        self.provide_within(Some(deadline))
    }

    fn name(&self) -> String {
        self.shared.inner.name()
    }
}

impl Cached {
    fn provide_within(&self, deadline: Option<Instant>) -> Result<Arc<Credentials>, Error> {
        let shared = &self.shared;
        let current = shared.read();
        match shared.freshness(current.as_ref()) {
            Freshness::Fresh => Ok(current.expect("fresh means present")),
            Freshness::Advisory => {
                let current = current.expect("advisory means present");
                let refresh = shared.lock();
                // Someone else is refreshing: the current credentials are still good.
                if refresh.running == Some(crate::fork::generation()) {
                    return Ok(current);
                }
                let latest = shared.read();
                if let Freshness::Fresh = shared.freshness(latest.as_ref()) {
                    return Ok(latest.expect("fresh means present"));
                }
                // After a failed advisory refresh, wait a little before the next one rather
                // than asking a struggling source on every call.
                let now = (shared.clock)();
                if refresh
                    .advisory_failed_at
                    .is_some_and(|t| now < t + ADVISORY_RETRY_PAUSE)
                {
                    return Ok(current);
                }
                let refresh = shared.start(refresh);
                match shared.wait(refresh, deadline) {
                    Ok(None) => Ok(shared.read().unwrap_or(current)),
                    Ok(Some(_)) => {
                        shared.lock().advisory_failed_at = Some(now);
                        Ok(current)
                    }
                    // Still valid: the refresh finishes for the next call.
                    Err(()) => Ok(current),
                }
            }
            Freshness::Stale => {
                let refresh = shared.lock();
                // A refresh that ended while we took the lock may have done the work.
                let latest = shared.read();
                if let Freshness::Fresh | Freshness::Advisory = shared.freshness(latest.as_ref()) {
                    return Ok(latest.expect("usable means present"));
                }
                let refresh = shared.start(refresh);
                match shared.wait(refresh, deadline) {
                    Ok(None) => shared.read().ok_or_else(|| shared.timed_out()),
                    Ok(Some(failure)) => Err(failure),
                    Err(()) => Err(shared.timed_out()),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
    use std::time::UNIX_EPOCH;

    const START: u64 = 1_800_000_000;

    #[derive(Debug)]
    struct Counting {
        calls: Arc<AtomicUsize>,
        fail_after: usize,
        now: Arc<AtomicU64>,
    }

    impl ProvideCredentials for Counting {
        fn provide(&self) -> Result<Arc<Credentials>, Error> {
            let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
            // Slow enough that the other threads pile up behind the refresh.
            std::thread::sleep(Duration::from_millis(50));
            if n > self.fail_after {
                return Err(Error::CredentialsProvider("fake source is down".into()));
            }
            let expiry = UNIX_EPOCH + Duration::from_secs(self.now.load(Ordering::SeqCst) + 3600);
            Ok(Arc::new(Credentials::new(
                &format!("AKID{n}"),
                "S",
                Some("T"),
                Some(expiry),
                "test",
            )?))
        }
    }

    fn setup(fail_after: usize) -> (Arc<Cached>, Arc<AtomicUsize>, Arc<AtomicU64>) {
        let calls = Arc::new(AtomicUsize::new(0));
        let now = Arc::new(AtomicU64::new(START));
        let clock_now = now.clone();
        let cached = Cached::with_clock(
            Box::new(Counting {
                calls: calls.clone(),
                fail_after,
                now: now.clone(),
            }),
            Arc::new(move || UNIX_EPOCH + Duration::from_secs(clock_now.load(Ordering::SeqCst))),
        );
        (Arc::new(cached), calls, now)
    }

    /// 8 threads call at once; returns the access key ids they got.
    fn eight_threads(cached: &Arc<Cached>) -> Vec<Result<String, Error>> {
        let handles: Vec<_> = (0..8)
            .map(|_| {
                let c = cached.clone();
                std::thread::spawn(move || c.provide().map(|c| c.access_key_id().to_owned()))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    }

    #[test]
    fn one_fetch_per_refresh_with_eight_threads() {
        let (cached, calls, now) = setup(usize::MAX);
        let got = eight_threads(&cached);
        assert!(got.iter().all(|r| r.as_deref() == Ok("AKID1")), "{got:?}");
        assert_eq!(calls.load(Ordering::SeqCst), 1, "first fetch happens once");
        // Still fresh: no fetch at all.
        now.fetch_add(30 * 60, Ordering::SeqCst);
        eight_threads(&cached);
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        // Mandatory window (5 minutes left): all wait for exactly one refresh.
        now.fetch_add(25 * 60, Ordering::SeqCst);
        let got = eight_threads(&cached);
        assert!(got.iter().all(|r| r.as_deref() == Ok("AKID2")), "{got:?}");
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        // Advisory window (12 minutes left): one thread refreshes, the others go on.
        now.fetch_add(48 * 60, Ordering::SeqCst);
        let got = eight_threads(&cached);
        assert!(got
            .iter()
            .all(|r| matches!(r.as_deref(), Ok("AKID2") | Ok("AKID3"))));
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        assert_eq!(cached.provide().unwrap().access_key_id(), "AKID3");
    }

    #[test]
    fn failed_advisory_refresh_keeps_valid_credentials_mandatory_fails() {
        let (cached, calls, now) = setup(1);
        assert_eq!(cached.provide().unwrap().access_key_id(), "AKID1");
        now.fetch_add(48 * 60, Ordering::SeqCst); // 12 minutes left
        let got = eight_threads(&cached);
        assert!(got.iter().all(|r| r.as_deref() == Ok("AKID1")), "{got:?}");
        assert_eq!(
            calls.load(Ordering::SeqCst),
            2,
            "one failed advisory refresh"
        );
        eight_threads(&cached);
        assert_eq!(calls.load(Ordering::SeqCst), 2, "no retry within the pause");
        now.fetch_add(5 * 60, Ordering::SeqCst); // 7 minutes left
        let err = cached.provide().unwrap_err();
        assert!(matches!(err, Error::CredentialsProvider(_)), "{err:?}");
    }

    #[derive(Debug)]
    struct Slow {
        expiry: SystemTime,
    }

    impl ProvideCredentials for Slow {
        fn provide(&self) -> Result<Arc<Credentials>, Error> {
            std::thread::sleep(Duration::from_millis(300));
            Ok(Arc::new(Credentials::new(
                "AKIDSLOW",
                "S",
                None,
                Some(self.expiry),
                "test",
            )?))
        }

        fn name(&self) -> String {
            "the slow source".into()
        }
    }

    #[test]
    fn a_deadline_cuts_the_wait_not_the_refresh() {
        let cached = Cached::new(Slow {
            expiry: SystemTime::now() + Duration::from_secs(3600),
        });
        let started = Instant::now();
        let e = cached
            .provide_by(Instant::now() + Duration::from_millis(50))
            .unwrap_err();
        assert!(started.elapsed() < Duration::from_millis(250));
        assert_eq!(e.status(), crate::error::Status::Timeout);
        assert!(e.to_string().contains("the slow source"), "{e}");
        std::thread::sleep(Duration::from_millis(400));
        let started = Instant::now();
        let c = cached
            .provide_by(Instant::now() + Duration::from_millis(50))
            .unwrap();
        assert_eq!(c.access_key_id(), "AKIDSLOW");
        assert!(started.elapsed() < Duration::from_millis(50));
    }

    #[test]
    fn credentials_already_expired_are_refused() {
        let cached = Cached::new(Slow {
            expiry: SystemTime::now() - Duration::from_secs(1),
        });
        let e = cached.provide().unwrap_err();
        assert!(matches!(e, Error::CredentialsProvider(_)), "{e:?}");
        assert!(e.to_string().contains("the slow source"), "{e}");
        assert!(e.to_string().contains("already expired"), "{e}");
    }
}
