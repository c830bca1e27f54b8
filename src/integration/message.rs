//! A Merge's commit message: the user's commit, naming the department.

use crate::config::MergeStyle;
use crate::model::{Session, Workspace};

/// A Merge's commit message: the department's summary (its task when it
/// filed none) and trailers naming the department as co-author, its session
/// and its plan.
pub(super) fn merge_message(
    style: MergeStyle,
    s: &Session,
    ws: &Workspace,
    summary: &str,
) -> String {
    let department = s.department.clone().unwrap_or_default();
    let text = match summary.trim() {
        "" => s.task.trim(),
        said => said,
    };
    let text = crate::sanitize::pasted_text(text);
    let mut lines = text.lines();
    let first = lines.next().unwrap_or("").trim();
    let subject = match style {
        MergeStyle::Squash if first.chars().count() > 72 => {
            format!("{}…", first.chars().take(71).collect::<String>())
        }
        MergeStyle::Squash => first.to_string(),
        MergeStyle::History => format!("Merge {} ({department} {})", ws.branch, s.id),
    };
    let rest: Vec<&str> = match style {
        MergeStyle::Squash if first.chars().count() <= 72 => lines.collect(),
        _ => text.lines().collect(),
    };
    let body = rest.join("\n").trim().to_string();
    let mut message = subject;
    if !body.is_empty() {
        message.push_str("\n\n");
        message.push_str(&body);
    }
    message.push_str("\n\n");
    if let Some(plan) = s.parent_session_id() {
        message.push_str(&format!("Governance-Plan: {plan}\n"));
    }
    message.push_str(&format!(
        "Governance-Session: {id}\nCo-authored-by: {department} ({id}) <{id}@codex-governance.invalid>\n",
        id = s.id
    ));
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    fn department() -> (Session, Workspace) {
        let mut s = Session::sample_department("lingyubu-2");
        s.task = "edit the readme\nand more".into();
        let ws = Workspace::new(
            "/w".into(),
            "governance/zhongshu-1/lingyubu-2".into(),
            "0".repeat(40),
            "lingyubu-2".into(),
        );
        (s, ws)
    }

    #[test]
    fn a_merge_message_is_the_summary_with_trailers_naming_the_department() {
        let (s, ws) = department();
        let squash = merge_message(
            MergeStyle::Squash,
            &s,
            &ws,
            "Tightened the README\n\nTwo sections rewritten.",
        );
        assert_eq!(
            squash,
            "Tightened the README\n\nTwo sections rewritten.\n\n\
             Governance-Plan: zhongshu-1\nGovernance-Session: lingyubu-2\n\
             Co-authored-by: lingyubu (lingyubu-2) <lingyubu-2@codex-governance.invalid>\n"
        );
        let history = merge_message(MergeStyle::History, &s, &ws, "");
        assert!(
            history.starts_with(
                "Merge governance/zhongshu-1/lingyubu-2 (lingyubu lingyubu-2)\n\nedit the readme\nand more\n\n"
            ),
            "{history:?}"
        );
        let long = merge_message(MergeStyle::Squash, &s, &ws, &"x".repeat(100));
        assert_eq!(long.lines().next().unwrap().chars().count(), 72);
    }
}
