//! Handoff packets as HTML for the dashboard's drawer, rendered here so that
//! the page never parses agent text itself. Report text reaches a packet from
//! departments, so nothing in it may become live markup: raw HTML (blocks and
//! inline) is shown as text, images become their alt text, and a link keeps
//! its target only for http, https, mailto or a relative path.

use pulldown_cmark::{html, CowStr, Event, Options, Parser, Tag, TagEnd};

/// Markdown to HTML with every piece of raw HTML escaped.
pub fn safe_html(markdown: &str) -> String {
    let options = Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH;
    let events = Parser::new_ext(markdown, options).filter_map(|event| match event {
        Event::Html(raw) | Event::InlineHtml(raw) => Some(Event::Text(raw)),
        Event::Start(Tag::Image { .. }) | Event::End(TagEnd::Image) => None,
        Event::Start(Tag::Link {
            link_type,
            dest_url,
            title,
            id,
        }) => Some(Event::Start(Tag::Link {
            link_type,
            dest_url: safe_target(dest_url),
            title,
            id,
        })),
        other => Some(other),
    });
    let mut out = String::with_capacity(markdown.len() * 3 / 2);
    html::push_html(&mut out, events);
    out
}

/// A link target the page may follow, else `#`.
fn safe_target(url: CowStr<'_>) -> CowStr<'_> {
    let lower: String = url
        .chars()
        .filter(|c| !c.is_whitespace() && !c.is_control())
        .collect::<String>()
        .to_ascii_lowercase();
    let scheme = lower
        .split_once(':')
        .map(|(s, _)| s)
        .filter(|s| !s.contains('/') && !s.contains('?') && !s.contains('#'));
    match scheme {
        None => url,
        Some("http" | "https" | "mailto") => url,
        Some(_) => CowStr::Borrowed("#"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_renders() {
        let html = safe_html("# Title\n\n- **one**\n- `two`\n\n[docs](https://example.com/x)\n");
        assert!(html.contains("<h1>Title</h1>"), "{html}");
        assert!(html.contains("<strong>one</strong>"), "{html}");
        assert!(html.contains("<code>two</code>"), "{html}");
        assert!(
            html.contains(r#"<a href="https://example.com/x">docs</a>"#),
            "{html}"
        );
    }

    #[test]
    fn hostile_markup_stays_text() {
        let hostile = "<script>alert(1)</script>\n\nInline <img src=x onerror=alert(1)> here.\n\n\
                       <div onclick=\"x()\">\nblock\n</div>\n\n\
                       [a](javascript:alert(1)) [b](JaVaScRiPt:alert(2)) [c](java\tscript:alert(3)) \
                       [d](data:text/html,<b>x</b>) [e](vbscript:x) [ok](./relative.md)\n\n\
                       ![pic](https://example.com/p.png \"t\")\n";
        let html = safe_html(hostile);
        let lower = html.to_ascii_lowercase();
        for live in [
            "<script",
            "<img",
            "<div",
            "<b>",
            "href=\"javascript",
            "href=\"data",
            "href=\"vbscript",
        ] {
            assert!(!lower.contains(live), "{live} is live in {html}");
        }
        assert!(
            html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{html}"
        );
        assert!(
            html.contains("&lt;img src=x onerror=alert(1)&gt;"),
            "{html}"
        );
        assert!(html.contains(r##"<a href="#">a</a>"##), "{html}");
        assert!(html.contains(r#"<a href="./relative.md">ok</a>"#), "{html}");
        assert!(html.contains("pic") && !html.contains("p.png"), "{html}");
    }
}
