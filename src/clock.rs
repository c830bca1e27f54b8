//! Wall-clock times as the API and the files show them: RFC 3339 with the local offset.

use chrono::{DateTime, Local, SecondsFormat};

pub fn now() -> DateTime<Local> {
    Local::now()
}

pub fn now_rfc3339() -> String {
    rfc3339(&now())
}

pub fn rfc3339(t: &DateTime<Local>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, false)
}

/// A compact stamp for file names: `20261120T231501123`.
pub fn file_stamp() -> String {
    now().format("%Y%m%dT%H%M%S%3f").to_string()
}
