//! The web side of issue 23, tried as an attacker would: a plan swapped while the
//! user reviews it, an agent's token reading other groups' sessions, hostile
//! packets (links to the token fragment or another host, a hard link out of the
//! state folder, raw `<`), and sockets held to keep the dashboard out. The drawer
//! and Needs you are tried in headless Chromium.

use crate::common::browser;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::attack::Req;
use super::extra;
use super::support::*;
use super::{healthy, say};
use crate::common::scopes;

/// The dashboard keeps its token here (static/js/api.js).
const TOKEN_KEY: &str = "codex_governance_token";
/// Connections one peer may hold (src/net/peers.rs).
const PER_PEER: usize = 256;

/// Registers a plan for `z` with the developer's token; returns the plan.
async fn register(api: &Api, z: &str, summary: &str, assignments: Value) -> Value {
    let answer = api
        .post_ok(
            "/api/report_zhongshu_plan",
            &json!({"session_id": z, "summary": summary, "needs_confirmation": true,
                    "assignments": assignments}),
        )
        .await;
    answer["plan"].clone()
}

/// A launcher whose plans wait for the user's confirmation.
async fn confirming() -> (TestRepo, InProcess) {
    let repo = TestRepo::new(RepoOptions {
        require_plan_confirmation: true,
        ..Default::default()
    });
    let server = InProcess::start(&repo).await;
    (repo, server)
}

/// One assignment whose department stays alive without reporting.
fn waiting(department: &str, task: &str) -> Value {
    json!({"department": department,
           "task": format!("{task} [[fake-agent: --no-report --after-report wait]]")})
}

fn ids(list: &Value) -> BTreeSet<String> {
    list.as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s["id"].as_str().map(str::to_string))
        .collect()
}

// ---------------------------------------------------------------------------
// Item 4: the plan the user confirmed is the plan that starts

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_registered_again_while_the_user_reviews_it_is_not_started() {
    let (repo, server) = confirming().await;
    let api = &server.api;
    let z = api.start_zhongshu("plan twice").await;
    let p1 = register(api, &z, "P1", json!([waiting("zhilibu", "P1 docs")])).await;
    assert_eq!(p1["revision"], json!(1), "{p1}");
    // The user reviews P1; meanwhile the Zhongshu registers P2.
    let p2 = register(api, &z, "P2", json!([waiting("lingyubu", "P2 code")])).await;
    assert_eq!(p2["revision"], json!(2), "{p2}");
    let (status, answer) = api
        .post(
            "/api/start_assignments",
            &json!({"parent_session_id": z, "revision": 1}),
        )
        .await;
    say(
        "start_assignments with revision 1 after P2 was registered",
        format!("{status} {}", answer["error"]),
    );
    assert_eq!(status, 409, "{answer}");
    assert!(
        answer["error"]
            .as_str()
            .unwrap_or("")
            .contains("changed since you saw it"),
        "{answer}"
    );
    let st = api.status().await;
    assert_eq!(
        departments(&st),
        Vec::<Value>::new(),
        "nothing started: {st}"
    );
    assert_eq!(st["queue"], json!([]), "{st}");
    let plan = api.get_ok(&format!("/api/zhongshu_plan?id={z}")).await;
    assert_eq!(plan["plan"]["status"], json!("awaiting_confirmation"));
    assert_eq!(plan["plan"]["summary"], json!("P2"));

    // Confirming what is there now starts P2's department, and says which revision.
    let started = api
        .post_ok(
            "/api/start_assignments",
            &json!({"parent_session_id": z, "revision": 2}),
        )
        .await;
    assert_eq!(started["plan"]["revision"], json!(2), "{started}");
    let st = api
        .wait_status("P2's department", |s| !departments(s).is_empty())
        .await;
    let started_departments: Vec<Value> = departments(&st)
        .iter()
        .map(|d| d["department"].clone())
        .collect();
    assert_eq!(started_departments, [json!("lingyubu")], "{st}");
    let confirmed = extra::audit_lines(&repo.state_dir());
    let confirmed = extra::audit_events(&confirmed, "plan_confirmed");
    assert_eq!(confirmed.len(), 1, "{confirmed:?}");
    assert_eq!(confirmed[0]["revision"], json!(2), "{confirmed:?}");

    // A Python-era script sends no revision: it confirms what is there.
    let p3 = register(api, &z, "P3", json!([waiting("zhilibu", "P3 docs")])).await;
    assert_eq!(p3["revision"], json!(3), "{p3}");
    let legacy = api
        .post_ok("/api/start_assignments", &json!({"parent_session_id": z}))
        .await;
    assert_eq!(legacy["plan"]["summary"], json!("P3"), "{legacy}");
    say(
        "revision 2, then P3 without a revision",
        "P2's lingyubu started; P3 confirmed as a Python-era script would",
    );
    server.stop().await;
}

// ---------------------------------------------------------------------------
// Item 6: an agent's status is its own group's, without transcripts

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agents_status_shows_only_its_own_group_without_transcripts() {
    let (_repo, server) = serve(&[]).await;
    let api = &server.api;
    let z1 = api.start_zhongshu("group one").await;
    let z2 = api.start_zhongshu("group two").await;
    let d1 = scopes::waiting_department(&server, &z1, "lingyubu").await;
    let d2 = scopes::waiting_department(&server, &z2, "zhilibu").await;
    // Both slots are taken: z2's plan's assignment waits in its queue (a
    // start by hand would be refused, as in the Python tool).
    let queued = api
        .post_ok(
            "/api/report_zhongshu_plan",
            &json!({"session_id": z2, "summary": "later",
                    "assignments": [{"department": "gongchengbu", "task": "later"}]}),
        )
        .await;
    assert_eq!(
        queued["plan"]["auto_dispatch"]["queued_count"],
        json!(1),
        "{queued}"
    );
    api.post_ok(
        "/api/session_input",
        &json!({"session_id": d1, "input": "a secret typed into d1"}),
    )
    .await;
    // The developer sees everything, transcripts included.
    let everything = api
        .wait_status("d1's transcript and typed input", |s| {
            s["sessions"].as_array().unwrap().iter().any(|x| {
                x["id"] == json!(d1)
                    && !x["transcript_preview"].as_str().unwrap_or("").is_empty()
                    && !x["input_history"].as_array().unwrap().is_empty()
            })
        })
        .await;
    let all: BTreeSet<String> = [&z1, &z2, &d1, &d2].into_iter().cloned().collect();
    assert_eq!(ids(&everything["sessions"]), all);
    assert_eq!(everything["queue"].as_array().unwrap().len(), 1);

    let (_, d1_api) = scopes::agent_api(&server, &d1).await;
    let (_, z1_api) = scopes::agent_api(&server, &z1).await;
    let (_, z2_api) = scopes::agent_api(&server, &z2).await;
    for (who, agent, group) in [
        ("department d1", &d1_api, [&z1, &d1]),
        ("Zhongshu z1", &z1_api, [&z1, &d1]),
        ("Zhongshu z2", &z2_api, [&z2, &d2]),
    ] {
        // Only z2's group has a queued item.
        let queued_for = if group[0] == &z2 {
            vec![json!(z2)]
        } else {
            vec![]
        };
        for path in ["/api/status", "/api/sessions"] {
            let v = agent.get_ok(path).await;
            assert_only_its_group(&format!("{who} {path}"), &v, group, &queued_for);
        }
        say(
            &format!("{who}'s token: GET /api/status and /api/sessions"),
            "its own group only; no transcript, typed input or terminal URL",
        );
    }
    server.stop().await;
}

/// `v` (a status as an agent reads it) shows the sessions of `group` (its
/// Zhongshu and department) and the queue items of `queued_for`, without a
/// transcript, typed input or terminal URL.
fn assert_only_its_group(who: &str, v: &Value, group: [&String; 2], queued_for: &[Value]) {
    let own: BTreeSet<String> = group.into_iter().cloned().collect();
    assert_eq!(ids(&v["sessions"]), own, "{who}: {v}");
    let z_ids = ids(&v["zhongshu_sessions"]);
    let d_ids = ids(&v["department_sessions"]);
    assert!(z_ids.len() == 1 && d_ids.len() == 1, "{who}: {v}");
    for s in v["sessions"].as_array().unwrap() {
        assert!(s.get("transcript_preview").is_none(), "{who}: {s}");
        assert_eq!(s["input_history"], json!([]), "{who}: {s}");
        assert!(s.get("browser_terminal_url").is_none(), "{who}: {s}");
    }
    let queue_parents: Vec<Value> = v["queue"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["parent_session_id"].clone())
        .collect();
    assert_eq!(queue_parents, queued_for, "{who}: {v}");
    assert!(v.get("browser_terminals").is_none(), "{who}: {v}");
}

// ---------------------------------------------------------------------------
// Item 8: packets

/// A registered result of a department of a fresh Zhongshu, reported with `summary`.
async fn reported(api: &Api, summary: &str) -> Value {
    let z = api.start_zhongshu("wait for a packet").await;
    let task = format!(
        "Write the docs [[fake-agent: --report-via cli --summary '{summary}' \
         --changed-file README.md]]"
    );
    let d = extra::start_department(api, &z, "zhilibu", &task).await;
    extra::wait_result(api, &z, "the report", |r| {
        r["department_session_id"] == json!(d)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_text_in_a_packet_has_lt_and_amp_escaped() {
    let (_repo, server) = serve(&[]).await;
    let api = &server.api;
    let r = reported(api, "<img src=x onerror=alert(1)> & <b>done</b>").await;
    let packet = std::fs::read_to_string(r["handoff_packet"].as_str().unwrap()).unwrap();
    say(
        "a summary with <img ...>, & and <b>",
        format!(
            "packet line {:?}",
            packet
                .lines()
                .find(|l| l.contains("onerror") && !l.contains("fake-agent"))
                .unwrap_or("")
        ),
    );
    assert!(!packet.contains('<'), "a raw < in the packet: {packet}");
    assert!(
        packet.contains("&lt;img src=x onerror=alert(1)> &amp; &lt;b>done&lt;/b>"),
        "{packet}"
    );
    // The drawer shows the text as it was sent, as text.
    let h = api
        .get_ok(&format!("/api/handoff?{}", extra::naming(&r)))
        .await;
    let html = h["html"].as_str().unwrap();
    assert!(
        html.contains("&lt;img src=x onerror=alert(1)&gt; &amp; &lt;b&gt;done&lt;/b&gt;"),
        "{html}"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn packet_links_to_another_host_or_the_token_fragment_go_nowhere() {
    let (_repo, server) = serve(&[]).await;
    let api = &server.api;
    let r = reported(api, "links").await;
    // An agent can write in the archive: it rewrites its packet.
    let zeros = "0".repeat(64);
    std::fs::write(
        r["handoff_packet"].as_str().unwrap(),
        format!(
            "# Packet\n\n[steal](#token={zeros}) [away](//evil.example/x) \
             [back](/\\evil.example) [deep](./x.md#token={zeros}) \
             [fine](https://example.com/docs) [rel](docs/guide.md) [mail](mailto:a@example.com)\n"
        ),
    )
    .unwrap();
    let h = api
        .get_ok(&format!("/api/handoff?{}", extra::naming(&r)))
        .await;
    let html = h["html"].as_str().unwrap();
    say(
        "a packet rewritten with token and //host links",
        html.trim().replace('\n', " "),
    );
    for name in ["steal", "away", "back", "deep"] {
        assert!(
            html.contains(&format!("<a href=\"#\">{name}</a>")),
            "{name}: {html}"
        );
    }
    for kept in [
        "https://example.com/docs",
        "docs/guide.md",
        "mailto:a@example.com",
    ] {
        assert!(html.contains(&format!("href=\"{kept}\"")), "{kept}: {html}");
    }
    assert!(
        !html.contains("href=\"//") && !html.contains("href=\"/\\"),
        "{html}"
    );
    assert!(!html.contains(&zeros), "{html}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_packet_or_report_hard_linked_to_a_file_outside_is_refused() {
    let (repo, server) = serve(&[]).await;
    let api = &server.api;
    let r = reported(api, "hard links").await;
    let secret = repo.files.join("secret.txt");
    std::fs::write(&secret, "SECRET-OUTSIDE-THE-STATE-FOLDER").unwrap();
    for (field, route) in [
        ("handoff_packet", "/api/handoff"),
        ("mailbox_file", "/api/result_raw"),
    ] {
        let inside = r[field].as_str().unwrap_or_else(|| panic!("{field}: {r}"));
        std::fs::remove_file(inside).unwrap();
        std::fs::hard_link(&secret, inside).unwrap();
        let (status, answer) = api.get(&format!("{route}?{}", extra::naming(&r))).await;
        say(
            &format!("{field} replaced by a hard link to a file outside, {route}"),
            format!("{status} {}", answer["error"]),
        );
        assert_eq!(status, 400, "{answer}");
        assert!(
            answer["error"].as_str().unwrap().contains("hard link"),
            "{answer}"
        );
        assert!(!answer.to_string().contains("SECRET-OUTSIDE"), "{answer}");
        // Put a plain copy back, so the next route is judged on its own file.
        std::fs::remove_file(inside).unwrap();
        std::fs::write(inside, "# restored\n").unwrap();
    }
    server.stop().await;
}

/// The token the page holds in sessionStorage.
async fn page_token(d: &browser::Browser) -> Value {
    d.js(
        "return sessionStorage.getItem(arguments[0]);",
        vec![json!(TOKEN_KEY)],
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_link_in_the_drawer_or_the_page_cannot_replace_the_token() {
    crate::needs!(Chromium);
    let (_repo, server) = serve(&[]).await;
    let api = &server.api;
    let r = reported(api, "drawer").await;
    let zeros = "0".repeat(64);
    std::fs::write(
        r["handoff_packet"].as_str().unwrap(),
        format!("# Packet\n\n[steal the token](#token={zeros})\n"),
    )
    .unwrap();
    let d = browser::Browser::start(1280, 900)
        .await
        .with_failure_artifact("attack-web-drawer-failure.png");
    d.goto(&format!("{}/#token={}", server.url, server.token))
        .await;
    let wait = Duration::from_secs(45);
    d.wait_js(
        "the live indicator",
        "return !!document.querySelector('#conn.live');",
        vec![],
        wait,
    )
    .await;
    assert_eq!(page_token(&d).await, json!(server.token), "first load");
    click_the_token_link_in_the_drawer(&d, wait).await;
    // Any link inside the page, too (one the server would not have cleaned).
    let ones = "1".repeat(64);
    d.js(
        "const a = document.createElement('a'); a.id = 'planted'; a.href = '#token=' + arguments[0]; a.textContent = 'x'; document.body.append(a); a.click();",
        vec![json!(ones)],
    )
    .await;
    // The hashchange has been handled once the address no longer shows it.
    d.wait_js(
        "the planted fragment to be cleared",
        "return location.hash === '' ? true : null;",
        vec![],
        wait,
    )
    .await;
    let kept = page_token(&d).await;
    say(
        "clicking [x](#token=000…) in the drawer, then a planted #token=111… link",
        format!(
            "stored token {}",
            if kept == json!(server.token) {
                "unchanged"
            } else {
                "REPLACED"
            }
        ),
    );
    assert_eq!(kept, json!(server.token), "the token was replaced");
    // And the page still works with it.
    let status = d
        .js(
            "return fetch('/api/status', {headers: {Authorization: 'Bearer ' + sessionStorage.getItem(arguments[0])}}).then(r => r.status);",
            vec![json!(TOKEN_KEY)],
        )
        .await;
    assert_eq!(status, json!(200));
    d.quit().await;
    server.stop().await;
}

/// Opens zhilibu's result in the drawer and clicks the packet's
/// "steal the token" link.
async fn click_the_token_link_in_the_drawer(d: &browser::Browser, wait: Duration) {
    let open = ".inbox-result[data-department=\"zhilibu\"] button.open-handoff";
    d.wait_js(
        "the result's Open button",
        "return !!document.querySelector(arguments[0]);",
        vec![json!(open)],
        wait,
    )
    .await;
    d.click(open).await;
    d.wait_js(
        "the packet's link in the drawer",
        "return [...document.querySelectorAll('.drawer-markdown a')].find(a => a.textContent === 'steal the token') ? true : null;",
        vec![],
        wait,
    )
    .await;
    d.js(
        "[...document.querySelectorAll('.drawer-markdown a')].find(a => a.textContent === 'steal the token').click();",
        vec![],
    )
    .await;
}

/// Waits until Needs you shows revision `revision` of the plan in `item`, with
/// `task` in it; returns the item's text.
async fn shows(d: &browser::Browser, item: &str, revision: u64, task: &str) -> Value {
    d.wait_js(
        &format!("Needs you showing revision {revision} ({task})"),
        "const e = document.querySelector(arguments[0]); \
         return e && e.dataset.revision === arguments[1] && e.textContent.includes(arguments[2]) ? e.textContent : null;",
        vec![json!(item), json!(revision.to_string()), json!(task)],
        Duration::from_secs(45),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn needs_you_shows_the_new_plan_and_never_starts_one_it_did_not_show() {
    crate::needs!(Chromium);
    let (_repo, server) = confirming().await;
    let api = &server.api;
    let z = api.start_zhongshu("plan, then plan again").await;
    let d = browser::Browser::start(1280, 900)
        .await
        .with_failure_artifact("attack-web-needs-you-failure.png");
    d.goto(&format!("{}/#token={}", server.url, server.token))
        .await;
    let item = format!("#needs-you-list .need[data-kind=\"plan\"][data-session=\"{z}\"]");
    register(api, &z, "P1", json!([waiting("zhilibu", "P1 docs")])).await;
    shows(&d, &item, 1, "P1 docs").await;
    register(api, &z, "P2", json!([waiting("lingyubu", "P2 code")])).await;
    let text = shows(&d, &item, 2, "P2 code").await;
    let text = text.as_str().unwrap();
    assert!(!text.contains("P1 docs"), "{text}");
    assert!(text.contains("changed"), "the change is said: {text}");

    // The Zhongshu registers P3 between what the page shows and the click.
    let p3 = json!({"session_id": z, "summary": "P3", "needs_confirmation": true,
                    "assignments": [waiting("gongchengbu", "P3 build")]});
    d.js(
        "const [token, p3] = arguments; const real = window.fetch; let raced = false; \
         window.fetch = async function (url, opts) { \
           if (!raced && String(url).includes('/api/start_assignments')) { raced = true; \
             await real('/api/report_zhongshu_plan', {method: 'POST', body: JSON.stringify(p3), \
               headers: {'Content-Type': 'application/json', Authorization: 'Bearer ' + token}}); } \
           return real.apply(this, arguments); };",
        vec![json!(server.token), p3],
    )
    .await;
    // The plan is shown first (a dialog with revision 2); Start there.
    d.click(&format!("{item} button[data-action=\"start-plan\"]"))
        .await;
    d.click("#plan-dialog[open] button[data-action=\"start-reviewed\"]")
        .await;
    let toast = d
        .wait_js(
            "the refusal",
            "const t = [...document.querySelectorAll('.toast-error')].find(t => t.textContent.includes('changed since you saw it')); return t ? t.textContent : null;",
            vec![],
            Duration::from_secs(45),
        )
        .await;
    shows(&d, &item, 3, "P3 build").await;
    let st = api.status().await;
    say(
        "Start the plan on revision 2 while P3 was registered",
        format!("{toast}; departments started: {}", departments(&st).len()),
    );
    assert_eq!(
        departments(&st),
        Vec::<Value>::new(),
        "nothing started: {st}"
    );

    // Started from what it shows now: P3's department.
    d.click(&format!("{item} button[data-action=\"start-plan\"]"))
        .await;
    d.click("#plan-dialog[open] button[data-action=\"start-reviewed\"]")
        .await;
    let st = api
        .wait_status("P3's department", |s| !departments(s).is_empty())
        .await;
    let started: Vec<Value> = departments(&st)
        .iter()
        .map(|x| x["department"].clone())
        .collect();
    assert_eq!(started, [json!("gongchengbu")], "{st}");
    d.quit().await;
    server.stop().await;
}

// ---------------------------------------------------------------------------
// Item 9: HTTP limits

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_heads_over_16_kib_are_431() {
    let (_repo, server) = serve(&[]).await;
    for (kib, expected) in [(15, 200), (20, 431), (100, 431)] {
        // The whole head is a little over the header's own size.
        let r = Req::new("GET", "/healthz", Some(server.host()))
            .header("X-Pad", "a".repeat(kib * 1024 - 200))
            .send(server.addr)
            .await;
        say(&format!("GET /healthz with a {kib} KiB head"), r.status);
        assert_eq!(r.status, expected, "{kib} KiB: {}", r.body);
    }
    server.stop().await;
}

/// Reads until the server closes (Ok(0) or an error); sets `closed`.
async fn until_closed(mut rd: tokio::net::tcp::OwnedReadHalf, closed: Arc<AtomicBool>) {
    let mut buf = [0u8; 1024];
    loop {
        match rd.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
    }
    closed.store(true, Ordering::SeqCst);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_that_sends_nothing_is_closed_before_a_slow_one() {
    let (_repo, server) = serve(&[]).await;
    // A slow client: one byte of a request head every second (the head timeout cuts it).
    let slow = TcpStream::connect(server.addr).await.unwrap();
    let (rd, mut wr) = slow.into_split();
    let slow_closed = Arc::new(AtomicBool::new(false));
    tokio::spawn(until_closed(rd, Arc::clone(&slow_closed)));
    let head = format!(
        "GET /healthz HTTP/1.1\r\nHost: {}\r\nX-Slow: ",
        server.host()
    );
    let (sent_tx, mut sent_rx) = tokio::sync::watch::channel(0usize);
    tokio::spawn(async move {
        let mut bytes = head.into_bytes().into_iter().chain(std::iter::repeat(b'a'));
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        for n in 1.. {
            tick.tick().await;
            if wr.write_all(&[bytes.next().unwrap()]).await.is_err() {
                return;
            }
            let _ = sent_tx.send(n);
        }
    });
    // The silent one connects after the slow one's second byte.
    let _ = sent_rx.wait_for(|n| *n >= 2).await;
    let silent = TcpStream::connect(server.addr).await.unwrap();
    let (rd, _wr) = silent.into_split();
    let silent_closed = Arc::new(AtomicBool::new(false));
    let watcher = tokio::spawn(until_closed(rd, Arc::clone(&silent_closed)));
    tokio::time::timeout(Duration::from_secs(90), watcher)
        .await
        .expect("the silent connection is closed")
        .unwrap();
    let slow_cut_first = slow_closed.load(Ordering::SeqCst);
    say(
        "a silent connection opened after a slowloris one",
        if slow_cut_first {
            "closed only after the slow one was cut (same head timeout)"
        } else {
            "closed while the slow one was still open (silent ones go sooner)"
        },
    );
    assert!(
        !slow_cut_first,
        "the silent connection lasted as long as a slow request head"
    );
    assert_eq!(healthy(&server).await, 200);
    server.stop().await;
}

/// One token-bearing `GET /api/status` on a new connection: its status, or
/// None when the connection was reset or closed without an answer.
async fn status_call(server: &InProcess) -> Option<u16> {
    let mut s = TcpStream::connect(server.addr).await.ok()?;
    let req = format!(
        "GET /api/status HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\nConnection: close\r\n\r\n",
        server.host(),
        server.token
    );
    s.write_all(req.as_bytes()).await.ok()?;
    let mut buf = Vec::new();
    let read = tokio::time::timeout(PATIENCE, s.read_to_end(&mut buf)).await;
    if !matches!(read, Ok(Ok(_))) {
        return None;
    }
    let text = String::from_utf8_lossy(&buf);
    text.split_whitespace().nth(1)?.parse().ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_bearing_request_gets_through_a_flood_of_half_sent_heads() {
    more_open_files();
    let (_repo, server) = serve(&[]).await;
    const FLOOD: usize = 1100;
    // Before the fix 34 of 174 calls were reset (one in five): 64 calls all
    // answered by chance has odds under 1 in 1,000,000, at a third of the
    // time (the flood costs both cores while it lasts).
    const CALLS: usize = 64;
    let addr = server.addr;
    let half = format!(
        "GET /healthz HTTP/1.1\r\nHost: {}\r\nX-Slow: ",
        server.host()
    );
    let (done_tx, done_rx) = tokio::sync::watch::channel(false);
    let connects = Arc::new(AtomicUsize::new(0));
    let mut flood = Vec::new();
    // Each flooder holds a half-sent head without a token, and connects
    // again as soon as it is closed, until the calls are done.
    for _ in 0..FLOOD {
        let (half, mut done, connects) = (half.clone(), done_rx.clone(), Arc::clone(&connects));
        flood.push(tokio::spawn(async move {
            while !*done.borrow() {
                let Ok(mut s) = TcpStream::connect(addr).await else {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                };
                connects.fetch_add(1, Ordering::Relaxed);
                let _ = s.write_all(half.as_bytes()).await;
                let mut buf = [0u8; 256];
                tokio::select! {
                    _ = s.read(&mut buf) => {}
                    _ = done.changed() => return,
                }
            }
        }));
    }
    wait_until("the flood under way", PATIENCE, || {
        let connects = Arc::clone(&connects);
        async move { (connects.load(Ordering::Relaxed) >= FLOOD).then_some(()) }
    })
    .await;
    let mut answered = 0;
    let mut lost = Vec::new();
    for n in 0..CALLS {
        match status_call(&server).await {
            Some(200) => answered += 1,
            other => lost.push((n, other)),
        }
    }
    let during = connects.load(Ordering::Relaxed);
    let _ = done_tx.send(true);
    for f in flood {
        let _ = f.await;
    }
    say(
        &format!(
            "{FLOOD} tokenless half-sent heads, connecting again when closed ({during} connects)"
        ),
        format!("{answered} of {CALLS} token-bearing GET /api/status answered 200; lost: {lost:?}"),
    );
    assert_eq!(answered, CALLS, "lost: {lost:?}");
    assert_eq!(healthy(&server).await, 200);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn held_sockets_cannot_keep_the_dashboard_out() {
    more_open_files();
    let (_repo, server) = serve(&[]).await;
    const HELD: usize = 1100;
    let addr = server.addr;
    let ping = format!("GET /healthz HTTP/1.1\r\nHost: {}\r\n\r\n", server.host());
    let open = Arc::new(AtomicUsize::new(0));
    let (done_tx, done_rx) = tokio::sync::watch::channel(false);
    let mut holders = Vec::new();
    // Each holder keeps its connection alive with a request every 4 s, well
    // inside the 10 s head timeout, and never presents a token.
    for _ in 0..HELD {
        let mut s = TcpStream::connect(addr).await.expect("connect");
        s.write_all(ping.as_bytes()).await.expect("first ping");
        open.fetch_add(1, Ordering::SeqCst);
        let (open, ping, mut done) = (Arc::clone(&open), ping.clone(), done_rx.clone());
        holders.push(tokio::spawn(async move {
            let mut buf = [0u8; 2048];
            'held: loop {
                let next = tokio::time::sleep(Duration::from_secs(4));
                tokio::pin!(next);
                loop {
                    tokio::select! {
                        r = s.read(&mut buf) => match r {
                            Ok(0) | Err(_) => break 'held,
                            Ok(_) => {}
                        },
                        _ = &mut next => break,
                        _ = done.changed() => return,
                    }
                }
                if s.write_all(ping.as_bytes()).await.is_err() {
                    break;
                }
            }
            open.fetch_sub(1, Ordering::SeqCst);
        }));
    }
    let r = Req::new("GET", "/api/status", Some(server.host()))
        .bearer(&server.token)
        .send(addr)
        .await;
    assert_eq!(r.status, 200, "the dashboard's request: {r:?}");
    let held = wait_until(
        "the server to keep at most its per-peer cap",
        PATIENCE,
        || {
            let open = Arc::clone(&open);
            async move {
                let n = open.load(Ordering::SeqCst);
                (n <= PER_PEER).then_some(n)
            }
        },
    )
    .await;
    say(
        &format!("{HELD} kept-alive sockets without a token from one peer"),
        format!("the dashboard's GET /api/status answered 200; {held} of them still held"),
    );
    let _ = done_tx.send(true);
    for h in holders {
        let _ = h.await;
    }
    assert_eq!(healthy(&server).await, 200);
    server.stop().await;
}
