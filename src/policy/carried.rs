//! What a department's commit may never carry back into the user's
//! repository, by any way in: Apply, Merge, a department's or a plan's pull
//! request, and the update pushed after a send-back. A path in the
//! launcher's state folder (a forged report, a hot journal that wrecks the
//! database of every teammate who pulls it), a `.git` component (hooks, a
//! configuration), or a submodule (a gitlink, or `.gitmodules` naming where
//! one is fetched from). Each way asks here before anything is written or
//! pushed, so each refuses in the same words.

use super::Refusal;

/// Git's mode for a gitlink (a submodule's commit).
pub const GITLINK: u32 = 0o160000;

/// One path a commit changes, with its mode on each side (0: absent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CarriedPath {
    pub path: String,
    pub before_mode: u32,
    pub after_mode: u32,
}

/// Why a path may not be carried in, if it may not.
fn forbidden(p: &CarriedPath, in_state_folder: &dyn Fn(&str) -> bool) -> Option<&'static str> {
    if in_state_folder(&p.path) {
        return Some("the launcher's state folder");
    }
    if p.path.split(['/', '\\']).any(is_git_name) {
        return Some("a .git folder");
    }
    if p.before_mode == GITLINK || p.after_mode == GITLINK || is_gitmodules(&p.path) {
        return Some("a submodule");
    }
    None
}

/// `.git` as any file system may spell it: any case, with the trailing dots
/// and spaces Windows drops, or its 8.3 short name.
fn is_git_name(part: &str) -> bool {
    let trimmed = part.trim_end_matches(['.', ' ']).to_ascii_lowercase();
    trimmed == ".git" || trimmed == "git~1"
}

fn is_gitmodules(path: &str) -> bool {
    path.trim_end_matches(['.', ' '])
        .eq_ignore_ascii_case(".gitmodules")
}

/// Refuses `what` (a department's work, a pull request's) when any of its
/// paths is in the state folder (`in_state_folder`: as given and resolved,
/// case folded), has a `.git` component, or is a submodule. Nothing has been
/// written or pushed when this is asked.
pub fn carried_safely(
    what: &str,
    paths: &[CarriedPath],
    in_state_folder: &dyn Fn(&str) -> bool,
) -> Result<(), Refusal> {
    let found: Vec<String> = paths
        .iter()
        .filter_map(|p| forbidden(p, in_state_folder).map(|why| format!("{} ({why})", p.path)))
        .collect();
    if found.is_empty() {
        return Ok(());
    }
    Err(Refusal::Conflict(format!(
        "{what} carries what is never brought into your repository: {}. Nothing was \
         written or pushed; Discard it, or Send it back to take these out of its commits",
        found.join(", ")
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(p: &str, before: u32, after: u32) -> CarriedPath {
        CarriedPath {
            path: p.into(),
            before_mode: before,
            after_mode: after,
        }
    }

    #[test]
    fn the_state_folder_a_git_component_and_submodules_are_refused_in_one_sentence() {
        let state = |p: &str| p.to_lowercase().starts_with(".tmp/");
        let fine = [
            path("src/a.rs", 0o100644, 0o100644),
            path("tools/x.sh", 0, 0o100755),
        ];
        assert_eq!(carried_safely("w", &fine, &state), Ok(()));
        for (bad, why) in [
            (
                path(".TMP/codex_governance.db-journal", 0, 0o100644),
                "state folder",
            ),
            (
                path("a/.git/hooks/post-checkout", 0, 0o100755),
                ".git folder",
            ),
            (path("a/.GIT. /config", 0, 0o100644), ".git folder"),
            (path("GIT~1/config", 0, 0o100644), ".git folder"),
            (path("vendor/lib", 0, GITLINK), "submodule"),
            (path("vendor/lib", GITLINK, 0), "submodule"),
            (path(".gitmodules", 0, 0o100644), "submodule"),
        ] {
            let e = carried_safely("the work of d-1", &[fine[0].clone(), bad.clone()], &state)
                .unwrap_err();
            let Refusal::Conflict(words) = e else {
                panic!("a conflict")
            };
            assert!(words.starts_with("the work of d-1 carries"), "{words}");
            assert!(words.contains(&bad.path) && words.contains(why), "{words}");
            assert!(!words.contains("src/a.rs"), "{words}");
        }
    }
}
