//! Concurrency and the state file.

mod common;

use std::time::{Duration, Instant};

use common::{agent, contact_path, describe, send, start, update, Signer};

#[test]
fn eight_clients_times_500_updates_are_all_stored() {
    const THREADS: usize = 8;
    const UPDATES: usize = 500;
    let emu = start(|_| {});
    emu.create_contact("inst", Some("busy"));
    let deadline = Instant::now() + Duration::from_secs(300);
    std::thread::scope(|scope| {
        for t in 0..THREADS {
            let emu = &emu;
            scope.spawn(move || {
                let agent = agent();
                let signer = Signer::default();
                let path = contact_path("inst", "busy");
                for i in 0..UPDATES {
                    assert!(
                        Instant::now() < deadline,
                        "the test ran past its time bound"
                    );
                    let body = format!(
                        r#"{{"References":{{"t{t}-{i}":{{"Type":"STRING","Value":"{i}"}}}}}}"#
                    );
                    let a = send(&agent, emu, &signer, "POST", &path, &body).expect("a response");
                    assert_eq!(a.status, 200, "{a:?}");
                }
            });
        }
    });
    let stored = emu.contact("inst", "busy").unwrap();
    let references = stored["References"].as_object().unwrap();
    assert_eq!(references.len(), THREADS * UPDATES, "no update was lost");
    for t in 0..THREADS {
        for i in 0..UPDATES {
            assert_eq!(references[&format!("t{t}-{i}")]["Value"], i.to_string());
        }
    }
}

#[test]
fn the_state_file_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    let seed = dir.path().join("seed.json");
    std::fs::write(
        &seed,
        r#"{"instances": {"inst": {"contacts": {"c1": {"Name": "from seed"}}}}}"#,
    )
    .unwrap();

    let emu = start(|c| {
        c.seed_file = Some(seed.clone());
        c.state_file = Some(state.clone());
    });
    assert_eq!(
        describe(&emu, "inst", "c1").json()["Contact"]["Name"],
        "from seed"
    );
    let a = update(
        &emu,
        &Signer::default(),
        "inst",
        "c1",
        r#"{"Description":"written before restart","References":{"k":{"Type":"URL","Value":"u"}}}"#,
    );
    assert_eq!(a.status, 200, "{a:?}");
    assert!(
        std::fs::read(&state)
            .unwrap()
            .starts_with(b"SQLite format 3\0"),
        "the state file is an SQLite store"
    );
    emu.shutdown().unwrap();

    // The state file wins over the seed on restart.
    let emu = start(|c| {
        c.seed_file = Some(seed.clone());
        c.state_file = Some(state.clone());
    });
    let contact = describe(&emu, "inst", "c1").json()["Contact"].clone();
    assert_eq!(contact["Name"], "from seed");
    assert_eq!(contact["Description"], "written before restart");
    assert_eq!(
        emu.contact("inst", "c1").unwrap()["References"]["k"]["Value"],
        "u"
    );
    drop(emu);
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        names.len(),
        2,
        "only the seed and state files, no temporary left: {names:?}"
    );
}

#[test]
fn a_bad_seed_file_stops_the_start_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let seed = dir.path().join("seed.json");
    std::fs::write(
        &seed,
        r#"{"instances": {"i": {"contacts": {"c": {"QueueInfo": {"Id": 5}}}}}}"#,
    )
    .unwrap();
    let config = connect_emulator::EmulatorConfig {
        seed_file: Some(seed),
        ..Default::default()
    };
    let err = connect_emulator::Emulator::start(config)
        .err()
        .expect("refused")
        .to_string();
    assert!(
        err.contains("instances.i.contacts.c: QueueInfo.Id: expected a string"),
        "{err}"
    );
}
