//! `codex sandbox` timed alone: the reference a confined check's run is
//! measured beside (the landing and attempts benches).

#![allow(dead_code)]

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// The native Codex binary the npm package runs (what the launcher runs).
pub fn native_codex() -> std::path::PathBuf {
    let modules = super::model_server::codex_bin()
        .parent()
        .and_then(Path::parent)
        .expect("node_modules")
        .join("@openai");
    for package in std::fs::read_dir(&modules).unwrap().flatten() {
        let vendor = package.path().join("vendor");
        for target in std::fs::read_dir(&vendor).into_iter().flatten().flatten() {
            let bin = target.path().join("bin/codex");
            if bin.is_file() {
                return bin;
            }
        }
    }
    panic!("no native Codex under {}", modules.display())
}

/// `codex sandbox` running `sh -c true` in a folder, alone.
pub fn sandbox_true(dir: &Path) -> Duration {
    let t0 = Instant::now();
    let ran = Command::new(native_codex())
        .args([
            "sandbox",
            "-c",
            &format!(
                "permissions.bench={{extends=\":workspace\", filesystem={{{}=\"write\"}}, network={{enabled=false}}}}",
                serde_json::Value::String(dir.display().to_string())
            ),
            "-P",
            "bench",
            "-C",
        ])
        .arg(dir)
        .args(["--", "sh", "-c", "true"])
        .status()
        .unwrap();
    assert!(ran.success());
    t0.elapsed()
}
