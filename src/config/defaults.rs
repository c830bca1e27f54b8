//! The built-in configuration: the Python tool's departments, risk rules and
//! preflight paths, used where the file says nothing.

use super::{Department, RiskLevel, RiskRule, MENXIA};

pub(super) fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

fn department(key: &str, title: &str, duty: &str, globs: &[&str], verify: &[&str]) -> Department {
    Department {
        key: key.into(),
        title: title.into(),
        duty: duty.into(),
        globs: strings(globs),
        verify: strings(verify),
        remote: None,
        labels: Vec::new(),
        landing_verify: None,
        attempts: None,
        review: None,
        agent: Default::default(),
    }
}

/// The Python tool's built-in departments (its `DEFAULT_DEPARTMENTS`), so a
/// repository without `governance.yaml` routes the same with either tool.
pub fn default_departments() -> Vec<Department> {
    vec![
        department(
            "zhilibu",
            "治理部",
            "任务拆分、代理规则、README、文档、发布说明",
            &[
                "AGENTS.md",
                "CLAUDE.md",
                "README.md",
                "API.md",
                "CONTRIBUTING.md",
                "INDEPENDENT_RELEASE_PLAN.md",
                "SECURITY.md",
                "RELEASING.md",
                "LICENSE",
                "docs/**",
                "**/README.md",
            ],
            &["git status --short", "python codex_governance.py"],
        ),
        department(
            "gongchengbu",
            "工程部",
            "launcher、前端、脚本、验证、回归、发布链路",
            &[
                "*.py",
                "*.ps1",
                "*.html",
                "*.yaml",
                ".gitignore",
                "scripts/**",
                "tests/**",
                "**/tests/**",
                "tools/**",
            ],
            &[
                "python -m py_compile codex_governance.py codex_launcher.py run_codex_prompt.py",
                "python codex_governance.py --json",
            ],
        ),
        department(
            "lingyubu",
            "领域部",
            "领域实现、业务代码、集成联调",
            &["src/**", "app/**", "packages/**", "data/**", "models/**"],
            &["git status --short"],
        ),
    ]
}

pub(super) fn menxia_department() -> Department {
    department(
        MENXIA,
        "门下省",
        "Review and veto: check the other departments' work and risks before commit.",
        &[],
        &[],
    )
}

/// The Python tool's built-in risk rules (its `DEFAULT_RISK_RULES`).
pub fn default_risk_rules() -> Vec<RiskRule> {
    let rule = |name: &str, level, pattern: &str, message: &str| RiskRule {
        name: name.into(),
        level,
        pattern: pattern.into(),
        message: message.into(),
        allow_pattern: None,
    };
    vec![
        rule(
            "runtime_artifact",
            RiskLevel::High,
            "output/",
            "output 是构建产物，不应作为源码或提交对象",
        ),
        rule(
            "secret_file",
            RiskLevel::High,
            ".env",
            "疑似环境变量或密钥文件，提交前需确认脱敏",
        ),
        rule(
            "vendor_tree",
            RiskLevel::Medium,
            "vendor/",
            "vendor 目录通常是外部导入，修改前需说明来源和边界",
        ),
    ]
}

pub fn default_portability_paths() -> Vec<String> {
    // The Python tool's scan: every Markdown file under docs/governance and
    // docs/contracts, and these named files.
    strings(&[
        "AGENTS.md",
        "README.md",
        "docs/governance/**/*.md",
        "docs/contracts/**/*.md",
        "docs/18_Codex三省六部协作制.md",
        "tools/codex_governance/README.md",
        "tools/codex_governance/API.md",
    ])
}

/// The shells a browser terminal may start, the first by default: Windows'
/// own where they are the ones every machine has.
pub fn default_terminal_shells() -> Vec<String> {
    strings(crate::platform::DEFAULT_SHELLS)
}

pub fn default_agent_command() -> Vec<String> {
    strings(&["codex", "-m", "{model}", "--cd", "{repo}", "{prompt}"])
}
