//! What the views read: the launcher at one moment, as plain data. The
//! launcher gathers it from its services (the store's tables, the live
//! agents and terminals, the ingestion thread, the backend) and from its
//! cached [`Facts`]; nothing here reaches a service, git or a file.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use crate::config::Config;
use crate::config_trust::TrustRequest;
use crate::model::{
    AppliedFile, Backend, Capabilities, ConfirmationAnswer, IngestionHealth, State, SwitchOffer,
};

/// The launcher as the views see it.
pub struct Snapshot<'a> {
    /// The store's tables; each session's agent record carries its
    /// capabilities (those of older records filled in as their backend's).
    pub state: State,
    pub config: &'a Config,
    pub repo: &'a Path,
    /// Where the Zhongshus' mailboxes are (a department's view shows its own).
    pub mailbox_root: PathBuf,
    /// What the live agents and terminals say now, by session; a session
    /// without a live agent or terminal has none.
    pub live: HashMap<String, Live>,
    /// Facts kept per event or tick, read here without any I/O.
    pub facts: Arc<Facts>,
    /// The launcher's own state beside the tables.
    pub launcher: LauncherFacts,
    /// When it was taken: idle times and deadlines count from here.
    pub at: Moment,
}

/// A moment, monotonic and as Unix seconds.
#[derive(Debug, Clone, Copy)]
pub struct Moment {
    pub instant: Instant,
    pub unix: i64,
}

impl Moment {
    pub fn now() -> Moment {
        Moment {
            instant: Instant::now(),
            unix: chrono::Utc::now().timestamp(),
        }
    }
}

/// One session's live agent and terminal.
#[derive(Debug, Clone, Default)]
pub struct Live {
    /// When it last did something visible (output, an event): monotonic and
    /// wall clock.
    pub activity: Option<(Instant, SystemTime)>,
    /// The last lines of its live conversation, else of its terminal.
    pub preview: Option<String>,
    /// Moves whenever its live conversation does.
    pub conversation_rev: Option<u64>,
    /// What its agent said last, from its live conversation.
    pub last_message: Option<String>,
    /// How many pages watch its own terminal now.
    pub terminal_viewers: Option<usize>,
}

/// The launcher's own facts: the audit chain, the mailbox ingestion, the
/// backend, the trust the configuration waits for, the usage-limit offer.
#[derive(Debug, Clone)]
pub struct LauncherFacts {
    pub audit_seq: u64,
    pub audit_chain_problem: Option<String>,
    pub ingestion: IngestionHealth,
    pub backend: BackendFacts,
    pub trust: Option<TrustRequest>,
    /// Near the usage limit: the offer of a lighter model, if due.
    pub model_switch: Option<SwitchOffer>,
    /// When this launcher started: terminals it opened are listed, ended ones too.
    pub run_started: chrono::DateTime<chrono::FixedOffset>,
    /// The hosts of `launcher.remotes`, as their pre-flight found them.
    pub remotes: Vec<crate::model::RemoteHost>,
}

/// How this launcher drives agents.
#[derive(Debug, Clone)]
pub struct BackendFacts {
    pub kind: Backend,
    pub capabilities: Capabilities,
    /// What keeps agents from starting (Codex missing, old or not logged in).
    pub problems: Vec<String>,
    /// Those that keep a planner from starting (the launcher's own backend's;
    /// a department's own backend's keep only that department waiting).
    pub planner_problems: Vec<String>,
}

/// What the status shows that costs git, file or database reads: computed
/// per event or tick by the launcher (`launcher::facts`), never while a
/// status is built. Each part is shared, so a change of one copies only it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Facts {
    /// Per Zhongshu: the files its plan names that the user's tree still changes.
    pub plan_files: Arc<HashMap<String, PlanFiles>>,
    /// Per session that runs no longer (or not yet): the last lines of its files.
    pub previews: Arc<HashMap<String, String>>,
    /// Per department that reported: its last report's request to the user.
    pub reports: Arc<HashMap<String, ReportFact>>,
    /// Unread results per Zhongshu.
    pub unread: Arc<HashMap<String, usize>>,
    /// The configuration file edited since the launcher started, if it was.
    pub config_change: Option<Arc<crate::config::changes::ConfigChange>>,
}

/// A plan's uncommitted files, the user's and the departments' applied ones.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PlanFiles {
    pub dirty: Vec<String>,
    pub applied: Vec<AppliedFile>,
}

/// A department's last report, as far as it asks the user something.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportFact {
    pub report_id: String,
    pub needs_confirmation: bool,
    pub question: String,
    pub answer: Option<ConfirmationAnswer>,
}
