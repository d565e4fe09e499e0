//! The library against the emulator, in-process: what a user's own CI would do.

use connect_contact::{Client, ClientConfig, Status, UpdateContactRequest};
use connect_emulator::{
    Emulator, EmulatorConfig, FaultStep, Faults, DEFAULT_ACCESS_KEY_ID, DEFAULT_REGION,
    DEFAULT_SECRET_ACCESS_KEY,
};

fn emulator(auto_create: bool) -> Emulator {
    Emulator::start(EmulatorConfig {
        auto_create,
        log: false,
        ..EmulatorConfig::default()
    })
    .unwrap()
}

fn config(emulator: &Emulator, secret: &str, max_attempts: u32) -> ClientConfig {
    ClientConfig {
        region: Some(DEFAULT_REGION.into()),
        endpoint_url: Some(emulator.endpoint_url()),
        access_key_id: Some(DEFAULT_ACCESS_KEY_ID.into()),
        secret_access_key: Some(secret.into()),
        max_attempts: Some(max_attempts),
        ..Default::default()
    }
}

fn client(emulator: &Emulator, secret: &str, max_attempts: u32) -> Client {
    crate::support::client(&config(emulator, secret, max_attempts))
}

fn named(instance: &str, contact: &str, name: &str) -> UpdateContactRequest {
    let mut request = UpdateContactRequest::new(instance, contact);
    request.name = Some(name.into());
    request
}

#[test]
fn update_then_read_back_with_awkward_ids() {
    let emulator = emulator(true);
    let client = client(&emulator, DEFAULT_SECRET_ACCESS_KEY, 1);
    for (instance, contact) in [
        ("inst-1", "c-1"),
        ("inst/2", "contact with space%"),
        ("café", "📞/#?"),
    ] {
        let request = UpdateContactRequest::from_json(
            &serde_json::json!({
                "InstanceId": instance, "ContactId": contact, "Name": "first",
                "References": {"a": {"Type": "URL", "Value": "https://a"}},
            })
            .to_string(),
        )
        .unwrap();
        let output = client.update_contact(&request).unwrap();
        assert_eq!(output.metadata.http_status, Some(200));
        assert!(output.metadata.request_id.is_some());
        // A second update merges References by key and replaces Name.
        let mut second = named(instance, contact, "second");
        second.references = UpdateContactRequest::from_json(
            r#"{"InstanceId":"i","ContactId":"c","References":{"b":{"Type":"STRING","Value":"v"}}}"#,
        )
        .unwrap()
        .references;
        client.update_contact(&second).unwrap();
        let stored = emulator.contact(instance, contact).expect("stored");
        assert_eq!(stored["Name"], "second", "{stored}");
        assert_eq!(stored["References"]["a"]["Value"], "https://a");
        assert_eq!(stored["References"]["b"]["Value"], "v");
    }
}

#[test]
fn wrong_secret_is_refused_with_the_services_code() {
    let emulator = emulator(true);
    let client = client(&emulator, "not-the-secret", 3);
    let err = client.update_contact(&named("i", "c", "n")).unwrap_err();
    assert_eq!(err.status(), Status::ServiceError);
    assert_eq!(err.code(), "InvalidSignatureException");
    let metadata = err.metadata().unwrap();
    assert_eq!(metadata.http_status, Some(403));
    assert_eq!(metadata.retry_attempts, 0, "a 403 is never retried");
    assert!(!err.to_document().contains("not-the-secret"));
}

#[test]
fn unknown_contact_is_resource_not_found() {
    let emulator = emulator(false);
    emulator.create_contact("known-instance", Some("known-contact"));
    let client = client(&emulator, DEFAULT_SECRET_ACCESS_KEY, 3);
    client
        .update_contact(&named("known-instance", "known-contact", "n"))
        .unwrap();
    let err = client
        .update_contact(&named("known-instance", "missing", "n"))
        .unwrap_err();
    assert_eq!(err.status(), Status::ResourceNotFound, "{err}");
    assert_eq!(err.metadata().unwrap().retry_attempts, 0);
}

/// Sets the emulator's fault sequence and returns the single-attempt call's status.
fn status_under(emulator: &Emulator, client: &Client, sequence: Vec<FaultStep>) -> Status {
    emulator
        .set_faults(Faults {
            sequence,
            ..Faults::default()
        })
        .unwrap();
    match client.update_contact(&named("i", "c", "n")) {
        Ok(_) => Status::Ok,
        Err(e) => e.status(),
    }
}

#[test]
fn throttling_and_injected_faults_give_the_configured_errors() {
    let emulator = emulator(true);
    let single = client(&emulator, DEFAULT_SECRET_ACCESS_KEY, 1);
    assert_eq!(
        status_under(&emulator, &single, vec![FaultStep::Status(429)]),
        Status::Throttling
    );
    assert_eq!(
        status_under(&emulator, &single, vec![FaultStep::Status(500)]),
        Status::InternalService
    );
    // A connection closed without an answer is a transport failure on a new connection...
    let fresh = client(&emulator, DEFAULT_SECRET_ACCESS_KEY, 1);
    assert_eq!(
        status_under(&emulator, &fresh, vec![FaultStep::Drop]),
        Status::Transport
    );
    // ...while on a reused one it looks exactly like a server closing an idle connection as
    // the request arrived: resent once on a new connection (UpdateContact is idempotent),
    // not a retry attempt.
    emulator
        .set_faults(Faults {
            sequence: vec![FaultStep::Drop],
            ..Faults::default()
        })
        .unwrap();
    let output = single
        .update_contact(&named("i", "c", "after a drop"))
        .expect("resent on a new connection");
    assert_eq!(output.metadata.retry_attempts, 0);
    assert_eq!(emulator.contact("i", "c").unwrap()["Name"], "after a drop");

    // With retries: 500, 503, then success.
    let retrying = client(&emulator, DEFAULT_SECRET_ACCESS_KEY, 3);
    emulator
        .set_faults(Faults {
            sequence: vec![FaultStep::Status(500), FaultStep::Status(503)],
            ..Faults::default()
        })
        .unwrap();
    let output = retrying
        .update_contact(&named("i", "c", "after faults"))
        .unwrap();
    assert_eq!(output.metadata.retry_attempts, 2);
    assert_eq!(emulator.contact("i", "c").unwrap()["Name"], "after faults");
}

#[test]
fn validation_failures_never_reach_the_emulator() {
    let emulator = emulator(true);
    let client = client(&emulator, DEFAULT_SECRET_ACCESS_KEY, 1);
    let mut request = named("never", "sent", &"x".repeat(1025));
    assert_eq!(
        client.update_contact(&request).unwrap_err().status(),
        Status::Validation
    );
    request.name = None;
    assert_eq!(
        client.update_contact(&request).unwrap_err().status(),
        Status::Validation
    );
    assert!(emulator.contact("never", "sent").is_none());
}

fn oracle_case(contact: &str) -> UpdateContactRequest {
    let cases: Vec<serde_json::Value> =
        serde_json::from_str(include_str!("../data/oracle_cases.json")).unwrap();
    let case = cases
        .iter()
        .find(|c| c["InstanceId"] == "issue-20" && c["ContactId"] == contact)
        .expect("the case is in tests/data/oracle_cases.json");
    UpdateContactRequest::from_value(case).unwrap()
}

/// Issue 20's requests (the same inputs the botocore oracle checks byte for byte) are accepted
/// by the emulator, which verifies their signatures, and stored as sent.
#[test]
fn the_current_models_new_members_and_values_are_accepted() {
    let emulator = emulator(true);
    let client = client(&emulator, DEFAULT_SECRET_ACCESS_KEY, 1);
    for contact in ["voicemail", "drafting", "cc", "cc-clear"] {
        let output = client.update_contact(&oracle_case(contact)).unwrap();
        assert_eq!(output.metadata.http_status, Some(200), "{contact}");
    }
    let stored = |c: &str| emulator.contact("issue-20", c).expect("stored");
    assert_eq!(
        stored("voicemail")["References"]["v"]["Type"],
        "VOICEMAIL_RECORDING"
    );
    assert_eq!(stored("drafting")["References"]["d"]["Status"], "DRAFTING");
    assert_eq!(
        stored("cc")["AdditionalRecipients"]["CcEmailAddresses"][0]["EmailAddress"],
        "jane@example.com"
    );
    assert_eq!(
        stored("cc-clear")["AdditionalRecipients"]["CcEmailAddresses"],
        serde_json::json!([])
    );
}

/// Open enums: a value the vendored model does not list is sent as given, and the emulator
/// (closed enums, like the service) answers for it; `strict_enums` refuses it before sending.
#[test]
fn unknown_enum_values_are_sent_unless_strict() {
    let emulator = emulator(true);
    let request = oracle_case("future-enum");
    let open = client(&emulator, DEFAULT_SECRET_ACCESS_KEY, 1);
    let err = open.update_contact(&request).unwrap_err();
    assert_eq!(err.status(), Status::InvalidParameter, "{err}");
    assert!(
        err.message().contains("A_TYPE_THE_SERVICE_ADDS_LATER")
            && err.message().contains("References.f.Type"),
        "the service's answer: {err}"
    );
    let strict = crate::support::client(&ClientConfig {
        strict_enums: Some(true),
        ..config(&emulator, DEFAULT_SECRET_ACCESS_KEY, 1)
    });
    let err = strict.update_contact(&request).unwrap_err();
    assert_eq!(err.status(), Status::Validation, "{err}");
    assert!(
        err.message().starts_with("Invalid value for parameter References.f.Type, value: A_TYPE_THE_SERVICE_ADDS_LATER, valid values: URL,"),
        "{err}"
    );
}

/// README's first command must keep working: run the example cargo built for this test run.
#[test]
fn quickstart_example_runs() {
    let exe = std::env::current_exe().unwrap();
    let profile = exe.parent().and_then(|d| d.parent()).unwrap();
    let quickstart = profile.join("examples/quickstart");
    assert!(
        quickstart.exists(),
        "cargo test builds examples; {} is missing",
        quickstart.display()
    );
    let output = crate::support::command(&quickstart).output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("C:      CONNECT_STATUS_OK"), "{stdout}");
    assert!(
        stdout.contains("CONNECT_STATUS_VALIDATION: Unknown parameter in input: \"Nmae\""),
        "{stdout}"
    );
    assert!(stdout.contains("Python: {'ResponseMetadata'"), "{stdout}");
    assert!(
        stdout.contains("Python: ParamValidationError: Invalid value for parameter AdditionalRecipients.CcEmailAddresses[0].EmailAddress"),
        "{stdout}"
    );
    assert!(
        stdout.contains("Python: enums are open; the service judged BOGUS:")
            && stdout.contains("References.bad.Type"),
        "{stdout}"
    );
    assert!(!stdout.contains("Python step skipped"), "{stdout}");
    for stored in [
        "\"Billing callback\"",
        "\"ticket\"",
        "\"recording\"",
        "\"billing-queue\"",
        "\"billing@example.com\"",
    ] {
        assert!(stdout.contains(stored), "{stored} read back: {stdout}");
    }
}

/// A client clock ten minutes slow: with correction off the emulator refuses the stale
/// X-Amz-Date (403, as the service); with it on, the client learns the offset from `Date`.
#[test]
fn stale_signing_clock_is_refused_then_corrected() {
    let emulator = emulator(true);
    let config = config(&emulator, DEFAULT_SECRET_ACCESS_KEY, 3);
    let ten_minutes_slow = -10 * 60 * 1000;
    let settings =
        crate::support::resolve(&config, &[("AWS_DISABLE_CLOCK_SKEW_CORRECTION", "true")]).unwrap();
    let uncorrected = Client::with_settings(settings);
    uncorrected.set_clock_offset(ten_minutes_slow);
    let err = uncorrected
        .update_contact(&named("i", "c", "n"))
        .unwrap_err();
    assert_eq!(
        (err.status(), err.code()),
        (Status::ServiceError, "InvalidSignatureException")
    );
    assert_eq!(err.metadata().unwrap().http_status, Some(403));

    let corrected = crate::support::client(&config);
    corrected.set_clock_offset(ten_minutes_slow);
    let output = corrected
        .update_contact(&named("i", "c", "corrected"))
        .unwrap();
    assert_eq!(output.metadata.retry_attempts, 1);
    assert!(
        corrected.clock_offset().abs() < 5000,
        "offset back near zero: {}",
        corrected.clock_offset()
    );
    assert_eq!(emulator.contact("i", "c").unwrap()["Name"], "corrected");
}
