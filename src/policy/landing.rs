//! Verified landing's rules (issue 73): which checks a department's Merge
//! passes before it lands, what a Merge without them needs, and the words
//! of the trailer a verified commit carries.

use super::Refusal;
use crate::model::{IntegrationMode, Landing, LandingState};

/// The checks a Merge of one department's work runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Checks {
    /// These command lines, in order, on the candidate.
    Run(Vec<String>),
    /// None: its work lands unverified (shown so).
    Unverified,
}

/// A department's own `landing.verify` wins (`[]`: unverified); else the
/// launcher's; else none.
pub fn checks_for(department: Option<&[String]>, launcher: Option<&[String]>) -> Checks {
    match department.or(launcher) {
        Some(lines) if !lines.is_empty() => Checks::Run(lines.to_vec()),
        _ => Checks::Unverified,
    }
}

/// What a Merge asked to land without its checks must say: why.
pub fn without_checks(mode: IntegrationMode, reason: Option<&str>) -> Result<String, Refusal> {
    if mode != IntegrationMode::Merge {
        return Err(Refusal::Invalid(format!(
            "without_checks is for a Merge: a {mode} runs no checks"
        )));
    }
    match reason.map(str::trim).filter(|r| !r.is_empty()) {
        Some(reason) => Ok(reason.chars().take(500).collect()),
        None => Err(Refusal::Invalid(
            "say why it lands without its checks (reason): it is audited".into(),
        )),
    }
}

/// A Merge already waiting in the train or running its checks is not asked
/// twice.
pub fn may_queue(landing: Option<&Landing>) -> Result<(), Refusal> {
    match landing.map(|l| l.state) {
        Some(LandingState::Queued) => Err(Refusal::Conflict(
            "its Merge waits in the train already".into(),
        )),
        Some(LandingState::Verifying) => Err(Refusal::Conflict(
            "its Merge's checks are running already".into(),
        )),
        _ => Ok(()),
    }
}

/// Whether a Merge is in the landing train: waiting for its turn, or its
/// checks running.
pub fn in_train(l: &Landing) -> bool {
    matches!(l.state, LandingState::Queued | LandingState::Verifying)
}

/// The train's order: by the instant each Merge was asked (whatever offset
/// it was written with; one unreadable goes first), then by session id.
pub fn train_order(a: (&str, &str), b: (&str, &str)) -> std::cmp::Ordering {
    let instant = |at: &str| chrono::DateTime::parse_from_rfc3339(at).ok();
    instant(a.0).cmp(&instant(b.0)).then_with(|| a.1.cmp(b.1))
}

/// The trailer a verified Merge's commit carries: the checks that passed on
/// its tree.
pub fn trailer(commands: &[String]) -> String {
    let shown: Vec<String> = commands
        .iter()
        .map(|c| c.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    format!("{} {}", crate::model::VERIFIED_TRAILER, shown.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_departments_list_wins_and_an_empty_one_lands_unverified() {
        let launcher = v(&["cargo test --locked"]);
        let own = v(&["npm test"]);
        assert_eq!(
            checks_for(None, Some(&launcher)),
            Checks::Run(launcher.clone())
        );
        assert_eq!(checks_for(Some(&own), Some(&launcher)), Checks::Run(own));
        assert_eq!(checks_for(Some(&[]), Some(&launcher)), Checks::Unverified);
        assert_eq!(checks_for(None, None), Checks::Unverified);
    }

    #[test]
    fn landing_without_checks_needs_a_reason_and_a_merge() {
        assert!(without_checks(IntegrationMode::Merge, Some("  ")).is_err());
        assert!(without_checks(IntegrationMode::Apply, Some("hotfix")).is_err());
        assert_eq!(
            without_checks(IntegrationMode::Merge, Some(" hotfix ")).unwrap(),
            "hotfix"
        );
        assert_eq!(
            trailer(&v(&["cargo  test\n--locked", "npm test"])),
            "Governance-Verified: cargo test --locked; npm test"
        );
    }
}
