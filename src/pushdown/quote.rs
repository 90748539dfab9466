//! Every value `pushdown` prints goes into its script or query by the rules of the
//! engine that reads it, or is refused (RULES.md §6, "Values in what `pushdown`
//! prints").
//!
//! - DuckDB: a standard SQL string literal. A quote is doubled; a backslash is a
//!   character like any other (escapes are read only in `E'…'`, which values never
//!   go into).
//! - ClickHouse: a string literal whose backslashes start escapes, so a backslash and
//!   a quote are each written after a backslash.
//! - BigQuery: a quoted string whose backslashes start escapes, written the same way;
//!   the expression goes into a raw string (`r'…'`) when one holds it. The table goes
//!   between backticks, where escapes are read too: a name with a backtick or a
//!   backslash is no table's and is refused.
//! - Spark: words of a POSIX shell, between single quotes (the job splits its `--pipe`
//!   command by the same rules).
//! - Elasticsearch: the request line of Kibana's console, which holds an index
//!   pattern only when it is made of the characters an index name may hold
//!   ([`index_pattern`]); the rest goes into JSON, escaped by the serializer.
//!
//! No engine's text holds a control character (a line break, NUL, an escape), a line
//! or paragraph separator or a bidirectional control safely: a line break would end a
//! comment or a request line, and a bidirectional control makes a script read
//! differently from what runs. A value holding one is refused, by the name of its
//! option and never by its content ([`check`]).

use crate::error::{Error, Result};

/// Whether `c` cannot go into any printed script: a control character, a line or
/// paragraph separator, or a bidirectional control (RULES.md §8 keeps the same out of
/// replies).
fn unsafe_char(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{2028}'
                | '\u{2029}'
                | '\u{061C}'
                | '\u{200E}'
                | '\u{200F}'
                | '\u{202A}'..='\u{202E}'
                | '\u{2066}'..='\u{2069}'
        )
}

/// The refusal of a value given as `option`, for `reason`.
pub(super) fn refused(option: &str, reason: impl Into<String>) -> Error {
    Error::Unquotable {
        option: option.to_owned(),
        reason: reason.into(),
    }
}

/// Refuses a value no engine's text holds safely; `option` names it.
pub(super) fn check(option: &str, value: &str) -> Result<()> {
    if value.chars().any(unsafe_char) {
        return Err(refused(
            option,
            "it holds a control character (such as a line break), a line separator or a \
             bidirectional control, which no printed script holds safely",
        ));
    }
    Ok(())
}

/// DuckDB: a standard SQL string literal, its quotes doubled.
pub(super) fn duckdb(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// ClickHouse: a string literal with a backslash before each backslash and quote.
pub(super) fn clickhouse(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('\'');
    for c in text.chars() {
        if matches!(c, '\\' | '\'') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('\'');
    out
}

/// BigQuery: a quoted string with a backslash before each backslash and quote.
pub(super) fn bigquery(text: &str) -> String {
    clickhouse(text)
}

/// BigQuery: a raw string (`r'…'`, backslashes kept as they are) when it can hold
/// `text`, else [`bigquery`]'s quoted string. A raw string holds no quote of its own and
/// cannot end with an odd number of backslashes.
pub(super) fn bigquery_raw(text: &str) -> String {
    let trailing = text.len() - text.trim_end_matches('\\').len();
    if text.contains('\'') || trailing % 2 == 1 {
        bigquery(text)
    } else {
        format!("r'{text}'")
    }
}

/// BigQuery: a table's path between backticks. Escapes are read there as in strings;
/// a table's name holds neither a backtick nor a backslash.
pub(super) fn bigquery_table(option: &str, text: &str) -> Result<String> {
    if text.is_empty() || text.contains(['`', '\\']) {
        return Err(refused(
            option,
            "a BigQuery table is PROJECT.DATASET.TABLE, without backticks or backslashes",
        ));
    }
    Ok(format!("`{text}`"))
}

/// A word for a POSIX shell, whatever it holds: between single quotes, each quote
/// written as `'\''`.
pub(super) fn shell(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// A word for a POSIX shell that stays as it is when it holds nothing the shell reads
/// (for the reader), else [`shell`]'s quoted word; never altered.
pub(super) fn shell_word(text: &str) -> String {
    if !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"@._-+/".contains(&b))
    {
        text.to_owned()
    } else {
        shell(text)
    }
}

/// Refuses a word a program's own argument parser would take for an option.
pub(super) fn not_an_option(option: &str, text: &str, program: &str) -> Result<()> {
    if text.starts_with('-') {
        return Err(refused(
            option,
            format!(
                "it starts with `-`, which {program} would read as an option (write ./ before \
                 a relative path)"
            ),
        ));
    }
    Ok(())
}

/// The longest an index name may be, in bytes.
const INDEX_NAME_BYTES: usize = 255;

/// Checks an index pattern for a console request line: names or `*` patterns
/// separated by commas, each made only of what an index name may hold (lowercase
/// letters, digits, `-`, `_`, `.`, `+`), not starting with `-`, `_` or `+`, at most 255
/// bytes, and not `.` or `..`. A `-` before a later one excludes it, `CLUSTER:` before
/// one names a remote cluster, and `_all` is every index. Elasticsearch refuses `\ / ?
/// " < > | #`, a space and (since 7.0) `:` in a name; the rest of what is left out here
/// (`%`, which a URL decodes, and the other punctuation) no index of the platform
/// holds.
pub(super) fn index_pattern(option: &str, pattern: &str) -> Result<()> {
    let bad = || {
        refused(
            option,
            "an index pattern is index names or `*` patterns separated by commas, each of \
             lowercase letters, digits, `-`, `_`, `.` and `+`, not starting with `-`, `_` or \
             `+` (a `-` before a later one excludes it; `CLUSTER:` names a remote cluster)",
        )
    };
    for (i, element) in pattern.split(',').enumerate() {
        let element = match element.strip_prefix('-') {
            Some(rest) if i > 0 => rest,
            _ => element,
        };
        let (cluster, name) = match element.split_once(':') {
            Some((cluster, name)) => (Some(cluster), name),
            None => (None, element),
        };
        if cluster.is_some_and(|c| !is_name(c)) || !(name == "_all" || is_name(name)) {
            return Err(bad());
        }
    }
    Ok(())
}

/// Whether `name` is an index name or a `*` pattern of names.
fn is_name(name: &str) -> bool {
    let allowed = |c: char| {
        matches!(c, '-' | '_' | '.' | '+' | '*')
            || (c.is_alphanumeric() && c.to_lowercase().eq(std::iter::once(c)))
    };
    !name.is_empty()
        && name.len() <= INDEX_NAME_BYTES
        && !name.starts_with(['-', '_', '+'])
        && name != "."
        && name != ".."
        && name.chars().all(allowed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_dialect_writes_quotes_and_backslashes_its_own_way() {
        let text = r"x\'; SELECT 1; --";
        assert_eq!(duckdb(text), r"'x\''; SELECT 1; --'");
        assert_eq!(clickhouse(text), r"'x\\\'; SELECT 1; --'");
        assert_eq!(bigquery(text), r"'x\\\'; SELECT 1; --'");
        assert_eq!(shell(text), r"'x\'\''; SELECT 1; --'");
        assert_eq!(shell_word("a/b.log"), "a/b.log");
        assert_eq!(shell_word("a b"), "'a b'");
        assert_eq!(shell_word(""), "''");
    }

    #[test]
    fn a_raw_bigquery_string_is_used_only_where_it_holds_the_text() {
        assert_eq!(bigquery_raw(r"(?i)\\u[0-9a-f]"), r"r'(?i)\\u[0-9a-f]'");
        assert_eq!(bigquery_raw(r"a\\"), r"r'a\\'");
        assert_eq!(bigquery_raw(r"a\"), r"'a\\'");
        assert_eq!(bigquery_raw("it's"), r"'it\'s'");
    }

    #[test]
    fn no_value_holds_a_line_break_nul_or_bidirectional_control() {
        for value in [
            "a\nb",
            "a\rb",
            "a\0b",
            "\u{1b}[2J",
            "a\u{2028}b",
            "a\u{202E}b",
            "\t",
        ] {
            let err = check("--source", value).unwrap_err();
            assert_eq!(err.exit_code(), 2);
            let message = err.to_string();
            assert!(message.starts_with("--source: "), "{message}");
        }
        check("--source", "logs/día 1/*.log.gz").unwrap();
    }

    #[test]
    fn index_patterns_hold_only_what_an_index_name_may() {
        for good in [
            "pubsub-rails-inf-gprd-*,pubsub-workhorse-inf-gprd-*",
            "logs-*,-logs-2026.03.01",
            "remote:logs-*",
            "_all",
            ".ds-logs-2026.03.14-000001",
            "*",
            "registros-año",
        ] {
            index_pattern("--source", good).unwrap();
        }
        for bad in [
            "",
            "Logs",
            "logs\nGET /_cluster/settings",
            "logs/_doc",
            "logs _search",
            "logs?pretty",
            "logs#x",
            "logs,",
            "-logs",
            "_logs",
            "+logs",
            "..",
            "logs%2F",
            "a:b:c",
            "logs\"",
            &"a".repeat(256),
        ] {
            assert!(index_pattern("--source", bad).is_err(), "{bad:?}");
        }
    }
}
