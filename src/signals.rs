//! What services tell the launcher happened, so that none of them needs to
//! know the others: the launcher (the composition root) decides what follows
//! (fallbacks, notices, queue pumps, auto-closes).

use tokio::sync::mpsc;

#[derive(Debug)]
pub enum Signal {
    /// A session's process ended (or it was closed).
    SessionExited(String),
    /// Results were registered for a Zhongshu: (result key, department session).
    ResultsRegistered {
        zhongshu_id: String,
        registered: Vec<(String, String)>,
    },
    /// A reviewer reported its findings (issue 75): it is closed.
    FindingsReported(String),
    /// A department slot may have freed (a fallback was registered).
    SlotFreed,
    /// Every assignment of this Zhongshu's plan ended: it is told.
    PlanFinished(String),
    /// The Zhongshu is told something the launcher decided (work held, a
    /// budget reached), after the launcher's own header.
    Tell { zhongshu_id: String, text: String },
    /// A Zhongshu session started: its mailbox folder is new.
    ZhongshuStarted(String),
}

pub type SignalTx = mpsc::UnboundedSender<Signal>;
pub type SignalRx = mpsc::UnboundedReceiver<Signal>;

pub fn channel() -> (SignalTx, SignalRx) {
    mpsc::unbounded_channel()
}
