//! The words of a notice's way to the user: which channel carried it. The
//! audit, a phone's answer and the page name a channel alike.

use serde::Serialize;

/// A channel's name, as the audit and the page say it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Ntfy,
    Telegram,
    Command,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Ntfy => "ntfy",
            Channel::Telegram => "telegram",
            Channel::Command => "command",
        }
    }
}
