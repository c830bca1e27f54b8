//! Release builds on Linux lay out the functions a launcher runs from start
//! to idle side by side, from the list `tools/startup_order.sh` writes (see
//! there for why: fewer of the binary's pages stay resident).
//!
//! Only where the linker takes the option (lld and mold do, GNU ld does not):
//! an empty program is linked with it first, by the same rustc, target,
//! linker and flags; if that fails, nothing changes.

use std::env;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn main() {
    println!("cargo:rerun-if-changed=tools/startup-order.txt");
    println!("cargo:rerun-if-changed=tools/build.rs");
    let release = env::var("PROFILE").as_deref() == Ok("release");
    let linux = env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux");
    if !release || !linux {
        return;
    }
    let dir = env::var("CARGO_MANIFEST_DIR").unwrap_or_default();
    let list = Path::new(&dir).join("tools/startup-order.txt");
    let Some(path) = list.to_str().filter(|p| !p.contains(',') && list.is_file()) else {
        return;
    };
    let args = [
        format!("-Wl,--symbol-ordering-file={path}"),
        // A name no longer in the program is skipped, without a warning each.
        "-Wl,--no-warn-symbol-ordering".to_string(),
    ];
    if links_with(&args) {
        for arg in args {
            println!("cargo:rustc-link-arg-bins={arg}");
        }
    } else {
        println!(
            "cargo:warning=the linker does not take --symbol-ordering-file: \
             the release binary keeps the default layout (more of it stays resident)"
        );
    }
}

/// Whether an empty program links with `args` added, as this build links.
fn links_with(args: &[String]) -> bool {
    let (Some(out), Ok(target)) = (env::var_os("OUT_DIR"), env::var("TARGET")) else {
        return false;
    };
    let out = PathBuf::from(out);
    let source = out.join("order_probe.rs");
    if std::fs::write(&source, "fn main() {}\n").is_err() {
        return false;
    }
    let rustc = env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let mut cmd = Command::new(rustc);
    cmd.args(["--crate-type", "bin", "--crate-name", "order_probe"])
        .arg("--target")
        .arg(&target)
        .arg("-o")
        .arg(out.join("order_probe"))
        .arg(&source);
    let flags = env::var("CARGO_ENCODED_RUSTFLAGS").unwrap_or_default();
    cmd.args(flags.split('\u{1f}').filter(|f| !f.is_empty()));
    if let Some(linker) = env::var_os("RUSTC_LINKER") {
        cmd.arg("-C")
            .arg(format!("linker={}", linker.to_string_lossy()));
    }
    for arg in args {
        cmd.arg("-C").arg(format!("link-arg={arg}"));
    }
    cmd.stdout(Stdio::null()).stderr(Stdio::null());
    cmd.status().is_ok_and(|s| s.success())
}
