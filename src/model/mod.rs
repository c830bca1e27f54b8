//! The domain: the records the launcher keeps and the pure rules over them
//! (plan validation, queue transitions, slot counting, recovery decisions,
//! notice coalescing). Nothing here does I/O, so every rule is unit-tested
//! without processes.

/// Declares a snake_case state enum with its JSON word.
macro_rules! word_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $v:ident => $w:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($(#[$vm])* $v),+ }
        impl $name {
            /// Every word, in declaration order.
            #[allow(dead_code)]
            pub const WORDS: &'static [&'static str] = &[$($w),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$v => $w),+ }
            }

            /// The value a word names, if any.
            #[allow(dead_code)]
            pub fn from_word(word: &str) -> Option<Self> {
                match word { $($w => Some($name::$v),)+ _ => None }
            }
        }
        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

mod agent;
mod audit_event;
mod health;
pub mod notice;
mod plain_state;
pub mod plan;
mod plan_outcome;
mod pull_request;
pub mod quota;
mod records;
mod remote_host;
mod review;
mod review_comment;
mod session;
mod workplace;
mod workspace;

pub use agent::*;
pub use audit_event::*;
pub use health::IngestionHealth;
pub use plain_state::*;
pub use plan::AutoDispatch;
pub use plan_outcome::*;
pub use pull_request::*;
pub use quota::{
    AccountQuota, Hold, HoldReason, LimitBucket, Parked, QuotaState, QuotaWindow, SwitchOffer,
};
pub use records::*;
pub use remote_host::*;
pub use review::*;
pub use review_comment::*;
pub use session::*;
pub use workplace::Workplace;
pub use workspace::*;

#[cfg(test)]
mod word_tests {
    use super::*;

    #[test]
    fn a_renamed_variant_keeps_its_word_on_the_wire_and_in_the_store() {
        // Databases and Python-era clients hold the words of earlier launchers.
        let kind = serde_json::to_string(&TerminalKind::AgentSession).unwrap();
        assert_eq!(kind, "\"codex_session\"");
        let reason = serde_json::to_string(&CloseReason::HelperExited).unwrap();
        assert_eq!(reason, "\"app_server_exited\"");
        assert_eq!(
            serde_json::from_str::<TerminalKind>(&kind).unwrap(),
            TerminalKind::AgentSession
        );
        assert_eq!(
            serde_json::from_str::<CloseReason>(&reason).unwrap(),
            CloseReason::HelperExited
        );
        assert_eq!(
            CloseReason::HelperExited.as_str(),
            "codex_app_server_exited"
        );
    }
}
