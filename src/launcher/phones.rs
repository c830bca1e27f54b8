//! Pairing a phone for the page through the user's tailnet (issue 54, tier
//! 2): a token minted for the phone, shown once as the page's address with
//! the token in its fragment and as a QR code of that address; each pairing
//! and unpairing audited (never the token).

use qrcode::render::svg;
use qrcode::QrCode;
use serde::Serialize;

use super::{LResult, LauncherError};
use crate::model::AuditEvent;
use crate::net::allowed_host::AllowedHost;
use crate::phones::{Pairing, Phones};
use crate::store::Store;
use crate::views::phones::PhonesView;

/// A new pairing, as the desk shows it once.
#[derive(Debug, Serialize)]
pub struct PairedPhone {
    pub phone: Pairing,
    /// `https://NAME/#token=…`: the fragment never leaves the phone.
    pub url: String,
    /// The address as a QR code (SVG) to scan with the phone.
    pub qr_svg: String,
}

/// The desk's pairing of phones: the paired phones, the tailnet name the
/// page answers phones by, and the audit (`Launcher::phone_desk`).
pub struct PhoneDesk<'a> {
    pub(super) tailnet: Option<&'a AllowedHost>,
    pub(super) phones: &'a Phones,
    pub(super) store: &'a Store,
}

impl PhoneDesk<'_> {
    pub fn view(&self) -> PhonesView {
        PhonesView {
            tailnet: self.tailnet.map(|t| t.origin()),
            phones: self.phones.list(),
        }
    }

    /// Pairs a phone: only when served with `--allow-host`.
    pub fn pair(&self, label: &str) -> LResult<PairedPhone> {
        let Some(tailnet) = self.tailnet else {
            return Err(LauncherError::Conflict(
                "a phone reaches the page through your tailnet: start the launcher with \
                 --allow-host NAME (the name your `tailscale serve` answers to) to pair one"
                    .into(),
            ));
        };
        let (phone, token) = self.phones.pair(label)?;
        let url = format!("{}/#token={token}", tailnet.origin());
        let qr_svg = QrCode::new(url.as_bytes())
            .map_err(|e| LauncherError::Internal(format!("cannot draw the pairing code: {e}")))?
            .render::<svg::Color>()
            .min_dimensions(220, 220)
            .build();
        self.store.audit_or_log(AuditEvent::PhonePaired {
            phone_id: phone.id.clone(),
            label: phone.label.clone(),
        });
        Ok(PairedPhone { phone, url, qr_svg })
    }

    /// Ends a phone's pairing: its token is refused from the next request.
    pub fn unpair(&self, id: &str) -> LResult<Pairing> {
        crate::ids::check_id("phone_id", id)?;
        let gone = self.phones.unpair(id)?;
        self.store.audit_or_log(AuditEvent::PhoneUnpaired {
            phone_id: gone.id.clone(),
            label: gone.label.clone(),
        });
        Ok(gone)
    }
}

/// `url` as a QR code of text blocks for a terminal (two rows per line).
pub fn terminal_qr(url: &str) -> Option<String> {
    let code = QrCode::new(url.as_bytes()).ok()?;
    Some(
        code.render::<qrcode::render::unicode::Dense1x2>()
            .quiet_zone(true)
            .build(),
    )
}
