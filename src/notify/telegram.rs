//! Telegram as a channel (issue 54 item 3): a bot the user makes, its token
//! from `CODEX_GOVERNANCE_TELEGRAM_TOKEN` only. A notice is one
//! `sendMessage` to the user's chat; its buttons are inline buttons whose
//! data is only a decision token's nonce (Telegram carries at most 64 bytes
//! there, and a thief of the chat's history learns nothing it could sign).
//! The launcher reads the presses by long-polling `getUpdates`, outbound as
//! the ntfy reply topic is: no listener, no webhook. A press is acted on only
//! from the configured chat and for a nonce this run handed out; it then
//! takes the signed token's path ([`Notifier::on_token`]), and the press is
//! answered with what became of it.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use serde_json::{json, Value};
use tokio::sync::watch;

use super::channels::{Button, DeliveryError, Http, DELIVERY_TIMEOUT};
use super::replies::PhoneRefusal;
use super::Notifier;
use crate::config::notify::Telegram;
use crate::model::notice::Channel;
use crate::policy::notice::Notice;

/// How long one `getUpdates` waits on Telegram's side for a press.
const POLL_SECONDS: u64 = 25;
/// Buttons handed out and not yet pressed, at most (the oldest go first).
const KEPT_BUTTONS: usize = 1000;

/// The buttons' file in the state folder (0600): nonce → (signed token,
/// its expiry in unix seconds).
pub(super) const BUTTONS_FILE: &str = "notify_telegram_buttons.json";

/// The buttons of the notices sent and not yet pressed: nonce → (signed
/// token, its expiry in unix seconds), kept in `file` when there is one.
#[derive(Default)]
pub(super) struct Pressable {
    buttons: HashMap<String, (String, i64)>,
    file: Option<std::path::PathBuf>,
}

impl Pressable {
    /// The buttons kept in `state_dir` that have not expired (none when the
    /// file is missing, a link or not such a map).
    pub(super) fn load(state_dir: &std::path::Path) -> Pressable {
        let file = state_dir.join(BUTTONS_FILE);
        let now = crate::clock::now().timestamp();
        let mut buttons: HashMap<String, (String, i64)> =
            crate::files::read_tail(&file, 4 * 1024 * 1024)
                .and_then(|(bytes, _)| serde_json::from_slice(&bytes).ok())
                .unwrap_or_default();
        buttons.retain(|_, (_, until)| *until > now);
        Pressable {
            buttons,
            file: Some(file),
        }
    }

    /// Keeps `button`'s token under its nonce; returns the nonce.
    fn keep(&mut self, nonce: String, token: String, expires: i64) -> String {
        let now = crate::clock::now().timestamp();
        self.buttons.retain(|_, (_, until)| *until > now);
        if self.buttons.len() >= KEPT_BUTTONS {
            if let Some(oldest) = self
                .buttons
                .iter()
                .min_by_key(|(_, (_, t))| *t)
                .map(|(n, _)| n.clone())
            {
                self.buttons.remove(&oldest);
            }
        }
        self.buttons.insert(nonce.clone(), (token, expires));
        self.save();
        nonce
    }

    fn take(&mut self, nonce: &str) -> Option<String> {
        let token = self.buttons.remove(nonce).map(|(token, _)| token);
        if token.is_some() {
            self.save();
        }
        token
    }

    /// Writes the buttons kept (atomically, owner-only); a failure costs
    /// only their use after a restart, and is logged.
    fn save(&self) {
        let Some(file) = &self.file else { return };
        let bytes = serde_json::to_vec(&self.buttons).expect("buttons serialize");
        if let Err(e) = crate::files::write_atomic(file, &bytes) {
            tracing::warn!(
                "cannot keep the Telegram buttons in {}: {e}",
                file.display()
            );
        }
    }
}

/// `api/bot<token>/<method>`; the URL holds the token and is never shown.
fn method_url(tg: &Telegram, token: &str, method: &str) -> String {
    format!("{}/bot{token}/{method}", tg.api)
}

/// One Bot API call with a JSON body; its answer's JSON.
async fn call(
    http: &Http,
    url: &str,
    body: &Value,
    timeout: Duration,
) -> Result<Value, DeliveryError> {
    let req = http::Request::post(url)
        .header("Content-Type", "application/json")
        .body(Full::new(Bytes::from(body.to_string())))
        .map_err(|e| DeliveryError::TelegramUnreachable(format!("the request: {e}")))?;
    let send = async {
        let resp = http
            .request(req)
            .await
            .map_err(|_| DeliveryError::TelegramUnreachable("the request failed".into()))?;
        let status = resp.status().as_u16();
        let bytes = resp
            .into_body()
            .collect()
            .await
            .map_err(|_| DeliveryError::TelegramUnreachable("the answer broke off".into()))?
            .to_bytes();
        match status {
            200..=299 => Ok(serde_json::from_slice(&bytes).unwrap_or(Value::Null)),
            429 => Err(DeliveryError::RateLimited),
            s => Err(DeliveryError::Telegram(s)),
        }
    };
    tokio::time::timeout(timeout, send)
        .await
        .map_err(|_| DeliveryError::TimedOut)?
}

/// Sends `notice` to the chat, with `buttons` as inline buttons carrying
/// their nonces.
pub(super) async fn send(
    http: &Http,
    tg: &Telegram,
    token: &str,
    notice: &Notice,
    buttons: &[(String, String)],
) -> Result<(), DeliveryError> {
    let mut body = json!({
        "chat_id": tg.chat_id,
        "text": format!("{}\n{}\n{}", notice.title, notice.body, notice.link),
        "disable_web_page_preview": true,
    });
    if !buttons.is_empty() {
        let row: Vec<Value> = buttons
            .iter()
            .map(|(label, nonce)| json!({"text": label, "callback_data": nonce}))
            .collect();
        body["reply_markup"] = json!({"inline_keyboard": [row]});
    }
    call(
        http,
        &method_url(tg, token, "sendMessage"),
        &body,
        DELIVERY_TIMEOUT,
    )
    .await
    .map(drop)
}

impl Notifier {
    /// The inline buttons of `item`'s Telegram notice: (label, nonce), each
    /// nonce kept with its signed token until pressed or expired.
    pub(super) fn telegram_buttons(&self, buttons: Vec<Button>) -> Vec<(String, String)> {
        let Some(key) = &self.key else {
            return Vec::new();
        };
        let now = crate::clock::now().timestamp();
        let mut kept = self.pressable.lock().unwrap();
        buttons
            .into_iter()
            .filter_map(|b| {
                let claim = super::decision_token::verify(key, &b.body, now).ok()?;
                Some((b.label, kept.keep(claim.nonce, b.body, claim.expires)))
            })
            .collect()
    }

    /// Reads the presses on the notices' buttons until the launcher stops,
    /// again with back-off after a failure.
    pub(super) async fn follow_telegram(self: Arc<Self>, mut stopping: watch::Receiver<bool>) {
        let (Some(tg), Some(token)) = (self.settings.telegram.clone(), self.telegram_token.clone())
        else {
            return;
        };
        let mut offset: i64 = 0;
        let mut failures = 0usize;
        loop {
            let body = json!({"offset": offset, "timeout": POLL_SECONDS,
                              "allowed_updates": ["callback_query"]});
            let url = method_url(&tg, token.expose(), "getUpdates");
            let wait = Duration::from_secs(POLL_SECONDS + 10);
            let got = tokio::select! {
                _ = stopping.wait_for(|v| *v) => return,
                r = call(self.http(), &url, &body, wait) => r,
            };
            match got {
                Ok(answer) => {
                    failures = 0;
                    for update in answer["result"].as_array().into_iter().flatten() {
                        if let Some(id) = update["update_id"].as_i64() {
                            offset = offset.max(id + 1);
                        }
                        self.on_press(&tg, token.expose(), &update["callback_query"])
                            .await;
                    }
                }
                Err(e) => {
                    tracing::warn!("reading Telegram's updates: {e}");
                    failures += 1;
                    let wait = super::BACK_OFF[(failures - 1).min(super::BACK_OFF.len() - 1)];
                    tokio::select! {
                        _ = stopping.wait_for(|v| *v) => return,
                        _ = tokio::time::sleep(wait) => {}
                    }
                }
            }
        }
    }

    /// One press: in the user's chat by a user it names
    /// (`policy::notice::telegram_press_may`), for a button of this run, it takes
    /// the signed token's path; anything else is refused and audited.
    async fn on_press(&self, tg: &Telegram, token: &str, press: &Value) {
        let Some(press_id) = press["id"].as_str() else {
            return;
        };
        let chat = press["message"]["chat"]["id"].as_i64();
        let by = press["from"]["id"].as_i64();
        let may = crate::policy::notice::telegram_press_may(tg.chat_id, &tg.user_ids, chat, by);
        let outcome = if let Err(refusal) = may {
            let why = PhoneRefusal::Rule(refusal);
            self.refuse(None, &why, Channel::Telegram);
            Err(why)
        } else {
            let nonce = press["data"].as_str().unwrap_or_default();
            let signed = self.pressable.lock().unwrap().take(nonce);
            match signed {
                Some(signed) => self.on_token(&signed, Channel::Telegram).await,
                None => {
                    let why = PhoneRefusal::NoButton;
                    self.refuse(None, &why, Channel::Telegram);
                    Err(why)
                }
            }
        };
        let text = match outcome {
            Ok(()) => "Done.".to_string(),
            Err(why) => format!("Not done: {why}."),
        };
        let answer = json!({"callback_query_id": press_id, "text": text});
        let url = method_url(tg, token, "answerCallbackQuery");
        if let Err(e) = call(self.http(), &url, &answer, DELIVERY_TIMEOUT).await {
            tracing::warn!("answering a Telegram button: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buttons_outlive_a_restart_until_pressed_or_expired() {
        let dir = tempfile::tempdir().unwrap();
        let now = crate::clock::now().timestamp();
        let mut before = Pressable::load(dir.path());
        before.keep("n1".into(), "token-1".into(), now + 600);
        before.keep("n2".into(), "token-2".into(), now + 600);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let file = dir.path().join(BUTTONS_FILE);
            let mode = std::fs::metadata(file).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        // The next launcher presses what this one handed out, once.
        let mut after = Pressable::load(dir.path());
        assert_eq!(after.take("n1").as_deref(), Some("token-1"));
        assert_eq!(after.take("n1"), None);
        let mut later = Pressable::load(dir.path());
        assert_eq!(later.take("n1"), None, "a pressed button stays pressed");
        assert_eq!(later.take("n2").as_deref(), Some("token-2"));
        // An expired one is not kept.
        later.keep("old".into(), "token-old".into(), now - 1);
        assert_eq!(Pressable::load(dir.path()).take("old"), None);
    }
}
