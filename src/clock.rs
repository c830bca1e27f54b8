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

/// Unix seconds as the user's local time of day (`14:05`), with the date when
/// it is not today.
pub fn local_time(unix: i64) -> String {
    use chrono::TimeZone;
    let Some(t) = Local.timestamp_opt(unix, 0).single() else {
        return unix.to_string();
    };
    if t.date_naive() == Local::now().date_naive() {
        t.format("%H:%M").to_string()
    } else {
        t.format("%Y-%m-%d %H:%M").to_string()
    }
}
