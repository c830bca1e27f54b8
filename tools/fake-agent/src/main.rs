//! A scripted stand-in for the Codex CLI, used as `launcher.agent_command` by
//! the tests, the benches and the README's demo, on Linux, macOS and Windows
//! (a Rust binary, so a Windows test run needs no Python).
//!
//! It reads its role from the environment the launcher gives every agent
//! (SPEC 6): CODEX_GOVERNANCE_URL, _TOKEN, _SESSION_ID, _SESSION_KIND
//! (zhongshu|department), _PROMPT_FILE, _MODEL and, for departments,
//! _PARENT_SESSION_ID, _DEPARTMENT, _MAILBOX. Its behaviour comes from
//! `FAKE_AGENT_<OPTION>` variables, then flags, then `[[fake-agent: ...]]`
//! directives in the prompt (see `options`), so a test can vary it per task.
//!
//! What it prints (one line each, easy to find in the transcript):
//!
//! ```text
//! FAKE_AGENT_START session=<id> kind=<kind> pid=<pid> pgid=<pgid>
//! FAKE_AGENT_ARGV <JSON list of its arguments, program first>
//! FAKE_AGENT_ENV <JSON of the CODEX_GOVERNANCE_* variables; the token only as its length>
//! FAKE_AGENT_OPTIONS <JSON of the effective options>
//! CHILD_PID=<pid>                          (--spawn-child: a child that sleeps)
//! FAKE_AGENT_FLOOD_DONE <bytes>            (--flood-mb N: N MiB of output, fast)
//! FAKE_AGENT_PLAN_STATUS <status> <body>   (a Zhongshu with --plan-file/--plan-json)
//! FAKE_AGENT_WROTE <path> in <folder>      (a department, --write PATH=TEXT: its work)
//! FAKE_AGENT_REPORT_WRITTEN <path>         (a department, --report-via file)
//! FAKE_AGENT_REPORT_CLI <exit code> <output>  (a department, --report-via cli)
//! FAKE_AGENT_WAITING                       (then ECHO: <line> for each stdin line;
//!                                          FAKE_AGENT_SIZE <cols>x<rows> for `/size`)
//! FAKE_AGENT_RECORDING <path>              (--record-stdin DIR: raw bytes go there)
//! FAKE_AGENT_SIGTERM_IGNORED               (--ignore-sigterm: on each stop request)
//! FAKE_AGENT_EXIT <code>
//! ```
//!
//! With `--demo` and no directive in its prompt, a Zhongshu without a plan
//! plans from its prompt and a department changes the file in its scope and
//! reports it with `mailbox send` (see `demo`; what `codex-governance demo`
//! runs):
//!
//! ```text
//! FAKE_AGENT_DEMO_CHANGED <path>           (a department added a line to it)
//! FAKE_AGENT_DEMO_ERROR <reason>           (it could not)
//!
//! With `--demo` (and no directive) it speaks as an agent would instead:
//! what it reads, plans or changes, and what the launcher answered.
//! ```
//!
//! `--acp` makes it an agent speaking the Agent Client Protocol instead
//! (see `acp`: the ACP backend's tests).
//!
//! `--stream-kib N` prints N KiB every 10 ms until killed (the load bench);
//! `--sleep S` only sleeps S seconds, silently (what `--spawn-child` starts).

mod acp;
mod demo;
mod http;
mod options;
mod report;
mod term;

use std::io::Write;
use std::time::Duration;

use serde_json::{json, Value};

use options::Options;
use report::Report;
use term::{ascii_json, out, say};

const ENV_PREFIX: &str = "CODEX_GOVERNANCE_";

fn env(name: &str) -> Option<String> {
    std::env::var(format!("{ENV_PREFIX}{name}")).ok()
}

fn main() {
    term::use_console_if_unset();
    let argv: Vec<String> = std::env::args().collect();
    if argv.get(1).map(String::as_str) == Some("--acp") {
        acp::run();
    }
    let o = match Options::parse(&argv[1..]) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("fake-agent: error: {}", e.0);
            std::process::exit(2);
        }
    };
    if o.float("sleep") > 0.0 {
        std::thread::sleep(Duration::from_secs_f64(o.float("sleep")));
        return;
    }
    if o.float("max_lifetime") > 0.0 {
        term::limit_lifetime(o.float("max_lifetime"));
    }
    if o.flag("ignore_sigterm") {
        term::ignore_stop_requests();
    }
    let kind = env("SESSION_KIND").unwrap_or_else(|| "unknown".into());
    let session = env("SESSION_ID").unwrap_or_else(|| "unknown".into());
    if demo_mode(&o) {
        // The demo's agent speaks as an agent would: what it reads, does and reports.
        term::speak_plainly();
        out(&format!(
            "{session}: a scripted demo agent (no model, no network). Reading my task."
        ));
    } else {
        out(&format!(
            "FAKE_AGENT_START session={session} kind={kind} pid={} pgid={}",
            std::process::id(),
            term::process_group()
        ));
        out(&format!("FAKE_AGENT_ARGV {}", ascii_json(&json!(argv))));
        if !o.flag("quiet_env") {
            out(&format!("FAKE_AGENT_ENV {}", ascii_json(&governance_env())));
        }
        out(&format!("FAKE_AGENT_OPTIONS {}", ascii_json(&o.shown())));
    }

    // Held until exit, so the sleeping child is not reaped early.
    let _child = o.flag("spawn_child").then(spawn_child).flatten();
    if o.float("flood_mb") > 0.0 {
        flood(o.float("flood_mb"));
    }
    if o.float("stream_kib") > 0.0 {
        stream_forever(o.float("stream_kib"));
    }
    match kind.as_str() {
        "zhongshu" => zhongshu(&o),
        "department" => department(&o),
        other => {
            out(&format!("FAKE_AGENT_UNKNOWN_KIND {other}"));
            if o.text("after_report") == Some("wait") {
                wait(&o);
            }
        }
    }
    let code = o.int("exit_code");
    say(&format!("FAKE_AGENT_EXIT {code}"), "Done.");
    std::process::exit(code as i32);
}

/// The CODEX_GOVERNANCE_* variables, the token replaced by its length.
fn governance_env() -> Value {
    let mut vars = serde_json::Map::new();
    vars.insert(format!("{ENV_PREFIX}TOKEN_LEN"), json!(0));
    for (k, v) in std::env::vars() {
        if !k.starts_with(ENV_PREFIX) {
            continue;
        }
        if k == format!("{ENV_PREFIX}TOKEN") {
            vars.insert(format!("{ENV_PREFIX}TOKEN_LEN"), json!(v.chars().count()));
        } else {
            vars.insert(k, json!(v));
        }
    }
    Value::Object(vars)
}

fn wait(o: &Options) {
    say(
        "FAKE_AGENT_WAITING",
        "Waiting. What you type here reaches me.",
    );
    term::echo_stdin_forever(o.text("record_stdin"), o.flag("plain_paste"));
}

/// Whether `--demo` decides what this run does: no directive in the prompt does.
fn demo_mode(o: &Options) -> bool {
    o.flag("demo") && o.directives.is_empty()
}

fn zhongshu(o: &Options) {
    let plan = load_plan(o).map(|p| match p {
        None if demo_mode(o) => demo::plan(&o.prompt()),
        given => given,
    });
    match plan {
        Ok(Some(plan)) => {
            if demo_mode(o) {
                tell_the_plan(&plan);
            }
            post_plan(plan, o.int("plan_retries"))
        }
        Ok(None) => say(
            "FAKE_AGENT_NO_PLAN",
            "My task names no department I could plan for.",
        ),
        Err(e) => out(&format!("FAKE_AGENT_PLAN_ERROR {e}")),
    }
    if o.text("after_plan") == Some("wait") {
        wait(o);
    }
}

/// The demo planner says what it plans, one line per assignment.
fn tell_the_plan(plan: &Value) {
    let assignments = plan["assignments"].as_array().cloned().unwrap_or_default();
    out(&format!(
        "I split the task among {} departments:",
        assignments.len()
    ));
    for a in &assignments {
        let files: Vec<&str> = a["files"]
            .as_array()
            .map(|f| f.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        out(&format!(
            "  - {}: {}",
            a["department"].as_str().unwrap_or("?"),
            files.join(", ")
        ));
    }
}

fn load_plan(o: &Options) -> Result<Option<Value>, String> {
    let text = match (o.text("plan_file"), o.text("plan_json")) {
        (Some(path), _) => std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?,
        (None, Some(json)) => json.to_string(),
        (None, None) => return Ok(None),
    };
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| e.to_string())
}

/// POSTs the plan (with this session's id when it names none). The launcher
/// records a session just after spawning it, so a "no session" answer is
/// retried `retries` times.
fn post_plan(mut plan: Value, retries: i64) {
    let url = env("URL").unwrap_or_default();
    let url = url.trim_end_matches('/');
    if url.is_empty() {
        out("FAKE_AGENT_PLAN_STATUS 0 no CODEX_GOVERNANCE_URL");
        return;
    }
    if let Some(fields) = plan.as_object_mut() {
        let named = fields
            .get("session_id")
            .is_some_and(|s| !s.is_null() && s != "");
        if !named {
            fields.insert(
                "session_id".into(),
                json!(env("SESSION_ID").unwrap_or_default()),
            );
        }
    }
    let body = plan.to_string();
    let token = env("TOKEN").unwrap_or_default();
    let mut attempt = 0;
    loop {
        attempt += 1;
        let (status, text) =
            http::post_json(url, "/api/report_zhongshu_plan", &token, body.as_bytes());
        if status == 404 && attempt <= retries {
            std::thread::sleep(Duration::from_millis(100));
            continue;
        }
        let words = text.split_whitespace().collect::<Vec<_>>().join(" ");
        let plainly = match status {
            200 => "I registered the plan with the launcher; the departments start as slots free."
                .to_string(),
            _ => format!("The launcher did not take my plan ({status}): {words}"),
        };
        say(
            &format!("FAKE_AGENT_PLAN_STATUS {status} {words}"),
            &plainly,
        );
        return;
    }
}

fn department(o: &Options) {
    let dept = env("DEPARTMENT").unwrap_or_else(|| "unknown".into());
    if demo_mode(o) {
        demo_department(o, dept);
        if o.text("after_report") == Some("wait") {
            wait(o);
        }
        return;
    }
    let lines = o.int("lines");
    for i in 1..=lines {
        out(&format!("fake {dept} output line {i}/{lines}"));
    }
    let mut work = o.float("work_seconds");
    if let Some((suffix, seconds)) = o.text("slow_session").and_then(|s| s.split_once('=')) {
        let me = env("SESSION_ID").unwrap_or_default();
        if me.ends_with(suffix) {
            work = seconds.parse().unwrap_or(work);
        }
    }
    if work > 0.0 {
        out(&format!("FAKE_AGENT_WORKING {work:.1}s"));
        std::thread::sleep(Duration::from_secs_f64(work));
    }
    for item in o.list("write") {
        write_work(&item);
    }
    if !o.flag("no_report") {
        let report = Report {
            department_session_id: env("SESSION_ID").unwrap_or_default(),
            summary: o
                .text("summary")
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .unwrap_or_else(|| format!("fake {dept} done")),
            department: dept,
            changed_files: o.list("changed_file"),
            verifications_run: o.list("verification"),
            verifications_skipped: Vec::new(),
            risks: o.list("risk"),
            next_action: o
                .text("next_action")
                .filter(|s| !s.is_empty())
                .unwrap_or("none")
                .to_string(),
            needs_user_confirmation: o.flag("needs_confirmation"),
            parent_session_id: env("PARENT_SESSION_ID").filter(|p| !p.is_empty()),
            report_id: o
                .text("report_id")
                .filter(|s| !s.is_empty())
                .map(str::to_string),
        };
        if o.text("report_via") == Some("cli") {
            report::send_with_cli(o.text("bin").unwrap_or("codex-governance"), &report);
        } else {
            report::write_file(&report);
        }
    }
    if o.text("after_report") == Some("wait") {
        wait(o);
    }
}

/// `--write PATH=TEXT`: the department's work, written in its working folder
/// (`\n` in TEXT becomes a new line, `{session}` its session's id: attempts
/// at one task then differ).
fn write_work(item: &str) {
    let (path, text) = item.split_once('=').unwrap_or((item, ""));
    let text = text.replace("{session}", &env("SESSION_ID").unwrap_or_default());
    let path = std::path::Path::new(path);
    let written = path
        .parent()
        .filter(|folder| !folder.as_os_str().is_empty())
        .map_or(Ok(()), std::fs::create_dir_all)
        .and_then(|()| std::fs::write(path, text.replace("\\n", "\n")));
    let folder = std::env::current_dir().unwrap_or_default();
    match written {
        Ok(()) => out(&format!(
            "FAKE_AGENT_WROTE {} in {}",
            path.display(),
            folder.display()
        )),
        Err(e) => out(&format!("FAKE_AGENT_WRITE_ERROR {}: {e}", path.display())),
    }
}

/// A demo department: a few lines of output, the configured work time, a dated
/// line added to the first file in scope, and a report through the launcher
/// binary the environment names.
fn demo_department(o: &Options, dept: String) {
    let work = demo::work(&o.prompt());
    if let Some(note) = &work.sent_back {
        demo_send_back(o, dept, &work, note);
        return;
    }
    out(&format!("My task: {}", work.task));
    if !work.files.is_empty() {
        out(&format!("Files in my scope: {}", work.files.join(", ")));
    }
    let seconds = o.float("work_seconds");
    if seconds > 0.0 {
        out("Working on it.");
        std::thread::sleep(Duration::from_secs_f64(seconds));
    }
    let mut changed = Vec::new();
    let stamp = chrono::Local::now().format("%Y-%m-%d %H:%M");
    if let Some(file) = work.files.first() {
        let line = format!("- {stamp} {dept}: {}", work.task);
        match demo::add_line(std::path::Path::new("."), file, &line) {
            Ok(()) => {
                say(
                    &format!("FAKE_AGENT_DEMO_CHANGED {file}"),
                    &format!("Added a dated line to {file}."),
                );
                changed.push(file.clone());
            }
            Err(e) => say(
                &format!("FAKE_AGENT_DEMO_ERROR {e}"),
                &format!("I could not change {file}: {e}"),
            ),
        }
    }
    // The README line: reported when README.md is in scope; a department
    // that wanders outside its scope leaves it out of its report.
    let asked = work.task.split(" (the ").next().unwrap_or("").to_string();
    if work.readme {
        let line = format!("{dept} ({stamp}): {asked}");
        match demo::add_readme_line(std::path::Path::new("."), &line) {
            Ok(()) if work.files.iter().any(|f| f == "README.md") => {
                out("Added a line to README.md before its Usage section.");
                changed.push("README.md".into())
            }
            Ok(()) => say(
                "FAKE_AGENT_DEMO_WANDERED README.md",
                "Also added a line to README.md before its Usage section.",
            ),
            Err(e) => say(
                &format!("FAKE_AGENT_DEMO_ERROR {e}"),
                &format!("I could not change README.md: {e}"),
            ),
        }
    }
    let asks = work.asks;
    let summary = match changed.as_slice() {
        [] => format!("Changed nothing (no file in scope) for: {}", work.task),
        files => format!(
            "Added a dated line about \"{asked}\" to {}.",
            files.join(" and ")
        ),
    };
    send_demo_report(o, demo_report(dept, summary, changed, asks));
}

/// A demo department's report: what it changed, no checks run, and its
/// question when it asks one.
fn demo_report(dept: String, summary: String, changed: Vec<String>, asks: bool) -> Report {
    Report {
        department_session_id: env("SESSION_ID").unwrap_or_default(),
        department: dept,
        summary,
        changed_files: changed,
        verifications_run: Vec::new(),
        verifications_skipped: vec!["checks: the demo agent runs none".into()],
        risks: Vec::new(),
        next_action: if asks {
            demo::QUESTION.into()
        } else {
            "none".into()
        },
        needs_user_confirmation: asks,
        parent_session_id: env("PARENT_SESSION_ID").filter(|p| !p.is_empty()),
        report_id: None,
    }
}

/// Sends `report` through the launcher binary the environment names.
fn send_demo_report(o: &Options, report: Report) {
    let bin = env("BIN").unwrap_or_else(|| o.text("bin").unwrap_or("codex-governance").into());
    report::send_with_cli(&bin, &report);
}

/// Starts a copy of this program that sleeps (a grandchild of the launcher,
/// for the tests that check whole trees are stopped).
fn spawn_child() -> Option<std::process::Child> {
    let exe = std::env::current_exe().ok()?;
    match std::process::Command::new(exe)
        .args(["--sleep", "1000"])
        .spawn()
    {
        Ok(child) => {
            out(&format!("CHILD_PID={}", child.id()));
            Some(child)
        }
        Err(e) => {
            out(&format!("FAKE_AGENT_CHILD_ERROR {e}"));
            None
        }
    }
}

/// `mib` MiB of 1 KiB lines, as fast as the terminal takes them.
fn flood(mib: f64) {
    let block = [[b'x'; 1023].as_slice(), b"\n"].concat().repeat(64);
    let total = (mib * 1024.0 * 1024.0) as usize;
    let mut stdout = std::io::stdout().lock();
    let mut written = 0;
    while written < total {
        let n = block.len().min(total - written);
        if stdout.write_all(&block[..n]).is_err() {
            std::process::exit(0);
        }
        written += n;
    }
    let _ = stdout.flush();
    drop(stdout);
    out(&format!("FAKE_AGENT_FLOOD_DONE {written}"));
}

/// `kib` KiB of 128-byte lines every 10 ms, until the process is stopped.
fn stream_forever(kib: f64) -> ! {
    let line = [[b'x'; 127].as_slice(), b"\n"].concat();
    let chunk = line.repeat(((kib * 8.0) as usize).max(1));
    loop {
        let mut stdout = std::io::stdout().lock();
        if stdout
            .write_all(&chunk)
            .and_then(|_| stdout.flush())
            .is_err()
        {
            std::process::exit(0);
        }
        drop(stdout);
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A demo department sent back with a note: it reads the note, takes its
/// README.md line out when the note names README (its notes line stays, as
/// its worktree kept it), and reports its work as it now stands: the notes
/// file it changed (the review compares the worktree with the plan's base).
fn demo_send_back(o: &Options, dept: String, work: &demo::Work, note: &str) {
    out(&format!("Sent back to me with your note: {note:?}"));
    let mut changed: Vec<String> = work.files.first().cloned().into_iter().collect();
    let summary = if note.to_lowercase().contains("readme") {
        match demo::remove_readme_lines(std::path::Path::new("."), &dept) {
            Ok(true) => "Took my line out of README.md as asked; my notes line stays.".to_string(),
            Ok(false) => "README.md had no line of mine; nothing else to change.".to_string(),
            Err(e) => format!("I could not change README.md: {e}"),
        }
    } else {
        if work.readme {
            // Its README line stays, so it stays in the report.
            changed.push("README.md".to_string());
        }
        "Read your note; my change already does what it asks, so I left it as it is.".to_string()
    };
    out(&summary);
    send_demo_report(o, demo_report(dept, summary, changed, false));
}
