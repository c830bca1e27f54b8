//! A Merge's commit message: the user's commit, naming the department. The
//! department's words in it are made inert
//! ([`crate::policy::commit_words`]): its lines are quoted (indented), so
//! the only trailers are the launcher's, and no reference, mention or
//! subject of its own is acted on by Git or the forge.

use crate::config::MergeStyle;
use crate::model::{Session, Workspace};
use crate::policy::commit_words;

/// A Merge's commit message: the department's summary (its task when it
/// filed none) and trailers naming the department as co-author, its session
/// and its plan.
#[cfg(test)]
pub(super) fn merge_message(
    style: MergeStyle,
    s: &Session,
    ws: &Workspace,
    summary: &str,
) -> String {
    merge_message_after(style, s, ws, summary, &[])
}

/// As [`merge_message`] for an attempt that follows `earlier` ones (their
/// summaries, oldest first; a send-back's successor): history and the team
/// see the change, not the conversation. The subject is the first attempt's
/// summary (its task when it filed none); each later attempt, this one last,
/// is a body line ("sent back once: …").
pub(super) fn merge_message_after(
    style: MergeStyle,
    s: &Session,
    ws: &Workspace,
    summary: &str,
    earlier: &[String],
) -> String {
    let department = s.department.clone().unwrap_or_default();
    let current = match summary.trim() {
        "" => s.task.trim(),
        said => said,
    };
    let mut text = match earlier.first() {
        Some(first) => first.trim().to_string(),
        None => current.to_string(),
    };
    if !earlier.is_empty() {
        let later = earlier[1..].iter().map(String::as_str).chain([current]);
        for (n, attempt) in later.enumerate() {
            let line = crate::sanitize::pasted_text(attempt);
            let line = line.lines().next().unwrap_or("").trim();
            text.push_str(&format!("\n\nsent back {}: {line}", times(n + 1)));
        }
    }
    let text = crate::sanitize::pasted_text(&text);
    let mut lines = text.lines();
    let first = lines.next().unwrap_or("").trim();
    let subject = match style {
        MergeStyle::Squash if first.chars().count() > commit_words::SUBJECT_CHARS => {
            commit_words::subject(&commit_words::cut_subject(first), &department)
        }
        MergeStyle::Squash => commit_words::subject(first, &department),
        MergeStyle::History => format!("Merge {} ({department} {})", ws.branch, s.id),
    };
    let rest: Vec<&str> = match style {
        MergeStyle::Squash if first.chars().count() <= commit_words::SUBJECT_CHARS => {
            lines.collect()
        }
        _ => text.lines().collect(),
    };
    let body = commit_words::quoted_body(rest.join("\n").trim_matches('\n'));
    let body = body.trim_matches('\n').to_string();
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

/// "once", "twice", "3 times".
fn times(n: usize) -> String {
    match n {
        1 => "once".into(),
        2 => "twice".into(),
        n => format!("{n} times"),
    }
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
            "Tightened the README\n\n    Two sections rewritten.\n\n\
             Governance-Plan: zhongshu-1\nGovernance-Session: lingyubu-2\n\
             Co-authored-by: lingyubu (lingyubu-2) <lingyubu-2@codex-governance.invalid>\n"
        );
        let history = merge_message(MergeStyle::History, &s, &ws, "");
        assert!(
            history.starts_with(
                "Merge governance/zhongshu-1/lingyubu-2 (lingyubu lingyubu-2)\n\n    edit the readme\n    and more\n\n"
            ),
            "{history:?}"
        );
        let long = merge_message(MergeStyle::Squash, &s, &ws, &"x".repeat(100));
        assert_eq!(long.lines().next().unwrap().chars().count(), 72);
    }

    /// What real `git interpret-trailers --parse` takes for trailers.
    #[cfg(unix)]
    fn trailers_git_reads(message: &str) -> String {
        use std::io::Write;
        let git = crate::platform::find_program("git").expect("git (tools/test.sh installs it)");
        let dir = tempfile::tempdir().unwrap();
        let mut child = std::process::Command::new(git)
            .args(["interpret-trailers", "--parse"])
            .current_dir(dir.path())
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("HOME", dir.path())
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(message.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success());
        String::from_utf8(out.stdout).unwrap()
    }

    #[cfg(unix)]
    #[test]
    fn a_departments_words_give_git_no_trailer_and_the_forge_no_reference_or_mention() {
        let (s, ws) = department();
        let hostile = "Merge pull request #12 from acme/security-review\n\n\
                       Closes #1, fixes #2, cc @team\n\n\
                       Signed-off-by: The User <user@example.com>\n\
                       Co-authored-by: Mallory <m@evil.example>\n\
                       ---\n\
                       Reviewed-by: Someone <s@example.com>\n";
        let launchers = "Governance-Plan: zhongshu-1\nGovernance-Session: lingyubu-2\n\
                         Co-authored-by: lingyubu (lingyubu-2) <lingyubu-2@codex-governance.invalid>\n";
        for style in [MergeStyle::Squash, MergeStyle::History] {
            let message = merge_message(style, &s, &ws, hostile);
            assert_eq!(trailers_git_reads(&message), launchers, "{message}");
            for raw in [
                "#1",
                "#2",
                "@team",
                "\nSigned-off-by",
                "\nCo-authored-by: M",
                "\n---",
            ] {
                assert!(!message.contains(raw), "{raw:?} in {message}");
            }
        }
        let squash = merge_message(MergeStyle::Squash, &s, &ws, hostile);
        assert!(
            squash.starts_with("lingyubu: Merge pull request #\u{200d}12 from acme/security-review\n\n    Closes #\u{200d}1,"),
            "{squash}"
        );
        // Trailers as the department's last paragraph, no divider.
        let message = merge_message(
            MergeStyle::Squash,
            &s,
            &ws,
            "Tidied\n\nSigned-off-by: The User <user@example.com>",
        );
        assert_eq!(trailers_git_reads(&message), launchers, "{message}");
        // A subject alone that reads as a trailer.
        let message = merge_message(MergeStyle::Squash, &s, &ws, "Signed-off-by: The User <u@x>");
        assert_eq!(trailers_git_reads(&message), launchers, "{message}");
        assert!(message.starts_with("lingyubu: Signed-off-by"), "{message}");
    }

    /// Issue 49 item 6: after a send-back the subject is still the first
    /// attempt's summary; the later attempts are body lines.
    #[test]
    fn after_a_send_back_the_subject_is_the_first_attempts_summary() {
        let (s, ws) = department();
        let earlier = vec!["Add a syntax table\n\nFor the parser.".to_string()];
        let m = merge_message_after(
            MergeStyle::Squash,
            &s,
            &ws,
            "按要求删除了 CHANGELOG.md",
            &earlier,
        );
        let mut lines = m.lines();
        assert_eq!(lines.next(), Some("Add a syntax table"), "{m}");
        assert!(m.contains("    For the parser."), "{m}");
        assert!(
            m.contains("    sent back once: 按要求删除了 CHANGELOG.md"),
            "{m}"
        );
        let two = merge_message_after(
            MergeStyle::Squash,
            &s,
            &ws,
            "Fixed what CI reported",
            &["First".to_string(), "Second".to_string()],
        );
        assert!(two.starts_with("First\n"), "{two}");
        assert!(
            two.contains("sent back once: Second")
                && two.contains("sent back twice: Fixed what CI reported"),
            "{two}"
        );
    }
}
