//! The bytes of an audit line, defined here rather than by a dependency's
//! feature flags. serde_json writes an object's keys in the order its `Map`
//! keeps them, and that order is a feature (`preserve_order`) which any crate
//! in the build may turn on: the ACP crate did, and lines written before it
//! (keys sorted) no longer matched what `verify` re-serialized.
//!
//! So a line is written in one form of ours: compact, every object's keys in
//! byte order at every depth, strings escaped as below, numbers as JSON
//! writes them. And a line is checked against its own stored bytes: the hash
//! covers the line's text with its top-level `hash` member taken out
//! ([`without_member`]), which is what every release wrote it from, sorted
//! (before ACP), in insertion order (until this form) or in this form.

use serde_json::Value;

/// `value` in the launcher's canonical form.
pub fn to_string(value: &Value) -> String {
    let mut out = String::new();
    write(&mut out, value);
    out
}

fn write(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => string(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write(out, item);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort_unstable_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                string(out, key);
                out.push(':');
                write(out, &map[key]);
            }
            out.push('}');
        }
    }
}

/// A JSON string: `"` and `\` escaped, the controls below U+0020 as their
/// short escapes or `\u00xx`, everything else as it is (as JSON writers have
/// always written audit lines here).
fn string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Why a line's stored text has no single top-level member to take out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MemberError {
    #[error("not a JSON object")]
    NotAnObject,
    #[error("no top-level {0:?}")]
    Missing(String),
    #[error("{0:?} twice at the top level")]
    Twice(String),
}

/// The object text `line` with its top-level member `key` (and one comma
/// beside it) taken out, byte for byte otherwise.
pub fn without_member(line: &str, key: &str) -> Result<String, MemberError> {
    let spans = top_level_members(line).ok_or(MemberError::NotAnObject)?;
    let mut found = spans.iter().enumerate().filter(|(_, m)| m.key == key);
    let Some((i, member)) = found.next() else {
        return Err(MemberError::Missing(key.to_string()));
    };
    if found.next().is_some() {
        return Err(MemberError::Twice(key.to_string()));
    }
    // Take the comma before it, or after it when it is the first member.
    let (from, to) = match (i, spans.get(i + 1)) {
        (0, Some(next)) => (member.start, next.start),
        (0, None) => (member.start, member.end),
        _ => (spans[i - 1].end, member.end),
    };
    Ok(format!("{}{}", &line[..from], &line[to..]))
}

/// One top-level member: its key as written (between its quotes) and the
/// byte span from its key's opening quote to its value's end.
struct Member<'a> {
    key: &'a str,
    start: usize,
    end: usize,
}

/// The top-level members of the object `text`, or None when it is not one
/// object (strings, nesting and escapes followed exactly).
fn top_level_members(text: &str) -> Option<Vec<Member<'_>>> {
    let bytes = text.as_bytes();
    let mut at = skip_space(bytes, 0);
    if bytes.get(at) != Some(&b'{') {
        return None;
    }
    at = skip_space(bytes, at + 1);
    let mut members = Vec::new();
    if bytes.get(at) == Some(&b'}') {
        return (skip_space(bytes, at + 1) == bytes.len()).then_some(members);
    }
    loop {
        let start = at;
        let key_end = string_end(bytes, at)?;
        at = skip_space(bytes, key_end);
        if bytes.get(at) != Some(&b':') {
            return None;
        }
        at = value_end(bytes, skip_space(bytes, at + 1))?;
        members.push(Member {
            key: &text[start + 1..key_end - 1],
            start,
            end: at,
        });
        at = skip_space(bytes, at);
        match bytes.get(at) {
            Some(b',') => at = skip_space(bytes, at + 1),
            Some(b'}') => {
                return (skip_space(bytes, at + 1) == bytes.len()).then_some(members);
            }
            _ => return None,
        }
    }
}

fn skip_space(bytes: &[u8], mut at: usize) -> usize {
    while matches!(bytes.get(at), Some(b' ' | b'\t' | b'\n' | b'\r')) {
        at += 1;
    }
    at
}

/// Past the string that opens at `at`.
fn string_end(bytes: &[u8], at: usize) -> Option<usize> {
    if bytes.get(at) != Some(&b'"') {
        return None;
    }
    let mut i = at + 1;
    loop {
        match bytes.get(i)? {
            b'\\' => i += 2,
            b'"' => return Some(i + 1),
            _ => i += 1,
        }
    }
}

/// Past the value that begins at `at`.
fn value_end(bytes: &[u8], at: usize) -> Option<usize> {
    match bytes.get(at)? {
        b'"' => string_end(bytes, at),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut i = at;
            loop {
                match bytes.get(i)? {
                    b'"' => {
                        i = string_end(bytes, i)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(i + 1);
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
        }
        _ => {
            let mut i = at;
            while !matches!(
                bytes.get(i),
                None | Some(b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r')
            ) {
                i += 1;
            }
            (i > at).then_some(i)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keys_are_sorted_at_every_depth_whatever_order_they_came_in() {
        let v: Value = serde_json::from_str(
            r#"{"z":1,"a":{"y":[{"b":2,"a":1}],"x":"\u2028é\"\\\n\u0001"},"m":null,"f":1.5}"#,
        )
        .unwrap();
        assert_eq!(
            to_string(&v),
            r#"{"a":{"x":"\u2028é\"\\\n\u0001","y":[{"a":1,"b":2}]},"f":1.5,"m":null,"z":1}"#
                .replace("\\u2028", "\u{2028}")
        );
    }

    #[test]
    fn a_strings_bytes_are_those_serde_json_writes() {
        let all: String = (0u32..0x100).filter_map(char::from_u32).collect();
        let text = format!("{all}\u{2028}\u{202e}😀");
        let mut ours = String::new();
        string(&mut ours, &text);
        assert_eq!(ours, serde_json::to_string(&text).unwrap());
    }

    #[test]
    fn the_member_is_taken_out_with_one_comma_and_nothing_else() {
        let line = r#"{"a":1,"hash":"h","b":{"hash":"inner"}}"#;
        assert_eq!(
            without_member(line, "hash").unwrap(),
            r#"{"a":1,"b":{"hash":"inner"}}"#
        );
        assert_eq!(
            without_member(r#"{"hash":"h","a":[1,"}"]}"#, "hash").unwrap(),
            r#"{"a":[1,"}"]}"#
        );
        assert_eq!(
            without_member(r#"{"a":"\",\"hash\":1","hash":"h"}"#, "hash").unwrap(),
            r#"{"a":"\",\"hash\":1"}"#
        );
        assert_eq!(without_member(r#"{"hash":"h"}"#, "hash").unwrap(), "{}");
        assert_eq!(
            without_member(r#"{"a":1,"b":{"hash":2}}"#, "hash"),
            Err(MemberError::Missing("hash".into()))
        );
        assert_eq!(
            without_member(r#"{"hash":1,"hash":2}"#, "hash"),
            Err(MemberError::Twice("hash".into()))
        );
        for broken in [r#"["hash"]"#, r#"{"hash":1"#, r#"{"hash":1} x"#, ""] {
            assert_eq!(
                without_member(broken, "hash"),
                Err(MemberError::NotAnObject),
                "{broken}"
            );
        }
        let v = json!({"seq": 1, "hash": "h", "event": "e"});
        assert_eq!(
            without_member(&to_string(&v), "hash").unwrap(),
            to_string(&json!({"seq": 1, "event": "e"}))
        );
    }
}
