//! The Python tool's environment variables this launcher does not read, and
//! what replaces each: said once at start, so a setting carried over from
//! the Python tool is never ignored silently. (Those it still reads, such as
//! `CODEX_GOVERNANCE_MAX_DEPARTMENTS` or `_MODELS`, keep their meaning.)

use super::Env;

/// (variable, what replaces it).
const IGNORED: &[(&str, &str)] = &[
    (
        "CODEX_GOVERNANCE_ALLOW_ORIGIN",
        "no CORS origin can be allowed: the API answers only its own dashboard (Origin and \
         Host are checked, and every call needs a token), so a page served from elsewhere, \
         such as the Python tool's dashboard.html opened from a file, gets 403. Open the \
         built-in dashboard instead: `codex-governance url` prints its address with the token",
    ),
    (
        "CODEX_GOVERNANCE_LAUNCHER_URL",
        "agents are given the launcher's real address in CODEX_GOVERNANCE_URL (with their \
         token in CODEX_GOVERNANCE_TOKEN); choose the port with `--port`",
    ),
    (
        "CODEX_GOVERNANCE_INBOX_SUBAGENT_MODEL",
        "there is no inbox-monitor agent: the launcher tells the Zhongshu of each report \
         itself, so no model is needed for it",
    ),
    (
        "CODEX_GOVERNANCE_DEPARTMENT_OBSERVATION_WAIT_MINUTES",
        "departments are not watched on a timer: a report is registered when its file or \
         `mailbox send` arrives, and a department that ends without one gets a \
         launcher_fallback result within seconds",
    ),
    (
        "CODEX_GOVERNANCE_DEPARTMENT_OBSERVATION_CHECK_SECONDS",
        "the queue and the mailbox react to events (a report, an exit), not to a polling \
         interval",
    ),
    (
        "CODEX_GOVERNANCE_TTYD_ENABLED",
        "there is no ttyd: every session has a built-in browser terminal \
         (`browser_terminal_url`)",
    ),
    (
        "CODEX_GOVERNANCE_TTYD_COMMAND",
        "there is no ttyd: terminals are built in",
    ),
    (
        "CODEX_GOVERNANCE_TTYD_HOST",
        "there is no ttyd: terminals listen on 127.0.0.1 only",
    ),
    (
        "CODEX_GOVERNANCE_TTYD_PORT",
        "there is no ttyd: each terminal listens on a free loopback port of its own",
    ),
    (
        "CODEX_GOVERNANCE_TTYD_WRITABLE",
        "there is no ttyd: a session's own terminal types into its agent, previews are \
         read-only",
    ),
    (
        "CODEX_GOVERNANCE_TTYD_BASE_URL",
        "there is no ttyd: each terminal's URL is in `browser_terminal_url`",
    ),
];

/// One line per Python-era variable set in `env` that is not read, saying
/// what replaces it; empty when none is set.
pub fn ignored_python_variables(env: &Env) -> Vec<String> {
    IGNORED
        .iter()
        .filter(|(name, _)| env.contains_key(*name))
        .map(|(name, instead)| {
            let instead = instead.split_whitespace().collect::<Vec<_>>().join(" ");
            format!("{name} (a Python-tool setting) is not read: {instead}")
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_ignored_variable_set_is_named_once_with_its_replacement() {
        let env = Env::from([
            ("CODEX_GOVERNANCE_ALLOW_ORIGIN".into(), "*".into()),
            ("CODEX_GOVERNANCE_TTYD_PORT".into(), "7681".into()),
            ("CODEX_GOVERNANCE_MAX_DEPARTMENTS".into(), "3".into()),
        ]);
        let lines = ignored_python_variables(&env);
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert!(lines[0].starts_with("CODEX_GOVERNANCE_ALLOW_ORIGIN"));
        assert!(lines[0].contains("403"), "{}", lines[0]);
        assert!(lines[1].contains("ttyd"), "{}", lines[1]);
        assert!(ignored_python_variables(&Env::new()).is_empty());
    }
}
