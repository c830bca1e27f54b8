//! What the checks of a department's work found, as records: a result and a
//! workspace keep them, the packet and the dashboard show them. The rules that
//! produce them live in `crate::policy`.

use serde::{Deserialize, Serialize};

/// How serious a risk rule is.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum RiskLevel {
    High,
    Medium,
    Low,
}

impl RiskLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            RiskLevel::High => "high",
            RiskLevel::Medium => "medium",
            RiskLevel::Low => "low",
        }
    }
}

/// One risk rule firing on one path.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Risk {
    pub path: String,
    pub name: String,
    pub level: RiskLevel,
    pub message: String,
}

/// What a check says of something a person should look at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Decision {
    #[serde(rename = "PASS")]
    Pass,
    #[serde(rename = "REVIEW")]
    Review,
}

impl Decision {
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Pass => "PASS",
            Decision::Review => "REVIEW",
        }
    }
}

/// A department's actual changes against its scope.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScopeCheck {
    /// No files and no globs: every path is in scope.
    pub open: bool,
    pub patterns: Vec<String>,
    /// Actual changes outside the patterns.
    pub out_of_scope: Vec<String>,
}

/// A report's claimed `changed_files` against the actual ones.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClaimCheck {
    /// Changed, but not in the report's `changed_files`.
    pub unreported: Vec<String>,
    /// In the report's `changed_files`, but not changed.
    pub unchanged: Vec<String>,
}

impl ClaimCheck {
    /// Whether the claim is the truth.
    pub fn holds(&self) -> bool {
        self.unreported.is_empty() && self.unchanged.is_empty()
    }
}

/// The review of one department's actual changes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChangeReview {
    /// REVIEW when files are out of scope or the claim is wrong.
    pub decision: Decision,
    pub scope: ScopeCheck,
    /// None when nothing was claimed (a launcher fallback).
    pub claim: Option<ClaimCheck>,
    /// The risk rules firing on the department's own diff.
    pub risks: Vec<Risk>,
    /// The findings in words, for the packet, the inbox and Needs you.
    pub findings: Vec<String>,
}

impl ChangeReview {
    pub fn out_of_scope(&self) -> &[String] {
        &self.scope.out_of_scope
    }
}
