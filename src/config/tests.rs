use super::*;

fn load_text(text: &str) -> Result<Config, ConfigError> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(CONFIG_FILE), text).unwrap();
    Config::load_with_env(dir.path(), &Env::new())
}

#[test]
fn defaults_without_file() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = Config::load_with_env(dir.path(), &Env::new()).unwrap();
    let keys: Vec<_> = cfg.departments.iter().map(|d| d.key.as_str()).collect();
    assert_eq!(keys, ["zhilibu", "gongchengbu", "lingyubu"]);
    assert_eq!(cfg.launcher.max_departments, 2);
    assert_eq!(cfg.launcher.zhongshu_model, "gpt-5.5");
    assert_eq!(cfg.launcher.department_model, "gpt-5.4");
    assert_eq!(cfg.risk_rules.len(), 3);
    assert!(cfg.department(MENXIA).is_some());
    assert_eq!(cfg.assignable_departments()[0].key, MENXIA);
    // Browser terminals default to shells this platform has.
    let shells = if cfg!(windows) {
        ["powershell.exe", "cmd.exe"]
    } else {
        ["/bin/bash", "/bin/sh"]
    };
    assert_eq!(cfg.launcher.terminal_shells, shells);
}

#[test]
fn python_tool_file_loads_with_warnings() {
    let cfg = load_text(
        "version: 3\ndepartments:\n  zhilibu:\n    title: 治理部\n    duty: docs\n    globs: [README.md, docs/**]\n    verify: [git status --short]\n    owner: someone\nrisk_rules:\n  - {name: secret_file, level: high, pattern: .env, message: no, allow_pattern: .env.example}\n",
    )
    .unwrap();
    assert_eq!(cfg.departments.len(), 1);
    assert_eq!(cfg.departments[0].verify, ["git status --short"]);
    assert_eq!(
        cfg.risk_rules[0].allow_pattern.as_deref(),
        Some(".env.example")
    );
    // `version` is the Python tool's own key: silent.
    assert_eq!(cfg.warnings.len(), 1, "{:?}", cfg.warnings);
    assert!(cfg
        .warnings
        .iter()
        .any(|w| w.contains("departments.zhilibu.owner")));
}

#[test]
fn malformed_names_file_line_and_key() {
    let err = load_text("launcher:\n  max_departments: lots\n").unwrap_err();
    let text = err.to_string();
    assert!(text.contains("governance.yaml:2:"), "{text}");
    assert!(text.contains("launcher.max_departments"), "{text}");
    // As in the Python tool, an unknown level is kept as written (with a warning).
    let cfg = load_text("risk_rules:\n  - {name: x, level: extreme, pattern: y}\n").unwrap();
    assert_eq!(cfg.risk_rules[0].level, RiskLevel::Other("extreme".into()));
    assert!(
        cfg.warnings[0].contains("risk_rules[0].level"),
        "{:?}",
        cfg.warnings
    );
    let err = load_text("departments: [unclosed\n").unwrap_err();
    assert!(matches!(err, ConfigError::Malformed { .. }), "{err}");
}

#[test]
fn env_overrides_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join(CONFIG_FILE),
        "launcher:\n  max_departments: 5\n  models: [a, b, c]\n",
    )
    .unwrap();
    let mut env = Env::new();
    env.insert("CODEX_GOVERNANCE_MAX_DEPARTMENTS".into(), "3".into());
    env.insert(
        "CODEX_GOVERNANCE_AGENT_COMMAND".into(),
        "python3 'my agent.py' --model {model}".into(),
    );
    let cfg = Config::load_with_env(dir.path(), &env).unwrap();
    assert_eq!(cfg.launcher.max_departments, 3);
    assert_eq!(cfg.launcher.agent_command[1], "my agent.py");
    assert_eq!(cfg.launcher.zhongshu_model, "a");
    assert_eq!(cfg.launcher.department_model, "c");
    env.insert("CODEX_GOVERNANCE_MAX_DEPARTMENTS".into(), "zero".into());
    assert!(Config::load_with_env(dir.path(), &env).is_err());
}

#[test]
fn model_prices_are_read_and_checked() {
    let cfg = load_text(
        "launcher:\n  model_prices:\n    gpt-5.5: {input: 1.25, cached_input: 0.125, output: 10}\n",
    )
    .unwrap();
    let p = cfg.launcher.model_prices["gpt-5.5"];
    assert_eq!(
        (p.input, p.cached_input, p.output),
        (1.25, Some(0.125), 10.0)
    );
    let negative = load_text("launcher:\n  model_prices:\n    m: {input: -1, output: 2}\n")
        .unwrap_err()
        .to_string();
    assert!(negative.contains("launcher.model_prices.m"), "{negative}");
    let typo = load_text("launcher:\n  model_prices:\n    m: {input: 1, ouput: 2}\n")
        .unwrap_err()
        .to_string();
    assert!(
        typo.contains("ouput"),
        "an unknown field is an error: {typo}"
    );
    assert!(load_text("launcher:\n  models: [a]\n")
        .unwrap()
        .launcher
        .model_prices
        .is_empty());
}

#[test]
fn quota_settings_default_and_bad_values_say_what_they_must_be() {
    let cfg = load_text("launcher:\n  plan_budget_tokens: 5000\n").unwrap();
    assert_eq!(cfg.launcher.quota_reserve_percent, 90.0);
    assert_eq!(cfg.launcher.plan_budget_tokens, Some(5000));
    assert_eq!(cfg.launcher.plan_budget_usd, None);
    for (text, key) in [
        (
            "launcher:\n  quota_reserve_percent: 0\n",
            "quota_reserve_percent",
        ),
        (
            "launcher:\n  quota_reserve_percent: 101\n",
            "quota_reserve_percent",
        ),
        ("launcher:\n  plan_budget_usd: -1\n", "plan_budget_usd"),
        ("launcher:\n  plan_budget_tokens: 0\n", "plan_budget_tokens"),
    ] {
        let err = load_text(text).unwrap_err().to_string();
        assert!(err.contains(key), "{text}: {err}");
    }
    let dir = tempfile::tempdir().unwrap();
    let mut env = Env::new();
    env.insert("CODEX_GOVERNANCE_QUOTA_RESERVE_PERCENT".into(), "75".into());
    let cfg = Config::load_with_env(dir.path(), &env).unwrap();
    assert_eq!(cfg.launcher.quota_reserve_percent, 75.0);
    env.insert(
        "CODEX_GOVERNANCE_QUOTA_RESERVE_PERCENT".into(),
        "most".into(),
    );
    let err = Config::load_with_env(dir.path(), &env)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("CODEX_GOVERNANCE_QUOTA_RESERVE_PERCENT"),
        "{err}"
    );
}

#[test]
fn the_mailbox_stuck_limit_is_30_seconds_unless_the_environment_says_otherwise() {
    let dir = tempfile::tempdir().unwrap();
    let mut env = Env::new();
    let cfg = Config::load_with_env(dir.path(), &env).unwrap();
    assert_eq!(cfg.launcher.mailbox_stuck_seconds, 30);
    env.insert("CODEX_GOVERNANCE_MAILBOX_STUCK_SECONDS".into(), "2".into());
    let cfg = Config::load_with_env(dir.path(), &env).unwrap();
    assert_eq!(cfg.launcher.mailbox_stuck_seconds, 2);
    for bad in ["0", "-1", "soon", ""] {
        env.insert("CODEX_GOVERNANCE_MAILBOX_STUCK_SECONDS".into(), bad.into());
        let err = Config::load_with_env(dir.path(), &env)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("CODEX_GOVERNANCE_MAILBOX_STUCK_SECONDS") && err.contains("at least 1"),
            "{bad:?}: {err}"
        );
    }
}

/// Issue 37: a typo is said once, with the file, its line and the closest
/// key; an invalid glob stops the load, naming the pattern and what is wrong.
#[test]
fn a_typo_names_its_line_and_an_invalid_glob_is_an_error() {
    let cfg = load_text("# mine\nlauncher:\n  max_departmens: 3\n").unwrap();
    assert_eq!(cfg.warnings.len(), 1, "{:?}", cfg.warnings);
    let w = &cfg.warnings[0];
    assert!(
        w.ends_with("governance.yaml:3: unknown key launcher.max_departmens ignored (did you mean launcher.max_departments?)"),
        "{w}"
    );
    assert!(!w.contains('?') || !w.contains("?."), "{w}");
    let cfg = load_text("departments:\n  docs:\n    globs: [docs/**]\n    ownr: me\n").unwrap();
    assert!(
        cfg.warnings[0].ends_with("governance.yaml:4: unknown key departments.docs.ownr ignored (did you mean departments.docs.owner?)")
            || cfg.warnings[0].contains("governance.yaml:4: unknown key departments.docs.ownr ignored"),
        "{:?}",
        cfg.warnings
    );
    let err = load_text("departments:\n  code:\n    globs:\n      - src/**\n      - 'src/[**'\n")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("governance.yaml:5: departments.code.globs[1]: the glob \"src/[**\" is not valid: the '[' at character 5 is never closed"),
        "{err}"
    );
    let err = load_text("launcher:\n  worktree_include: ['a[']\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("launcher.worktree_include[0]"), "{err}");
}

/// What the file says wrong, and how the launcher must say it: the line, the
/// key, what is allowed and the closest allowed value or key ("" when none
/// is close).
struct Said {
    text: &'static str,
    line: usize,
    key: &'static str,
    allowed: &'static str,
    suggestion: &'static str,
}

/// The cases of [`every_error_and_warning_names_line_key_allowed_and_a_suggestion`].
const SAID: &[Said] = &[
    Said {
        text: "# mine\nlauncher:\n  scope: warm\n",
        line: 3,
        key: "launcher.scope",
        allowed: "one of warn, block",
        suggestion: "did you mean warn?",
    },
    Said {
        text: "launcher:\n  max_departments: 2\n  merge: sqash\n",
        line: 3,
        key: "launcher.merge",
        allowed: "one of squash, history",
        suggestion: "did you mean squash?",
    },
    Said {
        text: "launcher:\n  approval_policy: on-requst\n",
        line: 2,
        key: "launcher.approval_policy",
        allowed: "one of untrusted, on-request, never",
        suggestion: "did you mean on-request?",
    },
    Said {
        text: "launcher:\n  max_departmens: 3\n",
        line: 2,
        key: "launcher.max_departmens",
        allowed: "unknown key",
        suggestion: "did you mean launcher.max_departments?",
    },
    Said {
        text: "launcher:\n  zzz_unheard_of: 3\n",
        line: 2,
        key: "launcher.zzz_unheard_of",
        allowed: "the keys in launcher are agent_command, max_departments",
        suggestion: "",
    },
    Said {
        text: "departments:\n  docs:\n    globs:\n      - README.md\n      - 'src/[**'\n",
        line: 5,
        key: "departments.docs.globs[1]",
        allowed: "a class closed by ']', or [[] for a literal '['",
        suggestion: "did you mean \"src/[[]**\"?",
    },
    Said {
        text: "launcher:\n  require_plan_confirmation: yes\n",
        line: 2,
        key: "launcher.require_plan_confirmation",
        allowed: "expected true or false",
        suggestion: "did you mean true?",
    },
    Said {
        text: "launcher:\n  max_departments: two\n",
        line: 2,
        key: "launcher.max_departments",
        allowed: "expected a whole number",
        suggestion: "did you mean 2?",
    },
    Said {
        text: "launcher:\n  models: gpt-5.5\n",
        line: 2,
        key: "launcher.models",
        allowed: "expected a list",
        suggestion: "did you mean [gpt-5.5]?",
    },
    Said {
        text: "launcher:\n  quota_reserve_percent: 150\n",
        line: 2,
        key: "launcher.quota_reserve_percent",
        allowed: "a percentage above 0 and at most 100",
        suggestion: "did you mean 100?",
    },
    Said {
        text: "launcher:\n  max_zhongshu: 0\n",
        line: 2,
        key: "launcher.max_zhongshu",
        allowed: "a whole number of at least 1",
        suggestion: "did you mean 1?",
    },
    Said {
        text: "launcher:\n  model_prices:\n    gpt-5.5: {inptu: 1.25, output: 10}\n",
        line: 3,
        key: "launcher.model_prices",
        allowed: "allowed: input, cached_input, output",
        suggestion: "did you mean input?",
    },
    Said {
        text: "risk_rules:\n  - name: x\n    level: hihg\n    pattern: y\n",
        line: 3,
        key: "risk_rules[0].level",
        allowed: "one of high, medium, low",
        suggestion: "did you mean high?",
    },
];

/// Issue 49 item 5: every error and warning about the file says it one way:
/// `file:line`, the key, what is allowed and the closest allowed value or key.
#[test]
fn every_error_and_warning_names_line_key_allowed_and_a_suggestion() {
    for case in SAID {
        let text = case.text;
        let said = match load_text(text) {
            Err(e) => e.to_string(),
            Ok(cfg) => {
                assert_eq!(cfg.warnings.len(), 1, "{text}: {:?}", cfg.warnings);
                cfg.warnings[0].clone()
            }
        };
        assert!(
            said.contains(&format!("{CONFIG_FILE}:{}: ", case.line)),
            "{text}: the file and line in {said}"
        );
        assert!(said.contains(case.key), "{text}: the key in {said}");
        assert!(
            said.contains(case.allowed),
            "{text}: what is allowed in {said}"
        );
        assert!(
            said.contains(case.suggestion),
            "{text}: the suggestion in {said}"
        );
    }
}

/// Issue 53: hosts load from `launcher.remotes`; a typo in one names the
/// closest key, a bad value stops the load naming its line.
#[test]
fn remote_hosts_load_and_their_mistakes_are_named() {
    let cfg = load_text(
        "launcher:\n  remotes:\n    gpu1:\n      ssh: gpu1\n      repo: /srv/p\n      max_departmnts: 3\n",
    )
    .unwrap();
    assert_eq!(cfg.launcher.remotes.len(), 1);
    assert_eq!(cfg.launcher.remotes[0].repo, "/srv/p");
    assert!(
        cfg.warnings[0].contains(
            "unknown key launcher.remotes.gpu1.max_departmnts ignored (did you mean launcher.remotes.gpu1.max_departments?)"
        ),
        "{:?}",
        cfg.warnings
    );
    let err = load_text(
        "launcher:\n  remotes:\n    gpu1:\n      ssh: -oProxyCommand=sh\n      repo: /p\n",
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("governance.yaml:4: launcher.remotes.gpu1.ssh")
            && err.contains("option of ssh"),
        "{err}"
    );
}

/// Issue 76: a department placed by labels, and the hosts' labels; labels
/// no host has stop the load naming them and the hosts' own.
#[test]
fn a_department_placed_by_labels_needs_a_host_with_them() {
    let hosts = "launcher:\n  remotes:\n    gpu1:\n      ssh: gpu1\n      repo: /p\n      \
                 labels: [gpu, big]\n    cpu1:\n      ssh: cpu1\n      repo: /p\n";
    let cfg = load_text(&format!(
        "{hosts}departments:\n  train:\n    globs: ['**']\n    where: {{labels: [gpu]}}\n"
    ))
    .unwrap();
    let train = cfg.departments.iter().find(|d| d.key == "train").unwrap();
    assert_eq!(
        (train.remote.clone(), train.labels.clone()),
        (None, vec!["gpu".to_string()])
    );
    let gpu1 = cfg
        .launcher
        .remotes
        .iter()
        .find(|r| r.name == "gpu1")
        .unwrap();
    assert_eq!(gpu1.labels, ["gpu", "big"]);
    let err = load_text(&format!(
        "{hosts}departments:\n  train:\n    globs: ['**']\n    where: {{labels: [tpu]}}\n"
    ))
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("departments.train.where.labels")
            && err.contains("has the labels tpu (the hosts' labels are big, gpu)"),
        "{err}"
    );
    let err = load_text(
        "launcher:\n  remotes:\n    gpu1:\n      ssh: gpu1\n      repo: /p\n      labels: ['a b']\n",
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("launcher.remotes.gpu1.labels") && err.contains("not a label"),
        "{err}"
    );
}

#[test]
fn a_department_names_its_own_agent_and_a_cloned_file_asks_for_trust() {
    let cfg = load_text(
        "launcher:\n  backend: codex\ndepartments:\n  docs:\n    globs: [docs/**]\n  \
         code:\n    globs: [src/**]\n    backend: acp\n    acp_agent: claude\n",
    )
    .unwrap();
    assert!(cfg.warnings.is_empty(), "{:?}", cfg.warnings);
    let own: Vec<&str> = cfg
        .launcher
        .agent
        .departments
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(own, ["code"]);
    assert_eq!(
        cfg.launcher.agent.departments["code"].kind(),
        crate::model::Backend::Acp
    );
    let asks: Vec<&str> = cfg.trust.asks.iter().map(|a| a.key.as_str()).collect();
    assert_eq!(asks, ["departments.code.acp_agent"]);
    let e =
        load_text("departments:\n  code:\n    globs: [src/**]\n    backend: pty\n").unwrap_err();
    let said = e.to_string();
    assert!(said.contains("departments.code.backend"), "{said}");
    assert!(said.contains("governance.yaml:4: "), "{said}");
}
