//! `codex-governance worktrees`: the departments' worktrees as the launcher
//! recorded them, and folders in the worktrees folder it has no record of;
//! pruning removes only the folders of integrated or discarded work.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::create::{remove, Teardown};
use super::WorktreeError;
use crate::model::{State, Workspace, WorkspaceState};

/// One worktree.
#[derive(Debug, Clone, Serialize)]
pub struct Listed {
    /// The department session; None for a folder the launcher has no record of.
    pub session_id: Option<String>,
    pub department: Option<String>,
    pub state: Option<WorkspaceState>,
    pub branch: Option<String>,
    pub commit: Option<String>,
    pub path: String,
    /// Whether the folder is still there.
    pub exists: bool,
    /// Whether its branch was deleted.
    pub branch_deleted: bool,
}

impl Listed {
    /// Whether pruning may remove its folder.
    pub fn prunable(&self) -> bool {
        self.exists && self.state.is_some_and(WorkspaceState::is_settled)
    }
}

/// Every recorded worktree, then unrecorded folders under the worktrees folder.
pub fn list(state: &State, repo: &Path) -> Vec<Listed> {
    let mut out: Vec<Listed> = state
        .sessions
        .values()
        .filter_map(|s| {
            let ws = s.workspace()?;
            Some(Listed {
                session_id: Some(s.id.clone()),
                department: s.department.clone(),
                state: Some(ws.state),
                branch: Some(ws.branch.clone()),
                commit: ws.commit.clone(),
                path: ws.path.clone(),
                exists: Path::new(&ws.path).exists(),
                branch_deleted: ws.branch_deleted,
            })
        })
        .collect();
    let known: Vec<PathBuf> = out.iter().map(|l| PathBuf::from(&l.path)).collect();
    if let Ok(entries) = std::fs::read_dir(super::root_for(repo)) {
        let mut strays: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            // `.tmp` holds the departments' temporary folders, `.landing`
            // the candidates of landings being verified, `.review` the trees
            // reviewers read: no worktree.
            .filter(|p| {
                p.is_dir()
                    && !known.contains(p)
                    && ![".tmp", ".landing", ".review"]
                        .iter()
                        .any(|n| p.ends_with(n))
            })
            .collect();
        strays.sort();
        out.extend(strays.into_iter().map(|p| Listed {
            session_id: None,
            department: None,
            state: None,
            branch: None,
            commit: None,
            path: p.display().to_string(),
            exists: true,
            branch_deleted: false,
        }));
    }
    out
}

/// The integrated and discarded worktrees whose folders are still there:
/// (session, workspace) for [`prune`].
pub fn prunable(state: &State) -> Vec<(String, Workspace)> {
    state
        .sessions
        .values()
        .filter_map(|s| Some((s.id.clone(), s.workspace()?.clone())))
        .filter(|(_, ws)| ws.state.is_settled() && !ws.removed && Path::new(&ws.path).exists())
        .collect()
}

/// Removes the folder of one integrated or discarded worktree (its branch
/// stays); a folder holding what no record has is kept (see `remove`).
pub fn prune(repo: &Path, ws: &Workspace, teardown: &Teardown) -> Result<(), WorktreeError> {
    remove(repo, ws, teardown)
}

/// Whose branch `worktrees --prune` deletes, and why: integrated or found
/// empty (its work is in the user's branch or tree, or there was none), or
/// discarded more than `keep_days` days before `now`. A discarded one with no
/// date (settled by an older launcher) is kept.
pub fn prunable_branches(
    state: &State,
    keep_days: u32,
    now: chrono::DateTime<chrono::Utc>,
) -> Vec<(String, Workspace, String)> {
    let mut out = Vec::new();
    for s in state.sessions.values() {
        let Some(ws) = s.workspace() else { continue };
        if ws.branch_deleted {
            continue;
        }
        let why = match ws.state {
            WorkspaceState::Applied | WorkspaceState::Merged => "integrated".to_string(),
            WorkspaceState::NoChanges => "no changes".to_string(),
            WorkspaceState::Discarded => {
                let Some(at) = ws
                    .settled_at
                    .as_deref()
                    .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                else {
                    continue;
                };
                let days = (now - at.with_timezone(&chrono::Utc)).num_days();
                if days < i64::from(keep_days) {
                    continue;
                }
                format!("discarded {days} days ago (launcher.keep_discarded_days: {keep_days})")
            }
            _ => continue,
        };
        out.push((s.id.clone(), ws.clone(), why));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// Deletes a department's branch when its tip is still the commit the
/// launcher recorded (a branch someone committed on since is kept: never
/// destroy work). Whether it was deleted (false: gone already, or moved on).
pub fn delete_branch(repo: &Path, ws: &Workspace) -> Result<bool, WorktreeError> {
    let git = git2::Repository::open(repo)?;
    let Ok(mut branch) = git.find_branch(&ws.branch, git2::BranchType::Local) else {
        return Ok(false);
    };
    let tip = branch.get().target().map(|o| o.to_string());
    if ws.commit.is_some() && tip != ws.commit {
        return Ok(false);
    }
    if branch.is_head() {
        return Ok(false);
    }
    branch.delete()?;
    Ok(true)
}

/// The list as text, one worktree a line.
pub fn render(listed: &[Listed]) -> String {
    if listed.is_empty() {
        return "no department worktrees".into();
    }
    let mut out = String::new();
    for l in listed {
        let state = match (&l.state, l.exists, l.branch_deleted) {
            (Some(s), _, true) => format!("{} · branch deleted", s.words()),
            (Some(s), true, false) => s.words().to_string(),
            (Some(s), false, false) => format!("{} · folder removed", s.words()),
            (None, ..) => "not recorded by the launcher (kept)".into(),
        };
        out.push_str(&format!(
            "{:<22} {:<28} {:<40} {}{}\n",
            l.session_id.as_deref().unwrap_or("-"),
            state,
            l.branch.as_deref().unwrap_or("-"),
            l.path,
            l.commit
                .as_deref()
                .map(|c| format!(" @{}", &c[..c.len().min(10)]))
                .unwrap_or_default(),
        ));
    }
    out.trim_end().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Walk 3 of issue 49: `worktrees` printed the raw `sent_back`.
    #[test]
    fn the_list_says_each_state_in_words() {
        let one = |state, exists, branch_deleted| Listed {
            session_id: Some("lingyubu-1".into()),
            department: Some("lingyubu".into()),
            state: Some(state),
            branch: Some("governance/zhongshu-1/lingyubu-1".into()),
            commit: None,
            path: "/w/lingyubu-1".into(),
            exists,
            branch_deleted,
        };
        let text = render(&[
            one(WorkspaceState::SentBack, true, false),
            one(WorkspaceState::NoChanges, false, true),
            one(WorkspaceState::Pending, false, false),
        ]);
        assert!(!text.contains("sent_back"), "{text}");
        assert!(text.contains("sent back"), "{text}");
        assert!(text.contains("no changes · branch deleted"), "{text}");
        assert!(text.contains("changes pending · folder removed"), "{text}");
    }
}
