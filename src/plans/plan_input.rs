//! A plan as a Zhongshu sends it (`governance_register_plan`, the Python
//! tool's `report_zhongshu_plan`): flat or nested under `plan`, its Zhongshu
//! under any of the Python tool's keys.

use serde::Deserialize;

use crate::policy::plan::AssignmentInput;

/// A plan as `report_zhongshu_plan` carries it: flat, or nested under `plan`.
#[derive(Debug, Clone, Deserialize)]
pub struct PlanInput {
    /// The Zhongshu; the Python tool also took `parent_session_id` and
    /// `zhongshu_session_id` for it (`named_zhongshu`).
    #[serde(default)]
    pub session_id: String,
    #[serde(default)]
    parent_session_id: Option<String>,
    #[serde(default)]
    zhongshu_session_id: Option<String>,
    #[serde(flatten)]
    pub flat: PlanBody,
    #[serde(default)]
    pub plan: Option<PlanBody>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct PlanBody {
    pub summary: Option<String>,
    pub assignments: Option<Vec<AssignmentInput>>,
    pub needs_confirmation: Option<bool>,
}

impl PlanInput {
    /// The Zhongshu the plan names, under any of the Python tool's keys.
    pub fn named_zhongshu(&self) -> Option<String> {
        first_named([
            Some(&self.session_id),
            self.parent_session_id.as_ref(),
            self.zhongshu_session_id.as_ref(),
        ])
    }

    /// The plan's fields, flat ones first, nested ones where the flat are missing.
    pub(super) fn body(self) -> PlanBody {
        let nested = self.plan.unwrap_or_default();
        PlanBody {
            summary: self.flat.summary.or(nested.summary),
            assignments: self.flat.assignments.or(nested.assignments),
            needs_confirmation: self.flat.needs_confirmation.or(nested.needs_confirmation),
        }
    }
}

/// The first of `ids` given and not blank (the Python tool's key aliases),
/// as given: an id with stray characters is refused by its check, not trimmed.
pub fn first_named<'a>(ids: impl IntoIterator<Item = Option<&'a String>>) -> Option<String> {
    ids.into_iter()
        .flatten()
        .find(|s| !s.trim().is_empty())
        .cloned()
}
