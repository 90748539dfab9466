//! Who wrote the ticket: its requester's email identities, compared with
//! `--requester`. Nothing read here is kept or shown: a refusal says that no identity
//! matched, never what the identities are.

use std::cell::RefCell;
use std::io::Write;

use serde::Deserialize;

use super::{Ticket, failed, waiting};
use crate::error::{Refusal, Result};
use crate::fetch::client::{Answer, Client, Next, with_param};

/// The most pages of identities read: a person has a handful.
const MAX_PAGES: usize = 10;

/// What the check found, for the internal note.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Checked {
    /// Whether Zendesk marks the identity equal to `--requester` as verified.
    pub verified_in_zendesk: bool,
}

#[derive(Deserialize)]
struct TicketDocument {
    ticket: TicketFields,
}

#[derive(Deserialize)]
struct TicketFields {
    requester_id: Option<u64>,
}

#[derive(Deserialize)]
struct Identities {
    identities: Vec<Identity>,
    next_page: Option<String>,
}

#[derive(Deserialize)]
struct Identity {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    value: serde_json::Value,
    #[serde(default)]
    verified: bool,
}

/// Checks that the requester of `ticket` has `email` as an email identity (without
/// regard to case), when Zendesk is configured; `None` when it is not. A refusal is
/// exit 3, with nothing read from the logs yet.
pub(crate) fn check_requester(
    ticket: &Ticket,
    email: &str,
    err: &mut dyn Write,
) -> Result<Option<Checked>> {
    let Some(client) = ticket.client()? else {
        return Ok(None);
    };
    let err = RefCell::new(err);
    let on_wait = waiting(&err);
    let after = "; nothing was read or posted";
    let id = ticket.id;
    let url = client.url(&format!("/tickets/{id}.json"));
    let requester = match client
        .get_answer::<TicketDocument>(&url, &on_wait)
        .map_err(|e| failed(e, after))?
    {
        Answer::Page(page) => page.body.ticket.requester_id,
        Answer::Status(404) => return Err(Refusal::NoTicket { ticket: id }.into()),
        Answer::Status(status) => {
            return Err(failed(
                client.status_error(crate::fetch::client::Method::Get, &url, status),
                after,
            ));
        }
    };
    let Some(user) = requester else {
        return Err(Refusal::TicketWithoutRequester { ticket: id }.into());
    };
    let found = identities(&client, user, email, &on_wait).map_err(|e| failed(e, after))?;
    match found {
        Some(verified) => Ok(Some(Checked {
            verified_in_zendesk: verified,
        })),
        None => Err(Refusal::TicketRequester {
            ticket: id,
            email: email.to_owned(),
        }
        .into()),
    }
}

/// Whether the user's email identities hold `email`, and if so whether Zendesk marks
/// it verified; every page of identities is read until one matches.
fn identities(
    client: &Client,
    user: u64,
    email: &str,
    on_wait: crate::fetch::client::OnWait<'_>,
) -> Result<Option<bool>> {
    let first = client.url(&format!("/users/{user}/identities.json?per_page=100"));
    let mut url = first.clone();
    for _ in 0..MAX_PAGES {
        let page = client.get::<Identities>(&url, on_wait)?;
        let matched = page.body.identities.iter().find(|i| {
            i.kind == "email"
                && i.value
                    .as_str()
                    .is_some_and(|v| v.trim().eq_ignore_ascii_case(email.trim()))
        });
        if let Some(identity) = matched {
            return Ok(Some(identity.verified));
        }
        match page.body.next_page {
            Some(next) => {
                url = with_param(&first, &client.next_param(&first, &Next::Link(next))?);
            }
            None => return Ok(None),
        }
    }
    Ok(None)
}
