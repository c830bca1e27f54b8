//! Headless Chromium for tests: starts `chromedriver` on a free port and speaks
//! the W3C WebDriver protocol to it over plain HTTP.
//!
//! fantoccini 0.22 without its TLS features has no public HTTP connector (it wants
//! a `hyper_util` connector, which is not among our dependencies), so this helper
//! talks WebDriver itself with reqwest; the protocol subset it needs is small.
//! A test asks for Chromium first (`needs!(Chromium)`, see `tier`); reached
//! without it, a missing Chromium or chromedriver is a failure here.
//!
//! Beside the protocol it holds the page queries every browser test uses
//! (present, gone, text, counts), a default patience ([`WAIT`]), waits for a
//! page that is still (layout and animations settled) before a screenshot, and
//! the wait for the dashboard to have applied an audit seq, which a negative
//! assertion needs first. The steps built on them (themes, injected status,
//! widths) are in `page`.
//!
#![allow(dead_code)]

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use base64::Engine as _;
use serde_json::{json, Value};

pub const CHROMEDRIVER: &str = "chromedriver";
/// The key WebDriver sends for Enter.
pub const ENTER: &str = "\u{E007}";
/// The key WebDriver sends for Escape.
pub const ESCAPE: &str = "\u{E00C}";
/// The key WebDriver sends for Control (hold it with [`Browser::press_chord`]).
pub const CONTROL: &str = "\u{E009}";
/// All lines of the xterm.js buffer of the terminal page (run inside its frame).
pub const BUFFER_TEXT: &str = r#"
    const t = window.__term;
    if (!t) return "";
    const b = t.buffer.active, lines = [];
    for (let i = 0; i < b.length; i++) lines.push(b.getLine(i).translateToString(true));
    return lines.join("\n");
"#;
/// How long a page-level wait may take: generous, it only keeps a broken test
/// from hanging (nothing asserts on time).
pub const WAIT: Duration = Duration::from_secs(45);
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";
const INSTALL_HINT: &str = "run tools/test.sh (it installs chromium and chromium-driver)";

/// Writes `png` to `tests/artifacts/<name>`.
pub fn save_artifact(name: &str, png: &[u8]) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/artifacts");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(name), png).unwrap();
}

/// A Chromium session driven through chromedriver. Call [`Browser::quit`] at
/// the end; dropping it kills chromedriver (and with it the browser) anyway.
pub struct Browser {
    http: reqwest::Client,
    base: String,
    session: String,
    child: Child,
    /// Where [`Browser::wait_js`] saves a screenshot when it times out.
    failure_artifact: String,
    _profile: tempfile::TempDir,
}

/// An element reference returned by [`Browser::find`].
#[derive(Debug, Clone)]
pub struct Element(pub String);

impl Element {
    fn reference(&self) -> Value {
        json!({ ELEMENT_KEY: self.0 })
    }
}

/// A loopback port nobody listens on at the moment (for chromedriver, or a
/// launcher that must come back on the same port).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl Browser {
    /// Starts chromedriver and a headless Chromium with a fresh profile and a
    /// `width` × `height` window.
    pub async fn start(width: u32, height: u32) -> Browser {
        let chromium = super::tier::chromium();
        assert!(
            chromium.exists(),
            "{} is missing (a browser test starts with `needs!(Chromium)`): {INSTALL_HINT}",
            chromium.display()
        );
        let port = free_port();
        let mut command = Command::new(CHROMEDRIVER);
        // Its own process group, which Chromium joins: dropping the browser
        // ends them all (killing chromedriver alone left Chromium running).
        #[cfg(unix)]
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let child = command
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {CHROMEDRIVER} ({e}): {INSTALL_HINT}"));
        let profile = tempfile::tempdir().expect("a profile folder");
        let mut b = Browser {
            http: reqwest::Client::builder().no_proxy().build().unwrap(),
            base: format!("http://127.0.0.1:{port}"),
            session: String::new(),
            child,
            failure_artifact: "browser-failure.png".into(),
            _profile: profile,
        };
        b.wait_ready().await;
        let args = vec![
            "--headless=new".to_string(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--disable-dev-shm-usage".into(),
            "--no-first-run".into(),
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--disable-sync".into(),
            "--hide-scrollbars".into(),
            "--force-device-scale-factor=1".into(),
            format!("--window-size={width},{height}"),
            format!("--user-data-dir={}", b._profile.path().display()),
        ];
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            // An alert must stay open so a test can see it fired.
            "unhandledPromptBehavior": "ignore",
            "goog:chromeOptions": {"binary": chromium, "args": args},
        }}});
        let created = b.call("POST", "/session", Some(caps)).await;
        b.session = created["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session id in {created}"))
            .to_string();
        // Headless Chromium keeps a window at least 500 px wide whatever
        // --window-size says; a phone's 390 px is set (and waited for) here.
        b.resize(width, height).await;
        b
    }

    /// Names the screenshot [`Browser::wait_js`] saves in `tests/artifacts/`
    /// when it times out (default `browser-failure.png`).
    pub fn with_failure_artifact(mut self, name: &str) -> Browser {
        self.failure_artifact = name.to_string();
        self
    }

    async fn wait_ready(&mut self) {
        for _ in 0..300 {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("{CHROMEDRIVER} exited at start ({status}): {INSTALL_HINT}");
            }
            if let Ok(r) = self.http.get(format!("{}/status", self.base)).send().await {
                if let Ok(v) = r.json::<Value>().await {
                    if v["value"]["ready"] == true {
                        return;
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("{CHROMEDRIVER} did not become ready within 30 s");
    }

    /// One command: Ok(value) or Err((HTTP status, value)).
    pub async fn try_call(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, (u16, Value)> {
        let url = format!("{}{path}", self.base);
        let req = match method {
            "GET" => self.http.get(url),
            "DELETE" => self.http.delete(url),
            _ => self.http.post(url).json(&body.unwrap_or_else(|| json!({}))),
        };
        let resp = req
            .send()
            .await
            .unwrap_or_else(|e| panic!("WebDriver {method} {path}: {e}"));
        let status = resp.status().as_u16();
        let v: Value = resp.json().await.unwrap_or(Value::Null);
        if (200..300).contains(&status) {
            Ok(v["value"].clone())
        } else {
            Err((status, v["value"].clone()))
        }
    }

    /// One command; returns its `value`, panics on a WebDriver error.
    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        match self.try_call(method, path, body).await {
            Ok(v) => v,
            Err((status, v)) => panic!("WebDriver {method} {path} failed ({status}): {v}"),
        }
    }

    fn at(&self, path: &str) -> String {
        format!("/session/{}{path}", self.session)
    }

    pub async fn goto(&self, url: &str) {
        self.call("POST", &self.at("/url"), Some(json!({ "url": url })))
            .await;
    }

    /// Runs `script` (a function body; `arguments` holds `args`) and returns its result.
    pub async fn js(&self, script: &str, args: Vec<Value>) -> Value {
        let body = json!({"script": script, "args": args});
        self.call("POST", &self.at("/execute/sync"), Some(body))
            .await
    }

    /// Polls `script` until it returns something truthy (not null/false/""/0).
    /// On timeout, saves a screenshot (see [`Browser::with_failure_artifact`])
    /// and panics with the page's text.
    pub async fn wait_js(
        &self,
        what: &str,
        script: &str,
        args: Vec<Value>,
        timeout: Duration,
    ) -> Value {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let v = self.js(script, args.clone()).await;
            let truthy =
                !matches!(&v, Value::Null | Value::Bool(false)) && v != json!("") && v != json!(0);
            if truthy {
                return v;
            }
            if tokio::time::Instant::now() >= deadline {
                let page = self
                    .js(
                        "return document.body ? document.body.innerText.slice(0, 4000) : ''",
                        vec![],
                    )
                    .await;
                if let Ok(png) = self.screenshot_png().await {
                    save_artifact(&self.failure_artifact, &png);
                }
                panic!(
                    "timed out waiting for {what} (last value {v}); page text:\n{}",
                    page.as_str().unwrap_or("")
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Opens the dashboard of the launcher at `url` the way its printed URL
    /// does (the token in the fragment) and waits until its event stream is live.
    pub async fn open_dashboard(&self, url: &str, token: &str) {
        self.goto(&format!("{url}/#token={token}")).await;
        self.present("the live indicator", "#conn.live").await;
    }

    /// [`Browser::wait_js`] with the default patience, [`WAIT`].
    pub async fn wait(&self, what: &str, script: &str, args: Vec<Value>) -> Value {
        self.wait_js(what, script, args, WAIT).await
    }

    /// Waits until an element matches `css`.
    pub async fn present(&self, what: &str, css: &str) {
        self.wait(
            what,
            "return !!document.querySelector(arguments[0]);",
            vec![json!(css)],
        )
        .await;
    }

    /// Waits until no element matches `css`.
    pub async fn gone(&self, what: &str, css: &str) {
        self.wait(
            what,
            "return !document.querySelector(arguments[0]);",
            vec![json!(css)],
        )
        .await;
    }

    /// Waits until exactly `n` elements match `css`.
    pub async fn wait_count(&self, what: &str, css: &str, n: u64) {
        self.wait(
            what,
            "return document.querySelectorAll(arguments[0]).length === arguments[1];",
            vec![json!(css), json!(n)],
        )
        .await;
    }

    /// Waits until the first element matching `css` holds `needle` in its
    /// text; returns that text.
    pub async fn wait_text(&self, what: &str, css: &str, needle: &str) -> String {
        self.wait(
            what,
            "const e = document.querySelector(arguments[0]); return e && e.textContent.includes(arguments[1]) ? e.textContent : null;",
            vec![json!(css), json!(needle)],
        )
        .await
        .as_str()
        .unwrap_or("")
        .to_string()
    }

    /// The text of the first element matching `css` ("" when there is none).
    pub async fn text_of(&self, css: &str) -> String {
        self.js(
            "const e = document.querySelector(arguments[0]); return e ? e.textContent : '';",
            vec![json!(css)],
        )
        .await
        .as_str()
        .unwrap_or("")
        .to_string()
    }

    /// How many elements match `css`.
    pub async fn count(&self, css: &str) -> u64 {
        self.js(
            "return document.querySelectorAll(arguments[0]).length;",
            vec![json!(css)],
        )
        .await
        .as_u64()
        .unwrap_or(0)
    }

    /// Whether the first element matching `css` is `hidden` (the script
    /// fails, and with it the test, when there is none).
    pub async fn hidden(&self, css: &str) -> bool {
        self.js(
            "return document.querySelector(arguments[0]).hidden;",
            vec![json!(css)],
        )
        .await
            == json!(true)
    }

    /// The `value` of the first element matching `css` (a form field).
    pub async fn value_of(&self, css: &str) -> Value {
        self.js(
            "return document.querySelector(arguments[0]).value;",
            vec![json!(css)],
        )
        .await
    }

    /// The `data-<key>` attribute of the first element matching `css`.
    pub async fn data_of(&self, css: &str, key: &str) -> String {
        let v = self
            .js(
                "return document.querySelector(arguments[0]).dataset[arguments[1]];",
                vec![json!(css), json!(key)],
            )
            .await;
        v.as_str()
            .unwrap_or_else(|| panic!("no data-{key} on {css}: {v}"))
            .to_string()
    }

    /// Takes the focus off whatever holds it, so that a key goes to the
    /// page's own shortcuts.
    pub async fn blur(&self) {
        self.js("document.activeElement.blur();", vec![]).await;
    }

    /// Whether an element matching `css` exists and takes up room on the page.
    pub async fn visible(&self, css: &str) -> bool {
        self.js(
            "const e = document.querySelector(arguments[0]); return !!e && e.getClientRects().length > 0;",
            vec![json!(css)],
        )
        .await
            == json!(true)
    }

    /// Sets the window to `width` × `height` and waits until the page's
    /// viewport took the new width.
    pub async fn resize(&self, width: u32, height: u32) {
        self.set_size(width, height).await;
        self.wait(
            &format!("the window to be {width} px wide"),
            "return Math.abs(window.innerWidth - arguments[0]) < 40;",
            vec![json!(width)],
        )
        .await;
    }

    /// How many pixels the page is wider than the window (0 or less: no
    /// sideways scroll).
    pub async fn sideways_overflow(&self) -> i64 {
        self.js(
            "return document.documentElement.scrollWidth - window.innerWidth;",
            vec![],
        )
        .await
        .as_i64()
        .unwrap_or(i64::MAX)
    }

    /// Waits until the page is still: fonts loaded, no finite animation or
    /// transition running, and the layout (viewport, page size, element count,
    /// frames' boxes) the same at two polls in a row. Endless animations (a
    /// pulsing indicator) are left out: they never end.
    pub async fn settle(&self) {
        self.wait(
            "the page to be still",
            "const busy = document.getAnimations().some((a) => a.playState === 'running' && a.effect && a.effect.getComputedTiming().iterations !== Infinity); \
             const frames = [...document.querySelectorAll('iframe')].map((f) => { const r = f.getBoundingClientRect(); return [r.left, r.top, r.width, r.height].join(','); }); \
             const now = JSON.stringify([window.innerWidth, window.innerHeight, document.documentElement.scrollWidth, document.documentElement.scrollHeight, document.getElementsByTagName('*').length, frames]); \
             const still = !busy && document.fonts.status === 'loaded' && window.__stillLayout === now; \
             window.__stillLayout = now; \
             return still;",
            vec![],
        )
        .await;
    }

    /// Scrolls the element matching `css` to the top of the window (the
    /// page's top when it is `None` or absent).
    pub async fn scroll_to(&self, css: Option<&str>) {
        self.js(
            "const e = arguments[0] && document.querySelector(arguments[0]); if (e) e.scrollIntoView({block: 'start'}); else window.scrollTo(0, 0);",
            vec![json!(css)],
        )
        .await;
    }

    /// Once the page is still, scrolls to `at` (see [`Browser::scroll_to`]),
    /// waits for the page to be still again, and saves a screenshot of the
    /// window as `tests/artifacts/<file>`.
    pub async fn shoot(&self, file: &str, at: Option<&str>) {
        self.settle().await;
        self.scroll_to(at).await;
        self.settle().await;
        let png = self.screenshot_png().await.expect("a screenshot");
        save_artifact(file, &png);
    }

    /// [`Browser::shoot`] with `at` in the middle of the window, clear of a
    /// sticky header (a panel that scrolls inside itself too).
    pub async fn shoot_centered(&self, file: &str, at: &str) {
        self.settle().await;
        self.js(
            "document.querySelector(arguments[0]).scrollIntoView({block: 'center'});",
            vec![json!(at)],
        )
        .await;
        self.settle().await;
        let png = self.screenshot_png().await.expect("a screenshot");
        save_artifact(file, &png);
    }

    /// [`Browser::shoot`] in a `width` × `height` window (left at that size).
    pub async fn shoot_at(&self, file: &str, width: u32, height: u32, at: Option<&str>) {
        self.resize(width, height).await;
        self.shoot(file, at).await;
    }

    /// Waits until the dashboard's page has applied every change up to audit
    /// `seq` (from a delta of its event stream or a fetched status): after
    /// it, what the page does not show, it will not show for that change.
    pub async fn wait_applied(&self, seq: u64) {
        self.wait(
            &format!("the dashboard to apply audit seq {seq}"),
            "if (!window.__testStore) import('/static/js/store.js').then((m) => { window.__testStore = m; }); \
             const st = window.__testStore && window.__testStore.get().status; \
             return !!st && (st.audit_seq || 0) >= arguments[0];",
            vec![json!(seq)],
        )
        .await;
    }

    pub async fn find(&self, css: &str) -> Element {
        let body = json!({"using": "css selector", "value": css});
        let v = self.call("POST", &self.at("/element"), Some(body)).await;
        Element(v[ELEMENT_KEY].as_str().expect("an element id").to_string())
    }

    /// Scrolls the element to the middle of the window (clear of a sticky
    /// header), then clicks it the way a user would. A live page may redraw
    /// the element between finding and clicking it: then it is found again.
    /// It waits for the element to be there first.
    pub async fn click(&self, css: &str) {
        // A page fills in from its answers: what is clicked may come a moment later.
        self.present(&format!("{css}, to click it"), css).await;
        for attempt in 1.. {
            self.js(
                "const e = document.querySelector(arguments[0]); if (!e) throw new Error('no element ' + arguments[0]); e.scrollIntoView({block: 'center'});",
                vec![json!(css)],
            )
            .await;
            let e = self.find(css).await;
            let path = self.at(&format!("/element/{}/click", e.0));
            match self.try_call("POST", &path, None).await {
                Ok(_) => return,
                Err((status, v)) if v["error"] == "stale element reference" && attempt < 5 => {
                    eprintln!("click {css}: redrawn ({status}), finding it again");
                }
                Err((status, v)) => panic!("WebDriver POST {path} failed ({status}): {v}"),
            }
        }
    }

    pub async fn clear(&self, css: &str) {
        let e = self.find(css).await;
        self.call("POST", &self.at(&format!("/element/{}/clear", e.0)), None)
            .await;
    }

    /// Types `text` into the element (WebDriver key codes such as [`ENTER`] work).
    pub async fn type_into(&self, css: &str, text: &str) {
        let e = self.find(css).await;
        self.call(
            "POST",
            &self.at(&format!("/element/{}/value", e.0)),
            Some(json!({ "text": text })),
        )
        .await;
    }

    /// Presses the keys of `text`, one character after the other, the way a
    /// user types: they go to whatever element has the focus (click it first).
    /// WebDriver key codes such as [`ENTER`] work.
    pub async fn press_keys(&self, text: &str) {
        let mut keys = Vec::new();
        for c in text.chars() {
            let key = c.to_string();
            keys.push(json!({"type": "keyDown", "value": key}));
            keys.push(json!({"type": "keyUp", "value": key}));
        }
        let body = json!({"actions": [{"type": "key", "id": "keyboard", "actions": keys}]});
        self.call("POST", &self.at("/actions"), Some(body)).await;
        self.call("DELETE", &self.at("/actions"), None).await;
    }

    /// Presses `key` while `modifier` is held (e.g. [`CONTROL`] and `"]"`).
    pub async fn press_chord(&self, modifier: &str, key: &str) {
        let keys = vec![
            json!({"type": "keyDown", "value": modifier}),
            json!({"type": "keyDown", "value": key}),
            json!({"type": "keyUp", "value": key}),
            json!({"type": "keyUp", "value": modifier}),
        ];
        let body = json!({"actions": [{"type": "key", "id": "keyboard", "actions": keys}]});
        self.call("POST", &self.at("/actions"), Some(body)).await;
        self.call("DELETE", &self.at("/actions"), None).await;
    }

    pub async fn switch_to_frame(&self, css: &str) {
        let e = self.find(css).await;
        self.call(
            "POST",
            &self.at("/frame"),
            Some(json!({"id": e.reference()})),
        )
        .await;
    }

    pub async fn switch_to_parent(&self) {
        self.call("POST", &self.at("/frame/parent"), Some(json!({})))
            .await;
    }

    pub async fn set_size(&self, width: u32, height: u32) {
        self.call(
            "POST",
            &self.at("/window/rect"),
            Some(json!({"width": width, "height": height})),
        )
        .await;
    }

    /// The cookies the browser holds for the current page.
    pub async fn cookies(&self) -> Vec<Value> {
        let v = self.call("GET", &self.at("/cookie"), None).await;
        v.as_array().cloned().unwrap_or_default()
    }

    /// The text of an open alert, if one is open.
    pub async fn open_alert(&self) -> Option<String> {
        match self.try_call("GET", &self.at("/alert/text"), None).await {
            Ok(v) => Some(v.as_str().unwrap_or("").to_string()),
            Err((404, _)) => None,
            Err((status, v)) => panic!("GET alert/text failed ({status}): {v}"),
        }
    }

    /// A PNG of the viewport.
    pub async fn screenshot_png(&self) -> Result<Vec<u8>, String> {
        let v = self
            .try_call("GET", &self.at("/screenshot"), None)
            .await
            .map_err(|(s, v)| format!("screenshot failed ({s}): {v}"))?;
        base64::engine::general_purpose::STANDARD
            .decode(v.as_str().ok_or("no screenshot data")?)
            .map_err(|e| format!("screenshot is not base64: {e}"))
    }

    /// A PNG of the first element `css` selects (scrolled into view).
    pub async fn element_png(&self, css: &str) -> Result<Vec<u8>, String> {
        let e = self.find(css).await;
        let v = self
            .try_call(
                "GET",
                &self.at(&format!("/element/{}/screenshot", e.0)),
                None,
            )
            .await
            .map_err(|(s, v)| format!("element screenshot failed ({s}): {v}"))?;
        base64::engine::general_purpose::STANDARD
            .decode(v.as_str().ok_or("no screenshot data")?)
            .map_err(|e| format!("screenshot is not base64: {e}"))
    }

    /// Ends the session and stops chromedriver.
    pub async fn quit(mut self) {
        if !self.session.is_empty() {
            let path = format!("/session/{}", self.session);
            let _ = self.try_call("DELETE", &path, None).await;
            self.session.clear();
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        #[cfg(unix)]
        if let Ok(group) = i32::try_from(self.child.id()) {
            // SAFETY: kill(2) with a negative pid signals that process group,
            // which is chromedriver's own (see `start`).
            unsafe { libc::kill(-group, libc::SIGKILL) };
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
