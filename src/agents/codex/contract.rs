//! What this backend needs of Codex's app-server protocol, in one list: each
//! method it calls, each notification and server request it handles, and the
//! fields it sends and reads there.
//!
//! Much of it (`dynamicTools`, `permissions` profiles) sits behind Codex's
//! experimental API, and methods get renamed between releases. The contract
//! test (`tests/it/codex_contract.rs`) holds this list against the schema the
//! pinned Codex generates (`codex app-server generate-json-schema
//! --experimental`), so an upgrade that renames or reshapes any of it fails
//! there, in one place, instead of as a silent `null` at run time. A unit test
//! here keeps the list honest: every method name written in this backend's
//! sources must be listed.
//!
//! A field is a path of property names joined by `.`; `[]` steps into an
//! array's items; `=word` at the end says the value must be one the schema
//! allows (an enum or constant the backend compares with or sends).

/// Who sends a message, and whether it is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The launcher asks, the server answers.
    Request,
    /// The launcher tells the server.
    ClientNotification,
    /// The server tells the launcher.
    Notification,
    /// The server asks, the launcher answers.
    ServerRequest,
}

/// One message of the protocol as this backend uses it.
#[derive(Debug, Clone, Copy)]
pub struct Message {
    pub method: &'static str,
    pub kind: Kind,
    /// Fields the launcher writes: a request's params, a server request's answer.
    pub writes: &'static [&'static str],
    /// Fields the launcher reads: a request's answer, a notification's or
    /// server request's params.
    pub reads: &'static [&'static str],
}

const fn request(
    method: &'static str,
    writes: &'static [&'static str],
    reads: &'static [&'static str],
) -> Message {
    Message {
        method,
        kind: Kind::Request,
        writes,
        reads,
    }
}

const fn notification(method: &'static str, reads: &'static [&'static str]) -> Message {
    Message {
        method,
        kind: Kind::Notification,
        writes: &[],
        reads,
    }
}

const fn server_request(
    method: &'static str,
    reads: &'static [&'static str],
    writes: &'static [&'static str],
) -> Message {
    Message {
        method,
        kind: Kind::ServerRequest,
        writes,
        reads,
    }
}

/// Codex features every thread of the launcher runs with off (`features.<name>`
/// in `thread/start`'s `config`): sub-agents (`multi_agent`, Codex's
/// `multi_agent_v1` tools, and `multi_agent_v2`, its collaboration tools) would
/// be threads working in a session's name that the launcher neither sees nor
/// governs. With them off nothing is deferred, so `tool_search` (which finds
/// deferred tools) is not offered either. The contract test holds each name
/// against the pinned Codex's `codex features list`: a feature renamed or
/// removed fails there, not as a tool quietly back on.
pub const FEATURES_OFF: &[&str] = &["multi_agent", "multi_agent_v2"];

/// Top-level settings every thread is started with, and their values: web
/// search (Codex's hosted `web_search` tool) reaches beyond the sandbox's
/// network switch and the launcher's sight. The contract test holds each
/// value against the pinned Codex's config schema (`ConfigReadResponse`).
pub const SETTINGS: &[(&str, &str)] = &[("web_search", "disabled")];

/// Fields of `thread/start` that `thread/resume` is sent too.
const THREAD_PARAMS: &[&str] = &["cwd", "model", "approvalPolicy", "permissions", "config"];

/// What the conversation reads of a thread item (`items.rs`): in
/// `item/started`, `item/completed` and the turns of `thread/resume`.
const ITEM: &[&str] = &[
    "threadId",
    "turnId",
    "item.id",
    "item.status=inProgress",
    "item.status=completed",
    "item.status=failed",
    "item.status=declined",
    "item.type=userMessage",
    "item.content[].type=text",
    "item.content[].text",
    "item.type=agentMessage",
    "item.text",
    "item.type=reasoning",
    "item.type=commandExecution",
    "item.command",
    "item.cwd",
    "item.aggregatedOutput",
    "item.exitCode",
    "item.durationMs",
    "item.type=fileChange",
    "item.changes[].path",
    "item.changes[].diff",
    "item.changes[].kind.type=add",
    "item.changes[].kind.type=delete",
    "item.changes[].kind.type=update",
    "item.changes[].kind.move_path",
    "item.type=mcpToolCall",
    "item.server",
    "item.tool",
    "item.arguments",
    "item.result",
    "item.error",
    "item.type=dynamicToolCall",
    "item.contentItems[].text",
    "item.success",
    "item.type=plan",
    "item.type=webSearch",
    "item.query",
    "item.type=contextCompaction",
];

/// What `account.rs` reads of a rate-limit snapshot (the read's answer and
/// the update alike), then `extra`: its bucket, each window, which limit was
/// reached (every kind it tells apart), credits and the spend control.
macro_rules! rate_limit_snapshot {
    [$($extra:literal),*] => {
        &[
            "rateLimits.limitId",
            "rateLimits.limitName",
            "rateLimits.primary.usedPercent",
            "rateLimits.primary.windowDurationMins",
            "rateLimits.primary.resetsAt",
            "rateLimits.secondary.usedPercent",
            "rateLimits.rateLimitReachedType=rate_limit_reached",
            "rateLimits.rateLimitReachedType=workspace_owner_credits_depleted",
            "rateLimits.rateLimitReachedType=workspace_member_credits_depleted",
            "rateLimits.rateLimitReachedType=workspace_owner_usage_limit_reached",
            "rateLimits.rateLimitReachedType=workspace_member_usage_limit_reached",
            "rateLimits.credits.hasCredits",
            "rateLimits.spendControlReached",
            "rateLimits.individualLimit.resetsAt",
            $($extra),*
        ]
    };
}

/// Everything the backend uses.
pub const MESSAGES: &[Message] = &[
    request(
        "initialize",
        &[
            "clientInfo.name",
            "clientInfo.title",
            "clientInfo.version",
            "capabilities.experimentalApi",
        ],
        &[],
    ),
    Message {
        method: "initialized",
        kind: Kind::ClientNotification,
        writes: &[],
        reads: &[],
    },
    request("account/read", &[], &["requiresOpenaiAuth", "account"]),
    // `config.projects` (the user's trusted projects) is not in the schema's
    // Config; `project_trust` reads it, and the Codex tests prove its use.
    request("config/read", &[], &["config"]),
    request(
        "account/rateLimits/read",
        &[],
        rate_limit_snapshot!["rateLimitsByLimitId", "ordinaryUsageAllowed"],
    ),
    request(
        "thread/start",
        &[
            "cwd",
            "model",
            "approvalPolicy",
            "permissions",
            "developerInstructions",
            "config",
            "dynamicTools[].type=function",
            "dynamicTools[].name",
            "dynamicTools[].description",
            "dynamicTools[].inputSchema",
            // A department on another machine (issue 53).
            "environments[].environmentId",
            "environments[].cwd",
        ],
        &["thread.id"],
    ),
    // Issue 53: a host's exec-server, reached through the launcher's relay.
    request(
        "environment/add",
        &["environmentId", "execServerUrl", "authBearerToken"],
        &[],
    ),
    request(
        "thread/resume",
        THREAD_PARAMS,
        &[
            "thread.turns[].id",
            "thread.turns[].status=inProgress",
            "thread.turns[].items[]",
            "thread.turns[].items[].id",
            "thread.turns[].items[].type=commandExecution",
            "thread.turns[].items[].status=inProgress",
        ],
    ),
    request("thread/name/set", &["threadId", "name"], &[]),
    request(
        "turn/start",
        &[
            "threadId",
            "input[].type=text",
            "input[].text",
            "environments[].environmentId",
            "environments[].cwd",
        ],
        &["turn.id", "turn.status=inProgress"],
    ),
    request(
        "turn/steer",
        &[
            "threadId",
            "expectedTurnId",
            "input[].type=text",
            "input[].text",
        ],
        &[],
    ),
    request("turn/interrupt", &["threadId", "turnId"], &[]),
    request("thread/settings/update", &["threadId", "model"], &[]),
    notification("turn/started", &["threadId", "turn.id"]),
    notification(
        "turn/completed",
        &[
            "threadId",
            "turn.id",
            "turn.status=completed",
            "turn.error.message",
        ],
    ),
    notification("item/started", ITEM),
    notification("item/completed", ITEM),
    notification("item/agentMessage/delta", &["threadId", "itemId", "delta"]),
    notification(
        "item/commandExecution/outputDelta",
        &["threadId", "itemId", "delta"],
    ),
    notification(
        "item/fileChange/patchUpdated",
        &[
            "threadId",
            "turnId",
            "itemId",
            "changes[].path",
            "changes[].diff",
            "changes[].kind.type=update",
        ],
    ),
    notification(
        "thread/tokenUsage/updated",
        &[
            "threadId",
            "tokenUsage.total.inputTokens",
            "tokenUsage.total.cachedInputTokens",
            "tokenUsage.total.outputTokens",
            "tokenUsage.total.reasoningOutputTokens",
            "tokenUsage.total.totalTokens",
        ],
    ),
    notification("serverRequest/resolved", &["threadId", "requestId"]),
    notification(
        "error",
        &[
            "threadId",
            "error.message",
            "error.codexErrorInfo=usageLimitExceeded",
            "error.codexErrorInfo=rateLimitExceeded",
            "error.codexErrorInfo.responseTooManyFailedAttempts.httpStatusCode",
            "willRetry",
        ],
    ),
    notification("account/rateLimits/updated", rate_limit_snapshot![]),
    server_request(
        "item/tool/call",
        &["threadId", "callId", "tool", "arguments"],
        &[
            "contentItems[].type=inputText",
            "contentItems[].text",
            "success",
        ],
    ),
    server_request(
        "item/commandExecution/requestApproval",
        &["threadId", "turnId", "itemId", "command", "cwd", "reason"],
        &[
            "decision=accept",
            "decision=acceptForSession",
            "decision=decline",
            "decision=cancel",
        ],
    ),
    server_request(
        "item/fileChange/requestApproval",
        &["threadId", "turnId", "itemId", "grantRoot", "reason"],
        &[
            "decision=accept",
            "decision=acceptForSession",
            "decision=decline",
            "decision=cancel",
        ],
    ),
    server_request(
        "item/permissions/requestApproval",
        &["threadId", "cwd", "reason", "permissions"],
        &["permissions", "scope=turn", "scope=session"],
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    /// The backend's sources, where its method names are written.
    const SOURCES: &[(&str, &str)] = &[
        ("agent.rs", include_str!("agent.rs")),
        ("account.rs", include_str!("account.rs")),
        ("backend.rs", include_str!("backend.rs")),
        ("items.rs", include_str!("items.rs")),
        ("login.rs", include_str!("login.rs")),
        ("rpc.rs", include_str!("rpc.rs")),
        ("shared.rs", include_str!("shared.rs")),
        ("thread.rs", include_str!("thread.rs")),
        ("server.rs", include_str!("server.rs")),
    ];

    /// String literals that look like a method: `"word/word..."`.
    fn methods_in(text: &str) -> Vec<String> {
        text.split('"')
            .skip(1)
            .step_by(2)
            .filter(|s| {
                s.contains('/')
                    && s.split('/').all(|part| {
                        !part.is_empty() && part.chars().all(|c| c.is_ascii_alphabetic())
                    })
            })
            .map(str::to_string)
            .collect()
    }

    #[test]
    fn every_method_the_backend_names_is_in_the_contract() {
        let listed: Vec<&str> = MESSAGES.iter().map(|m| m.method).collect();
        for (file, text) in SOURCES {
            let code = text.split("#[cfg(test)]").next().unwrap_or(text);
            for method in methods_in(code) {
                assert!(
                    listed.contains(&method.as_str()),
                    "{file} uses {method:?}, which contract.rs does not list"
                );
            }
        }
        assert!(listed.contains(&"turn/steer"), "the scan found the list");
    }

    /// The field names a source reads: `["name"]`, `get("name")`, `text("name")`.
    fn fields_in(text: &str) -> Vec<String> {
        ["[\"", "get(\"", "text(\""]
            .iter()
            .flat_map(|opening| text.split(*opening).skip(1))
            .filter_map(|rest| rest.split('"').next())
            .filter(|s| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric()))
            .map(str::to_string)
            .collect()
    }

    /// Each name `account.rs` reads is a step of a field the contract lists
    /// for the account's limits or a turn's error, so the contract test holds
    /// it against the pinned Codex: a renamed quota field fails there.
    #[test]
    fn every_quota_field_the_backend_reads_is_in_the_contract() {
        let code = include_str!("account.rs");
        let code = code.split("#[cfg(test)]").next().unwrap_or(code);
        let steps: Vec<&str> = MESSAGES
            .iter()
            .filter(|m| m.method.starts_with("account/rateLimits/") || m.method == "error")
            .flat_map(|m| m.reads.iter().copied())
            .flat_map(|f: &'static str| f.split('=').next().unwrap_or(f).split('.'))
            .map(|step| step.trim_end_matches("[]"))
            .collect();
        let read = fields_in(code);
        for name in [
            "ordinaryUsageAllowed",
            "rateLimitReachedType",
            "rateLimitsByLimitId",
        ] {
            assert!(
                read.iter().any(|r| r == name),
                "the scan found {name}: {read:?}"
            );
        }
        for name in &read {
            assert!(
                steps.contains(&name.as_str()),
                "account.rs reads {name:?}, which contract.rs does not list"
            );
        }
    }

    #[test]
    fn each_method_is_listed_once_per_direction() {
        for (i, a) in MESSAGES.iter().enumerate() {
            for b in &MESSAGES[i + 1..] {
                assert!(
                    a.method != b.method || a.kind != b.kind,
                    "{} twice",
                    a.method
                );
            }
        }
    }
}
