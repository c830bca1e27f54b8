//! The Python tool's leniency, so its `governance.yaml` works unchanged: a
//! department that is not a mapping is skipped, a risk rule without `name` is
//! `custom` and without `level` is `medium` (`high`, `medium`, `low` in
//! any case; another word is kept as written, with a warning), list items that are not text become text, an empty
//! or useless list falls back to the built-in defaults, and backslashes in
//! globs, patterns and paths become `/`.

use serde_yaml_ng::Value;

#[cfg(test)]
use super::{default_departments, default_risk_rules};
use super::{Department, RiskLevel, RiskRule};

/// A scalar as text, the way Python's `str()` shows it (`True`, `3`); None for
/// maps, lists and nulls.
fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(true) => Some("True".into()),
        Value::Bool(false) => Some("False".into()),
        _ => None,
    }
}

/// The labels of a department's `where: {labels: [...]}`.
fn labels_of(place: Option<&Value>) -> Vec<String> {
    match place {
        Some(Value::Mapping(w)) => texts(field(w, "labels"), false),
        _ => Vec::new(),
    }
}

/// A list of non-blank texts (one text alone counts as a list of one).
fn texts(v: Option<&Value>, slashes: bool) -> Vec<String> {
    let items: Vec<&Value> = match v {
        Some(Value::Sequence(s)) => s.iter().collect(),
        Some(other) => vec![other],
        None => Vec::new(),
    };
    items
        .into_iter()
        .filter_map(text)
        .filter(|s| !s.trim().is_empty())
        .map(|s| if slashes { s.replace('\\', "/") } else { s })
        .collect()
}

const DEPARTMENT_KEYS: &[&str] = &[
    "title",
    "duty",
    "globs",
    "verify",
    "where",
    "landing",
    "backend",
    "acp_agent",
    "acp_command",
    "attempts",
    "review",
];
const RULE_KEYS: &[&str] = &["name", "level", "pattern", "message", "allow_pattern"];

/// Keys the launcher does not read are named (and ignored, as Python does).
fn warn_unknown(
    map: &serde_yaml_ng::Mapping,
    at: &str,
    known: &[&str],
    warnings: &mut Vec<String>,
) {
    for key in map.keys().filter_map(text) {
        if !known.contains(&key.as_str()) {
            warnings.push(super::plain_errors::unknown_key(
                &format!("{at}.{key}"),
                Some(known),
            ));
        }
    }
}

fn field<'a>(map: &'a serde_yaml_ng::Mapping, key: &str) -> Option<&'a Value> {
    map.get(Value::String(key.into()))
}

/// `departments:` as Python reads it; `defaults` when it gives none.
pub fn departments(
    v: Option<&Value>,
    defaults: impl FnOnce() -> Vec<Department>,
    warnings: &mut Vec<String>,
) -> Vec<Department> {
    let Some(Value::Mapping(map)) = v else {
        if v.is_some_and(|v| !v.is_null()) {
            warnings.push(
                "departments is not a mapping: allowed: `key: {title, duty, globs, verify}` \
                 lines; the built-in departments apply (did you mean to indent them under \
                 departments: as key: lines?)"
                    .into(),
            );
        }
        return defaults();
    };
    let mut out = Vec::new();
    for (key, value) in map {
        let Some(key) = text(key) else { continue };
        let Value::Mapping(d) = value else {
            warnings.push(format!(
                "departments.{key} is not a mapping: skipped; allowed: title, duty, globs and \
                 verify under it (did you mean {key}: {{globs: [...]}}?)"
            ));
            continue;
        };
        warn_unknown(d, &format!("departments.{key}"), DEPARTMENT_KEYS, warnings);
        out.push(Department {
            title: field(d, "title")
                .and_then(text)
                .unwrap_or_else(|| key.clone()),
            duty: field(d, "duty").and_then(text).unwrap_or_default(),
            globs: texts(field(d, "globs"), true),
            verify: texts(field(d, "verify"), false),
            remote: field(d, "where").and_then(text),
            labels: labels_of(field(d, "where")),
            landing_verify: field(d, "landing")
                .and_then(|l| match l {
                    Value::Mapping(l) => field(l, "verify"),
                    _ => None,
                })
                .map(|v| texts(Some(v), false)),
            attempts: field(d, "attempts").and_then(|v| {
                match serde_yaml_ng::from_value::<crate::model::AttemptsInput>(v.clone()) {
                    Ok(a) => Some(a),
                    Err(_) => {
                        warnings.push(format!(
                            "departments.{key}.attempts: ignored: a number (2 runs its agent \
                             twice) or a list of agents ([codex, claude])"
                        ));
                        None
                    }
                }
            }),
            review: field(d, "review").and_then(text).and_then(|w| {
                match super::review::ReviewWhen::from_word(&w) {
                    Some(when) => Some(when),
                    None => {
                        warnings.push(format!(
                            "departments.{key}.review: ignored: off, always or risky"
                        ));
                        None
                    }
                }
            }),
            agent: super::DepartmentAgent {
                backend: field(d, "backend").and_then(text),
                acp_agent: field(d, "acp_agent").and_then(text),
                acp_command: field(d, "acp_command").map(|v| texts(Some(v), false)),
            },
            key,
        });
    }
    if out.is_empty() {
        return defaults();
    }
    out
}

/// `risk_rules:` as Python reads it; `defaults` when none has a pattern.
pub fn risk_rules(
    v: Option<&Value>,
    defaults: impl FnOnce() -> Vec<RiskRule>,
    warnings: &mut Vec<String>,
) -> Vec<RiskRule> {
    let Some(Value::Sequence(items)) = v else {
        if v.is_some_and(|v| !v.is_null()) {
            warnings.push(
                "risk_rules is not a list: allowed: `- {name, level, pattern}` items; the \
                 built-in rules apply (did you mean to start each rule with - ?)"
                    .into(),
            );
        }
        return defaults();
    };
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let Value::Mapping(r) = item else {
            warnings.push(format!(
                "risk_rules[{i}] is not a mapping: skipped; allowed: name, level, pattern, \
                 message and allow_pattern (did you mean - {{name: ..., pattern: ...}}?)"
            ));
            continue;
        };
        warn_unknown(r, &format!("risk_rules[{i}]"), RULE_KEYS, warnings);
        let pattern = field(r, "pattern")
            .and_then(text)
            .unwrap_or_default()
            .replace('\\', "/");
        if pattern.is_empty() {
            continue;
        }
        out.push(RiskRule {
            name: field(r, "name")
                .and_then(text)
                .unwrap_or_else(|| "custom".into()),
            level: level(field(r, "level"), i, warnings),
            pattern,
            message: field(r, "message").and_then(text).unwrap_or_default(),
            allow_pattern: field(r, "allow_pattern")
                .and_then(text)
                .filter(|a| !a.is_empty())
                .map(|a| a.replace('\\', "/")),
        });
    }
    if out.is_empty() {
        return defaults();
    }
    out
}

fn level(v: Option<&Value>, i: usize, warnings: &mut Vec<String>) -> RiskLevel {
    let Some(word) = v.and_then(text) else {
        return RiskLevel::Medium;
    };
    let level = RiskLevel::from_word(&word);
    if let RiskLevel::Other(w) = &level {
        warnings.push(format!(
            "risk_rules[{i}].level {}: it is kept as written (as the Python tool kept it), \
             and only high and medium risks call for the Menxia",
            crate::suggest::one_of(w, &["high", "medium", "low"])
        ));
    }
    level
}

/// `preflight.portability_paths`, with `/` separators.
pub fn portability_paths(v: Option<&Value>) -> Option<Vec<String>> {
    let Some(Value::Mapping(p)) = v else {
        return None;
    };
    field(p, "portability_paths").map(|v| texts(Some(v), true))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn yaml(text: &str) -> Value {
        serde_yaml_ng::from_str(text).unwrap()
    }

    #[test]
    fn python_era_risk_rules_load_like_python() {
        let mut w = Vec::new();
        let v = yaml(
            "- {pattern: 'secrets\\'}\n- {name: big, level: HIGH, pattern: out/}\n- {level: urgent, pattern: x}\n- 7\n- {name: nopattern}\n",
        );
        let rules = risk_rules(Some(&v), default_risk_rules, &mut w);
        assert_eq!(rules.len(), 3);
        assert_eq!(
            (rules[0].name.as_str(), rules[0].level.clone()),
            ("custom", RiskLevel::Medium)
        );
        assert_eq!(rules[0].pattern, "secrets/");
        assert_eq!(rules[1].level, RiskLevel::High);
        assert_eq!(
            rules[2].level,
            RiskLevel::Other("urgent".into()),
            "an unknown level is kept as written"
        );
        assert_eq!(w.len(), 2, "{w:?}");
        assert_eq!(
            risk_rules(Some(&yaml("[]")), default_risk_rules, &mut w),
            default_risk_rules()
        );
        assert_eq!(
            risk_rules(Some(&yaml("[{name: a}]")), default_risk_rules, &mut w),
            default_risk_rules()
        );
    }

    #[test]
    fn python_era_departments_load_like_python() {
        let mut w = Vec::new();
        let v = yaml("docs: {globs: ['docs\\**', 3, true, '  ']}\nbad: just text\ncode: {}\n");
        let d = departments(Some(&v), default_departments, &mut w);
        assert_eq!(d.len(), 2);
        assert_eq!(d[0].globs, ["docs/**", "3", "True"]);
        assert_eq!((d[1].key.as_str(), d[1].title.as_str()), ("code", "code"));
        assert!(w.iter().any(|x| x.contains("departments.bad")), "{w:?}");
        assert_eq!(
            departments(Some(&yaml("{x: 1}")), default_departments, &mut w),
            default_departments()
        );
        assert_eq!(
            departments(Some(&yaml("[a]")), default_departments, &mut w),
            default_departments()
        );
    }

    #[test]
    fn portability_paths_use_forward_slashes() {
        let v = yaml("portability_paths: ['docs\\guide\\*.md', 5]");
        assert_eq!(
            portability_paths(Some(&v)).unwrap(),
            ["docs/guide/*.md", "5"]
        );
    }
}
