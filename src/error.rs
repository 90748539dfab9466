//! The errors logbrief reports, and the exit code each one maps to (RULES.md §9).
//!
//! Messages name files and line numbers but never repeat a line's content, an IP
//! address or any other value read from a log: an error message is often pasted
//! into a chat or a ticket, so it must be as safe as the reply itself.

use std::path::PathBuf;

/// Exit codes are part of the interface: scripts and tests rely on them.
pub mod exit {
    pub const OK: u8 = 0;
    pub const INTERNAL: u8 = 1;
    pub const USAGE: u8 = 2;
    pub const NOT_VERIFIED: u8 = 3;
    pub const INPUT: u8 = 4;
    pub const PRIVACY: u8 = 5;
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("{}: line {line}: {message}", path.display())]
    InputLine {
        path: PathBuf,
        line: u64,
        message: String,
    },

    #[error("{}: the format is not recognised (use --format-hint to name it)", path.display())]
    UnknownFormat { path: PathBuf },

    /// An input could be read only in part; the message names the file and line.
    #[error("{0}")]
    Incomplete(String),

    #[error("directory file {}: {message}", path.display())]
    Directory { path: PathBuf, message: String },
    /// A manifest of an engine's totals that cannot be read or does not add up.
    #[error("manifest {}: {message}", path.display())]
    Manifest { path: PathBuf, message: String },

    #[error("{0}")]
    Usage(String),

    /// A value `pushdown` would print that its engine cannot hold safely. The message
    /// names the option, never the value.
    #[error("{option}: {reason}; nothing was printed")]
    Unquotable { option: String, reason: String },

    /// The inputs hold no records of the kind the story counts.
    #[error("{0}")]
    NoRecords(String),

    /// The GitLab API (or a search cluster) could not give what `fetch` asked for.
    /// `kept` pages of an audit or log fetch are on disk for the same command to
    /// continue.
    #[error("fetch: {source}{}", kept_note(*kept))]
    Fetch {
        #[source]
        source: FetchError,
        kept: u64,
    },

    /// Zendesk could not say who wrote the ticket, or could not take the note. `after`
    /// says what was left done (the reply printed, the note written).
    #[error("Zendesk: {source}{after}")]
    Zendesk {
        #[source]
        source: FetchError,
        after: String,
    },

    #[error("{}: {}", .0.heading(), .0)]
    NotVerified(#[from] Refusal),

    #[error(
        "the privacy guard stopped the reply: {hits} value(s) that look like personal data \
         ({kinds}) would have been printed in {parts}; nothing was written. To go on, \
         {advice}"
    )]
    Privacy {
        hits: usize,
        kinds: String,
        parts: String,
        advice: String,
    },

    #[error("cannot write {what}: {source}")]
    Write {
        what: String,
        #[source]
        source: std::io::Error,
    },

    #[error("internal error: {0}")]
    Internal(String),
}

/// Why a requester may not receive a summary. Shown to the engineer on stderr only.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error(
        "no user in the directory has the email {email}; copy the requester's address \
         from the ticket as it is written there (logbrief suggests no similar address: a \
         look-alike may be someone else's, and verifying as them would give their data to \
         this requester)"
    )]
    NoUser { email: String },
    #[error("{count} users in the directory share the email {email}; verify the requester by hand")]
    SeveralUsers { email: String, count: usize },
    #[error("the user with the email {email} is not an Owner of any namespace")]
    NotOwner { email: String },
    #[error(
        "the user with the email {email} owns only namespaces without a paid plan: {owned} \
         (paid: premium, ultimate, bronze, silver, gold, ultimate_trial_paid_customer; \
         trials of a free namespace and the free programs are not)"
    )]
    NoPaidPlan { email: String, owned: String },
    #[error("--namespace {path} is not in the directory{}", suggestion_text(.suggestion))]
    UnknownNamespace {
        path: String,
        suggestion: Option<String>,
    },
    #[error(
        "--namespace {path} exists but is outside the paid namespaces the requester owns ({scope})"
    )]
    OutOfScope { path: String, scope: String },
    /// The ticket's requester is someone else. Their email is another person's data and
    /// is not shown.
    #[error(
        "the requester of ticket {ticket} has no email identity in Zendesk equal to {email}; \
         check that --ticket is the ticket this reply is for and that --requester is the \
         address it was written from"
    )]
    TicketRequester { ticket: u64, email: String },
    #[error("ticket {ticket} has no requester in Zendesk; check --ticket")]
    TicketWithoutRequester { ticket: u64 },
    #[error(
        "ticket {ticket} does not exist in Zendesk, or the agent of ZENDESK_EMAIL cannot see \
         it; check --ticket"
    )]
    NoTicket { ticket: u64 },
}

impl Refusal {
    /// What was refused: the requester, or a `--namespace` of a verified requester.
    fn heading(&self) -> &'static str {
        match self {
            Refusal::UnknownNamespace { .. } | Refusal::OutOfScope { .. } => "namespace refused",
            Refusal::NoUser { .. }
            | Refusal::SeveralUsers { .. }
            | Refusal::NotOwner { .. }
            | Refusal::NoPaidPlan { .. }
            | Refusal::TicketRequester { .. }
            | Refusal::TicketWithoutRequester { .. }
            | Refusal::NoTicket { .. } => "requester not verified",
        }
    }
}

fn suggestion_text(s: &Option<String>) -> String {
    s.as_ref()
        .map(|s| format!(" (did you mean {s}?)"))
        .unwrap_or_default()
}

impl Error {
    /// Writing the file at `path` failed.
    pub fn write(path: &std::path::Path, source: std::io::Error) -> Error {
        Error::Write {
            what: path.display().to_string(),
            source,
        }
    }

    /// The process exit code for this error (RULES.md §9).
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Read { .. }
            | Error::InputLine { .. }
            | Error::UnknownFormat { .. }
            | Error::Incomplete(_)
            | Error::Directory { .. }
            | Error::Manifest { .. }
            | Error::Fetch { .. }
            | Error::Zendesk { .. } => exit::INPUT,
            Error::Usage(_) | Error::Unquotable { .. } => exit::USAGE,
            Error::NoRecords(_) => exit::INPUT,
            Error::NotVerified(_) => exit::NOT_VERIFIED,
            Error::Privacy { .. } => exit::PRIVACY,
            Error::Write { .. } | Error::Internal(_) => exit::INTERNAL,
        }
    }
}

impl From<FetchError> for Error {
    fn from(source: FetchError) -> Self {
        Error::Fetch { source, kept: 0 }
    }
}

/// A wait in seconds; one too long to hold is said as such.
fn wait_text(secs: u64) -> String {
    if secs == u64::MAX {
        "longer than any clock holds".to_owned()
    } else {
        format!("{secs} s")
    }
}

fn kept_note(kept: u64) -> String {
    match kept {
        0 => String::new(),
        n => {
            format!("\n{n} page(s) fetched so far are kept; run the same command again to continue")
        }
    }
}

/// Why a request to the GitLab API (or to a search cluster) failed. Routes are shown
/// without the host; no message carries the token, a header or a response body.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("{method} {route}: HTTP {status}{hint}")]
    Status {
        method: &'static str,
        route: String,
        status: u16,
        /// What the status likely means, for this API.
        hint: &'static str,
    },

    #[error("{method} {route}: {reason}, still after {tries} tries")]
    GaveUp {
        method: &'static str,
        route: String,
        reason: String,
        tries: u32,
    },

    #[error(
        "{method} {route}: the server asks to wait {}, longer than --max-wait; \
         try again later",
        wait_text(*secs)
    )]
    WaitTooLong {
        method: &'static str,
        route: String,
        secs: u64,
    },

    #[error("{method} {route}: {reason}")]
    Failed {
        method: &'static str,
        route: String,
        reason: String,
    },

    #[error("the server pointed outside its API ({route}); the token was not sent there")]
    Outside { route: String },

    /// A next link that holds the secret: following it would put the secret in an
    /// address, where logs and proxies keep it.
    #[error(
        "the server put the secret in the address of the page after {route}; it was not \
         followed"
    )]
    SecretInLink { route: String },

    /// A next link on the API, but to another list.
    #[error("the next page of {route} points to another route ({other}); it was not followed")]
    Elsewhere { route: String, other: String },

    #[error("the next page of {route} carries no cursor or page number logbrief can follow")]
    NoCursor { route: String },

    #[error("the next page of {route} was given before; the pages go round in a circle")]
    Circular { route: String },

    #[error("page {page} of {route}: an element is not an audit event (an object with an id)")]
    NotAnEvent { route: String, page: u64 },

    /// Events outside the window asked for: the server does not apply it, and what it
    /// gives cannot be trusted to be the window's whole.
    #[error(
        "page {page} of {route}: the server answered with events outside the window it was \
         asked for (--since/--until); nothing was written"
    )]
    OutsideWindow { route: String, page: u64 },

    /// A search cluster's answer that holds only some of what it found.
    #[error(
        "{method} {route}: the cluster answered with part of the documents ({what}); \
         nothing was written"
    )]
    Partial {
        method: &'static str,
        route: String,
        what: String,
    },

    /// Hits that do not come after the last one read: the cluster ignores
    /// `search_after`, or a scroll starts over.
    #[error(
        "page {page} of {route}: the cluster answered with documents that do not come after \
         the last one read (it does not page on); nothing was written"
    )]
    Backwards { route: String, page: u64 },

    #[error(
        "the point in time (or scroll) expired {times} times in a row before a page could \
         be read; the cluster keeps it for less than the time between two pages"
    )]
    Vanishing { times: u32 },

    #[error(
        "more than {most} documents share one time; the fetch cannot tell them apart \
         safely, and nothing was written"
    )]
    Crowded { most: usize },

    #[error(
        "the cluster gave more candidate documents than it counted in the window ({total}); \
         the counts and the documents disagree, and nothing was written. Use --restart to \
         count again"
    )]
    MoreThanCounted { total: u64 },

    /// A list longer than logbrief holds.
    #[error("{route}: more than {most} entries, more than logbrief holds; nothing was written")]
    TooLarge { route: String, most: usize },

    #[error(
        "the ancestors of {path} go round in a loop (namespace {id} comes again); the \
         directory cannot be read"
    )]
    AncestorLoop { path: String, id: u64 },

    /// Pages that bring nothing new, one after the other.
    #[error(
        "{route}: {pages} pages in a row brought nothing new; the server does not move on, \
         and nothing was written"
    )]
    Stuck { route: String, pages: u32 },

    /// A search cluster's answer without what the request asks for.
    #[error("{method} {route}: the answer has no {what}")]
    Unexpected {
        method: &'static str,
        route: String,
        what: &'static str,
    },
}

impl FetchError {
    /// Whether running the same command again may get past this (a server that
    /// failed, refused or asked to wait), so that what was fetched is worth keeping for
    /// it. A server that goes round, points elsewhere or answers outside what it was
    /// asked would do the same again.
    pub fn may_pass(&self) -> bool {
        matches!(
            self,
            FetchError::Status { .. }
                | FetchError::GaveUp { .. }
                | FetchError::WaitTooLong { .. }
                | FetchError::Failed { .. }
                | FetchError::Partial { .. }
                | FetchError::Vanishing { .. }
        )
    }
}

/// What a status from the GitLab API likely means.
pub fn gitlab_hint(status: u16) -> &'static str {
    match status {
        401 => ": the token was refused; check GITLAB_TOKEN",
        403 => ": the token may not read this; it needs the read_api scope and enough access",
        404 => ": not found, or not visible to this token; check the path",
        300..=399 => ": a redirect, not followed; check --gitlab-url",
        _ => "",
    }
}

/// What a status from Elasticsearch or OpenSearch likely means.
pub fn cluster_hint(status: u16) -> &'static str {
    match status {
        401 => ": the API key was refused; check ELASTIC_API_KEY",
        403 => ": the API key may not do this; it needs the read privilege on the indices",
        404 => ": no such index or route; check --index",
        300..=399 => ": a redirect, not followed; check --elasticsearch",
        _ => "",
    }
}

/// What a status from Zendesk's API likely means.
pub fn zendesk_hint(status: u16) -> &'static str {
    match status {
        401 => {
            ": the credentials were refused; check ZENDESK_EMAIL (an agent's address) and \
             ZENDESK_API_TOKEN, and that token access is on in the Admin Center"
        }
        403 => {
            ": the agent of ZENDESK_EMAIL may not do this; it needs to see the ticket and \
             add private comments to it"
        }
        404 => ": not found; check --ticket and ZENDESK_URL",
        300..=399 => {
            ": a redirect, not followed; check ZENDESK_URL (https://<account>.zendesk.com)"
        }
        _ => "",
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Replaces the default panic message, which repeats the panic's payload (it could
/// quote a value from the input), with one that names only where the bug is.
pub fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let location = info.location().map(|l| (l.file().to_owned(), l.line()));
        eprintln!("{}", panic_message(location));
    }));
}

fn panic_message(location: Option<(String, u32)>) -> String {
    let at = location.map_or_else(String::new, |(file, line)| format!(" at {file}:{line}"));
    format!(
        "logbrief: internal error{at}. This is a bug in logbrief; its details are not shown because they could quote the input."
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_reports_where_never_what() {
        let m = panic_message(Some(("src/scope.rs".into(), 42)));
        assert_eq!(
            m,
            "logbrief: internal error at src/scope.rs:42. This is a bug in logbrief; its details are not shown because they could quote the input."
        );
    }

    #[test]
    fn exit_codes() {
        assert_eq!(Error::Usage("x".into()).exit_code(), 2);
        assert_eq!(
            Error::Privacy {
                hits: 1,
                kinds: "email".into(),
                parts: "the opening".into(),
                advice: "x".into(),
            }
            .exit_code(),
            5
        );
        assert_eq!(Error::UnknownFormat { path: "x".into() }.exit_code(), 4);
        assert_eq!(Error::Internal("x".into()).exit_code(), 1);
    }
}
