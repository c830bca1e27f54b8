//! Whether the launcher may delete a merged pull request's branch on the
//! remote (issue 49 item 8): only a branch it pushed itself, under its own
//! prefix, that the forge names as the pull request's head, never the branch
//! it targets or the repository's default branch, and not with
//! `pull_requests.keep_branch: true`. (The deletion itself is leased on the
//! commit the launcher last pushed: a branch someone pushed to since stays.)

/// What the decision is made from.
#[derive(Debug, Clone, Copy)]
pub struct MergedBranch<'a> {
    /// The branch the launcher recorded for the pull request.
    pub branch: &'a str,
    /// The branch the pull request targets.
    pub base: &'a str,
    /// The pull request's head branch, as the forge says now.
    pub forge_head: &'a str,
    /// The repository's default branch on the forge, when it was read.
    pub default_branch: Option<&'a str>,
    /// `pull_requests.keep_branch`.
    pub keep_branch: bool,
}

/// The prefix of every branch the launcher makes.
pub const LAUNCHER_PREFIX: &str = "governance/";

/// Why the branch stays on the remote; None: it may be deleted.
pub fn keeps(m: MergedBranch<'_>) -> Option<String> {
    let b = m.branch;
    if m.keep_branch {
        return Some("pull_requests.keep_branch is true".into());
    }
    if !b.starts_with(LAUNCHER_PREFIX) {
        return Some(format!("{b} is not a branch the launcher made"));
    }
    if m.forge_head != b {
        return Some(format!(
            "the forge names {:?} as the pull request's head, not {b}",
            m.forge_head
        ));
    }
    if b == m.base {
        return Some(format!("{b} is the branch the pull request targets"));
    }
    match m.default_branch {
        None => Some("the repository's default branch could not be read".into()),
        Some(d) if d == b => Some(format!("{b} is the repository's default branch")),
        Some(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn merged(branch: &str) -> MergedBranch<'_> {
        MergedBranch {
            branch,
            base: "main",
            forge_head: branch,
            default_branch: Some("main"),
            keep_branch: false,
        }
    }

    #[test]
    fn only_the_launchers_own_head_branch_goes() {
        assert_eq!(keeps(merged("governance/zhongshu-1/lingyubu-1")), None);
        assert_eq!(keeps(merged("governance/zhongshu-1/plan")), None);
        let kept = |m: MergedBranch<'_>| keeps(m).unwrap_or_default();
        assert!(kept(merged("feature/x")).contains("not a branch the launcher made"));
        let keep = MergedBranch {
            keep_branch: true,
            ..merged("governance/z/d")
        };
        assert!(kept(keep).contains("keep_branch"));
        let other_head = MergedBranch {
            forge_head: "governance/z/other",
            ..merged("governance/z/d")
        };
        assert!(kept(other_head).contains("as the pull request's head"));
        let default = MergedBranch {
            default_branch: Some("governance/z/d"),
            ..merged("governance/z/d")
        };
        assert!(kept(default).contains("default branch"));
        let unknown = MergedBranch {
            default_branch: None,
            ..merged("governance/z/d")
        };
        assert!(kept(unknown).contains("could not be read"));
        let base = MergedBranch {
            base: "governance/z/d",
            ..merged("governance/z/d")
        };
        assert!(kept(base).contains("targets"));
    }
}
