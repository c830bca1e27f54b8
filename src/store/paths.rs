//! Where each runtime file lives under the state directory.

use std::path::PathBuf;

use crate::model::MailboxPaths;

/// Paths of every runtime file under the state directory.
#[derive(Debug, Clone)]
pub struct Paths {
    pub state_dir: PathBuf,
}

impl Paths {
    pub fn new(state_dir: PathBuf) -> Paths {
        Paths { state_dir }
    }
    pub fn launcher_file(&self) -> PathBuf {
        self.state_dir.join("codex_governance_launcher.json")
    }
    pub fn prompts_dir(&self) -> PathBuf {
        self.state_dir.join("codex_governance_prompts")
    }
    pub fn logs_dir(&self) -> PathBuf {
        self.state_dir.join("codex_governance_logs")
    }
    /// Private temporary folders of sessions without a worktree (a Zhongshu,
    /// a department sharing the working tree): `<id>` each.
    pub fn temp_root(&self) -> PathBuf {
        self.state_dir.join("codex_governance_tmp")
    }
    pub fn mailbox_root(&self) -> PathBuf {
        self.state_dir.join("codex_governance_mailbox")
    }
    /// The mailbox of one Zhongshu session; `id` must already be validated.
    pub fn mailbox(&self, zhongshu_id: &str) -> MailboxPaths {
        MailboxPaths::of(&self.mailbox_root(), zhongshu_id)
    }
}
