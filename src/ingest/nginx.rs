//! NGINX access logs: the `combined` format and GitLab's `gitlab_access.log`, which is
//! `combined` without query strings plus a trailing `$gzip_ratio`.
//!
//! ```text
//! $remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" [$gzip_ratio]
//! ```
//!
//! Quoted fields may hold escaped quotes (`\"` from Apache-style logs, `\x22` from
//! NGINX's default escaping); anything after the user agent is ignored.

use std::borrow::Cow;

use chrono::{DateTime, Utc};

use super::{Line, Params, Request, Source, parse_ip};

/// Parses one access-log line (without its terminator).
#[cfg_attr(not(fuzzing), allow(unreachable_pub))]
pub fn parse_line(bytes: &[u8]) -> Line<'_> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Line::NotRequest;
    }
    let Ok(text) = std::str::from_utf8(bytes) else {
        return Line::Malformed("not valid UTF-8");
    };
    match fields(text) {
        Some(f) => f.into_line(),
        None => Line::Malformed("not an access log line"),
    }
}

struct Fields<'a> {
    remote_addr: &'a str,
    remote_user: &'a str,
    time: &'a str,
    request: Cow<'a, str>,
    status: &'a str,
    user_agent: Option<Cow<'a, str>>,
}

/// Splits a line into its fields; `None` when the shape is not the combined format.
fn fields(text: &str) -> Option<Fields<'_>> {
    let mut rest = text.trim_end();
    let remote_addr = token(&mut rest)?;
    let _ident = token(&mut rest)?;
    let remote_user = token(&mut rest)?;
    rest = rest.strip_prefix('[')?;
    let end = rest.find(']')?;
    let time = &rest[..end];
    rest = rest[end + 1..].trim_start();
    let request = quoted(&mut rest)?;
    let status = token(&mut rest)?;
    let _bytes = token(&mut rest)?;
    // Referer and user agent are optional: the `common` format stops here.
    let user_agent = if rest.is_empty() {
        None
    } else {
        let _referer = quoted(&mut rest)?;
        if rest.is_empty() {
            None
        } else {
            Some(quoted(&mut rest)?)
        }
    };
    Some(Fields {
        remote_addr,
        remote_user,
        time,
        request,
        status,
        user_agent,
    })
}

/// The next space-separated token.
fn token<'a>(rest: &mut &'a str) -> Option<&'a str> {
    let s = rest.trim_start();
    if s.is_empty() {
        return None;
    }
    let end = s.find(' ').unwrap_or(s.len());
    *rest = s[end..].trim_start();
    Some(&s[..end])
}

/// The next double-quoted field, unescaping `\"`, `\\` and `\xHH`.
fn quoted<'a>(rest: &mut &'a str) -> Option<Cow<'a, str>> {
    let s = rest.trim_start().strip_prefix('"')?;
    let bytes = s.as_bytes();
    let mut i = 0;
    let mut escaped = false;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => {
                escaped = true;
                i += 2;
                continue;
            }
            b'"' => break,
            _ => i += 1,
        }
    }
    if i >= bytes.len() {
        return None;
    }
    let raw = &s[..i];
    *rest = s[i + 1..].trim_start();
    if !escaped {
        return Some(Cow::Borrowed(raw));
    }
    let mut out = Vec::with_capacity(raw.len());
    let rb = raw.as_bytes();
    let mut j = 0;
    while j < rb.len() {
        if rb[j] == b'\\' && j + 1 < rb.len() {
            // Bytes, not a str slice: a multi-byte character may follow `\x`.
            if rb[j + 1] == b'x'
                && j + 3 < rb.len()
                && let (Some(hi), Some(lo)) = (hex_digit(rb[j + 2]), hex_digit(rb[j + 3]))
            {
                out.push(hi * 16 + lo);
                j += 4;
                continue;
            }
            out.push(rb[j + 1]);
            j += 2;
        } else {
            out.push(rb[j]);
            j += 1;
        }
    }
    Some(Cow::Owned(String::from_utf8_lossy(&out).into_owned()))
}

fn hex_digit(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

/// `$time_local`: `17/May/2015:10:05:03 +0000`, any offset.
fn parse_time_local(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_str(s, "%d/%b/%Y:%H:%M:%S %z")
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

impl<'a> Fields<'a> {
    fn into_line(self) -> Line<'a> {
        let Some(time) = parse_time_local(self.time) else {
            return Line::Malformed("request without a valid time");
        };
        // `"-"` or a bare word: a connection that never sent a request line.
        let mut parts = self.request.splitn(3, ' ');
        let (Some(method), Some(uri)) = (parts.next(), parts.next()) else {
            return Line::NotRequest;
        };
        if !uri.starts_with('/') {
            return Line::NotRequest;
        }
        let path: Cow<'a, str> = match &self.request {
            Cow::Borrowed(r) => {
                let start = method.len() + 1;
                Cow::Borrowed(&r[start..start + uri.len()])
            }
            Cow::Owned(_) => Cow::Owned(uri.to_owned()),
        };
        let client_ip = parse_ip(self.remote_addr);
        let username = match self.remote_user {
            "-" | "" => None,
            user => Some(Cow::Borrowed(user)),
        };
        Line::Request(Box::new(Request {
            source: Source::Nginx,
            time,
            path,
            status: self.status.parse().ok(),
            client_ip,
            user_id: None,
            username,
            user_agent: self.user_agent.filter(|ua| !ua.is_empty() && ua != "-"),
            correlation_id: None,
            meta_project: None,
            meta_root_namespace: None,
            params: Params::default(),
        }))
    }
}

/// Whether a line looks like the combined format (for detection).
pub(crate) fn looks_like(line: &[u8]) -> bool {
    std::str::from_utf8(line)
        .ok()
        .and_then(fields)
        .is_some_and(|f| parse_time_local(f.time).is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(line: &str) -> Request<'_> {
        match parse_line(line.as_bytes()) {
            Line::Request(r) => *r,
            other => panic!("not a request: {other:?}"),
        }
    }

    #[test]
    fn combined_line_from_a_real_site() {
        let r = request(
            r#"83.149.9.216 - - [17/May/2015:10:05:03 +0000] "GET /presentations/images/kibana-search.png HTTP/1.1" 200 203023 "http://semicomplete.com/presentations/" "Mozilla/5.0 (Macintosh) Chrome/32.0.1700.77 Safari/537.36""#,
        );
        assert_eq!(r.client_ip, Some("83.149.9.216".parse().unwrap()));
        assert_eq!(r.path, "/presentations/images/kibana-search.png");
        assert_eq!(r.status, Some(200));
        assert_eq!(r.time.to_rfc3339(), "2015-05-17T10:05:03+00:00");
        assert_eq!(r.username, None);
        assert!(r.user_agent.as_deref().unwrap().starts_with("Mozilla/5.0"));
    }

    #[test]
    fn gitlab_access_with_user_gzip_ratio_filtered_token_and_offset() {
        let r = request(
            r#"198.51.100.7 - gitlab-ci-token [14/Mar/2026:21:06:12 +0100] "GET /acme/app.git/info/refs?service=git-upload-pack&private_token=[FILTERED] HTTP/1.1" 401 26 "" "git/2.45.1" 1.54"#,
        );
        assert_eq!(r.username.as_deref(), Some("gitlab-ci-token"));
        assert_eq!(r.time.to_rfc3339(), "2026-03-14T20:06:12+00:00");
        assert_eq!(r.status, Some(401));
        assert_eq!(
            r.path,
            "/acme/app.git/info/refs?service=git-upload-pack&private_token=[FILTERED]"
        );
        assert_eq!(r.user_agent.as_deref(), Some("git/2.45.1"));
    }

    #[test]
    fn escaped_quotes_in_fields() {
        let r = request(
            r#"192.0.2.1 - - [14/Mar/2026:20:06:12 +0000] "GET /acme/x?q=\"a\" HTTP/1.1" 200 5 "-" "agent \x22quoted\x22 \"too\"""#,
        );
        assert_eq!(r.path, r#"/acme/x?q="a""#);
        assert_eq!(r.user_agent.as_deref(), Some(r#"agent "quoted" "too""#));
    }

    /// Found by the `nginx_line` fuzz target: `\x` before a multi-byte character made
    /// the unescaping slice a string inside that character.
    #[test]
    fn escape_before_a_multibyte_character_does_not_panic() {
        let line = "192.0.2.1 - - [14/Mar/2026:20:06:12 +0000] \"GET /acme/x\\x\u{49d}pi HTTP/1.1\" 200 5 \"-\" \"a\\x\u{49d}\"";
        let r = request(line);
        // `\x` without two hex digits is a plain escape: the backslash goes.
        assert_eq!(r.path, "/acme/xx\u{49d}pi");
    }

    #[test]
    fn what_is_malformed_and_what_is_not_a_request() {
        let cases: &[(&str, &str)] = &[
            ("", "not_request"),
            (
                r#"192.0.2.1 - - [14/Mar/2026:20:06:12 +0000] "-" 400 0 "-" "-""#,
                "not_request",
            ),
            (
                r#"192.0.2.1 - - [14/Mar/2026:20:06:12 +0000] "\x16\x03\x01" 400 157 "-" "-""#,
                "not_request",
            ),
            (
                r#"192.0.2.1 - - [14/Mar/2026:20:06:12 +0000] "GET /x HTTP/1.1" 200 5 "-" "Mozilla/5.0 (trunc"#,
                "malformed",
            ),
            (
                r#"192.0.2.1 - - [yesterday] "GET /x HTTP/1.1" 200 5 "-" "-""#,
                "malformed",
            ),
            ("just some text", "malformed"),
            (r#"{"time":"2026-03-14T20:06:12Z"}"#, "malformed"),
            (
                r#"192.0.2.1 - - [14/Mar/2026:20:06:12 +0000] "GET /x HTTP/1.1" 200 5"#,
                "request",
            ),
        ];
        for (line, want) in cases {
            let got = match parse_line(line.as_bytes()) {
                Line::Request(_) => "request",
                Line::NotRequest => "not_request",
                Line::Malformed(_) => "malformed",
                Line::Audit(_) => "audit",
            };
            assert_eq!(got, *want, "{line}");
        }
    }
}
