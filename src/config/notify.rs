//! `launcher.notify` (issue 54): where a notice goes when something waits for
//! the user away from the desk, what it shows and what a phone may answer.
//! Channels: an ntfy topic (`ntfy: {server, topic}`) and a program given the
//! notice as JSON on its standard input (`command: [argv]`, run without a
//! shell). The ntfy token is never read from this file (a repository's file
//! is someone else's, and the settings go to the page): it comes from
//! `CODEX_GOVERNANCE_NTFY_TOKEN` only, read by the notifier at start.

use serde::{Deserialize, Serialize};

use super::ConfigError;

/// The environment variable holding the ntfy access token, if the topic needs one.
pub const NTFY_TOKEN_VAR: &str = "CODEX_GOVERNANCE_NTFY_TOKEN";
/// The public ntfy server.
pub const DEFAULT_NTFY_SERVER: &str = "https://ntfy.sh";
/// The environment variable holding the Telegram bot's token.
pub const TELEGRAM_TOKEN_VAR: &str = "CODEX_GOVERNANCE_TELEGRAM_TOKEN";
/// Telegram's Bot API.
pub const DEFAULT_TELEGRAM_API: &str = "https://api.telegram.org";

/// A span of the day, in minutes since local midnight; it may wrap midnight
/// (22:00–07:00). Start included, end excluded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuietHours {
    pub start: u16,
    pub end: u16,
}

impl QuietHours {
    pub fn contains(self, minute_of_day: u16) -> bool {
        if self.start <= self.end {
            (self.start..self.end).contains(&minute_of_day)
        } else {
            minute_of_day >= self.start || minute_of_day < self.end
        }
    }
}

/// How much a notice shows (`launcher.notify.detail`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Detail {
    /// The kind, the plan, the department.
    #[default]
    Minimal,
    /// Also the agent's words (a command, a question), cut short.
    Full,
}

/// What the phone may decide (`launcher.notify.remote_decisions`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RemoteDecisions {
    /// Only what stops or sets aside: decline an approval.
    #[default]
    DeclineOnly,
    /// Also approve a file change (it lands in the department's worktree,
    /// reviewed before it reaches the user's tree).
    LowRisk,
    /// Also approve a command and confirm a plan.
    All,
}

/// The keys under `launcher.notify`, for did-you-mean.
pub const KEYS: &[&str] = &[
    "ntfy",
    "telegram",
    "command",
    "detail",
    "dwell_seconds",
    "cooldown_seconds",
    "quiet_hours",
    "remote_decisions",
    "dashboard_url",
];

/// The file's words under `launcher.notify`.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct FileNotify {
    #[serde(default)]
    pub ntfy: Option<FileNtfy>,
    #[serde(default)]
    pub telegram: Option<FileTelegram>,
    #[serde(default)]
    pub command: Option<Vec<String>>,
    #[serde(default)]
    pub detail: Option<String>,
    #[serde(default)]
    pub dwell_seconds: Option<u64>,
    #[serde(default)]
    pub cooldown_seconds: Option<u64>,
    #[serde(default)]
    pub quiet_hours: Option<String>,
    #[serde(default)]
    pub remote_decisions: Option<String>,
    #[serde(default)]
    pub dashboard_url: Option<String>,
}

/// The file's words under `launcher.notify.ntfy`.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct FileNtfy {
    #[serde(default)]
    pub server: Option<String>,
    #[serde(default)]
    pub topic: Option<String>,
}

/// The file's words under `launcher.notify.telegram`.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct FileTelegram {
    #[serde(default)]
    pub chat_id: Option<i64>,
    /// Whose presses count (Telegram user ids); default: a private chat's own.
    #[serde(default)]
    pub user_ids: Option<Vec<i64>>,
    #[serde(default)]
    pub api: Option<String>,
}

/// The Telegram chat notices go to, through the user's own bot (its token
/// from [`TELEGRAM_TOKEN_VAR`] only). Buttons pressed in any other chat, or
/// by anyone but `user_ids`, are refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Telegram {
    pub chat_id: i64,
    /// The Telegram users whose presses decide: those the file names, else
    /// the chat's own id when it is a private chat (a positive id), else none.
    pub user_ids: Vec<i64>,
    /// The Bot API's address, without a trailing `/`.
    pub api: String,
}

/// An ntfy topic notices are published to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Ntfy {
    /// Without a trailing `/`.
    pub server: String,
    pub topic: String,
}

/// Where notices go and how.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NotifySettings {
    pub ntfy: Option<Ntfy>,
    pub telegram: Option<Telegram>,
    /// argv of a program given each notice as JSON on standard input.
    pub command: Option<Vec<String>>,
    pub detail: Detail,
    pub dwell_seconds: u64,
    pub cooldown_seconds: u64,
    /// `HH:MM-HH:MM`, local time.
    pub quiet_hours: Option<String>,
    pub remote_decisions: RemoteDecisions,
    /// The address a notice links to (default: the dashboard's loopback address).
    pub dashboard_url: Option<String>,
}

impl Default for NotifySettings {
    fn default() -> Self {
        NotifySettings {
            ntfy: None,
            telegram: None,
            command: None,
            detail: Detail::Minimal,
            dwell_seconds: 10,
            cooldown_seconds: 120,
            quiet_hours: None,
            remote_decisions: RemoteDecisions::DeclineOnly,
            dashboard_url: None,
        }
    }
}

impl NotifySettings {
    /// Some channel is configured.
    pub fn any_channel(&self) -> bool {
        self.ntfy.is_some() || self.telegram.is_some() || self.command.is_some()
    }

    /// The quiet hours (checked when the file loaded).
    pub fn quiet(&self) -> Option<QuietHours> {
        self.quiet_hours
            .as_deref()
            .and_then(|q| quiet_hours(q).ok())
    }
}

/// Why `quiet_hours` is not a span of local time.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuietHoursError {
    #[error("{0:?}: a span of local time such as 22:00-07:00")]
    NotASpan(String),
    #[error("{0:?}: the span is empty (start and end are the same)")]
    Empty(String),
}

/// `HH:MM-HH:MM` as minutes of the day.
pub fn quiet_hours(text: &str) -> Result<QuietHours, QuietHoursError> {
    let minute = |t: &str| -> Option<u16> {
        let (h, m) = t.trim().split_once(':')?;
        let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
        (h < 24 && m < 60 && !t.trim().starts_with('+')).then_some(h * 60 + m)
    };
    let bad = || QuietHoursError::NotASpan(text.to_string());
    let (start, end) = text.split_once('-').ok_or_else(bad)?;
    let (start, end) = (minute(start).ok_or_else(bad)?, minute(end).ok_or_else(bad)?);
    if start == end {
        return Err(QuietHoursError::Empty(text.to_string()));
    }
    Ok(QuietHours { start, end })
}

/// ntfy's topic names: letters, digits, `-` and `_`, at most 64.
fn is_topic(t: &str) -> bool {
    !t.is_empty()
        && t.len() <= 64
        && t.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

fn is_http_url(u: &str) -> bool {
    (u.starts_with("https://") || u.starts_with("http://"))
        && !u.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// Checks the file's words; `file` names the file in errors.
pub fn resolve(file: &str, words: Option<FileNotify>) -> Result<NotifySettings, ConfigError> {
    let d = NotifySettings::default();
    let Some(w) = words else { return Ok(d) };
    let invalid = |key: &str, message: String| ConfigError::Invalid {
        file: file.to_string(),
        key: format!("launcher.notify.{key}"),
        message,
    };
    let ntfy = w.ntfy.map(|n| ntfy(n, &invalid)).transpose()?;
    let telegram = w.telegram.map(|t| telegram(t, &invalid)).transpose()?;
    let command = match w.command {
        Some(argv) if argv.is_empty() || argv[0].trim().is_empty() => {
            return Err(invalid(
                "command",
                "a program and its arguments, such as [notify-send, codex-governance]".into(),
            ))
        }
        other => other,
    };
    let detail = match text(w.detail).as_deref() {
        None | Some("minimal") => Detail::Minimal,
        Some("full") => Detail::Full,
        Some(other) => {
            return Err(invalid(
                "detail",
                format!(
                    "{other:?}: minimal or full{}",
                    did_you_mean(other, &["minimal", "full"])
                ),
            ))
        }
    };
    let remote_decisions = match text(w.remote_decisions).as_deref() {
        None | Some("decline_only") => RemoteDecisions::DeclineOnly,
        Some("low_risk") => RemoteDecisions::LowRisk,
        Some("all") => RemoteDecisions::All,
        Some(other) => {
            let words = ["decline_only", "low_risk", "all"];
            return Err(invalid(
                "remote_decisions",
                format!(
                    "{other:?}: decline_only, low_risk or all{}",
                    did_you_mean(other, &words)
                ),
            ));
        }
    };
    let quiet = text(w.quiet_hours);
    if let Some(q) = &quiet {
        quiet_hours(q).map_err(|m| invalid("quiet_hours", m.to_string()))?;
    }
    let dashboard_url = text(w.dashboard_url);
    if dashboard_url.as_deref().is_some_and(|u| !is_http_url(u)) {
        return Err(invalid("dashboard_url", "an http(s) URL".into()));
    }
    Ok(NotifySettings {
        ntfy,
        telegram,
        command,
        detail,
        dwell_seconds: w.dwell_seconds.unwrap_or(d.dwell_seconds),
        cooldown_seconds: w.cooldown_seconds.unwrap_or(d.cooldown_seconds),
        quiet_hours: quiet,
        remote_decisions,
        dashboard_url,
    })
}

/// Why a key of `launcher.notify` is refused: its name under the section, and
/// the sentence.
type Invalid<'a> = &'a dyn Fn(&str, String) -> ConfigError;

/// A value as written, trimmed; None when empty.
fn text(v: Option<String>) -> Option<String> {
    v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}

/// `launcher.notify.ntfy`: an http(s) server and a topic hard to guess.
fn ntfy(n: FileNtfy, invalid: Invalid) -> Result<Ntfy, ConfigError> {
    let server = text(n.server).unwrap_or_else(|| DEFAULT_NTFY_SERVER.into());
    if !is_http_url(&server) {
        return Err(invalid(
            "ntfy.server",
            "an http(s) URL, such as https://ntfy.sh".into(),
        ));
    }
    let topic = text(n.topic)
        .ok_or_else(|| invalid("ntfy.topic", "the topic to publish to is missing".into()))?;
    if !is_topic(&topic) {
        return Err(invalid(
            "ntfy.topic",
            "letters, digits, - and _ (at most 64); pick one hard to guess".into(),
        ));
    }
    Ok(Ntfy {
        server: server.trim_end_matches('/').to_string(),
        topic,
    })
}

/// `launcher.notify.telegram`: the bot's API, the chat, and who may answer
/// (the chat's own user when it is a private chat).
fn telegram(t: FileTelegram, invalid: Invalid) -> Result<Telegram, ConfigError> {
    let api = text(t.api).unwrap_or_else(|| DEFAULT_TELEGRAM_API.into());
    if !is_http_url(&api) {
        return Err(invalid(
            "telegram.api",
            "an http(s) URL, such as https://api.telegram.org".into(),
        ));
    }
    let chat_id = t.chat_id.ok_or_else(|| {
        invalid(
            "telegram.chat_id",
            "the id of your chat with your bot is missing (a number; the bot's \
             getUpdates shows it after you write to the bot)"
                .into(),
        )
    })?;
    let user_ids = match t.user_ids {
        Some(ids) => ids,
        None if chat_id > 0 => vec![chat_id],
        None => Vec::new(),
    };
    Ok(Telegram {
        chat_id,
        user_ids,
        api: api.trim_end_matches('/').to_string(),
    })
}

fn did_you_mean(word: &str, words: &[&str]) -> String {
    words
        .iter()
        .map(|w| (strsim::levenshtein(word, w), w))
        .filter(|(d, _)| *d <= 3)
        .min()
        .map(|(_, w)| format!(" (did you mean {w}?)"))
        .unwrap_or_default()
}

/// What a repository's own file sets under `notify` that sends what happens
/// here to a third party, runs a program, or lets a phone decide more than
/// declining: (key, value, meaning).
pub fn trust_asks(w: &FileNotify) -> Vec<(&'static str, String, &'static str)> {
    let set = |v: &Option<String>| {
        v.as_deref()
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    };
    let mut asks = Vec::new();
    if let Some(n) = &w.ntfy {
        let server = set(&n.server).unwrap_or_else(|| DEFAULT_NTFY_SERVER.into());
        let topic = set(&n.topic).unwrap_or_default();
        asks.push((
            "notify.ntfy",
            format!("{}/{topic}", server.trim_end_matches('/')),
            "notices of what waits for you are published to this topic (whoever reads it learns them)",
        ));
    }
    if let Some(t) = &w.telegram {
        let api = set(&t.api).unwrap_or_else(|| DEFAULT_TELEGRAM_API.into());
        asks.push((
            "notify.telegram",
            format!(
                "chat {} through {}",
                t.chat_id.map_or("?".into(), |c| c.to_string()),
                api.trim_end_matches('/')
            ),
            "notices of what waits for you are sent to this Telegram chat, and its buttons answer them",
        ));
    }
    if let Some(argv) = w.command.as_ref().filter(|a| !a.is_empty()) {
        let shown: Vec<String> = argv
            .iter()
            .map(|p| shell_words::quote(p).into_owned())
            .collect();
        asks.push((
            "notify.command",
            shown.join(" "),
            "this program runs, as you, for every notice",
        ));
    }
    if let Some(url) = set(&w.dashboard_url) {
        asks.push((
            "notify.dashboard_url",
            url,
            "every notice links here for the dashboard (a page elsewhere could ask for its token)",
        ));
    }
    if set(&w.detail).as_deref() == Some("full") {
        asks.push((
            "notify.detail",
            "full".into(),
            "notices carry the agents' words (commands, questions) off this machine",
        ));
    }
    if let Some(r) = set(&w.remote_decisions).filter(|r| r != "decline_only") {
        asks.push((
            "notify.remote_decisions",
            r,
            "a phone's button may approve, not only decline",
        ));
    }
    asks
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(yaml: &str) -> FileNotify {
        serde_yaml_ng::from_str(yaml).unwrap()
    }

    #[test]
    fn defaults_are_off_minimal_and_decline_only() {
        let s = resolve("g.yaml", None).unwrap();
        assert!(!s.any_channel());
        assert_eq!(s.detail, Detail::Minimal);
        assert_eq!(s.remote_decisions, RemoteDecisions::DeclineOnly);
        let s = resolve("g.yaml", Some(words("ntfy: {topic: my-t0pic}\n"))).unwrap();
        assert_eq!(
            s.ntfy,
            Some(Ntfy {
                server: DEFAULT_NTFY_SERVER.into(),
                topic: "my-t0pic".into()
            })
        );
    }

    #[test]
    fn the_files_words_are_checked_with_their_key_and_a_did_you_mean() {
        for (yaml, key, says) in [
            ("ntfy: {server: ftp://x, topic: t}", "ntfy.server", "http"),
            ("ntfy: {server: https://n.example}", "ntfy.topic", "missing"),
            ("ntfy: {topic: 'a/b'}", "ntfy.topic", "letters"),
            ("command: []", "command", "program"),
            ("detail: ful", "detail", "did you mean full?"),
            (
                "remote_decisions: lowrisk",
                "remote_decisions",
                "did you mean low_risk?",
            ),
            ("quiet_hours: '22-7'", "quiet_hours", "22:00-07:00"),
            ("quiet_hours: '25:00-07:00'", "quiet_hours", "22:00-07:00"),
            ("telegram: {api: 'x'}", "telegram.api", "http"),
            ("telegram: {}", "telegram.chat_id", "missing"),
        ] {
            let e = resolve("g.yaml", Some(words(yaml)))
                .unwrap_err()
                .to_string();
            assert!(e.contains(&format!("launcher.notify.{key}")), "{yaml}: {e}");
            assert!(e.contains(says), "{yaml}: {e}");
        }
        let s = resolve("g.yaml", Some(words("quiet_hours: '22:00-07:00'"))).unwrap();
        assert_eq!(
            s.quiet(),
            Some(QuietHours {
                start: 22 * 60,
                end: 7 * 60
            })
        );
    }

    #[test]
    fn what_leaves_the_machine_or_runs_or_approves_asks_for_trust() {
        assert!(trust_asks(&words("dwell_seconds: 5\nremote_decisions: decline_only")).is_empty());
        let asks = trust_asks(&words(
            "ntfy: {topic: t}\ntelegram: {chat_id: 42}\ncommand: [notify-send, x]\ndetail: full\n\
             remote_decisions: all\ndashboard_url: https://look-alike.example/",
        ));
        let keys: Vec<&str> = asks.iter().map(|a| a.0).collect();
        assert_eq!(
            keys,
            [
                "notify.ntfy",
                "notify.telegram",
                "notify.command",
                "notify.dashboard_url",
                "notify.detail",
                "notify.remote_decisions"
            ]
        );
        assert_eq!(asks[0].1, "https://ntfy.sh/t");
        assert_eq!(asks[1].1, "chat 42 through https://api.telegram.org");
        let s = resolve("g.yaml", Some(words("telegram: {chat_id: -100123}"))).unwrap();
        assert!(s.any_channel());
        assert_eq!(
            s.telegram,
            Some(Telegram {
                chat_id: -100123,
                user_ids: vec![],
                api: DEFAULT_TELEGRAM_API.into()
            })
        );
        // A private chat's presses are its own user's; a group names them.
        let private = resolve("g.yaml", Some(words("telegram: {chat_id: 42}"))).unwrap();
        assert_eq!(private.telegram.unwrap().user_ids, vec![42]);
        let group = resolve(
            "g.yaml",
            Some(words("telegram: {chat_id: -100123, user_ids: [7, 9]}")),
        )
        .unwrap();
        assert_eq!(group.telegram.unwrap().user_ids, vec![7, 9]);
    }

    #[test]
    fn a_wrong_setting_names_its_line_and_a_typo_gets_a_did_you_mean() {
        let dir = tempfile::tempdir().unwrap();
        let load = |text: &str| {
            std::fs::write(dir.path().join(crate::config::CONFIG_FILE), text).unwrap();
            crate::config::Config::load_with_env(dir.path(), &Default::default())
        };
        let err = load("launcher:\n  notify:\n    detail: ful\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("governance.yaml:3: launcher.notify.detail") && err.contains("full?"),
            "{err}"
        );
        let cfg =
            load("launcher:\n  notify:\n    ntfy: {topic: t}\n    dwel_seconds: 3\n").unwrap();
        assert!(
            cfg.warnings.iter().any(|w| w.contains(
                "governance.yaml:4: unknown key launcher.notify.dwel_seconds ignored (did you mean launcher.notify.dwell_seconds?)"
            )),
            "{:?}",
            cfg.warnings
        );
        assert!(
            cfg.trust
                .asks
                .iter()
                .any(|a| a.key == "launcher.notify.ntfy"),
            "{:?}",
            cfg.trust.asks
        );
        assert_eq!(cfg.launcher.notify.ntfy.unwrap().topic, "t");
    }
}
