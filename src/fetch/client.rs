//! The HTTP side of `logbrief fetch` and of the ticket: one GitLab API (or one
//! Elasticsearch or OpenSearch cluster, or one Zendesk account), one secret, pages
//! followed by their `Link: rel="next"`, and retries where the server asks for them.
//!
//! The token or API key is held in a [`Token`], which never prints itself; errors name
//! the request's method, path and HTTP status, never the secret or a response body (a
//! body may carry other people's data).

use std::collections::HashSet;
use std::fmt;
use std::io::Read;
use std::time::Duration;

use chrono::{DateTime, Utc};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde::de::DeserializeOwned;

use super::address;
use crate::error::{Error, FetchError, Result, cluster_hint, gitlab_hint, zendesk_hint};

/// The environment variable the token is read from.
pub(crate) const TOKEN_VARIABLE: &str = "GITLAB_TOKEN";
/// The environment variable a search cluster's API key is read from.
pub(crate) const API_KEY_VARIABLE: &str = "ELASTIC_API_KEY";

/// Pages can be large (100 events with long details); a page past this size once
/// decompressed is refused.
pub(crate) const MAX_PAGE_BYTES: u64 = 64 << 20;

/// The most elements a page's list may hold: GitLab gives at most 100, a cluster at
/// most the 10,000 of the largest `--page-size`. Counted as the page is read, so a page
/// of millions of tiny elements is refused before it fills the memory.
pub(crate) const MAX_PAGE_ITEMS: usize = 10_000;

/// A page's JSON array, of at most [`MAX_PAGE_ITEMS`] elements.
#[derive(Debug)]
pub(crate) struct Items<T>(pub Vec<T>);

/// The text of the error [`Items`] gives past its limit; it is shown as it is.
const TOO_MANY_ITEMS: &str = "more elements in a page than logbrief reads";

impl<'de, T: serde::Deserialize<'de>> serde::Deserialize<'de> for Items<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct Visitor<T>(std::marker::PhantomData<T>);
        impl<'de, T: serde::Deserialize<'de>> serde::de::Visitor<'de> for Visitor<T> {
            type Value = Items<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "an array of at most {MAX_PAGE_ITEMS} elements")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> std::result::Result<Items<T>, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element()? {
                    if items.len() == MAX_PAGE_ITEMS {
                        return Err(serde::de::Error::custom(TOO_MANY_ITEMS));
                    }
                    items.push(item);
                }
                Ok(Items(items))
            }
        }
        d.deserialize_seq(Visitor(std::marker::PhantomData))
    }
}

/// A GitLab access token. It is sent as `PRIVATE-TOKEN` and shown nowhere.
#[derive(Clone)]
pub(crate) struct Token(String);

impl Token {
    /// The token in [`TOKEN_VARIABLE`].
    pub(crate) fn from_env() -> Result<Token> {
        Token::from_variable(
            TOKEN_VARIABLE,
            "export a GitLab access token with the read_api scope",
        )
    }

    /// The Elasticsearch or OpenSearch API key in [`API_KEY_VARIABLE`] (the encoded
    /// form Kibana shows, sent as `Authorization: ApiKey`).
    pub(crate) fn api_key_from_env() -> Result<Token> {
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

    /// The secret in `variable`, or `None` when it is unset or empty.
    pub(crate) fn from_variable_if_set(variable: &str) -> Option<Token> {
        std::env::var(variable)
            .ok()
            .map(|t| t.trim().to_owned())
            .filter(|t| !t.is_empty())
            .map(Token)
    }

    #[cfg(test)]
    pub(crate) fn new(token: impl Into<String>) -> Token {
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
pub(crate) struct Settings {
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
pub(crate) type OnWait<'a> = &'a dyn Fn(&str, Duration);

/// Which API a client speaks to: it decides how the secret is sent and what a status
/// is said to mean.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Service {
    /// `PRIVATE-TOKEN: <token>`.
    GitLab,
    /// `Authorization: ApiKey <key>`.
    Cluster,
    /// `Authorization: Basic base64(<email>/token:<token>)`.
    Zendesk,
}

/// Which failures a request is tried again after.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Retries {
    /// Any failure another try may get past: the request changes nothing, or changes
    /// it the same way however often it is sent.
    Any,
    /// Only those the server surely did not act on (429, 503, a connection that
    /// failed before the request went out): sending it twice would do it twice.
    Unapplied,
}

/// A request's body and its media type.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Body<'a> {
    pub bytes: &'a [u8],
    pub content_type: &'static str,
}

/// One GitLab instance's REST API, or one Elasticsearch or OpenSearch cluster.
pub(crate) struct Client {
    agent: ureq::Agent,
    /// `https://host[/prefix]`, without a trailing slash.
    base: String,
    /// The base and `/api/v4` for GitLab; the base itself for a cluster.
    api: String,
    /// What an address must match to be sent the token.
    origin: Origin,
    token: Token,
    /// Who the token belongs to, where the API asks for both (Zendesk's email).
    user: Option<String>,
    service: Service,
    settings: Settings,
}

/// The HTTP methods a client sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Method {
    Get,
    Post,
    Put,
}

impl Method {
    fn name(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
        }
    }
}

/// Scheme, host and port of the API, and its path; hosts compare without case.
#[derive(Debug, PartialEq, Eq)]
struct Origin {
    scheme: String,
    host: String,
    port: u16,
    /// `/prefix/api/v4/`, as the server understands it ([`address::understood`]).
    path: Vec<u8>,
}

impl Origin {
    /// Scheme, host, port and the path's every decoding; `None` for an address that is
    /// not `http` or `https`, names a user, or whose path holds a control character.
    fn parts(url: &str) -> Option<(String, String, u16, Vec<Vec<u8>>)> {
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
        let forms = address::understood(uri.path())?;
        Some((
            scheme,
            authority.host().to_ascii_lowercase(),
            authority.port_u16().unwrap_or(default_port),
            forms,
        ))
    }

    fn of(url: &str) -> Option<Origin> {
        let (scheme, host, port, forms) = Origin::parts(url)?;
        let mut path = forms.last()?.clone();
        if !path.ends_with(b"/") {
            path.push(b'/');
        }
        Some(Origin {
            scheme,
            host,
            port,
            path,
        })
    }

    /// Whether `url` is on this origin, under its path as the server understands
    /// both: dot segments removed and percent-escapes decoded, so `/api/v4/../../admin`
    /// and `/api/v4/%2e%2e/admin` lie outside.
    fn covers(&self, url: &str) -> bool {
        Origin::parts(url).is_some_and(|(scheme, host, port, forms)| {
            scheme == self.scheme
                && host == self.host
                && port == self.port
                && forms.iter().all(|f| f.starts_with(&self.path))
        })
    }
}

/// Where the page after this one is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Next {
    /// `Link: <…>; rel="next"`, resolved against the address of the page it came with.
    Link(String),
    /// `X-Next-Page` (or `X-Page` below `X-Total-Pages`) without such a link.
    Page(u64),
}

/// One page of a list (or one object), and where the next page is.
pub(crate) struct Page<T> {
    pub body: T,
    pub next: Option<Next>,
}

/// What became of one try.
enum Outcome<T> {
    Done(Page<T>),
    /// Worth another try; the server may say when, and whether it surely did not act
    /// on the request.
    Retry {
        reason: String,
        after: Option<Duration>,
        unapplied: bool,
    },
    /// A status that no retry will change.
    Status(u16),
    /// A failure that no retry will change (a TLS certificate refused, say).
    Failed(String),
}

/// What a request came to when the status is the caller's business.
pub(crate) enum Answer<T> {
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
pub(crate) fn encode_segment(path: &str) -> String {
    utf8_percent_encode(path, SEGMENT).to_string()
}

impl Client {
    /// A client for the instance at `gitlab_url`. It must be `https`, or `http` on a
    /// loopback address: the token is never sent in clear over a network.
    pub(crate) fn new(gitlab_url: &str, token: Token, settings: Settings) -> Result<Client> {
        let trimmed = gitlab_url.trim().trim_end_matches('/');
        let base = trimmed.strip_suffix("/api/v4").unwrap_or(trimmed);
        Client::build(base, "/api/v4", Service::GitLab, token, settings)
    }

    /// A client for the Elasticsearch or OpenSearch cluster at `url`, on the same
    /// terms as [`Client::new`]; routes follow the URL as given.
    pub(crate) fn elasticsearch(url: &str, key: Token, settings: Settings) -> Result<Client> {
        let base = url.trim().trim_end_matches('/');
        Client::build(base, "", Service::Cluster, key, settings)
    }

    /// A client for the Zendesk account at `url` (`https://example.zendesk.com`), as the
    /// agent `email` with an API token, on the same terms as [`Client::new`].
    pub(crate) fn zendesk(
        url: &str,
        email: &str,
        token: Token,
        settings: Settings,
    ) -> Result<Client> {
        let trimmed = url.trim().trim_end_matches('/');
        let base = trimmed.strip_suffix("/api/v2").unwrap_or(trimmed);
        let mut client = Client::build(base, "/api/v2", Service::Zendesk, token, settings)?;
        client.user = Some(email.to_owned());
        Ok(client)
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
            Service::Zendesk => "the Zendesk URL (ZENDESK_URL or zendesk_url)",
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
            user: None,
            service,
            settings,
        })
    }

    /// The address of an API route (`/groups/60/members/all?per_page=100`).
    pub(crate) fn url(&self, route: &str) -> String {
        format!("{}{route}", self.api)
    }

    /// One JSON document, retried as [`Settings`] allow.
    pub(crate) fn get<T: DeserializeOwned>(
        &self,
        url: &str,
        on_wait: OnWait<'_>,
    ) -> Result<Page<T>> {
        match self.get_answer(url, on_wait)? {
            Answer::Page(page) => Ok(page),
            Answer::Status(status) => Err(self.status_error(Method::Get, url, status)),
        }
    }

    /// Like [`Client::get`], but `None` when the token may not see it (403, 404):
    /// secondary emails are visible to administrators only.
    pub(crate) fn get_if_visible<T: DeserializeOwned>(
        &self,
        url: &str,
        on_wait: OnWait<'_>,
    ) -> Result<Option<T>> {
        match self.get_answer(url, on_wait)? {
            Answer::Page(page) => Ok(Some(page.body)),
            Answer::Status(403 | 404) => Ok(None),
            Answer::Status(status) => Err(self.status_error(Method::Get, url, status)),
        }
    }

    /// Every page of a list, from `url` on, at most `most` elements in all: a list that
    /// never ends is refused rather than held.
    pub(crate) fn get_all<T: DeserializeOwned>(
        &self,
        url: &str,
        most: usize,
        on_wait: OnWait<'_>,
    ) -> Result<Vec<T>> {
        let mut all = Vec::new();
        let mut seen = HashSet::new();
        let mut next = Some(url.to_owned());
        while let Some(current) = next.take() {
            if !seen.insert(current.clone()) {
                return Err(self.circular(&current));
            }
            let page: Page<Items<T>> = self.get(&current, on_wait)?;
            if all.len() + page.body.0.len() > most {
                return Err(FetchError::TooLarge {
                    route: self.shown(url),
                    most,
                }
                .into());
            }
            all.extend(page.body.0);
            if let Some(n) = &page.next {
                next = Some(with_param(url, &self.next_param(url, n)?));
            }
        }
        Ok(all)
    }

    /// The pagination parameter (`cursor=…` or `page=N`) of the page after one of
    /// the list whose first page is `first`. A next link is followed only when it is
    /// the same list as `first`: on this API, the same route, the secret nowhere in it.
    /// Of its query only the cursor or page number is kept; the rest of the address is
    /// `first`'s own, so a server cannot widen the window or add a parameter.
    pub(crate) fn next_param(&self, first: &str, next: &Next) -> Result<String> {
        let link = match next {
            Next::Page(n) => return Ok(format!("page={n}")),
            Next::Link(link) => link,
        };
        let route = self.shown(first);
        if address::holds(link, &self.token.0) {
            return Err(FetchError::SecretInLink { route }.into());
        }
        if !self.origin.covers(link) {
            return Err(FetchError::Outside {
                route: self.shown(link),
            }
            .into());
        }
        if !same_route(first, link) {
            return Err(FetchError::Elsewhere {
                route,
                other: self.shown(link),
            }
            .into());
        }
        if let Some(cursor) = address::query_value(link, "cursor") {
            let cursor: Vec<u8> = percent_encoding::percent_decode_str(cursor).collect();
            if cursor.is_empty() || cursor.len() > MAX_CURSOR {
                return Err(FetchError::NoCursor { route }.into());
            }
            return Ok(format!(
                "cursor={}",
                percent_encoding::percent_encode(&cursor, SEGMENT)
            ));
        }
        match address::query_value(link, "page").map(str::parse::<u64>) {
            Some(Ok(n)) => Ok(format!("page={n}")),
            _ => Err(FetchError::NoCursor { route }.into()),
        }
    }

    /// `body` as JSON to `url`: the answer, or the status that no retry will change,
    /// for the caller to judge.
    pub(crate) fn post<T: DeserializeOwned>(
        &self,
        url: &str,
        body: &serde_json::Value,
        on_wait: OnWait<'_>,
    ) -> Result<Answer<T>> {
        let body = body.to_string();
        let body = Body {
            bytes: body.as_bytes(),
            content_type: "application/json",
        };
        self.send(Method::Post, url, Some(body), Retries::Any, on_wait)
    }

    /// One JSON document, or the status that no retry will change, for the caller to
    /// judge.
    pub(crate) fn get_answer<T: DeserializeOwned>(
        &self,
        url: &str,
        on_wait: OnWait<'_>,
    ) -> Result<Answer<T>> {
        self.send(Method::Get, url, None, Retries::Any, on_wait)
    }

    /// Like [`Client::post`], but any status other than success is an error.
    pub(crate) fn post_ok<T: DeserializeOwned>(
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
    pub(crate) fn delete_quietly(&self, url: &str, body: &serde_json::Value) {
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
        use base64::Engine as _;
        match self.service {
            Service::GitLab => ("PRIVATE-TOKEN", self.token.0.clone()),
            Service::Cluster => ("Authorization", format!("ApiKey {}", self.token.0)),
            Service::Zendesk => {
                let user = self.user.as_deref().unwrap_or_default();
                let pair = format!("{user}/token:{}", self.token.0);
                let encoded = base64::engine::general_purpose::STANDARD.encode(pair);
                ("Authorization", format!("Basic {encoded}"))
            }
        }
    }

    /// A request with `body`, retried as `retries` and [`Settings`] allow: the answer's
    /// JSON, or the status that no retry will change.
    pub(crate) fn send<T: DeserializeOwned>(
        &self,
        method: Method,
        url: &str,
        body: Option<Body<'_>>,
        retries: Retries,
        on_wait: OnWait<'_>,
    ) -> Result<Answer<T>> {
        let route = || self.shown(url);
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
                Outcome::Retry {
                    reason,
                    unapplied: false,
                    ..
                } if retries == Retries::Unapplied => {
                    return Err(FetchError::Failed {
                        method: method_name,
                        route: route(),
                        reason: format!(
                            "{reason}; the server may have acted on it, so it was not sent again"
                        ),
                    }
                    .into());
                }
                Outcome::Retry { reason, after, .. } => (reason, after),
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
        body: Option<Body<'_>>,
    ) -> Outcome<T> {
        let mut response = match self.request(method, url, body) {
            Ok(r) => r,
            Err(e) => return transport_failure(&e),
        };
        let status = response.status().as_u16();
        if let Some(retry) = retry_of(status, &response) {
            return retry;
        }
        if !(200..=299).contains(&status) {
            return Outcome::Status(status);
        }
        let next = next_of(url, &response);
        match read_body(&mut response) {
            Ok(body) => parse_page(&body, next),
            Err(outcome) => outcome,
        }
    }

    /// Sends one request with the secret, asking for JSON.
    fn request(
        &self,
        method: Method,
        url: &str,
        body: Option<Body<'_>>,
    ) -> std::result::Result<ureq::http::Response<ureq::Body>, ureq::Error> {
        let (name, value) = self.auth();
        let body = body.unwrap_or(Body {
            bytes: &[],
            content_type: "application/json",
        });
        match method {
            Method::Get => self
                .agent
                .get(url)
                .header(name, value.as_str())
                .header("Accept", "application/json")
                .call(),
            Method::Post | Method::Put => {
                let request = match method {
                    Method::Put => self.agent.put(url),
                    _ => self.agent.post(url),
                };
                request
                    .header(name, value.as_str())
                    .header("Accept", "application/json")
                    .header("Content-Type", body.content_type)
                    .send(body.bytes)
            }
        }
    }

    /// What messages and state files show of an address: its route without the host
    /// when it is on this server, and never its query (a server's link can carry the
    /// secret or someone's data there), nor anything that holds the secret.
    pub(crate) fn shown(&self, url: &str) -> String {
        let bare = address::without_query(url);
        if address::holds(bare, &self.token.0) {
            return "(an address that holds the secret)".to_owned();
        }
        bare.strip_prefix(&self.base)
            .filter(|route| route.is_empty() || route.starts_with('/'))
            .unwrap_or(bare)
            .to_owned()
    }

    /// A status no retry changes, as an error that says what it likely means.
    pub(crate) fn status_error(&self, method: Method, url: &str, status: u16) -> Error {
        FetchError::Status {
            method: method.name(),
            route: self.shown(url),
            status,
            hint: match self.service {
                Service::GitLab => gitlab_hint(status),
                Service::Cluster => cluster_hint(status),
                Service::Zendesk => zendesk_hint(status),
            },
        }
        .into()
    }

    /// A next page the list has already given: following it would never end.
    pub(crate) fn circular(&self, url: &str) -> Error {
        FetchError::Circular {
            route: self.shown(url),
        }
        .into()
    }
}

/// The longest cursor a next link may carry, decoded.
const MAX_CURSOR: usize = 4096;

/// `first` with the pagination parameter `param` added.
pub(crate) fn with_param(first: &str, param: &str) -> String {
    let sep = if first.contains('?') { '&' } else { '?' };
    format!("{first}{sep}{param}")
}

/// Whether two addresses are the same route as a server understands them.
fn same_route(a: &str, b: &str) -> bool {
    let path = |url: &str| -> Option<Vec<u8>> {
        let uri: ureq::http::Uri = url.parse().ok()?;
        address::understood(uri.path())?.pop()
    };
    path(a).is_some_and(|p| Some(p) == path(b))
}

fn is_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// A status worth another try (429, and 5xx but 501 and 505, which say the server
/// cannot do this at all), with the wait the server asks for.
fn retry_of<T>(status: u16, response: &ureq::http::Response<ureq::Body>) -> Option<Outcome<T>> {
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
        // 429 and 503 refuse the request before acting on it.
        let unapplied = status == 429 || status == 503;
        return Some(Outcome::Retry {
            reason,
            after,
            unapplied,
        });
    }
    None
}

/// The answer's body, within [`MAX_PAGE_BYTES`].
fn read_body<T>(
    response: &mut ureq::http::Response<ureq::Body>,
) -> std::result::Result<Vec<u8>, Outcome<T>> {
    // The limit counts the bytes as they are once decompressed: a page of a few
    // kilobytes of gzip can inflate to gigabytes.
    let mut body = Vec::new();
    let read = response
        .body_mut()
        .with_config()
        .reader()
        .take(MAX_PAGE_BYTES + 1)
        .read_to_end(&mut body);
    if let Err(e) = read {
        return Err(transport_failure(&ureq::Error::from(e)));
    }
    if body.len() as u64 > MAX_PAGE_BYTES {
        return Err(Outcome::Failed(format!(
            "the page is larger than {} MiB once decompressed",
            MAX_PAGE_BYTES >> 20
        )));
    }
    Ok(body)
}

/// The page a body holds, or why not.
fn parse_page<T: DeserializeOwned>(body: &[u8], next: Option<Next>) -> Outcome<T> {
    match serde_json::from_slice(body) {
        Ok(body) => Outcome::Done(Page { body, next }),
        Err(e) => {
            let at = format!("at line {}, column {}", e.line(), e.column());
            match e.classify() {
                // JSON of another shape: asking again brings the same. The error's
                // own text may quote a value of the answer; only its place is shown.
                serde_json::error::Category::Data if e.to_string().starts_with(TOO_MANY_ITEMS) => {
                    Outcome::Failed(format!("{TOO_MANY_ITEMS} ({MAX_PAGE_ITEMS})"))
                }
                serde_json::error::Category::Data => {
                    Outcome::Failed(format!("the answer is not of the shape expected ({at})"))
                }
                // A proxy can cut a page short; the same request may well succeed.
                _ => Outcome::Retry {
                    reason: format!("the response is not the JSON expected ({at})"),
                    after: None,
                    unapplied: false,
                },
            }
        }
    }
}

/// What went wrong below HTTP, in words that carry no header, body or address; a
/// timeout or a dropped connection is worth another try.
fn transport_failure<T>(e: &ureq::Error) -> Outcome<T> {
    let retry = |reason: String| Outcome::Retry {
        reason,
        after: None,
        unapplied: false,
    };
    match e {
        ureq::Error::Timeout(_) => retry("no answer in time".to_owned()),
        ureq::Error::Io(io) => io_failure(io),
        ureq::Error::ConnectionFailed => Outcome::Retry {
            reason: "connection failed".to_owned(),
            after: None,
            unapplied: true,
        },
        ureq::Error::HostNotFound => Outcome::Failed("host not found".to_owned()),
        ureq::Error::BodyExceedsLimit(_) => Outcome::Failed("the page is too large".to_owned()),
        ureq::Error::Decompress(..) => retry("the page's compression is broken".to_owned()),
        ureq::Error::LargeResponseHeader(..) => {
            Outcome::Failed("the answer's headers are too large".to_owned())
        }
        // Their text names the address, which may hold what a server put there.
        ureq::Error::BadUri(_) | ureq::Error::Http(_) => {
            Outcome::Failed("the address is not one logbrief can request".to_owned())
        }
        ureq::Error::Protocol(_) => retry("the answer is not HTTP logbrief can read".to_owned()),
        _ => Outcome::Failed("the request failed".to_owned()),
    }
}

/// What an I/O error on the way to an answer means. The name lookup and the TLS
/// handshake fail as I/O errors too; they are named, and retried only when another
/// try may succeed. Their text comes from the system's resolver or from rustls, never
/// from the server.
fn io_failure<T>(io: &std::io::Error) -> Outcome<T> {
    let text = io.to_string();
    // std's resolver error: "failed to lookup address information: <gai_strerror>".
    if let Some(why) = text.strip_prefix("failed to lookup address information: ") {
        let temporary = why.contains("Temporary failure") || why.contains("try again");
        let reason = format!("the host name could not be resolved (DNS: {why})");
        return if temporary {
            Outcome::Retry {
                reason,
                after: None,
                unapplied: true,
            }
        } else {
            Outcome::Failed(reason)
        };
    }
    // rustls reports a refused handshake as invalid data carrying its own error.
    if io.kind() == std::io::ErrorKind::InvalidData && io.get_ref().is_some() {
        let inner = io.get_ref().map(ToString::to_string).unwrap_or_default();
        return Outcome::Failed(if inner.contains("certificate") {
            format!(
                "the server's TLS certificate was refused ({inner}); check the URL, or have \
                 the server present a certificate a public authority signed"
            )
        } else {
            format!("the TLS handshake failed ({inner})")
        });
    }
    Outcome::Retry {
        reason: format!("connection failed ({})", io.kind()),
        after: None,
        // Connection refused, say: nothing reached the server.
        unapplied: io.kind() == std::io::ErrorKind::ConnectionRefused,
    }
}

/// Where the page after the one `response` answered to `url` is: a `Link` with
/// `rel="next"` (every `Link` header read, the target resolved against `url` as RFC
/// 3986 says), else `X-Next-Page`, else the page after `X-Page` while it is below
/// `X-Total-Pages`: a server that gives the page number but no link still has more.
fn next_of(url: &str, response: &ureq::http::Response<ureq::Body>) -> Option<Next> {
    let headers = response.headers();
    let links: Vec<&str> = headers
        .get_all("link")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    if let Some(link) = next_link(&links.join(",")) {
        return Some(Next::Link(address::resolve(url, &link).unwrap_or(link)));
    }
    let number =
        |name: &str| -> Option<u64> { headers.get(name)?.to_str().ok()?.trim().parse().ok() };
    if let Some(n) = number("x-next-page") {
        return Some(Next::Page(n));
    }
    let (page, total) = (number("x-page")?, number("x-total-pages")?);
    (page < total).then(|| Next::Page(page + 1))
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

/// `Retry-After`: seconds, or an HTTP date. A number of seconds too large to hold is
/// a wait without end, not no wait at all.
fn retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        return Some(value.parse().map_or(Duration::MAX, Duration::from_secs));
    }
    let at = DateTime::parse_from_rfc2822(value)
        .ok()?
        .with_timezone(&Utc);
    Some((at - now).to_std().unwrap_or_default())
}

/// `RateLimit-Reset`: when the limit resets, in Unix seconds; one beyond any date is a
/// wait without end.
fn reset_at(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let at = value
        .parse()
        .ok()
        .and_then(|secs| DateTime::from_timestamp(secs, 0));
    Some(at.map_or(Duration::MAX, |at| (at - now).to_std().unwrap_or_default()))
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
        assert_eq!(
            retry_after("99999999999999999999", now),
            Some(Duration::MAX),
            "too large to hold is no reason to retry at once"
        );
        assert_eq!(reset_at("99999999999999999999", now), Some(Duration::MAX));
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
        // As the server understands the path: dot segments and their encodings.
        for outside in [
            "https://gitlab.example.com/api/v4/../../admin",
            "https://gitlab.example.com/api/v4/%2e%2e/%2E%2E/admin",
            "https://gitlab.example.com/api/v4/%252e%252e/%252e%252e/admin",
            "https://gitlab.example.com/api/v4/..%2f..%2fadmin",
            "https://gitlab.example.com/api/v4/x%00/../../admin",
        ] {
            assert!(!c.origin.covers(outside), "{outside}");
        }
        assert!(
            c.origin
                .covers("https://gitlab.example.com/api/v4/groups/a/../b%2Fc?x=..")
        );
    }

    #[test]
    fn a_next_link_keeps_only_its_cursor() {
        let c = Client::new(
            "https://gitlab.example.com",
            Token::new("glpat-secret-token-1234"),
            settings(),
        )
        .unwrap();
        let first = "https://gitlab.example.com/api/v4/groups/a/audit_events?per_page=100";
        let param = |link: &str| c.next_param(first, &Next::Link(link.to_owned()));
        assert_eq!(
            param("https://gitlab.example.com/api/v4/groups/a/audit_events?created_after=x&cursor=eyJ%3D")
                .unwrap(),
            "cursor=eyJ%3D"
        );
        assert_eq!(
            param("https://gitlab.example.com/api/v4/groups/a/audit_events?page=3").unwrap(),
            "page=3"
        );
        assert_eq!(c.next_param(first, &Next::Page(4)).unwrap(), "page=4");
        let refused = |link: &str| param(link).unwrap_err().to_string();
        assert!(
            refused("https://gitlab.example.com/api/v4/groups/b/audit_events?cursor=x")
                .contains("another route (/api/v4/groups/b/audit_events)")
        );
        let with_token = refused(
            "https://gitlab.example.com/api/v4/groups/a/audit_events?cursor=x&private_token=glpat-secret-token-1234",
        );
        assert!(with_token.contains("put the secret"), "{with_token}");
        assert!(!with_token.contains("glpat-secret"), "{with_token}");
        assert!(
            refused("https://gitlab.example.com/api/v4/groups/a/audit_events?junk=1")
                .contains("no cursor")
        );
        assert_eq!(with_param(first, "cursor=x"), format!("{first}&cursor=x"));
        assert_eq!(
            c.shown("https://gitlab.example.com/api/v4/x?email=a@b.example"),
            "/api/v4/x"
        );
        assert_eq!(
            c.shown("https://gitlab.example.com/api/v4/glpat-secret-token-1234/x"),
            "(an address that holds the secret)"
        );
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
    fn zendesk_by_email_and_api_token_under_api_v2() {
        let c = Client::zendesk(
            "https://example.zendesk.com/",
            "agent@example.com",
            Token::new("tok"),
            settings(),
        )
        .unwrap();
        assert_eq!(
            c.url("/tickets/4242.json"),
            "https://example.zendesk.com/api/v2/tickets/4242.json"
        );
        assert!(
            !c.origin
                .covers("https://example.zendesk.com/agent/tickets/4242")
        );
        // base64("agent@example.com/token:tok")
        assert_eq!(
            c.auth(),
            (
                "Authorization",
                "Basic YWdlbnRAZXhhbXBsZS5jb20vdG9rZW46dG9r".to_owned()
            )
        );
        let e = c.status_error(Method::Put, &c.url("/tickets/1.json"), 401);
        assert!(e.to_string().contains("check ZENDESK_EMAIL"), "{e}");
        let plain = |u: &str| Client::zendesk(u, "a@b.example", Token::new("t"), settings());
        assert!(plain("http://127.0.0.1:9/").is_ok());
        assert!(plain("http://example.zendesk.com").is_err());
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
