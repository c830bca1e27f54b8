//! The accessibility check of the browser tests: axe-core 4.14.1, vendored for
//! the tests only (`tools/fetch_axe.sh`), run in the page under test.

use std::time::Duration;

use serde_json::Value;

use super::browser::Browser;

const AXE: &str = include_str!("../../vendor/axe-core/axe.min.js");
const WAIT: Duration = Duration::from_secs(45);

/// Runs axe-core on the page as it is (terminals' iframes left out: they are
/// their own pages) and fails on any serious or critical violation, listing
/// every violation found with its elements.
pub async fn accessible(d: &Browser, view: &str) {
    // Injected once per page load (the script is half a megabyte).
    let loaded = d.js("return typeof window.axe;", vec![]).await;
    if loaded != "object" {
        d.js(&format!("{AXE}\n;return typeof window.axe;"), vec![])
            .await;
    }
    d.js(
        "window.__axe = null; window.axe.run(document, {iframes: false, resultTypes: ['violations']}).then((r) => { window.__axe = r.violations.map((v) => ({id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => { const a = (n.any[0] || {}).data || {}; return n.target.join(' ') + (a.fgColor ? ` ${a.fgColor} on ${a.bgColor} = ${a.contrastRatio}` : ''); })})); }, (e) => { window.__axe = [{id: 'axe-failed', impact: 'critical', help: String(e), nodes: []}]; });",
        vec![],
    )
    .await;
    let found = d
        .wait_js("axe's answer", "return window.__axe;", vec![], WAIT)
        .await;
    let all = found.as_array().cloned().unwrap_or_default();
    for v in &all {
        eprintln!(
            "axe [{view}]: {} {} {} {}",
            v["impact"], v["id"], v["help"], v["nodes"]
        );
    }
    let serious: Vec<&Value> = all
        .iter()
        .filter(|v| v["impact"] == "serious" || v["impact"] == "critical")
        .collect();
    assert!(
        serious.is_empty(),
        "axe finds serious or critical violations in {view}: {serious:#?}"
    );
}
