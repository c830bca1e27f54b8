//! `--demo`: what the fake agent does for `codex-governance demo` when its
//! prompt carries no plan and no directives, so a new user sees a whole plan
//! run from a plain task, and what review looks like. A Zhongshu reads the
//! task and the departments from its prompt (the lines a real planner reads)
//! and registers one assignment per department, each naming one notes file in
//! that department's usual folder. A department adds a dated line to the file
//! its prompt puts in scope and reports it with the launcher's `mailbox send`.
//! Two of the built-in departments do more, so the review has something to
//! show: zhilibu also adds a line to README.md before its Usage section and
//! asks the user whether the README should say it (Confirm / Reject), and
//! lingyubu adds a line at the same place although README.md is not in its
//! scope, and leaves it out of its report (a REVIEW, and a conflict between
//! the two).

use std::io::Write;
use std::path::{Component, Path};

use serde_json::{json, Value};

/// At most this many assignments, so the demo shows a queue only when the
/// configuration allows fewer at once.
const MAX_ASSIGNMENTS: usize = 3;

/// The plan for a Zhongshu prompt: the task, one assignment per department
/// (the review department `menxia` left out). None when the prompt names no
/// department.
pub fn plan(prompt: &str) -> Option<Value> {
    let task = zhongshu_task(prompt);
    let assignments: Vec<Value> = departments(prompt)
        .into_iter()
        .filter(|(key, _)| key != "menxia")
        .take(MAX_ASSIGNMENTS)
        .map(|(key, title)| {
            let file = notes_file(&key);
            let (extra, files) = match key.as_str() {
                "zhilibu" => (
                    format!(", {README_LINE}, {ASK_FIRST}"),
                    json!([file, "README.md"]),
                ),
                "lingyubu" => (format!(", {README_LINE}"), json!([file])),
                _ => (String::new(), json!([file])),
            };
            json!({
                "department": key,
                "title": format!("{title}: {task}"),
                "task": format!("{task} (the {title} part): add a dated line about it to {file}{extra}"),
                "files": files,
                "reason": format!("{file} is in {key}'s folders"),
            })
        })
        .collect();
    if assignments.is_empty() {
        return None;
    }
    Some(json!({
        "summary": format!("Demo plan for: {task}"),
        "assignments": assignments,
    }))
}

/// What a demo task says to add a line to README.md before its Usage section.
pub const README_LINE: &str = "and a line to README.md before its Usage section";
/// What a demo task says to ask the user about first.
pub const ASK_FIRST: &str = "asking the user whether the README should say it";
/// The question the department asks (its report's next action).
pub const QUESTION: &str =
    "Should README.md mention this, or only docs/notes.md? Confirm keeps the README line; if you reject it, send my work back to take the line out.";

/// Takes the lines `department` added out of README.md; whether any were there.
pub fn remove_readme_lines(repo: &Path, department: &str) -> Result<bool, String> {
    let path = repo.join("README.md");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mine = format!("{department} (");
    let kept: Vec<&str> = text
        .split_inclusive('\n')
        .filter(|l| !l.starts_with(&mine))
        .collect();
    if kept.concat() == text {
        return Ok(false);
    }
    let new = kept.concat().replace("\n\n\n", "\n\n");
    std::fs::write(&path, new).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(true)
}

/// Inserts `line` before README.md's `## Usage` heading (at the end when it has none).
pub fn add_readme_line(repo: &Path, line: &str) -> Result<(), String> {
    let path = repo.join("README.md");
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    let new = match text.find("## Usage") {
        Some(at) => format!("{}{line}\n\n{}", &text[..at], &text[at..]),
        None => format!("{text}{line}\n"),
    };
    std::fs::write(&path, new).map_err(|e| format!("{}: {e}", path.display()))
}

/// A notes file where the default configuration routes each built-in
/// department's files (docs/**, tests/**, src/**); others get notes/<key>.md.
fn notes_file(department: &str) -> String {
    match department {
        "zhilibu" => "docs/notes.md".into(),
        "gongchengbu" => "tests/notes.md".into(),
        "lingyubu" => "src/notes.md".into(),
        other => format!("notes/{other}.md"),
    }
}

/// The text between `start` and the first `end` after it, trimmed.
fn between<'a>(text: &'a str, start: &str, ends: &[&str]) -> Option<&'a str> {
    let from = text.find(start)? + start.len();
    let rest = &text[from..];
    let to = ends
        .iter()
        .filter_map(|e| rest.find(e))
        .min()
        .unwrap_or(rest.len());
    Some(rest[..to].trim())
}

/// The user's task: its first line, as the plan's title uses it.
fn zhongshu_task(prompt: &str) -> String {
    let task = between(prompt, "Task from the user:", &["\nHow to work:"]).unwrap_or("");
    first_line(task, "the demo task")
}

/// The first non-empty line, at most 120 characters, cut at a space with "…".
fn first_line(text: &str, fallback: &str) -> String {
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or(fallback);
    cut_words(line, 120)
}

fn cut_words(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let head: String = text.chars().take(max - 1).collect();
    let at = head
        .rfind(' ')
        .filter(|&i| i > max / 2)
        .unwrap_or(head.len());
    format!("{}…", head[..at].trim_end())
}

/// What the demo agent says when it hears a line in its terminal: a
/// launcher notice read as an agent would tell it, the user's words answered.
pub fn heard(text: &str) -> String {
    let Some(notice) = text.strip_prefix("[codex-governance]") else {
        return format!(
            "You said: \"{}\". I am a scripted demo agent: I cannot act on it, but it reached me.",
            cut_words(text.trim(), 200)
        );
    };
    let parts: Vec<&str> = notice.split(" | ").map(str::trim).collect();
    let head = parts.first().copied().unwrap_or("");
    if notice.contains("the user CONFIRMED") || notice.contains("the user REJECTED") {
        let verdict = if notice.contains("CONFIRMED") {
            "confirmed"
        } else {
            "rejected"
        };
        return format!("The launcher says you {verdict} a department's question. Noted: nothing more for me to do.");
    }
    if let Some(finished) = parts
        .iter()
        .find_map(|p| p.strip_prefix("your plan finished:"))
    {
        return format!(
            "Read the inbox: {head}. My plan finished ({}). Summary for you: each department left its change for your review; the next step is yours: apply, merge or send back.",
            finished.trim()
        );
    }
    format!("Read the inbox: {head}. I will wait for the rest of my plan.")
}

/// The departments the prompt lists as `   - key (title): duty`.
fn departments(prompt: &str) -> Vec<(String, String)> {
    let Some(list) = between(prompt, "Split the task", &["\n3. "]) else {
        return Vec::new();
    };
    list.lines()
        .filter_map(|l| {
            let item = l.trim_start().strip_prefix("- ")?;
            let (key, rest) = item.split_once(" (")?;
            let (title, _) = rest.split_once("):")?;
            let valid = !key.is_empty()
                && key
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
            valid.then(|| (key.to_string(), title.to_string()))
        })
        .collect()
}

/// What a department's prompt asks: its task's first line, the files in
/// scope, and whether it also adds the README line and asks the user first.
pub struct Work {
    pub task: String,
    pub files: Vec<String>,
    pub readme: bool,
    pub asks: bool,
    /// The user's note when the work was sent back.
    pub sent_back: Option<String>,
}

pub fn work(prompt: &str) -> Work {
    let task = between(
        prompt,
        "\nTask:",
        &[
            "\nFiles in scope:",
            "\nChecks to run",
            "\nWhen you are done",
        ],
    )
    .unwrap_or("");
    let files = between(prompt, "\nFiles in scope:", &["\n\n"])
        .unwrap_or("")
        .lines()
        .filter_map(|l| l.trim().strip_prefix("- "))
        .map(str::to_string)
        .collect();
    Work {
        task: first_line(task, "the demo task"),
        files,
        readme: task.contains(README_LINE),
        asks: task.contains(ASK_FIRST),
        sent_back: between(prompt, "[Sent back by the user]", &["\n"]).map(str::to_string),
    }
}

/// Appends `line` to `file` under `repo` (folders made as needed). Only a
/// relative path inside the repository is written.
pub fn add_line(repo: &Path, file: &str, line: &str) -> Result<(), String> {
    let relative = Path::new(file);
    let inside = relative
        .components()
        .all(|c| matches!(c, Component::Normal(_)));
    if file.is_empty() || !inside {
        return Err(format!("{file:?} is not a path inside the repository"));
    }
    let path = repo.join(relative);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
    }
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    writeln!(f, "{line}").map_err(|e| format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ZHONGSHU: &str = "You are Zhongshu.\n\nTask from the user:\nTidy the docs\nand more\n\nHow to work:\n1. Read.\n2. Split the task into assignments for the departments:\n   - zhilibu (治理部): docs\n   - menxia (门下省): review\n   - gongchengbu (工程部): tools\n   - lingyubu (领域部): code\n   - extra_1 (Extra): x\n3. Register the plan\n   - not (a department): here\n";

    #[test]
    fn a_plain_task_plans_one_assignment_per_department() {
        let planned = plan(ZHONGSHU).unwrap();
        assert_eq!(planned["summary"], "Demo plan for: Tidy the docs");
        let a = planned["assignments"].as_array().unwrap();
        let keys: Vec<_> = a.iter().map(|x| x["department"].clone()).collect();
        assert_eq!(
            keys,
            [json!("zhilibu"), json!("gongchengbu"), json!("lingyubu")]
        );
        assert_eq!(a[0]["files"], json!(["docs/notes.md", "README.md"]));
        assert!(a[2]["task"].as_str().unwrap().contains("src/notes.md"));
        // zhilibu asks first and may write README.md; lingyubu writes it out of scope.
        let zhilibu = work(&format!(
            "\nTask:\n{}\n\nWhen you are done",
            a[0]["task"].as_str().unwrap()
        ));
        assert!(zhilibu.readme && zhilibu.asks);
        let lingyubu = work(&format!(
            "\nTask:\n{}\n\nWhen you are done",
            a[2]["task"].as_str().unwrap()
        ));
        assert!(lingyubu.readme && !lingyubu.asks);
        assert_eq!(a[2]["files"], json!(["src/notes.md"]));
        let gongchengbu = work(&format!(
            "\nTask:\n{}\n\nWhen you are done",
            a[1]["task"].as_str().unwrap()
        ));
        assert!(!gongchengbu.readme && !gongchengbu.asks);
        assert!(plan("no departments here").is_none());
    }

    #[test]
    fn a_department_reads_its_task_and_files() {
        let w = work("You are...\nTask:\nTidy the docs (the 治理部 part)\n\nFiles in scope:\n- docs/notes.md\n- b.md\n\nWhen you are done, report");
        assert_eq!(w.task, "Tidy the docs (the 治理部 part)");
        assert_eq!(w.files, ["docs/notes.md", "b.md"]);
        let bare = work("Task:\nx\n\nWhen you are done");
        assert!(bare.files.is_empty());
    }

    #[test]
    fn the_demo_agent_tells_what_it_heard_and_cuts_at_a_space() {
        let notice = "[codex-governance] 3 new results | risks: 0 | your plan finished: 3 of 3 ended: 3 reported | inbox: http://x";
        let said = heard(notice);
        assert!(
            said.starts_with(
                "Read the inbox: 3 new results. My plan finished (3 of 3 ended: 3 reported)"
            ),
            "{said}"
        );
        assert!(!said.contains("http"), "{said}");
        assert!(heard("hello there").starts_with("You said: \"hello there\""));
        let long = "word ".repeat(40);
        let cut = first_line(&long, "x");
        assert!(
            cut.ends_with("word…") && cut.chars().count() <= 120,
            "{cut}"
        );
        let w = work("Task:\nTidy it\n\n[Sent back by the user] Leave README.md alone\n\nYour earlier work\n\nWhen you are done");
        assert_eq!(w.sent_back.as_deref(), Some("Leave README.md alone"));
    }

    #[test]
    fn a_departments_readme_lines_come_out_again() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("README.md"), "# P\n\nIntro.\n\n## Usage\n").unwrap();
        add_readme_line(dir.path(), "lingyubu (2026): x").unwrap();
        assert!(remove_readme_lines(dir.path(), "lingyubu").unwrap());
        assert_eq!(
            std::fs::read_to_string(dir.path().join("README.md")).unwrap(),
            "# P\n\nIntro.\n\n## Usage\n"
        );
        assert!(!remove_readme_lines(dir.path(), "lingyubu").unwrap());
    }

    #[test]
    fn two_readme_lines_land_at_one_place() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("README.md"),
            "# P\n\nIntro.\n\n## Usage\n\nRun it.\n",
        )
        .unwrap();
        add_readme_line(dir.path(), "one").unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.path().join("README.md")).unwrap(),
            "# P\n\nIntro.\n\none\n\n## Usage\n\nRun it.\n"
        );
    }

    #[test]
    fn only_paths_inside_the_repository_are_written() {
        let dir = tempfile::tempdir().unwrap();
        add_line(dir.path(), "docs/n.md", "one").unwrap();
        add_line(dir.path(), "docs/n.md", "two").unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.path().join("docs/n.md")).unwrap(),
            "one\ntwo\n"
        );
        for bad in ["../x.md", "/etc/x", ""] {
            assert!(add_line(dir.path(), bad, "x").is_err(), "{bad}");
        }
    }
}
