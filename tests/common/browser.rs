//! Headless Chromium for tests: starts `chromedriver` on a free port and speaks
//! the W3C WebDriver protocol to it over plain HTTP.
//!
//! fantoccini 0.22 without its TLS features has no public HTTP connector (it wants
//! a `hyper_util` connector, which is not among our dependencies), so this helper
//! talks WebDriver itself with reqwest; the protocol subset it needs is small.
//! Missing Chromium or chromedriver is a test failure, never a skip.
#![allow(dead_code)]

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{json, Value};

pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CHROMEDRIVER: &str = "chromedriver";
/// The key WebDriver sends for Enter.
pub const ENTER: &str = "\u{E007}";

/// A Chromium session driven through chromedriver. Call [`Browser::quit`] at
/// the end; dropping it kills chromedriver (and with it the browser) anyway.
pub struct Browser {
    http: reqwest::Client,
    base: String,
    session: String,
    driver: Child,
    _profile: tempfile::TempDir,
}

/// An element reference returned by [`Browser::find`].
#[derive(Debug, Clone)]
pub struct Element(String);

const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl Browser {
    /// Starts chromedriver and a headless Chromium with a fresh profile.
    pub async fn start() -> Browser {
        assert!(
            Path::new(CHROMIUM).exists(),
            "{CHROMIUM} is missing: run tools/test.sh (it installs chromium and chromium-driver)"
        );
        let port = free_port();
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start {CHROMEDRIVER} ({e}): run tools/test.sh (it installs chromium and chromium-driver)")
            });
        let profile = tempfile::tempdir().expect("a profile folder");
        let mut browser = Browser {
            http: reqwest::Client::new(),
            base: format!("http://127.0.0.1:{port}"),
            session: String::new(),
            driver,
            _profile: profile,
        };
        browser.wait_ready().await;
        let args = [
            "--headless=new".to_string(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--disable-dev-shm-usage".into(),
            "--no-first-run".into(),
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--disable-sync".into(),
            "--window-size=1100,700".into(),
            format!("--user-data-dir={}", browser._profile.path().display()),
        ];
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": CHROMIUM, "args": args},
        }}});
        let created = browser.call("POST", "/session", Some(caps)).await;
        browser.session = created["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session id in {created}"))
            .to_string();
        browser
    }

    async fn wait_ready(&mut self) {
        for _ in 0..200 {
            if let Ok(Some(status)) = self.driver.try_wait() {
                panic!("{CHROMEDRIVER} exited at start ({status}): run tools/test.sh");
            }
            let ready = self.http.get(format!("{}/status", self.base)).send().await;
            if let Ok(r) = ready {
                if let Ok(v) = r.json::<Value>().await {
                    if v["value"]["ready"] == true {
                        return;
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("{CHROMEDRIVER} did not become ready within 20 s");
    }

    /// One WebDriver command; returns its `value`, panics on a WebDriver error.
    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
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
        let status = resp.status();
        let v: Value = resp.json().await.expect("WebDriver answered JSON");
        if !status.is_success() {
            panic!(
                "WebDriver {method} {path} failed ({status}): {}",
                v["value"]
            );
        }
        v["value"].clone()
    }

    fn at(&self, path: &str) -> String {
        format!("/session/{}{path}", self.session)
    }

    pub async fn goto(&self, url: &str) {
        self.call("POST", &self.at("/url"), Some(json!({"url": url})))
            .await;
    }

    /// Runs `script` (a function body; `arguments` holds `args`) and returns its result.
    pub async fn execute(&self, script: &str, args: Vec<Value>) -> Value {
        let body = json!({"script": script, "args": args});
        self.call("POST", &self.at("/execute/sync"), Some(body))
            .await
    }

    /// Polls `script` until it returns something truthy (not null/false/""/0).
    pub async fn wait_for(&self, what: &str, script: &str, timeout: Duration) -> Value {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let v = self.execute(script, vec![]).await;
            let truthy =
                !matches!(&v, Value::Null | Value::Bool(false)) && v != json!("") && v != json!(0);
            if truthy {
                return v;
            }
            if tokio::time::Instant::now() >= deadline {
                panic!("timed out waiting for {what} (last value {v})");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn find(&self, css: &str) -> Element {
        let body = json!({"using": "css selector", "value": css});
        let v = self.call("POST", &self.at("/element"), Some(body)).await;
        Element(v[ELEMENT_KEY].as_str().expect("an element id").to_string())
    }

    /// Types `text` into the element (WebDriver key codes such as [`ENTER`] work).
    pub async fn send_keys(&self, element: &Element, text: &str) {
        let path = self.at(&format!("/element/{}/value", element.0));
        self.call("POST", &path, Some(json!({"text": text}))).await;
    }

    /// A PNG of the viewport.
    pub async fn screenshot(&self) -> Vec<u8> {
        let v = self.call("GET", &self.at("/screenshot"), None).await;
        base64_decode(v.as_str().expect("base64 screenshot"))
    }

    /// Ends the session and stops chromedriver.
    pub async fn quit(mut self) {
        if !self.session.is_empty() {
            let path = format!("/session/{}", self.session);
            let _ = self
                .http
                .delete(format!("{}{path}", self.base))
                .send()
                .await;
            self.session.clear();
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// Standard base64 (with padding), as WebDriver returns screenshots.
fn base64_decode(text: &str) -> Vec<u8> {
    fn value(c: u8) -> u32 {
        match c {
            b'A'..=b'Z' => (c - b'A') as u32,
            b'a'..=b'z' => (c - b'a') as u32 + 26,
            b'0'..=b'9' => (c - b'0') as u32 + 52,
            b'+' => 62,
            b'/' => 63,
            _ => panic!("bad base64 byte {c}"),
        }
    }
    let clean: Vec<u8> = text.bytes().filter(|c| !c.is_ascii_whitespace()).collect();
    let mut out = Vec::with_capacity(clean.len() / 4 * 3);
    for quad in clean.chunks(4) {
        let data: Vec<u8> = quad.iter().copied().filter(|&c| c != b'=').collect();
        let mut n = 0u32;
        for (i, &c) in data.iter().enumerate() {
            n |= value(c) << (18 - 6 * i);
        }
        out.extend_from_slice(&n.to_be_bytes()[1..data.len()]);
    }
    out
}

#[test]
fn base64_round_trip() {
    assert_eq!(base64_decode("aGVsbG8="), b"hello");
    assert_eq!(base64_decode("aGk="), b"hi");
    assert_eq!(base64_decode("YWJj"), b"abc");
}
