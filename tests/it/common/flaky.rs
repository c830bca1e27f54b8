//! A repository whose agents are the fake agent behind a small wrapper: the
//! first `lingyubu` department fails (exit 3, no report), every later run
//! works, so a test can retry a failed department and see it succeed.
//! Plans come from `[[fake-agent: --plan-file ...]]` in each Zhongshu's task.
#![allow(dead_code)]

use super::launcher::{fake_agent, RepoOptions, TestRepo};

pub fn flaky_repo(max_departments: usize) -> TestRepo {
    let repo = TestRepo::with_flags(&[]);
    let mark = repo.files.join("lingyubu-failed-once");
    let script = repo.files.join("flaky.sh");
    let agent = format!("'{}'", fake_agent().display());
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\n\
             if [ \"$CODEX_GOVERNANCE_DEPARTMENT\" = lingyubu ] && mkdir '{}' 2>/dev/null; then\n\
             exec {agent} --no-report --exit-code 3 \"$@\"\n\
             fi\n\
             exec {agent} \"$@\"\n",
            mark.display(),
        ),
    )
    .unwrap();
    let mut cmd = TestRepo::agent_command(&RepoOptions::default());
    cmd.splice(0..1, ["/bin/sh".to_string(), script.display().to_string()]);
    repo.write_config(&RepoOptions {
        agent_command: Some(cmd),
        max_departments,
        ..Default::default()
    });
    repo
}
