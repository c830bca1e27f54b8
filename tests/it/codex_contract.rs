//! The Codex contract, checked rather than assumed (issue 35, item 7): the
//! pinned Codex CLI generates its app-server schema (`codex app-server
//! generate-json-schema --experimental`), and every method, notification,
//! server request and field the backend uses (`agents::codex::contract`) must
//! be there, with the values the backend sends or compares with allowed.
//! A Codex upgrade that renames `thread/rollback` to `thread/revert`, or
//! reshapes a field, fails here in one place.

#[allow(dead_code)] // the model server itself is not used here, only where Codex is
use crate::common::model_server;

use std::path::Path;

use serde_json::Value;

use codex_governance::agents::codex::contract::{Kind, Message, FEATURES_OFF, MESSAGES, SETTINGS};

/// The schema bundle the pinned Codex writes, with its definitions.
fn generate_schema(dir: &Path) -> Value {
    let codex = model_server::codex_bin();
    let out = std::process::Command::new(&codex)
        .args([
            "app-server",
            "generate-json-schema",
            "--experimental",
            "--out",
        ])
        .arg(dir)
        .env("CODEX_HOME", dir)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", codex.display()));
    assert!(
        out.status.success(),
        "generate-json-schema failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bundle = dir.join("codex_app_server_protocol.schemas.json");
    let text =
        std::fs::read_to_string(&bundle).unwrap_or_else(|e| panic!("{}: {e}", bundle.display()));
    serde_json::from_str(&text).expect("the schema bundle is JSON")
}

/// The node a `#/definitions/...` reference points at.
fn follow<'a>(root: &'a Value, reference: &str) -> &'a Value {
    let pointer = reference
        .strip_prefix('#')
        .unwrap_or_else(|| panic!("an outside reference {reference}"));
    root.pointer(pointer)
        .unwrap_or_else(|| panic!("a dangling reference {reference}"))
}

/// The alternatives a schema node stands for: references followed, `anyOf`,
/// `oneOf` and `allOf` opened.
fn alternatives<'a>(root: &'a Value, node: &'a Value) -> Vec<&'a Value> {
    if let Some(r) = node.get("$ref").and_then(Value::as_str) {
        return alternatives(root, follow(root, r));
    }
    let mut out = vec![node];
    for key in ["anyOf", "oneOf", "allOf"] {
        for branch in node
            .get(key)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            out.extend(alternatives(root, branch));
        }
    }
    out
}

/// Whether `path` (see `contract.rs`) leads somewhere in `node`, ending at a
/// value that allows `want` when one is named.
fn holds(root: &Value, node: &Value, path: &[&str], want: Option<&str>) -> bool {
    let Some((step, rest)) = path.split_first() else {
        return match want {
            None => true,
            Some(w) => alternatives(root, node).iter().any(|n| {
                n.get("enum")
                    .and_then(Value::as_array)
                    .is_some_and(|e| e.iter().any(|v| v == w))
                    || n.get("const").is_some_and(|v| v == w)
            }),
        };
    };
    let (name, into_items) = match step.strip_suffix("[]") {
        Some(name) => (name, true),
        None => (*step, false),
    };
    alternatives(root, node).into_iter().any(|n| {
        let Some(child) = n.get("properties").and_then(|p| p.get(name)) else {
            return false;
        };
        if !into_items {
            return holds(root, child, rest, want);
        }
        alternatives(root, child)
            .into_iter()
            .filter_map(|c| c.get("items"))
            .any(|items| holds(root, items, rest, want))
    })
}

/// The `params` schema of `method` in the union `union` (`ClientRequest` …).
fn params_of<'a>(root: &'a Value, union: &str, method: &str) -> Option<&'a Value> {
    root["definitions"][union]["oneOf"]
        .as_array()?
        .iter()
        .find(|v| v["properties"]["method"]["enum"][0] == method)
        .map(|v| &v["properties"]["params"])
}

/// The answer's schema for a request whose params are `params`: the
/// definition named like them, `…Params` → `…Response`.
fn answer_of<'a>(root: &'a Value, params: &Value) -> Option<&'a Value> {
    let reference = first_reference(params)?;
    let answer = format!("{}Response", reference.strip_suffix("Params")?);
    root.pointer(answer.strip_prefix('#')?)
}

fn first_reference(node: &Value) -> Option<&str> {
    if let Some(r) = node.get("$ref").and_then(Value::as_str) {
        return Some(r);
    }
    ["anyOf", "oneOf"]
        .iter()
        .filter_map(|k| node.get(*k).and_then(Value::as_array))
        .flatten()
        .find_map(first_reference)
}

fn union_of(kind: Kind) -> &'static str {
    match kind {
        Kind::Request => "ClientRequest",
        Kind::ClientNotification => "ClientNotification",
        Kind::Notification => "ServerNotification",
        Kind::ServerRequest => "ServerRequest",
    }
}

/// What is wrong with one message of the contract, if anything.
fn problems_of(root: &Value, m: &Message) -> Vec<String> {
    let union = union_of(m.kind);
    let Some(params) = params_of(root, union, m.method) else {
        return vec![format!("{union} has no method {:?}", m.method)];
    };
    let answer = answer_of(root, params);
    let (params_side, answer_side) = match m.kind {
        Kind::Request => (m.writes, m.reads),
        Kind::ServerRequest => (m.reads, m.writes),
        Kind::Notification | Kind::ClientNotification => (m.reads, m.writes),
    };
    let mut problems = Vec::new();
    let mut check = |node: Option<&Value>, side: &str, fields: &[&str]| {
        for field in fields {
            let (path, want) = match field.split_once('=') {
                Some((p, w)) => (p, Some(w)),
                None => (*field, None),
            };
            let steps: Vec<&str> = path.split('.').collect();
            let ok = node.is_some_and(|n| holds(root, n, &steps, want));
            if !ok {
                problems.push(format!("{} {side}: no {field}", m.method));
            }
        }
    };
    check(Some(params), "params", params_side);
    check(answer, "answer", answer_side);
    problems
}

#[test]
fn every_method_and_field_the_backend_uses_is_in_the_pinned_codex_schema() {
    crate::needs!(Codex);
    let dir = tempfile::tempdir().unwrap();
    let root = generate_schema(dir.path());
    let mut problems = Vec::new();
    for m in MESSAGES {
        problems.extend(problems_of(&root, m));
    }
    println!(
        "[contract] {} messages, {} fields checked against the pinned Codex's schema",
        MESSAGES.len(),
        MESSAGES
            .iter()
            .map(|m| m.reads.len() + m.writes.len())
            .sum::<usize>()
    );
    assert!(
        problems.is_empty(),
        "the backend uses what the pinned Codex does not have:\n{}",
        problems.join("\n")
    );
}

/// The checker itself finds what is missing: a renamed method, a field that
/// is not there, a value its enum does not allow.
#[test]
fn the_checker_sees_a_renamed_method_a_missing_field_and_a_wrong_value() {
    crate::needs!(Codex);
    let dir = tempfile::tempdir().unwrap();
    let root = generate_schema(dir.path());
    let wrong = [
        Message {
            method: "thread/rollback",
            kind: Kind::Request,
            writes: &[],
            reads: &[],
        },
        Message {
            method: "turn/start",
            kind: Kind::Request,
            writes: &["threadIdentifier"],
            reads: &["turn.status=running"],
        },
        Message {
            method: "item/permissions/requestApproval",
            kind: Kind::ServerRequest,
            reads: &[],
            writes: &["decision=accept"],
        },
    ];
    let found: Vec<String> = wrong.iter().flat_map(|m| problems_of(&root, m)).collect();
    for expected in [
        "ClientRequest has no method \"thread/rollback\"",
        "turn/start params: no threadIdentifier",
        "turn/start answer: no turn.status=running",
        "item/permissions/requestApproval answer: no decision=accept",
    ] {
        assert!(
            found.iter().any(|f| f == expected),
            "{expected:?} not found in {found:?}"
        );
    }
}

/// `codex features list` of the pinned Codex: each feature's name and stage.
fn features_of_the_pinned_codex(home: &Path) -> Vec<(String, String)> {
    let codex = model_server::codex_bin();
    let out = std::process::Command::new(&codex)
        .args(["features", "list"])
        .env("CODEX_HOME", home)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", codex.display()));
    assert!(
        out.status.success(),
        "features list failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let mut words = l.split_whitespace();
            let name = words.next()?.to_string();
            let rest: Vec<&str> = words.collect();
            // "<stage words…> <true|false>"
            let stage = rest.split_last()?.1.join(" ");
            Some((name, stage))
        })
        .collect()
}

/// The switches that keep Codex's ungoverned tools off (issue 48, item 9):
/// each feature the launcher turns off is one the pinned Codex knows and has
/// not removed (a removed feature's key is ignored, so its tools could come
/// back under a new name), and each setting's value is one its config allows.
#[test]
fn the_switches_that_turn_sub_agents_and_web_search_off_are_the_pinned_codexs() {
    crate::needs!(Codex);
    let dir = tempfile::tempdir().unwrap();
    let features = features_of_the_pinned_codex(dir.path());
    assert!(
        features.iter().any(|(n, _)| n == "shell_tool"),
        "the list was read: {features:?}"
    );
    for name in FEATURES_OFF {
        let stage = features
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, s)| s.as_str());
        assert!(
            stage.is_some_and(|s| s != "removed"),
            "feature {name:?} is {stage:?} in the pinned Codex: {features:?}"
        );
    }
    let root = generate_schema(dir.path());
    let config = &root["definitions"]["v2"]["Config"];
    assert!(config.is_object(), "the schema has v2 Config");
    for (key, value) in SETTINGS {
        assert!(
            holds(&root, config, &[key], Some(value)),
            "the pinned Codex's config has no {key} = {value:?}"
        );
    }
    assert!(
        !holds(&root, config, &["web_search"], Some("never")),
        "the check sees a value the enum does not allow"
    );
}
