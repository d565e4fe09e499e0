//! aws-sdk-connect as a benchmark client: the same measurement protocol as every client in
//! bench/clients (see docs/performance.md), printing one JSON line.
use std::time::Instant;

use aws_sdk_connect::config::{BehaviorVersion, Credentials, Region};

const INSTANCE: &str = "11111111-2222-3333-4444-555555555555";
const CONTACT: &str = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee";

fn call(rt: &tokio::runtime::Runtime, client: &aws_sdk_connect::Client) {
    rt.block_on(
        client
            .update_contact()
            .instance_id(INSTANCE)
            .contact_id(CONTACT)
            .name("bench")
            .description("performance run")
            .send(),
    )
    .expect("UpdateContact failed");
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let endpoint = args[1].clone();
    let calls: usize = args[2].parse().unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let started = Instant::now();
    let config = rt.block_on(
        aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new(
                "AKIDEXAMPLE",
                "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
                None,
                None,
                "bench",
            ))
            .endpoint_url(&endpoint)
            .load(),
    );
    let client = aws_sdk_connect::Client::new(&config);
    let construct = started.elapsed();
    let t = Instant::now();
    call(&rt, &client);
    let first = t.elapsed();
    for _ in 0..calls / 10 {
        call(&rt, &client);
    }
    let mut lat = Vec::with_capacity(calls);
    let t1 = Instant::now();
    for _ in 0..calls {
        let t = Instant::now();
        call(&rt, &client);
        lat.push(t.elapsed().as_nanos() as u64);
    }
    let one = t1.elapsed();
    let t2 = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                for _ in 0..calls {
                    call(&rt, &client);
                }
            });
        }
    });
    let two = t2.elapsed();
    lat.sort_unstable();
    println!(
        "{{\"construct_us\":{:.1},\"first_us\":{:.1},\"median_us\":{:.2},\"p99_us\":{:.2},\"rps1\":{:.0},\"rps2\":{:.0},\"rss_kib\":{}}}",
        construct.as_secs_f64() * 1e6,
        first.as_secs_f64() * 1e6,
        lat[lat.len() / 2] as f64 / 1e3,
        lat[lat.len() * 99 / 100] as f64 / 1e3,
        calls as f64 / one.as_secs_f64(),
        (2 * calls) as f64 / two.as_secs_f64(),
        rss_kib()
    );
}
