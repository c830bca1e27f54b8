//! What a department really changed, held against its mandate (issue 26,
//! items 2 and 3).
//!
//! The launcher records each isolated department's work as a commit and
//! reads its actual changed files from Git; this module says what they mean:
//! which lie outside the department's scope (its department's `globs`,
//! narrowed by its assignment's `files`: a plan narrows a scope, it never
//! widens it, so `files: ["*"]` gives a docs department nothing beyond its
//! globs; with neither the scope is open, and the review says so), where the
//! report's claimed `changed_files` differ from them, and which
//! risk rules fire on the department's own diff. Out-of-scope files and a
//! wrong claim make the review a REVIEW. Whether such a result may be
//! integrated is `crate::policy::integration`'s.

use super::routing::Router;
use crate::glob::PatternSet;
pub use crate::model::{ChangeReview, ClaimCheck, Decision, LeftOut, ScopeCheck};

/// A department's mandate.
#[derive(Debug, Clone, Copy)]
pub struct Mandate<'a> {
    /// The assignment's `files`.
    pub files: &'a [String],
    /// The department's `globs`.
    pub globs: &'a [String],
}

impl Mandate<'_> {
    /// The patterns of the scope, for people: files first, then globs,
    /// each once; empty when open.
    pub fn patterns(&self) -> Vec<String> {
        let mut seen = std::collections::HashSet::new();
        cleaned(self.files)
            .into_iter()
            .chain(cleaned(self.globs))
            .filter(|p| seen.insert(p.clone()))
            .collect()
    }

    /// Whether `path` is in scope: within the globs (when the department has
    /// any) and within the files (when the assignment names any).
    pub fn covers(&self, path: &str) -> bool {
        let within = |patterns: &[String]| {
            let list = cleaned(patterns);
            list.is_empty() || PatternSet::new(&list).is_match(path)
        };
        within(self.globs) && within(self.files)
    }

    /// How the scope reads in a finding: `files within globs`, a long
    /// glob list counted rather than repeated.
    fn described(&self) -> String {
        let (files, globs) = (cleaned(self.files), cleaned(self.globs));
        let globs = match globs.len() {
            0..=3 => globs.join(", "),
            n => format!("{n} globs"),
        };
        match (files.is_empty(), globs.is_empty()) {
            (false, false) => format!("{} within {globs}", files.join(", ")),
            (true, _) => globs,
            (false, true) => files.join(", "),
        }
    }
}

/// The review's words on what lies out of scope: what the planner assigned
/// outside the globs (its choice), then the department's own strays.
fn scope_findings(
    mandate: &Mandate<'_>,
    assigned_outside: &[String],
    strayed: &[String],
) -> Vec<String> {
    let mut findings = Vec::new();
    if !assigned_outside.is_empty() {
        findings.push(format!(
            "REVIEW: the planner assigned {} outside the department's globs ({}): a plan \
             narrows a scope and never widens it, so {} out of scope",
            assigned_outside.join(", "),
            cleaned(mandate.globs).join(", "),
            if assigned_outside.len() == 1 {
                "this change is"
            } else {
                "these changes are"
            }
        ));
    }
    if !strayed.is_empty() {
        findings.push(format!(
            "REVIEW: {} changed {} outside the department's scope ({}): {}",
            strayed.len(),
            if strayed.len() == 1 { "file" } else { "files" },
            mandate.described(),
            strayed.join(", ")
        ));
    }
    findings
}

/// Patterns trimmed, empty ones dropped.
fn cleaned(patterns: &[String]) -> Vec<String> {
    patterns
        .iter()
        .map(|p| p.trim().to_string())
        .filter(|p| !p.is_empty())
        .collect()
}

/// Reviews `actual` (repository paths, sorted) against the mandate, the
/// report's `claimed` files and the risk rules. `roots` are folders a claim
/// may name its paths under (the department's worktree, the repository).
pub fn review(
    mandate: Mandate<'_>,
    actual: &[String],
    claimed: Option<&[String]>,
    roots: &[&str],
    router: &Router,
) -> ChangeReview {
    let patterns = mandate.patterns();
    let open = patterns.is_empty();
    let out_of_scope: Vec<String> = actual
        .iter()
        .filter(|p| !mandate.covers(p))
        .cloned()
        .collect();
    // What the planner itself put outside the globs (issue 70 item 5): said
    // as its choice, once, not as the department's stray.
    let assigned = PatternSet::new(&cleaned(mandate.files));
    let (assigned_outside, strayed): (Vec<String>, Vec<String>) = out_of_scope
        .iter()
        .cloned()
        .partition(|p| !mandate.files.is_empty() && assigned.is_match(p));
    let claim = claimed.map(|c| check_claim(c, actual, roots));
    let mut findings = Vec::new();
    if open {
        findings.push(
            "open scope: the assignment names no files and the department no globs, \
             so no change is out of scope"
                .to_string(),
        );
    }
    findings.extend(scope_findings(&mandate, &assigned_outside, &strayed));
    if let Some(c) = claim.as_ref().filter(|c| !c.holds()) {
        if !c.unreported.is_empty() {
            findings.push(format!(
                "REVIEW: changed but not reported: {}",
                c.unreported.join(", ")
            ));
        }
        if !c.unchanged.is_empty() {
            findings.push(format!(
                "REVIEW: reported but not changed: {}",
                c.unchanged.join(", ")
            ));
        }
    }
    let review_needed = !out_of_scope.is_empty() || claim.as_ref().is_some_and(|c| !c.holds());
    ChangeReview {
        decision: if review_needed {
            Decision::Review
        } else {
            Decision::Pass
        },
        scope: ScopeCheck {
            open,
            patterns,
            out_of_scope,
            assigned_outside,
        },
        claim,
        risks: router.risks_of(actual),
        findings,
    }
}

/// Names what the record of a department's work found beyond its files:
/// what it wrote in the launcher's state folder's place (`fenced`: never
/// recorded, refused at integration; an attack on the launcher, not noise,
/// so said first), files left in its worktree, and symbolic links it adds.
/// Each makes the review a REVIEW.
pub fn flag_recording(
    review: &mut ChangeReview,
    fenced: &[String],
    left_out: &[LeftOut],
    links: &[String],
) {
    let mut found = Vec::new();
    if !fenced.is_empty() {
        found.push(format!(
            "REVIEW: wrote into the launcher's state folder, an attack on the launcher \
             (never recorded; Apply and Merge refuse it): {}",
            fenced.join(", ")
        ));
    }
    if !left_out.is_empty() {
        let named: Vec<String> = left_out.iter().map(ToString::to_string).collect();
        found.push(format!(
            "REVIEW: not recorded, kept in its worktree (which is not deleted): {}",
            named.join(", ")
        ));
    }
    if !links.is_empty() {
        found.push(format!(
            "REVIEW: symbolic link(s) in its changes: {}",
            links.join(", ")
        ));
    }
    if found.is_empty() {
        return;
    }
    review.decision = Decision::Review;
    review.findings.splice(0..0, found);
}

/// A record with nothing for the user to look at: no change, nothing left
/// out of it and no attempt on the launcher's state folder. A department that
/// ended with such a record is settled without the user.
pub fn nothing_to_review(files: &[String], fenced: &[String], left_out: &[LeftOut]) -> bool {
    files.is_empty() && fenced.is_empty() && left_out.is_empty()
}

/// A claimed path as a repository path: slashes, no `./`, no root in front.
fn normalize(path: &str, roots: &[&str]) -> String {
    let mut p = path.trim().replace('\\', "/");
    for root in roots {
        let root = root.trim_end_matches('/');
        if let Some(rest) = p.strip_prefix(root).and_then(|r| r.strip_prefix('/')) {
            p = rest.to_string();
            break;
        }
    }
    while let Some(rest) = p.strip_prefix("./") {
        p = rest.to_string();
    }
    p
}

/// The claim against the truth; a claimed folder (`src/`) covers what is in it.
fn check_claim(claimed: &[String], actual: &[String], roots: &[&str]) -> ClaimCheck {
    let claimed: Vec<String> = claimed
        .iter()
        .map(|c| normalize(c, roots))
        .filter(|c| !c.is_empty())
        .collect();
    let covers = |c: &str, a: &str| c == a || (c.ends_with('/') && a.starts_with(c));
    let unreported = actual
        .iter()
        .filter(|a| !claimed.iter().any(|c| covers(c, a)))
        .cloned()
        .collect();
    let mut unchanged: Vec<String> = claimed
        .iter()
        .filter(|c| !actual.iter().any(|a| covers(c, a)))
        .cloned()
        .collect();
    unchanged.sort();
    unchanged.dedup();
    ClaimCheck {
        unreported,
        unchanged,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::config::ScopeMode;
    use crate::policy::integration::{may_integrate, Gate};

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    fn router() -> Router {
        let dir = tempfile::tempdir().unwrap();
        Router::new(&Config::load_with_env(dir.path(), &Default::default()).unwrap())
    }

    /// The review of `actual` by a department of `globs` given `files`,
    /// with `claimed` as its report's files.
    fn scoped(files: &[&str], globs: &[&str], actual: &[&str], claimed: bool) -> ChangeReview {
        let (files, globs, actual) = (strings(files), strings(globs), strings(actual));
        let mandate = Mandate {
            files: &files,
            globs: &globs,
        };
        let claimed = claimed.then_some(actual.as_slice());
        review(mandate, &actual, claimed, &[], &router())
    }

    #[test]
    fn plan_files_narrow_the_scope_and_never_widen_it() {
        // A docs department given `files: ["*"]`: still only its globs.
        let docs = ["docs/**", "*.md"];
        let actual = [".env", "README.md", "docs/guide.md", "tools/deploy.sh"];
        let r = scoped(&["*"], &docs, &actual, true);
        assert_eq!(r.scope.out_of_scope, [".env", "tools/deploy.sh"]);
        assert_eq!(r.decision, Decision::Review);
        assert!(may_integrate(ScopeMode::Block, Some(&r), false).is_err());
        // Files narrow: in the globs but not named is out.
        let actual = ["docs/guide.md", "docs/other.md"];
        let r = scoped(&["docs/guide.md"], &docs, &actual, false);
        assert_eq!(r.scope.out_of_scope, ["docs/other.md"]);
        assert!(
            r.findings[0].contains("1 changed file outside the department's scope (docs/guide.md within docs/**, *.md)"),
            "{:?}",
            r.findings
        );
        // A file the planner assigned outside the globs (issue 70 item 5):
        // out of scope, and said once as the planner's choice.
        let actual = ["src/lib.rs", "tests/stress.rs", "tools/x.sh"];
        let r = scoped(&["tests/stress.rs"], &["src/**"], &actual, false);
        assert_eq!(
            r.scope.out_of_scope,
            ["src/lib.rs", "tests/stress.rs", "tools/x.sh"]
        );
        assert_eq!(r.scope.assigned_outside, ["tests/stress.rs"]);
        assert_eq!(
            r.findings,
            [
                "REVIEW: the planner assigned tests/stress.rs outside the department's globs \
                 (src/**): a plan narrows a scope and never widens it, so this change is out of \
                 scope",
                "REVIEW: 2 changed files outside the department's scope (tests/stress.rs within \
                 src/**): src/lib.rs, tools/x.sh"
            ]
        );
        // A long glob list is counted, not repeated (issue 37); a file
        // named twice, as an assigned file and a glob, is listed once.
        let globs = ["README.md", "docs/**", "*.md", "AGENTS.md", "LICENSE"];
        let actual = ["README.md", "src/x.rs", "src/y.rs"];
        let r = scoped(&["README.md"], &globs, &actual, false);
        assert_eq!(
            r.findings[0],
            "REVIEW: 2 changed files outside the department's scope (README.md within 5 globs): src/x.rs, src/y.rs"
        );
        assert_eq!(r.scope.patterns, globs);
    }

    #[test]
    fn out_of_scope_files_are_a_review_finding() {
        let files = strings(&["src/a.rs", "docs/guide.md"]);
        let globs = strings(&["src/**"]);
        let actual = strings(&["docs/guide.md", "output/x.bin", "src/a.rs"]);
        let claimed = actual.clone();
        let r = review(
            Mandate {
                files: &files,
                globs: &globs,
            },
            &actual,
            Some(&claimed),
            &[],
            &router(),
        );
        assert_eq!(r.decision, Decision::Review);
        assert_eq!(r.scope.out_of_scope, ["docs/guide.md", "output/x.bin"]);
        assert!(!r.scope.open);
        assert!(r.findings.iter().any(|f| f.contains("output/x.bin")));
        assert_eq!(r.risks.len(), 1, "output/ is a risk of the defaults");
        assert_eq!(r.risks[0].name, "runtime_artifact");
        assert!(r.claim.unwrap().holds());
    }

    #[test]
    fn an_open_scope_says_so_and_passes() {
        let actual = strings(&["anything/at/all.txt"]);
        let r = review(
            Mandate {
                files: &[],
                globs: &[],
            },
            &actual,
            Some(&actual),
            &[],
            &router(),
        );
        assert!(r.scope.open);
        assert_eq!(r.decision, Decision::Pass);
        assert!(r.findings[0].starts_with("open scope"), "{:?}", r.findings);
    }

    #[test]
    fn a_claim_is_held_against_the_truth() {
        let actual = strings(&["src/a.rs", "src/b.rs", "src/new/c.rs"]);
        let claimed = strings(&["./src/a.rs", "/work/wt/lingyubu-1/src/new/", "src/never.rs"]);
        let r = review(
            Mandate {
                files: &[],
                globs: &[],
            },
            &actual,
            Some(&claimed),
            &["/work/wt/lingyubu-1/"],
            &router(),
        );
        let claim = r.claim.clone().unwrap();
        assert_eq!(claim.unreported, ["src/b.rs"]);
        assert_eq!(claim.unchanged, ["src/never.rs"]);
        assert_eq!(r.decision, Decision::Review);
        assert!(r
            .findings
            .iter()
            .any(|f| f == "REVIEW: changed but not reported: src/b.rs"));
        let fallback = review(
            Mandate {
                files: &[],
                globs: &[],
            },
            &actual,
            None,
            &[],
            &router(),
        );
        assert_eq!(fallback.claim, None);
        assert_eq!(fallback.decision, Decision::Pass);
    }

    #[test]
    fn block_needs_an_override_for_out_of_scope_changes() {
        let files = strings(&["a.txt"]);
        let actual = strings(&["a.txt", "b.txt"]);
        let r = review(
            Mandate {
                files: &files,
                globs: &[],
            },
            &actual,
            None,
            &[],
            &router(),
        );
        assert_eq!(
            may_integrate(ScopeMode::Warn, Some(&r), false),
            Ok(Gate::Open)
        );
        let refused = may_integrate(ScopeMode::Block, Some(&r), false).unwrap_err();
        assert!(refused.to_string().contains("b.txt"), "{refused}");
        assert_eq!(
            may_integrate(ScopeMode::Block, Some(&r), true),
            Ok(Gate::Overridden(strings(&["b.txt"])))
        );
        assert_eq!(may_integrate(ScopeMode::Block, None, false), Ok(Gate::Open));
    }
}
