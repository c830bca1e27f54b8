//! `--quick`: every bench once and small, so CI (`tools/test.sh` runs
//! `cargo test --benches -- --quick`) sees a bench that no longer runs the
//! day it breaks. Quick figures mean nothing: only a crash fails.

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
