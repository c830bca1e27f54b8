//! Memory figures of a process from `/proc` (Linux): `status`'s `VmRSS:`,
//! `smaps_rollup`'s `Pss:` (its share of pages it shares with others).

#![allow(dead_code)]

/// A `kB` figure of `/proc/<pid>/<file>`, the line starting with `key`;
/// None where there is none (the process is gone, or not Linux).
pub fn kib(pid: u32, file: &str, key: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/{file}")).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Resident set size, KiB (0 when unknown).
pub fn rss(pid: u32) -> u64 {
    kib(pid, "status", "VmRSS:").unwrap_or(0)
}

/// Proportional set size, KiB (0 when unknown).
pub fn pss(pid: u32) -> u64 {
    kib(pid, "smaps_rollup", "Pss:").unwrap_or(0)
}
