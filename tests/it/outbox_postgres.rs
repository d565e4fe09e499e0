//! What only the PostgreSQL store has (issue 29): the database going away and coming back,
//! its schema version, queues side by side in one database, hosts opening at once, and the
//! password kept out of everything. The behaviour both stores share is tested on both, from
//! one body, in tests/it/outbox.rs (`on_both_stores!`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use connect_contact::{Outbox, OutboxOptions, Status};
use connect_emulator::Faults;

use crate::outbox::{check_log_once_and_in_order, check_state, client, emulator, fast, update};
use crate::support::postgres::{Postgres, PASSWORD};

fn queue(name: &str) -> OutboxOptions {
    let mut o = fast();
    o.queue = name.into();
    o
}

#[test]
fn the_database_going_away_fails_enqueues_promptly_and_delivery_resumes_when_it_returns() {
    let emulator = emulator(true, Faults::default());
    // A server of its own: this test crashes it.
    let pg = Postgres::start();
    let url = pg.database("restart");
    let outbox = Outbox::open(client(&emulator.endpoint_url()), &url, fast()).unwrap();
    for seq in 0..20 {
        outbox.enqueue(&update(seq, 4)).unwrap();
    }
    assert!(outbox.flush(Duration::from_secs(30)).unwrap());

    pg.crash();
    let started = Instant::now();
    let e = outbox.enqueue(&update(20, 4)).unwrap_err();
    // Refused at once (the server is down, the connection is refused), and never later than
    // the client's deadline (5 s): nothing hangs.
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(e.status(), Status::Storage, "{e:?}");
    let named = format!(
        "outbox database postgresql://connect@127.0.0.1:{}/t_restart_{} (queue default): ",
        pg.port(),
        std::process::id()
    );
    assert!(e.message().starts_with(&named), "{}", e.message());
    for shown in [
        e.message().to_string(),
        format!("{e:?}"),
        format!("{outbox:?}"),
    ] {
        assert!(!shown.contains(PASSWORD), "the password in {shown}");
    }
    // What failed was not stored: the update goes again below, under the same number.

    pg.resume();
    // The handle's session reconnects by itself: the first enqueue after the restart works.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match outbox.enqueue(&update(20, 4)) {
            Ok(_) => break,
            Err(e) if Instant::now() < deadline => {
                assert_eq!(e.status(), Status::Storage, "{e:?}");
                std::thread::sleep(Duration::from_millis(100));
            }
            Err(e) => panic!("no enqueue within 30 s of the restart: {e:?}"),
        }
    }
    for seq in 21..40 {
        outbox.enqueue(&update(seq, 4)).unwrap();
    }
    // The delivery threads reconnect too.
    assert!(outbox.flush(Duration::from_secs(60)).unwrap());
    let stats = outbox.stats();
    assert_eq!((stats.pending, stats.dead, stats.delivered), (0, 0, 40));
    check_state(&emulator, 4, &(0..40).collect());
    check_log_once_and_in_order(&emulator.updates(), &(0..40).collect());
    outbox.close();
}

#[test]
fn tables_of_a_newer_schema_are_refused_naming_the_database() {
    let pg = Postgres::shared();
    let url = pg.database("newer-schema");
    let client = client(&crate::support::dead_url());
    Outbox::open(Arc::clone(&client), &url, fast())
        .unwrap()
        .close();
    let db = format!("t_newer_schema_{}", std::process::id());
    pg.psql(&db, "INSERT INTO connect_outbox_schema(version) VALUES (2)");
    let e = Outbox::open(client, &url, fast()).unwrap_err();
    assert_eq!(e.status(), Status::Storage);
    assert!(
        e.message().contains(&format!("/{db} (queue default): "))
            && e.message()
                .contains("outbox schema version 2; this version reads version 1"),
        "{}",
        e.message()
    );
    assert!(!e.message().contains(PASSWORD));
}

#[test]
fn queues_in_one_database_keep_apart() {
    let emulator = emulator(true, Faults::default());
    let url = Postgres::shared().database("queues");
    // Queue a cannot deliver (nobody listens there); queue b can.
    let a = Outbox::open(client(&crate::support::dead_url()), &url, queue("a")).unwrap();
    let b = Outbox::open(client(&emulator.endpoint_url()), &url, queue("b")).unwrap();
    for seq in 0..5 {
        a.enqueue(&update(seq, 2)).unwrap();
    }
    b.enqueue(&update(100, 2)).unwrap();
    assert!(b.flush(Duration::from_secs(20)).unwrap());
    assert_eq!(b.stats().pending, 0);
    assert_eq!(b.stats().delivered, 1);
    assert_eq!(a.stats().pending, 5, "queue b delivered queue a's updates");
    assert!(!a.flush(Duration::from_millis(200)).unwrap());
    let log = emulator.updates();
    assert_eq!(log.as_array().unwrap().len(), 1, "{log}");
    a.close();
    b.close();
}

#[test]
fn a_queue_is_a_postgresql_option_and_is_checked_by_name() {
    let client = client(&crate::support::dead_url());
    let file = crate::outbox::fresh_file("queue-option");
    let e = Outbox::open(Arc::clone(&client), &file, queue("a")).unwrap_err();
    assert_eq!(e.status(), Status::InvalidConfig);
    assert!(e.message().contains("outbox option queue"), "{e:?}");
    assert!(!file.exists(), "a refused open made the file");
    let e = OutboxOptions::from_json(r#"{"queue": "no spaces"}"#).unwrap_err();
    assert!(
        e.message().contains("outbox option queue: must be 1 to 64"),
        "{e:?}"
    );
    let o = OutboxOptions::from_json(r#"{"queue": "eu-west-2.acct-1"}"#).unwrap();
    assert_eq!(o.queue, "eu-west-2.acct-1");
}

#[test]
fn hosts_opening_a_new_database_at_once_do_not_race_the_migration() {
    let url = Postgres::shared().database("migration-race");
    let client = client(&crate::support::dead_url());
    let opened: Vec<_> = (0..8)
        .map(|_| {
            let (client, url) = (Arc::clone(&client), url.clone());
            std::thread::spawn(move || {
                let mut o = fast();
                o.workers = 1;
                Outbox::open(client, &url, o).map(Outbox::close)
            })
        })
        .collect();
    for handle in opened {
        handle.join().unwrap().unwrap();
    }
}

#[test]
fn a_bad_url_is_refused_without_showing_it() {
    let client = client(&crate::support::dead_url());
    for url in [
        format!("postgresql://connect:{PASSWORD}@127.0.0.1:5/db?sslmode=sometimes"),
        format!("postgres://connect:{PASSWORD}@127.0.0.1:99999/db"),
    ] {
        let e = Outbox::open(Arc::clone(&client), &url, fast()).unwrap_err();
        assert_eq!(e.status(), Status::InvalidConfig, "{e:?}");
        assert!(e.message().starts_with("outbox database URL: "), "{e:?}");
        assert!(!e.message().contains(PASSWORD), "{e:?}");
    }
    // Nobody listens: a storage error naming the database, promptly.
    let started = Instant::now();
    let e = Outbox::open(
        client,
        format!("postgresql://connect:{PASSWORD}@127.0.0.1:9/db?sslmode=disable"),
        fast(),
    )
    .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(6));
    assert_eq!(e.status(), Status::Storage, "{e:?}");
    assert!(
        e.message()
            .starts_with("outbox database postgresql://connect@127.0.0.1:9/db (queue default): "),
        "{e:?}"
    );
    assert!(!e.message().contains(PASSWORD), "{e:?}");
}

#[test]
fn the_c_abi_opens_a_postgresql_store_through_the_same_call() {
    use connect_contact::ffi::*;
    use connect_emulator::{DEFAULT_ACCESS_KEY_ID, DEFAULT_REGION, DEFAULT_SECRET_ACCESS_KEY};
    use std::ffi::{CStr, CString};
    use std::ptr;

    // connect_client_new reads the process environment, as the C ABI promises: run clean.
    if crate::support::in_clean_process(
        "outbox_postgres::the_c_abi_opens_a_postgresql_store_through_the_same_call",
    ) {
        return;
    }
    let emulator = emulator(true, Faults::default());
    let url = CString::new(Postgres::shared().database("c-abi")).unwrap();
    let config = CString::new(
        serde_json::json!({"region": DEFAULT_REGION, "endpoint_url": emulator.endpoint_url(),
               "access_key_id": DEFAULT_ACCESS_KEY_ID, "secret_access_key": DEFAULT_SECRET_ACCESS_KEY,
               "allow_http": true})
        .to_string(),
    )
    .unwrap();
    unsafe {
        let mut client = ptr::null_mut();
        assert_eq!(connect_client_new(config.as_ptr(), &mut client), Status::Ok);
        let mut outbox = ptr::null_mut();
        let bad = CString::new(r#"{"queue": "has space"}"#).unwrap();
        assert_eq!(
            connect_outbox_open(
                client,
                url.as_ptr(),
                bad.as_ptr(),
                None,
                ptr::null_mut(),
                &mut outbox
            ),
            Status::InvalidConfig
        );
        let message = CStr::from_ptr(connect_last_error_message())
            .to_str()
            .unwrap();
        assert!(message.contains("outbox option queue"), "{message}");
        let options = CString::new(r#"{"rate": 100, "burst": 10, "queue": "c-abi"}"#).unwrap();
        assert_eq!(
            connect_outbox_open(
                client,
                url.as_ptr(),
                options.as_ptr(),
                None,
                ptr::null_mut(),
                &mut outbox
            ),
            Status::Ok
        );
        let request = CString::new(
            r#"{"InstanceId": "outbox-instance", "ContactId": "c0", "Name": "from C"}"#,
        )
        .unwrap();
        let mut id = 0;
        assert_eq!(
            connect_outbox_enqueue(outbox, request.as_ptr(), &mut id),
            Status::Ok
        );
        assert_eq!(connect_outbox_flush(outbox, 20_000), Status::Ok);
        let mut stats = ptr::null_mut();
        assert_eq!(connect_outbox_stats(outbox, &mut stats), Status::Ok);
        let text = CStr::from_ptr(stats).to_str().unwrap().to_string();
        connect_string_free(stats);
        let stats: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            (stats["delivered"].as_u64(), stats["pending"].as_u64()),
            (Some(1), Some(0))
        );
        assert!(!text.contains(PASSWORD));
        connect_outbox_close(outbox);
        connect_client_free(client);
    }
    assert_eq!(
        emulator.contact("outbox-instance", "c0").unwrap()["Name"],
        "from C"
    );
}

/// Rows of the heads table that differ from what the updates imply (each contact with pending
/// updates: its first, and when that is due), both read in one snapshot.
const HEADS_WRONG: &str = "WITH implied AS (
        SELECT o.queue, o.contact, o.id AS head, GREATEST(o.next_ms, o.enqueued_ms) AS next_ms
        FROM connect_outbox o
        JOIN (SELECT queue, contact, MIN(id) AS id FROM connect_outbox WHERE NOT dead
              GROUP BY queue, contact) f ON o.id = f.id),
     kept AS (SELECT queue, contact, head, next_ms FROM connect_outbox_heads)
     SELECT (SELECT COUNT(*) FROM (SELECT * FROM kept EXCEPT SELECT * FROM implied) a)
          + (SELECT COUNT(*) FROM (SELECT * FROM implied EXCEPT SELECT * FROM kept) b)";

#[test]
fn the_heads_follow_every_change_of_the_updates() {
    let pg = Postgres::shared();
    let url = pg.database("heads");
    let db = format!("t_heads_{}", std::process::id());
    // Nobody listens: every call fails and is retried later (each retry a new due time).
    let mut o = fast();
    o.max_backoff = Duration::from_millis(100);
    let failing = Outbox::open(client(&crate::support::dead_url()), &url, o).unwrap();
    for seq in 0..12 {
        failing.enqueue(&update(seq, 3)).unwrap();
    }
    let mut checked = 0;
    let deadline = Instant::now() + Duration::from_secs(3);
    while Instant::now() < deadline {
        assert_eq!(pg.psql(&db, HEADS_WRONG), "0", "after {checked} checks");
        checked += 1;
        std::thread::sleep(Duration::from_millis(50));
    }
    let retried: i64 = pg
        .psql(&db, "SELECT COALESCE(SUM(attempts), 0) FROM connect_outbox")
        .parse()
        .unwrap();
    assert!(
        retried >= 6,
        "only {retried} attempts: the retries were not exercised"
    );
    failing.close();
    // Delivered, dead and revived: the heads stay right.
    let emulator = emulator(false, Faults::default());
    emulator.create_contact(crate::outbox::INSTANCE, Some("c0"));
    let outbox = Outbox::open(client(&emulator.endpoint_url()), &url, fast()).unwrap();
    assert!(outbox.flush(Duration::from_secs(30)).unwrap());
    assert_eq!(pg.psql(&db, HEADS_WRONG), "0");
    let dead = outbox.dead_letters().unwrap();
    assert_eq!(dead.len(), 8, "c1's and c2's updates");
    emulator.create_contact(crate::outbox::INSTANCE, Some("c1"));
    for d in &dead {
        assert!(outbox.retry_dead(d.id).unwrap());
    }
    assert_eq!(pg.psql(&db, HEADS_WRONG), "0");
    assert!(outbox.flush(Duration::from_secs(30)).unwrap());
    assert_eq!(pg.psql(&db, HEADS_WRONG), "0");
    assert_eq!(outbox.dead_letters().unwrap().len(), 4, "c2's, dead again");
    assert_eq!(
        pg.psql(&db, "SELECT COUNT(*) FROM connect_outbox_heads"),
        "0"
    );
    outbox.close();
}

#[test]
fn tls_to_the_database_is_verified_with_the_given_roots() {
    let emulator = emulator(true, Faults::default());
    let pg = Postgres::start_tls();
    let url = pg.database("tls");
    let ca = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/tls/ca.pem");
    let verified = url.replace(
        "sslmode=disable",
        &format!("sslmode=verify-full&sslrootcert={}", ca.display()),
    );
    let outbox = Outbox::open(client(&emulator.endpoint_url()), &verified, fast()).unwrap();
    outbox.enqueue(&update(0, 1)).unwrap();
    assert!(outbox.flush(Duration::from_secs(20)).unwrap());
    assert_eq!(outbox.stats().delivered, 1);
    outbox.close();
    // The built-in roots do not know the tests' CA: refused, in every TLS mode (none accepts
    // a server it cannot verify).
    for mode in ["require", "verify-ca", "verify-full", "prefer"] {
        let e = Outbox::open(
            client(&emulator.endpoint_url()),
            url.replace("sslmode=disable", &format!("sslmode={mode}")),
            fast(),
        )
        .unwrap_err();
        assert_eq!(e.status(), Status::Storage, "{mode}: {e:?}");
        assert!(
            e.message().to_lowercase().contains("certificate"),
            "{mode}: {}",
            e.message()
        );
        assert!(!e.message().contains(PASSWORD));
    }
    // A server that takes TLS only refuses a session without it, and says so.
    let e = Outbox::open(client(&emulator.endpoint_url()), &url, fast()).unwrap_err();
    assert_eq!(e.status(), Status::Storage, "{e:?}");
    assert!(
        e.message().contains("no encryption") && e.message().contains("SQLSTATE 28000"),
        "{}",
        e.message()
    );
}
