//! The privacy guard (RULES.md §8): the last check before anything reaches a ticket.
//!
//! A reply is made of three kinds of text, and the renderer marks which is which:
//! the template's own words (unmarked), text the program formats itself — counts,
//! times, status classes, labels from the audit vocabulary or the GeoIP database,
//! input file names — between [`OWN_START`] and [`OWN_END`], and text that came from
//! data between [`DATA_START`] and [`DATA_END`]. Only data is checked, so a visitor
//! called `utc`, `2xx` or `2026` cannot stop a reply that prints a time, a status
//! class or a year.
//!
//! Data is checked twice:
//! - against **canaries**, every username, email, display name and user agent seen in
//!   the inputs and the directory (except the requester's own), as whole tokens;
//! - by **detectors** that need no canary: an email address, an IPv4 or IPv6 address
//!   in any spelling (compared as a parsed address, so `2001:DB8:0:0:0:0:0:77` is
//!   `2001:db8::77`), a URL with credentials, a GitLab token, a bearer or basic
//!   credential. Text that names someone only once is caught this way.
//!
//! Detectors read each value as typed and as a reader would see it: folded by Unicode
//! NFKC (`＠` is `@`), percent-decoded (`%40`), with `[at]` and `[dot]` spelled out,
//! so that no spelling of an email or an address escapes them.
//!
//! What is the requester's own is not a hit: a data value equal to a path in scope
//! (`acme/bob` names the project, not the user `bob`), the requester's own emails, and
//! addresses inside the ranges the requester supplied. The domains they supplied are
//! checked like any data, so a username typed where a domain belongs is not repeated.
//!
//! Whatever a value holds, a finished reply carries no bidirectional control and no
//! Liquid marker (`{{`, `{%`): markdown and text drop the one and break the other, JSON
//! writes them as `\u` escapes, so its values stay exact.
//!
//! [`Guarded`] can only be built here: a value of that type has passed the check.

mod canaries;
mod check;
mod detectors;
mod hits;
mod marks;

pub(crate) use canaries::Canaries;
pub(crate) use check::Emphasis;
pub(crate) use hits::Guard;
pub(crate) use marks::{DATA_END, DATA_START, OWN_END, OWN_START, PLACE, Place, is_mark};

/// A value that passed the privacy guard. Only this module can make one.
#[derive(Debug)]
pub(crate) struct Guarded<T>(T);

impl<T> Guarded<T> {
    pub(crate) fn get(&self) -> &T {
        &self.0
    }
}
