//! Caching and refresh of temporary credentials, shared by every thread of a client.
//!
//! botocore's windows: refresh 15 minutes before expiry (advisory: on failure keep using
//! the still-valid credentials) and force it 10 minutes before (mandatory: refresh or fail).
//! One refresh at a time: in the advisory window other threads go on with the current
//! credentials; in the mandatory window they wait for the one refresh and use its result.
#![forbid(unsafe_code)]

use std::fmt;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime};

use super::{Credentials, ProvideCredentials};
use crate::error::Error;

pub const ADVISORY_REFRESH: Duration = Duration::from_secs(15 * 60);
pub const MANDATORY_REFRESH: Duration = Duration::from_secs(10 * 60);
/// Pause after a failed advisory refresh before the next try.
pub const ADVISORY_RETRY_PAUSE: Duration = Duration::from_secs(30);

type Clock = Arc<dyn Fn() -> SystemTime + Send + Sync>;

/// Wraps a provider that fetches (STS, SSO, IMDS, ...) so that the fast path is a read lock
/// and an `Arc` clone.
pub struct Cached {
    inner: Box<dyn ProvideCredentials>,
    current: RwLock<Option<Arc<Credentials>>>,
    /// Held while refreshing; remembers when an advisory refresh last failed.
    refresh: Mutex<Option<SystemTime>>,
    clock: Clock,
}

impl fmt::Debug for Cached {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cached")
            .field("inner", &self.inner)
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
            inner,
            current: RwLock::new(None),
            refresh: Mutex::new(None),
            clock,
        }
    }

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

    fn fetch_and_store(&self) -> Result<Arc<Credentials>, Error> {
        let fresh = self.inner.provide()?;
        *self
            .current
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(fresh.clone());
        Ok(fresh)
    }
}

impl ProvideCredentials for Cached {
    fn provide(&self) -> Result<Arc<Credentials>, Error> {
        let current = self.read();
        match self.freshness(current.as_ref()) {
            Freshness::Fresh => Ok(current.expect("fresh means present")),
            Freshness::Advisory => {
                let current = current.expect("advisory means present");
                // Someone else is refreshing: the current credentials are still good.
                let Ok(mut last_failure) = self.refresh.try_lock() else {
                    return Ok(current);
                };
                let latest = self.read();
                if let Freshness::Fresh = self.freshness(latest.as_ref()) {
                    return Ok(latest.expect("fresh means present"));
                }
                // After a failed advisory refresh, wait a little before the next one rather
                // than asking a struggling source on every call.
                let now = (self.clock)();
                if last_failure.is_some_and(|t| now < t + ADVISORY_RETRY_PAUSE) {
                    return Ok(current);
                }
                match self.fetch_and_store() {
                    Ok(fresh) => {
                        *last_failure = None;
                        Ok(fresh)
                    }
                    Err(_) => {
                        *last_failure = Some(now);
                        Ok(current)
                    }
                }
            }
            Freshness::Stale => {
                let _guard = self
                    .refresh
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
                // The refresh we waited for may have done the work.
                let latest = self.read();
                match self.freshness(latest.as_ref()) {
                    Freshness::Fresh | Freshness::Advisory => {
                        Ok(latest.expect("usable means present"))
                    }
                    Freshness::Stale => self.fetch_and_store(),
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
}
