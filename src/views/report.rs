//! `GET /api/report`: the governance report in the Python tool's shape
//! (`{ok, report}`) and in ours, flat beside it, so clients of either read it.

use serde::Serialize;

use crate::report::Report;

/// The report twice: its fields at the top level and under `report`.
#[derive(Serialize)]
pub struct ReportView {
    #[serde(flatten)]
    flat: Report,
    report: Report,
}

impl From<Report> for ReportView {
    fn from(report: Report) -> ReportView {
        ReportView {
            flat: report.clone(),
            report,
        }
    }
}
