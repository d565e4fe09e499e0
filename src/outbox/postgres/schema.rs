//! The outbox's tables in PostgreSQL, with a version: made on first open, migrated forward
//! in one transaction under an advisory lock (hosts opening at once wait for each other
//! instead of racing), refused when a newer version made them.

use postgres::Client;

use super::connect::Target;
use crate::error::Error;

/// The version of the tables below, kept in `connect_outbox_schema`.
pub(super) const SCHEMA_VERSION: i32 = 1;

/// The advisory lock the migration takes ("CCOB", as the file's application id).
const MIGRATION_LOCK: i64 = 0x4343_4F42;

/// Every table carries the queue: one database holds any number of queues (one per account
/// and Region), each with its own updates, heads, pacer and counters.
///
/// `connect_outbox_heads` is the SQLite file's heads table: one row per contact with pending
/// updates, its first pending update and when that is due, and the contact's lease. The
/// store keeps it in each step's transaction (see `PgTx::commit`) rather than in triggers, so
/// that a head is recomputed after the row lock that orders it against a concurrent enqueue.
const SCHEMA_V1: &str = "
    CREATE TABLE connect_outbox(
        id bigserial PRIMARY KEY,
        queue text NOT NULL,
        contact text NOT NULL,
        instance_id text NOT NULL,
        contact_id text NOT NULL,
        body text NOT NULL,
        enqueued_ms bigint NOT NULL,
        dead boolean NOT NULL DEFAULT false,
        attempts bigint NOT NULL DEFAULT 0,
        next_ms bigint NOT NULL DEFAULT 0,
        solo boolean NOT NULL DEFAULT false,
        error_status integer,
        error_code text,
        error_message text);
    CREATE INDEX connect_outbox_pending ON connect_outbox(queue, contact, id) WHERE NOT dead;
    CREATE INDEX connect_outbox_dead ON connect_outbox(queue, id) WHERE dead;
    CREATE TABLE connect_outbox_heads(
        queue text NOT NULL,
        contact text NOT NULL,
        head bigint NOT NULL,
        next_ms bigint NOT NULL,
        lease_owner text,
        lease_until bigint NOT NULL DEFAULT 0,
        PRIMARY KEY (queue, contact));
    CREATE INDEX connect_outbox_heads_due
        ON connect_outbox_heads(queue, (GREATEST(next_ms, lease_until)), head);
    CREATE INDEX connect_outbox_heads_head ON connect_outbox_heads(queue, head);
    CREATE TABLE connect_outbox_pacer(
        queue text PRIMARY KEY,
        rate double precision NOT NULL,
        start_rate double precision NOT NULL,
        burst double precision NOT NULL,
        tokens double precision NOT NULL,
        refilled_us bigint NOT NULL,
        grown_us bigint NOT NULL,
        cut_us bigint NOT NULL,
        ceiling double precision NOT NULL,
        unavailable_us bigint NOT NULL);
    CREATE TABLE connect_outbox_counters(
        queue text NOT NULL,
        name text NOT NULL,
        value bigint NOT NULL,
        PRIMARY KEY (queue, name));
    -- One enqueue, one round trip. The contact's head row is locked (made, if need be) before
    -- the update takes its id, so the enqueues of one contact take their ids in the order
    -- they commit, whichever hosts make them: delivery in id order is delivery in the order
    -- the enqueues were acknowledged.
    CREATE FUNCTION connect_outbox_enqueue(q text, c text, i text, k text, b text)
    RETURNS bigint LANGUAGE plpgsql AS $$
    DECLARE
        new_id bigint;
        now_ms bigint := (extract(epoch from clock_timestamp()) * 1000)::bigint;
    BEGIN
        INSERT INTO connect_outbox_heads AS h(queue, contact, head, next_ms)
            VALUES (q, c, 9223372036854775807, now_ms)
            ON CONFLICT (queue, contact) DO UPDATE SET head = h.head;
        INSERT INTO connect_outbox(queue, contact, instance_id, contact_id, body, enqueued_ms)
            VALUES (q, c, i, k, b, now_ms) RETURNING id INTO new_id;
        UPDATE connect_outbox_heads
            SET next_ms = CASE WHEN new_id < head THEN now_ms ELSE next_ms END,
                head = LEAST(head, new_id)
            WHERE queue = q AND contact = c;
        RETURN new_id;
    END $$;";

/// Makes or migrates the tables.
pub(super) fn migrate(client: &mut Client, target: &Target) -> Result<(), Error> {
    let fail = |e: postgres::Error| target.failure(&e);
    let mut tx = client.transaction().map_err(fail)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .map_err(fail)?;
    tx.batch_execute("CREATE TABLE IF NOT EXISTS connect_outbox_schema(version integer NOT NULL)")
        .map_err(fail)?;
    let version: Option<i32> = tx
        .query_one("SELECT max(version) FROM connect_outbox_schema", &[])
        .map_err(fail)?
        .get(0);
    match version {
        None => {
            tx.batch_execute(SCHEMA_V1).map_err(fail)?;
            tx.execute(
                "INSERT INTO connect_outbox_schema(version) VALUES ($1)",
                &[&SCHEMA_VERSION],
            )
            .map_err(fail)?;
        }
        Some(SCHEMA_VERSION) => {}
        Some(v) if v > SCHEMA_VERSION => {
            return Err(target.refused(&format!(
                "its tables were made by a newer version of connect-contact (outbox schema \
                 version {v}; this version reads version {SCHEMA_VERSION}); use that version \
                 or newer"
            )))
        }
        Some(v) => {
            return Err(target.refused(&format!(
                "its tables have an unknown outbox schema version {v} (this version reads \
                 version {SCHEMA_VERSION})"
            )))
        }
    }
    tx.commit().map_err(fail)
}
