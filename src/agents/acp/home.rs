//! What an ACP agent's start makes of its own on disk, and takes away at its
//! stop: its settings folder in the session's temporary folder (made new,
//! seeded with the user's settings and, for a key, login), the empty folders
//! that stand where its working folder lacks a denied settings folder, and
//! the launcher's folder of the sessions' tools sockets.

use std::path::Path;

use super::confine::AgentHome;
use super::AcpError;
use crate::agents::AgentSpec;

/// What an agent's start made that goes when it stops: its settings folder
/// of its own (removed whole), and the empty folders made where its working
/// folder had no settings folder (removed while still empty).
pub(super) struct OwnDir {
    pub home: Option<std::path::PathBuf>,
    pub placeholders: Vec<std::path::PathBuf>,
}

impl Drop for OwnDir {
    fn drop(&mut self) {
        if let Some(dir) = &self.home {
            let _ = std::fs::remove_dir_all(dir);
        }
        for dir in &self.placeholders {
            let _ = std::fs::remove_dir(dir);
        }
    }
}

/// The settings folders (`names`) an agent must not read: in its working
/// folder, and in the main checkout it was checked out from where one is
/// there (Claude Code falls back to it for a linked worktree).
pub(super) fn inert_paths(cwd: &Path, names: &[&str]) -> Vec<std::path::PathBuf> {
    let main = crate::agents::codex::project_trust::repository_root(cwd)
        .filter(|root| dunce::canonicalize(root).ok() != dunce::canonicalize(cwd).ok());
    let mut paths: Vec<std::path::PathBuf> = names.iter().map(|n| cwd.join(n)).collect();
    if let Some(root) = main {
        let there = names.iter().map(|n| root.join(n));
        paths.extend(there.filter(|p| std::fs::symlink_metadata(p).is_ok()));
    }
    paths
}

/// Makes each missing path of the working folder (`cwd`) an empty folder,
/// so the sandbox finds something to deny there: Codex would put an empty
/// file in its place for the run, which a report would record, and Git
/// records no empty folder. The ones made, for removal at stop.
pub(super) fn placeholders(
    cwd: &Path,
    inert: &[std::path::PathBuf],
) -> Result<Vec<std::path::PathBuf>, AcpError> {
    let mut made = Vec::new();
    for path in inert.iter().filter(|p| p.parent() == Some(cwd)) {
        match std::fs::create_dir(path) {
            Ok(()) => made.push(path.clone()),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(AcpError::Io(format!("{}: {e}", path.display()))),
        }
    }
    Ok(made)
}

/// The agent's settings folder of the session's own, in its temporary
/// folder, with the user's settings and login copied in (owner-only).
/// Its settings folder, and the text of the Codex settings copied there
/// (Codex's adapter: where its model is).
pub(super) fn own_home(
    spec: &AgentSpec,
    of: AgentHome,
) -> Result<(std::path::PathBuf, Option<String>), AcpError> {
    let temp = spec
        .sandbox
        .temp
        .as_ref()
        .ok_or_else(|| AcpError::Io("the session has no temporary folder".into()))?;
    let home = temp.join(of.folder);
    let io = |e: std::io::Error| AcpError::Io(format!("{}: {e}", home.display()));
    // The agent wrote this folder before (a send-back): made new, so no link
    // it left sends the copies elsewhere.
    clear(&home, temp).map_err(io)?;
    std::fs::create_dir(&home).map_err(io)?;
    crate::platform::tighten(&home).map_err(io)?;
    let user = std::env::var_os(of.variable)
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(of.users)));
    let mut settings = None;
    for name in of.copies {
        let Some(from) = user.as_ref().map(|u| u.join(name)) else {
            continue;
        };
        match std::fs::read(&from) {
            Ok(bytes) if *name == "auth.json" && !is_key_login(&bytes) => {}
            Ok(bytes) => {
                if *name == "config.toml" {
                    settings = Some(String::from_utf8_lossy(&bytes).into_owned());
                }
                crate::files::write_atomic(&home.join(name), &bytes).map_err(io)?
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io(e)),
        }
    }
    for (name, text) in of.written {
        let path = home.join(name);
        // Folders of its own inside a folder just made new.
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io)?;
        }
        crate::files::write_atomic(&path, text.as_bytes()).map_err(io)?;
    }
    Ok((home, settings))
}

/// Removes whatever is at `path` (a link itself, never what it names); a
/// folder that cannot be removed (one made mode 000) is set aside in `parent`.
pub(super) fn clear(path: &Path, parent: &Path) -> std::io::Result<()> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.is_dir() => {
            if std::fs::remove_dir_all(path).is_err() {
                let name = path.file_name().unwrap_or_default().to_string_lossy();
                let aside = parent.join(format!(".{name}-{}", crate::secret::new_token()));
                std::fs::rename(path, aside)?;
            }
            Ok(())
        }
        Ok(_) => std::fs::remove_file(path),
        Err(_) => Ok(()),
    }
}

/// Whether a Codex `auth.json` holds an API key and no ChatGPT tokens: a
/// copy of a ChatGPT login would refresh it and spend the user's token.
fn is_key_login(bytes: &[u8]) -> bool {
    let Ok(auth) = serde_json::from_slice::<serde_json::Value>(bytes) else {
        return false;
    };
    auth["OPENAI_API_KEY"].is_string() && auth["tokens"].is_null()
}

/// The state folder's folder of the sessions' tools sockets (a launcher's
/// name: a planted one is set aside at start, `private_state`).
pub(super) const TOOLS_FOLDER: &str = "codex_governance_acp";

/// `dir` in `root`: the launcher's own folder, made if missing; a link or
/// anything else there is refused.
pub(super) fn own_folder(root: &Path, dir: &Path) -> std::io::Result<()> {
    match std::fs::symlink_metadata(dir) {
        Ok(meta) if meta.is_dir() && crate::platform::not_own(&meta, true).is_none() => Ok(()),
        Ok(_) => Err(std::io::Error::other(
            "it is not a folder of the launcher's own (a link, or another user's)",
        )),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            crate::files::create_own_dir(root, dir)
        }
        Err(e) => Err(e),
    }
}
