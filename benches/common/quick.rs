//! `--quick`: every bench once and small, so CI (`tools/test.sh` runs each
//! bench executable of the tests' build with `--quick`) sees a bench that no
//! longer runs the day it breaks. Quick figures mean nothing: only a crash fails.

#![allow(dead_code)]

/// Whether this run is the quick one.
pub fn on() -> bool {
    std::env::args().any(|a| a == "--quick")
}

/// `full`, or `small` in a quick run.
pub fn pick<T>(full: T, small: T) -> T {
    if on() {
        small
    } else {
        full
    }
}

/// Says so once, first, so a quick run's figures are not read as real ones.
pub fn announce(bench: &str) {
    if on() {
        println!("{bench}: quick run (--quick): once and small; the figures mean nothing");
    }
}

/// A count from the environment variable `name`, else `full`, or `small`
/// in a quick run.
pub fn count(name: &str, full: usize, small: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(pick(full, small))
}

/// Runs `work` on a two-thread runtime, as the tests do.
pub fn run<F: std::future::Future>(work: F) -> F::Output {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(work)
}

/// Milliseconds, for a table.
pub fn ms(d: std::time::Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
