//! The HTTP side of `logbrief fetch`: one GitLab API, one token, pages followed by
//! their `Link: rel="next"`, and retries where the server asks for them.
//!
//! The token is held in a [`Token`], which never prints itself; errors name the
//! request's path and the HTTP status, never the token or a response body (a body
//! may carry other people's data).

use std::collections::HashSet;
use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Utc};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde::de::DeserializeOwned;

use crate::error::{Error, Result};

/// The environment variable the token is read from.
pub const TOKEN_VARIABLE: &str = "GITLAB_TOKEN";

/// Pages can be large (100 events with long details); a page past this size is refused.
const MAX_PAGE_BYTES: u64 = 64 << 20;

/// A GitLab access token. It is sent as `PRIVATE-TOKEN` and shown nowhere.
#[derive(Clone)]
pub struct Token(String);

impl Token {
    /// The token in [`TOKEN_VARIABLE`].
    pub fn from_env() -> Result<Token> {
        match std::env::var(TOKEN_VARIABLE) {
            Ok(t) if !t.trim().is_empty() => Ok(Token(t.trim().to_owned())),
            _ => Err(Error::Usage(format!(
                "{TOKEN_VARIABLE} is not set: export a GitLab access token with the read_api scope"
            ))),
        }
    }

    pub fn new(token: impl Into<String>) -> Token {
        Token(token.into())
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token([hidden])")
    }
}

/// How hard to try.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Retries of one request after a 429, a 5xx, a timeout, a dropped connection
    /// or a page that is not JSON.
    pub retries: u32,
    /// The first wait between tries when the server does not say how long; it
    /// doubles with each retry.
    pub backoff: Duration,
    /// The longest wait, whether the server asks for more or the backoff grows past it.
    pub max_wait: Duration,
    /// How long one read of the response may take.
    pub timeout: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            retries: 5,
            backoff: Duration::from_secs(1),
            max_wait: Duration::from_secs(300),
            timeout: Duration::from_secs(60),
        }
    }
}

/// Called before each wait, to say why on the progress line.
pub type OnWait<'a> = &'a dyn Fn(&str, Duration);

/// One GitLab instance's REST API.
pub struct Client {
    agent: ureq::Agent,
    /// `https://host[/prefix]`, without a trailing slash.
    base: String,
    /// The base and `/api/v4`.
    api: String,
    token: Token,
    settings: Settings,
}

/// One page of a list, and the address of the next one.
pub struct Page<T> {
    pub items: T,
    pub next: Option<String>,
}

/// What became of one try.
enum Outcome<T> {
    Done(T),
    /// Worth another try; the server may say when.
    Retry {
        reason: String,
        after: Option<Duration>,
    },
    /// A status that no retry will change.
    Status(u16),
    /// A failure that no retry will change (a TLS certificate refused, say).
    Failed(String),
}

/// The characters a path keeps when it is one segment of an API route
/// (`acme/platform` is sent as `acme%2Fplatform`).
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// A namespace or project path as one segment of an API route.
pub fn encode_segment(path: &str) -> String {
    utf8_percent_encode(path, SEGMENT).to_string()
}

impl Client {
    /// A client for the instance at `gitlab_url`. It must be `https`, or `http` on a
    /// loopback address: the token is never sent in clear over a network.
    pub fn new(gitlab_url: &str, token: Token, settings: Settings) -> Result<Client> {
        let base = gitlab_url.trim().trim_end_matches('/');
        let uri: ureq::http::Uri = base
            .parse()
            .map_err(|_| Error::Usage(format!("--gitlab-url {base}: not a URL")))?;
        let host = uri.host().unwrap_or_default();
        match uri.scheme_str() {
            Some("https") => {}
            Some("http") if is_loopback(host) => {}
            Some("http") => {
                return Err(Error::Usage(format!(
                    "--gitlab-url {base}: use https; the token is sent with every request"
                )));
            }
            _ => {
                return Err(Error::Usage(format!(
                    "--gitlab-url {base}: expected https://host"
                )));
            }
        }
        if host.is_empty() || uri.query().is_some() {
            return Err(Error::Usage(format!(
                "--gitlab-url {base}: expected https://host"
            )));
        }
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            // A redirect would carry the token to wherever it points.
            .max_redirects(0)
            .timeout_connect(Some(settings.timeout))
            .timeout_per_read(Some(settings.timeout))
            .user_agent(concat!("logbrief/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        Ok(Client {
            agent,
            api: format!("{base}/api/v4"),
            base: base.to_owned(),
            token,
            settings,
        })
    }

    /// The address of an API route (`/groups/60/members/all?per_page=100`).
    pub fn url(&self, route: &str) -> String {
        format!("{}{route}", self.api)
    }

    /// One JSON document, retried as [`Settings`] allow.
    pub fn get<T: DeserializeOwned>(&self, url: &str, on_wait: OnWait<'_>) -> Result<Page<T>> {
        self.get_checked(url, on_wait)?
            .map_or_else(|status| Err(self.status_error(url, status)), Ok)
    }

    /// Like [`Client::get`], but `None` when the token may not see it (403, 404):
    /// secondary emails are visible to administrators only.
    pub fn get_if_visible<T: DeserializeOwned>(
        &self,
        url: &str,
        on_wait: OnWait<'_>,
    ) -> Result<Option<T>> {
        match self.get_checked(url, on_wait)? {
            Ok(page) => Ok(Some(page.items)),
            Err(403 | 404) => Ok(None),
            Err(status) => Err(self.status_error(url, status)),
        }
    }

    /// Every page of a list, from `url` on.
    pub fn get_all<T: DeserializeOwned>(&self, url: &str, on_wait: OnWait<'_>) -> Result<Vec<T>> {
        let mut all = Vec::new();
        let mut seen = HashSet::new();
        let mut next = Some(url.to_owned());
        while let Some(url) = next {
            if !seen.insert(url.clone()) {
                return Err(circular(&url));
            }
            let page: Page<Vec<T>> = self.get(&url, on_wait)?;
            all.extend(page.items);
            next = page.next;
        }
        Ok(all)
    }

    /// A page, or the status that no retry will change.
    fn get_checked<T: DeserializeOwned>(
        &self,
        url: &str,
        on_wait: OnWait<'_>,
    ) -> Result<std::result::Result<Page<T>, u16>> {
        if !url.starts_with(&self.api) {
            return Err(Error::Fetch(format!(
                "the server pointed outside its API ({}); the token was not sent there",
                self.route_of(url)
            )));
        }
        let mut attempt = 0;
        loop {
            let (reason, after) = match self.once(url) {
                Outcome::Done(page) => return Ok(Ok(page)),
                Outcome::Status(status) => return Ok(Err(status)),
                Outcome::Failed(reason) => {
                    return Err(Error::Fetch(format!(
                        "GET {}: {reason}",
                        self.route_of(url)
                    )));
                }
                Outcome::Retry { reason, after } => (reason, after),
            };
            if attempt >= self.settings.retries {
                return Err(Error::Fetch(format!(
                    "GET {}: {reason}, still after {} tries",
                    self.route_of(url),
                    attempt + 1
                )));
            }
            let backoff = self
                .settings
                .backoff
                .saturating_mul(2u32.saturating_pow(attempt));
            let wait = after.unwrap_or(backoff).min(self.settings.max_wait);
            on_wait(&reason, wait);
            std::thread::sleep(wait);
            attempt += 1;
        }
    }

    fn once<T: DeserializeOwned>(&self, url: &str) -> Outcome<Page<T>> {
        let response = self
            .agent
            .get(url)
            .header("PRIVATE-TOKEN", self.token.0.as_str())
            .header("Accept", "application/json")
            .call();
        let mut response = match response {
            Ok(r) => r,
            Err(e) => return transport_failure(&e),
        };
        let status = response.status().as_u16();
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        if status == 429 || (500..=599).contains(&status) {
            let after = header("retry-after").and_then(|v| retry_after(&v, Utc::now()));
            let reason = if status == 429 {
                "HTTP 429 (rate limited)".to_owned()
            } else {
                format!("HTTP {status}")
            };
            return Outcome::Retry { reason, after };
        }
        if !(200..=299).contains(&status) {
            return Outcome::Status(status);
        }
        let next = header("link").and_then(|l| next_link(&l));
        let body = response
            .body_mut()
            .with_config()
            .limit(MAX_PAGE_BYTES)
            .read_to_vec();
        let body = match body {
            Ok(b) => b,
            Err(e) => return transport_failure(&e),
        };
        match serde_json::from_slice(&body) {
            Ok(items) => Outcome::Done(Page { items, next }),
            // A proxy can cut a page short; the same request may well succeed.
            Err(e) => Outcome::Retry {
                reason: format!(
                    "the response is not the JSON expected (at line {}, column {})",
                    e.line(),
                    e.column()
                ),
                after: None,
            },
        }
    }

    /// The route of an address, without the host: what messages show.
    fn route_of<'u>(&self, url: &'u str) -> &'u str {
        url.strip_prefix(&self.base).unwrap_or(url)
    }

    fn status_error(&self, url: &str, status: u16) -> Error {
        let hint = match status {
            401 => ": the token was refused; check GITLAB_TOKEN",
            403 => ": the token may not read this; it needs the read_api scope and enough access",
            404 => ": not found, or not visible to this token; check the path",
            300..=399 => ": a redirect, not followed; check --gitlab-url",
            _ => "",
        };
        Error::Fetch(format!("GET {}: HTTP {status}{hint}", self.route_of(url)))
    }
}

/// A next page the list has already given: following it would never end.
pub(crate) fn circular(url: &str) -> Error {
    let route = url.find("/api/v4").map_or(url, |i| &url[i..]);
    Error::Fetch(format!(
        "the next page of {} was given before; the pages go round in a circle",
        route.split('?').next().unwrap_or(route)
    ))
}

fn is_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// What went wrong below HTTP, in words that carry no header or body; a timeout or
/// a dropped connection is worth another try.
fn transport_failure<T>(e: &ureq::Error) -> Outcome<T> {
    let retry = |reason: String| Outcome::Retry {
        reason,
        after: None,
    };
    match e {
        ureq::Error::Timeout(_) => retry("no answer in time".to_owned()),
        ureq::Error::Io(io) => retry(format!("connection failed ({})", io.kind())),
        ureq::Error::ConnectionFailed => retry("connection failed".to_owned()),
        ureq::Error::HostNotFound => Outcome::Failed("host not found".to_owned()),
        ureq::Error::BodyExceedsLimit(_) => Outcome::Failed("the page is too large".to_owned()),
        other => Outcome::Failed(format!("the request failed ({other})")),
    }
}

/// The target of `rel="next"` in a `Link` header.
fn next_link(header: &str) -> Option<String> {
    header.split(',').find_map(|part| {
        let (target, params) = part.trim().split_once(';')?;
        let target = target.trim().strip_prefix('<')?.strip_suffix('>')?;
        let is_next = params.split(';').any(|p| {
            let (key, value) = p.split_once('=').unwrap_or((p, ""));
            key.trim().eq_ignore_ascii_case("rel")
                && value
                    .trim()
                    .trim_matches('"')
                    .split_ascii_whitespace()
                    .any(|rel| rel.eq_ignore_ascii_case("next"))
        });
        is_next.then(|| target.to_owned())
    })
}

/// `Retry-After`: seconds, or an HTTP date.
fn retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = DateTime::parse_from_rfc2822(value)
        .ok()?
        .with_timezone(&Utc);
    Some((at - now).to_std().unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_of_a_link_header() {
        let h = r#"<https://gitlab.example.com/api/v4/groups/60/audit_events?page=1&per_page=3>; rel="prev", <https://gitlab.example.com/api/v4/groups/60/audit_events?page=3&per_page=3>; rel="next", <https://gitlab.example.com/api/v4/groups/60/audit_events?page=1&per_page=3>; rel="first""#;
        assert_eq!(
            next_link(h).as_deref(),
            Some("https://gitlab.example.com/api/v4/groups/60/audit_events?page=3&per_page=3")
        );
        assert_eq!(
            next_link(r#"<https://h/api/v4/x?cursor=eyJ%3D>; rel="next""#).as_deref(),
            Some("https://h/api/v4/x?cursor=eyJ%3D")
        );
        assert_eq!(next_link(r#"<https://h/a>; rel="first""#), None);
        assert_eq!(next_link(""), None);
    }

    #[test]
    fn retry_after_in_seconds_or_as_a_date() {
        let now = DateTime::parse_from_rfc3339("2021-01-05T10:59:30Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(retry_after("30", now), Some(Duration::from_secs(30)));
        assert_eq!(
            retry_after("Tue, 05 Jan 2021 11:00:00 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            retry_after("Tue, 05 Jan 2021 10:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(retry_after("soon", now), None);
    }

    #[test]
    fn only_https_or_loopback() {
        let ok = |u: &str| Client::new(u, Token::new("t"), Settings::default()).is_ok();
        assert!(ok("https://gitlab.example.com"));
        assert!(ok("https://gitlab.example.com/gitlab/"));
        assert!(ok("http://127.0.0.1:8080"));
        assert!(ok("http://localhost:8080"));
        assert!(ok("http://[::1]:8080"));
        assert!(!ok("http://gitlab.example.com"));
        assert!(!ok("ftp://gitlab.example.com"));
        assert!(!ok("gitlab.example.com"));
    }

    #[test]
    fn paths_are_one_segment() {
        assert_eq!(encode_segment("acme/platform"), "acme%2Fplatform");
        assert_eq!(encode_segment("a-b.c_d~e"), "a-b.c_d~e");
    }

    #[test]
    fn the_token_does_not_print() {
        let t = Token::new("glpat-secret");
        assert!(!format!("{t:?}").contains("secret"));
    }
}
