//! Session-start checks: a start needs a task, and a department needs a
//! Zhongshu to work for.

use super::Refusal;
use crate::model::SessionKind;
use crate::platform::NamespaceError;

/// What the launcher knows of the parent a start names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parent {
    /// None was named.
    Absent,
    /// A Zhongshu session.
    Zhongshu(String),
    /// A session, but a department.
    NotZhongshu(String),
    /// No session has this id.
    Missing(String),
}

/// Why this machine keeps a department (or a landing's checks) from working
/// at the user's tree's path.
#[derive(Debug, Clone, thiserror::Error)]
pub enum NotShownThere {
    #[error(transparent)]
    Namespaces(#[from] NamespaceError),
    #[error("its program {0} lies in the tree its worktree is shown over")]
    ProgramInTree(String),
    #[error("{0} names a path in the tree its worktree is shown over")]
    SettingInTree(String),
    #[error("its agent cannot run commands outside itself")]
    NoExecServer,
}

/// What decides where a new department's commands run (issue 52).
#[derive(Debug, Clone)]
pub struct BuildPlace {
    /// `launcher.worktree.caches` is not off.
    pub caches: bool,
    /// The user's tree is a Cargo project they built (a `target/` to copy).
    pub cargo_build: bool,
    /// It goes to another machine, or continues a worktree already made.
    pub elsewhere_or_handed_over: bool,
    /// Its backend can run commands outside its own process (Codex's
    /// exec-server).
    pub runs_elsewhere: bool,
    /// Whether this machine shows a folder at another path for one program
    /// and the backend's exec-server can run there, or why not.
    pub namespaces: Result<(), NotShownThere>,
}

/// Whether a new department may work at the user's tree's path (its
/// worktree shown there), where the user's incremental build caches apply;
/// `Err` says why not when only the machine refuses it: it then works in
/// its worktree's own folder, as before.
pub fn at_users_path(place: &BuildPlace) -> Result<bool, NotShownThere> {
    if !place.caches
        || !place.cargo_build
        || place.elsewhere_or_handed_over
        || !place.runs_elsewhere
    {
        return Ok(false);
    }
    place.namespaces.clone().map(|()| true)
}

/// The task, trimmed; an empty one is refused.
pub fn check_task(task: &str) -> Result<String, Refusal> {
    let task = task.trim();
    if task.is_empty() {
        return Err(Refusal::Invalid("task must not be empty".into()));
    }
    Ok(task.to_string())
}

/// The parent a session of `kind` starts under: a department needs a Zhongshu;
/// a Zhongshu may name one (a resumed planner) or none.
pub fn check_parent(kind: SessionKind, parent: Parent) -> Result<Option<String>, Refusal> {
    match (parent, kind) {
        (Parent::Zhongshu(id), _) => Ok(Some(id)),
        (Parent::NotZhongshu(id), _) => {
            Err(Refusal::Invalid(format!("{id} is not a Zhongshu session")))
        }
        (Parent::Missing(id), _) => Err(Refusal::Unknown(format!("no session {id}"))),
        (Parent::Absent, SessionKind::Department) => Err(Refusal::Invalid(
            "a department needs parent_session_id".into(),
        )),
        (Parent::Absent, SessionKind::Zhongshu | SessionKind::Reviewer) => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::{at_users_path, BuildPlace, NamespaceError, NotShownThere};

    #[test]
    fn a_department_works_at_the_users_path_only_where_everything_allows_it() {
        let all = BuildPlace {
            caches: true,
            cargo_build: true,
            elsewhere_or_handed_over: false,
            runs_elsewhere: true,
            namespaces: Ok(()),
        };
        assert!(matches!(at_users_path(&all), Ok(true)));
        for not in [
            BuildPlace {
                caches: false,
                ..all.clone()
            },
            BuildPlace {
                cargo_build: false,
                ..all.clone()
            },
            BuildPlace {
                elsewhere_or_handed_over: true,
                ..all.clone()
            },
            BuildPlace {
                runs_elsewhere: false,
                ..all.clone()
            },
        ] {
            assert!(matches!(at_users_path(&not), Ok(false)), "{not:?}");
        }
        // The machine refuses namespaces: its own folder, and the reason.
        let refused = BuildPlace {
            namespaces: Err(NamespaceError::NotLinux.into()),
            ..all.clone()
        };
        assert!(matches!(
            at_users_path(&refused),
            Err(NotShownThere::Namespaces(NamespaceError::NotLinux))
        ));
        let refused_off = BuildPlace {
            caches: false,
            ..refused
        };
        assert!(
            matches!(at_users_path(&refused_off), Ok(false)),
            "nothing to say"
        );
    }

    use super::*;

    #[test]
    fn a_start_needs_a_task_and_a_department_its_zhongshu() {
        assert_eq!(check_task("  do it ").unwrap(), "do it");
        assert!(matches!(check_task(" \n"), Err(Refusal::Invalid(_))));
        let z = Parent::Zhongshu("zhongshu-1".into());
        assert_eq!(
            check_parent(SessionKind::Department, z).unwrap().as_deref(),
            Some("zhongshu-1")
        );
        assert!(matches!(
            check_parent(SessionKind::Department, Parent::Absent),
            Err(Refusal::Invalid(m)) if m.contains("parent_session_id")
        ));
        assert_eq!(
            check_parent(SessionKind::Zhongshu, Parent::Absent).unwrap(),
            None
        );
        assert!(matches!(
            check_parent(SessionKind::Department, Parent::Missing("z-9".into())),
            Err(Refusal::Unknown(_))
        ));
        assert!(matches!(
            check_parent(SessionKind::Zhongshu, Parent::NotZhongshu("d-1".into())),
            Err(Refusal::Invalid(m)) if m == "d-1 is not a Zhongshu session"
        ));
    }
}
