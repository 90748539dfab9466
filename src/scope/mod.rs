//! Attribution: which namespace or project a request belongs to (RULES.md §3).
//!
//! This is the security-critical part of logbrief: a request attributed to the wrong
//! node would put one customer's traffic into another customer's answer. Every rule
//! therefore errs towards "undecided", which counts as out of scope; matching is per
//! path segment and case-insensitive, and only paths known to the directory count.

pub(crate) mod prefilter;

use std::borrow::Cow;

use percent_encoding::percent_decode_str;

use crate::directory::{Directory, Node, is_within};
use crate::ingest::Request;
use crate::ingest::audit::AuditEvent;

/// First path segments that are GitLab routes, never namespaces.
const RESERVED: &[&str] = &[
    "-",
    "api",
    "admin",
    "assets",
    "dashboard",
    "explore",
    "help",
    "import",
    "oauth",
    "profile",
    "projects",
    "search",
    "snippets",
    "uploads",
    "users",
];

/// The node a request belongs to, or `None` when the evidence does not decide it.
pub(crate) fn attribute(dir: &Directory, req: &Request<'_>) -> Option<Node> {
    if let Some(project) = req.meta_project.as_deref() {
        return longest_known(dir, &plain_segments(project)?);
    }
    let from_path = attribute_path(dir, &req.path);
    if let Some(root) = req.meta_root_namespace.as_deref() {
        let root_lower = root.trim_matches('/').to_ascii_lowercase();
        // The path decides within the root Rails reported; when it points elsewhere or
        // nowhere, only the root itself is known.
        return match from_path {
            Some(node) if is_within(&dir.path_of(node).to_ascii_lowercase(), &root_lower) => {
                Some(node)
            }
            _ => dir.node_by_path(&root_lower),
        };
    }
    if let Some(node) = attribute_params(dir, req) {
        return Some(node);
    }
    from_path
}

/// The node an audit event belongs to: its entity by id when the directory knows it,
/// else its entity path (one with dot segments decides nothing, as in a request path).
/// Events about users or the instance belong to no namespace.
pub(crate) fn attribute_audit(dir: &Directory, event: &AuditEvent) -> Option<Node> {
    let kind = event.entity_type.as_deref()?;
    let by_id = match kind {
        "Project" => event.entity_id.and_then(|id| dir.project_by_id(id)),
        "Group" | "Namespace" => event.entity_id.and_then(|id| dir.namespace_by_id(id)),
        _ => return None,
    };
    by_id.or_else(|| longest_known(dir, &plain_segments(event.entity_path.as_deref()?)?))
}

/// Route parameters, accepted only when the path agrees with them: Rails mixes query
/// string values into `params`, and `?namespace_id=` must not move a request.
fn attribute_params(dir: &Directory, req: &Request<'_>) -> Option<Node> {
    let path = strip_query(&req.path).to_ascii_lowercase();
    let p = &req.params;
    if let Some(repo) = p.repository_path.as_deref() {
        let segs = git_trimmed(segments(repo));
        let joined = segs.join("/").to_ascii_lowercase();
        if !joined.is_empty() && contains_segments(&path, &joined) {
            return dir.node_by_path(&joined);
        }
    }
    if let (Some(ns), Some(project)) = (p.namespace_id.as_deref(), p.project_id.as_deref()) {
        let joined =
            format!("{}/{}", ns.trim_matches('/'), project.trim_matches('/')).to_ascii_lowercase();
        if contains_segments(&path, &joined) {
            return dir.node_by_path(&joined);
        }
    }
    None
}

/// Whether `path` contains `needle` as whole segments (both lower-cased).
fn contains_segments(path: &str, needle: &str) -> bool {
    let mut from = 0;
    while let Some(pos) = path[from..].find(needle) {
        let start = from + pos;
        let end = start + needle.len();
        let before_ok = start == 0 || path.as_bytes()[start - 1] == b'/';
        let after = path.as_bytes().get(end).copied();
        let after_ok = matches!(after, None | Some(b'/') | Some(b'.'));
        if before_ok && after_ok {
            return true;
        }
        from = start + 1;
    }
    false
}

fn strip_query(path: &str) -> &str {
    let end = path.find(['?', '#']).unwrap_or(path.len());
    &path[..end]
}

fn segments(path: &str) -> Vec<&str> {
    path.split('/').filter(|s| !s.is_empty()).collect()
}

/// The segments of a path that names a namespace or project outright (`meta.project`,
/// an audit event's `entity_path`), or `None` when one is a dot segment or hides one
/// behind percent-encoding: the longest known prefix of `acme/../acme-corp/app` is
/// `acme`, which the path does not name.
fn plain_segments(path: &str) -> Option<Vec<&str>> {
    let segs = segments(path);
    let climbs = segs.iter().any(|s| *s == "." || *s == ".." || disguised(s));
    (!climbs).then_some(segs)
}

/// Cuts a path at the first `.git` or `.wiki.git` segment, which ends a repository path.
fn git_trimmed(mut segs: Vec<&str>) -> Vec<&str> {
    if let Some(i) = segs.iter().position(|s| {
        let lower = s.to_ascii_lowercase();
        lower.ends_with(".git") && lower.len() > 4
    }) {
        let s = segs[i];
        let stem_len = if s.to_ascii_lowercase().ends_with(".wiki.git") && s.len() > 9 {
            s.len() - 9
        } else {
            s.len() - 4
        };
        segs[i] = &s[..stem_len];
        segs.truncate(i + 1);
    }
    segs
}

/// The request path rules: prefixes, API routes, `/-/`, Git suffixes, longest match.
#[cfg_attr(not(fuzzing), allow(unreachable_pub))]
pub fn attribute_path(dir: &Directory, raw: &str) -> Option<Node> {
    let mut segs = segments(strip_query(raw));
    // A server may resolve `..` before routing, so a raw path with dot segments may
    // have reached another project than its text suggests: undecided.
    if segs.iter().any(|s| *s == "." || *s == "..") {
        return None;
    }
    if segs.len() >= 2 && decoded(segs[0]) == "o" {
        segs.drain(..2);
    }
    // GitLab's router decodes percent-encoded letters before it routes (`/a%63me`
    // is `/acme`), so attribution compares decoded segments too (RULES.md §9).
    let first = decoded(segs.first()?).to_ascii_lowercase();
    if first == "api" {
        return attribute_api(dir, &segs);
    }
    if first == "groups" {
        segs.remove(0);
        cut_at_dash(&mut segs);
        if segs.iter().any(|s| disguised(s)) {
            return None;
        }
        let segs = decoded_all(&segs);
        return match longest_known(dir, &segs)? {
            node @ Node::Namespace(_) => Some(node),
            Node::Project(_) => None,
        };
    }
    if RESERVED.contains(&first.as_str()) {
        return None;
    }
    cut_at_dash(&mut segs);
    if segs.iter().any(|s| disguised(s)) {
        return None;
    }
    let segs = decoded_all(&segs);
    longest_known(dir, &git_trimmed(segs.iter().map(|s| &**s).collect()))
}

/// A segment with its percent-encoding decoded (once), as the router reads it. Only
/// for segments that are not [`disguised`]: what decodes to a separator, a dot segment
/// or another escape decides nothing.
fn decoded(segment: &str) -> Cow<'_, str> {
    if segment.contains('%') {
        percent_decode_str(segment).decode_utf8_lossy()
    } else {
        Cow::Borrowed(segment)
    }
}

fn decoded_all<'a>(segs: &[&'a str]) -> Vec<Cow<'a, str>> {
    segs.iter().map(|s| decoded(s)).collect()
}

/// A routed segment that hides a separator or a dot segment behind percent-encoding
/// (`%2F`, `%2e%2e`, `%252F`): decoded by some server on the way, it could name
/// another path, so it decides nothing.
fn disguised(segment: &str) -> bool {
    if !segment.contains('%') {
        return false;
    }
    let decoded = percent_decode_str(segment).decode_utf8_lossy();
    decoded.contains(['/', '\\', '%']) || decoded == "." || decoded == ".."
}

fn cut_at_dash(segs: &mut Vec<&str>) {
    if let Some(i) = segs.iter().position(|s| *s == "-") {
        segs.truncate(i);
    }
}

/// `/api/v4/projects/<id or encoded path>/...` and `/api/v4/groups/<...>/...`; any other
/// API route is undecided.
fn attribute_api(dir: &Directory, segs: &[&str]) -> Option<Node> {
    let [_, version, collection, id, ..] = segs else {
        return None;
    };
    if !version.starts_with('v') {
        return None;
    }
    let decoded: Cow<'_, str> = percent_decode_str(id).decode_utf8().ok()?;
    let decoded = decoded.trim_matches('/');
    let node = if !decoded.is_empty() && decoded.bytes().all(|b| b.is_ascii_digit()) {
        let id: u64 = decoded.parse().ok()?;
        match collection.to_ascii_lowercase().as_str() {
            "projects" => dir.project_by_id(id),
            "groups" => dir.namespace_by_id(id),
            _ => None,
        }
    } else {
        // An encoded path must name the resource exactly: the API answers 404 otherwise.
        let node = dir.node_by_path(&decoded.to_ascii_lowercase())?;
        match (collection.to_ascii_lowercase().as_str(), node) {
            ("projects", Node::Project(_)) | ("groups", Node::Namespace(_)) => Some(node),
            _ => None,
        }
    }?;
    Some(node)
}

/// The longest prefix of `segs` that is a known namespace or project path.
fn longest_known<S: AsRef<str>>(dir: &Directory, segs: &[S]) -> Option<Node> {
    let lower: Vec<String> = segs
        .iter()
        .map(|s| s.as_ref().to_ascii_lowercase())
        .collect();
    (1..=lower.len())
        .rev()
        .find_map(|n| dir.node_by_path(&lower[..n].join("/")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::Params;
    use chrono::DateTime;

    const DIR: &str = r#"{
      "namespaces": [
        {"id": 60, "full_path": "acme", "plan": "premium"},
        {"id": 61, "full_path": "acme/platform", "parent_id": 60},
        {"id": 62, "full_path": "acme/web", "parent_id": 60},
        {"id": 70, "full_path": "acme-corp", "plan": "ultimate"},
        {"id": 80, "full_path": "acmex", "plan": "premium"}
      ],
      "projects": [
        {"id": 7, "path_with_namespace": "acme/platform/api"},
        {"id": 8, "path_with_namespace": "acme/web/site"},
        {"id": 9, "path_with_namespace": "acme/docs", "former_paths": ["acme/handbook"]},
        {"id": 20, "path_with_namespace": "acme-corp/app"},
        {"id": 30, "path_with_namespace": "acmex/tool"}
      ]
    }"#;

    #[derive(Default)]
    struct Row {
        path: &'static str,
        meta_project: Option<&'static str>,
        root: Option<&'static str>,
        ns_param: Option<&'static str>,
        project_param: Option<&'static str>,
        repository_path: Option<&'static str>,
    }

    fn attribute_row(dir: &Directory, row: &Row) -> Option<String> {
        let req = Request {
            meta_project: row.meta_project.map(Into::into),
            meta_root_namespace: row.root.map(Into::into),
            params: Params {
                namespace_id: row.ns_param.map(Into::into),
                project_id: row.project_param.map(Into::into),
                repository_path: row.repository_path.map(Into::into),
                ..Params::default()
            },
            ..Request::at_path(row.path)
        };
        attribute(dir, &req).map(|n| dir.path_of(n).to_owned())
    }

    /// Audit events: (what it guards, entity type, entity id, entity path, where it
    /// belongs).
    #[test]
    #[rustfmt::skip]
    fn audit_attribution_table() {
        let dir = Directory::from_slice(DIR.as_bytes()).unwrap();
        type Row = (&'static str, &'static str, Option<u64>, Option<&'static str>, Option<&'static str>);
        let rows: Vec<Row> = vec![
            ("a known project id wins over the path", "Project", Some(7), Some("acme-corp/app"), Some("acme/platform/api")),
            ("a known group id", "Group", Some(61), None, Some("acme/platform")),
            ("an unknown id falls to the path, in any case", "Project", Some(999), Some("ACME/docs"), Some("acme/docs")),
            ("a foreign path", "Project", Some(999), Some("acmex/tool"), Some("acmex/tool")),
            ("an unknown project under an owned group", "Project", None, Some("acme/unlisted"), Some("acme")),
            ("user events belong to no namespace", "User", Some(7), Some("acme"), None),
            ("instance events belong to no namespace", "Gitlab::Audit::InstanceScope", Some(1), Some("acme"), None),
            ("no entity type", "", Some(7), Some("acme"), None),
            ("dot segments climb out of an owned group", "Project", None, Some("acme/../acme-corp/app"), None),
            ("dot segments climb into an owned group", "Project", None, Some("acme-corp/../acme/docs"), None),
            ("a lone dot segment", "Project", None, Some("acme/./docs"), None),
            ("a trailing dot segment", "Group", None, Some("acme/docs/.."), None),
            ("an encoded dot segment", "Project", None, Some("acme/%2e%2e/acme-corp/app"), None),
            ("an encoded dot segment in upper case", "Project", None, Some("acme/%2E%2E/acme-corp/app"), None),
            ("an encoded slash", "Project", None, Some("acme%2F..%2Facme-corp%2Fapp"), None),
            ("a known id still decides", "Project", Some(9), Some("acme/../acme-corp/app"), Some("acme/docs")),
        ];
        let mut failures = vec![];
        for (why, kind, id, path, want) in rows {
            let event = AuditEvent {
                id: None,
                author_id: None,
                author_name: None,
                author_email: None,
                entity_id: id,
                entity_type: (!kind.is_empty()).then(|| kind.to_owned()),
                entity_path: path.map(str::to_owned),
                target_type: None,
                target_details: None,
                action: "x",
                ip: None,
                time: DateTime::UNIX_EPOCH,
            };
            let got = attribute_audit(&dir, &event).map(|n| dir.path_of(n).to_owned());
            if got.as_deref() != want {
                failures.push(format!("{why}: {path:?} -> {got:?}, want {want:?}"));
            }
        }
        assert!(failures.is_empty(), "\n{}", failures.join("\n"));
    }

    /// Every rule of RULES.md §3 is a row: (what it guards, the request, where it belongs).
    #[test]
    #[rustfmt::skip]
    fn attribution_table() {
        let dir = Directory::from_slice(DIR.as_bytes()).unwrap();
        let p = |path| Row { path, ..Row::default() };
        let rows: Vec<(&str, Row, Option<&str>)> = vec![
            ("meta.project decides", Row { path: "/api/graphql", meta_project: Some("acme/web/site"), ..Row::default() }, Some("acme/web/site")),
            ("meta.project wins over the path", Row { path: "/acme-corp/app", meta_project: Some("acme/docs"), ..Row::default() }, Some("acme/docs")),
            ("meta.project of an unknown project falls to its namespace", Row { path: "/x", meta_project: Some("acme/platform/new"), ..Row::default() }, Some("acme/platform")),
            ("root_namespace confirms the path", Row { path: "/api/v4/projects/7/issues", root: Some("acme"), ..Row::default() }, Some("acme/platform/api")),
            ("root_namespace overrides a foreign path", Row { path: "/acme-corp/app", root: Some("acme"), ..Row::default() }, Some("acme")),
            ("root_namespace alone", Row { path: "/api/v4/projects", root: Some("acme"), ..Row::default() }, Some("acme")),
            ("params namespace_id/project_id", Row { path: "/acme/docs/blob/main/x", ns_param: Some("acme"), project_param: Some("docs"), ..Row::default() }, Some("acme/docs")),
            ("params in a query string do not move a request", Row { path: "/dashboard?namespace_id=acme&project_id=docs", ns_param: Some("acme"), project_param: Some("docs"), ..Row::default() }, None),
            ("params repository_path", Row { path: "/acme/web/site.git/info/refs", repository_path: Some("acme/web/site.git"), ..Row::default() }, Some("acme/web/site")),
            ("/-/ route", p("/acme/platform/api/-/issues/3"), Some("acme/platform/api")),
            ("/-/ in a group", p("/acme/platform/-/merge_requests"), Some("acme/platform")),
            ("legacy route without /-/", p("/acme/docs/blob/main/README.md"), Some("acme/docs")),
            ("former path", p("/acme/handbook/-/wikis/home"), Some("acme/docs")),
            ("unknown project under an owned group", p("/acme/unlisted/-/issues"), Some("acme")),
            ("query string ignored", p("/acme/web/site?ref=acme-corp/app"), Some("acme/web/site")),
            ("query string path not used", p("/dashboard?path=/acme/docs"), None),
            (".git info/refs", p("/acme/platform/api.git/info/refs?service=git-upload-pack"), Some("acme/platform/api")),
            (".git git-upload-pack", p("/acme/platform/api.git/git-upload-pack"), Some("acme/platform/api")),
            (".git git-receive-pack", p("/acme/web/site.git/git-receive-pack"), Some("acme/web/site")),
            (".git LFS", p("/acme/platform/api.git/info/lfs/objects/batch"), Some("acme/platform/api")),
            (".wiki.git", p("/acme/docs.wiki.git/info/refs?service=git-upload-pack"), Some("acme/docs")),
            ("Git suffix without .git", p("/acme/docs/info/refs"), Some("acme/docs")),
            ("API project id", p("/api/v4/projects/7/issues"), Some("acme/platform/api")),
            ("API project id, foreign", p("/api/v4/projects/20/issues"), Some("acme-corp/app")),
            ("API unknown project id", p("/api/v4/projects/999/issues"), None),
            ("API url-encoded path with an encoded file path", p("/api/v4/projects/acme%2Fplatform%2Fapi/repository/files/src%2Fmain.rs/raw"), Some("acme/platform/api")),
            ("API lower-case encoding", p("/api/v4/projects/acme%2fdocs"), Some("acme/docs")),
            ("API encoded path must be exact", p("/api/v4/projects/acme%2Funlisted/issues"), None),
            ("API double encoding is not decoded twice", p("/api/v4/projects/acme%252Fdocs"), None),
            ("API encoded group path", p("/api/v4/groups/acme%2Fweb/members"), Some("acme/web")),
            ("API group id", p("/api/v4/groups/60/projects"), Some("acme")),
            ("API group route never yields a project", p("/api/v4/groups/acme%2Fdocs"), None),
            ("API without a namespace", p("/api/v4/projects"), None),
            ("GraphQL", p("/api/graphql"), None),
            ("/groups/<path>", p("/groups/acme/-/activity"), Some("acme")),
            ("/groups/<subgroup>", p("/groups/acme/platform/-/issues"), Some("acme/platform")),
            ("/o/<organization> prefix", p("/o/acme-org/acme/web/site/-/merge_requests"), Some("acme/web/site")),
            ("case-insensitive", p("/ACME/Platform/API/-/tree/main"), Some("acme/platform/api")),
            ("prefix trap: hyphenated sibling", p("/acme-corp/app/-/issues"), Some("acme-corp/app")),
            ("prefix trap: longer name", p("/acmex/tool"), Some("acmex/tool")),
            ("prefix trap: unknown longer name", p("/acmez/tool"), None),
            ("top-level routes", p("/dashboard/activity"), None),
            ("sign-in", p("/users/sign_in"), None),
            ("root", p("/"), None),
            ("double slashes collapse", p("//acme//docs"), Some("acme/docs")),
            ("trailing dot is not the namespace", p("/acme./docs"), None),
        ];
        check(&dir, &rows);
    }

    /// Tricks that try to move a request into (or out of) an owner's scope. Each is
    /// attributed correctly or left undecided, never given to the wrong owner.
    #[test]
    #[rustfmt::skip]
    fn adversarial_attribution_table() {
        let dir = Directory::from_slice(DIR.as_bytes()).unwrap();
        let p = |path| Row { path, ..Row::default() };
        let rows: Vec<(&str, Row, Option<&str>)> = vec![
            ("dot segments climb out of a project", p("/acme/docs/../../acme-corp/app"), None),
            ("dot segments after /-/", p("/acme/docs/-/blob/main/../../../../acme-corp/app"), None),
            ("a lone dot segment", p("/acme/./docs"), None),
            ("encoded slash in a web path", p("/acme%2Fdocs"), None),
            ("encoded letters in a web path", p("/a%63me/docs"), Some("acme/docs")),
            ("encoded letters in a Git path", p("/%61cme/docs/-/raw/main/README.md"), Some("acme/docs")),
            ("encoded letters in a group path", p("/groups/%61cme/-/activity"), Some("acme")),
            ("encoded letters never make a look-alike the owner's", p("/acme%2Dcorp/app"), Some("acme-corp/app")),
            ("encoded slash hiding a climb", p("/acme/docs%2F..%2F..%2Facme-corp%2Fapp"), None),
            ("encoded dot segment", p("/acme/%2e%2e/acme-corp/app"), None),
            ("double-encoded slash", p("/acme/docs%252F..%252Facme-corp"), None),
            ("encoded backslash", p("/acme/docs%5C..%5Cacme-corp"), None),
            ("encoded slash in a file name after /-/ is file data", p("/acme/docs/-/blob/main/a%2Fb.md"), Some("acme/docs")),
            ("API path that climbs", p("/api/v4/projects/acme%2Fdocs%2F..%2F..%2Facme-corp%2Fapp"), None),
            ("API double-encoded path", p("/api/v4/projects/acme-corp%252Fapp"), None),
            ("API foreign numeric id", p("/api/v4/projects/20/repository/files/acme%2Fdocs/raw"), Some("acme-corp/app")),
            ("API id with a sign", p("/api/v4/projects/+7/issues"), None),
            ("API id with leading zeros", p("/api/v4/projects/007/issues"), Some("acme/platform/api")),
            ("Unicode look-alike (Cyrillic a)", p("/\u{430}cme/docs"), None),
            ("full-width letters", p("/\u{ff41}cme/docs"), None),
            ("trailing dot on the project", p("/acme/docs./-/issues"), Some("acme")),
            ("/-/ inside a foreign file name", p("/acme-corp/app/-/blob/main/acme/docs/-/x"), Some("acme-corp/app")),
            (".git inside a foreign file name", p("/acme-corp/app/-/raw/main/acme/docs.git/info/refs"), Some("acme-corp/app")),
            (".git in a foreign project's file path", p("/acme-corp/app/blob/main/acme/docs.git"), Some("acme-corp/app")),
            ("owned path only in the query string", p("/acme-corp/app?redirect=/acme/docs"), Some("acme-corp/app")),
            ("owned path only in a fragment", p("/acme-corp/app#/acme/docs"), Some("acme-corp/app")),
            ("organization prefix cannot carry a namespace", p("/o/acme/acme-corp/app"), Some("acme-corp/app")),
            ("groups route cannot name a project", p("/groups/acme/docs"), None),
            ("groups route to a foreign group", p("/groups/acme-corp/-/issues"), Some("acme-corp")),
            ("renamed project: old path", p("/acme/handbook"), Some("acme/docs")),
            ("hyphenated prefix in upper case", p("/ACME-CORP/APP"), Some("acme-corp/app")),
            ("empty path", p(""), None),
            ("only slashes", p("///"), None),
            ("meta.project of a foreign project wins over an owned path", Row { path: "/acme/docs", meta_project: Some("acme-corp/app"), ..Row::default() }, Some("acme-corp/app")),
            ("meta.project with dot segments decides nothing", Row { path: "/acme/docs", meta_project: Some("acme/../acme-corp/app"), ..Row::default() }, None),
            ("meta.project with an encoded dot segment", Row { path: "/acme/docs", meta_project: Some("acme/%2e%2e/acme-corp/app"), ..Row::default() }, None),
            ("foreign root_namespace with an owned path stays foreign", Row { path: "/acme/docs", root: Some("acme-corp"), ..Row::default() }, Some("acme-corp")),
            ("params that name an owned project on a foreign path", Row { path: "/acme-corp/app", ns_param: Some("acme"), project_param: Some("docs"), ..Row::default() }, Some("acme-corp/app")),
        ];
        check(&dir, &rows);
    }

    fn check(dir: &Directory, rows: &[(&str, Row, Option<&str>)]) {
        let mut failures = vec![];
        for (why, row, want) in rows {
            let got = attribute_row(dir, row);
            if got.as_deref() != *want {
                failures.push(format!("{why}: {} -> {got:?}, want {want:?}", row.path));
            }
        }
        assert!(failures.is_empty(), "\n{}", failures.join("\n"));
    }
}
