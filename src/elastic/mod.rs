//! `pushdown --engine elasticsearch`: the candidate filter as query DSL, for Kibana's
//! Dev Tools console (Elasticsearch, or OpenSearch behind OpenSearch Dashboards).
//!
//! The documents hold the log line's fields already decoded from JSON, so escapes play
//! no part; the text fields are analysed ([`analyser`]), so a name is found by its
//! terms. For each name of the scope (the longest segment of each path in scope and
//! of each former path, as for the expression) and each field attribution reads:
//!
//! - a one-term name `N`: `regexp` `(2f)?N(\..*)?`: the term alone, the term joined by
//!   a dot to what follows (`app.git`, `wiki.git`), and the term right after an
//!   encoded slash (`group%2Fapp` is indexed as `group` and `2fapp`);
//! - a name of several terms (`my-group`): `span_near` of its terms in order, the
//!   first and last as `regexp`s of the same kind;
//! - `projects` or `groups` followed by an owned id with any leading zeros
//!   (`span_near`).
//!
//! A window becomes a `range` on the time field, a day wider on each side.
//!
//! What this filter does not find, where the expression does: an API id whose letters
//! or digits are percent-encoded (`%61cme`): the analyser drops the `%` and splits the
//! term, so no query on the text fields can see through it. No GitLab client writes
//! ids that way; the internal note of a summary from these candidates says so.

mod analyser;
/// The query evaluated as a cluster would, for the tests.
#[cfg(test)]
#[path = "../../tests/cli/es_model.rs"]
mod model;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

use crate::scope::prefilter::Terms;
use analyser::tokens;

/// The indices Kibana's Rails and Workhorse logs live in.
pub(crate) const DEFAULT_INDEX: &str = "pubsub-rails-inf-gprd-*,pubsub-workhorse-inf-gprd-*";
/// The time of a document, as the indices' mapping names it.
pub(crate) const TIME_FIELD: &str = "@timestamp";
/// The fields attribution reads, below the prefix the log line's fields have.
const FIELDS: &[&str] = &["path", "uri", "meta.project", "meta.root_namespace"];

/// What the query needs besides the scope's terms.
pub(crate) struct Plan<'a> {
    /// `json.` in the platform's indices; empty where the fields are the line's own.
    pub prefix: &'a str,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
}

/// A Lucene regular expression matching `text` literally.
fn literal(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if !c.is_alphanumeric() && c != '_' {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn regexp(field: &str, value: String) -> Value {
    json!({"regexp": {field: {"value": value}}})
}

fn span_regexp(field: &str, value: String) -> Value {
    json!({"span_multi": {"match": regexp(field, value)}})
}

fn span_near(clauses: Vec<Value>) -> Value {
    json!({"span_near": {"clauses": clauses, "slop": 0, "in_order": true}})
}

/// The clauses that find `name` in `field`.
fn name_clause(field: &str, name: &str) -> Option<Value> {
    let terms = tokens(name);
    // The first term may follow an encoded slash; the last may go on with a dot.
    let first = |t: &str| format!("(2f)?{}", literal(t));
    let last = |t: &str| format!("{}(\\..*)?", literal(t));
    match terms.as_slice() {
        [] => None,
        [one] => Some(regexp(field, format!("(2f)?{}(\\..*)?", literal(one)))),
        [head, middle @ .., tail] => {
            let mut clauses = vec![span_regexp(field, first(head))];
            clauses.extend(middle.iter().map(|t| json!({"span_term": {field: t}})));
            clauses.push(span_regexp(field, last(tail)));
            Some(span_near(clauses))
        }
    }
}

/// `projects` or `groups` followed by one of `ids`, leading zeros allowed. A term that
/// goes on after the digits (`7abc`) is kept too, as the prefilter keeps it.
fn route_clause(field: &str, route: &str, ids: &std::collections::BTreeSet<u64>) -> Option<Value> {
    if ids.is_empty() {
        return None;
    }
    let ids: Vec<String> = ids.iter().map(u64::to_string).collect();
    Some(span_near(vec![
        json!({"span_term": {field: route}}),
        span_regexp(field, format!("0*({})([^0-9].*)?", ids.join("|"))),
    ]))
}

/// The candidate query: every clause that may find the scope, within the window.
pub(crate) fn query(terms: &Terms, plan: &Plan<'_>) -> Value {
    let mut should = Vec::new();
    for field in FIELDS {
        let field = format!("{}{field}", plan.prefix);
        should.extend(terms.names.iter().filter_map(|n| name_clause(&field, n)));
        should.extend(route_clause(&field, "projects", &terms.project_ids));
        should.extend(route_clause(&field, "groups", &terms.group_ids));
    }
    let mut bool_query = json!({"should": should, "minimum_should_match": 1});
    if let Some(range) = range(plan) {
        bool_query["filter"] = json!([range]);
    }
    json!({"bool": bool_query})
}

/// The window on the time field, or `None` when there is none.
fn range(plan: &Plan<'_>) -> Option<Value> {
    let stamp = |t: DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::Secs, true);
    let mut bounds = serde_json::Map::new();
    if let Some(s) = plan.since {
        bounds.insert("gte".into(), stamp(s).into());
    }
    if let Some(u) = plan.until {
        bounds.insert("lt".into(), stamp(u).into());
    }
    (!bounds.is_empty()).then(|| json!({"range": {TIME_FIELD: bounds}}))
}

/// The fields of a candidate document worth returning: its time and the log line's.
pub(crate) fn source_fields(prefix: &str) -> Value {
    json!([TIME_FIELD, format!("{prefix}*")])
}

/// Documents that look like requests, whose times make a source's period as the other
/// engines' manifests have it (`engines.rs`): a line with a `path` and no `msg`, or a
/// Workhorse `access` line with a `uri`. Start-up and error lines are left out. The
/// internal API calls the other engines leave out are kept: an analysed field cannot
/// tell where a path starts, and a period a little wider is the safe side.
fn requests(prefix: &str) -> Value {
    let field = |name: &str| format!("{prefix}{name}");
    json!({"bool": {"should": [
        {"bool": {
            "filter": [{"exists": {"field": field("path")}}],
            "must_not": [{"exists": {"field": field("msg")}}],
        }},
        {"bool": {"filter": [
            {"match_phrase": {field("msg"): "access"}},
            {"exists": {"field": field("uri")}},
        ]}},
    ], "minimum_should_match": 1}})
}

/// The totals request: every document in the window per index, with the first and
/// last time of those that look like requests (`requests.first`, `requests.last`), so
/// that the manifest's period is the one `summarize` finds in the whole logs.
pub(crate) fn totals(plan: &Plan<'_>) -> Value {
    let everything = match range(plan) {
        Some(range) => json!({"bool": {"filter": [range]}}),
        None => json!({"match_all": {}}),
    };
    json!({
        "size": 0,
        "query": everything,
        "aggs": {"sources": {
            "terms": {"field": "_index", "size": 10000},
            "aggs": {"requests": {
                "filter": requests(plan.prefix),
                "aggs": {
                    "first": {"min": {"field": TIME_FIELD}},
                    "last": {"max": {"field": TIME_FIELD}},
                }
            }}
        }}
    })
}

/// The console requests: the candidates, and the totals per index for the manifest.
pub(crate) fn console(terms: &Terms, plan: &Plan<'_>, index: &str, header: &str) -> String {
    let search = json!({
        "query": query(terms, plan),
        "_source": source_fields(plan.prefix),
        "sort": [{TIME_FIELD: "asc"}],
        "size": 1000,
        "track_total_hits": true,
    });
    let totals = totals(plan);
    let pretty = |v: &Value| serde_json::to_string_pretty(v).expect("JSON values print");
    format!(
        "{header}\
# For Kibana's Dev Tools console. The text fields are queried, not their .keyword
# sub-fields (which ignore values longer than 256 characters); the names are matched
# as the standard analyser indexes them (docs/SCALE.md). The known list is not in the
# query: it is applied, and disclosed, by summarize.
#
# 1. The candidate documents (page on with search_after, or use `logbrief fetch logs`).
GET {index}/_search
{search}

# 2. Every document per index, with the first and last time of those that look like
#    requests: the manifest.
GET {index}/_search
{totals}
",
        search = pretty(&search),
        totals = pretty(&totals),
    )
}

#[cfg(test)]
mod tests {
    use super::model::matches;
    use super::*;

    fn finds(names: &[&str], ids: &[u64], path: &str) -> bool {
        let terms = Terms {
            names: names.iter().map(|n| n.to_string()).collect(),
            project_ids: ids.iter().copied().collect(),
            group_ids: Default::default(),
        };
        let plan = Plan {
            prefix: "json.",
            since: None,
            until: None,
        };
        let doc = json!({"json": {"path": path}});
        matches(&query(&terms, &plan), &doc)
    }

    #[test]
    fn a_name_of_several_terms_is_found_however_the_path_goes_on() {
        for path in [
            "/my-group/app",
            "/My-Group",
            "/api/v4/projects/my-group%2Fapp",
            "/api/v4/groups/parent%2Fmy-group",
            "/my-group.git/info/refs",
            "/parent/my-group.wiki.git/git-upload-pack",
        ] {
            assert!(finds(&["my-group"], &[], path), "{path}");
        }
        // The analyser keeps no separator: `my/group` is found too, and counted out of
        // scope by summarize. Other words are not.
        assert!(finds(&["my-group"], &[], "/my/group"));
        for path in ["/my-groups/app", "/group-my", "/mygroup", "/my-x-group"] {
            assert!(!finds(&["my-group"], &[], path), "{path}");
        }
    }

    #[test]
    fn ids_are_found_after_their_route_only() {
        for path in [
            "/api/v4/projects/7",
            "/api/v4/projects/0007/issues",
            "/api/v4/projects/7.json",
        ] {
            assert!(finds(&["acme"], &[7], path), "{path}");
        }
        for path in [
            "/api/v4/projects/17",
            "/api/v4/groups/7",
            "/api/v4/users/7",
            "/projects/70",
        ] {
            assert!(!finds(&["acme"], &[7], path), "{path}");
        }
    }

    mod soundness {
        use super::*;
        use crate::ingest::Format;
        use crate::scope::prefilter::tests::soundness::{alice, in_scope, lines};
        use proptest::prelude::*;

        proptest! {
            #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

            /// The query finds every line in scope in the document an index holds (the
            /// line decoded, under `json`), unless an API id percent-encodes more than
            /// slashes: the analyser drops the `%` (see the module's comment).
            #[test]
            fn the_query_finds_every_line_in_scope(line in lines()) {
                let (dir, v) = alice();
                let json = &line.json;
                let plain_ids = !json.replace("%2F", "").replace("%2f", "").contains('%');
                if plain_ids && in_scope(&dir, &v, json.as_bytes(), Format::RailsJson) {
                    let doc = json!({
                        "json": serde_json::from_str::<Value>(json).unwrap(),
                        "@timestamp": "2026-03-14T20:06:12Z",
                    });
                    let plan = Plan { prefix: "json.", since: None, until: None };
                    let query = query(&Terms::of(&dir, &v), &plan);
                    prop_assert!(matches(&query, &doc), "{json}");
                }
            }
        }
    }

    #[test]
    fn the_console_requests_name_the_window_and_no_keyword_field() {
        let terms = Terms {
            names: vec!["acme".into()],
            project_ids: [7].into_iter().collect(),
            group_ids: Default::default(),
        };
        let since = DateTime::parse_from_rfc3339("2026-03-14T00:00:00Z")
            .unwrap()
            .to_utc();
        let plan = Plan {
            prefix: "json.",
            since: Some(since),
            until: None,
        };
        let text = console(&terms, &plan, DEFAULT_INDEX, "");
        assert!(text.contains(&format!("GET {DEFAULT_INDEX}/_search")));
        assert!(text.contains(r#""gte": "2026-03-14T00:00:00Z""#), "{text}");
        assert!(!text.contains(".keyword\""), "{text}");
        assert_eq!(text.matches("GET ").count(), 2);
    }
}
