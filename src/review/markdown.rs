//! Handoff packets as HTML for the review drawer, rendered on the server so the
//! page never parses agent text itself (it inserts this HTML as it is).
//!
//! Report text reaches a packet from departments, so nothing in it may become
//! live markup: raw HTML, blocks and inline alike, is turned into text (and so
//! escaped by `push_html`); images become their alt text, so the page never
//! fetches anything a packet names; a link keeps its target only for http,
//! https, mailto or a relative path, anything else (`javascript:`, `data:`,
//! `vbscript:`, `//host`, ...) becomes `#`, and so does any target whose
//! fragment starts with `token` (the dashboard's URL carries its token there).
//!
//! Packets write report text inside code with `<` and `&` as entities
//! ([`crate::mailbox::markdown`]); code shows them as `<` and `&` here again.

use pulldown_cmark::{html, CowStr, Event, Options, Parser, Tag, TagEnd};

/// Markdown to HTML with every piece of raw HTML escaped.
pub fn safe_html(markdown: &str) -> String {
    let options = Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH;
    let mut in_code_block = false;
    let events = Parser::new_ext(markdown, options).filter_map(|event| match event {
        Event::Start(Tag::CodeBlock(kind)) => {
            in_code_block = true;
            Some(Event::Start(Tag::CodeBlock(kind)))
        }
        Event::End(TagEnd::CodeBlock) => {
            in_code_block = false;
            Some(Event::End(TagEnd::CodeBlock))
        }
        Event::Text(text) if in_code_block => Some(Event::Text(unescape_lt_amp(text))),
        Event::Code(text) => Some(Event::Code(unescape_lt_amp(text))),
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

/// `&lt;` and `&amp;` (as packets write report text in code) back to `<` and `&`.
fn unescape_lt_amp(text: CowStr<'_>) -> CowStr<'_> {
    if !text.contains('&') {
        return text;
    }
    CowStr::from(text.replace("&lt;", "<").replace("&amp;", "&"))
}

/// A link target the page may follow, else `#`. Browsers ignore tabs, newlines
/// and leading controls or spaces in a URL, read schemes in any case and take
/// a backslash for `/`, so the target is judged with those removed and replaced.
fn safe_target(url: CowStr<'_>) -> CowStr<'_> {
    let lower: String = url
        .chars()
        .filter(|c| !c.is_whitespace() && !c.is_control())
        .map(|c| if c == '\\' { '/' } else { c })
        .collect::<String>()
        .to_ascii_lowercase();
    if lower.starts_with("//") || names_a_token(&lower) {
        // `//host` leaves the page's server; a `#token…` fragment is the
        // dashboard's way in.
        return CowStr::Borrowed("#");
    }
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

/// The target's fragment (percent-decoded) starts with `token`, or holds a
/// `&token` part: the shape of the dashboard URL's `#token=…`.
fn names_a_token(lower: &str) -> bool {
    let Some((_, fragment)) = lower.split_once('#') else {
        return false;
    };
    let decoded = percent_decoded(fragment);
    decoded.starts_with("token") || decoded.contains("&token")
}

/// `%XX` escapes decoded (lossily); anything else as it is.
fn percent_decoded(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes.get(i + 1..i + 3).and_then(|h| {
            std::str::from_utf8(h)
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        });
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).to_ascii_lowercase()
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

    /// Tags Markdown itself makes (what `safe_html` may emit).
    const MARKDOWN_TAGS: &[&str] = &[
        "p",
        "em",
        "strong",
        "del",
        "code",
        "pre",
        "a",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "ul",
        "ol",
        "li",
        "blockquote",
        "hr",
        "br",
        "table",
        "thead",
        "tbody",
        "tr",
        "th",
        "td",
    ];

    /// Every tag is one Markdown makes, and every link target is `#`, relative,
    /// or http, https or mailto.
    fn assert_inert(html: &str) {
        for (i, _) in html.match_indices('<') {
            let rest = &html[i + 1..];
            let rest = rest.strip_prefix('/').unwrap_or(rest);
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric())
                .collect();
            assert!(
                MARKDOWN_TAGS.contains(&name.as_str()),
                "a live <{name}> in {html}"
            );
            let tag = &rest[..rest.find('>').expect("a closed tag")];
            for attr in [" src=", " on", " style=", " srcdoc="] {
                assert!(!tag.contains(attr), "{attr} in <{tag}> of {html}");
            }
            if let Some(at) = tag.find(" href=\"") {
                let target = &tag[at + 7..];
                let target = &target[..target.find('"').unwrap()];
                let scheme = target.split_once(':').map(|(s, _)| s);
                assert!(
                    scheme.is_none_or(|s| s.contains('/') || ["http", "https", "mailto"].contains(&s)),
                    "href {target:?} in {html}"
                );
            }
        }
    }

    #[test]
    fn packet_entities_in_code_show_as_the_characters() {
        let html = safe_html("- `&lt;b>x&lt;/b> &amp;&amp; y`\n\n    a &lt; b &amp;amp;\n");
        assert!(
            html.contains("<code>&lt;b&gt;x&lt;/b&gt; &amp;&amp; y</code>"),
            "{html}"
        );
        assert!(html.contains("a &lt; b &amp;amp;"), "{html}");
        assert_inert(&html);
    }

    #[test]
    fn raw_html_blocks_and_inline_html_become_text() {
        let cases = [
            (
                "<script>alert(1)</script>",
                "&lt;script&gt;alert(1)&lt;/script&gt;",
            ),
            (
                "<img src=x onerror=alert(1)>",
                "&lt;img src=x onerror=alert(1)&gt;",
            ),
            (
                "<iframe src=\"https://example.com\"></iframe>",
                "&lt;iframe src=\"https://example.com\"&gt;",
            ),
            ("<svg onload=alert(1)></svg>", "&lt;svg onload=alert(1)&gt;"),
            ("<style>body{display:none}</style>", "&lt;style&gt;"),
            ("<!-- a comment -->", "&lt;!-- a comment --&gt;"),
            ("<?php echo 1; ?>", "&lt;?php echo 1; ?&gt;"),
            (
                "text <b onclick=\"x()\">bold</b> text",
                "text &lt;b onclick=\"x()\"&gt;bold&lt;/b&gt; text",
            ),
            (
                "<a href=\"javascript:alert(1)\">a</a>",
                "&lt;a href=\"javascript:alert(1)\"&gt;a&lt;/a&gt;",
            ),
            (
                "<div onclick=\"x()\">\n\n*still markdown*\n\n</div>",
                "&lt;div onclick=\"x()\"&gt;",
            ),
        ];
        for (md, escaped) in cases {
            let html = safe_html(md);
            assert_inert(&html);
            assert!(html.contains(escaped), "{md}: {html}");
        }
        assert_eq!(
            safe_html("<script>alert(1)</script>"),
            "&lt;script&gt;alert(1)&lt;/script&gt;"
        );
        assert_eq!(
            safe_html("a <img src=x onerror=alert(1)> b"),
            "<p>a &lt;img src=x onerror=alert(1)&gt; b</p>\n"
        );
    }

    #[test]
    fn links_and_images_never_carry_a_script_target() {
        let md = "[a](javascript:alert(1))\n\
                  [b](javascript&#58;alert(2))\n\
                  [c](&#x6A;avascript:alert(3))\n\
                  [d](%20javascript:alert(4))\n\
                  [e](<java\nscript:alert(5)>)\n\
                  [f](\u{1}javascript:alert(6))\n\
                  <javascript:alert(7)>\n\
                  [ref][r]\n\
                  ![img](javascript:alert(8))\n\
                  ![pic](data:image/svg+xml,<svg/onload=alert(9)>)\n\n\
                  [r]: vbscript:msgbox(10)\n";
        let html = safe_html(md);
        assert_inert(&html);
        // a, b, c, d, the autolink and the reference link: links, to nowhere.
        assert_eq!(html.matches("<a href=\"#\">").count(), 6, "{html}");
        assert_eq!(html.matches("<a ").count(), 6, "{html}");
        assert!(html.contains("<a href=\"#\">ref</a>"), "{html}");
        assert!(
            !html.contains("alert(8)") && !html.contains("alert(9)"),
            "{html}"
        );
        for keep in [
            "https://example.com/a?b=c#d",
            "http://example.com",
            "mailto:dev@example.com",
            "docs/guide.md",
            "../up.md",
            "#section",
            "/abs/path",
        ] {
            let html = safe_html(&format!("[x]({keep})"));
            assert!(
                html.contains(&format!("href=\"{}\"", keep.replace('&', "&amp;"))),
                "{keep}: {html}"
            );
        }
        // Another host by a scheme-relative target, and the dashboard's token
        // fragment in any spelling: links to nowhere.
        for refused in [
            "//evil.example/x",
            "\\\\\\\\evil.example",
            "/\\evil.example",
            " //evil.example",
            "#token=0000",
            "#TOKEN=1",
            "#%74oken=1",
            "#x&token=1",
            "./page#token=1",
            "https://127.0.0.1:6211/#token=1",
        ] {
            let html = safe_html(&format!("[x](<{refused}>)"));
            assert!(html.contains(r##"<a href="#">x</a>"##), "{refused}: {html}");
        }
        // An autolinked address gets its mailto: from the renderer.
        assert!(
            safe_html("<dev@example.com>").contains("href=\"mailto:dev@example.com\""),
            "autolink"
        );
    }
}
