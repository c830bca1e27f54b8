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

/// One mapping of `/proc/<pid>/smaps`: its range, permissions, path and
/// the figures (KiB) the breakdown adds up.
#[derive(Debug, Clone, Default)]
struct Mapping {
    start: u64,
    end: u64,
    perms: String,
    path: String,
    rss: u64,
    pss: u64,
    private_dirty: u64,
    /// Pages copied on write (a file mapping's own copies).
    anonymous: u64,
}

fn mappings(pid: u32) -> Vec<Mapping> {
    let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/smaps")) else {
        return Vec::new();
    };
    let mut out: Vec<Mapping> = Vec::new();
    for line in text.lines() {
        let mut words = line.split_whitespace();
        let first = words.next().unwrap_or("");
        if let Some((a, b)) = first.split_once('-') {
            if let (Ok(start), Ok(end)) = (u64::from_str_radix(a, 16), u64::from_str_radix(b, 16)) {
                let perms = words.next().unwrap_or("").to_string();
                let path = words.nth(3).unwrap_or("").to_string();
                out.push(Mapping {
                    start,
                    end,
                    perms,
                    path,
                    ..Default::default()
                });
                continue;
            }
        }
        let Some(m) = out.last_mut() else { continue };
        let mut value = || {
            words
                .next()
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0)
        };
        match first {
            "Rss:" => m.rss = value(),
            "Pss:" => m.pss = value(),
            "Private_Dirty:" => m.private_dirty = value(),
            "Anonymous:" => m.anonymous = value(),
            _ => {}
        }
    }
    out
}

/// Where a process's resident pages are: one row per kind, the largest first.
#[derive(Debug, Clone, Default)]
pub struct Part {
    pub what: String,
    pub rss_kib: u64,
    pub pss_kib: u64,
    pub private_dirty_kib: u64,
}

/// The resident set of `pid` by kind (Linux `/proc/<pid>/smaps`): the
/// executable's code and read-only data, its relocated and written data,
/// each shared library, the heap (brk and the malloc arenas), the threads'
/// stacks, and what is left. Empty where there is no smaps.
pub fn breakdown(pid: u32) -> Vec<Part> {
    let maps = mappings(pid);
    let exe = std::fs::read_link(format!("/proc/{pid}/exe"))
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    let mut parts: Vec<Part> = Vec::new();
    let mut add = |what: &str, rss: u64, pss: u64, dirty: u64| {
        let i = match parts.iter().position(|p| p.what == what) {
            Some(i) => i,
            None => {
                parts.push(Part {
                    what: what.to_string(),
                    ..Default::default()
                });
                parts.len() - 1
            }
        };
        parts[i].rss_kib += rss;
        parts[i].pss_kib += pss;
        parts[i].private_dirty_kib += dirty;
    };
    for (i, m) in maps.iter().enumerate() {
        if m.path == exe && !exe.is_empty() {
            // Pages the loader's relocations (or the program) wrote are the
            // process's own copies (Anonymous); the others are the file's,
            // shared. (A file written moments ago counts its page cache as
            // dirty: Private_Dirty alone would call a fresh build's code
            // "written".)
            let written = m.anonymous.min(m.rss);
            let share = |kib: u64| kib * written / m.rss.max(1);
            add(
                "binary: written pages (relocated .data.rel.ro, .got, .data, .bss)",
                written,
                share(m.pss),
                written,
            );
            add(
                "binary: the file's pages (code, read-only data)",
                m.rss - written,
                m.pss - share(m.pss),
                m.private_dirty.saturating_sub(written),
            );
            continue;
        }
        let guard_below = i > 0 && maps[i - 1].end == m.start && maps[i - 1].perms == "---p";
        let name;
        let what = if m.path == "[heap]" {
            "heap (brk) and malloc arenas"
        } else if m.path == "[stack]" {
            "thread stacks"
        } else if m.path.starts_with('/') {
            let file = m.path.rsplit('/').next().unwrap_or(&m.path);
            // libcrypto.so.3 -> libcrypto
            name = file.split(".so").next().unwrap_or(file).to_string();
            &name
        } else if m.path.is_empty() && m.perms == "rw-p" && guard_below {
            // glibc puts a thread's guard page just below its stack; a malloc
            // arena's reserve lies above it instead.
            "thread stacks"
        } else if m.path.is_empty() {
            "heap (brk) and malloc arenas"
        } else {
            "other (vdso, vvar)"
        };
        add(what, m.rss, m.pss, m.private_dirty);
    }
    parts.retain(|p| p.rss_kib > 0);
    parts.sort_by_key(|p| std::cmp::Reverse(p.rss_kib));
    parts
}

/// Number of threads of `pid` (0 when unknown).
pub fn threads(pid: u32) -> u64 {
    kib(pid, "status", "Threads:").unwrap_or(0)
}
