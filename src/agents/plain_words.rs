//! A conversation in people's words (issue 49): a command as the agent meant
//! it, not wrapped in the shell that ran it (`/bin/bash -lc "…"` shows as
//! what is inside, as Codex's own TUI shows it); the launcher's tools as what
//! they did ("reported: 1 file, 1 check"); paths relative to the repository
//! or the worktree. The raw form stays in the entry, one click away in the
//! page. Pure functions of the entry and the session's places.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::conversation::{Entry, View, What};
use crate::model::ApprovalKind;

/// How the page shows an entry first (its raw form stays beside it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plain {
    /// The command, the tool's outcome, or the files changed, in words.
    pub text: String,
    /// A file change's paths, relative, in the order of its changes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub paths: Vec<String>,
}

/// The folders a session's paths are shown relative to: its worktree first
/// (a department's), then the repository.
#[derive(Debug, Clone, Copy)]
pub struct Places<'a> {
    pub worktree: Option<&'a Path>,
    pub repo: &'a Path,
}

/// An entry as the page gets it: raw, with its [`Plain`] form where the raw
/// one is not plain already.
#[derive(Debug, Clone, Serialize)]
pub struct Worded {
    #[serde(flatten)]
    pub entry: Entry,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plain: Option<Plain>,
}

/// A conversation as the page gets it.
#[derive(Debug, Clone, Serialize)]
pub struct WordedView {
    pub rev: u64,
    pub entries: Vec<Worded>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub truncated: bool,
}

/// `view` with every entry's plain form.
pub fn word(view: View, places: Places<'_>) -> WordedView {
    WordedView {
        rev: view.rev,
        truncated: view.truncated,
        entries: view
            .entries
            .into_iter()
            .map(|entry| Worded {
                plain: plain(&entry.what, places),
                entry,
            })
            .collect(),
    }
}

fn plain(what: &What, places: Places<'_>) -> Option<Plain> {
    let text = match what {
        What::Command { command, .. } => relative(&unwrap_shell(command), places),
        What::ToolCall {
            tool, arguments, ..
        } => tool_words(tool, arguments)?,
        What::Approval {
            kind: ApprovalKind::Command,
            summary,
            ..
        } => relative(&unwrap_shell(summary), places),
        What::FileChange { changes } => {
            let paths: Vec<String> = changes
                .iter()
                .map(|c| match &c.move_to {
                    Some(to) => format!("{} → {}", relative(&c.path, places), relative(to, places)),
                    None => relative(&c.path, places),
                })
                .collect();
            return Some(Plain {
                text: format!("{} file{}", paths.len(), plural(paths.len())),
                paths,
            });
        }
        _ => return None,
    };
    Some(Plain {
        text,
        paths: Vec::new(),
    })
}

/// Shells whose `-c` script is the command itself.
const SHELLS: [&str; 6] = ["bash", "sh", "zsh", "dash", "ksh", "fish"];

/// What a shell was asked to run: the script of `bash -lc SCRIPT` (any of
/// [`SHELLS`], by path or name, with a login or interactive flag),
/// `pwsh -Command SCRIPT`, `cmd /c REST`; any other command as it is.
pub fn unwrap_shell(command: &str) -> String {
    let Ok(words) = shell_words::split(command) else {
        return command.to_string();
    };
    let name = |w: &str| {
        let base = w
            .rsplit(['/', '\\'])
            .next()
            .unwrap_or(w)
            .to_ascii_lowercase();
        base.strip_suffix(".exe")
            .map(str::to_string)
            .unwrap_or(base)
    };
    match words.as_slice() {
        [shell, flag, script]
            if SHELLS.contains(&name(shell).as_str())
                && flag.starts_with('-')
                && flag.ends_with('c')
                && flag[1..].chars().all(|c| "lic".contains(c)) =>
        {
            script.clone()
        }
        [shell, rest @ ..] if matches!(name(shell).as_str(), "pwsh" | "powershell") => {
            match rest
                .iter()
                .position(|w| w.eq_ignore_ascii_case("-command") || w.eq_ignore_ascii_case("-c"))
            {
                Some(at) if at + 2 == rest.len() => rest[at + 1].clone(),
                _ => command.to_string(),
            }
        }
        [shell, flag, rest @ ..]
            if name(shell) == "cmd" && flag.eq_ignore_ascii_case("/c") && !rest.is_empty() =>
        {
            rest.join(" ")
        }
        _ => command.to_string(),
    }
}

/// `text` with the worktree's and the repository's absolute paths made
/// relative (`<root>/a.rs` → `a.rs`, the root alone → `.`).
pub fn relative(text: &str, places: Places<'_>) -> String {
    let mut out = text.to_string();
    for root in places.worktree.into_iter().chain([places.repo]) {
        let root = root.to_string_lossy();
        let root = root.trim_end_matches(['/', '\\']);
        if root.len() < 2 {
            continue;
        }
        for sep in ['/', '\\'] {
            out = out.replace(&format!("{root}{sep}"), "");
        }
        out = replace_whole(&out, root, ".");
    }
    out
}

/// Replaces `from` where it is not part of a longer path or name.
fn replace_whole(text: &str, from: &str, to: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(from) {
        let after = &rest[at + from.len()..];
        let ends = after
            .chars()
            .next()
            .is_none_or(|c| !(c.is_alphanumeric() || "._-".contains(c)));
        out.push_str(&rest[..at]);
        out.push_str(if ends { to } else { from });
        rest = after;
    }
    out.push_str(rest);
    out
}

/// The launcher's own tools, said as what they did.
fn tool_words(tool: &str, arguments: &str) -> Option<String> {
    let args: serde_json::Value = serde_json::from_str(arguments).ok()?;
    let count = |key: &str| args[key].as_array().map_or(0, Vec::len);
    let named = |n: usize, one: &str| format!("{n} {one}{}", plural(n));
    Some(match tool {
        "governance_report_result" => {
            let mut parts = vec![
                named(count("changed_files"), "file"),
                named(count("verifications_run"), "check"),
            ];
            if count("risks") > 0 {
                parts.push(named(count("risks"), "risk"));
            }
            format!("reported: {}", parts.join(", "))
        }
        "governance_register_plan" => {
            format!("planned: {}", named(count("assignments"), "assignment"))
        }
        "governance_read_inbox" => "read its inbox".into(),
        "governance_read_report" => "read the governance report".into(),
        "governance_plan_status" => "read its plan's status".into(),
        "governance_read_changes" => match args["path"].as_str() {
            Some(path) => format!("read the changes to {path}"),
            None => "read a department's changes".into(),
        },
        "governance_propose_integration" => match args["mode"].as_str() {
            Some(mode) => format!("proposed to {}", mode.replace('_', " ")),
            None => "proposed an integration".into(),
        },
        _ => return None,
    })
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shell_wrapper_shows_the_script_inside() {
        let cases = [
            (
                r#"/bin/bash -lc "grep -q \"x y\" README.md""#,
                r#"grep -q "x y" README.md"#,
            ),
            ("bash -c 'cargo test'", "cargo test"),
            ("/usr/bin/zsh -lc 'ls -la'", "ls -la"),
            ("sh -c 'printf a; exit 3'", "printf a; exit 3"),
            (
                r#""C:\Program Files\PowerShell\7\pwsh.exe" -NoProfile -Command "Get-ChildItem""#,
                "Get-ChildItem",
            ),
            ("cmd.exe /c dir /b", "dir /b"),
            // Not a wrapper: as it is.
            ("cargo test -p x", "cargo test -p x"),
            ("bash script.sh", "bash script.sh"),
            ("bash -lc 'a' extra", "bash -lc 'a' extra"),
            ("python -c 'print(1)'", "python -c 'print(1)'"),
            // Unbalanced quotes: as it is.
            ("bash -lc 'oops", "bash -lc 'oops"),
        ];
        for (raw, shown) in cases {
            assert_eq!(unwrap_shell(raw), shown, "{raw}");
        }
    }

    #[test]
    fn paths_are_relative_to_the_worktree_then_the_repository() {
        let places = Places {
            worktree: Some(Path::new("/home/u/r.worktrees/zhilibu-3")),
            repo: Path::new("/home/u/r"),
        };
        let cases = [
            ("cat /home/u/r.worktrees/zhilibu-3/src/a.rs", "cat src/a.rs"),
            ("cd /home/u/r.worktrees/zhilibu-3 && ls", "cd . && ls"),
            ("diff /home/u/r/README.md x", "diff README.md x"),
            // A sibling whose name starts the same is not the root.
            ("ls /home/u/r2/x /home/u/rx", "ls /home/u/r2/x /home/u/rx"),
            ("ls /tmp/elsewhere", "ls /tmp/elsewhere"),
        ];
        for (raw, shown) in cases {
            assert_eq!(relative(raw, places), shown, "{raw}");
        }
        let windows = Places {
            worktree: None,
            repo: Path::new(r"C:\Users\u\r"),
        };
        assert_eq!(
            relative(r"type C:\Users\u\r\src\a.rs", windows),
            r"type src\a.rs"
        );
    }

    #[test]
    fn the_launchers_tools_say_what_they_did() {
        let report =
            r#"{"summary":"s","changed_files":["a.rs"],"verifications_run":["cargo test: ok"]}"#;
        assert_eq!(
            tool_words("governance_report_result", report).unwrap(),
            "reported: 1 file, 1 check"
        );
        let empty = r#"{"summary":"nothing","risks":["r1","r2"]}"#;
        assert_eq!(
            tool_words("governance_report_result", empty).unwrap(),
            "reported: 0 files, 0 checks, 2 risks"
        );
        assert_eq!(
            tool_words(
                "governance_register_plan",
                r#"{"summary":"s","assignments":[{},{}]}"#
            )
            .unwrap(),
            "planned: 2 assignments"
        );
        assert_eq!(
            tool_words(
                "governance_propose_integration",
                r#"{"mode":"pull_request"}"#
            )
            .unwrap(),
            "proposed to pull request"
        );
        // Another server's tool, or arguments that are not JSON: the raw form.
        assert_eq!(tool_words("search", "{}"), None);
        assert_eq!(tool_words("governance_report_result", "not json"), None);
    }
}
