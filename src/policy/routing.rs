//! Routing: which departments a changed path belongs to, and which risk rules fire.
//!
//! Department globs are matched with the Python tool's `fnmatch` semantics
//! (`crate::glob`); a [`Router`] compiles a configuration's globs and risk
//! rules once and is then reused for every path.

use globset::Candidate;

use crate::config::{Config, RiskRule};
use crate::glob::PatternSet;
pub use crate::model::Risk;

/// A risk rule ready to test paths against.
#[derive(Debug, Clone)]
struct CompiledRule {
    pattern: String,
    pattern_lower: String,
    allow: Option<String>,
}

impl CompiledRule {
    fn fires(&self, path: &str, path_lower: &str) -> bool {
        if self.pattern.is_empty() {
            return false; // an empty pattern would flag every path; treat it as unset
        }
        let hit = path_lower.contains(&self.pattern_lower) || path.starts_with(&self.pattern);
        hit && !self.allow.as_deref().is_some_and(|a| path.starts_with(a))
    }
}

/// A configuration's department globs and risk rules, compiled once.
#[derive(Debug, Clone)]
pub struct Router {
    /// (key, globs) in configuration order.
    departments: Vec<(String, PatternSet)>,
    rules: Vec<(RiskRule, CompiledRule)>,
}

impl Router {
    pub fn new(config: &Config) -> Router {
        let departments = config
            .departments
            .iter()
            .map(|d| (d.key.clone(), PatternSet::new(&d.globs)))
            .collect();
        let rules = config
            .risk_rules
            .iter()
            .map(|r| {
                let compiled = CompiledRule {
                    pattern: r.pattern.clone(),
                    pattern_lower: r.pattern.to_lowercase(),
                    allow: r.allow_pattern.clone().filter(|a| !a.is_empty()),
                };
                (r.clone(), compiled)
            })
            .collect();
        Router { departments, rules }
    }

    /// Indexes (into `config.departments`) of every department `path` belongs to.
    pub fn route(&self, path: &str) -> Vec<usize> {
        let candidate = Candidate::new(path);
        self.departments
            .iter()
            .enumerate()
            .filter(|(_, (_, d))| d.matches(path, &candidate))
            .map(|(i, _)| i)
            .collect()
    }

    /// Keys of every department `path` belongs to, in configuration order.
    pub fn route_keys(&self, path: &str) -> Vec<String> {
        self.route(path)
            .into_iter()
            .map(|i| self.departments[i].0.clone())
            .collect()
    }

    /// The risk rules that fire for `path`, in configuration order.
    pub fn risks<'a>(&'a self, path: &'a str) -> impl Iterator<Item = &'a RiskRule> + 'a {
        let lower = path.to_lowercase();
        self.rules
            .iter()
            .filter(move |(_, c)| c.fires(path, &lower))
            .map(|(r, _)| r)
    }

    /// Every risk rule firing on each of `paths`, path by path.
    pub fn risks_of(&self, paths: &[String]) -> Vec<Risk> {
        paths
            .iter()
            .flat_map(|path| {
                self.risks(path).map(move |rule| Risk {
                    path: path.clone(),
                    name: rule.name.clone(),
                    level: rule.level.clone(),
                    message: rule.message.clone(),
                })
            })
            .collect()
    }
}

/// Department keys `path` routes to under `config` (compiles the globs each call;
/// use a [`Router`] for many paths).
pub fn route_path(config: &Config, path: &str) -> Vec<String> {
    Router::new(config).route_keys(path)
}
