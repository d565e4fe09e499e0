//! Where the first client in a process spends its time: each piece runs first thing in a
//! fresh process (`coldstart PIECE ENDPOINT`), timed in wall and process CPU time, one JSON
//! line. bench/run.py runs every piece several times and reports the medians.
use std::sync::Arc;
use std::time::Instant;

use connect_contact::{Client, ClientConfig};
use cpu_time::ProcessTime;

fn config(endpoint: &str, bundle: Option<&str>) -> String {
    let bundle = bundle.map_or(String::new(), |b| format!(",\"ca_bundle\":\"{b}\""));
    format!(
        "{{\"region\":\"us-east-1\",\"endpoint_url\":\"{endpoint}\",\"allow_http\":true,\
         \"access_key_id\":\"AKIDEXAMPLE\",\
         \"secret_access_key\":\"wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY\"{bundle}}}"
    )
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (piece, endpoint) = (args[1].as_str(), args[2].as_str());
    let bundle = std::env::var("AWS_CA_BUNDLE").ok();
    // Only the `_bundle` piece uses the CA bundle (as a config key); the others the built-in
    // roots. Still single-threaded here.
    std::env::remove_var("AWS_CA_BUNDLE");
    // Read before timing: the environment is not what is measured.
    let plain = config(&endpoint.replace("https://", "http://"), None);
    let https = config(&endpoint.replace("http://", "https://"), None);
    let with_bundle = config(&endpoint.replace("http://", "https://"), bundle.as_deref());
    let run = |f: &dyn Fn()| {
        let cpu = ProcessTime::now();
        let t = Instant::now();
        f();
        (t.elapsed(), cpu.elapsed())
    };
    let (wall, cpu) = match piece {
        // Nothing: the floor of this measurement (the timer itself, first use).
        "nothing" => run(&|| {}),
        // The pieces of the library's TLS set-up, on their own.
        "ring_provider" => run(&|| {
            std::hint::black_box(Arc::new(rustls::crypto::ring::default_provider()));
        }),
        "webpki_roots" => run(&|| {
            let mut roots = rustls::RootCertStore::empty();
            roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
            std::hint::black_box(roots);
        }),
        "tls_config" => run(&|| {
            let mut roots = rustls::RootCertStore::empty();
            roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
            let config = rustls::ClientConfig::builder_with_provider(Arc::new(
                rustls::crypto::ring::default_provider(),
            ))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
            std::hint::black_box(config);
        }),
        // The library's constructor, first in the process.
        "client_http" => run(&|| {
            std::hint::black_box(Client::from_json(&plain).unwrap());
        }),
        "client_https" => run(&|| {
            std::hint::black_box(Client::from_json(&https).unwrap());
        }),
        "client_https_bundle" => run(&|| {
            std::hint::black_box(Client::from_json(&with_bundle).unwrap());
        }),
        // A second client, once the first exists.
        "client_https_second" => {
            let first = Client::from_json(&https).unwrap();
            let timed = run(&|| {
                std::hint::black_box(Client::from_json(&https).unwrap());
            });
            drop(first);
            timed
        }
        // The first client's stages in order, each timed (printed as more lines).
        "stages" => {
            let mut stages = Vec::new();
            let mut stage = |name: &str, f: &mut dyn FnMut()| {
                let cpu = ProcessTime::now();
                let t = Instant::now();
                f();
                stages.push(format!(
                    "\"{name}\":[{:.1},{:.1}]",
                    t.elapsed().as_secs_f64() * 1e6,
                    cpu.elapsed().as_secs_f64() * 1e6
                ));
            };
            let mut config = None;
            let mut settings = None;
            let mut client = None;
            stage("parse", &mut || {
                config = Some(ClientConfig::from_json(&https).unwrap())
            });
            stage("resolve", &mut || {
                settings = Some(config.as_ref().unwrap().resolve().unwrap())
            });
            stage("construct", &mut || {
                client = Some(Client::with_settings(settings.take().unwrap()))
            });
            println!("{{\"piece\":\"stages\",{}}}", stages.join(","));
            return;
        }
        other => panic!("unknown piece {other}"),
    };
    println!(
        "{{\"piece\":\"{piece}\",\"wall_us\":{:.1},\"cpu_us\":{:.1}}}",
        wall.as_secs_f64() * 1e6,
        cpu.as_secs_f64() * 1e6
    );
}
