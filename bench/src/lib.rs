//! The measurement protocol every Rust benchmark client follows (the C, Python and
//! competitor clients follow the same steps): construct, one first call, a warm-up of
//! calls/10, `calls` individually timed calls on one thread, then two threads making `calls`
//! each, then the peak RSS. Construction and the first call are also timed in process CPU
//! time (`*_cpu_us`: every thread of the process, so a helper thread's work counts too).
use std::time::{Duration, Instant};

use cpu_time::ProcessTime;

#[derive(Debug)]
pub struct Measure {
    pub construct: Duration,
    pub construct_cpu: Duration,
    pub first: Duration,
    pub first_cpu: Duration,
    pub median: Duration,
    pub p99: Duration,
    pub rps1: f64,
    pub rps2: f64,
    pub rss_kib: u64,
}

impl Measure {
    /// `make` builds the client, `call` makes one call, `second` gives what the second
    /// thread uses (the same shared client for a library; another connection for the floor).
    pub fn run<C: Send, S: Fn(&C) -> C>(
        calls: usize,
        make: impl FnOnce() -> C,
        call: impl Fn(&mut C) + Sync,
        second: S,
    ) -> Measure {
        let cpu = ProcessTime::now();
        let started = Instant::now();
        let mut client = make();
        let construct = started.elapsed();
        let construct_cpu = cpu.elapsed();
        let cpu = ProcessTime::now();
        let t = Instant::now();
        call(&mut client);
        let first = t.elapsed();
        let first_cpu = cpu.elapsed();
        for _ in 0..calls / 10 {
            call(&mut client);
        }
        let mut latencies = Vec::with_capacity(calls);
        let t1 = Instant::now();
        for _ in 0..calls {
            let t = Instant::now();
            call(&mut client);
            latencies.push(t.elapsed());
        }
        let one = t1.elapsed();
        let mut other = second(&client);
        call(&mut other);
        let t2 = Instant::now();
        std::thread::scope(|s| {
            for c in [&mut client, &mut other] {
                let call = &call;
                s.spawn(move || {
                    for _ in 0..calls {
                        call(c);
                    }
                });
            }
        });
        let two = t2.elapsed();
        latencies.sort_unstable();
        Measure {
            construct,
            construct_cpu,
            first,
            first_cpu,
            median: latencies[latencies.len() / 2],
            p99: latencies[latencies.len() * 99 / 100],
            rps1: calls as f64 / one.as_secs_f64(),
            rps2: (2 * calls) as f64 / two.as_secs_f64(),
            rss_kib: peak_rss_kib(),
        }
    }
}

/// VmHWM of this process.
pub fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// One JSON line, the format every client prints.
pub fn report(m: &Measure) {
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    println!(
        "{{\"construct_us\":{:.1},\"construct_cpu_us\":{:.1},\"first_us\":{:.1},\"first_cpu_us\":{:.1},\"median_us\":{:.2},\"p99_us\":{:.2},\"rps1\":{:.0},\"rps2\":{:.0},\"rss_kib\":{}}}",
        us(m.construct),
        us(m.construct_cpu),
        us(m.first),
        us(m.first_cpu),
        us(m.median),
        us(m.p99),
        m.rps1,
        m.rps2,
        m.rss_kib
    );
}
