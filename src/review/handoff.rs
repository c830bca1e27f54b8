//! A result's handoff packet for the review drawer: the Markdown the launcher
//! wrote when it registered the result, and that Markdown rendered to HTML with
//! every piece of raw HTML escaped ([`super::markdown`]).
//!
//! The packet is what the next person or agent reads, so the developer reviews
//! that, not a re-rendering of the stored fields. Beside it comes the report
//! as received ([`super::raw`]), so one request fills the drawer.

use std::path::Path;

use super::markdown::safe_html;
use super::raw::raw_report;
use super::state_file::{read_state_file, MAX_READ};
use super::ResultRef;
use crate::context::Context;
use crate::error::LResult;
use crate::views::review::HandoffView;

/// The handoff packet of the stored result named by `which`.
pub fn handoff(ctx: &Context, which: &ResultRef) -> LResult<HandoffView> {
    let result = which.load(ctx)?;
    let state_dir = &ctx.paths.state_dir;
    let packet = match result.handoff_packet.as_deref() {
        Some(path) => Some(read_state_file(state_dir, Path::new(path), MAX_READ)?),
        None => None,
    };
    Ok(HandoffView {
        html: packet.as_ref().map(|p| safe_html(&p.text)),
        truncated: packet.as_ref().is_some_and(|p| p.truncated),
        markdown: packet.map(|p| p.text),
        path: result.handoff_packet.clone(),
        raw: raw_report(state_dir, &result)?,
        result,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::error::LauncherError;
    use crate::model::{result_key, TaskResult};
    use crate::store::{Paths, Store};

    /// A context on a fresh state folder under `dir` (the repository).
    fn context(dir: &Path) -> Context {
        let paths = Paths::new(dir.join("state"));
        let store = Store::open(&paths.state_dir).unwrap();
        let config = Config::load_with_env(dir, &Default::default()).unwrap();
        Context::new(dir.to_path_buf(), config, paths, store)
    }

    /// Stores `r` (replacing what its key held) and names it.
    fn put(ctx: &Context, r: &TaskResult) -> ResultRef {
        let key = result_key(&r.parent_session_id, &r.department_session_id, &r.report_id);
        ctx.store.update(|tx| tx.put_result(&key, r)).unwrap();
        ResultRef {
            session_id: r.parent_session_id.clone(),
            department_session_id: r.department_session_id.clone(),
            report_id: r.report_id.clone(),
        }
    }

    /// Writes `r`'s packet the way the mailbox does, from the packet template.
    fn write_packet(r: &TaskResult) {
        use askama::Template;
        let text = crate::mailbox::handoff::Handoff { r }.render().unwrap();
        let path = Path::new(r.handoff_packet.as_deref().unwrap());
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    #[test]
    fn the_packet_as_markdown_and_safe_html() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = context(dir.path());
        let r = super::super::raw::tests::result(&ctx.paths.state_dir);
        write_packet(&r);
        let v = handoff(&ctx, &put(&ctx, &r)).unwrap();
        let md = v.markdown.as_deref().unwrap();
        assert!(md.starts_with("# Codex Department Handoff\n"), "{md}");
        // Report text is written with `<` and `&` as entities, and shown as text.
        assert!(
            md.contains("&lt;script>alert(1)&lt;/script> did it"),
            "{md}"
        );
        assert!(!md.contains('<'), "{md}");
        let html = v.html.as_deref().unwrap();
        assert!(html.contains("<h1>Codex Department Handoff</h1>"), "{html}");
        assert!(
            html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{html}"
        );
        assert!(!html.contains("<script"), "{html}");
        assert_eq!(v.path, r.handoff_packet);
        assert_eq!(v.result, r);
        assert!(!v.truncated);
        assert_eq!(v.raw.raw_source, "stored_result", "no mailbox file written");

        let json = serde_json::to_value(&v).unwrap();
        for key in ["markdown", "html", "path", "result", "raw", "raw_source"] {
            assert!(json.get(key).is_some(), "{key} in {json}");
        }
    }

    #[test]
    fn missing_results_packets_and_packets_outside_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = context(dir.path());
        let mut r = super::super::raw::tests::result(&ctx.paths.state_dir);
        // Registered, but its packet is not on disk.
        let which = put(&ctx, &r);
        let err = handoff(&ctx, &which).unwrap_err();
        assert!(matches!(err, LauncherError::NotFound(_)), "{err}");
        let mut other = which.clone();
        other.report_id = "r2".into();
        let err = handoff(&ctx, &other).unwrap_err();
        assert_eq!(err.to_string(), "no result r2 of lingyubu-1 for zhongshu-1");

        // A packet path outside the state folder is never read.
        let outside = dir.path().join("outside.md");
        std::fs::write(&outside, "# not the launcher's").unwrap();
        r.handoff_packet = Some(outside.display().to_string());
        let err = handoff(&ctx, &put(&ctx, &r)).unwrap_err();
        assert!(
            matches!(&err, LauncherError::BadRequest(m) if m.contains("outside")),
            "{err}"
        );

        // No packet at all: nulls, and the report still shows.
        r.handoff_packet = None;
        let v = handoff(&ctx, &put(&ctx, &r)).unwrap();
        assert_eq!((v.markdown, v.html, v.path), (None, None, None));
        assert_eq!(v.raw.raw_source, "stored_result");
    }
}
