//! Answers from the phone without an inbound port (issue 54, tier 1): the
//! launcher reads its private reply topic as an outbound stream (ntfy's
//! `GET /TOPIC/json`, JSON lines) and acts only on a token it signed
//! (`decision_token`), for an item still waiting as the notice showed it,
//! once, within what `remote_decisions` allows. The decision takes the same
//! service call as the page's (`Deciders`, given by the launcher) and is
//! audited with its channel; every refusal is audited too, at most
//! [`REFUSALS_PER_MINUTE`] a minute, so a flooded topic fills no disk. A
//! line longer than [`MAX_LINE`] is skipped unread.

use std::sync::Arc;

use bytes::Bytes;
use futures_util::future::BoxFuture;
use http_body_util::{BodyExt, Full};
use tokio::sync::watch;

use super::decision_token::{self, BadToken, Claim};
use super::Notifier;
use crate::error::LauncherError;
use crate::model::notice::Channel;
use crate::model::AuditEvent;
use crate::policy::needs_you::{self, Answers};
use crate::policy::notice::{self, PhoneDecision};
use crate::policy::Refusal;

/// Why a phone's answer was not carried out: audited with these words, and
/// said back to a channel that answers the press ("Not done: …").
#[derive(Debug, thiserror::Error)]
pub enum PhoneRefusal {
    #[error("a line that is not JSON")]
    NotJson,
    #[error("a message without text")]
    NoText,
    #[error("no key")]
    NoKey,
    #[error(transparent)]
    Token(#[from] BadToken),
    #[error("it was used already")]
    Used,
    #[error("its item is answered already or unknown")]
    NoItem,
    #[error("its item changed since the notice")]
    Changed,
    #[error("the launcher is not ready for decisions")]
    NotReady,
    #[error("its button is used, expired or unknown")]
    NoButton,
    /// A rule refused it (what `remote_decisions` allows, who pressed).
    #[error(transparent)]
    Rule(#[from] Refusal),
    /// The service call the page makes refused or failed.
    #[error(transparent)]
    Decision(#[from] LauncherError),
}

/// Why the reply topic's stream stopped (it is read again after a pause).
#[derive(Debug, thiserror::Error)]
pub enum ReplyStreamError {
    #[error("the request: {0}")]
    Request(#[from] http::Error),
    #[error("cannot reach the ntfy server")]
    Unreachable(#[source] hyper_util::client::legacy::Error),
    #[error("the ntfy server answered {0}")]
    Status(u16),
    #[error("the stream broke")]
    Broke(#[source] hyper::Error),
    #[error("the stream ended")]
    Ended,
}

/// The longest line of the stream read.
pub const MAX_LINE: usize = 8 * 1024;
/// Refusals audited per minute at most (the rest are counted).
pub const REFUSALS_PER_MINUTE: u32 = 20;
/// How the audit names a phone's decisions, by the channel they came on.
pub fn by_phone(channel: Channel) -> &'static str {
    match channel {
        Channel::Telegram => "phone (telegram)",
        Channel::Ntfy => "phone (ntfy)",
        // A program carries no decision back; named for what it is.
        Channel::Command => "phone (notification program)",
    }
}

/// What a phone's decision calls: the same services the page's handlers call.
pub trait Deciders: Send + Sync {
    /// Accepts or declines an approval request, audited as decided `by`
    /// with the token's `nonce` in the decision's own store change.
    fn approval(
        &self,
        session_id: String,
        request_id: String,
        accept: bool,
        by: &'static str,
        nonce: String,
    ) -> BoxFuture<'_, crate::error::LResult<()>>;
    /// Whether the approval is a patch whose files all resolve inside the
    /// session's own worktree (what `low_risk` lets a phone approve).
    fn patch_stays_in_worktree(&self, session_id: &str, request_id: &str) -> bool;
    /// Confirms a plan at the revision the notice showed (the `nonce` kept
    /// as for an approval).
    fn confirm_plan(
        &self,
        zhongshu: String,
        revision: u64,
        nonce: String,
    ) -> BoxFuture<'_, crate::error::LResult<()>>;
    /// Declines a plan at the revision the notice showed: nothing of it
    /// starts and its planner is told.
    fn decline_plan(
        &self,
        zhongshu: String,
        revision: u64,
        by: &'static str,
        nonce: String,
    ) -> BoxFuture<'_, crate::error::LResult<()>>;
}

impl Notifier {
    /// Reads the reply topic until the launcher stops, reconnecting with back-off.
    pub(super) async fn follow_replies(self: Arc<Self>, mut stopping: watch::Receiver<bool>) {
        let (Some(ntfy), Some(key)) = (&self.settings.ntfy, &self.key) else {
            return;
        };
        let url = format!("{}/{}/json", ntfy.server, key.reply_topic(&ntfy.topic));
        let mut failures = 0usize;
        loop {
            let read = tokio::select! {
                _ = stopping.wait_for(|v| *v) => return,
                r = self.read_replies(&url) => r,
            };
            if let Err(e) = read {
                tracing::warn!("the reply topic: {e}");
            }
            failures += 1;
            let wait = super::BACK_OFF[(failures - 1).min(super::BACK_OFF.len() - 1)];
            tokio::select! {
                _ = stopping.wait_for(|v| *v) => return,
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }

    async fn read_replies(&self, url: &str) -> Result<(), ReplyStreamError> {
        let mut req = http::Request::get(url);
        if let Some(t) = &self.ntfy_token {
            req = req.header("Authorization", format!("Bearer {}", t.expose()));
        }
        let req = req.body(Full::new(Bytes::new()))?;
        let resp = self
            .http()
            .request(req)
            .await
            .map_err(ReplyStreamError::Unreachable)?;
        if !resp.status().is_success() {
            return Err(ReplyStreamError::Status(resp.status().as_u16()));
        }
        let mut body = resp.into_body();
        let mut line = Vec::new();
        let mut skipping = false;
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(ReplyStreamError::Broke)?;
            let Ok(data) = frame.into_data() else {
                continue;
            };
            for &b in data.iter() {
                if b == b'\n' {
                    if !skipping {
                        self.on_line(&line).await;
                    }
                    line.clear();
                    skipping = false;
                } else if !skipping {
                    line.push(b);
                    if line.len() > MAX_LINE {
                        line.clear();
                        skipping = true;
                    }
                }
            }
        }
        Err(ReplyStreamError::Ended)
    }

    async fn on_line(&self, line: &[u8]) {
        let Ok(v) = serde_json::from_slice::<serde_json::Value>(line) else {
            return self.refuse(None, &PhoneRefusal::NotJson, Channel::Ntfy);
        };
        if v["event"] != "message" {
            return; // open, keepalive
        }
        match v["message"].as_str() {
            Some(text) => {
                let _told_in_the_audit = self.on_token(text, Channel::Ntfy).await;
            }
            None => self.refuse(None, &PhoneRefusal::NoText, Channel::Ntfy),
        }
    }

    /// One reply on `channel`: checked, then decided once, or refused with
    /// why (audited, and returned for a channel that answers the press).
    pub(super) async fn on_token(&self, text: &str, channel: Channel) -> Result<(), PhoneRefusal> {
        let refused = |claim: Option<&Claim>, why: PhoneRefusal| {
            self.refuse(claim, &why, channel);
            Err(why)
        };
        let Some(key) = &self.key else {
            return Err(PhoneRefusal::NoKey);
        };
        let now = crate::clock::now().timestamp();
        let claim = match decision_token::verify(key, text, now) {
            Ok(c) => c,
            Err(e) => return refused(None, e.into()),
        };
        if !self.used_nonces.lock().unwrap().insert(claim.nonce.clone()) {
            return refused(Some(&claim), PhoneRefusal::Used);
        }
        let item = self
            .waiting_since_now()
            .await
            .items
            .iter()
            .find(|i| i.id == claim.item)
            .cloned();
        let Some(item) = item else {
            return refused(Some(&claim), PhoneRefusal::NoItem);
        };
        if item.digest != claim.digest {
            return refused(Some(&claim), PhoneRefusal::Changed);
        }
        let Some(deciders) = self.deciders.get() else {
            return refused(Some(&claim), PhoneRefusal::NotReady);
        };
        let session = item.session_id.clone().unwrap_or_default();
        let file_change = self.patch_in_its_worktree(&item);
        if let Err(e) = notice::may_decide(
            self.settings.remote_decisions,
            item.kind,
            claim.decision,
            file_change,
        ) {
            return refused(Some(&claim), e.into());
        }
        let done = match (&item.answers, claim.decision) {
            (Answers::Approval { request_id, .. }, d) => {
                let accept = d == PhoneDecision::Approve;
                deciders
                    .approval(
                        session,
                        request_id.clone(),
                        accept,
                        by_phone(channel),
                        claim.nonce.clone(),
                    )
                    .await
            }
            (Answers::Plan { revision }, PhoneDecision::ConfirmPlan) => {
                deciders
                    .confirm_plan(session, *revision, claim.nonce.clone())
                    .await
            }
            (Answers::Plan { revision }, PhoneDecision::Decline) => {
                deciders
                    .decline_plan(session, *revision, by_phone(channel), claim.nonce.clone())
                    .await
            }
            _ => Err(LauncherError::BadRequest("nothing a phone answers".into())),
        };
        match done {
            Ok(()) => {
                self.ctx.store.audit_or_log(AuditEvent::PhoneDecided {
                    item_id: claim.item.clone(),
                    decision: claim.decision.as_str().into(),
                    channel: channel.as_str().into(),
                    nonce: claim.nonce.clone(),
                });
                Ok(())
            }
            Err(e) => refused(Some(&claim), e.into()),
        }
    }

    pub(super) fn refuse(&self, claim: Option<&Claim>, reason: &PhoneRefusal, channel: Channel) {
        let now_ms = self.now_ms();
        {
            let mut r = self.refusals.lock().unwrap();
            if now_ms.saturating_sub(r.0) >= 60_000 {
                *r = (now_ms, 0);
            }
            r.1 += 1;
            if r.1 > REFUSALS_PER_MINUTE {
                return;
            }
        }
        self.ctx
            .store
            .audit_or_log(AuditEvent::PhoneDecisionRefused {
                item_id: claim.map(|c| c.item.clone()),
                decision: claim.map(|c| c.decision.as_str().to_string()),
                channel: channel.as_str().into(),
                reason: reason.to_string(),
            });
    }

    /// Whether `item` asks to approve a patch that stays, as its paths
    /// resolve now, inside its session's worktree: what `low_risk` lets a
    /// phone approve. A notice offers Approve for it only then, as a press
    /// is checked.
    fn patch_in_its_worktree(&self, item: &needs_you::NeedItem) -> bool {
        let Answers::Approval {
            file_change: true,
            request_id,
            ..
        } = &item.answers
        else {
            return false;
        };
        let session = item.session_id.as_deref().unwrap_or_default();
        self.deciders
            .get()
            .is_some_and(|d| d.patch_stays_in_worktree(session, request_id))
    }

    /// The buttons of `item`'s notice: each a signed token, which an ntfy
    /// button publishes to the reply topic (a Telegram button carries its
    /// nonce).
    pub(super) fn buttons_for(&self, item: &needs_you::NeedItem) -> Vec<super::channels::Button> {
        let Some(key) = &self.key else {
            return Vec::new();
        };
        // Telegram's buttons carry only the token's nonce: no reply topic.
        let url = match &self.settings.ntfy {
            Some(ntfy) => format!("{}/{}", ntfy.server, key.reply_topic(&ntfy.topic)),
            None => String::new(),
        };
        let expires = crate::clock::now().timestamp() + decision_token::MAX_LIFE_SECONDS;
        let file_change = self.patch_in_its_worktree(item);
        notice::buttons(self.settings.remote_decisions, item.kind, file_change)
            .into_iter()
            .map(|decision| super::channels::Button {
                decision,
                label: match decision {
                    PhoneDecision::Decline => "Decline",
                    PhoneDecision::Approve => "Approve",
                    PhoneDecision::ConfirmPlan => "Confirm plan",
                }
                .to_string(),
                url: url.clone(),
                body: decision_token::sign(
                    key,
                    &Claim {
                        item: item.id.clone(),
                        decision,
                        digest: item.digest.clone(),
                        expires,
                        nonce: decision_token::nonce(),
                    },
                ),
            })
            .collect()
    }
}
