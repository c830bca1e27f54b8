//! The JSON state file of earlier versions, imported once into the database.
//!
//! The file is read whole, checked to be a JSON object of the expected shape
//! (anything else is refused, never overwritten), inserted in one transaction and
//! then renamed to `*.imported`.

use std::path::Path;

use anyhow::Context;
use indexmap::IndexMap;
use serde::Deserialize;

use crate::model::{State, TaskResult};

pub const STATE_FILE: &str = "codex_governance_state.json";

/// What the old file held: the small tables plus every result.
#[derive(Debug, Default, Deserialize)]
pub struct LegacyState {
    #[serde(flatten)]
    pub state: State,
    #[serde(default)]
    pub results: IndexMap<String, TaskResult>,
}

/// Reads the old state file; `None` when there is none.
pub fn read(path: &Path) -> anyhow::Result<Option<LegacyState>> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    let value: serde_json::Value = serde_json::from_slice(&bytes)
        .with_context(|| format!("{} is not valid launcher state", path.display()))?;
    if !value.is_object() {
        anyhow::bail!(
            "{} is not valid launcher state: expected a JSON object; the file is left as it is",
            path.display()
        );
    }
    let state = serde_json::from_value(value)
        .with_context(|| format!("{} is not valid launcher state", path.display()))?;
    Ok(Some(state))
}
