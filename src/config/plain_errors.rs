//! Configuration errors in plain words: one key path, the expected kind said
//! as a person would ("a whole number"), and a did-you-mean for unknown keys.

/// Keys the launcher reads, by section, for did-you-mean.
const KNOWN: [(&str, &[&str]); 4] = [
    (
        "",
        &[
            "departments",
            "risk_rules",
            "preflight",
            "launcher",
            "version",
            "name",
            "provinces",
        ],
    ),
    (
        "launcher",
        &[
            "agent_command",
            "max_departments",
            "max_zhongshu",
            "models",
            "require_plan_confirmation",
            "terminal_shells",
            "backend",
            "codex_command",
            "approval_policy",
            "agent_network",
            "model_prices",
            "quota_reserve_percent",
            "plan_budget_usd",
            "plan_budget_tokens",
            "isolation",
            "scope",
            "auto_integrate",
            "worktree_checkout",
            "worktree_include",
            "worktree_max_file_bytes",
            "merge",
            "keep_discarded_days",
            "pull_requests",
        ],
    ),
    ("preflight", &["portability_paths"]),
    (
        "risk_rules",
        &["name", "level", "pattern", "message", "allow_pattern"],
    ),
];

/// The warning for an unknown key, with the closest known one.
pub fn unknown_key(file: &str, path: &str) -> String {
    let (section, key) = path.rsplit_once('.').unwrap_or(("", path));
    let candidates = KNOWN
        .iter()
        .find(|(s, _)| *s == section)
        .map(|(_, keys)| *keys)
        .unwrap_or(&[]);
    let best = candidates
        .iter()
        .map(|c| (strsim::jaro_winkler(key, c), *c))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0));
    match best {
        Some((_, c)) => {
            let suggestion = if section.is_empty() {
                c.to_string()
            } else {
                format!("{section}.{c}")
            };
            format!("{file}: unknown key {path} ignored (did you mean {suggestion}?)")
        }
        None => format!("{file}: unknown key {path} ignored"),
    }
}

/// A deserializer's message in words, without the key path it may repeat and
/// without the position (the caller says file and line).
pub fn in_words(message: &str, key: &str) -> String {
    let mut m = message.to_string();
    if let Some(i) = m.find(" at line ") {
        m.truncate(i);
    }
    let prefix = format!("{key}: ");
    while let Some(rest) = m.strip_prefix(&prefix) {
        m = rest.to_string();
    }
    if let Some(rest) = m.strip_prefix("invalid type: ") {
        if let Some((found, expected)) = rest.split_once(", expected ") {
            return format!("expected {}, found {}", kind(expected), found);
        }
    }
    if let Some(rest) = m.strip_prefix("invalid value: ") {
        if let Some((found, expected)) = rest.split_once(", expected ") {
            return format!("expected {}, found {}", kind(expected), found);
        }
    }
    m
}

/// Rust type names as a person says them.
fn kind(expected: &str) -> String {
    let e = expected.trim();
    let words = match e {
        "usize" | "u64" | "u32" | "u16" | "u8" | "isize" | "i64" | "i32" => "a whole number",
        "a boolean" | "bool" => "true or false",
        "a string" => "text",
        "a sequence" => "a list",
        "a map" => "a mapping (key: value lines)",
        _ if e.starts_with("struct ") => "a mapping (key: value lines)",
        _ => return e.to_string(),
    };
    words.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typos_get_a_suggestion() {
        let w = unknown_key("g.yaml", "launcher.agent_comand");
        assert_eq!(
            w,
            "g.yaml: unknown key launcher.agent_comand ignored (did you mean launcher.agent_command?)"
        );
        assert!(unknown_key("g.yaml", "lancher").contains("did you mean launcher?"));
        assert_eq!(
            unknown_key("g.yaml", "zzz"),
            "g.yaml: unknown key zzz ignored"
        );
    }

    #[test]
    fn messages_name_the_kind_once() {
        let m = in_words(
            "launcher.max_departments: invalid type: string \"two\", expected usize at line 2 column 20",
            "launcher.max_departments",
        );
        assert_eq!(m, "expected a whole number, found string \"two\"");
        assert_eq!(
            in_words("invalid type: integer `3`, expected a boolean", "x"),
            "expected true or false, found integer `3`"
        );
    }
}
