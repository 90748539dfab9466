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

    #[error("requester not verified: {0}")]
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
    #[error("the user with the email {email} owns only namespaces without a paid plan: {owned}")]
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
            | Error::Fetch { .. } => exit::INPUT,
            Error::Usage(_) => exit::USAGE,
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
        "{method} {route}: the server asks to wait {secs} s, longer than --max-wait; \
         try again later"
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

    #[error("the next page of {route} was given before; the pages go round in a circle")]
    Circular { route: String },

    #[error("page {page} of {route}: an element is not an audit event")]
    NotAnEvent { route: String, page: u64 },

    /// A search cluster's answer without what the request asks for.
    #[error("{method} {route}: the answer has no {what}")]
    Unexpected {
        method: &'static str,
        route: String,
        what: &'static str,
    },
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
