//! Which program runs Codex: the native binary inside an npm install rather
//! than its node wrapper (`bin/codex.js`), which would keep a node process of
//! about 43 MB beside every app-server and TUI (node 20 cannot `execve`) and
//! forwards only the first stop signal. Anything else runs as configured.

use std::path::{Path, PathBuf};

/// A program to run and the variables it expects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Program {
    pub path: PathBuf,
    pub env: Vec<(String, String)>,
}

/// The native binary behind `command` when it is an npm install of
/// `@openai/codex`, with what the wrapper would have set; else `command`.
pub fn resolve(command: &str) -> Program {
    let configured = Program {
        path: PathBuf::from(command),
        env: Vec::new(),
    };
    let Some(found) = on_path(command) else {
        return configured;
    };
    let Some(package) = npm_package(&found) else {
        return configured;
    };
    match native_in(&package) {
        Some(path) => Program {
            path,
            env: vec![
                (
                    "CODEX_MANAGED_PACKAGE_ROOT".into(),
                    package.display().to_string(),
                ),
                ("CODEX_MANAGED_BY_NPM".into(), "1".into()),
            ],
        },
        None => configured,
    }
}

/// `command` as a file: a path as it is, a bare name looked up on PATH.
fn on_path(command: &str) -> Option<PathBuf> {
    let p = Path::new(command);
    if p.components().count() > 1 {
        return p.is_file().then(|| p.to_path_buf());
    }
    crate::platform::find_program(command)
}

/// The `@openai/codex` package folder a wrapper belongs to: the target of a
/// `node_modules/.bin/codex` link (`.../@openai/codex/bin/codex.js`), or the
/// package beside an npm `codex.cmd` shim (Windows).
fn npm_package(found: &Path) -> Option<PathBuf> {
    let real = found.canonicalize().ok()?;
    if real.file_name()? == "codex.js" {
        let package = real.parent()?.parent()?;
        return is_codex_package(package).then(|| package.to_path_buf());
    }
    if real
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("cmd"))
    {
        let package = real
            .parent()?
            .join("node_modules")
            .join("@openai")
            .join("codex");
        return is_codex_package(&package).then_some(package);
    }
    None
}

fn is_codex_package(dir: &Path) -> bool {
    std::fs::read_to_string(dir.join("package.json"))
        .is_ok_and(|t| t.contains("\"name\": \"@openai/codex\""))
}

/// `@openai/codex-<platform>/vendor/<triple>/bin/codex` beside or inside the package.
fn native_in(package: &Path) -> Option<PathBuf> {
    let (platform, triple) = platform_package()?;
    let exe = format!("codex{}", std::env::consts::EXE_SUFFIX);
    let scope = package.parent()?;
    [
        package.join("node_modules").join("@openai").join(platform),
        scope.join(platform),
    ]
    .into_iter()
    .map(|p| p.join("vendor").join(triple).join("bin").join(&exe))
    .find(|p| p.is_file())
}

/// The npm platform package and target triple of this machine.
fn platform_package() -> Option<(&'static str, &'static str)> {
    use std::env::consts::{ARCH, OS};
    Some(match (OS, ARCH) {
        ("linux", "x86_64") => ("codex-linux-x64", "x86_64-unknown-linux-musl"),
        ("linux", "aarch64") => ("codex-linux-arm64", "aarch64-unknown-linux-musl"),
        ("macos", "x86_64") => ("codex-darwin-x64", "x86_64-apple-darwin"),
        ("macos", "aarch64") => ("codex-darwin-arm64", "aarch64-apple-darwin"),
        ("windows", "x86_64") => ("codex-win32-x64", "x86_64-pc-windows-msvc"),
        ("windows", "aarch64") => ("codex-win32-arm64", "aarch64-pc-windows-msvc"),
        _ => return None,
    })
}

#[cfg(all(test, target_os = "linux", target_arch = "x86_64"))]
mod tests {
    use super::*;

    /// An npm layout: `node_modules/.bin/codex` -> `../@openai/codex/bin/codex.js`.
    fn install(root: &Path) -> PathBuf {
        let nm = root.join("node_modules");
        let package = nm.join("@openai/codex");
        std::fs::create_dir_all(package.join("bin")).unwrap();
        std::fs::write(
            package.join("package.json"),
            "{\n  \"name\": \"@openai/codex\",\n  \"version\": \"0.169.0\"\n}",
        )
        .unwrap();
        std::fs::write(package.join("bin/codex.js"), "#!/usr/bin/env node\n").unwrap();
        let native = nm.join("@openai/codex-linux-x64/vendor/x86_64-unknown-linux-musl/bin");
        std::fs::create_dir_all(&native).unwrap();
        std::fs::write(native.join("codex"), b"\x7fELF").unwrap();
        std::fs::create_dir_all(nm.join(".bin")).unwrap();
        std::os::unix::fs::symlink("../@openai/codex/bin/codex.js", nm.join(".bin/codex")).unwrap();
        nm.join(".bin/codex")
    }

    #[test]
    fn an_npm_wrapper_resolves_to_its_native_binary() {
        let tmp = tempfile::tempdir().unwrap();
        let wrapper = install(tmp.path());
        let p = resolve(wrapper.to_str().unwrap());
        assert!(
            p.path
                .ends_with("codex-linux-x64/vendor/x86_64-unknown-linux-musl/bin/codex"),
            "{p:?}"
        );
        assert!(p
            .env
            .contains(&("CODEX_MANAGED_BY_NPM".to_string(), "1".to_string())));
    }

    #[test]
    fn anything_else_runs_as_configured() {
        let tmp = tempfile::tempdir().unwrap();
        let script = tmp.path().join("my-codex");
        std::fs::write(&script, "#!/bin/sh\n").unwrap();
        let p = resolve(script.to_str().unwrap());
        assert_eq!(p.path, script);
        assert!(p.env.is_empty());
        assert_eq!(
            resolve("/nonexistent/codex").path,
            PathBuf::from("/nonexistent/codex")
        );
    }
}
