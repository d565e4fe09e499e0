//! Time per SigV4 signature of the benchmark's request (mean over many), as a JSON line.
use std::time::{Instant, SystemTime};

use connect_contact::Credentials;
use connect_contact::unstable::Signer;

fn main() {
    let rounds: u32 = std::env::args()
        .nth(1)
        .map_or(200_000, |n| n.parse().unwrap());
    let creds = Credentials::new(
        "AKIDEXAMPLE",
        "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        None,
        None,
        "bench",
    )
    .unwrap();
    let signer = Signer::new("us-east-1");
    let url = "http://127.0.0.1:8080/contacts/11111111-2222-3333-4444-555555555555/aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee";
    let body = br#"{"Name":"bench","Description":"performance run"}"#;
    let headers = [("content-type", "application/json")];
    let mut best = f64::MAX;
    // The best of 5 means: the machine is shared, interference only ever adds time.
    for _ in 0..5 {
        let t = Instant::now();
        for _ in 0..rounds / 5 {
            let signed = signer
                .sign(&creds, "POST", url, &headers, body, SystemTime::now())
                .unwrap();
            std::hint::black_box(signed);
        }
        best = best.min(t.elapsed().as_secs_f64() * 1e6 / f64::from(rounds / 5));
    }
    println!("{{\"sign_us\":{best:.3}}}");
}
