//! The ticket: who wrote it, and the internal note as a private comment on it
//! (RULES.md §12).
//!
//! Zendesk is asked through `fetch`'s client (src/fetch/client.rs), on its terms:
//! https only (plain http on a loopback address), no redirect followed, retries where
//! the server asks for them, and the API token in no message or file. Only the
//! ticket's requester is read, and only to compare their email identities with
//! `--requester`; only the internal note is posted, always as a private comment.

mod note;
mod requester;

use std::cell::RefCell;
use std::io::Write;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::fetch::client::{Client, Settings, Token};

pub(crate) use note::{Attachment, post_note};
pub(crate) use requester::{Checked, check_requester};

/// Where the account is, unless `zendesk_url` in the team configuration says it.
pub(crate) const URL_VARIABLE: &str = "ZENDESK_URL";
/// The agent the API token belongs to.
pub(crate) const EMAIL_VARIABLE: &str = "ZENDESK_EMAIL";
/// The agent's API token.
pub(crate) const TOKEN_VARIABLE: &str = "ZENDESK_API_TOKEN";

/// The account logbrief speaks to, as an agent with an API token.
#[derive(Debug, Clone)]
pub(crate) struct Account {
    url: String,
    email: String,
    token: Token,
}

/// `--ticket` and what goes with it.
#[derive(Debug, Clone)]
pub(crate) struct Ticket {
    pub id: u64,
    /// The account's address (`https://example.zendesk.com`), when known: the note
    /// links the ticket.
    pub url: Option<String>,
    /// The agent's credentials, when Zendesk is configured: the ticket's requester is
    /// then checked before any log is read.
    pub account: Option<Account>,
    /// `--post-note`.
    pub post_note: bool,
}

impl Ticket {
    /// `--ticket ID` with Zendesk as the environment and the team configuration's
    /// `zendesk_url` (from `source`) describe it. Half a configuration is a usage
    /// error: an email without a token, a token without an account's address, or
    /// `--post-note` without all three.
    pub(crate) fn new(
        id: Option<u64>,
        post_note: bool,
        team_url: Option<&str>,
        source: &str,
    ) -> Result<Option<Ticket>> {
        let Some(id) = id else {
            return Ok(None);
        };
        let url = variable(URL_VARIABLE)
            .or_else(|| {
                team_url
                    .map(str::trim)
                    .filter(|u| !u.is_empty())
                    .map(str::to_owned)
            })
            .map(|u| with_scheme(&u));
        let email = variable(EMAIL_VARIABLE);
        let token = Token::from_variable_if_set(TOKEN_VARIABLE);
        let usage = |why: String| Err(Error::Usage(why));
        let account = match (&url, email, token) {
            (Some(url), Some(email), Some(token)) => Some(Account {
                url: url.clone(),
                email,
                token,
            }),
            (_, None, None) if post_note => {
                return usage(format!(
                    "--post-note needs Zendesk: set {URL_VARIABLE} (or zendesk_url in {source}), \
                     {EMAIL_VARIABLE} and {TOKEN_VARIABLE}"
                ));
            }
            (_, None, None) => None,
            (None, _, _) => {
                return usage(format!(
                    "{EMAIL_VARIABLE} or {TOKEN_VARIABLE} is set, but not the account: set \
                     {URL_VARIABLE} (https://<account>.zendesk.com) or zendesk_url in {source}"
                ));
            }
            (Some(_), None, Some(_)) => {
                return usage(format!(
                    "{TOKEN_VARIABLE} is set but {EMAIL_VARIABLE} is not: export the address \
                     of the agent the token belongs to"
                ));
            }
            (Some(_), Some(_), None) => {
                return usage(format!(
                    "{EMAIL_VARIABLE} is set but {TOKEN_VARIABLE} is not: export the agent's \
                     API token (Admin Center, Apps and integrations, Zendesk API)"
                ));
            }
        };
        let ticket = Ticket {
            id,
            url: url.map(|u| {
                let u = u.trim_end_matches('/');
                u.strip_suffix("/api/v2").unwrap_or(u).to_owned()
            }),
            account,
            post_note,
        };
        // An address the token may not go to is refused before anything is read.
        ticket.client()?;
        Ok(Some(ticket))
    }

    /// The ticket's address as agents open it.
    pub(crate) fn link(&self) -> Option<String> {
        let url = self.url.as_deref()?;
        Some(format!("{url}/agent/tickets/{}", self.id))
    }

    /// A client for the account, when Zendesk is configured.
    pub(crate) fn client(&self) -> Result<Option<Client>> {
        let Some(a) = &self.account else {
            return Ok(None);
        };
        Client::zendesk(&a.url, &a.email, a.token.clone(), settings()).map(Some)
    }
}

/// How hard to try: the run waits for Zendesk, so for a minute at most per request.
fn settings() -> Settings {
    Settings {
        retries: 4,
        backoff: Duration::from_secs(1),
        max_wait: Duration::from_secs(60),
        timeout: Duration::from_secs(30),
    }
}

fn variable(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// A bare host name means https.
fn with_scheme(url: &str) -> String {
    let url = url.trim();
    if url.contains("://") {
        url.to_owned()
    } else {
        format!("https://{url}")
    }
}

/// A failure of the client as Zendesk's, with `after`: what is left done.
fn failed(e: Error, after: &str) -> Error {
    use crate::error::FetchError;
    let source = match e {
        // The run has no --max-wait: say how long it waits instead.
        Error::Fetch {
            source: FetchError::WaitTooLong { method, route, .. },
            ..
        } => FetchError::Failed {
            method,
            route,
            reason: format!(
                "Zendesk asks to wait longer than logbrief waits for it ({} s); try again later",
                settings().max_wait.as_secs()
            ),
        },
        Error::Fetch { source, .. } => source,
        e => return e,
    };
    Error::Zendesk {
        source,
        after: after.to_owned(),
    }
}

/// Says on `err` why the run waits for Zendesk.
fn waiting<'a>(err: &'a RefCell<&mut dyn Write>) -> impl Fn(&str, Duration) + 'a {
    move |reason, wait| {
        let _ = writeln!(
            err.borrow_mut(),
            "logbrief: Zendesk: {reason}; trying again in {:.1} s",
            wait.as_secs_f64()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_link_is_the_agents_view_of_the_ticket() {
        let t = Ticket {
            id: 4242,
            url: Some("https://example.zendesk.com".into()),
            account: None,
            post_note: false,
        };
        assert_eq!(
            t.link().as_deref(),
            Some("https://example.zendesk.com/agent/tickets/4242")
        );
        assert_eq!(
            with_scheme("example.zendesk.com"),
            "https://example.zendesk.com"
        );
    }
}
