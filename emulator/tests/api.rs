//! The emulator over HTTP, driven by requests signed in test code.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, SystemTime};

use common::{admin, agent, contact_path, describe, send, start, update, Signer};
use connect_emulator::{Credential, FaultStep, Faults};
use serde_json::json;

#[test]
fn signed_update_then_describe_reads_the_members_back() {
    let emu = start(|_| {});
    emu.create_contact("inst-1", Some("a/b c%é"));
    let first = update(
        &emu,
        &Signer::default(),
        "inst-1",
        "a/b c%é",
        r#"{"Name":"Jane","Description":"d","References":{"r1":{"Type":"URL","Value":"https://x"}},
            "SegmentAttributes":{"connect:Subtype":{"ValueString":"connect:Guide"}},"UserInfo":{"UserId":"agent-1"}}"#,
    );
    assert_eq!(first.status, 200, "{first:?}");
    assert_eq!(first.body, "");
    assert!(first.request_id.is_some_and(|id| id.len() == 36));
    let second = update(
        &emu,
        &Signer::default(),
        "inst-1",
        "a/b c%é",
        r#"{"Name":"Janet","References":{"r2":{"Type":"STRING","Value":"v"}}}"#,
    );
    assert_eq!(second.status, 200, "{second:?}");

    let answer = describe(&emu, "inst-1", "a/b c%é");
    assert_eq!(answer.status, 200, "{answer:?}");
    let contact = &answer.json()["Contact"];
    assert_eq!(contact["Id"], "a/b c%é");
    assert_eq!(contact["Name"], "Janet", "other members replace");
    assert_eq!(contact["Description"], "d");
    assert!(
        contact.get("References").is_none(),
        "DescribeContact answers in the model's Contact shape, which has no References"
    );
    let stored = emu.contact("inst-1", "a/b c%é").unwrap();
    assert_eq!(
        stored["References"]["r1"]["Value"], "https://x",
        "References merge by key"
    );
    assert_eq!(stored["References"]["r2"]["Type"], "STRING");
    assert_eq!(
        contact["SegmentAttributes"]["connect:Subtype"]["ValueString"],
        "connect:Guide"
    );
    assert_eq!(contact["AgentInfo"]["Id"], "agent-1");
    assert_eq!(emu.contact("inst-1", "a/b c%é").unwrap()["Name"], "Janet");
}

#[test]
fn wrong_secret_unknown_key_and_session_tokens_are_refused_with_the_services_codes() {
    let emu = start(|c| {
        c.auto_create = true;
        c.credentials
            .push(Credential::new("AKIDWITHTOKEN", "token-secret").with_session_token("the-token"));
    });
    let body = r#"{"Name":"x"}"#;
    let wrong_secret = Signer {
        secret: "not-the-secret".into(),
        ..Signer::default()
    };
    let a = update(&emu, &wrong_secret, "i", "c", body);
    a.expect_error(403, "InvalidSignatureException");
    assert!(
        a.message()
            .contains("signature we calculated does not match"),
        "{a:?}"
    );
    assert!(a.request_id.is_some());

    let unknown = Signer {
        access_key: "AKIDUNKNOWN".into(),
        ..Signer::default()
    };
    let a = update(&emu, &unknown, "i", "c", body);
    a.expect_error(403, "UnrecognizedClientException");

    let token_signer = Signer {
        access_key: "AKIDWITHTOKEN".into(),
        secret: "token-secret".into(),
        ..Signer::default()
    };
    let a = update(&emu, &token_signer, "i", "c", body);
    a.expect_error(403, "UnrecognizedClientException");
    let wrong_token = Signer {
        token: Some("other-token".into()),
        ..token_signer.clone()
    };
    let a = update(&emu, &wrong_token, "i", "c", body);
    a.expect_error(403, "UnrecognizedClientException");
    let right_token = Signer {
        token: Some("the-token".into()),
        ..token_signer
    };
    assert_eq!(update(&emu, &right_token, "i", "c", body).status, 200);

    let other_region = Signer {
        region: "eu-west-2".into(),
        ..Signer::default()
    };
    let a = update(&emu, &other_region, "i", "c", body);
    a.expect_error(403, "InvalidSignatureException");
    assert!(a.message().contains("region"), "{a:?}");

    // No Authorization header at all.
    let request = http::Request::builder()
        .method("POST")
        .uri(format!("{}{}", emu.endpoint_url(), contact_path("i", "c")))
        .body(body.as_bytes().to_vec())
        .unwrap();
    let response = agent().run(request).unwrap();
    assert_eq!(response.status().as_u16(), 403);
    assert_eq!(
        response.headers()["x-amzn-ErrorType"],
        "MissingAuthenticationTokenException"
    );
}

#[test]
fn a_date_outside_the_five_minute_window_is_refused() {
    let emu = start(|c| c.auto_create = true);
    for offset in [-600i64, 600] {
        let time = if offset < 0 {
            SystemTime::now() - Duration::from_secs(600)
        } else {
            SystemTime::now() + Duration::from_secs(600)
        };
        let a = update(
            &emu,
            &Signer {
                time: Some(time),
                ..Signer::default()
            },
            "i",
            "c",
            r#"{"Name":"x"}"#,
        );
        a.expect_error(403, "InvalidSignatureException");
        assert!(a.message().starts_with("Signature"), "{a:?}");
    }
    let recent = Signer {
        time: Some(SystemTime::now() - Duration::from_secs(120)),
        ..Signer::default()
    };
    assert_eq!(
        update(&emu, &recent, "i", "c", r#"{"Name":"x"}"#).status,
        200,
        "2 minutes of skew is accepted"
    );
}

#[test]
fn unknown_instance_or_contact_is_404() {
    let emu = start(|_| {});
    let a = update(&emu, &Signer::default(), "nope", "c", r#"{"Name":"x"}"#);
    a.expect_error(404, "ResourceNotFoundException");
    assert!(a.message().contains("nope"));
    emu.create_contact("inst", None);
    let a = update(
        &emu,
        &Signer::default(),
        "inst",
        "missing",
        r#"{"Name":"x"}"#,
    );
    a.expect_error(404, "ResourceNotFoundException");
    let a = describe(&emu, "inst", "missing");
    a.expect_error(404, "ResourceNotFoundException");
}

#[test]
fn validation_answers_400_naming_the_field() {
    let emu = start(|c| c.auto_create = true);
    let cases = [
        (
            r#"{"References":{"ticket":{"Type":"BOGUS"}}}"#,
            "InvalidParameterException",
            "References.ticket.Type",
        ),
        (
            r#"{"Name":3}"#,
            "InvalidParameterException",
            "Name: expected a string",
        ),
        (
            r#"{"Nmae":"x"}"#,
            "InvalidParameterException",
            "Nmae: unknown member",
        ),
        (
            r#"{"SystemEndpoint":{"Type":"FAX"}}"#,
            "InvalidParameterException",
            "SystemEndpoint.Type",
        ),
        (r#"{}"#, "InvalidRequestException", "nothing to update"),
        (r#"{"Name": "#, "InvalidRequestException", "not valid JSON"),
        (r#"[1]"#, "InvalidRequestException", "JSON object"),
    ];
    for (body, code, field) in cases {
        let a = update(&emu, &Signer::default(), "i", "c", body);
        a.expect_error(400, code);
        assert!(a.message().contains(field), "{body}: {a:?}");
    }
    let long_name = json!({ "Name": "n".repeat(1025) }).to_string();
    let a = update(&emu, &Signer::default(), "i", "c", &long_name);
    assert_eq!(a.status, 400);
    assert!(
        a.message()
            .starts_with("Name: length 1025 exceeds the maximum of 1024"),
        "{a:?}"
    );
    let a = update(
        &emu,
        &Signer::default(),
        &"i".repeat(101),
        "c",
        r#"{"Name":"x"}"#,
    );
    assert!(a.message().starts_with("InstanceId: length 101"), "{a:?}");
    assert!(
        emu.contact("i", "c").is_none(),
        "nothing was stored by refused requests"
    );
}

#[test]
fn fault_sequence_gives_500_503_drop_then_success() {
    let emu = start(|c| {
        c.auto_create = true;
        c.faults.sequence = vec![
            FaultStep::Status(500),
            FaultStep::Status(503),
            FaultStep::Drop,
            FaultStep::Pass,
        ];
    });
    let agent = agent();
    let path = contact_path("i", "c");
    let mut got = Vec::new();
    for _ in 0..5 {
        got.push(
            match send(
                &agent,
                &emu,
                &Signer::default(),
                "POST",
                &path,
                r#"{"Name":"x"}"#,
            ) {
                Ok(a) => format!("{} {}", a.status, a.error_type.unwrap_or_default()),
                Err(_) => "connection closed".to_string(),
            },
        );
    }
    assert_eq!(
        got,
        [
            "500 InternalServiceException",
            "503 ServiceUnavailableException",
            "connection closed",
            "200 ",
            "200 "
        ]
    );
    assert!(emu.faults().sequence.is_empty());
}

#[test]
fn throttle_and_error_rate_set_through_the_admin_api() {
    let emu = start(|c| c.auto_create = true);
    let set = admin(&emu, "PUT", "faults", r#"{"throttle_rps": 2}"#);
    assert_eq!(set.status, 200, "{set:?}");
    let codes: Vec<u16> = (0..6)
        .map(|_| update(&emu, &Signer::default(), "i", "c", r#"{"Name":"x"}"#).status)
        .collect();
    assert_eq!(
        codes.iter().filter(|&&s| s == 200).count() + codes.iter().filter(|&&s| s == 429).count(),
        6,
        "{codes:?}"
    );
    assert!(codes.contains(&429), "{codes:?}");
    let a = update(
        &emu,
        &Signer::default(),
        "other-instance",
        "c",
        r#"{"Name":"x"}"#,
    );
    assert_eq!(a.status, 200, "the throttle is per instance");
    std::thread::sleep(Duration::from_millis(1100));
    let a = update(&emu, &Signer::default(), "i", "c", r#"{"Name":"x"}"#);
    assert_eq!(a.status, 200, "tokens refill");

    admin(
        &emu,
        "PUT",
        "faults",
        r#"{"error_rate": 1.0, "error_status": 503}"#,
    );
    let a = update(&emu, &Signer::default(), "i", "c", r#"{"Name":"x"}"#);
    a.expect_error(503, "ServiceUnavailableException");
    let throttled = {
        admin(&emu, "PUT", "faults", r#"{"sequence": [429]}"#);
        update(&emu, &Signer::default(), "i", "c", r#"{"Name":"x"}"#)
    };
    throttled.expect_error(429, "ThrottlingException");
    assert_eq!(throttled.message(), "Rate exceeded");

    let bad = admin(&emu, "PUT", "faults", r#"{"error_rate": 7}"#);
    assert_eq!(bad.status, 400);
    assert!(bad.message().contains("error_rate"), "{bad:?}");
    emu.set_faults(Faults::default()).unwrap();
    assert_eq!(
        update(&emu, &Signer::default(), "i", "c", r#"{"Name":"x"}"#).status,
        200
    );
}

#[test]
fn admin_api_lists_replaces_and_resets_the_store() {
    let emu = start(|_| {});
    let put = admin(
        &emu,
        "PUT",
        "contacts",
        r#"{"instances":{"i":{"contacts":{"c":{"Name":"seeded"}}}}}"#,
    );
    assert_eq!(put.status, 200, "{put:?}");
    assert_eq!(describe(&emu, "i", "c").json()["Contact"]["Name"], "seeded");
    let listed = admin(&emu, "GET", "contacts", "");
    assert_eq!(
        listed.json()["instances"]["i"]["contacts"]["c"]["Name"],
        "seeded"
    );
    assert_eq!(admin(&emu, "GET", "health", "").json()["contacts"], 1);
    assert_eq!(admin(&emu, "POST", "reset", "").status, 200);
    assert_eq!(describe(&emu, "i", "c").status, 404);
    assert_eq!(admin(&emu, "GET", "nothing-here", "").status, 404);
}

#[test]
fn huge_bodies_and_malformed_http_get_clean_4xx() {
    let emu = start(|c| c.auto_create = true);
    let huge = format!(
        r#"{{"Name":"{}"}}"#,
        "x".repeat(connect_emulator::MAX_BODY_BYTES)
    );
    let a = update(&emu, &Signer::default(), "i", "c", &huge);
    assert_eq!(a.status, 413, "{:?}", a.error_type);

    let mut stream = TcpStream::connect(emu.addr()).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream.write_all(b"THIS IS NOT HTTP\r\n\r\n").unwrap();
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer:?}");

    let a = send(
        &agent(),
        &emu,
        &Signer::default(),
        "PUT",
        &contact_path("i", "c"),
        "{}",
    )
    .unwrap();
    a.expect_error(404, "UnknownOperationException");
    assert_eq!(
        update(
            &emu,
            &Signer::default(),
            "i",
            "c",
            r#"{"Name":"still fine"}"#
        )
        .status,
        200
    );
}

#[test]
fn added_latency_delays_api_answers_but_not_admin() {
    // The API answer takes at least LATENCY (a lower bound, which load cannot break). The
    // admin answers must come while an API call sent before them still waits out its latency:
    // an order, not a time, so a loaded machine cannot fail it and an admin route that waited
    // for the latency (each at least LATENCY) would let that call finish first.
    const LATENCY: u64 = 2000;
    let emu = start(|c| c.auto_create = true);
    emu.set_faults(Faults {
        latency_ms: LATENCY,
        ..Faults::default()
    })
    .unwrap();
    let started = std::time::Instant::now();
    assert_eq!(
        update(&emu, &Signer::default(), "i", "c", r#"{"Name":"x"}"#).status,
        200
    );
    assert!(
        started.elapsed() >= Duration::from_millis(LATENCY),
        "the answer came before the added latency"
    );
    let api_done = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|scope| {
        let call = scope.spawn(|| {
            let status = update(&emu, &Signer::default(), "i", "c", r#"{"Name":"y"}"#).status;
            api_done.store(true, std::sync::atomic::Ordering::SeqCst);
            status
        });
        for (method, route, body) in [
            ("GET", "health", ""),
            ("GET", "faults", ""),
            ("GET", "contacts", ""),
            ("PUT", "faults", r#"{"latency_ms":2000}"#),
        ] {
            let answer = admin(&emu, method, route, body);
            assert_eq!(answer.status, 200, "{method} {route}: {answer:?}");
            assert!(
                !api_done.load(std::sync::atomic::Ordering::SeqCst),
                "{method} /_emulator/{route} answered after an API call sent before it: \
                 admin answers must not wait for the added latency"
            );
        }
        assert_eq!(call.join().unwrap(), 200);
    });
    assert_eq!(
        admin(&emu, "GET", "faults", "").json()["latency_ms"],
        LATENCY
    );
}
