//! A small pool of worker threads behind a bounded queue, for asynchronous calls.
//!
//! The threads start on the first submitted job, so a program that only makes blocking calls
//! never pays for them. Each job runs exactly once: with [`Run::Execute`] normally, or with
//! [`Run::Cancel`] when the pool was shut down while the job was still queued. Jobs always run
//! on a worker thread, never on the thread that submits or shuts down.
//!
//! Fork: the child of a `fork()` has none of the parent's threads but a copy of their
//! handles and of the queue ([`crate::fork`]). On its first use in the child (a submit or a
//! shutdown), the pool forgets the parent's workers (never joins them) and drops the parent's
//! queued jobs without running them (the parent runs and reports them); a submit then starts
//! new workers in the child.
#![forbid(unsafe_code)]

use std::collections::VecDeque;
use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};

/// How a job is asked to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Run {
    /// Do the work.
    Execute,
    /// The pool is shutting down and the job never started: report, do not work.
    Cancel,
}

/// A unit of work; it must report its own outcome (the pool ignores what it returns).
pub type Job = Box<dyn FnOnce(Run) + Send + 'static>;

/// Why a job was refused; a refused job is dropped without running.
#[derive(Debug)]
pub enum Refused {
    /// `capacity` jobs are already waiting.
    Full { capacity: usize },
    /// [`Pool::shutdown`] has begun.
    Closed,
    /// No worker thread could be started.
    Spawn(std::io::Error),
}

/// What the pool's lock guards: the waiting jobs, whether it is shut down, its workers.
struct State {
    jobs: VecDeque<Job>,
    closed: bool,
    workers: Vec<JoinHandle<()>>,
    /// [`crate::fork::generation`] when the workers were started.
    generation: u64,
}

impl State {
    /// In the child of a fork: forgets the parent's workers (they do not exist here; joining
    /// or detaching them would touch the parent's thread records) and takes the parent's
    /// queued jobs out, for the caller to drop unrun outside the lock.
    fn leave_parent(&mut self) -> VecDeque<Job> {
        if self.workers.is_empty() || self.generation == crate::fork::generation() {
            return VecDeque::new();
        }
        std::mem::forget(std::mem::take(&mut self.workers));
        std::mem::take(&mut self.jobs)
    }
}

/// The queue the pool and its workers share: the state under its lock, and the condition
/// idle workers wait on for a job or the shutdown.
struct WorkQueue {
    state: Mutex<State>,
    wake: Condvar,
}

impl WorkQueue {
    // Jobs run outside the lock, so a poisoned lock only means a panic in this module's own
    // short critical sections; the state is still consistent, so keep going.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The pool. Dropping it shuts it down (see [`Pool::shutdown`]).
pub struct Pool {
    queue: Arc<WorkQueue>,
    threads: usize,
    capacity: usize,
}

impl fmt::Debug for Pool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pool")
            .field("threads", &self.threads)
            .field("capacity", &self.capacity)
            .field("started", &self.started())
            .finish()
    }
}

impl Pool {
    /// A pool of `threads` workers (at least 1) and room for `capacity` waiting jobs (at
    /// least 1). Starts no thread yet.
    pub fn new(threads: usize, capacity: usize) -> Pool {
        Pool {
            queue: Arc::new(WorkQueue {
                state: Mutex::new(State {
                    jobs: VecDeque::new(),
                    closed: false,
                    workers: Vec::new(),
                    generation: crate::fork::generation(),
                }),
                wake: Condvar::new(),
            }),
            threads: threads.max(1),
            capacity: capacity.max(1),
        }
    }

    /// Whether any worker thread has been started.
    pub fn started(&self) -> bool {
        !self.queue.lock().workers.is_empty()
    }

    /// Queues `job`, starting the workers if this is the first job. Never blocks on the
    /// queue: a full queue refuses at once.
    pub fn submit(&self, job: Job) -> Result<(), Refused> {
        let mut state = self.queue.lock();
        let parents = state.leave_parent();
        if !parents.is_empty() {
            drop(state);
            drop(parents);
            state = self.queue.lock();
        }
        if state.closed {
            return Err(Refused::Closed);
        }
        if state.jobs.len() >= self.capacity {
            return Err(Refused::Full {
                capacity: self.capacity,
            });
        }
        if state.workers.is_empty() {
            self.start(&mut state)?;
        }
        state.jobs.push_back(job);
        drop(state);
        self.queue.wake.notify_one();
        Ok(())
    }

    /// Starts the workers; some may fail to start, but not all.
    fn start(&self, state: &mut State) -> Result<(), Refused> {
        let mut last_error = None;
        state.generation = crate::fork::generation();
        for n in 0..self.threads {
            let queue = Arc::clone(&self.queue);
            match thread::Builder::new()
                .name(format!("connect-async-{n}"))
                .spawn(move || work(&queue))
            {
                Ok(handle) => state.workers.push(handle),
                Err(e) => last_error = Some(e),
            }
        }
        match last_error {
            Some(e) if state.workers.is_empty() => Err(Refused::Spawn(e)),
            _ => Ok(()),
        }
    }

    /// Stops accepting jobs, lets the workers finish the jobs they are running and cancel the
    /// queued ones, and waits for them. Idempotent. When called from one of this pool's own
    /// workers (from inside a job), that worker cannot be waited for: it finishes on its own
    /// once the job returns.
    pub fn shutdown(&self) {
        let (workers, parents) = {
            let mut state = self.queue.lock();
            let parents = state.leave_parent();
            state.closed = true;
            (std::mem::take(&mut state.workers), parents)
        };
        drop(parents);
        self.queue.wake.notify_all();
        let me = thread::current().id();
        for worker in workers {
            if worker.thread().id() != me {
                // A worker never panics out of `work` (jobs are caught), so this is Ok.
                let _ = worker.join();
            }
        }
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// A worker: take the next job, run it outside the lock, until closed and drained.
fn work(queue: &WorkQueue) {
    loop {
        let (job, run) = {
            let mut state = queue.lock();
            loop {
                if let Some(job) = state.jobs.pop_front() {
                    let run = if state.closed {
                        Run::Cancel
                    } else {
                        Run::Execute
                    };
                    break (job, run);
                }
                if state.closed {
                    return;
                }
                state = queue
                    .wake
                    .wait(state)
                    .unwrap_or_else(PoisonError::into_inner);
            }
        };
        // A panicking job must not end the worker: the queue behind it still needs serving.
        // The panic hook has already printed the panic, so it is not silent.
        let _ = catch_unwind(AssertUnwindSafe(move || job(run)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use std::time::Duration;

    const WAIT: Duration = Duration::from_secs(10);

    #[test]
    fn starts_lazily_and_runs_every_job_once() {
        let pool = Pool::new(3, 1000);
        assert!(!pool.started(), "no thread before the first job");
        let (tx, rx) = mpsc::channel();
        for i in 0..500 {
            let tx = tx.clone();
            pool.submit(Box::new(move |run| tx.send((i, run)).unwrap()))
                .unwrap();
        }
        assert!(pool.started());
        let mut seen = vec![false; 500];
        for _ in 0..500 {
            let (i, run) = rx.recv_timeout(WAIT).unwrap();
            assert_eq!(run, Run::Execute);
            assert!(!seen[i], "job {i} ran twice");
            seen[i] = true;
        }
        pool.shutdown();
        assert!(rx.try_recv().is_err(), "nothing ran more than once");
    }

    /// Occupies the single worker until the returned sender is used (or dropped).
    fn block_worker(pool: &Pool) -> mpsc::Sender<()> {
        let (release_tx, release_rx) = mpsc::channel::<()>();
        let (started_tx, started_rx) = mpsc::channel();
        pool.submit(Box::new(move |_| {
            started_tx.send(()).unwrap();
            let _ = release_rx.recv_timeout(WAIT);
        }))
        .unwrap();
        started_rx.recv_timeout(WAIT).unwrap();
        release_tx
    }

    #[test]
    fn a_full_queue_refuses_at_once() {
        let pool = Pool::new(1, 2);
        let release = block_worker(&pool);
        pool.submit(Box::new(|_| {})).unwrap();
        pool.submit(Box::new(|_| {})).unwrap();
        assert!(matches!(
            pool.submit(Box::new(|_| {})),
            Err(Refused::Full { capacity: 2 })
        ));
        drop(release);
    }

    #[test]
    fn shutdown_cancels_queued_jobs_and_refuses_new_ones() {
        let pool = Arc::new(Pool::new(1, 10));
        let (tx, rx) = mpsc::channel();
        let release = block_worker(&pool);
        for i in 0..3 {
            let tx = tx.clone();
            pool.submit(Box::new(move |run| tx.send((i, run)).unwrap()))
                .unwrap();
        }
        let closer = {
            let pool = Arc::clone(&pool);
            thread::spawn(move || pool.shutdown())
        };
        // Wait until shutdown has begun (new jobs refused), then free the worker.
        let mut refused = false;
        for _ in 0..10_000 {
            if matches!(pool.submit(Box::new(|_| {})), Err(Refused::Closed)) {
                refused = true;
                break;
            }
            thread::sleep(Duration::from_millis(1));
        }
        assert!(refused, "shutdown began");
        drop(release);
        closer.join().unwrap();
        // shutdown() returned, so every queued job has already been run, cancelled.
        let got: Vec<_> = rx.try_iter().collect();
        assert_eq!(
            got,
            vec![(0, Run::Cancel), (1, Run::Cancel), (2, Run::Cancel)]
        );
    }

    #[test]
    fn a_panicking_job_does_not_kill_the_worker() {
        let pool = Pool::new(1, 10);
        pool.submit(Box::new(|_| panic!("job panics (expected in this test)")))
            .unwrap();
        let (tx, rx) = mpsc::channel();
        pool.submit(Box::new(move |run| tx.send(run).unwrap()))
            .unwrap();
        assert_eq!(rx.recv_timeout(WAIT).unwrap(), Run::Execute);
    }

    #[test]
    fn shutdown_from_inside_a_job_does_not_deadlock() {
        let pool = Arc::new(Pool::new(1, 10));
        let (tx, rx) = mpsc::channel();
        let inner = Arc::clone(&pool);
        pool.submit(Box::new(move |_| {
            inner.shutdown();
            tx.send(()).unwrap();
        }))
        .unwrap();
        rx.recv_timeout(WAIT).unwrap();
        assert!(matches!(
            pool.submit(Box::new(|_| {})),
            Err(Refused::Closed)
        ));
    }
}
