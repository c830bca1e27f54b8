//! Release builds on x86_64 Linux lay out the functions a launcher runs from
//! start to idle side by side, from the list `tools/startup_order.sh` writes
//! (see there for why: fewer of the binary's pages stay resident).
//!
//! Only where rustc links with its own lld (1.90 on, no other linker asked
//! for): other linkers do not know the option.

use std::env;
use std::path::Path;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=tools/startup-order.txt");
    println!("cargo:rerun-if-env-changed=CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_LINKER");
    println!("cargo:rerun-if-changed=tools/build.rs");
    let release = env::var("PROFILE").as_deref() == Ok("release");
    let target = env::var("TARGET").unwrap_or_default();
    if !release || target != "x86_64-unknown-linux-gnu" || !links_with_rusts_lld() {
        return;
    }
    let dir = env::var("CARGO_MANIFEST_DIR").unwrap_or_default();
    let list = Path::new(&dir).join("tools/startup-order.txt");
    let Some(path) = list.to_str().filter(|p| !p.contains(',') && list.is_file()) else {
        return;
    };
    println!("cargo:rustc-link-arg-bins=-Wl,--symbol-ordering-file={path}");
    // A name no longer in the program is skipped, without a warning each.
    println!("cargo:rustc-link-arg-bins=-Wl,--no-warn-symbol-ordering");
}

/// Whether rustc links this target with the lld it ships: from 1.90 on,
/// unless a linker is named in the flags or the environment.
fn links_with_rusts_lld() -> bool {
    let flags = env::var("CARGO_ENCODED_RUSTFLAGS").unwrap_or_default();
    if flags.contains("linker") || flags.contains("fuse-ld") {
        return false;
    }
    if env::var_os("CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_LINKER").is_some() {
        return false;
    }
    let rustc = env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let Ok(out) = Command::new(rustc).arg("-V").output() else {
        return false;
    };
    // "rustc 1.95.0 (59807616e 2026-04-14)"
    let version = String::from_utf8_lossy(&out.stdout);
    let mut parts = version
        .split_whitespace()
        .nth(1)
        .unwrap_or_default()
        .split('.')
        .map(|n| n.parse::<u32>().unwrap_or(0));
    let (major, minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    (major, minor) >= (1, 90)
}
