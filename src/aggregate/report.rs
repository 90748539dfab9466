//! What the reply says besides the counts: where every input line went, the inputs,
//! the filters and the period. The pipeline adds these up as it reads; polars has
//! nothing to count here.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::ser_time;

/// Where every input line went (RULES.md §6). The buckets always add up to `lines`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub(crate) struct Reconciliation {
    pub lines: u64,
    pub malformed: u64,
    pub not_request: u64,
    pub duplicate: u64,
    pub out_of_scope: u64,
    pub out_of_window: u64,
    pub excluded: u64,
    pub counted: u64,
    /// Of `out_of_scope`, the lines counted without being parsed because they name
    /// nothing in scope (RULES.md §6). The internal note shows it; the JSON stays the same
    /// whether lines were read or not.
    #[serde(skip)]
    pub unread: u64,
    /// Of `duplicate`, the request lines that another input held too, line for line
    /// (overlapping exports, RULES.md §6): the reply says how many. The JSON gives it
    /// beside the reconciliation (`overlap`), whose eight numbers stay the buckets.
    #[serde(skip)]
    pub overlap: u64,
}

impl Reconciliation {
    pub(crate) fn bucket_sum(&self) -> u64 {
        self.malformed
            + self.not_request
            + self.duplicate
            + self.out_of_scope
            + self.out_of_window
            + self.excluded
            + self.counted
    }

    pub(crate) fn add(&mut self, other: &Reconciliation) {
        self.lines += other.lines;
        self.malformed += other.malformed;
        self.not_request += other.not_request;
        self.duplicate += other.duplicate;
        self.out_of_scope += other.out_of_scope;
        self.out_of_window += other.out_of_window;
        self.excluded += other.excluded;
        self.counted += other.counted;
        self.unread += other.unread;
        self.overlap += other.overlap;
    }
}

/// One input file as the reply's appendix and the internal note describe it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct InputSummary {
    pub name: String,
    pub format: &'static str,
    pub gzip: bool,
    pub sha256: String,
    /// Whether the digest was computed now or taken from the cache (the note says so).
    #[serde(skip)]
    pub digest_origin: crate::digest::Origin,
    pub lines: u64,
    pub malformed: u64,
    /// The first few malformed line numbers (never their content).
    pub malformed_lines: Vec<u64>,
    /// Why the first malformed line is malformed, in the program's words.
    #[serde(skip)]
    pub first_malformed: Option<&'static str>,
    /// Records of the story's kind read from it, in scope or not.
    #[serde(skip)]
    pub records: u64,
    /// Lines counted out of scope without being read.
    #[serde(skip)]
    pub unread: u64,
    /// With `--format-hint`: the format the content looks like, when it is another.
    #[serde(skip)]
    pub looks_like: Option<&'static str>,
    /// A hash of the decoded content: the same lines plain or compressed hash alike.
    #[serde(skip)]
    pub content: u128,
}

/// The filters a reply may describe: the requester's own ranges and domains, and only
/// the number of named accounts (their names belong to other people).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub(crate) struct Filters {
    /// The requester's own addresses (`--client-ip`), for the IP-block story.
    pub client_ranges: Vec<String>,
    pub exclude_ip_ranges: Vec<String>,
    pub exclude_domains: Vec<String>,
    pub exclude_users: usize,
    /// Entries of the known list that took out nothing: the reply says that none
    /// came from them, never that they were left out (RULES.md §9).
    pub matched_nothing: KnownList,
    /// Entries from the top level of the team configuration, which apply to every
    /// customer: the team's list, never "as you asked".
    pub team_wide: KnownList,
    #[serde(serialize_with = "ser_time")]
    pub since: Option<DateTime<Utc>>,
    #[serde(serialize_with = "ser_time")]
    pub until: Option<DateTime<Utc>>,
}

/// Some entries of the known list: ranges and domains as given, accounts by number.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub(crate) struct KnownList {
    pub ip_ranges: Vec<String>,
    pub domains: Vec<String>,
    pub users: usize,
}

/// A stretch of the period where the request logs hold no line although lines would be
/// expected (RULES.md §9): from the last line before it to the first one after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub(crate) struct Gap {
    #[serde(serialize_with = "ser_instant")]
    pub from: DateTime<Utc>,
    #[serde(serialize_with = "ser_instant")]
    pub to: DateTime<Utc>,
}

fn ser_instant<S: serde::Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&super::format_time(*t))
}

/// A period of time: the first and the last moment of something.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub(crate) struct Period {
    #[serde(serialize_with = "ser_time")]
    pub first: Option<DateTime<Utc>>,
    #[serde(serialize_with = "ser_time")]
    pub last: Option<DateTime<Utc>>,
}
