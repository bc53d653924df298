//! Shared by the benchmarks: quantiles, RSS, and the `--bench` switch (under `cargo test` the
//! benchmarks run a tiny smoke version so they cannot rot).
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
