//! The environment every agent gets (SPEC 6), and where the launcher binary is.

use std::path::Path;

/// The environment every agent gets (SPEC 6): the URL and token only for
/// agents that report over the API.
pub struct AgentEnv<'a> {
    pub url: Option<&'a str>,
    pub token: Option<&'a str>,
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
        let mut v = Vec::new();
        if let (Some(url), Some(token)) = (self.url, self.token) {
            v.push(("CODEX_GOVERNANCE_URL", url.to_string()));
            v.push(("CODEX_GOVERNANCE_TOKEN", token.to_string()));
        }
        v.extend([
            ("CODEX_GOVERNANCE_SESSION_ID", self.session_id.to_string()),
            ("CODEX_GOVERNANCE_SESSION_KIND", self.kind.to_string()),
            (
                "CODEX_GOVERNANCE_PROMPT_FILE",
                self.prompt_file.display().to_string(),
            ),
            ("CODEX_GOVERNANCE_MODEL", self.model.to_string()),
        ]);
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

    fn env(url: Option<&'static str>, token: Option<&'static str>) -> Vec<(String, String)> {
        AgentEnv {
            url,
            token,
            session_id: "lingyubu-1",
            kind: "department",
            prompt_file: Path::new("/p.txt"),
            model: "gpt-5.5",
            parent_session_id: Some("zhongshu-1"),
            department: Some("lingyubu"),
            mailbox: None,
        }
        .vars()
    }

    #[test]
    fn only_api_agents_get_a_url_and_token() {
        let names = |v: &[(String, String)]| v.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>();
        let keyless = names(&env(None, None));
        assert!(!keyless
            .iter()
            .any(|k| k == "CODEX_GOVERNANCE_TOKEN" || k == "CODEX_GOVERNANCE_URL"));
        for k in [
            "CODEX_GOVERNANCE_SESSION_ID",
            "CODEX_GOVERNANCE_SESSION_KIND",
            "CODEX_GOVERNANCE_DEPARTMENT",
            "CODEX_GOVERNANCE_PARENT_SESSION_ID",
        ] {
            assert!(keyless.iter().any(|x| x == k), "{k} stays");
        }
        let api = env(Some("http://127.0.0.1:1"), Some("t0k"));
        assert!(api.contains(&("CODEX_GOVERNANCE_TOKEN".into(), "t0k".into())));
    }
}
