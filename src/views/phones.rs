//! `GET /api/phones`: the paired phones as the desk lists them (issue 54,
//! tier 2). The launcher, which pairs them, fills it.

use serde::Serialize;

use crate::phones::Pairing;

/// The pairings and where the page answers to phones.
#[derive(Debug, Serialize)]
pub struct PhonesView {
    /// `https://NAME` when served with `--allow-host`, else None.
    pub tailnet: Option<String>,
    pub phones: Vec<Pairing>,
}
