//! The canonical records every format produces, and the parsing of the addresses and
//! times in them: what a line says, whatever its format.

use std::borrow::Cow;
use std::net::IpAddr;

use chrono::{DateTime, NaiveDate, Timelike, Utc};

use super::audit;

/// Which component logged a request. When several logged the same one, the most
/// complete record wins (RULES.md §6): Rails knows the user, Workhorse does not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Source {
    Rails,
    Workhorse,
    /// NGINX in front of GitLab (`gitlab_access.log`), or any combined-format log.
    Nginx,
}

impl Source {
    /// Higher is more complete.
    pub(crate) fn completeness(self) -> u8 {
        match self {
            Source::Rails => 2,
            Source::Workhorse | Source::Nginx => 1,
        }
    }
}

/// Route parameters that name a namespace or project.
#[derive(Debug, Default, Clone)]
pub(crate) struct Params<'a> {
    pub namespace_id: Option<Cow<'a, str>>,
    pub project_id: Option<Cow<'a, str>>,
    pub repository_path: Option<Cow<'a, str>>,
    pub service: Option<Cow<'a, str>>,
    /// Git SSH access checks (`/api/v4/internal/allowed`): the Git command, the
    /// protocol and the client address gitlab-shell passes on.
    pub action: Option<Cow<'a, str>>,
    pub protocol: Option<Cow<'a, str>>,
    pub check_ip: Option<Cow<'a, str>>,
}

/// One request, as every format reports it. Strings borrow from the line when they can.
#[derive(Debug, Clone)]
#[cfg_attr(not(fuzzing), allow(unreachable_pub))]
pub struct Request<'a> {
    pub(crate) source: Source,
    pub(crate) time: DateTime<Utc>,
    /// The request path, possibly with its query string.
    pub(crate) path: Cow<'a, str>,
    pub(crate) status: Option<u16>,
    /// The client address, when the log has a real one (not masked).
    pub(crate) client_ip: Option<IpAddr>,
    pub(crate) user_id: Option<u64>,
    pub(crate) username: Option<Cow<'a, str>>,
    pub(crate) user_agent: Option<Cow<'a, str>>,
    pub(crate) correlation_id: Option<Cow<'a, str>>,
    pub(crate) meta_project: Option<Cow<'a, str>>,
    pub(crate) meta_root_namespace: Option<Cow<'a, str>>,
    pub(crate) params: Params<'a>,
}

#[cfg(test)]
impl<'a> Request<'a> {
    /// A request for `path` and nothing else known, for tests.
    pub(crate) fn at_path(path: &'a str) -> Request<'a> {
        Request {
            source: Source::Rails,
            time: DateTime::UNIX_EPOCH,
            path: path.into(),
            status: None,
            client_ip: None,
            user_id: None,
            username: None,
            user_agent: None,
            correlation_id: None,
            meta_project: None,
            meta_root_namespace: None,
            params: Params::default(),
        }
    }
}

/// What one line turned out to be.
#[derive(Debug)]
#[cfg_attr(not(fuzzing), allow(unreachable_pub))]
// The fuzz targets never read an audit event, which stays the crate's own.
#[cfg_attr(fuzzing, allow(private_interfaces))]
pub enum Line<'a> {
    Request(Box<Request<'a>>),
    /// An audit event.
    Audit(Box<audit::AuditEvent>),
    /// Valid, but not a request (a blank line, a Workhorse start-up message, ...).
    NotRequest,
    /// Cannot be read; the reason never quotes the line.
    Malformed(&'static str),
}

/// The access check gitlab-shell makes for every Git command over SSH.
pub(crate) const INTERNAL_ALLOWED: &str = "/api/v4/internal/allowed";

/// What a request did, for the per-kind counts (RULES.md §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(not(fuzzing), allow(unreachable_pub))]
pub enum Kind {
    Web,
    Api,
    GitPull,
    GitPush,
    Download,
}

impl Kind {
    pub(crate) const ALL: [Kind; 5] = [
        Kind::Web,
        Kind::Api,
        Kind::GitPull,
        Kind::GitPush,
        Kind::Download,
    ];
}

impl Request<'_> {
    /// Classifies the request: Git over HTTP first, then downloads, then API, then web.
    #[cfg_attr(not(fuzzing), allow(unreachable_pub))]
    pub fn kind(&self) -> Kind {
        let (path, query) = match self.path.split_once('?') {
            Some((p, q)) => (p, q),
            None => (self.path.as_ref(), ""),
        };
        let path = path.to_ascii_lowercase();
        if path.ends_with(INTERNAL_ALLOWED) {
            return match self.params.action.as_deref() {
                Some("git-receive-pack") => Kind::GitPush,
                Some("git-upload-archive") => Kind::Download,
                _ => Kind::GitPull,
            };
        }
        let service = self
            .params
            .service
            .as_deref()
            .map(str::to_ascii_lowercase)
            .unwrap_or_default();
        let query = query.to_ascii_lowercase();
        if path.ends_with("/git-receive-pack")
            || (path.ends_with("/info/refs")
                && (query.contains("service=git-receive-pack") || service == "git-receive-pack"))
        {
            return Kind::GitPush;
        }
        if path.ends_with("/git-upload-pack") || path.ends_with("/info/refs") {
            return Kind::GitPull;
        }
        if path.contains("/info/lfs/")
            || path.contains("/-/archive/")
            || path.contains("/repository/archive")
            || path.contains("/-/raw/")
            || path.contains("/raw/")
            || (path.starts_with("/api/")
                && (path.contains("/repository/files/") || path.contains("/repository/blobs/"))
                && path.ends_with("/raw"))
        {
            return Kind::Download;
        }
        if path.starts_with("/api/") {
            return Kind::Api;
        }
        Kind::Web
    }
}

/// Parses a client address as logs write it: a comma list (the first entry is the
/// client), an optional port, brackets around IPv6, IPv4-mapped IPv6 folded to IPv4.
/// Masked values (`[filtered]`, `x.x.x.x`) and anything else give `None`.
pub(crate) fn parse_ip(raw: &str) -> Option<IpAddr> {
    let first = raw.split(',').next()?.trim();
    let ip = first
        .parse::<IpAddr>()
        .ok()
        .or_else(|| first.parse::<std::net::SocketAddr>().ok().map(|s| s.ip()))
        .or_else(|| {
            // `1.2.3.4:0` parses as a socket address already; this catches `[::1]`.
            first
                .strip_prefix('[')
                .and_then(|s| s.strip_suffix(']'))
                .and_then(|s| s.parse().ok())
        })?;
    Some(fold_mapped(ip))
}

pub(crate) fn fold_mapped(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

/// Parses a log timestamp: RFC 3339, with its zone. A time written without a zone is
/// not read (RULES.md §9: times without a zone are not guessed); GitLab's JSON logs and
/// the audit API always write one, so such a line is malformed.
pub(crate) fn parse_time(raw: &str) -> Option<DateTime<Utc>> {
    let raw = raw.trim();
    DateTime::parse_from_rfc3339(raw)
        .or_else(|_| DateTime::parse_from_str(raw, "%Y-%m-%d %H:%M:%S%.f%:z"))
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// The environment variable that sets the run's clock (RFC 3339), for tests: the
/// latest time a log line may hold depends on it.
pub(super) const CLOCK_VARIABLE: &str = "LOGBRIEF_NOW";

/// The run's clock: `LOGBRIEF_NOW` when it holds an RFC 3339 time, else the system's,
/// read once per run.
pub(crate) fn run_clock() -> DateTime<Utc> {
    static CLOCK: std::sync::OnceLock<DateTime<Utc>> = std::sync::OnceLock::new();
    *CLOCK.get_or_init(|| {
        std::env::var(CLOCK_VARIABLE)
            .ok()
            .and_then(|t| parse_time(&t))
            .unwrap_or_else(Utc::now)
    })
}

/// Whether a time cannot be a log line's: before 2011 (older than GitLab's logs), or
/// more than a day after the run (RULES.md §9). Such a time is a clock that was not
/// set, or a value that is no time, and would claim a period the logs do not cover.
pub(crate) fn is_stray(t: DateTime<Utc>) -> bool {
    let earliest = DateTime::<Utc>::from_naive_utc_and_offset(
        NaiveDate::from_ymd_opt(2011, 1, 1)
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .unwrap_or_default(),
        Utc,
    );
    t < earliest || t > run_clock() + chrono::TimeDelta::days(1)
}

/// A record whose time is stray (see [`is_stray`]) is malformed, in every format. A
/// leap second (`23:59:60`) is read as the last instant of the second before it, so
/// that it falls in the minute it names and prints one way everywhere.
pub(crate) fn plausible(mut line: Line<'_>) -> Line<'_> {
    let time = match &mut line {
        Line::Request(r) => &mut r.time,
        Line::Audit(e) => &mut e.time,
        Line::NotRequest | Line::Malformed(_) => return line,
    };
    if time.nanosecond() >= 1_000_000_000 {
        *time = time.with_nanosecond(999_999_999).unwrap_or(*time);
    }
    if is_stray(*time) {
        Line::Malformed("a time before 2011 or more than a day after the run")
    } else {
        line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_addresses() {
        let cases: &[(&str, Option<&str>)] = &[
            ("81.2.69.144, 127.0.0.1", Some("81.2.69.144")),
            ("68.0.116.160:0", Some("68.0.116.160")),
            ("::ffff:198.51.100.9", Some("198.51.100.9")),
            ("[2001:db8::1]:443", Some("2001:db8::1")),
            ("2001:db8::1", Some("2001:db8::1")),
            ("[filtered]", None),
            ("x.x.x.x", None),
            ("", None),
            ("not an ip", None),
        ];
        for (raw, want) in cases {
            assert_eq!(parse_ip(raw), want.map(|w| w.parse().unwrap()), "{raw}");
        }
    }

    #[test]
    fn timestamps() {
        let t = |s| parse_time(s).map(|t| t.to_rfc3339());
        assert_eq!(
            t("2019-09-17T22:17:19Z").unwrap(),
            "2019-09-17T22:17:19+00:00"
        );
        assert_eq!(
            t("2019-09-17T22:17:19.800+02:00").unwrap(),
            "2019-09-17T20:17:19.800+00:00"
        );
        assert_eq!(
            t("2019-09-17 22:17:19+00:00").unwrap(),
            "2019-09-17T22:17:19+00:00"
        );
        // Without a zone, a time is not guessed.
        assert!(t("2019-09-17 22:17:19").is_none());
        assert!(t("2019-09-17T22:17:19.800").is_none());
        assert!(t("yesterday").is_none());
    }

    fn req(path: &str) -> Request<'_> {
        Request::at_path(path)
    }

    #[test]
    fn kinds() {
        let cases = [
            (
                "/acme/app.git/info/refs?service=git-upload-pack",
                Kind::GitPull,
            ),
            ("/acme/app.git/git-upload-pack", Kind::GitPull),
            (
                "/acme/app.git/info/refs?service=git-receive-pack",
                Kind::GitPush,
            ),
            ("/acme/app.git/git-receive-pack", Kind::GitPush),
            ("/acme/app.git/info/lfs/objects/batch", Kind::Download),
            ("/acme/app/-/archive/main/app-main.zip", Kind::Download),
            ("/acme/app/-/raw/main/README.md", Kind::Download),
            ("/acme/app/raw/main/README.md", Kind::Download),
            (
                "/api/v4/projects/7/repository/files/a%2Fb.rs/raw",
                Kind::Download,
            ),
            ("/api/v4/projects/7/repository/archive.zip", Kind::Download),
            ("/api/v4/projects/7/issues", Kind::Api),
            ("/api/graphql", Kind::Api),
            ("/acme/app/-/issues/1", Kind::Web),
            ("/acme/app/-/blob/main/raw.rs", Kind::Web),
        ];
        for (path, kind) in cases {
            assert_eq!(req(path).kind(), kind, "{path}");
        }
        for (action, kind) in [
            (Some("git-upload-pack"), Kind::GitPull),
            (Some("git-receive-pack"), Kind::GitPush),
            (Some("git-upload-archive"), Kind::Download),
            (None, Kind::GitPull),
        ] {
            let mut r = req(INTERNAL_ALLOWED);
            r.params.action = action.map(Into::into);
            assert_eq!(r.kind(), kind, "{action:?}");
        }
    }
}
