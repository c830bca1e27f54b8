//! The fake agent's options, from (in increasing priority) `FAKE_AGENT_<OPTION>`
//! environment variables, command-line flags, and `[[fake-agent: ...]]`
//! directives inside the prompt. Unknown words are kept, not refused, so a test
//! can pass any placeholder through (`--model {model}` and the like).

use serde_json::{json, Map, Value};

/// How an option takes its value.
#[derive(Clone, Copy)]
enum Kind {
    Text,
    Int,
    Float,
    /// A flag without value (`store_true`).
    Flag,
    /// Repeated: each use appends (`--risk a --risk b`).
    List,
    Choice(&'static [&'static str]),
}

/// Flag, key (also the name in FAKE_AGENT_OPTIONS and FAKE_AGENT_<KEY>), kind.
const OPTIONS: &[(&str, &str, Kind)] = &[
    // Placeholders a test may pass through, so it can check them.
    ("--prompt", "prompt", Kind::Text),
    ("--prompt-file", "prompt_file_arg", Kind::Text),
    ("--model", "model_arg", Kind::Text),
    ("--cd", "repo_arg", Kind::Text),
    ("--session", "session_arg", Kind::Text),
    // Zhongshu
    ("--plan-file", "plan_file", Kind::Text),
    ("--plan-json", "plan_json", Kind::Text),
    ("--plan-retries", "plan_retries", Kind::Int),
    (
        "--after-plan",
        "after_plan",
        Kind::Choice(&["wait", "exit"]),
    ),
    // Department
    ("--lines", "lines", Kind::Int),
    ("--work-seconds", "work_seconds", Kind::Float),
    // SUFFIX=SECONDS: a session whose id ends so works that long instead
    // (attempts at one task then differ).
    ("--slow-session", "slow_session", Kind::Text),
    ("--no-report", "no_report", Kind::Flag),
    ("--report-via", "report_via", Kind::Choice(&["file", "cli"])),
    ("--bin", "bin", Kind::Text),
    ("--summary", "summary", Kind::Text),
    ("--risk", "risk", Kind::List),
    ("--changed-file", "changed_file", Kind::List),
    // PATH=TEXT, relative to the working folder; `\n` in TEXT is a new line.
    ("--write", "write", Kind::List),
    ("--verification", "verification", Kind::List),
    ("--next-action", "next_action", Kind::Text),
    ("--needs-confirmation", "needs_confirmation", Kind::Flag),
    ("--report-id", "report_id", Kind::Text),
    (
        "--after-report",
        "after_report",
        Kind::Choice(&["exit", "wait"]),
    ),
    // Both
    ("--exit-code", "exit_code", Kind::Int),
    ("--ignore-sigterm", "ignore_sigterm", Kind::Flag),
    ("--spawn-child", "spawn_child", Kind::Flag),
    ("--flood-mb", "flood_mb", Kind::Float),
    ("--stream-kib", "stream_kib", Kind::Float),
    ("--max-lifetime", "max_lifetime", Kind::Float),
    ("--quiet-env", "quiet_env", Kind::Flag),
    ("--plain-paste", "plain_paste", Kind::Flag),
    ("--record-stdin", "record_stdin", Kind::Text),
    ("--sleep", "sleep", Kind::Float),
    ("--demo", "demo", Kind::Flag),
];

/// Values for options nobody set.
fn default(key: &str) -> Value {
    match key {
        "plan_retries" => json!(50),
        "after_plan" => json!("wait"),
        "lines" => json!(3),
        "work_seconds" | "flood_mb" | "stream_kib" => json!(0.0),
        "report_via" => json!("file"),
        "bin" => json!("codex-governance"),
        "after_report" => json!("exit"),
        "exit_code" => json!(0),
        "max_lifetime" => json!(600.0),
        "no_report" | "needs_confirmation" | "ignore_sigterm" | "spawn_child" | "quiet_env"
        | "plain_paste" | "demo" => json!(false),
        _ => Value::Null,
    }
}

/// A bad value: the message argparse would print.
#[derive(Debug)]
pub struct BadOption(pub String);

/// The effective options, with what was not understood.
pub struct Options {
    values: Map<String, Value>,
    pub unknown: Vec<String>,
    /// The words of every prompt directive, in order.
    pub directives: Vec<String>,
}

impl Options {
    /// Flags, then the environment for what they left unset, then directives in
    /// the prompt (the `--prompt` argument, else the prompt file), then defaults.
    pub fn parse(args: &[String]) -> Result<Options, BadOption> {
        let mut values = Map::new();
        let mut unknown = parse_flags(args, &mut values)?;
        for (_, key, kind) in OPTIONS {
            if values.contains_key(*key) {
                continue;
            }
            if let Some(v) = env_value(key, *kind)? {
                values.insert(key.to_string(), v);
            }
        }
        if !values.contains_key("plan_file") && !values.contains_key("plan_json") {
            if let Some(plan) = std::env::var("FAKE_AGENT_PLAN")
                .ok()
                .filter(|p| !p.is_empty())
            {
                match plan.strip_prefix('@') {
                    Some(path) => values.insert("plan_file".into(), json!(path)),
                    None => values.insert("plan_json".into(), json!(plan)),
                };
            }
        }
        let prompt = prompt_text(&values);
        let mut directives = Vec::new();
        for inner in directive_bodies(&prompt) {
            let words =
                split_words(inner).map_err(|e| BadOption(format!("directive {inner:?}: {e}")))?;
            directives.extend(words);
        }
        if !directives.is_empty() {
            let mut from_prompt = Map::new();
            unknown.extend(parse_flags(&directives, &mut from_prompt)?);
            from_prompt.remove("prompt");
            values.extend(from_prompt);
        }
        for (_, key, _) in OPTIONS {
            if !values.contains_key(*key) {
                values.insert(key.to_string(), default(key));
            }
        }
        Ok(Options {
            values,
            unknown,
            directives,
        })
    }

    /// The prompt the options were read from (`--prompt`, else the prompt file).
    pub fn prompt(&self) -> String {
        prompt_text(&self.values)
    }

    pub fn text(&self, key: &str) -> Option<&str> {
        self.values.get(key).and_then(Value::as_str)
    }

    pub fn flag(&self, key: &str) -> bool {
        self.values
            .get(key)
            .and_then(Value::as_bool)
            .unwrap_or(false)
    }

    pub fn int(&self, key: &str) -> i64 {
        self.values.get(key).and_then(Value::as_i64).unwrap_or(0)
    }

    pub fn float(&self, key: &str) -> f64 {
        self.values.get(key).and_then(Value::as_f64).unwrap_or(0.0)
    }

    pub fn list(&self, key: &str) -> Vec<String> {
        self.values
            .get(key)
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// What FAKE_AGENT_OPTIONS shows: every option but the prompt, the unknown
    /// words and the directives.
    pub fn shown(&self) -> Value {
        let mut shown = self.values.clone();
        shown.remove("prompt");
        shown.insert("unknown_args".into(), json!(self.unknown));
        shown.insert("directives".into(), json!(self.directives));
        Value::Object(shown)
    }
}

/// Known flags into `values` (later uses win; lists append); the rest returned.
fn parse_flags(args: &[String], values: &mut Map<String, Value>) -> Result<Vec<String>, BadOption> {
    let mut unknown = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        i += 1;
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n, Some(v.to_string())),
            _ => (arg.as_str(), None),
        };
        let Some((flag, key, kind)) = OPTIONS.iter().find(|(f, _, _)| *f == name) else {
            unknown.push(arg.clone());
            continue;
        };
        if let Kind::Flag = kind {
            if inline.is_some() {
                return Err(BadOption(format!(
                    "argument {flag}: ignored explicit argument"
                )));
            }
            values.insert(key.to_string(), json!(true));
            continue;
        }
        let raw = match inline {
            Some(v) => v,
            None if i < args.len() => {
                i += 1;
                args[i - 1].clone()
            }
            None => return Err(BadOption(format!("argument {flag}: expected one argument"))),
        };
        let value = convert(flag, *kind, &raw)?;
        match kind {
            Kind::List => {
                let list = values.entry(key.to_string()).or_insert_with(|| json!([]));
                if !list.is_array() {
                    *list = json!([]);
                }
                list.as_array_mut().unwrap().push(value);
            }
            _ => {
                values.insert(key.to_string(), value);
            }
        }
    }
    Ok(unknown)
}

/// One flag's text as its kind's JSON value.
fn convert(flag: &str, kind: Kind, raw: &str) -> Result<Value, BadOption> {
    let bad = |what: &str| BadOption(format!("argument {flag}: invalid {what} value: {raw:?}"));
    Ok(match kind {
        Kind::Text | Kind::List => json!(raw),
        Kind::Int => json!(raw.trim().parse::<i64>().map_err(|_| bad("int"))?),
        Kind::Float => json!(raw.trim().parse::<f64>().map_err(|_| bad("float"))?),
        Kind::Flag => json!(true),
        Kind::Choice(choices) => {
            if !choices.contains(&raw) {
                return Err(BadOption(format!(
                    "argument {flag}: invalid choice: {raw:?} (choose from {choices:?})"
                )));
            }
            json!(raw)
        }
    })
}

/// `FAKE_AGENT_<KEY>` as the option's value (lists split on `|`), if set.
fn env_value(key: &str, kind: Kind) -> Result<Option<Value>, BadOption> {
    let name = format!("FAKE_AGENT_{}", key.to_uppercase());
    let Some(raw) = std::env::var(&name).ok().filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    let value = match kind {
        Kind::List => json!(raw.split('|').filter(|x| !x.is_empty()).collect::<Vec<_>>()),
        Kind::Flag => json!(!matches!(raw.to_lowercase().as_str(), "0" | "false" | "no")),
        _ => convert(&name, kind, &raw)?,
    };
    Ok(Some(value))
}

/// The prompt: `--prompt`, else the prompt file (the environment's, else `--prompt-file`).
fn prompt_text(values: &Map<String, Value>) -> String {
    if let Some(p) = values.get("prompt").and_then(Value::as_str) {
        if !p.is_empty() {
            return p.to_string();
        }
    }
    let file = std::env::var("CODEX_GOVERNANCE_PROMPT_FILE")
        .ok()
        .filter(|f| !f.is_empty())
        .or_else(|| {
            values
                .get("prompt_file_arg")
                .and_then(Value::as_str)
                .map(str::to_string)
        });
    file.and_then(|f| std::fs::read_to_string(f).ok())
        .unwrap_or_default()
}

/// A directive's words: split as a POSIX shell splits them, except on
/// Windows, where a backslash is a path separator and stays as it is.
fn split_words(text: &str) -> Result<Vec<String>, String> {
    if cfg!(windows) {
        split_keeping_backslashes(text)
    } else {
        shell_words::split(text).map_err(|e| e.to_string())
    }
}

/// Words separated by white space; `'...'` and `"..."` group, without escapes.
fn split_keeping_backslashes(text: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut quote: Option<char> = None;
    for c in text.chars() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => word.get_or_insert_with(String::new).push(c),
            None if c == '\'' || c == '"' => {
                quote = Some(c);
                word.get_or_insert_with(String::new);
            }
            None if c.is_whitespace() => words.extend(word.take()),
            None => word.get_or_insert_with(String::new).push(c),
        }
    }
    if quote.is_some() {
        return Err("missing closing quote".into());
    }
    words.extend(word);
    Ok(words)
}

/// The text inside each `[[fake-agent: ...]]`, shortest match, across lines.
fn directive_bodies(prompt: &str) -> Vec<&str> {
    const OPEN: &str = "[[fake-agent:";
    let mut bodies = Vec::new();
    let mut rest = prompt;
    while let Some(start) = rest.find(OPEN) {
        let after = &rest[start + OPEN.len()..];
        let Some(end) = after.find("]]") else {
            break;
        };
        bodies.push(&after[..end]);
        rest = &after[end + 2..];
    }
    bodies
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &[&str]) -> Vec<String> {
        s.iter().map(|w| w.to_string()).collect()
    }

    #[test]
    fn flags_directives_and_unknown_words() {
        let o = Options::parse(&words(&[
            "--work-seconds",
            "2",
            "--risk",
            "a",
            "--risk=b",
            "--extra",
            "--no-report",
            "--prompt",
            "task [[fake-agent: --work-seconds 7 --summary 'two words']] and\n[[fake-agent: --after-report wait]]",
        ]))
        .unwrap();
        assert_eq!(o.float("work_seconds"), 7.0);
        assert_eq!(o.text("summary"), Some("two words"));
        assert_eq!(o.text("after_report"), Some("wait"));
        assert_eq!(o.list("risk"), ["a", "b"]);
        assert!(o.flag("no_report"));
        assert_eq!(o.unknown, ["--extra"]);
        assert_eq!(o.int("lines"), 3);
        assert_eq!(o.shown()["directives"].as_array().unwrap().len(), 6);
        assert!(o.shown().get("prompt").is_none());
    }

    #[test]
    fn windows_words_keep_backslashes() {
        assert_eq!(
            split_keeping_backslashes(r#"--plan-file C:\x\p.json --summary 'a b' "c d" ''"#)
                .unwrap(),
            [
                r"--plan-file",
                r"C:\x\p.json",
                "--summary",
                "a b",
                "c d",
                ""
            ]
        );
        assert!(split_keeping_backslashes("'open").is_err());
    }

    #[test]
    fn bad_values_are_refused() {
        assert!(Options::parse(&words(&["--report-via", "mail"])).is_err());
        assert!(Options::parse(&words(&["--lines", "many"])).is_err());
        assert!(Options::parse(&words(&["--summary"])).is_err());
    }
}
