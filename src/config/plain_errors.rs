//! Configuration errors in plain words: one key path, the expected kind said
//! as a person would ("a whole number"), and a did-you-mean for unknown keys.

use super::{ConfigError, ENVIRONMENT};
use crate::agents::BackendWords;

/// Keys the launcher reads, by section, for did-you-mean (the backends'
/// own `launcher:` keys are theirs: [`BackendWords::keys`]).
const KNOWN: [(&str, &[&str]); 10] = [
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
            "agent_network",
            "agent_env",
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
            "attempts_choose",
            "attempts_stop",
            "pull_requests",
            "worktree",
            "remotes",
            "notify",
            "landing",
            "review",
        ],
    ),
    ("launcher.landing", super::landing::KEYS),
    ("launcher.review", super::review::KEYS),
    ("launcher.worktree", super::worktree_ready::KEYS),
    ("launcher.notify", super::notify::KEYS),
    ("launcher.notify.ntfy", &["server", "topic"]),
    ("launcher.notify.telegram", &["chat_id", "user_ids", "api"]),
    ("preflight", &["portability_paths"]),
    (
        "risk_rules",
        &["name", "level", "pattern", "message", "allow_pattern"],
    ),
];

/// The warning for an unknown key at `path` (a key path as serde names it,
/// its `?` segments for optional values dropped), with the closest known one
/// by edit distance; `known` overrides the keys of its section.
pub fn unknown_key(path: &str, known: Option<&[&str]>) -> String {
    let path = plain_path(path);
    let (section, key) = path.rsplit_once('.').unwrap_or(("", &path));
    let candidates = match known {
        Some(keys) => keys.to_vec(),
        None => known_keys(section),
    };
    match super::located::closest(key, &candidates) {
        Some(c) => {
            let suggestion = if section.is_empty() {
                c.to_string()
            } else {
                format!("{section}.{c}")
            };
            format!("unknown key {path} ignored (did you mean {suggestion}?)")
        }
        // Nothing close: what is allowed there instead.
        None if candidates.is_empty() => format!("unknown key {path} ignored"),
        None => {
            let place = if section.is_empty() {
                "at the top level".to_string()
            } else {
                format!("in {section}")
            };
            format!(
                "unknown key {path} ignored (the keys {place} are {})",
                candidates.join(", ")
            )
        }
    }
}

/// An error about a key of the file, with the key's line when the text has
/// it: every error about the file names `file:line` (issue 49 item 5).
pub fn at_line(e: ConfigError, text: &str) -> ConfigError {
    match e {
        ConfigError::Invalid { file, key, message } if file != ENVIRONMENT => {
            match super::located::line_of(text, &key) {
                Some(line) => ConfigError::Malformed {
                    file,
                    line,
                    key,
                    message,
                },
                None => ConfigError::Invalid { file, key, message },
            }
        }
        other => other,
    }
}

/// Whether `path` (as serde names it) is a backend's own `launcher:` key.
pub fn is_backend_key(path: &str) -> bool {
    let path = plain_path(path);
    path.strip_prefix("launcher.")
        .is_some_and(|key| BackendWords::keys().any(|k| k == key))
}

/// The keys of `section`: ours, and in `launcher` the backends' too.
fn known_keys(section: &str) -> Vec<&'static str> {
    let mut keys: Vec<&'static str> = KNOWN
        .iter()
        .find(|(s, _)| *s == section)
        .map(|(_, keys)| keys.to_vec())
        .unwrap_or_default();
    if section == "launcher" {
        keys.extend(BackendWords::keys());
    }
    // A host under `launcher.remotes` (its name is the user's).
    let host = section.strip_prefix("launcher.remotes.");
    if host.is_some_and(|name| !name.contains('.')) {
        keys.extend(super::remotes::KEYS);
    }
    if host
        .and_then(|rest| rest.split_once('.'))
        .is_some_and(|(_, key)| key == "provider")
    {
        keys.extend(super::remotes::PROVIDER_KEYS);
    }
    keys
}

/// A key path without serde's `?` segments for optional values.
fn plain_path(path: &str) -> String {
    path.split('.')
        .filter(|s| *s != "?")
        .collect::<Vec<_>>()
        .join(".")
}

/// A warning about the key its text names first (`unknown key P …`, or `P …`),
/// as `file:line: warning` when the key is found in `text`; an unknown key
/// not found is still the file's (`file: warning`); anything else (an
/// environment variable's value) is said as it is.
pub fn located(file: &str, text: &str, warning: &str) -> String {
    let unknown = warning.strip_prefix("unknown key ");
    let path = unknown
        .unwrap_or(warning)
        .split_whitespace()
        .next()
        .unwrap_or("");
    match super::located::line_of(text, path) {
        Some(line) => format!("{file}:{line}: {warning}"),
        None if unknown.is_some() => format!("{file}: {warning}"),
        None => warning.to_string(),
    }
}

/// A deserializer's message in words, without the key path it may repeat and
/// without the position (the caller says file and line).
pub fn in_words(message: &str, key: &str) -> String {
    let mut m = message.to_string();
    if let Some(i) = m.find(" at line ") {
        m.truncate(i);
    }
    // The key path, or the part of it the reader names, said once (by the caller).
    while let Some((head, rest)) = m.split_once(": ") {
        if head.is_empty() || !key.starts_with(head) {
            break;
        }
        m = rest.to_string();
    }
    for prefix in ["invalid type: ", "invalid value: "] {
        if let Some(rest) = m.strip_prefix(prefix) {
            if let Some((found, expected)) = rest.split_once(", expected ") {
                let expected = kind(expected);
                let mut said = format!("expected {expected}, found {found}");
                if let Some(s) = suggestion(&expected, found) {
                    said.push_str(&format!(" (did you mean {s}?)"));
                }
                return said;
            }
        }
    }
    if let Some(rest) = m.strip_prefix("unknown field ") {
        // `unknown field `inptu`, expected one of `input`, …`: a key where
        // only some are allowed (`deny_unknown_fields`).
        if let Some((found, expected)) = rest.split_once(", expected ") {
            let allowed = backquoted(expected);
            let found = found.trim_matches('`');
            let mut said = format!("unknown key {found}: allowed: {}", allowed.join(", "));
            if let Some(c) = crate::suggest::closest(found, &allowed) {
                said.push_str(&format!(" (did you mean {c}?)"));
            }
            return said;
        }
    }
    if let Some(rest) = m.strip_prefix("unknown variant ") {
        // `unknown variant `x`, expected one of `a`, `b``: the standard words.
        if let Some((found, expected)) = rest.split_once(", expected ") {
            return crate::suggest::one_of(found.trim_matches('`'), &backquoted(expected));
        }
    }
    m
}

/// The words of serde's `one of `a`, `b`` (or `a`, or `a` or `b`).
fn backquoted(expected: &str) -> Vec<&str> {
    expected
        .trim_start_matches("one of ")
        .split([',', ' '])
        .map(|w| w.trim_matches('`'))
        .filter(|w| !w.is_empty() && *w != "or")
        .collect()
}

/// The value meant, when a value of the wrong kind says it plainly: `yes`
/// for true or false, `"3"` or `two` for a number, one text for a list.
fn suggestion(expected: &str, found: &str) -> Option<String> {
    let text = found
        .strip_prefix("string ")
        .map(|s| s.trim_matches('"').trim());
    match (expected, text) {
        ("true or false", Some(t)) => match t.to_ascii_lowercase().as_str() {
            "yes" | "y" | "on" | "1" | "true" => Some("true".into()),
            "no" | "n" | "off" | "0" | "false" => Some("false".into()),
            _ => None,
        },
        ("a whole number", Some(t)) => t.parse::<u64>().ok().map(|n| n.to_string()).or_else(|| {
            const WORDS: [&str; 11] = [
                "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
                "ten",
            ];
            let lower = t.to_ascii_lowercase();
            WORDS
                .iter()
                .position(|w| *w == lower)
                .map(|n| n.to_string())
        }),
        ("a whole number", None) => {
            // `floating point `2.5``, `integer `-1``: the nearest whole number allowed.
            let number = found.rsplit('`').nth(1)?.parse::<f64>().ok()?;
            Some(format!("{}", number.round().max(0.0) as u64))
        }
        ("a list", Some(t)) if !t.is_empty() => Some(format!("[{t}]")),
        _ => None,
    }
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
        let w = unknown_key("launcher.agent_comand", None);
        assert_eq!(
            w,
            "unknown key launcher.agent_comand ignored (did you mean launcher.agent_command?)"
        );
        assert!(unknown_key("lancher", None).contains("did you mean launcher?"));
        assert_eq!(
            unknown_key("zzz", None),
            "unknown key zzz ignored (the keys at the top level are departments, risk_rules, \
             preflight, launcher, version, name, provinces)"
        );
        // The optional root and sections are not named (issue 37: `?.launcher…`).
        assert_eq!(
            unknown_key("?.launcher.?.max_departmens", None),
            "unknown key launcher.max_departmens ignored (did you mean launcher.max_departments?)"
        );
        let text = "launcher:\n  max_departmens: 3\n";
        assert_eq!(
            located("governance.yaml", text, &unknown_key("launcher.max_departmens", None)),
            "governance.yaml:2: unknown key launcher.max_departmens ignored (did you mean launcher.max_departments?)"
        );
    }

    #[test]
    fn the_backends_keys_are_known_and_suggested() {
        for key in BackendWords::keys() {
            assert!(is_backend_key(&format!("?.launcher.?.{key}")), "{key}");
            let typo = &key[..key.len() - 1];
            assert_eq!(
                unknown_key(&format!("launcher.{typo}"), None),
                format!("unknown key launcher.{typo} ignored (did you mean launcher.{key}?)")
            );
        }
        assert!(!is_backend_key("launcher.max_departments"));
        assert!(!is_backend_key("launcher"));
    }

    #[test]
    fn messages_name_the_kind_once() {
        let m = in_words(
            "launcher.max_departments: invalid type: string \"two\", expected usize at line 2 column 20",
            "launcher.max_departments",
        );
        assert_eq!(
            m,
            "expected a whole number, found string \"two\" (did you mean 2?)"
        );
        assert_eq!(
            in_words("invalid type: integer `3`, expected a boolean", "x"),
            "expected true or false, found integer `3`"
        );
        assert_eq!(
            in_words("invalid type: string \"yes\", expected a boolean", "x"),
            "expected true or false, found string \"yes\" (did you mean true?)"
        );
        assert_eq!(
            in_words("invalid value: integer `-1`, expected usize", "x"),
            "expected a whole number, found integer `-1` (did you mean 0?)"
        );
    }
}
