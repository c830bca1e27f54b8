//! A report file's content: UTF-8 JSON (a BOM tolerated) holding an object whose
//! fields have the types and ids SPEC 8 asks for. Pure functions, so the parser
//! is fuzzed and tested without a launcher.

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::ids::{check_id, BadId};

/// Why a report file is not accepted, in words: they go into `rejected/`
/// beside it and into the audit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct Rejection {
    pub reason: String,
    /// A rule forbade it (the sender may not report this), rather than the
    /// report being malformed.
    pub forbidden: bool,
}

impl Rejection {
    /// A malformed report.
    pub fn new(reason: impl Into<String>) -> Rejection {
        Rejection {
            reason: reason.into(),
            forbidden: false,
        }
    }
}

impl From<BadId> for Rejection {
    fn from(e: BadId) -> Self {
        Rejection::new(e.to_string())
    }
}

impl From<crate::policy::Refusal> for Rejection {
    fn from(e: crate::policy::Refusal) -> Self {
        Rejection {
            forbidden: matches!(e, crate::policy::Refusal::Forbidden(_)),
            reason: e.to_string(),
        }
    }
}

/// Through a channel that answers (a token, a tool call): a forbidden report
/// is a forbidden, a malformed one a bad request.
impl From<Rejection> for crate::error::LauncherError {
    fn from(r: Rejection) -> Self {
        match r.forbidden {
            true => crate::error::LauncherError::Forbidden(r.reason),
            false => crate::error::LauncherError::BadRequest(r.reason),
        }
    }
}

/// A report's fields, checked for presence, types and id syntax.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportFields {
    pub session_id: String,
    pub department: String,
    pub summary: String,
    pub report_id: String,
    pub changed_files: Vec<String>,
    pub verifications_run: Vec<String>,
    pub verifications_skipped: Vec<String>,
    pub risks: Vec<String>,
    pub next_action: Option<String>,
    pub needs_user_confirmation: bool,
}

/// Checks a parsed report against SPEC 8 without looking at any session.
pub fn check_fields(
    zhongshu_id: &str,
    obj: &Map<String, Value>,
) -> Result<ReportFields, Rejection> {
    let text = |key: &str| -> Result<Option<String>, Rejection> {
        match obj.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(Rejection::new(format!(
                "{key} must be a string, not {}",
                kind(other)
            ))),
        }
    };
    let required = |key: &str| -> Result<String, Rejection> {
        match text(key)? {
            Some(s) if !s.trim().is_empty() => Ok(s),
            _ => Err(Rejection::new(format!("{key} is required"))),
        }
    };
    let session_id = required("department_session_id")?;
    check_id("department_session_id", &session_id)?;
    let department = required("department")?;
    check_id("department", &department)?;
    let summary = required("summary")?;
    if let Some(parent) = text("parent_session_id")? {
        if parent != zhongshu_id {
            return Err(Rejection::new(format!(
                "parent_session_id {parent:?} does not name this mailbox's session {zhongshu_id}"
            )));
        }
    }
    let report_id = match text("report_id")? {
        Some(id) => {
            check_id("report_id", &id)?;
            id
        }
        None => session_id.clone(),
    };
    let list = |keys: &[&str]| -> Result<Vec<String>, Rejection> {
        for key in keys {
            match obj.get(*key) {
                None | Some(Value::Null) => continue,
                Some(v) => return string_list(key, v),
            }
        }
        Ok(Vec::new())
    };
    let needs_user_confirmation = match obj.get("needs_user_confirmation") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(other) => {
            return Err(Rejection::new(format!(
                "needs_user_confirmation must be true or false, not {}",
                kind(other)
            )))
        }
    };
    Ok(ReportFields {
        changed_files: list(&["changed_files", "files"])?
            .iter()
            .map(|p| crate::platform::repo_path(p))
            .collect(),
        verifications_run: list(&["verifications_run", "verification"])?,
        verifications_skipped: list(&["verifications_skipped"])?,
        risks: list(&["risks"])?,
        next_action: text("next_action")?,
        needs_user_confirmation,
        session_id,
        department,
        summary,
        report_id,
    })
}

/// UTF-8 JSON object, a BOM tolerated.
pub fn parse(bytes: &[u8]) -> Result<Map<String, Value>, Rejection> {
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    if bytes.starts_with(b"\xff\xfe") || bytes.starts_with(b"\xfe\xff") {
        return Err(Rejection::new("file is UTF-16; reports must be UTF-8"));
    }
    let text = std::str::from_utf8(bytes)
        .map_err(|e| Rejection::new(format!("file is not UTF-8: {e}")))?;
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(other) => Err(Rejection::new(format!(
            "report must be a JSON object, not {}",
            kind(&other)
        ))),
        Err(e) => Err(Rejection::new(format!("invalid JSON: {e}"))),
    }
}

fn string_list(key: &str, v: &Value) -> Result<Vec<String>, Rejection> {
    match v {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(items) => items
            .iter()
            .map(|item| match item {
                Value::String(s) => Ok(s.clone()),
                Value::Object(_) => Ok(item.to_string()),
                other => Err(Rejection::new(format!(
                    "{key} must be a list of strings; found {}",
                    kind(other)
                ))),
            })
            .collect(),
        other => Err(Rejection::new(format!(
            "{key} must be a list of strings, not {}",
            kind(other)
        ))),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parse_accepts_bom_and_refuses_the_rest() {
        assert!(parse(b"\xef\xbb\xbf{\"a\":1}").is_ok());
        assert!(parse(b"[1]").unwrap_err().reason.contains("an array"));
        assert!(parse(b"\"x\"").unwrap_err().reason.contains("a string"));
        assert!(parse(b"\xff\xfe{\x00")
            .unwrap_err()
            .reason
            .contains("UTF-16"));
        assert!(parse(b"\x00\x01\xff").is_err());
        assert!(parse(b"{\"a\":")
            .unwrap_err()
            .reason
            .contains("invalid JSON"));
    }

    #[test]
    fn fields_are_checked() {
        let obj = |v: Value| v.as_object().unwrap().clone();
        let ok = check_fields(
            "zhongshu-1",
            &obj(
                json!({"department_session_id": "lingyubu-1", "department": "lingyubu",
                        "summary": "s", "files": ["a"], "verification": "cargo test"}),
            ),
        )
        .unwrap();
        assert_eq!(ok.report_id, "lingyubu-1");
        assert_eq!(ok.changed_files, ["a"]);
        assert_eq!(ok.verifications_run, ["cargo test"]);
        let err = |v: Value| check_fields("zhongshu-1", &obj(v)).unwrap_err().reason;
        assert!(err(json!({"department": "x", "summary": "s"}))
            .contains("department_session_id is required"));
        assert!(
            err(json!({"department_session_id": "../x", "department": "x", "summary": "s"}))
                .contains("must match")
        );
        assert!(
            err(json!({"department_session_id": "a", "department": "x", "summary": 3}))
                .contains("summary must be a string")
        );
        assert!(err(json!({"department_session_id": "a", "department": "x", "summary": "s", "changed_files": {"a": 1}})).contains("changed_files"));
        assert!(err(json!({"department_session_id": "a", "department": "x", "summary": "s", "parent_session_id": "zhongshu-2"})).contains("does not name"));
        assert!(err(json!({"department_session_id": "a", "department": "x", "summary": "s", "needs_user_confirmation": "yes"})).contains("true or false"));
    }
}
