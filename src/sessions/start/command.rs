//! The environment every agent gets (SPEC 6): what passes of the user's
//! (`policy::agent_env`: an allowlist and `launcher.agent_env`), then the
//! launcher's own variables for it; and where the launcher binary is.

use std::path::{Path, PathBuf};

use super::{sandbox, workspace, Starter};
use crate::agents::{Channel, RemoteEnvironment, Sandbox};
use crate::credentials::Grant;
use crate::error::LResult;
use crate::model::{Session, SessionKind};
use crate::policy::agent_env;

/// What an agent starts with of who it is and where it works.
pub(in crate::sessions) struct AgentPlace {
    pub env: Vec<(String, String)>,
    pub environment: Option<RemoteEnvironment>,
    pub sandbox: Sandbox,
}

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

impl Starter<'_> {
    /// The agent's whole environment: the launcher's variables that pass
    /// the allowlist and `launcher.agent_env`, then who it is, its PATH and
    /// temporary folder, and, where it reports over the API, the launcher's
    /// URL and a new token of its own. Agents with tools get no token (they
    /// reach the launcher only through their tools). Its backend gives it
    /// nothing else of the launcher's environment.
    fn agent_env(&self, session: &Session) -> Vec<(String, String)> {
        let id = session.id.as_str();
        let kind = session.session_kind();
        let parent = session.parent_session_id();
        let department = session.department.as_deref();
        let channel = self.sessions.backend_for(session.agent_key()).channel();
        let token = match channel {
            // A reviewer reaches the launcher only through its one tool.
            Channel::Api if kind != SessionKind::Reviewer => {
                Some(self.sessions.credentials.issue(Grant {
                    session_id: id.to_string(),
                    kind,
                    parent_session_id: parent.map(str::to_string),
                    department: department.map(str::to_string),
                }))
            }
            Channel::Api | Channel::Tools => None,
        };
        // Its own drop folder; the shared one for sessions of older launchers.
        let mailbox = session
            .department_part()
            .and_then(|d| d.drop_folder.clone())
            .map(PathBuf::from)
            .or_else(|| parent.map(|p| self.ctx.paths.mailbox(p).incoming));
        let prompt_file = PathBuf::from(&session.prompt_path);
        let mut vars = AgentEnv {
            url: token.as_ref().map(|_| self.ctx.url()),
            token: token.as_deref(),
            session_id: id,
            kind: match kind {
                SessionKind::Department => "department",
                SessionKind::Zhongshu => "zhongshu",
                SessionKind::Reviewer => "reviewer",
            },
            prompt_file: &prompt_file,
            model: &session.model,
            parent_session_id: parent,
            department,
            mailbox: mailbox.as_deref(),
        }
        .vars();
        vars.push(("PATH".into(), agent_path()));
        let temp = workspace::temp_dir(self.ctx, session).display().to_string();
        for name in ["TMPDIR", "TMP", "TEMP"] {
            vars.push((name.into(), temp.clone()));
        }
        let launchers = crate::platform::text_env();
        let system = if crate::platform::WINDOWS_ENVIRONMENT {
            agent_env::System::Windows
        } else {
            agent_env::System::Unix
        };
        agent_env::for_agent(
            launchers,
            &self.ctx.config.launcher.agent.agent_env,
            system,
            vars,
        )
    }

    /// What the agent starts with of who it is and where it works: its
    /// environment ([`Self::agent_env`]), and for a department placed on a
    /// host or at the user's path (`placement`) where its commands run,
    /// its sandbox there and its variables as it sees them.
    pub(in crate::sessions) async fn agent_place(&self, session: &Session) -> LResult<AgentPlace> {
        let vars = self.agent_env(session);
        let server = self.sessions.backend_for(session.agent_key()).exec_server();
        let temp = workspace::temp_dir(self.ctx, session);
        let placed = self
            .sessions
            .placement
            .prepare(self.ctx, session, server, temp, vars)
            .await?;
        let sandbox = match (session.reviewer(), placed.sandbox) {
            (Some(r), _) => sandbox::for_reviewer(self.ctx, session, r),
            (None, Some(there)) => there,
            (None, None) => sandbox::own(self.ctx, session),
        };
        Ok(AgentPlace {
            env: placed.vars,
            environment: placed.environment,
            sandbox,
        })
    }
}

/// PATH for the agent's commands: the launcher's folder first, then the launcher's PATH.
fn agent_path() -> String {
    let bin = std::path::PathBuf::from(launcher_bin());
    let mut dirs: Vec<std::path::PathBuf> = bin
        .parent()
        .map(|d| vec![d.to_path_buf()])
        .unwrap_or_default();
    if let Some(path) = std::env::var_os("PATH") {
        dirs.extend(std::env::split_paths(&path));
    }
    std::env::join_paths(dirs)
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default()
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
