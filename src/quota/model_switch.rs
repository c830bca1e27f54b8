//! Near the usage limit Codex's own terminal asked, inside one tile,
//! "Approaching rate limits · Switch to <a lighter model>? 1/2/3", and nobody
//! saw it. Without a terminal the launcher asks instead, once for all the
//! sessions whose backend can change model, as a Needs-you item: switch them
//! to the lighter model (the last of `launcher.models`) for their next turns,
//! keep their models, or keep them and stop asking. Asked again only after
//! usage fell below the threshold and rose over it again.

use serde::Deserialize;

use super::{Agents, Quota};
use crate::config::LauncherSettings;
use crate::error::{LResult, LauncherError};
use crate::model::{AccountQuota, AuditEvent, State, SwitchOffer};
use crate::store::Tx;

/// Used percent of a window from which the switch is offered (Codex's own).
pub const SWITCH_PERCENT: f64 = 90.0;

/// The user's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SwitchChoice {
    /// Their next turns use the lighter model.
    Switch,
    /// Keep their models (asked again when usage rises over the threshold again).
    Keep,
    /// Keep their models, and never ask again.
    Never,
}

impl SwitchChoice {
    fn word(self) -> &'static str {
        match self {
            SwitchChoice::Switch => "switch",
            SwitchChoice::Keep => "keep",
            SwitchChoice::Never => "never",
        }
    }
}

/// The fuller window under the limit, if either is over the threshold.
fn nearly_full(a: &AccountQuota) -> Option<(&'static str, f64)> {
    [("5-hour", &a.primary), ("weekly", &a.secondary)]
        .into_iter()
        .filter_map(|(name, w)| Some((name, w.as_ref()?.used_percent)))
        // At 100 % the limit is reached: parking, not a switch, answers that.
        .filter(|(_, used)| (SWITCH_PERCENT..100.0).contains(used))
        .max_by(|a, b| a.1.total_cmp(&b.1))
}

/// The offer due in `state`, if any.
pub fn offer(state: &State, config: &LauncherSettings) -> Option<SwitchOffer> {
    let answers = &state.quota.model_switch;
    if answers.never || answers.answered {
        return None;
    }
    let (window, used_percent) = nearly_full(&state.quota.account)?;
    let model = config.models.last()?.clone();
    let sessions: Vec<String> = state
        .sessions
        .values()
        .filter(|s| s.is_running() && s.model != model)
        .filter(|s| crate::agents::capabilities_of(&s.agent).model_switch)
        .map(|s| s.id.clone())
        .collect();
    (!sessions.is_empty()).then_some(SwitchOffer {
        model,
        used_percent,
        window,
        sessions,
    })
}

/// After a new snapshot: usage under the threshold again means the next rise
/// over it asks again.
pub(super) fn rearm(tx: &mut Tx) {
    let below = nearly_full(&tx.state().quota.account).is_none();
    if below && tx.state().quota.model_switch.answered {
        tx.quota_mut().model_switch.answered = false;
    }
}

impl Quota {
    /// `POST /api/quota/model_switch {choice}`: the user's answer to the
    /// offer; the sessions switch through `agents`.
    pub async fn answer_model_switch(
        &self,
        choice: SwitchChoice,
        agents: &dyn Agents,
    ) -> LResult<()> {
        let offer = self
            .ctx
            .store
            .read(|s| offer(s, &self.ctx.config.launcher))
            .ok_or_else(|| {
                LauncherError::Conflict(
                    "no model switch is offered now (usage is under the threshold, it was \
                     answered, or no running session could switch)"
                        .into(),
                )
            })?;
        let mut switched = Vec::new();
        if choice == SwitchChoice::Switch {
            for id in &offer.sessions {
                match agents.set_model(id, &offer.model).await {
                    Ok(()) => switched.push(id.clone()),
                    Err(e) => tracing::warn!("{id} keeps its model: {e}"),
                }
            }
        }
        self.ctx.store.update(|tx| {
            for id in &switched {
                if let Some(s) = tx.session_mut(id) {
                    s.model = offer.model.clone();
                }
            }
            let answers = &mut tx.quota_mut().model_switch;
            match choice {
                SwitchChoice::Never => answers.never = true,
                SwitchChoice::Switch | SwitchChoice::Keep => answers.answered = true,
            }
            tx.audit(AuditEvent::ModelSwitchAnswered {
                choice: choice.word().into(),
                model: offer.model.clone(),
                sessions: switched.clone(),
            });
        })?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::QuotaWindow;

    fn window(used: f64) -> Option<QuotaWindow> {
        Some(QuotaWindow {
            used_percent: used,
            ..QuotaWindow::default()
        })
    }

    #[test]
    fn the_fuller_window_over_the_threshold_and_under_the_limit_asks() {
        let mut a = AccountQuota {
            primary: window(93.0),
            secondary: window(40.0),
            ..AccountQuota::default()
        };
        assert_eq!(nearly_full(&a), Some(("5-hour", 93.0)));
        a.secondary = window(95.5);
        assert_eq!(nearly_full(&a), Some(("weekly", 95.5)));
        a.primary = window(100.0);
        a.secondary = window(89.9);
        assert_eq!(nearly_full(&a), None, "at the limit parking answers");
    }
}
