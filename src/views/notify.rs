//! What the page shows of the notifier (issue 54): its channels, its rules
//! and its last deliveries. `notify` keeps the deliveries and fills these;
//! no token and no secret of a topic beyond what the user configured.

use serde::Serialize;

use crate::model::notice::Channel;
use crate::policy::needs_you::NeedKind;
use crate::policy::notice::{Detail, RemoteDecisions};

/// Where one delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    Sending,
    Sent,
    Retrying,
    Failed,
}

/// One delivery, as the page lists it.
#[derive(Debug, Clone, Serialize)]
pub struct Delivery {
    pub id: u64,
    pub at: String,
    pub item_id: String,
    pub kind: NeedKind,
    pub channel: Channel,
    pub state: DeliveryState,
    pub attempts: u32,
    pub error: Option<String>,
}

/// What the page shows of the notifier: no token, no topic's secret beyond
/// what the user configured.
#[derive(Debug, Clone, Serialize)]
pub struct NotifyView {
    pub channels: Vec<ChannelView>,
    pub detail: Detail,
    pub remote_decisions: RemoteDecisions,
    pub dwell_seconds: u64,
    pub quiet_hours: Option<String>,
    /// A dashboard tab is in use now: notices wait.
    pub tab_in_use: bool,
    pub deliveries: Vec<Delivery>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ChannelView {
    pub channel: Channel,
    /// `server/topic` or the program's name.
    pub target: String,
    /// A token is set (never the token).
    pub token_set: bool,
    /// The last delivery on it failed, in words.
    pub failing: Option<String>,
}
