//! A conversation in people's words (issue 49): a command as the agent meant
//! it, not wrapped in the shell that ran it (`/bin/bash -lc "…"` shows as
//! what is inside, as Codex's own TUI shows it); the launcher's tools as what
//! they did ("reported: 1 file, 1 check"); paths relative to the repository
//! or the worktree. The raw form stays in the entry, one click away in the
//! page (`views::conversation` puts each entry beside its plain form). Pure
//! functions of the entry and the session's places.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::conversation::What;
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

/// How the launcher's notices to an agent begin.
const NOTICE_MARK: &str = "[codex-governance] ";

/// `what`'s plain form, where its raw one is not plain already.
pub fn plain(what: &What, places: Places<'_>) -> Option<Plain> {
    let text = match what {
        // A notice's parts, one a line, without the mark the agent reads it
        // by. A turn of several lines (a send-back with the lines around each
        // comment, `  > 12 | code`) is shown as the agent got it: its own
        // ` | ` gutters are not parts (issue 70 item 7).
        What::User { text } => {
            let said = text.strip_prefix(NOTICE_MARK)?;
            match said.contains('\n') {
                true => said.to_string(),
                false => said
                    .split(" | ")
                    .map(str::trim)
                    .collect::<Vec<_>>()
                    .join("\n"),
            }
        }
        What::Command { command, .. } => relative(&unwrap_shell(command), places),
        What::ToolCall {
            tool,
            arguments,
            success,
            ..
        } => tool_words(tool, arguments, *success)?,
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

/// Folders whose programs are the system's own: a shell found there (or by
/// its bare name) is unwrapped; one anywhere else (`./bash`, a copy in the
/// repository or a temp folder) is shown as it was run.
const SYSTEM_FOLDERS: [&str; 7] = [
    "/bin",
    "/usr/bin",
    "/usr/local/bin",
    "/opt/homebrew/bin",
    "/run/current-system/sw/bin",
    r"c:\windows\system32\windowspowershell\v1.0",
    r"c:\program files\powershell\7",
];

/// PowerShell's switches that change nothing of what `-Command` runs.
const QUIET_POWERSHELL: [&str; 3] = ["-noprofile", "-nologo", "-noninteractive"];

/// The program's name (lower case, no `.exe`) when it is the system's own.
fn system_program(word: &str) -> Option<String> {
    let (folder, base) = match word.rfind(['/', '\\']) {
        Some(at) => (Some(&word[..at]), &word[at + 1..]),
        None => (None, word),
    };
    if let Some(folder) = folder {
        let folder = folder.to_ascii_lowercase();
        if !SYSTEM_FOLDERS.contains(&folder.as_str()) {
            return None;
        }
    }
    let base = base.to_ascii_lowercase();
    Some(
        base.strip_suffix(".exe")
            .map(str::to_string)
            .unwrap_or(base),
    )
}

/// What a shell was asked to run: the script of `bash -lc SCRIPT` (any of
/// [`SHELLS`], the system's, with a login or interactive flag) or of
/// `pwsh -NoProfile -Command SCRIPT`; any other command as it is (`cmd /c`
/// too: its words do not split as a POSIX shell's do).
pub fn unwrap_shell(command: &str) -> String {
    let Ok(words) = shell_words::split(command) else {
        return command.to_string();
    };
    let Some(program) = words.first().and_then(|w| system_program(w)) else {
        return command.to_string();
    };
    match &words[1..] {
        [flag, script]
            if SHELLS.contains(&program.as_str())
                && flag.len() >= 2
                && flag.starts_with('-')
                && flag.ends_with('c')
                && flag[1..].chars().all(|c| "lic".contains(c)) =>
        {
            script.clone()
        }
        [switches @ .., command_flag, script]
            if matches!(program.as_str(), "pwsh" | "powershell")
                && (command_flag.eq_ignore_ascii_case("-command")
                    || command_flag.eq_ignore_ascii_case("-c"))
                && switches
                    .iter()
                    .all(|w| QUIET_POWERSHELL.contains(&w.to_ascii_lowercase().as_str())) =>
        {
            script.clone()
        }
        _ => command.to_string(),
    }
}

/// `text` with the session's own folder made relative (`<root>/a.rs` →
/// `a.rs`, `<root>/` → `./`, the root alone → `.`). For a department (with a
/// worktree) the repository is the user's tree, not its own: shown as
/// `<repo>`, so a path there never reads as one in its worktree. A root is
/// matched only as a whole path (at a word's start, ending at a separator
/// or the word's end).
pub fn relative(text: &str, places: Places<'_>) -> String {
    let mut out = text.to_string();
    let roots: Vec<(&Path, &str)> = match places.worktree {
        Some(own) => vec![(own, "."), (places.repo, "<repo>")],
        None => vec![(places.repo, ".")],
    };
    for (root, shown) in roots {
        let root = root.to_string_lossy();
        let root = root.trim_end_matches(['/', '\\']);
        if root.len() >= 2 {
            out = replace_root(&out, root, shown);
        }
    }
    out
}

/// Replaces the path `root` in `text` with `shown` where it is a whole path.
fn replace_root(text: &str, root: &str, shown: &str) -> String {
    let starts_word = |before: Option<char>| {
        before.is_none_or(|c| c.is_whitespace() || "'\"=(:;,[{<>|&`".contains(c))
    };
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    let mut before: Option<char> = None;
    while let Some(at) = rest.find(root) {
        let left = rest[..at].chars().next_back().or(before);
        let after = &rest[at + root.len()..];
        let mut next = after.chars();
        let replaced = match (starts_word(left), next.next()) {
            (true, Some(sep @ ('/' | '\\'))) => {
                let tail = next.next();
                let ends = tail.is_none_or(|c| c.is_whitespace() || "'\";|&)".contains(c));
                Some(match (ends, shown) {
                    (true, ".") => ("./".to_string(), 1),
                    (true, _) => (format!("{shown}{sep}"), 1),
                    (false, ".") => (String::new(), 1),
                    (false, _) => (format!("{shown}{sep}"), 1),
                })
            }
            (true, None) => Some((shown.to_string(), 0)),
            (true, Some(c)) if c.is_whitespace() || "'\";|&)".contains(c) => {
                Some((shown.to_string(), 0))
            }
            _ => None,
        };
        out.push_str(&rest[..at]);
        match replaced {
            Some((with, skip)) => {
                out.push_str(&with);
                rest = &after[skip..];
            }
            None => {
                out.push_str(root);
                rest = after;
            }
        }
        before = out.chars().next_back();
    }
    out.push_str(rest);
    out
}

/// The launcher's own tools, said as what they did; what the agent chose
/// (a path) is quoted, and a call the launcher refused says so.
fn tool_words(tool: &str, arguments: &str, success: Option<bool>) -> Option<String> {
    let args: serde_json::Value = serde_json::from_str(arguments).ok()?;
    let count = |key: &str| args[key].as_array().map_or(0, Vec::len);
    let named = |n: usize, one: &str| format!("{n} {one}{}", plural(n));
    let refused = success == Some(false);
    Some(match tool {
        "governance_report_result" => {
            let mut parts = vec![
                named(count("changed_files"), "file"),
                named(count("verifications_run"), "check"),
            ];
            if count("risks") > 0 {
                parts.push(named(count("risks"), "risk"));
            }
            let verb = if refused {
                "tried to report"
            } else {
                "reported"
            };
            format!("{verb}: {}", parts.join(", "))
        }
        "governance_register_plan" => {
            let verb = if refused { "tried to plan" } else { "planned" };
            format!("{verb}: {}", named(count("assignments"), "assignment"))
        }
        _ if refused => return None,
        "governance_read_inbox" => "read its inbox".into(),
        "governance_read_report" => "read the governance report".into(),
        "governance_plan_status" => "read its plan's status".into(),
        "governance_read_changes" => match args["path"].as_str() {
            Some(path) => format!("read the changes to {}", serde_json::json!(path)),
            None => "read a department's changes".into(),
        },
        "governance_propose_integration" => match args["mode"].as_str() {
            Some(mode @ ("apply" | "merge" | "pull_request")) => {
                format!("proposed to {}", mode.replace('_', " "))
            }
            _ => return None,
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

    /// Issue 70 item 7: a send-back turn's quoted lines keep their numbers
    /// and gutters where the user reads what the agent was told.
    #[test]
    fn a_turn_of_several_lines_is_shown_as_the_agent_got_it() {
        let turn = "[codex-governance] The user sent your work back: fix it\n\
                    1. src/lib.rs:7\n   The lines around it in your worktree:\n\
                    \x20  >    7 | let x = 1;\n        8 | }\n";
        let places = Places {
            worktree: None,
            repo: Path::new("/r"),
        };
        let said = plain(&What::User { text: turn.into() }, places)
            .unwrap()
            .text;
        assert!(
            said.contains("   >    7 | let x = 1;\n        8 | }"),
            "{said}"
        );
        let one = "[codex-governance] Department zhilibu-1 reported | 1 file | read its inbox";
        let parts = plain(&What::User { text: one.into() }, places)
            .unwrap()
            .text;
        assert_eq!(
            parts,
            "Department zhilibu-1 reported\n1 file\nread its inbox"
        );
    }

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
            // Not a wrapper, or not the system's shell: as it is.
            ("cargo test -p x", "cargo test -p x"),
            ("bash script.sh", "bash script.sh"),
            ("bash -lc 'a' extra", "bash -lc 'a' extra"),
            ("bash -c -- 'a'", "bash -c -- 'a'"),
            ("python -c 'print(1)'", "python -c 'print(1)'"),
            ("./bash -c 'ls'", "./bash -c 'ls'"),
            ("/tmp/x/bash -lc 'ls'", "/tmp/x/bash -lc 'ls'"),
            ("/home/u/r/bash -c ls", "/home/u/r/bash -c ls"),
            (
                "pwsh -File evil.ps1 -Command x",
                "pwsh -File evil.ps1 -Command x",
            ),
            (r"cmd /c C:\evil\x.exe", r"cmd /c C:\evil\x.exe"),
            // Unbalanced quotes: as it is.
            ("bash -lc 'oops", "bash -lc 'oops"),
        ];
        for (raw, shown) in cases {
            assert_eq!(unwrap_shell(raw), shown, "{raw}");
        }
    }

    #[test]
    fn paths_are_relative_to_the_sessions_own_folder() {
        let department = Places {
            worktree: Some(Path::new("/home/u/r.worktrees/zhilibu-3")),
            repo: Path::new("/home/u/r"),
        };
        let cases = [
            ("cat /home/u/r.worktrees/zhilibu-3/src/a.rs", "cat src/a.rs"),
            ("cd /home/u/r.worktrees/zhilibu-3 && ls", "cd . && ls"),
            ("rm -rf /home/u/r.worktrees/zhilibu-3/", "rm -rf ./"),
            // The user's tree is not the department's own.
            ("diff /home/u/r/README.md x", "diff <repo>/README.md x"),
            ("rm -rf /home/u/r/", "rm -rf <repo>/"),
            // Only whole paths: a sibling, or the root inside another path.
            ("ls /home/u/r2/x /home/u/rx", "ls /home/u/r2/x /home/u/rx"),
            ("ls /srv/home/u/r/x", "ls /srv/home/u/r/x"),
            ("ls /tmp/elsewhere", "ls /tmp/elsewhere"),
        ];
        for (raw, shown) in cases {
            assert_eq!(relative(raw, department), shown, "{raw}");
        }
        let planner = Places {
            worktree: None,
            repo: Path::new("/home/u/r"),
        };
        assert_eq!(relative("cat '/home/u/r/a b.md'", planner), "cat 'a b.md'");
        assert_eq!(relative("rm -rf /home/u/r/", planner), "rm -rf ./");
        let windows = Places {
            worktree: None,
            repo: Path::new(r"C:\Users\u\r"),
        };
        assert_eq!(
            relative(r"type C:\Users\u\r\src\a.rs", windows),
            r"type src\a.rs"
        );
    }

    /// Walk 3 of issue 49: a planner's tile showed "told [codex-governance]
    /// 2 new results | risks: 0 | …" as one line.
    #[test]
    fn the_launchers_notice_is_one_part_a_line_and_the_users_words_stay_as_they_are() {
        let places = Places {
            worktree: None,
            repo: Path::new("/r"),
        };
        let notice = What::User {
            text:
                "[codex-governance] 2 new results | risks: 0 | read them with governance_read_inbox"
                    .into(),
        };
        assert_eq!(
            plain(&notice, places).map(|p| p.text),
            Some("2 new results\nrisks: 0\nread them with governance_read_inbox".into())
        );
        let users = What::User {
            text: "Add a flag | and document it".into(),
        };
        assert_eq!(plain(&users, places), None);
    }

    #[test]
    fn the_launchers_tools_say_what_they_did() {
        let report =
            r#"{"summary":"s","changed_files":["a.rs"],"verifications_run":["cargo test: ok"]}"#;
        assert_eq!(
            tool_words("governance_report_result", report, Some(true)).unwrap(),
            "reported: 1 file, 1 check"
        );
        let empty = r#"{"summary":"nothing","risks":["r1","r2"]}"#;
        assert_eq!(
            tool_words("governance_report_result", empty, None).unwrap(),
            "reported: 0 files, 0 checks, 2 risks"
        );
        assert_eq!(
            tool_words(
                "governance_register_plan",
                r#"{"summary":"s","assignments":[{},{}]}"#,
                None
            )
            .unwrap(),
            "planned: 2 assignments"
        );
        assert_eq!(
            tool_words(
                "governance_propose_integration",
                r#"{"mode":"pull_request"}"#,
                None
            )
            .unwrap(),
            "proposed to pull request"
        );
        // Another server's tool, or arguments that are not JSON: the raw form.
        assert_eq!(
            tool_words("governance_report_result", report, Some(false)).unwrap(),
            "tried to report: 1 file, 1 check"
        );
        // What the agent chose is quoted, or left to the raw form.
        assert_eq!(
            tool_words("governance_read_changes", r#"{"path":"a b.md"}"#, None).unwrap(),
            r#"read the changes to "a b.md""#
        );
        assert_eq!(
            tool_words(
                "governance_propose_integration",
                r#"{"mode":"merge everything"}"#,
                None
            ),
            None
        );
        // Another server's tool, or arguments that are not JSON: the raw form.
        assert_eq!(tool_words("search", "{}", None), None);
        assert_eq!(
            tool_words("governance_report_result", "not json", None),
            None
        );
    }
}
