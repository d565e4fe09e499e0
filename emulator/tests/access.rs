//! Permissions (a policy file) and the service's quota, over HTTP.

mod common;

use common::{agent, contact_path, describe, send, start, update, Signer};
use connect_emulator::{Credential, Quota};

#[test]
fn a_key_without_permission_gets_access_denied() {
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("policy.json");
    std::fs::write(
        &policy,
        r#"{"Statement": [
            {"Effect": "Allow", "Principal": ["AKIDCONNECTEMULATOR", "ASIATEMP"],
             "Action": "connect:UpdateContact", "Resource": "arn:aws:connect:*:*:instance/sales/contact/*"},
            {"Effect": "Allow", "Principal": "AKIDCONNECTEMULATOR",
             "Action": "connect:DescribeContact", "Resource": "*"}
        ]}"#,
    )
    .unwrap();
    let emu = start(|c| {
        c.auto_create = true;
        c.policy_file = Some(policy.clone());
        c.credentials
            .push(Credential::new("AKIDREADONLY", "read-only-secret"));
        c.credentials
            .push(Credential::new("ASIATEMP", "temp-secret").with_session_token("the-token"));
    });
    let allowed = Signer::default();
    let other = Signer {
        access_key: "AKIDREADONLY".into(),
        secret: "read-only-secret".into(),
        ..Signer::default()
    };
    let temporary = Signer {
        access_key: "ASIATEMP".into(),
        secret: "temp-secret".into(),
        token: Some("the-token".into()),
        ..Signer::default()
    };
    let body = r#"{"Name":"n"}"#;
    assert_eq!(update(&emu, &allowed, "sales", "c1", body).status, 200);
    assert_eq!(update(&emu, &temporary, "sales", "c2", body).status, 200);

    let denied = update(&emu, &other, "sales", "c1", body);
    denied.expect_error(403, "AccessDeniedException");
    assert!(denied.request_id.is_some());
    assert!(
        denied.message().contains(
            "not authorized to perform: connect:UpdateContact on resource: \
             arn:aws:connect:us-east-1:123456789012:instance/sales/contact/c1"
        ),
        "{denied:?}"
    );
    update(&emu, &allowed, "support", "c1", body).expect_error(403, "AccessDeniedException");
    assert!(
        emu.contact("support", "c1").is_none(),
        "a denied call changes nothing"
    );
    let read = send(
        &agent(),
        &emu,
        &temporary,
        "GET",
        &contact_path("sales", "c1"),
        "",
    )
    .unwrap();
    read.expect_error(403, "AccessDeniedException");
    assert_eq!(describe(&emu, "sales", "c1").status, 200);
}

#[test]
fn a_bad_policy_file_stops_the_start_naming_the_member() {
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("policy.json");
    std::fs::write(
        &policy,
        r#"{"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "*"}]}"#,
    )
    .unwrap();
    let err = connect_emulator::Emulator::start(connect_emulator::EmulatorConfig {
        policy_file: Some(policy),
        ..Default::default()
    })
    .err()
    .expect("refused")
    .to_string();
    assert!(
        err.contains("policy.json") && err.contains("Statement[0].Resource"),
        "{err}"
    );
}

#[test]
fn the_quota_throttles_the_sixth_call_of_a_burst_of_six_across_both_apis() {
    // A burst means within the half second it takes to refill one token; on a loaded machine
    // six calls can take longer, so a slow round is repeated (at most three).
    for _ in 0..3 {
        let emu = start(|c| {
            c.auto_create = true;
            c.quota = Some(Quota::default());
        });
        let signer = Signer::default();
        let agent = agent();
        let path = contact_path("i", "c");
        let started = std::time::Instant::now();
        let mut answers = Vec::new();
        for n in 0..6 {
            // Alternate the two APIs: the bucket is shared.
            let (method, body) = if n % 2 == 0 {
                ("POST", r#"{"Name":"n"}"#)
            } else {
                ("GET", "")
            };
            answers.push(send(&agent, &emu, &signer, method, &path, body).unwrap());
        }
        if started.elapsed() > std::time::Duration::from_millis(450) {
            continue;
        }
        let statuses: Vec<u16> = answers.iter().map(|a| a.status).collect();
        assert_eq!(statuses, [200, 200, 200, 200, 200, 429]);
        let last = &answers[5];
        last.expect_error(429, "ThrottlingException");
        assert_eq!(last.json(), serde_json::json!({"message": "Rate exceeded"}));
        // Two per second refill: half a second later one more call goes through.
        std::thread::sleep(std::time::Duration::from_millis(600));
        assert_eq!(
            send(&agent, &emu, &signer, "GET", &path, "")
                .unwrap()
                .status,
            200
        );
        return;
    }
    panic!("six calls never fitted in 450 ms; the machine is too loaded to tell a burst");
}

#[test]
fn the_admin_api_turns_the_quota_on_and_off() {
    let emu = start(|c| c.auto_create = true);
    assert_eq!(common::admin(&emu, "GET", "quota", "").body, "null");
    let set = common::admin(&emu, "PUT", "quota", r#"{"rps": 0.001, "burst": 1}"#);
    assert_eq!(set.status, 200, "{set:?}");
    assert_eq!(set.json(), serde_json::json!({"rps": 0.001, "burst": 1.0}));
    let signer = Signer::default();
    assert_eq!(
        update(&emu, &signer, "i", "c", r#"{"Name":"a"}"#).status,
        200
    );
    update(&emu, &signer, "i", "c", r#"{"Name":"b"}"#).expect_error(429, "ThrottlingException");
    describe(&emu, "i", "c").expect_error(429, "ThrottlingException");
    assert_eq!(
        emu.contact("i", "c").unwrap()["Name"],
        "a",
        "a throttled call changes nothing"
    );
    let bad = common::admin(&emu, "PUT", "quota", r#"{"rps": 0}"#);
    assert_eq!(bad.status, 400);
    assert!(bad.body.contains("rps"), "{bad:?}");
    assert_eq!(common::admin(&emu, "PUT", "quota", "null").status, 200);
    assert_eq!(
        update(&emu, &signer, "i", "c", r#"{"Name":"c"}"#).status,
        200
    );
}
