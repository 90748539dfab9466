//! The HTTP side of `logbrief fetch`: one GitLab API (or one Elasticsearch or
//! OpenSearch cluster), one secret, pages followed by their `Link: rel="next"`, and
//! retries where the server asks for them.
//!
//! The token or API key is held in a [`Token`], which never prints itself; errors name
//! the request's method, path and HTTP status, never the secret or a response body (a
//! body may carry other people's data).

use std::collections::HashSet;
use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Utc};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde::de::DeserializeOwned;

use crate::error::{Error, FetchError, Result, cluster_hint, gitlab_hint};

/// The environment variable the token is read from.
pub const TOKEN_VARIABLE: &str = "GITLAB_TOKEN";
/// The environment variable a search cluster's API key is read from.
pub const API_KEY_VARIABLE: &str = "ELASTIC_API_KEY";

/// Pages can be large (100 events with long details); a page past this size is refused.
const MAX_PAGE_BYTES: u64 = 64 << 20;

/// A GitLab access token. It is sent as `PRIVATE-TOKEN` and shown nowhere.
#[derive(Clone)]
pub struct Token(String);

impl Token {
    /// The token in [`TOKEN_VARIABLE`].
    pub fn from_env() -> Result<Token> {
        Token::from_variable(
            TOKEN_VARIABLE,
            "export a GitLab access token with the read_api scope",
        )
    }

    /// The Elasticsearch or OpenSearch API key in [`API_KEY_VARIABLE`] (the encoded
    /// form Kibana shows, sent as `Authorization: ApiKey`).
    pub fn api_key_from_env() -> Result<Token> {
        Token::from_variable(
            API_KEY_VARIABLE,
            "export an API key that may read the indices",
        )
    }

    /// The secret in `variable`, trimmed; `advice` says what to export when it is unset.
    fn from_variable(variable: &str, advice: &str) -> Result<Token> {
        match std::env::var(variable) {
            Ok(t) if !t.trim().is_empty() => Ok(Token(t.trim().to_owned())),
            _ => Err(Error::Usage(format!("{variable} is not set: {advice}"))),
        }
    }

    #[cfg(test)]
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
    /// The longest wait: the backoff grows no further, and a server that asks for more
    /// ends the fetch (`FetchError::WaitTooLong`).
    pub max_wait: Duration,
    /// How long one read of the response may take.
    pub timeout: Duration,
}

/// Called before each wait, to say why on the progress line.
pub type OnWait<'a> = &'a dyn Fn(&str, Duration);

/// Which API a client speaks to: it decides how the secret is sent and what a status
/// is said to mean.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Service {
    /// `PRIVATE-TOKEN: <token>`.
    GitLab,
    /// `Authorization: ApiKey <key>`.
    Cluster,
}

/// One GitLab instance's REST API, or one Elasticsearch or OpenSearch cluster.
pub struct Client {
    agent: ureq::Agent,
    /// `https://host[/prefix]`, without a trailing slash.
    base: String,
    /// The base and `/api/v4` for GitLab; the base itself for a cluster.
    api: String,
    /// What an address must match to be sent the token.
    origin: Origin,
    token: Token,
    service: Service,
    settings: Settings,
}

/// The HTTP methods a client sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
}

impl Method {
    fn name(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
        }
    }
}

/// Scheme, host and port of the API, and its path; hosts compare without case.
#[derive(Debug, PartialEq, Eq)]
struct Origin {
    scheme: String,
    host: String,
    port: u16,
    /// `/prefix/api/v4/`
    path: String,
}

impl Origin {
    fn of(url: &str) -> Option<Origin> {
        let uri: ureq::http::Uri = url.parse().ok()?;
        let scheme = uri.scheme_str()?.to_ascii_lowercase();
        let default_port = match scheme.as_str() {
            "https" => 443,
            "http" => 80,
            _ => return None,
        };
        let authority = uri.authority()?;
        if authority.as_str().contains('@') {
            return None;
        }
        let mut path = uri.path().to_owned();
        if !path.ends_with('/') {
            path.push('/');
        }
        Some(Origin {
            scheme,
            host: authority.host().to_ascii_lowercase(),
            port: authority.port_u16().unwrap_or(default_port),
            path,
        })
    }

    /// Whether `url` is on this origin, under its path.
    fn covers(&self, url: &str) -> bool {
        Origin::of(url).is_some_and(|o| {
            o.scheme == self.scheme
                && o.host == self.host
                && o.port == self.port
                && o.path.starts_with(&self.path)
        })
    }
}

/// One page of a list (or one object), and the address of the next page.
pub struct Page<T> {
    pub body: T,
    pub next: Option<String>,
}

/// What became of one try.
enum Outcome<T> {
    Done(Page<T>),
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

/// What a request came to when the status is the caller's business.
pub enum Answer<T> {
    Page(Page<T>),
    Status(u16),
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
        let trimmed = gitlab_url.trim().trim_end_matches('/');
        let base = trimmed.strip_suffix("/api/v4").unwrap_or(trimmed);
        Client::build(base, "/api/v4", Service::GitLab, token, settings)
    }

    /// A client for the Elasticsearch or OpenSearch cluster at `url`, on the same
    /// terms as [`Client::new`]; routes follow the URL as given.
    pub fn elasticsearch(url: &str, key: Token, settings: Settings) -> Result<Client> {
        let base = url.trim().trim_end_matches('/');
        Client::build(base, "", Service::Cluster, key, settings)
    }

    fn build(
        base: &str,
        api_path: &str,
        service: Service,
        token: Token,
        settings: Settings,
    ) -> Result<Client> {
        let flag = match service {
            Service::GitLab => "--gitlab-url",
            Service::Cluster => "--elasticsearch",
        };
        let usage = |why: &str| Error::Usage(format!("{flag}: {why}"));
        let uri: ureq::http::Uri = base.parse().map_err(|_| usage("not a URL"))?;
        if uri.authority().is_some_and(|a| a.as_str().contains('@')) {
            return Err(usage("a user or password in the URL is not supported"));
        }
        if uri.query().is_some() {
            return Err(usage("expected https://host"));
        }
        let host = uri.host().unwrap_or_default();
        let loopback = is_loopback(host);
        match uri.scheme_str() {
            Some("https") if !host.is_empty() => {}
            Some("http") if loopback => {}
            Some("http") => {
                return Err(usage("use https; the token is sent with every request"));
            }
            _ => return Err(usage("expected https://host")),
        }
        let api = format!("{base}{api_path}");
        let origin = Origin::of(&api).ok_or_else(|| usage("expected https://host"))?;
        let mut config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            // A redirect would carry the token to wherever it points.
            .max_redirects(0)
            .timeout_connect(Some(settings.timeout))
            .timeout_per_read(Some(settings.timeout))
            // A server that trickles bytes must not hold a request for ever.
            .timeout_global(Some(settings.timeout.saturating_mul(5)))
            .user_agent(concat!("logbrief/", env!("CARGO_PKG_VERSION")));
        if loopback {
            // A proxy from the environment would see the token of a plain-http request.
            config = config.proxy(None);
        }
        Ok(Client {
            agent: config.build().into(),
            api,
            base: base.to_owned(),
            origin,
            token,
            service,
            settings,
        })
    }

    /// The address of an API route (`/groups/60/members/all?per_page=100`).
    pub fn url(&self, route: &str) -> String {
        format!("{}{route}", self.api)
    }

    /// One JSON document, retried as [`Settings`] allow.
    pub fn get<T: DeserializeOwned>(&self, url: &str, on_wait: OnWait<'_>) -> Result<Page<T>> {
        match self.answer(Method::Get, url, None, on_wait)? {
            Answer::Page(page) => Ok(page),
            Answer::Status(status) => Err(self.status_error(Method::Get, url, status)),
        }
    }

    /// Like [`Client::get`], but `None` when the token may not see it (403, 404):
    /// secondary emails are visible to administrators only.
    pub fn get_if_visible<T: DeserializeOwned>(
        &self,
        url: &str,
        on_wait: OnWait<'_>,
    ) -> Result<Option<T>> {
        match self.answer(Method::Get, url, None, on_wait)? {
            Answer::Page(page) => Ok(Some(page.body)),
            Answer::Status(403 | 404) => Ok(None),
            Answer::Status(status) => Err(self.status_error(Method::Get, url, status)),
        }
    }

    /// Every page of a list, from `url` on.
    pub fn get_all<T: DeserializeOwned>(&self, url: &str, on_wait: OnWait<'_>) -> Result<Vec<T>> {
        let mut all = Vec::new();
        let mut seen = HashSet::new();
        let mut next = Some(url.to_owned());
        while let Some(url) = next {
            if !seen.insert(url.clone()) {
                return Err(self.circular(&url));
            }
            let page: Page<Vec<T>> = self.get(&url, on_wait)?;
            all.extend(page.body);
            next = page.next;
        }
        Ok(all)
    }

    /// `body` as JSON to `url`: the answer, or the status that no retry will change,
    /// for the caller to judge.
    pub fn post<T: DeserializeOwned>(
        &self,
        url: &str,
        body: &serde_json::Value,
        on_wait: OnWait<'_>,
    ) -> Result<Answer<T>> {
        let body = body.to_string();
        self.answer(Method::Post, url, Some(body.as_bytes()), on_wait)
    }

    /// Like [`Client::post`], but any status other than success is an error.
    pub fn post_ok<T: DeserializeOwned>(
        &self,
        url: &str,
        body: &serde_json::Value,
        on_wait: OnWait<'_>,
    ) -> Result<T> {
        match self.post(url, body, on_wait)? {
            Answer::Page(page) => Ok(page.body),
            Answer::Status(status) => Err(self.status_error(Method::Post, url, status)),
        }
    }

    /// A `DELETE` with a JSON body, tried once; what comes of it is not the caller's
    /// concern (closing a search context that expires anyway).
    pub fn delete_quietly(&self, url: &str, body: &serde_json::Value) {
        if !self.origin.covers(url) {
            return;
        }
        let (name, value) = self.auth();
        let _ = self
            .agent
            .delete(url)
            .force_send_body()
            .header(name, value.as_str())
            .header("Content-Type", "application/json")
            .send(body.to_string().as_bytes());
    }

    /// The header that carries the secret, and its value.
    fn auth(&self) -> (&'static str, String) {
        match self.service {
            Service::GitLab => ("PRIVATE-TOKEN", self.token.0.clone()),
            Service::Cluster => ("Authorization", format!("ApiKey {}", self.token.0)),
        }
    }

    /// A page, or the status that no retry will change.
    fn answer<T: DeserializeOwned>(
        &self,
        method: Method,
        url: &str,
        body: Option<&[u8]>,
        on_wait: OnWait<'_>,
    ) -> Result<Answer<T>> {
        let route = || self.route_of(url).to_owned();
        let method_name = method.name();
        if !self.origin.covers(url) {
            return Err(FetchError::Outside { route: route() }.into());
        }
        let mut attempt = 0;
        loop {
            let (reason, after) = match self.once(method, url, body) {
                Outcome::Done(page) => return Ok(Answer::Page(page)),
                Outcome::Status(status) => return Ok(Answer::Status(status)),
                Outcome::Failed(reason) => {
                    return Err(FetchError::Failed {
                        method: method_name,
                        route: route(),
                        reason,
                    }
                    .into());
                }
                Outcome::Retry { reason, after } => (reason, after),
            };
            if attempt >= self.settings.retries {
                return Err(FetchError::GaveUp {
                    method: method_name,
                    route: route(),
                    reason,
                    tries: attempt + 1,
                }
                .into());
            }
            // The server's own wait is kept to: retrying earlier only spends a try.
            let wait = match after {
                Some(after) if after > self.settings.max_wait => {
                    return Err(FetchError::WaitTooLong {
                        method: method_name,
                        route: route(),
                        secs: after.as_secs(),
                    }
                    .into());
                }
                Some(after) => after,
                None => self
                    .settings
                    .backoff
                    .saturating_mul(2u32.saturating_pow(attempt))
                    .min(self.settings.max_wait),
            };
            on_wait(&reason, wait);
            std::thread::sleep(wait);
            attempt += 1;
        }
    }

    fn once<T: DeserializeOwned>(
        &self,
        method: Method,
        url: &str,
        body: Option<&[u8]>,
    ) -> Outcome<T> {
        let (name, value) = self.auth();
        let response = match method {
            Method::Get => self
                .agent
                .get(url)
                .header(name, value.as_str())
                .header("Accept", "application/json")
                .call(),
            Method::Post => self
                .agent
                .post(url)
                .header(name, value.as_str())
                .header("Accept", "application/json")
                .header("Content-Type", "application/json")
                .send(body.unwrap_or_default()),
        };
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
        // 501 and 505 say the server cannot do this at all.
        if status == 429 || ((500..=599).contains(&status) && status != 501 && status != 505) {
            let now = Utc::now();
            let after = header("retry-after")
                .and_then(|v| retry_after(&v, now))
                .or_else(|| header("ratelimit-reset").and_then(|v| reset_at(&v, now)));
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
            Ok(body) => Outcome::Done(Page { body, next }),
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
    pub(crate) fn route_of<'u>(&self, url: &'u str) -> &'u str {
        url.strip_prefix(&self.base).unwrap_or(url)
    }

    /// A status no retry changes, as an error that says what it likely means.
    pub fn status_error(&self, method: Method, url: &str, status: u16) -> Error {
        FetchError::Status {
            method: method.name(),
            route: self.route_of(url).to_owned(),
            status,
            hint: match self.service {
                Service::GitLab => gitlab_hint(status),
                Service::Cluster => cluster_hint(status),
            },
        }
        .into()
    }

    /// A next page the list has already given: following it would never end.
    pub(crate) fn circular(&self, url: &str) -> Error {
        let route = self.route_of(url);
        FetchError::Circular {
            route: route.split('?').next().unwrap_or(route).to_owned(),
        }
        .into()
    }
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

/// `RateLimit-Reset`: when the limit resets, in Unix seconds.
fn reset_at(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let at = DateTime::from_timestamp(value.trim().parse().ok()?, 0)?;
    Some((at - now).to_std().unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The defaults are the command line's (`ApiArgs`); any will do here.
    fn settings() -> Settings {
        Settings {
            retries: 0,
            backoff: Duration::ZERO,
            max_wait: Duration::ZERO,
            timeout: Duration::from_secs(1),
        }
    }

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
        let ok = |u: &str| Client::new(u, Token::new("t"), settings()).is_ok();
        assert!(ok("https://gitlab.example.com"));
        assert!(ok("https://gitlab.example.com/gitlab/"));
        assert!(ok("http://127.0.0.1:8080"));
        assert!(ok("http://localhost:8080"));
        assert!(ok("http://[::1]:8080"));
        assert!(ok("https://gitlab.example.com/api/v4/"));
        assert!(!ok("https://user:secret@gitlab.example.com"));
        assert!(!ok("http://gitlab.example.com"));
        assert!(!ok("ftp://gitlab.example.com"));
        assert!(!ok("gitlab.example.com"));
    }

    #[test]
    fn the_token_goes_only_under_the_api() {
        let c = Client::new("https://GitLab.example.com/", Token::new("t"), settings()).unwrap();
        assert!(
            c.origin
                .covers("https://gitlab.example.com/api/v4/groups/1?page=2")
        );
        assert!(c.origin.covers("https://gitlab.example.com:443/api/v4/x"));
        assert!(!c.origin.covers("http://gitlab.example.com/api/v4/x"));
        assert!(!c.origin.covers("https://gitlab.example.com:8443/api/v4/x"));
        assert!(
            !c.origin
                .covers("https://gitlab.example.com.evil.example/api/v4/x")
        );
        assert!(!c.origin.covers("https://gitlab.example.com/api/v4x"));
        assert!(!c.origin.covers("https://gitlab.example.com/other"));
        assert!(!c.origin.covers("https://u@gitlab.example.com/api/v4/x"));
    }

    #[test]
    fn a_cluster_on_the_same_terms_without_the_api_path() {
        let ok = |u: &str| Client::elasticsearch(u, Token::new("k"), settings()).is_ok();
        assert!(ok("https://logs.example.com:9200"));
        assert!(ok("http://127.0.0.1:9200/"));
        assert!(!ok("http://logs.example.com:9200"));
        assert!(!ok("https://elastic:secret@logs.example.com"));
        let c = Client::elasticsearch("https://logs.example.com/es/", Token::new("k"), settings())
            .unwrap();
        assert_eq!(c.url("/_search"), "https://logs.example.com/es/_search");
        assert!(c.origin.covers("https://logs.example.com/es/_pit"));
        assert!(!c.origin.covers("https://logs.example.com/other/_search"));
        assert_eq!(c.auth(), ("Authorization", "ApiKey k".to_owned()));
        let g = Client::new("https://gitlab.example.com", Token::new("t"), settings()).unwrap();
        assert_eq!(g.auth(), ("PRIVATE-TOKEN", "t".to_owned()));
        let e = c.status_error(Method::Post, "https://logs.example.com/es/_search", 401);
        assert_eq!(
            e.to_string(),
            "fetch: POST /_search: HTTP 401: the API key was refused; check ELASTIC_API_KEY"
        );
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
