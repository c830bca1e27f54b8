//! Session-start checks: a start needs a task, and a department needs a
//! Zhongshu to work for.

use super::Refusal;
use crate::model::SessionKind;

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
