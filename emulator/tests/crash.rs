//! kill -9 of the emulator process while 8 clients write, again and again: after each restart
//! every acknowledged update is there, nothing else changed, and no stray file is left.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Child;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::{agent, contact_path, send_to, Signer};
use serde_json::Value;

const WRITERS: usize = 8;
const ROUNDS: usize = 20;
const SEEDED: usize = 50;

/// The emulator process, killed if the test fails before stopping it.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn(state: &Path, seed: &Path) -> (Process, String) {
    let (state, seed) = (state.to_str().unwrap(), seed.to_str().unwrap());
    let (child, url) = common::spawn_binary(&["--auto-create", "--state", state, "--seed", seed]);
    let host = url.strip_prefix("http://").unwrap_or(&url).to_string();
    (Process(child), host)
}

fn contacts(host: &str) -> Value {
    let mut response = agent()
        .get(format!("http://{host}/_emulator/contacts"))
        .call()
        .expect("the admin API answers");
    serde_json::from_str(&response.body_mut().read_to_string().unwrap()).unwrap()
}

fn files(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn kill_9_during_eight_writers_loses_no_acknowledged_update() {
    let deadline = Instant::now() + Duration::from_secs(240);
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.db");
    let seed = dir.path().join("seed.json");
    let seeded: serde_json::Map<String, Value> = (0..SEEDED)
        .map(|k| {
            (
                format!("s{k}"),
                serde_json::json!({ "Name": format!("seed {k}") }),
            )
        })
        .collect();
    std::fs::write(
        &seed,
        serde_json::json!({ "instances": { "crash": { "contacts": seeded }, "other": {} } })
            .to_string(),
    )
    .unwrap();

    let (mut child, mut host) = spawn(&state, &seed);
    let baseline = contacts(&host);
    let mut sent: Vec<BTreeSet<String>> = vec![BTreeSet::new(); WRITERS];
    let mut acked: Vec<BTreeSet<String>> = vec![BTreeSet::new(); WRITERS];
    let mut acked_total = 0;
    for round in 0..ROUNDS {
        assert!(
            Instant::now() < deadline,
            "the test ran past its time bound"
        );
        let stop = AtomicBool::new(false);
        let results: Vec<(BTreeSet<String>, BTreeSet<String>)> = std::thread::scope(|scope| {
            let writers: Vec<_> = (0..WRITERS)
                .map(|t| {
                    let (host, stop) = (&host, &stop);
                    scope.spawn(move || {
                        let agent = agent();
                        let signer = Signer::default();
                        let path = contact_path("crash", &format!("w{t}"));
                        let (mut sent, mut acked) = (BTreeSet::new(), BTreeSet::new());
                        for i in 0.. {
                            if stop.load(Ordering::Relaxed) || Instant::now() > deadline {
                                break;
                            }
                            let key = format!("r{round}-{i}");
                            let body = format!(
                                r#"{{"References":{{"{key}":{{"Type":"STRING","Value":"{i}"}}}}}}"#
                            );
                            sent.insert(key.clone());
                            match send_to(&agent, host, &signer, "POST", &path, &body) {
                                Ok(a) if a.status == 200 => {
                                    acked.insert(key);
                                }
                                Ok(a) => panic!("unexpected answer {a:?}"),
                                Err(_) => break, // the process is gone
                            }
                        }
                        (sent, acked)
                    })
                })
                .collect();
            std::thread::sleep(Duration::from_millis(fastrand::u64(100..=400)));
            child.0.kill().expect("SIGKILL");
            child.0.wait().unwrap();
            stop.store(true, Ordering::Relaxed);
            writers.into_iter().map(|w| w.join().unwrap()).collect()
        });
        for (t, (s, a)) in results.into_iter().enumerate() {
            acked_total += a.len();
            sent[t].extend(s);
            acked[t].extend(a);
        }
        let left: BTreeSet<String> = files(dir.path())
            .into_iter()
            // SQLite's own companions, replayed or discarded at the next open.
            .filter(|f| {
                !["seed.json", "state.db", "state.db-wal", "state.db-shm"].contains(&f.as_str())
            })
            .collect();
        assert!(left.is_empty(), "stray files after kill -9: {left:?}");

        (child, host) = spawn(&state, &seed);
        let now = contacts(&host);
        let instances = now["instances"].as_object().unwrap();
        assert_eq!(
            instances.keys().collect::<Vec<_>>(),
            ["crash", "other"],
            "round {round}"
        );
        assert_eq!(now["instances"]["other"], baseline["instances"]["other"]);
        let crash = now["instances"]["crash"]["contacts"].as_object().unwrap();
        for (id, members) in crash {
            if let Some(t) = id.strip_prefix('w') {
                let t: usize = t.parse().unwrap();
                let refs: BTreeSet<String> = members["References"]
                    .as_object()
                    .map(|r| r.keys().cloned().collect())
                    .unwrap_or_default();
                let lost: Vec<_> = acked[t].difference(&refs).collect();
                assert!(lost.is_empty(), "round {round}: w{t} lost {lost:?}");
                let unknown: Vec<_> = refs.difference(&sent[t]).collect();
                assert!(unknown.is_empty(), "round {round}: w{t} has {unknown:?}");
            } else {
                assert_eq!(
                    members, &baseline["instances"]["crash"]["contacts"][id],
                    "round {round}: {id} changed"
                );
            }
        }
        let seeded_now = crash.keys().filter(|k| k.starts_with('s')).count();
        assert_eq!(seeded_now, SEEDED, "round {round}");
    }
    assert!(acked_total > 0, "the writers got no update acknowledged");
    let status = common::command("kill")
        .args(["-s", "TERM", &child.0.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    assert!(child.0.wait().unwrap().success());
    assert_eq!(
        files(dir.path()),
        BTreeSet::from(["seed.json".to_string(), "state.db".to_string()]),
        "after a clean stop only the state file remains"
    );
    eprintln!("{ROUNDS} kills, {acked_total} acknowledged updates, none lost");
}
