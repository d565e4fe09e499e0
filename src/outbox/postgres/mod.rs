//! The PostgreSQL store: one queue in a database that any number of hosts open. Row locks
//! order the steps (a claim takes the ready contact `FOR UPDATE SKIP LOCKED`, then the
//! queue's pacer row `FOR UPDATE`), every commit is synchronous, and every time is the
//! database server's clock, so hosts whose clocks differ pace and lease as one.

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;
use std::time::Duration;

use postgres::types::ToSql;
use postgres::{Row, Statement};

use super::lock;
use super::pacer::PacerState;
use super::store::{Counter, DeadRow, PendingRow, Store, StoredStats, Tx, Worker};
use crate::error::Error;

mod connect;
mod schema;

use connect::{Session, Target};

/// Now on the server, in milliseconds and microseconds since the epoch.
macro_rules! now_ms {
    () => {
        "(extract(epoch from clock_timestamp()) * 1000)::bigint"
    };
}
macro_rules! now_us {
    () => {
        "(extract(epoch from clock_timestamp()) * 1000000)::bigint"
    };
}

const NOW_US: &str = concat!("SELECT ", now_us!());
/// The schema's function (see schema.rs): the contact's head locked, then the update's id.
const ENQUEUE: &str = "SELECT connect_outbox_enqueue($1, $2, $3, $4, $5)";
const LAST_ID: &str = "SELECT COALESCE(MAX(id), 0) FROM connect_outbox WHERE queue = $1";
const PENDING_UP_TO: &str =
    "SELECT EXISTS(SELECT 1 FROM connect_outbox_heads WHERE queue = $1 AND head <= $2)";
const COUNTS: &str = concat!(
    "SELECT COUNT(*) FILTER (WHERE NOT dead), COUNT(*) FILTER (WHERE dead),
        ",
    now_ms!(),
    " - MIN(enqueued_ms) FILTER (WHERE NOT dead) FROM connect_outbox WHERE queue = $1"
);
const COUNTERS: &str = "SELECT name, value FROM connect_outbox_counters WHERE queue = $1";
const RATE: &str = "SELECT rate FROM connect_outbox_pacer WHERE queue = $1";
const CUT_US: &str = "SELECT cut_us FROM connect_outbox_pacer WHERE queue = $1";
const DEAD: &str =
    "SELECT id, instance_id, contact_id, body, error_status, error_code, error_message,
        attempts FROM connect_outbox WHERE queue = $1 AND dead ORDER BY id";
const REVIVE: &str = concat!(
    "UPDATE connect_outbox SET dead = false, next_ms = 0, attempts = 0, solo = false,
        enqueued_ms = ",
    now_ms!(),
    " WHERE queue = $1 AND id = $2 AND dead RETURNING contact"
);
const DISCARD: &str = "DELETE FROM connect_outbox WHERE queue = $1 AND id = $2 AND dead";
const READY_HEAD: &str = concat!(
    "SELECT contact FROM connect_outbox_heads
     WHERE queue = $1 AND GREATEST(next_ms, lease_until) <= ",
    now_ms!(),
    " ORDER BY GREATEST(next_ms, lease_until), head LIMIT 1 FOR UPDATE SKIP LOCKED"
);
const FIRST_DUE: &str = concat!(
    "SELECT GREATEST(MIN(GREATEST(next_ms, lease_until)) - ",
    now_ms!(),
    ", 0) FROM connect_outbox_heads WHERE queue = $1"
);
const RUN_OF: &str = "SELECT id, instance_id, contact_id, body, enqueued_ms, attempts, solo
     FROM connect_outbox WHERE queue = $1 AND contact = $2 AND NOT dead ORDER BY id LIMIT $3";
const DROP_HEAD: &str = "DELETE FROM connect_outbox_heads WHERE queue = $1 AND contact = $2";
const LOAD_PACER: &str = "SELECT rate, start_rate, burst, tokens, refilled_us, grown_us, cut_us,
     ceiling, unavailable_us FROM connect_outbox_pacer WHERE queue = $1 FOR UPDATE";
const STORE_PACER: &str = "INSERT INTO connect_outbox_pacer(queue, rate, start_rate, burst, tokens,
        refilled_us, grown_us, cut_us, ceiling, unavailable_us)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
     ON CONFLICT (queue) DO UPDATE SET rate = EXCLUDED.rate, start_rate = EXCLUDED.start_rate,
        burst = EXCLUDED.burst, tokens = EXCLUDED.tokens, refilled_us = EXCLUDED.refilled_us,
        grown_us = EXCLUDED.grown_us, cut_us = EXCLUDED.cut_us, ceiling = EXCLUDED.ceiling,
        unavailable_us = EXCLUDED.unavailable_us";
const LEASE: &str = concat!(
    "UPDATE connect_outbox_heads SET lease_owner = $3, lease_until = ",
    now_ms!(),
    " + $4 WHERE queue = $1 AND contact = $2 AND ($5 OR lease_owner = $3)"
);
const RELEASE: &str = "UPDATE connect_outbox_heads SET lease_owner = NULL, lease_until = 0
     WHERE queue = $1 AND contact = $2 AND lease_owner = $3";
const DELETE_PENDING: &str =
    "DELETE FROM connect_outbox WHERE queue = $1 AND id = $2 AND NOT dead RETURNING contact";
const RESCHEDULE: &str = concat!(
    "UPDATE connect_outbox SET attempts = attempts + 1, next_ms = ",
    now_ms!(),
    " + $3, error_status = $4, error_code = $5, error_message = $6
     WHERE queue = $1 AND id = $2 AND NOT dead RETURNING contact"
);
const SET_SOLO: &str =
    "UPDATE connect_outbox SET solo = true WHERE queue = $1 AND id = $2 AND NOT dead";
const BURY: &str = "UPDATE connect_outbox SET dead = true, attempts = attempts + 1,
        error_status = $3, error_code = $4, error_message = $5
     WHERE queue = $1 AND id = $2 AND NOT dead RETURNING contact";
const BUMP: &str = "INSERT INTO connect_outbox_counters(queue, name, value) VALUES ($1, $2, $3)
     ON CONFLICT (queue, name) DO UPDATE SET value = connect_outbox_counters.value + EXCLUDED.value";
const LOCK_HEAD: &str =
    "SELECT 1 FROM connect_outbox_heads WHERE queue = $1 AND contact = $2 FOR UPDATE";
const FIRST_PENDING: &str = "SELECT id, GREATEST(next_ms, enqueued_ms) FROM connect_outbox
     WHERE queue = $1 AND contact = $2 AND NOT dead ORDER BY id LIMIT 1";
const PUT_HEAD: &str = "INSERT INTO connect_outbox_heads(queue, contact, head, next_ms)
     VALUES ($1, $2, $3, $4)
     ON CONFLICT (queue, contact) DO UPDATE SET head = EXCLUDED.head, next_ms = EXCLUDED.next_ms";
const OWNERS_HERE: &str = "SELECT DISTINCT lease_owner FROM connect_outbox_heads
     WHERE queue = $1 AND lease_owner LIKE $2";
const FREE_OWNER: &str = "UPDATE connect_outbox_heads SET lease_owner = NULL, lease_until = 0
     WHERE queue = $1 AND lease_owner = $2";

/// Milliseconds of a duration, as the tables keep them.
fn ms(d: Duration) -> i64 {
    d.as_millis().min(i64::MAX as u128) as i64
}

/// A queue in a PostgreSQL database, opened for this process.
pub(crate) struct PgStore {
    target: Target,
    queue: String,
    /// Enqueue, stats and dead-letter calls.
    session: Mutex<Session>,
}

impl PgStore {
    /// Connects to `url`, makes or migrates the tables, and frees the leases this machine's
    /// processes that no longer run left on `queue`. `machine` ends every lease owner of this
    /// machine (see `Outbox::open`).
    pub(crate) fn open(
        url: &str,
        queue: &str,
        timeout: Duration,
        machine: &str,
    ) -> Result<PgStore, Error> {
        let target = Target::parse(url, queue, timeout)?;
        let mut client = target.connect()?;
        schema::migrate(&mut client, &target)?;
        release_leases_of_dead_processes(&mut client, &target, queue, machine)?;
        Ok(PgStore {
            target,
            queue: queue.to_string(),
            session: Mutex::new(Session::new(Some(client))),
        })
    }

    /// Runs `f` on the store's own session, forgetting the session when the server closed it.
    fn with<T>(
        &self,
        f: impl FnOnce(&mut postgres::Client, &str) -> Result<T, postgres::Error>,
    ) -> Result<T, Error> {
        let mut session = lock(&self.session);
        let client = session.client(&self.target)?;
        let result = f(client, &self.queue).map_err(|e| self.target.failure(&e));
        session.check();
        result
    }
}

/// Leases held by processes of this machine that no longer run are released at once rather
/// than when they run out. A lease owner is `pid-start_ms-random@machine-claim`.
fn release_leases_of_dead_processes(
    client: &mut postgres::Client,
    target: &Target,
    queue: &str,
    machine: &str,
) -> Result<(), Error> {
    let fail = |e: postgres::Error| target.failure(&e);
    let pattern = format!(
        "%@{}-%",
        machine
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_")
    );
    let owners: Vec<String> = client
        .query(OWNERS_HERE, &[&queue, &pattern])
        .map_err(fail)?
        .iter()
        .map(|r| r.get(0))
        .collect();
    for owner in owners {
        let mine = owner
            .split_once('@')
            .is_some_and(|(_, rest)| rest.rsplit_once('-').is_some_and(|(m, _)| m == machine));
        let pid = owner.split('-').next().unwrap_or("");
        let gone = mine
            && !pid.is_empty()
            && std::path::Path::new("/proc/self").exists()
            && !std::path::Path::new("/proc").join(pid).exists();
        if gone {
            client
                .execute(FREE_OWNER, &[&queue, &owner])
                .map_err(fail)?;
        }
    }
    Ok(())
}

fn dead_row(r: &Row) -> DeadRow {
    DeadRow {
        id: r.get(0),
        instance_id: r.get(1),
        contact_id: r.get(2),
        body: r.get(3),
        status: r.get(4),
        code: r.get(5),
        message: r.get(6),
        attempts: r.get(7),
    }
}

impl Store for PgStore {
    fn describe(&self) -> &str {
        &self.target.describe
    }

    fn enqueue(
        &self,
        contact: &str,
        instance_id: &str,
        contact_id: &str,
        body: &str,
    ) -> Result<u64, Error> {
        // One statement, one transaction, committed synchronously before it returns.
        self.with(|c, q| {
            c.query_one(ENQUEUE, &[&q, &contact, &instance_id, &contact_id, &body])
                .map(|r| r.get::<_, i64>(0) as u64)
        })
    }

    fn last_id(&self) -> Result<i64, Error> {
        self.with(|c, q| c.query_one(LAST_ID, &[&q]).map(|r| r.get(0)))
    }

    fn pending_up_to(&self, id: i64) -> Result<bool, Error> {
        self.with(|c, q| c.query_one(PENDING_UP_TO, &[&q, &id]).map(|r| r.get(0)))
    }

    fn stats(&self) -> StoredStats {
        self.with(|c, q| {
            let counts = c.query_one(COUNTS, &[&q])?;
            let mut stats = StoredStats {
                pending: counts.get::<_, i64>(0) as u64,
                dead: counts.get::<_, i64>(1) as u64,
                oldest_pending_age: counts
                    .get::<_, Option<i64>>(2)
                    .map(|age| Duration::from_millis(age.max(0) as u64)),
                send_rate: c.query_opt(RATE, &[&q])?.map(|r| r.get(0)),
                ..StoredStats::default()
            };
            for row in c.query(COUNTERS, &[&q])? {
                let value = row.get::<_, i64>(1).max(0) as u64;
                match row.get::<_, &str>(0) {
                    n if n == Counter::Attempts.name() => stats.attempts = value,
                    n if n == Counter::Throttled.name() => stats.throttled = value,
                    n if n == Counter::Delivered.name() => stats.delivered = value,
                    _ => {}
                }
            }
            Ok(stats)
        })
        .unwrap_or_default()
    }

    fn dead_letters(&self) -> Result<Vec<DeadRow>, Error> {
        self.with(|c, q| Ok(c.query(DEAD, &[&q])?.iter().map(dead_row).collect()))
    }

    fn retry_dead(&self, id: u64) -> Result<bool, Error> {
        let mut revived = false;
        self.transact_pg(&mut |tx| {
            // Noted as changed, so the step puts the contact's head right when it commits.
            revived = tx.revive(id as i64)?;
            Ok(())
        })?;
        Ok(revived)
    }

    fn discard_dead(&self, id: u64) -> Result<bool, Error> {
        self.with(|c, q| Ok(c.execute(DISCARD, &[&q, &(id as i64)])? == 1))
    }

    fn transact(
        &self,
        step: &mut dyn FnMut(&mut dyn Tx) -> Result<(), Error>,
    ) -> Result<(), Error> {
        self.transact_pg(&mut |tx| step(tx))
    }

    fn durability(&self) -> Result<(String, i64), Error> {
        self.with(|c, _| {
            let on: String = c.query_one("SHOW synchronous_commit", &[])?.get(0);
            Ok(("postgresql".to_string(), i64::from(on == "on")))
        })
    }

    fn worker(&self) -> Result<Box<dyn Worker>, Error> {
        // Connected now, so an open fails at once when a worker cannot connect and the first
        // update is not kept waiting for the authentication; reconnected by the worker itself
        // when the server goes away later.
        Ok(Box::new(PgWorker {
            target: self.target.clone(),
            queue: self.queue.clone(),
            session: Session::new(Some(self.target.connect()?)),
        }))
    }
}

impl PgStore {
    /// A step on the store's own session.
    fn transact_pg(
        &self,
        step: &mut dyn FnMut(&mut PgTx<'_>) -> Result<(), Error>,
    ) -> Result<(), Error> {
        let mut session = lock(&self.session);
        let result = begin(&mut session, &self.target, &self.queue).and_then(|mut tx| {
            step(&mut tx)?;
            Box::new(tx).commit()
        });
        session.check();
        result
    }
}

/// A delivery thread's session.
struct PgWorker {
    target: Target,
    queue: String,
    session: Session,
}

fn begin<'s>(
    session: &'s mut Session,
    target: &'s Target,
    queue: &'s str,
) -> Result<PgTx<'s>, Error> {
    session.client(target)?;
    // Split borrows: the transaction borrows the client, the statements are beside it.
    let Session { client, statements } = session;
    let Some(client) = client.as_mut() else {
        return Err(target.refused("not connected"));
    };
    let tx = client.transaction().map_err(|e| target.failure(&e))?;
    Ok(PgTx {
        tx,
        statements,
        target,
        queue,
        touched: BTreeSet::new(),
    })
}

impl Worker for PgWorker {
    fn begin(&mut self) -> Result<Box<dyn Tx + '_>, Error> {
        self.session.check();
        Ok(Box::new(begin(
            &mut self.session,
            &self.target,
            &self.queue,
        )?))
    }

    fn cut_us(&mut self) -> Option<i64> {
        let client = self.session.client(&self.target).ok()?;
        let cut = client
            .query_opt(CUT_US, &[&self.queue])
            .ok()
            .flatten()
            .map(|r| r.get(0));
        self.session.check();
        cut
    }

    fn release(&mut self, contact: &str, token: &str) -> Result<bool, Error> {
        let client = self.session.client(&self.target)?;
        let n = client
            .execute(RELEASE, &[&self.queue, &contact, &token])
            .map_err(|e| self.target.failure(&e));
        self.session.check();
        Ok(n? == 1)
    }
}

/// One transaction (READ COMMITTED, the server's default): its row locks order it against
/// the other hosts' steps on the same contact or pacer.
struct PgTx<'s> {
    tx: postgres::Transaction<'s>,
    /// The session's prepared statements (prepared once per session, not per step).
    statements: &'s mut HashMap<&'static str, Statement>,
    target: &'s Target,
    queue: &'s str,
    /// Contacts whose pending updates this step changed: their heads are recomputed before it
    /// commits.
    touched: BTreeSet<String>,
}

impl PgTx<'_> {
    /// `sql`, prepared on this session once.
    fn statement(&mut self, sql: &'static str) -> Result<Statement, Error> {
        if let Some(s) = self.statements.get(sql) {
            return Ok(s.clone());
        }
        let s = self.tx.prepare(sql).map_err(|e| self.target.failure(&e))?;
        self.statements.insert(sql, s.clone());
        Ok(s)
    }

    fn query_opt(
        &mut self,
        sql: &'static str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Option<Row>, Error> {
        let statement = self.statement(sql)?;
        self.tx
            .query_opt(&statement, params)
            .map_err(|e| self.target.failure(&e))
    }

    fn execute(&mut self, sql: &'static str, params: &[&(dyn ToSql + Sync)]) -> Result<u64, Error> {
        let statement = self.statement(sql)?;
        self.tx
            .execute(&statement, params)
            .map_err(|e| self.target.failure(&e))
    }

    /// Makes dead letter `id` pending again; true when it was one.
    fn revive(&mut self, id: i64) -> Result<bool, Error> {
        let q = self.queue;
        self.change(REVIVE, &[&q, &id])
    }

    /// Recomputes `contact`'s head after this step changed its pending updates: the head row
    /// is locked first, so an enqueue of the same contact committing meanwhile is seen by the
    /// query that follows (each statement reads what was committed before it began).
    fn fix_head(&mut self, contact: &str) -> Result<(), Error> {
        let q = self.queue;
        self.query_opt(LOCK_HEAD, &[&q, &contact])?;
        match self.query_opt(FIRST_PENDING, &[&q, &contact])? {
            Some(row) => {
                let (head, due): (i64, i64) = (row.get(0), row.get(1));
                self.execute(PUT_HEAD, &[&q, &contact, &head, &due])?;
            }
            None => {
                self.execute(DROP_HEAD, &[&q, &contact])?;
            }
        }
        Ok(())
    }

    /// Runs a statement that returns the contact of the row it changed (if any), noting it.
    fn change(&mut self, sql: &'static str, params: &[&(dyn ToSql + Sync)]) -> Result<bool, Error> {
        match self.query_opt(sql, params)? {
            Some(row) => {
                self.touched.insert(row.get(0));
                Ok(true)
            }
            None => Ok(false),
        }
    }
}

impl Tx for PgTx<'_> {
    fn now_us(&mut self) -> Result<i64, Error> {
        Ok(self.query_opt(NOW_US, &[])?.map_or(0, |r| r.get(0)))
    }

    fn ready_head(&mut self) -> Result<Option<String>, Error> {
        let q = self.queue;
        Ok(self.query_opt(READY_HEAD, &[&q])?.map(|r| r.get(0)))
    }

    fn first_due(&mut self) -> Result<Option<Duration>, Error> {
        let q = self.queue;
        Ok(self
            .query_opt(FIRST_DUE, &[&q])?
            .and_then(|r| r.get::<_, Option<i64>>(0))
            .map(|wait| Duration::from_millis(wait.max(0) as u64)))
    }

    fn run_of(&mut self, contact: &str, limit: usize) -> Result<Vec<PendingRow>, Error> {
        let statement = self.statement(RUN_OF)?;
        let rows = self
            .tx
            .query(&statement, &[&self.queue, &contact, &(limit as i64)])
            .map_err(|e| self.target.failure(&e))?;
        Ok(rows
            .iter()
            .map(|r| PendingRow {
                id: r.get(0),
                instance_id: r.get(1),
                contact_id: r.get(2),
                body: r.get(3),
                enqueued_ms: r.get(4),
                attempts: r.get(5),
                solo: r.get(6),
            })
            .collect())
    }

    fn drop_head(&mut self, contact: &str) -> Result<(), Error> {
        let q = self.queue;
        self.execute(DROP_HEAD, &[&q, &contact]).map(drop)
    }

    fn load_pacer(&mut self) -> Result<Option<PacerState>, Error> {
        let q = self.queue;
        Ok(self.query_opt(LOAD_PACER, &[&q])?.map(|r| PacerState {
            rate: r.get(0),
            start_rate: r.get(1),
            burst: r.get(2),
            tokens: r.get(3),
            refilled_us: r.get(4),
            grown_us: r.get(5),
            cut_us: r.get(6),
            ceiling: r.get(7),
            unavailable_us: r.get(8),
        }))
    }

    fn store_pacer(&mut self, s: &PacerState) -> Result<(), Error> {
        let q = self.queue;
        self.execute(
            STORE_PACER,
            &[
                &q,
                &s.rate,
                &s.start_rate,
                &s.burst,
                &s.tokens,
                &s.refilled_us,
                &s.grown_us,
                &s.cut_us,
                &s.ceiling,
                &s.unavailable_us,
            ],
        )
        .map(drop)
    }

    fn lease(
        &mut self,
        contact: &str,
        token: &str,
        hold: Duration,
        take: bool,
    ) -> Result<(), Error> {
        let q = self.queue;
        self.execute(LEASE, &[&q, &contact, &token, &ms(hold), &take])
            .map(drop)
    }

    fn release(&mut self, contact: &str, token: &str) -> Result<bool, Error> {
        let q = self.queue;
        Ok(self.execute(RELEASE, &[&q, &contact, &token])? == 1)
    }

    fn delete_pending(&mut self, id: i64) -> Result<bool, Error> {
        let q = self.queue;
        self.change(DELETE_PENDING, &[&q, &id])
    }

    fn reschedule(&mut self, id: i64, delay: Duration, error: &Error) -> Result<(), Error> {
        let q = self.queue;
        let (status, code, message) = (error.status().code(), error.code(), error.message());
        self.change(RESCHEDULE, &[&q, &id, &ms(delay), &status, &code, &message])
            .map(drop)
    }

    fn set_solo(&mut self, id: i64) -> Result<(), Error> {
        let q = self.queue;
        self.execute(SET_SOLO, &[&q, &id]).map(drop)
    }

    fn bury(&mut self, id: i64, error: &Error) -> Result<bool, Error> {
        let q = self.queue;
        let (status, code, message) = (error.status().code(), error.code(), error.message());
        self.change(BURY, &[&q, &id, &status, &code, &message])
    }

    fn bump(&mut self, counter: Counter, by: i64) -> Result<(), Error> {
        let q = self.queue;
        self.execute(BUMP, &[&q, &counter.name(), &by]).map(drop)
    }

    fn commit(mut self: Box<Self>) -> Result<(), Error> {
        for contact in std::mem::take(&mut self.touched) {
            self.fix_head(&contact)?;
        }
        let target = self.target;
        self.tx.commit().map_err(|e| target.failure(&e))
    }
}
