//! The internal note as a private comment on the ticket: its markdown as HTML, the
//! chart uploaded first and attached by its upload token. The public reply is never
//! posted; the engineer reads it and sends it.

use std::cell::RefCell;
use std::io::Write;

use pulldown_cmark::{Event, Parser};
use serde::Deserialize;
use serde::de::IgnoredAny;

use super::{Ticket, failed, waiting};
use crate::error::{Error, Result};
use crate::fetch::client::{Answer, Body, Method, Retries, encode_segment};

/// A file to attach to the comment.
pub(crate) struct Attachment<'a> {
    /// The name the ticket shows.
    pub name: String,
    pub bytes: &'a [u8],
    pub content_type: &'static str,
}

#[derive(Deserialize)]
struct Uploaded {
    upload: Upload,
}

#[derive(Deserialize)]
struct Upload {
    token: String,
}

/// The note's markdown as HTML. Raw HTML in it (none of the note's own, but a value
/// it quotes could hold some) is shown as text, never passed on as markup.
pub(super) fn html(markdown: &str) -> String {
    let events = Parser::new(markdown).map(|event| match event {
        Event::Html(text) | Event::InlineHtml(text) => Event::Text(text),
        event => event,
    });
    let mut out = String::new();
    pulldown_cmark::html::push_html(&mut out, events);
    out
}

/// Adds `note` to the ticket as one private comment, with `attachment` uploaded first.
/// `after` says what is left done when it fails (the reply printed, the note
/// written). The comment is sent once: a failure after which Zendesk may have added
/// it is not retried, so no comment is added twice.
pub(crate) fn post_note(
    ticket: &Ticket,
    note: &str,
    attachment: Option<Attachment<'_>>,
    after: &str,
    err: &mut dyn Write,
) -> Result<()> {
    let Some(client) = ticket.client()? else {
        return Err(Error::Usage("--post-note needs Zendesk configured".into()));
    };
    let err = RefCell::new(err);
    let on_wait = waiting(&err);
    let mut uploads = Vec::new();
    if let Some(a) = attachment {
        let url = client.url(&format!(
            "/uploads.json?filename={}",
            encode_segment(&a.name)
        ));
        let body = Body {
            bytes: a.bytes,
            content_type: a.content_type,
        };
        // An upload attached to nothing expires by itself: trying again is harmless.
        match client
            .send::<Uploaded>(Method::Post, &url, Some(body), Retries::Any, &on_wait)
            .map_err(|e| failed(e, after))?
        {
            Answer::Page(page) => uploads.push(page.body.upload.token),
            Answer::Status(status) => {
                return Err(failed(
                    client.status_error(Method::Post, &url, status),
                    after,
                ));
            }
        }
    }
    let mut comment = serde_json::json!({"html_body": html(note), "public": false});
    if !uploads.is_empty() {
        comment["uploads"] = serde_json::json!(uploads);
    }
    let body = serde_json::json!({"ticket": {"comment": comment}}).to_string();
    let url = client.url(&format!("/tickets/{}.json", ticket.id));
    let body = Body {
        bytes: body.as_bytes(),
        content_type: "application/json",
    };
    match client
        .send::<IgnoredAny>(Method::Put, &url, Some(body), Retries::Unapplied, &on_wait)
        .map_err(|e| failed(e, after))?
    {
        Answer::Page(_) => Ok(()),
        Answer::Status(status) => Err(failed(
            client.status_error(Method::Put, &url, status),
            after,
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_becomes_html_and_raw_html_stays_text() {
        let out = html("**Filters**\n\n- a `x<y>`\n- <script>alert(1)</script>\n");
        assert!(out.contains("<strong>Filters</strong>"), "{out}");
        assert!(out.contains("<code>x&lt;y&gt;</code>"), "{out}");
        assert!(!out.contains("<script>"), "{out}");
        assert!(out.contains("&lt;script&gt;"), "{out}");
    }
}
