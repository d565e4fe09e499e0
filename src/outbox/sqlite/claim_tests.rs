//! Unit tests of the outbox's claim path (issue 26 item 8): the heads table the triggers keep,
//! and that claiming, recording and flushing read no more of the file with a large backlog.

use std::path::PathBuf;

use super::deliver_now_ms as now_ms;
use super::file::open_file;
use super::heads::{FIRST_DUE, PENDING_UP_TO, READY_HEAD, RELEASE, RUN_OF};
use rusqlite::{params, Connection, StatementStatus};

fn file(name: &str) -> (PathBuf, Connection) {
    let dir = std::env::temp_dir().join(format!("outbox-claim-tests-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{name}.db"));
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    let conn = open_file(&path).unwrap();
    (path, conn)
}

/// `rows` pending updates over `contacts` contacts (the triggers make their heads), in one
/// statement; due at `due_ms`.
fn fill(conn: &Connection, rows: i64, contacts: i64, due_ms: i64) {
    conn.execute(
        "INSERT INTO outbox(contact, instance_id, contact_id, body, enqueued_ms, next_ms)
         WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ?1 - 1)
         SELECT 'i' || char(31) || 'c' || (i % ?2), 'i', 'c' || (i % ?2), '{\"Name\":\"n\"}', 1, ?3
         FROM n",
        params![rows, contacts, due_ms],
    )
    .unwrap();
}

/// The heads the rows imply: per contact with pending rows, the first and its due time.
fn expected_heads(conn: &Connection) -> Vec<(String, i64, i64)> {
    let mut stmt = conn
        .prepare(
            "SELECT o.contact, o.id, max(o.next_ms, o.enqueued_ms) FROM outbox o
             JOIN (SELECT MIN(id) AS id FROM outbox WHERE dead = 0 GROUP BY contact) h
             ON o.id = h.id ORDER BY o.contact",
        )
        .unwrap();
    let rows = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap();
    rows.collect::<Result<_, _>>().unwrap()
}

fn heads(conn: &Connection) -> Vec<(String, i64, i64)> {
    let mut stmt = conn
        .prepare("SELECT contact, head, next_ms FROM outbox_heads ORDER BY contact")
        .unwrap();
    let rows = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap();
    rows.collect::<Result<_, _>>().unwrap()
}

#[test]
fn the_triggers_keep_one_head_per_contact_through_every_change() {
    let (_path, conn) = file("triggers");
    fill(&conn, 60, 7, 0);
    assert_eq!(heads(&conn), expected_heads(&conn));
    let mut rng = 0x2545_F491_4F6C_DD1Du64;
    let mut next = || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    // Every kind of change the outbox makes, in a random order: enqueue, delivery (delete),
    // a dead letter (bury), a retried dead letter (revive, it may become the head again), a
    // retry time, a discarded dead letter.
    for step in 0..400 {
        let id = (next() % 80) as i64 + 1;
        let sql = match next() % 6 {
            0 => {
                fill(&conn, 1, 7, (next() % 1000) as i64);
                continue;
            }
            1 => "DELETE FROM outbox WHERE id = ?1 AND dead = 0",
            2 => "UPDATE outbox SET dead = 1 WHERE id = ?1 AND dead = 0",
            3 => "UPDATE outbox SET dead = 0, next_ms = 0, enqueued_ms = 5 WHERE id = ?1 AND dead = 1",
            4 => "UPDATE outbox SET next_ms = next_ms + 100 WHERE id = ?1",
            _ => "DELETE FROM outbox WHERE id = ?1 AND dead = 1",
        };
        conn.execute(sql, [id]).unwrap();
        assert_eq!(
            heads(&conn),
            expected_heads(&conn),
            "after step {step}: {sql}"
        );
    }
}

#[test]
fn an_existing_file_gets_its_heads_from_the_rows_already_there() {
    let (path, conn) = file("backfill");
    fill(&conn, 30, 4, 0);
    conn.execute("UPDATE outbox SET dead = 1 WHERE id IN (1, 6)", [])
        .unwrap();
    let want = expected_heads(&conn);
    // As a file made before the heads table: no table, no triggers.
    conn.execute_batch(
        "DROP TABLE outbox_heads;
         DROP TRIGGER outbox_heads_on_insert; DROP TRIGGER outbox_heads_on_revive;
         DROP TRIGGER outbox_heads_on_due; DROP TRIGGER outbox_heads_on_delete;
         DROP TRIGGER outbox_heads_on_bury;",
    )
    .unwrap();
    drop(conn);
    let conn = open_file(&path).unwrap();
    assert_eq!(heads(&conn), want);
    assert_eq!(want.len(), 4);
}

/// Runs `sql` to the end; (rows stepped in full scans, virtual machine steps).
fn cost(conn: &Connection, sql: &str, params: impl rusqlite::Params) -> (i32, i32) {
    let mut stmt = conn.prepare(sql).unwrap();
    let mut rows = stmt.query(params).unwrap();
    while rows.next().unwrap().is_some() {}
    drop(rows);
    (
        stmt.get_status(StatementStatus::FullscanStep),
        stmt.get_status(StatementStatus::VmStep),
    )
}

/// The cost of each statement of the claim, record and flush paths on a file holding
/// `rows` updates over `rows / 2` contacts, all but one contact's not due for an hour.
fn costs(rows: i64) -> Vec<(&'static str, (i32, i32))> {
    let (_path, conn) = file(&format!("cost-{rows}"));
    let now = now_ms();
    fill(&conn, rows, rows / 2, now + 3_600_000);
    conn.execute("UPDATE outbox SET next_ms = 0 WHERE id = 7", [])
        .unwrap();
    let contact = "i\u{1f}c6";
    let plan: Vec<String> = {
        let mut stmt = conn
            .prepare(&format!("EXPLAIN QUERY PLAN {READY_HEAD}"))
            .unwrap();
        let rows = stmt.query_map([now], |r| r.get::<_, String>(3)).unwrap();
        rows.collect::<Result<_, _>>().unwrap()
    };
    assert!(
        plan.iter().all(|step| !step.starts_with("SCAN")),
        "the ready head is found without a scan: {plan:?}"
    );
    vec![
        ("ready head", cost(&conn, READY_HEAD, [now])),
        ("first due", cost(&conn, FIRST_DUE, [])),
        ("pending up to", cost(&conn, PENDING_UP_TO, [rows / 2])),
        (
            "run of a contact",
            cost(&conn, RUN_OF, params![contact, 50]),
        ),
        (
            "lease",
            cost(
                &conn,
                "UPDATE outbox_heads SET lease_owner = ?1, lease_until = ?2 WHERE contact = ?3",
                params!["me", now + 1000, contact],
            ),
        ),
        ("release", cost(&conn, RELEASE, params![contact, "me"])),
        (
            "retry time of a head",
            cost(
                &conn,
                "UPDATE outbox SET next_ms = ?2 WHERE id = ?1 AND dead = 0",
                params![7, now + 50],
            ),
        ),
        (
            "bury a head",
            cost(
                &conn,
                "UPDATE outbox SET dead = 1 WHERE id = ?1 AND dead = 0",
                [7],
            ),
        ),
        (
            "revive it",
            cost(
                &conn,
                "UPDATE outbox SET dead = 0, next_ms = 0 WHERE id = ?1 AND dead = 1",
                [7],
            ),
        ),
        (
            "deliver a head",
            cost(&conn, "DELETE FROM outbox WHERE id = ?1 AND dead = 0", [7]),
        ),
        (
            "enqueue",
            cost(
                &conn,
                "INSERT INTO outbox(contact, instance_id, contact_id, body, enqueued_ms)
                 VALUES (?1, 'i', 'c6', '{}', ?2)",
                params![contact, now],
            ),
        ),
    ]
}

#[test]
fn claiming_recording_and_flushing_cost_the_same_with_a_large_backlog() {
    let (small, large) = (costs(200), costs(40_000));
    for ((what, (scan_small, steps_small)), (_, (scan_large, steps_large))) in
        small.iter().zip(&large)
    {
        assert_eq!(
            (*scan_small, *scan_large),
            (0, 0),
            "{what}: rows read by full scans"
        );
        // Index lookups: a B-tree one level deeper at most, no step per row.
        assert!(
            *steps_large <= steps_small + 20,
            "{what}: {steps_small} steps with 200 rows, {steps_large} with 40,000"
        );
    }
}
