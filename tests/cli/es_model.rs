//! An evaluator of the query DSL subset `pushdown --engine elasticsearch` writes, over
//! documents indexed as the standard analyser indexes them (`analyser.rs`). It stands
//! in for a cluster in the tests: the crate's unit tests and the stub cluster of
//! `esfetch.rs` include it, each beside `src/elastic/analyser.rs`.

use super::analyser::tokens;

/// Whether `doc` (an object of field names to string values; a field may also hold an
/// array of strings) matches `query`, in the subset of the query DSL the filter uses:
/// `bool` (`filter`, `must`, `must_not`, `should` with `minimum_should_match`),
/// `range` on a time (RFC 3339 or epoch milliseconds), `match_phrase`, `regexp`,
/// `span_near` (in order, `slop` 0) over `span_term` and `span_multi` of a `regexp`,
/// `exists` and `match_all`. Anything else panics: the model must not guess.
pub(super) fn matches(query: &serde_json::Value, doc: &serde_json::Value) -> bool {
    use serde_json::Value;
    let (kind, body) = only(query);
    match kind {
        "match_all" => true,
        "exists" => !field_scalars(doc, body["field"].as_str().unwrap(), true).is_empty(),
        "bool" => {
            let all = |key: &str| -> Vec<&Value> {
                body.get(key)
                    .map(|v| v.as_array().unwrap().iter().collect())
                    .unwrap_or_default()
            };
            let filters_hold = all("filter").iter().all(|q| matches(q, doc))
                && all("must").iter().all(|q| matches(q, doc))
                && !all("must_not").iter().any(|q| matches(q, doc));
            let should = all("should");
            let wanted = body
                .get("minimum_should_match")
                .map_or(if should.is_empty() { 0 } else { 1 }, |m| {
                    m.as_u64().unwrap()
                });
            let hits = should.iter().filter(|q| matches(q, doc)).count() as u64;
            filters_hold && hits >= wanted
        }
        "range" => {
            let (field, bounds) = only(body);
            let Some(value) = field_values(doc, field).into_iter().next() else {
                return false;
            };
            let t = chrono::DateTime::parse_from_rfc3339(&value).unwrap();
            // A bound is RFC 3339, or epoch milliseconds (a time's sort value).
            let bound = |key: &str| {
                bounds.get(key).map(|b| match b.as_i64() {
                    Some(ms) => chrono::DateTime::from_timestamp_millis(ms)
                        .unwrap()
                        .fixed_offset(),
                    None => chrono::DateTime::parse_from_rfc3339(b.as_str().unwrap()).unwrap(),
                })
            };
            bound("gte").is_none_or(|b| t >= b)
                && bound("gt").is_none_or(|b| t > b)
                && bound("lt").is_none_or(|b| t < b)
                && bound("lte").is_none_or(|b| t <= b)
        }
        "match_phrase" => {
            let (field, phrase) = only(body);
            let wanted = tokens(phrase.as_str().unwrap());
            field_values(doc, field).iter().any(|v| {
                let have = tokens(v);
                !wanted.is_empty() && have.windows(wanted.len()).any(|w| w == wanted.as_slice())
            })
        }
        "regexp" => {
            let (field, re) = regexp_of(body);
            field_values(doc, field)
                .iter()
                .any(|v| tokens(v).iter().any(|t| re.is_match(t)))
        }
        "span_near" => {
            assert_eq!(body["slop"], 0, "only adjacent spans are modelled");
            assert_eq!(body["in_order"], true, "only ordered spans are modelled");
            let clauses: Vec<(&str, TermTest)> = body["clauses"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| span(c))
                .collect();
            let field = clauses[0].0;
            assert!(
                clauses.iter().all(|(f, _)| *f == field),
                "spans of one field"
            );
            field_values(doc, field).iter().any(|v| {
                let have = tokens(v);
                have.windows(clauses.len())
                    .any(|w| w.iter().zip(&clauses).all(|(t, (_, ok))| ok(t)))
            })
        }
        other => panic!("the model has no {other} query"),
    }
}

/// The one key of an object and its value.
fn only(v: &serde_json::Value) -> (&str, &serde_json::Value) {
    let o = v.as_object().expect("an object");
    assert_eq!(o.len(), 1, "one key: {v}");
    let (k, v) = o.iter().next().unwrap();
    (k.as_str(), v)
}

/// A `regexp` query's field and expression, anchored as Lucene's are (the whole term).
fn regexp_of(body: &serde_json::Value) -> (&str, regex::Regex) {
    let (field, spec) = only(body);
    let value = spec.get("value").unwrap_or(spec).as_str().unwrap();
    (field, compiled(value))
}

/// The anchored expression of `value`, compiled once per thread: a query is evaluated
/// against many documents, and compiling is most of the cost.
fn compiled(value: &str) -> regex::Regex {
    use std::cell::RefCell;
    use std::collections::HashMap;
    /// Enough for every expression of a query; the property tests make a new one for
    /// nearly every case, so the cache starts over when it is full.
    const KEPT: usize = 1024;
    thread_local! {
        static COMPILED: RefCell<HashMap<String, regex::Regex>> = RefCell::default();
    }
    COMPILED.with_borrow_mut(|seen| {
        if let Some(re) = seen.get(value) {
            return re.clone();
        }
        if seen.len() >= KEPT {
            seen.clear();
        }
        let re = regex::Regex::new(&format!("^(?:{value})$")).unwrap();
        seen.insert(value.to_owned(), re.clone());
        re
    })
}

/// What a term must be to stand in one place of a `span_near`.
type TermTest = Box<dyn Fn(&str) -> bool>;

/// One clause of a `span_near`: its field and what a term must be.
fn span(clause: &serde_json::Value) -> (&str, TermTest) {
    let (kind, body) = only(clause);
    match kind {
        "span_term" => {
            let (field, term) = only(body);
            let term = term.as_str().unwrap().to_owned();
            (field, Box::new(move |t: &str| t == term))
        }
        "span_multi" => {
            let (inner, body) = only(&body["match"]);
            assert_eq!(inner, "regexp", "span_multi of a regexp only");
            let (field, re) = regexp_of(body);
            (field, Box::new(move |t: &str| re.is_match(t)))
        }
        other => panic!("the model has no {other} span"),
    }
}

/// The strings a document holds at `field` (a dotted name), whether it is written as
/// one key (`json.path`) or as nested objects (`json` then `path`).
fn field_values(doc: &serde_json::Value, field: &str) -> Vec<String> {
    field_scalars(doc, field, false)
}

/// Like [`field_values`]; with `any`, numbers and booleans count too (as text).
fn field_scalars(doc: &serde_json::Value, field: &str, any: bool) -> Vec<String> {
    fn walk(v: &serde_json::Value, rest: &str, any: bool, out: &mut Vec<String>) {
        match v {
            serde_json::Value::String(s) if rest.is_empty() => out.push(s.clone()),
            serde_json::Value::Number(_) | serde_json::Value::Bool(_) if any && rest.is_empty() => {
                out.push(v.to_string());
            }
            serde_json::Value::Array(items) => {
                for item in items {
                    walk(item, rest, any, out);
                }
            }
            serde_json::Value::Object(map) => {
                for (key, value) in map {
                    if let Some(after) = rest.strip_prefix(key.as_str())
                        && (after.is_empty() || after.starts_with('.'))
                    {
                        walk(value, after.trim_start_matches('.'), any, out);
                    }
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(doc, field, any, &mut out);
    out
}

#[test]
fn the_query_subset_evaluates_as_the_cluster_would() {
    let doc = serde_json::json!({
        "@timestamp": "2026-03-14T20:06:12Z",
        "json": {"path": "/api/v4/projects/007/issues", "meta.project": "Acme/App"}
    });
    let q = |v: serde_json::Value| matches(&v, &doc);
    assert!(q(
        serde_json::json!({"match_phrase": {"json.meta.project": "acme/app"}})
    ));
    assert!(!q(
        serde_json::json!({"match_phrase": {"json.meta.project": "app/acme"}})
    ));
    assert!(q(
        serde_json::json!({"regexp": {"json.path": {"value": "0*7"}}})
    ));
    assert!(!q(
        serde_json::json!({"regexp": {"json.path": {"value": "7"}}})
    ));
    assert!(q(serde_json::json!({"span_near": {"clauses": [
        {"span_term": {"json.path": "projects"}},
        {"span_multi": {"match": {"regexp": {"json.path": {"value": "0*7"}}}}}
    ], "slop": 0, "in_order": true}})));
    assert!(!q(serde_json::json!({"span_near": {"clauses": [
        {"span_term": {"json.path": "v4"}},
        {"span_multi": {"match": {"regexp": {"json.path": {"value": "0*7"}}}}}
    ], "slop": 0, "in_order": true}})));
    assert!(q(serde_json::json!({"bool": {
        "filter": [{"range": {"@timestamp": {"gte": "2026-03-14T00:00:00Z", "lt": "2026-03-15T00:00:00Z"}}}],
        "should": [{"match_all": {}}], "minimum_should_match": 1}})));
    assert!(!q(serde_json::json!({"bool": {
        "filter": [{"range": {"@timestamp": {"gte": "2026-03-15T00:00:00Z"}}}]}})));
    assert!(q(serde_json::json!({"exists": {"field": "json.path"}})));
    assert!(!q(serde_json::json!({"exists": {"field": "json.msg"}})));
    assert!(!q(serde_json::json!({"bool": {
        "must_not": [{"exists": {"field": "json.meta.project"}}]}})));
}
