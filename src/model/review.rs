//! What the checks of a department's work found, as records: a result and a
//! workspace keep them, the packet and the dashboard show them. The rules that
//! produce them live in `crate::policy`.

use serde::{Deserialize, Serialize};

/// How serious a risk rule is: `high`, `medium`, `low` (read in any case),
/// or any other word a configuration uses (`critical`), kept as written, as
/// the Python tool kept it. Only `high` and `medium` call for the Menxia.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum RiskLevel {
    High,
    Medium,
    Low,
    Other(String),
}

impl RiskLevel {
    pub fn as_str(&self) -> &str {
        match self {
            RiskLevel::High => "high",
            RiskLevel::Medium => "medium",
            RiskLevel::Low => "low",
            RiskLevel::Other(word) => word,
        }
    }

    /// The level a word names: the three known ones in any case, else the
    /// word itself (trimmed).
    pub fn from_word(word: &str) -> RiskLevel {
        match word.trim().to_ascii_lowercase().as_str() {
            "high" => RiskLevel::High,
            "medium" => RiskLevel::Medium,
            "low" => RiskLevel::Low,
            _ => RiskLevel::Other(word.trim().to_string()),
        }
    }

    /// High or medium: a risk the Menxia reviews (the Python tool's rule).
    pub fn wants_review(&self) -> bool {
        matches!(self, RiskLevel::High | RiskLevel::Medium)
    }
}

impl Serialize for RiskLevel {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for RiskLevel {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<RiskLevel, D::Error> {
        String::deserialize(d).map(|w| RiskLevel::from_word(&w))
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
    /// Those of them the assignment's `files` named: the planner assigned
    /// them outside the department's globs, which a plan cannot widen.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub assigned_outside: Vec<String>,
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
