//! What a sparse worktree keeps so its checks still build (issue 52 item 4).
//!
//! A department with a scope in a large tree gets its scope checked out; a
//! Cargo workspace or a JS monorepo would not build from that alone. So a
//! sparse worktree also keeps:
//! - every build manifest and lock file wherever it is (`Cargo.toml`,
//!   `Cargo.lock`, `build.rs`, `.cargo/`, toolchain files, `package.json`,
//!   the npm, pnpm and yarn locks and workspace files), so the workspace
//!   loads and resolves as in the user's tree;
//! - of every Cargo package, its default target roots (`src/lib.rs`,
//!   `src/main.rs`), so `cargo metadata` and `cargo build -p` load every
//!   member;
//! - what Cargo builds (the files beside the manifest, `src/`, `tests/`,
//!   `benches/`, `examples/`) of every Cargo package the scope's files
//!   belong to, and of those they depend on by path, directly or through
//!   `[workspace.dependencies]`, transitively, so `cargo build -p <the
//!   scope's crate>` and its tests build.
//!
//! The manifests are read line by line, not as full TOML: a dependency
//! given by path on one line (`x = { path = "../x" }`, `path = "../x"` in a
//! `[dependencies.x]` table) or `x.workspace = true` / `{ workspace = true }`
//! is followed. A JS package's own dependencies are not followed (its
//! manifests are kept); `launcher.worktree_include` adds what else a build
//! needs, and `worktree_checkout: full` turns sparse off.

use std::collections::{BTreeMap, BTreeSet};

/// File names kept wherever they are.
const MANIFESTS: &[&str] = &[
    "Cargo.toml",
    "Cargo.lock",
    "build.rs",
    "rust-toolchain",
    "rust-toolchain.toml",
    "package.json",
    "package-lock.json",
    "npm-shrinkwrap.json",
    "pnpm-workspace.yaml",
    "pnpm-lock.yaml",
    "yarn.lock",
    ".yarnrc.yml",
    "lerna.json",
    "nx.json",
    "turbo.json",
];

/// Whether `path` is a build manifest or lock file kept in every sparse worktree.
pub fn is_manifest(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    MANIFESTS.contains(&name) || path.starts_with(".cargo/") || path.contains("/.cargo/")
}

/// The folders (`""` for the root, else `a/b`) of the Cargo packages whose
/// files are all kept: those holding a path of `scoped`, and their path
/// dependencies, transitively. `manifest` reads a `Cargo.toml` by path.
pub fn cargo_closure(
    paths: &[&str],
    scoped: &[&str],
    manifest: &dyn Fn(&str) -> Option<String>,
) -> BTreeSet<String> {
    let packages: BTreeSet<String> = paths
        .iter()
        .filter_map(|p| {
            let folder = p.strip_suffix("Cargo.toml")?;
            (folder.is_empty() || folder.ends_with('/'))
                .then(|| folder.trim_end_matches('/').to_string())
        })
        .collect();
    if packages.is_empty() {
        return BTreeSet::new();
    }
    let root_deps = manifest("Cargo.toml")
        .map(|t| workspace_dependencies(&t))
        .unwrap_or_default();
    let mut todo: Vec<String> = scoped
        .iter()
        .filter_map(|p| package_of(&packages, p))
        .collect();
    let mut kept = BTreeSet::new();
    while let Some(pkg) = todo.pop() {
        if kept.contains(&pkg) {
            continue;
        }
        // A virtual manifest (a workspace's root without a package) holds
        // no package of its own: the tree under it is not kept for it.
        let Some(text) = manifest(&join(&pkg, "Cargo.toml")).filter(|t| t.contains("[package]"))
        else {
            continue;
        };
        kept.insert(pkg.clone());
        for dep in path_dependencies(&text, &root_deps) {
            let from = if dep.1 { "" } else { pkg.as_str() };
            if let Some(target) = normalize(&join(from, &dep.0)) {
                if packages.contains(&target) {
                    todo.push(target);
                }
            }
        }
    }
    kept
}

/// Whether `path` is a default target root of one of `packages`.
pub fn is_target_root(packages: &BTreeSet<String>, path: &str) -> bool {
    ["src/lib.rs", "src/main.rs"].iter().any(|root| {
        path.strip_suffix(root).is_some_and(|folder| {
            packages.contains(folder.trim_end_matches('/'))
                && (folder.is_empty() || folder.ends_with('/'))
        })
    })
}

/// The folders of every Cargo package among `paths`.
pub fn cargo_packages(paths: &[&str]) -> BTreeSet<String> {
    paths
        .iter()
        .filter_map(|p| {
            let folder = p.strip_suffix("Cargo.toml")?;
            (folder.is_empty() || folder.ends_with('/'))
                .then(|| folder.trim_end_matches('/').to_string())
        })
        .collect()
}

/// Whether `path` is what Cargo builds of one of the `kept` packages (the
/// deepest package holding it): a file beside its manifest or in its
/// `src/`, `tests/`, `benches/` or `examples/`.
pub fn in_kept_package(packages: &BTreeSet<String>, kept: &BTreeSet<String>, path: &str) -> bool {
    let Some(pkg) = package_of(packages, path).filter(|p| kept.contains(p)) else {
        return false;
    };
    let inside = if pkg.is_empty() {
        path
    } else {
        &path[pkg.len() + 1..]
    };
    match inside.split_once('/') {
        None => true,
        Some((top, _)) => matches!(top, "src" | "tests" | "benches" | "examples"),
    }
}

/// The deepest package folder holding `path`.
fn package_of(packages: &BTreeSet<String>, path: &str) -> Option<String> {
    let mut folder = path;
    loop {
        folder = match folder.rfind('/') {
            Some(i) => &folder[..i],
            None => "",
        };
        if packages.contains(folder) {
            return Some(folder.to_string());
        }
        if folder.is_empty() {
            return None;
        }
    }
}

fn join(folder: &str, rel: &str) -> String {
    if folder.is_empty() {
        rel.to_string()
    } else {
        format!("{folder}/{rel}")
    }
}

/// `a/./b/../c` as `a/c`; None when it leaves the tree.
fn normalize(path: &str) -> Option<String> {
    let mut out: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                out.pop()?;
            }
            p => out.push(p),
        }
    }
    Some(out.join("/"))
}

/// `[workspace.dependencies]` given by path: name -> path (from the root).
fn workspace_dependencies(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut section = String::new();
    for line in text.lines().map(str::trim) {
        if let Some(s) = line.strip_prefix('[') {
            section = s.trim_end_matches(']').trim().to_string();
            if let Some(name) = section.strip_prefix("workspace.dependencies.") {
                // A `[workspace.dependencies.x]` table: its path line follows.
                out.insert(name.to_string(), String::new());
            }
            continue;
        }
        if section == "workspace.dependencies" {
            if let (Some(name), Some(path)) = (key_of(line), quoted_after(line, "path")) {
                out.insert(name, path);
            }
        } else if let Some(name) = section.strip_prefix("workspace.dependencies.") {
            if let Some(path) = line.strip_prefix("path").and_then(quoted) {
                out.insert(name.to_string(), path);
            }
        }
    }
    out.retain(|_, p| !p.is_empty());
    out
}

/// The path dependencies of a package's manifest: (path, from the root).
fn path_dependencies(text: &str, root_deps: &BTreeMap<String, String>) -> Vec<(String, bool)> {
    let mut out = Vec::new();
    let mut section = String::new();
    for line in text.lines().map(str::trim) {
        if let Some(s) = line.strip_prefix('[') {
            section = s.trim_end_matches(']').trim().to_string();
            continue;
        }
        let deps = section.ends_with("dependencies") && !section.starts_with("workspace");
        let table = section.contains("dependencies.") && !section.starts_with("workspace");
        if deps {
            let Some(name) = key_of(line) else { continue };
            let name = name.trim_end_matches(".workspace").to_string();
            if let Some(path) = quoted_after(line, "path") {
                out.push((path, false));
            } else if line.contains("workspace") {
                if let Some(path) = root_deps.get(&name) {
                    out.push((path.clone(), true));
                }
            }
        } else if table {
            let name = section.rsplit('.').next().unwrap_or("").to_string();
            if let Some(path) = line.strip_prefix("path").and_then(quoted) {
                out.push((path, false));
            } else if line.starts_with("workspace") {
                if let Some(path) = root_deps.get(&name) {
                    out.push((path.clone(), true));
                }
            }
        }
    }
    out
}

/// The key of a `key = value` line (`a.workspace = true` gives `a.workspace`).
fn key_of(line: &str) -> Option<String> {
    let (key, _) = line.split_once('=')?;
    let key = key.trim().trim_matches('"');
    (!key.is_empty() && !key.starts_with('#')).then(|| key.to_string())
}

/// The quoted value after `word =` in an inline table.
fn quoted_after(line: &str, word: &str) -> Option<String> {
    let (_, value) = line.split_once('=')?;
    let mut rest = value;
    while let Some(i) = rest.find(word) {
        let after = &rest[i + word.len()..];
        let before_ok = i == 0 || !rest.as_bytes()[i - 1].is_ascii_alphanumeric();
        if before_ok {
            if let Some(q) = quoted(after) {
                return Some(q);
            }
        }
        rest = after;
    }
    None
}

/// `= "text"` (spaces allowed) as `text`.
fn quoted(rest: &str) -> Option<String> {
    let rest = rest.trim_start().strip_prefix('=')?.trim_start();
    let rest = rest.strip_prefix('"')?;
    let end = rest.find('"')?;
    Some(rest[..end].to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_dependencies_are_followed_directly_and_through_the_workspace() {
        let files: BTreeMap<&str, &str> = BTreeMap::from([
            (
                "Cargo.toml",
                "[workspace]\nmembers = [\"crates/*\"]\n\n[workspace.dependencies]\nc = { path = \"crates/c\" }\n",
            ),
            (
                "crates/a/Cargo.toml",
                "[package]\nname = \"a\"\n\n[dependencies]\nb = { path = \"../b\", version = \"0.1\" }\n",
            ),
            ("crates/b/Cargo.toml", "[package]\nname = \"b\"\n\n[dependencies]\nc.workspace = true\n"),
            ("crates/c/Cargo.toml", "[package]\nname = \"c\"\n"),
            ("crates/d/Cargo.toml", "[package]\nname = \"d\"\n[dependencies.e]\npath = \"../e\"\n"),
            ("crates/e/Cargo.toml", "[package]\nname = \"e\"\n"),
        ]);
        let paths: Vec<&str> = files
            .keys()
            .copied()
            .chain(["crates/a/src/lib.rs"])
            .collect();
        let read = |p: &str| files.get(p).map(|t| t.to_string());
        let kept = cargo_closure(&paths, &["crates/a/src/lib.rs"], &read);
        assert_eq!(
            kept,
            BTreeSet::from(["crates/a".into(), "crates/b".into(), "crates/c".into()])
        );
        let kept = cargo_closure(&paths, &["crates/d/src/x.rs"], &read);
        assert_eq!(kept, BTreeSet::from(["crates/d".into(), "crates/e".into()]));
        // A file outside every package (the virtual root's) keeps no package.
        assert!(cargo_closure(&paths, &["docs/guide.md"], &read).is_empty());
        assert!(is_manifest("web/package.json") && is_manifest(".cargo/config.toml"));
        assert!(!is_manifest("src/lib.rs"));
    }
}
