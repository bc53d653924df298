//! Shared by the benchmarks: timed runs and their report, quantiles, RSS, and the `--bench`
//! switch (under `cargo test` the benchmarks run a tiny smoke version so they cannot rot).
#![allow(dead_code)]

use std::time::Duration;

/// True under `cargo bench`; false under `cargo test --all-targets`.
pub fn full_run() -> bool {
    std::env::args().any(|a| a == "--bench")
}

pub fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The q-quantile (0..=1) of `samples`, which are sorted in place.
pub fn quantile(samples: &mut [Duration], q: f64) -> Duration {
    if samples.is_empty() {
        return Duration::ZERO;
    }
    samples.sort_unstable();
    let i = ((samples.len() - 1) as f64 * q).round() as usize;
    samples[i]
}

/// Resident set size of this process, from /proc (Linux).
pub fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

pub fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1e3)
}

/// A timed run: its wall time and each operation's latency.
pub struct Run {
    pub elapsed: Duration,
    pub latencies: Vec<Duration>,
}

/// Prints one line (rate in `unit`s per second, p50, p99); returns (rate, p50).
pub fn report(name: &str, unit: &str, run: &mut Run) -> (f64, Duration) {
    let rate = run.latencies.len() as f64 / run.elapsed.as_secs_f64();
    let p50 = quantile(&mut run.latencies, 0.5);
    let p99 = quantile(&mut run.latencies, 0.99);
    println!(
        "{name:<16} {rate:>8.0} {unit}/s  p50 {}  p99 {}",
        ms(p50),
        ms(p99)
    );
    (rate, p50)
}
