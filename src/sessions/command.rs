//! Turning `agent_command` into a program, its arguments and its environment.
//!
//! Placeholders are replaced inside each argument; nothing passes through a shell,
//! so a prompt with spaces, quotes or `$(...)` arrives as one literal argument.

use std::path::Path;

/// Values for the placeholders of `agent_command`.
pub struct Placeholders<'a> {
    pub model: &'a str,
    pub repo: &'a Path,
    pub prompt: &'a str,
    pub prompt_file: &'a Path,
    pub session_id: &'a str,
}

/// Fills `{model}`, `{repo}`, `{prompt}`, `{prompt_file}` and `{session_id}` in each word.
pub fn build_argv(template: &[String], p: &Placeholders<'_>) -> Vec<String> {
    let repo = p.repo.display().to_string();
    let prompt_file = p.prompt_file.display().to_string();
    template
        .iter()
        .map(|word| {
            fill(
                word,
                &[
                    ("{model}", p.model),
                    ("{repo}", &repo),
                    ("{prompt_file}", &prompt_file),
                    ("{prompt}", p.prompt),
                    ("{session_id}", p.session_id),
                ],
            )
        })
        .collect()
}

/// Replaces each placeholder once per occurrence, left to right, without
/// re-scanning inserted text (a prompt containing `{model}` stays literal).
fn fill(word: &str, pairs: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(word.len());
    let mut rest = word;
    'outer: while !rest.is_empty() {
        if rest.starts_with('{') {
            for (name, value) in pairs {
                if let Some(after) = rest.strip_prefix(name) {
                    out.push_str(value);
                    rest = after;
                    continue 'outer;
                }
            }
        }
        let c = rest.chars().next().unwrap();
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// The environment every agent gets (SPEC 6).
pub struct AgentEnv<'a> {
    pub url: &'a str,
    pub token: &'a str,
    pub session_id: &'a str,
    pub kind: &'a str,
    pub prompt_file: &'a Path,
    pub model: &'a str,
    pub parent_session_id: Option<&'a str>,
    pub department: Option<&'a str>,
    pub mailbox: Option<&'a Path>,
}

/// The absolute path of the running launcher binary (its name when unknown).
pub fn launcher_bin() -> String {
    std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| "codex-governance".into())
}

impl AgentEnv<'_> {
    pub fn vars(&self) -> Vec<(String, String)> {
        let mut v = vec![
            ("CODEX_GOVERNANCE_URL", self.url.to_string()),
            ("CODEX_GOVERNANCE_TOKEN", self.token.to_string()),
            ("CODEX_GOVERNANCE_SESSION_ID", self.session_id.to_string()),
            ("CODEX_GOVERNANCE_SESSION_KIND", self.kind.to_string()),
            (
                "CODEX_GOVERNANCE_PROMPT_FILE",
                self.prompt_file.display().to_string(),
            ),
            ("CODEX_GOVERNANCE_MODEL", self.model.to_string()),
        ];
        // The running binary, so `mailbox send` works where a login shell resets PATH.
        v.push(("CODEX_GOVERNANCE_BIN", launcher_bin()));
        if let Some(p) = self.parent_session_id {
            v.push(("CODEX_GOVERNANCE_PARENT_SESSION_ID", p.to_string()));
        }
        if let Some(d) = self.department {
            v.push(("CODEX_GOVERNANCE_DEPARTMENT", d.to_string()));
        }
        if let Some(m) = self.mailbox {
            v.push(("CODEX_GOVERNANCE_MAILBOX", m.display().to_string()));
        }
        v.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_fill_without_rescanning() {
        let t: Vec<String> = [
            "codex",
            "-m",
            "{model}",
            "--cd",
            "{repo}",
            "{prompt}",
            "x{session_id}y",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let argv = build_argv(
            &t,
            &Placeholders {
                model: "gpt-5.5",
                repo: Path::new("/r p"),
                prompt: "say \"hi\" {model} $(rm -rf /)",
                prompt_file: Path::new("/p.txt"),
                session_id: "zhongshu-1",
            },
        );
        assert_eq!(argv[2], "gpt-5.5");
        assert_eq!(argv[4], "/r p");
        assert_eq!(argv[5], "say \"hi\" {model} $(rm -rf /)");
        assert_eq!(argv[6], "xzhongshu-1y");
    }
}
