//! The outbox's heads table (one row per contact with pending updates, kept by triggers) and
//! the queries the delivery threads run on it: what makes claiming cost the same whatever the
//! backlog (docs/outbox.md, "Claiming does not slow with the backlog").

use rusqlite::{Connection, TransactionBehavior};

/// The contacts that have pending updates, one row each: the contact's first pending update
/// (`head`), when that update is due (`next_ms`: its retry time, or its enqueue time), and the
/// contact's lease (who is sending its run, until when). Claiming reads the ready contact
/// with the earliest due time from the index on `max(next_ms, lease_until)`, so its cost does
/// not grow with the backlog; idle threads sleep until the first due time. Triggers keep
/// `head` and `next_ms` right on every change of `outbox` (insert, delete, dead or not, a new
/// retry time), in the transaction that makes it, whatever code makes it; the delivery
/// threads write the lease. The rows' own `lease_owner` and `lease_until` columns (how files
/// before this table leased) are read once, by the fill below, and no longer written.
/// docs/outbox.md, "Several processes on one file".
pub(super) const HEADS_SCHEMA: &str = "
    CREATE TABLE outbox_heads(
        contact TEXT PRIMARY KEY,
        head INTEGER NOT NULL,
        next_ms INTEGER NOT NULL,
        lease_owner TEXT,
        lease_until INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;
    CREATE INDEX outbox_heads_by_due ON outbox_heads(max(next_ms, lease_until), head);
    CREATE INDEX outbox_heads_by_head ON outbox_heads(head);
    CREATE INDEX outbox_heads_by_owner ON outbox_heads(lease_owner) WHERE lease_owner IS NOT NULL;
    CREATE TRIGGER outbox_heads_on_insert AFTER INSERT ON outbox WHEN new.dead = 0 BEGIN
        INSERT OR IGNORE INTO outbox_heads(contact, head, next_ms)
            VALUES (new.contact, new.id, max(new.next_ms, new.enqueued_ms));
        UPDATE outbox_heads SET head = new.id, next_ms = max(new.next_ms, new.enqueued_ms)
            WHERE contact = new.contact AND head > new.id;
    END;
    CREATE TRIGGER outbox_heads_on_revive AFTER UPDATE OF dead ON outbox
        WHEN old.dead <> 0 AND new.dead = 0 BEGIN
        INSERT OR IGNORE INTO outbox_heads(contact, head, next_ms)
            VALUES (new.contact, new.id, max(new.next_ms, new.enqueued_ms));
        UPDATE outbox_heads SET head = new.id, next_ms = max(new.next_ms, new.enqueued_ms)
            WHERE contact = new.contact AND head > new.id;
    END;
    CREATE TRIGGER outbox_heads_on_due AFTER UPDATE OF next_ms, enqueued_ms ON outbox
        WHEN new.dead = 0 BEGIN
        UPDATE outbox_heads SET next_ms = max(new.next_ms, new.enqueued_ms)
            WHERE contact = new.contact AND head = new.id;
    END;
    CREATE TRIGGER outbox_heads_on_delete AFTER DELETE ON outbox WHEN old.dead = 0 BEGIN
        DELETE FROM outbox_heads WHERE contact = old.contact AND head = old.id
            AND NOT EXISTS (SELECT 1 FROM outbox WHERE dead = 0 AND contact = old.contact);
        UPDATE outbox_heads SET
            head = (SELECT id FROM outbox WHERE dead = 0 AND contact = old.contact
                    ORDER BY id LIMIT 1),
            next_ms = (SELECT max(next_ms, enqueued_ms) FROM outbox
                       WHERE dead = 0 AND contact = old.contact ORDER BY id LIMIT 1)
            WHERE contact = old.contact AND head = old.id;
    END;
    CREATE TRIGGER outbox_heads_on_bury AFTER UPDATE OF dead ON outbox
        WHEN old.dead = 0 AND new.dead <> 0 BEGIN
        DELETE FROM outbox_heads WHERE contact = old.contact AND head = old.id
            AND NOT EXISTS (SELECT 1 FROM outbox WHERE dead = 0 AND contact = old.contact);
        UPDATE outbox_heads SET
            head = (SELECT id FROM outbox WHERE dead = 0 AND contact = old.contact
                    ORDER BY id LIMIT 1),
            next_ms = (SELECT max(next_ms, enqueued_ms) FROM outbox
                       WHERE dead = 0 AND contact = old.contact ORDER BY id LIMIT 1)
            WHERE contact = old.contact AND head = old.id;
    END;
    INSERT INTO outbox_heads(contact, head, next_ms, lease_owner, lease_until)
        SELECT o.contact, o.id, max(o.next_ms, o.enqueued_ms),
               CASE WHEN o.lease_until > 0 THEN o.lease_owner END, o.lease_until
        FROM outbox o
        JOIN (SELECT MIN(id) AS id FROM outbox WHERE dead = 0 GROUP BY contact) h ON o.id = h.id;";

/// Makes the heads table (with its indexes and triggers) when the file has none yet, filling
/// it from the rows already there (a file made before it existed, or by a copy that did not
/// make it), in one transaction so that no update slips between the fill and the triggers.
pub(super) fn ensure_heads(conn: &mut Connection) -> rusqlite::Result<()> {
    let exists = |conn: &Connection| {
        conn.query_row(
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'outbox_heads'",
            [],
            |r| r.get::<_, i64>(0),
        )
        .map(|n| n > 0)
    };
    if exists(conn)? {
        return Ok(());
    }
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    if !exists(&tx)? {
        tx.execute_batch(HEADS_SCHEMA)?;
    }
    tx.commit()
}

/// The ready contact due first (ties: the oldest head), from the due index.
pub(super) const READY_HEAD: &str =
    "SELECT contact FROM outbox_heads WHERE max(next_ms, lease_until) <= ?1
     ORDER BY max(next_ms, lease_until), head LIMIT 1";
/// Whether any update at or below an id is pending: a contact's head is its first pending
/// update, so this is an index lookup, not a count.
pub(super) const PENDING_UP_TO: &str = "SELECT EXISTS(SELECT 1 FROM outbox_heads WHERE head <= ?1)";
/// A contact's pending run, in order.
pub(super) const RUN_OF: &str =
    "SELECT id, instance_id, contact_id, body, enqueued_ms, attempts, solo FROM outbox
     WHERE dead = 0 AND contact = ?1 ORDER BY id LIMIT ?2";
/// The first due time, from the same index.
pub(super) const FIRST_DUE: &str = "SELECT max(next_ms, lease_until) FROM outbox_heads
     ORDER BY max(next_ms, lease_until) LIMIT 1";
/// Frees a contact's lease when claim `?2` holds it.
pub(super) const RELEASE: &str = "UPDATE outbox_heads SET lease_owner = NULL, lease_until = 0
     WHERE contact = ?1 AND lease_owner = ?2";
