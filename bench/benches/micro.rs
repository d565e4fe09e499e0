//! Criterion micro-benchmarks of the per-call work that is not I/O.
use std::time::SystemTime;

use connect_contact::Credentials;
use connect_contact::unstable::parse_error;
use connect_contact::unstable::Signer;
use connect_contact::{validate, Checker};
use connect_contact::UpdateContactRequest;
use criterion::{black_box, criterion_group, criterion_main, Criterion};

const REQUEST: &str = r#"{"InstanceId":"11111111-2222-3333-4444-555555555555","ContactId":"aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee","Name":"bench","Description":"performance run"}"#;

fn signing(c: &mut Criterion) {
    let creds = Credentials::new(
        "AKIDEXAMPLE",
        "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        Some("TOKEN"),
        None,
        "bench",
    )
    .unwrap();
    let signer = Signer::new("us-east-1");
    let url = "https://connect.us-east-1.amazonaws.com/contacts/11111111-2222-3333-4444-555555555555/aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee";
    let body = br#"{"Name":"bench","Description":"performance run"}"#;
    c.bench_function("sign", |b| {
        b.iter(|| {
            signer
                .sign(
                    &creds,
                    "POST",
                    black_box(url),
                    &[("content-type", "application/json")],
                    body,
                    SystemTime::now(),
                )
                .unwrap()
        })
    });
}

fn request(c: &mut Criterion) {
    c.bench_function("parse + validate + serialize", |b| {
        b.iter(|| {
            let request = UpdateContactRequest::from_json(black_box(REQUEST)).unwrap();
            validate(&request, Checker::default()).unwrap();
            request.to_body()
        })
    });
}

fn errors(c: &mut Criterion) {
    let body =
        br#"{"__type":"com.amazonaws.connect#ThrottlingException","message":"Rate exceeded"}"#;
    c.bench_function("parse error", |b| {
        b.iter(|| {
            parse_error(
                429,
                black_box(Some("ThrottlingException:http://internal.amazon.com/")),
                body,
            )
        })
    });
}

criterion_group!(benches, signing, request, errors);
criterion_main!(benches);
