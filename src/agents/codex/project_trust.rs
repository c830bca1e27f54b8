//! Whether Codex may load a repository's own `.codex/` for a thread.
//!
//! Codex loads a project's `.codex/config.toml` (MCP servers it starts
//! unsandboxed, permission profiles, sandbox settings, hooks, exec policies)
//! only for a project trusted in `projects.<path>.trust_level`. When a thread
//! starts with a writable sandbox in a project of unknown trust, Codex marks
//! it trusted itself, in the user's `config.toml`, and then loads it: a cloned
//! repository's settings would run as the user the first time a planner
//! started. So each thread names its working folder and its repository
//! `untrusted` in its own config, unless the user trusted the project in
//! their own Codex configuration (then Codex behaves as they chose).
//!
//! Codex decides a folder's trust from the first of these keys its
//! `projects` table has: the folder itself, then the repository's root (a
//! linked worktree resolves to its main checkout), each as given and
//! canonical. [`lookup_keys`] lists them in that order.

use std::path::{Path, PathBuf};

use serde_json::{json, Map, Value};

/// The `projects` keys Codex looks up for a thread working in `cwd`, in its
/// order, without repeats.
pub fn lookup_keys(cwd: &Path) -> Vec<String> {
    let mut keys = Vec::new();
    let mut push = |p: &Path| {
        for form in [Some(p.to_path_buf()), dunce::canonicalize(p).ok()]
            .into_iter()
            .flatten()
        {
            let key = normalized(&form.display().to_string());
            if !keys.contains(&key) {
                keys.push(key);
            }
        }
    };
    push(cwd);
    if let Some(root) = repository_root(cwd) {
        push(&root);
    }
    keys
}

/// The main checkout's root of the repository `cwd` is in (a linked
/// worktree's main checkout, as Codex resolves it for trust; other agents
/// look there for settings too).
pub fn repository_root(cwd: &Path) -> Option<PathBuf> {
    let repo = git2::Repository::discover(cwd).ok()?;
    let common = repo.commondir();
    if common.file_name()? == ".git" {
        common.parent().map(Path::to_path_buf)
    } else {
        repo.workdir().map(Path::to_path_buf)
    }
}

/// Whether the user's own Codex configuration (`projects` as `config/read`
/// answers it) trusts the project: the first of `keys` it names is
/// `trusted`.
pub fn user_trusts(projects: &Value, keys: &[String]) -> bool {
    let Some(projects) = projects.as_object() else {
        return false;
    };
    keys.iter()
        .find_map(|key| {
            projects
                .iter()
                .find(|(k, _)| normalized(k) == *key)
                .map(|(_, p)| p["trust_level"] == "trusted")
        })
        .unwrap_or(false)
}

/// The thread's `projects` setting that marks `keys` untrusted.
pub fn untrusted(keys: &[String]) -> Value {
    let table: Map<String, Value> = keys
        .iter()
        .map(|k| (k.clone(), json!({"trust_level": "untrusted"})))
        .collect();
    Value::Object(table)
}

/// The same as a `-c projects=…` override for Codex's TUI (a TOML inline
/// table; JSON strings are TOML basic strings).
pub fn untrusted_override(keys: &[String]) -> String {
    let entries: Vec<String> = keys
        .iter()
        .map(|k| format!("{}={{trust_level=\"untrusted\"}}", Value::String(k.clone())))
        .collect();
    format!("projects={{{}}}", entries.join(","))
}

/// Codex compares keys case-insensitively on Windows, where libgit2 names
/// folders with `/` and Windows with `\`.
fn normalized(key: &str) -> String {
    if cfg!(windows) {
        key.to_ascii_lowercase().replace('/', "\\")
    } else {
        key.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_worktree_is_looked_up_then_its_main_checkout() {
        let dir = tempfile::tempdir().unwrap();
        let root = dunce::canonicalize(dir.path()).unwrap().join("repo");
        let repo = git2::Repository::init(&root).unwrap();
        let sig = git2::Signature::now("t", "t@example.com").unwrap();
        let tree = repo.find_tree(repo.index().unwrap().write_tree().unwrap());
        repo.commit(Some("HEAD"), &sig, &sig, "init", &tree.unwrap(), &[])
            .unwrap();
        let wt = dunce::canonicalize(dir.path()).unwrap().join("wt");
        repo.worktree("wt", &wt, None).unwrap();
        let keys = lookup_keys(&wt);
        let key = |p: &Path| normalized(&p.display().to_string());
        assert_eq!(keys, [key(&wt), key(&root)], "{keys:?}");
        assert_eq!(lookup_keys(&root), [key(&root)]);
    }

    #[test]
    fn the_first_key_named_decides() {
        // As lookup_keys gives them (Windows: lower case, `\`).
        let keys = vec![normalized("/w/dept"), normalized("/w/repo")];
        let trusted = json!({"trust_level": "trusted"});
        let untrusted = json!({"trust_level": "untrusted"});
        assert!(user_trusts(&json!({"/w/repo": trusted}), &keys));
        assert!(!user_trusts(
            &json!({"/w/dept": untrusted, "/w/repo": trusted}),
            &keys
        ));
        assert!(!user_trusts(&json!({"/elsewhere": trusted}), &keys));
        assert!(!user_trusts(&json!(null), &keys));
    }

    #[test]
    fn the_override_names_each_key_untrusted() {
        let keys = vec!["/w/a \"b\"".to_string(), "/w/repo".to_string()];
        assert_eq!(
            untrusted_override(&keys),
            r#"projects={"/w/a \"b\""={trust_level="untrusted"},"/w/repo"={trust_level="untrusted"}}"#
        );
        assert_eq!(untrusted(&keys)["/w/repo"]["trust_level"], "untrusted");
    }
}
