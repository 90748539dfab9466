//! Addresses a server gives (`Link: <…>; rel="next"`), read as RFC 3986 reads them: a
//! reference resolved against the address it came with, dot segments removed; and the
//! path as the server will understand it (percent-decoded, dot segments removed
//! again), which is what decides whether the secret may go there.

use percent_encoding::percent_decode;

/// The parts of a URI reference (RFC 3986, appendix B); the fragment is dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Reference<'a> {
    scheme: Option<&'a str>,
    authority: Option<&'a str>,
    path: &'a str,
    query: Option<&'a str>,
}

fn split(reference: &str) -> Reference<'_> {
    let reference = reference.split('#').next().unwrap_or_default();
    let (scheme, rest) = match reference.find([':', '/', '?']) {
        Some(at)
            if reference.as_bytes()[at] == b':'
                && at > 0
                && reference.as_bytes()[0].is_ascii_alphabetic()
                && reference[..at]
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.')) =>
        {
            (Some(&reference[..at]), &reference[at + 1..])
        }
        _ => (None, reference),
    };
    let (authority, rest) = match rest.strip_prefix("//") {
        Some(after) => {
            let end = after.find(['/', '?']).unwrap_or(after.len());
            (Some(&after[..end]), &after[end..])
        }
        None => (None, rest),
    };
    let (path, query) = match rest.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (rest, None),
    };
    Reference {
        scheme,
        authority,
        path,
        query,
    }
}

/// RFC 3986 §5.2.4, on bytes.
fn remove_dot_segments(path: &[u8]) -> Vec<u8> {
    let mut input: Vec<u8> = path.to_vec();
    let mut at = 0;
    let mut output: Vec<u8> = Vec::with_capacity(path.len());
    let pop = |output: &mut Vec<u8>| {
        let cut = output.iter().rposition(|&b| b == b'/').unwrap_or(0);
        output.truncate(cut);
    };
    while at < input.len() {
        let rest = &input[at..];
        if rest.starts_with(b"../") {
            at += 3;
        } else if rest.starts_with(b"./") || rest.starts_with(b"/./") {
            at += 2;
        } else if rest == b"/." {
            input.truncate(at + 1);
        } else if rest.starts_with(b"/../") {
            at += 3;
            pop(&mut output);
        } else if rest == b"/.." {
            input.truncate(at + 1);
            pop(&mut output);
        } else if rest == b"." || rest == b".." {
            at = input.len();
        } else {
            let start = usize::from(rest.first() == Some(&b'/'));
            let end = rest[start..]
                .iter()
                .position(|&b| b == b'/')
                .map_or(rest.len(), |p| p + start);
            output.extend_from_slice(&rest[..end]);
            at += end;
        }
    }
    output
}

fn remove_dots(path: &str) -> String {
    // Only ASCII dots and slashes are removed: the rest stays valid UTF-8.
    String::from_utf8(remove_dot_segments(path.as_bytes())).unwrap_or_default()
}

/// `reference` resolved against the absolute address `base` (RFC 3986 §5.2.2);
/// `None` when `base` is not absolute.
pub(super) fn resolve(base: &str, reference: &str) -> Option<String> {
    let b = split(base);
    let (scheme, base_authority) = (b.scheme?, b.authority?);
    let r = split(reference.trim());
    let (scheme, authority, path, query) = if let Some(s) = r.scheme {
        (s, r.authority?, remove_dots(r.path), r.query)
    } else if let Some(a) = r.authority {
        (scheme, a, remove_dots(r.path), r.query)
    } else if r.path.is_empty() {
        (
            scheme,
            base_authority,
            b.path.to_owned(),
            r.query.or(b.query),
        )
    } else if r.path.starts_with('/') {
        (scheme, base_authority, remove_dots(r.path), r.query)
    } else {
        let merged = if b.path.is_empty() {
            format!("/{}", r.path)
        } else {
            let folder = b.path.rfind('/').map_or("", |i| &b.path[..=i]);
            format!("{folder}{}", r.path)
        };
        (scheme, base_authority, remove_dots(&merged), r.query)
    };
    let mut out = format!("{scheme}://{authority}{path}");
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    Some(out)
}

/// The path as a server understands it: percent-decoded (again while that changes it,
/// for a server or proxy that decodes twice), a backslash taken as a slash, dot
/// segments removed after each decoding. `None` when a decoding holds a control
/// character (a NUL ends a path early on some servers). Every decoding is returned:
/// each must lie where the secret may go.
pub(super) fn understood(path: &str) -> Option<Vec<Vec<u8>>> {
    let mut forms = Vec::new();
    let mut current = path.as_bytes().to_vec();
    for _ in 0..4 {
        let decoded: Vec<u8> = percent_decode(&current)
            .map(|b| if b == b'\\' { b'/' } else { b })
            .collect();
        if decoded.iter().any(|&b| b < 0x20 || b == 0x7f) {
            return None;
        }
        let done = decoded == current;
        if done && !forms.is_empty() {
            break;
        }
        forms.push(remove_dot_segments(&decoded));
        if done {
            break;
        }
        current = decoded;
    }
    Some(forms)
}

/// `path` holds `secret`, as written or once decoded.
pub(super) fn holds(text: &str, secret: &str) -> bool {
    if secret.len() < 8 {
        // Too short to tell apart from ordinary text (only in tests).
        return false;
    }
    let mut current = text.as_bytes().to_vec();
    for _ in 0..4 {
        if current
            .windows(secret.len())
            .any(|w| w == secret.as_bytes())
        {
            return true;
        }
        let decoded: Vec<u8> = percent_decode(&current).collect();
        if decoded == current {
            return false;
        }
        current = decoded;
    }
    false
}

/// The value of the query parameter `key` of `url`, still encoded.
pub(super) fn query_value<'u>(url: &'u str, key: &str) -> Option<&'u str> {
    let query = split(url).query?;
    query.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        (k == key).then_some(v)
    })
}

/// `url` without its query and fragment.
pub(super) fn without_query(url: &str) -> &str {
    url.split(['?', '#']).next().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_3986_examples() {
        // RFC 3986 §5.4.
        let base = "http://a/b/c/d;p?q";
        for (r, want) in [
            ("g:h", None),
            ("g", Some("http://a/b/c/g")),
            ("./g", Some("http://a/b/c/g")),
            ("g/", Some("http://a/b/c/g/")),
            ("/g", Some("http://a/g")),
            ("//g", Some("http://g")),
            ("?y", Some("http://a/b/c/d;p?y")),
            ("g?y", Some("http://a/b/c/g?y")),
            ("#s", Some("http://a/b/c/d;p?q")),
            ("", Some("http://a/b/c/d;p?q")),
            (".", Some("http://a/b/c/")),
            ("./", Some("http://a/b/c/")),
            ("..", Some("http://a/b/")),
            ("../", Some("http://a/b/")),
            ("../g", Some("http://a/b/g")),
            ("../..", Some("http://a/")),
            ("../../", Some("http://a/")),
            ("../../g", Some("http://a/g")),
            ("../../../g", Some("http://a/g")),
            ("/./g", Some("http://a/g")),
            ("/../g", Some("http://a/g")),
            ("g.", Some("http://a/b/c/g.")),
            ("..g", Some("http://a/b/c/..g")),
            ("./../g", Some("http://a/b/g")),
            ("./g/.", Some("http://a/b/c/g/")),
            ("g/./h", Some("http://a/b/c/g/h")),
            ("g/../h", Some("http://a/b/c/h")),
            ("g;x=1/../y", Some("http://a/b/c/y")),
            ("g?y/./x", Some("http://a/b/c/g?y/./x")),
            ("http://a/api/../x", Some("http://a/x")),
        ] {
            // `g:h` has no authority: not an address logbrief could request.
            assert_eq!(resolve(base, r).as_deref(), want, "{r}");
        }
    }

    #[test]
    fn what_a_server_understands() {
        let forms = |p: &str| {
            understood(p).map(|f| {
                f.into_iter()
                    .map(|b| String::from_utf8(b).unwrap())
                    .collect::<Vec<_>>()
            })
        };
        assert_eq!(
            forms("/api/v4/%2e%2e/%2E%2E/admin")
                .unwrap()
                .last()
                .unwrap(),
            "/admin"
        );
        assert_eq!(
            forms("/api/v4/%252e%252e/admin").unwrap().last().unwrap(),
            "/api/admin"
        );
        assert_eq!(
            forms("/api/v4/..%5c..%5cadmin").unwrap().last().unwrap(),
            "/admin"
        );
        assert_eq!(
            forms("/api/v4/groups/a%2Fb").unwrap(),
            ["/api/v4/groups/a/b"]
        );
        assert!(forms("/api/v4/x%00/../../admin").is_none());
    }

    #[test]
    fn a_secret_in_an_address() {
        let secret = "glpat-stub-7xQ2mZr9LkP4";
        assert!(holds("/x?private_token=glpat-stub-7xQ2mZr9LkP4", secret));
        assert!(holds("/x?t=%67lpat-stub-7xQ2mZr9LkP4", secret));
        assert!(holds("/x?t=%2567lpat-stub-7xQ2mZr9LkP4", secret));
        assert!(!holds("/x?t=glpat-other", secret));
        assert_eq!(
            query_value("https://h/a?x=1&cursor=ab%3D", "cursor"),
            Some("ab%3D")
        );
        assert_eq!(query_value("https://h/a?x=1", "cursor"), None);
        assert_eq!(
            without_query("https://h/a?private_token=x#f"),
            "https://h/a"
        );
    }
}
