//! See the parent module. Each printed script is read back here by its engine's own
//! rules: SQL by a lexer of the dialect (comments, string literals with or without
//! backslash escapes, BigQuery's raw strings and quoted names), the Spark lines by
//! `/bin/sh` itself, with a `spark-submit` that records the words it is given. A value
//! must come back as it was given, the script around it unchanged, or be refused
//! (exit 2) by the name of its option.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use proptest::prelude::*;

use crate::support::{ALICE_ABOUT_ACME, logbrief, stderr, stdout};

/// The values the benign runs give, found again in their scripts.
const SOURCE_MARK: &str = "srcmark";
const OUTPUT_MARK: &str = "outmark";

/// `pushdown --engine ENGINE` for alice about acme, with `args`.
fn pushdown(engine: &str, args: &[&OsStr]) -> Output {
    logbrief()
        .arg("pushdown")
        .args(&ALICE_ABOUT_ACME[1..])
        .args(["--engine", engine, "--since", "2026-03-15"])
        .args(args)
        .output()
        .unwrap()
}

/// `pushdown` with `--source` and `--output` (joined to their options, as a value
/// that starts with `-` must be).
fn with_values(engine: &str, source: &str, output: &str) -> Output {
    let (source, output) = (format!("--source={source}"), format!("--output={output}"));
    pushdown(engine, &[OsStr::new(&source), OsStr::new(&output)])
}

/// What the run printed, which must have succeeded.
fn printed(out: &Output) -> String {
    assert!(out.status.success(), "{}", stderr(out));
    stdout(out)
}

/// A refusal: exit 2, nothing printed, the message naming `option`.
fn assert_refused(out: &Output, option: &str) {
    assert_eq!(out.status.code(), Some(2), "{}", stderr(out));
    assert!(out.stdout.is_empty(), "{}", stdout(out));
    let message = stderr(out);
    assert!(message.contains(&format!("{option}: ")), "{message}");
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Sql {
    /// Standard strings; backslash escapes only in `E'…'`.
    DuckDb,
    /// Backslash escapes in every string, and a quote doubled.
    ClickHouse,
    /// Backslash escapes in strings and in `…` names; raw strings `r'…'`.
    BigQuery,
}

/// A script as its dialect reads it: the code with each literal or quoted name as `?`
/// and each comment as `--`, and the literals and names decoded, in order.
#[derive(Debug, PartialEq)]
struct Lexed {
    skeleton: String,
    values: Vec<String>,
}

fn is_word(c: Option<&char>) -> bool {
    c.is_some_and(|c| c.is_alphanumeric() || *c == '_')
}

type Rest<'a> = std::iter::Peekable<std::slice::Iter<'a, char>>;

/// The character that `first` and the next `n` digits of `rest` stand for, in base
/// `radix`.
fn code(rest: &mut Rest<'_>, first: Option<char>, n: usize, radix: u32) -> Result<char, String> {
    let digits: String = first
        .into_iter()
        .chain(rest.by_ref().take(n).copied())
        .collect();
    u32::from_str_radix(&digits, radix)
        .ok()
        .and_then(char::from_u32)
        .ok_or_else(|| format!("a bad escape {digits:?}"))
}

/// The character an escape `\c` stands for, in ClickHouse, DuckDB's `E'…'` or
/// BigQuery; `rest` holds what follows `c` and gives up the digits read.
fn escape(dialect: Sql, c: char, rest: &mut Rest<'_>) -> Result<char, String> {
    Ok(match (dialect, c) {
        (_, 'n') => '\n',
        (_, 't') => '\t',
        (_, 'r') => '\r',
        (_, 'b') => '\u{8}',
        (_, 'f') => '\u{c}',
        (_, 'v') => '\u{b}',
        (_, 'a') => '\u{7}',
        (_, '\\' | '\'' | '"' | '`' | '?') => c,
        (_, 'x') => code(rest, None, 2, 16)?,
        (Sql::BigQuery, 'u') => code(rest, None, 4, 16)?,
        (Sql::BigQuery, 'U') => code(rest, None, 8, 16)?,
        (Sql::BigQuery, '0'..='7') => code(rest, Some(c), 2, 8)?,
        (Sql::BigQuery, _) => return Err(format!("BigQuery has no escape \\{c}")),
        (_, '0') => '\0',
        // ClickHouse and DuckDB's E'' keep any other character as it is.
        _ => c,
    })
}

/// Reads `script` by the rules of `dialect`.
fn lex(script: &str, dialect: Sql) -> Result<Lexed, String> {
    let chars: Vec<char> = script.chars().collect();
    let mut lexed = Lexed {
        skeleton: String::new(),
        values: Vec::new(),
    };
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1);
        let after_word = i > 0 && is_word(chars.get(i - 1));
        if c == '-' && next == Some(&'-') {
            let ends = |c: char| c == '\n' || (dialect == Sql::DuckDb && c == '\r');
            while i < chars.len() && !ends(chars[i]) {
                i += 1;
            }
            lexed.skeleton.push_str("--");
            continue;
        }
        if c == '/' && next == Some(&'*') {
            let rest: String = chars[i + 2..].iter().collect();
            let end = rest.find("*/").ok_or("an unterminated comment")?;
            i += 2 + rest[..end].chars().count() + 2;
            lexed.skeleton.push_str("/**/");
            continue;
        }
        // The quote that opens a literal, whether its backslashes escape, and whether
        // it is raw (BigQuery's r'…', where a backslash keeps the next character).
        let prefix = !after_word && next == Some(&'\'');
        let (quote, escapes, raw, skip) = match c {
            'r' | 'R' if dialect == Sql::BigQuery && prefix => ('\'', false, true, 2),
            'E' | 'e' if dialect == Sql::DuckDb && prefix => ('\'', true, false, 2),
            '\'' => ('\'', dialect != Sql::DuckDb, false, 1),
            '`' if dialect == Sql::BigQuery => ('`', true, false, 1),
            '"' => ('"', dialect == Sql::BigQuery, false, 1),
            _ => {
                lexed.skeleton.push(c);
                i += 1;
                continue;
            }
        };
        i += skip;
        let mut value = String::new();
        let mut rest = chars[i..].iter().peekable();
        let mut closed = false;
        while let Some(&c) = rest.next() {
            if c == '\n' && dialect == Sql::BigQuery {
                return Err("a line break in a BigQuery quoted string".into());
            }
            if c == quote {
                // Standard SQL (and ClickHouse) write a quote as two.
                if dialect != Sql::BigQuery && rest.peek() == Some(&&quote) {
                    rest.next();
                    value.push(quote);
                    continue;
                }
                closed = true;
                break;
            }
            if c == '\\' && (escapes || raw) {
                let e = *rest.next().ok_or("a backslash at the end")?;
                if raw {
                    value.push('\\');
                    value.push(e);
                } else {
                    value.push(escape(dialect, e, &mut rest)?);
                }
                continue;
            }
            value.push(c);
        }
        if !closed {
            return Err("an unterminated literal".into());
        }
        i = chars.len() - rest.len();
        lexed.skeleton.push('?');
        lexed.values.push(value);
    }
    Ok(lexed)
}

/// The folder `--output` names in the DuckDB and ClickHouse scripts: no trailing
/// slash, `/` for the root.
fn folder(output: &str) -> &str {
    match output.trim_end_matches('/') {
        "" => "/",
        f => f,
    }
}

/// The SQL engines, with their dialects and whether they write `--output`.
const SQL: &[(&str, Sql)] = &[
    ("duckdb", Sql::DuckDb),
    ("clickhouse", Sql::ClickHouse),
    ("bigquery", Sql::BigQuery),
];

/// The script of `engine` for the benign values, read by its dialect.
fn benign(engine: &str, dialect: Sql) -> Lexed {
    let text = printed(&with_values(engine, SOURCE_MARK, OUTPUT_MARK));
    lex(&text, dialect).unwrap()
}

/// Whether no printed script can hold `c` (RULES.md §6).
fn unholdable(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{2028}' | '\u{2029}' | '\u{061C}' | '\u{200E}' | '\u{200F}'
        )
        || ('\u{202A}'..='\u{202E}').contains(&c)
        || ('\u{2066}'..='\u{2069}').contains(&c)
}

/// Checks what `engine` printed for `source` and `output` against its benign script:
/// the same code and comments, and every literal the benign one held with the values
/// in place of the marks. Or a refusal, where one is due.
fn check_sql(engine: &str, dialect: Sql, benign: &Lexed, source: &str, output: &str) {
    let out = with_values(engine, source, output);
    let holdable = |v: &str| !v.chars().any(unholdable);
    // BigQuery writes no --output, and its table cannot hold a backtick or backslash.
    let source_ok = holdable(source)
        && (dialect != Sql::BigQuery || !(source.is_empty() || source.contains(['`', '\\'])));
    let output_ok = dialect == Sql::BigQuery || holdable(output);
    if !out.status.success() {
        assert!(
            !(source_ok && output_ok),
            "{engine} refused {source:?} {output:?}: {}",
            stderr(&out)
        );
        assert_refused(&out, if source_ok { "--output" } else { "--source" });
        return;
    }
    assert!(
        source_ok && output_ok,
        "{engine} printed {source:?} {output:?}"
    );
    let lexed = lex(&stdout(&out), dialect)
        .unwrap_or_else(|e| panic!("{engine}: {e} with {source:?} {output:?}"));
    assert_eq!(
        lexed.skeleton, benign.skeleton,
        "{engine}: {source:?} {output:?}"
    );
    let want: Vec<String> = benign
        .values
        .iter()
        .map(|v| {
            v.replace(SOURCE_MARK, source)
                .replace(OUTPUT_MARK, folder(output))
        })
        .collect();
    assert_eq!(lexed.values, want, "{engine}: {source:?} {output:?}");
}

/// What `spark-submit` was given, once per run of it in the script.
fn spark_words(script: &str) -> Vec<Vec<String>> {
    let tmp = tempfile::tempdir().unwrap();
    let bin = tmp.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    let stub = bin.join("spark-submit");
    // Each run: the number of words, then the words, each ended by NUL.
    std::fs::write(
        &stub,
        "#!/bin/sh\n{ printf '%s\\0' \"$#\"; for a in \"$@\"; do printf '%s\\0' \"$a\"; done; } >> \"$WORDS\"\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&stub, std::fs::Permissions::from_mode(0o755)).unwrap();
    let words = tmp.path().join("words");
    let work = tmp.path().join("work");
    std::fs::create_dir(&work).unwrap();
    let run = Command::new("/bin/sh")
        .arg("-c")
        .arg(script)
        .current_dir(&work)
        .env_clear()
        .env("PATH", &bin)
        .env("WORDS", &words)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    // Nothing but the two runs happened: no file was made where the script ran.
    assert_eq!(std::fs::read_dir(&work).unwrap().count(), 0);
    let text = std::fs::read(&words).unwrap();
    let mut fields = text
        .split(|&b| b == 0)
        .map(|f| String::from_utf8(f.to_vec()).unwrap());
    let mut runs = Vec::new();
    while let Some(n) = fields.next().filter(|n| !n.is_empty()) {
        let n: usize = n.parse().unwrap();
        runs.push(fields.by_ref().take(n).collect());
    }
    runs
}

/// Checks the Spark lines for `source` and `output`, run by `/bin/sh`: each word as
/// the benign run's, the values in place of the marks. Or a refusal, where one is due.
fn check_spark(benign: &[Vec<String>], source: &str, output: &str) {
    let out = with_values("spark", source, output);
    let holdable = |v: &str| !v.chars().any(unholdable) && !v.starts_with('-');
    if !out.status.success() {
        assert!(!(holdable(source) && holdable(output)), "{}", stderr(&out));
        let option = if holdable(source) {
            "--output"
        } else {
            "--source"
        };
        assert_refused(&out, option);
        return;
    }
    assert!(
        holdable(source) && holdable(output),
        "{source:?} {output:?}"
    );
    let want: Vec<Vec<String>> = benign
        .iter()
        .map(|run| {
            run.iter()
                .map(|w| w.replace(SOURCE_MARK, source).replace(OUTPUT_MARK, output))
                .collect()
        })
        .collect();
    assert_eq!(spark_words(&stdout(&out)), want, "{source:?} {output:?}");
}

/// Checks the console requests for the index pattern `source`: the benign text with
/// the pattern in place of the mark, for a pattern made only of what index names hold;
/// else a refusal.
fn check_elasticsearch(benign: &str, source: &str) {
    let out = with_values("elasticsearch", source, OUTPUT_MARK);
    if !out.status.success() {
        assert_refused(&out, "--source");
        return;
    }
    // Nothing an index name may not hold, nothing a URL or a console line reads.
    assert!(!source.is_empty());
    for c in source.chars() {
        assert!(
            !unholdable(c) && !c.is_whitespace() && !c.is_uppercase(),
            "{source:?}"
        );
        assert!(!"\\/?\"<>|#%".contains(c), "{source:?}");
    }
    assert_eq!(stdout(&out), benign.replace(SOURCE_MARK, source));
}

/// Random text: quotes, backslashes, line breaks, comment and statement marks, shell
/// syntax, controls and any other character.
fn text() -> impl Strategy<Value = String> {
    let syntax = prop::sample::select(vec![
        '\'', '\\', '"', '`', ';', '-', '#', '$', '(', ')', '*', ' ', '/', ',', ':', '{', '}', '%',
        '?', 'é', 'Ł', '_', '.',
    ]);
    let controls = prop::sample::select(vec!['\n', '\r', '\t', '\u{1b}', '\u{202E}', '\u{2028}']);
    prop::collection::vec(
        prop_oneof![
            10 => syntax,
            6 => prop::char::range('a', 'z'),
            1 => controls,
            // argv cannot hold NUL.
            1 => any::<char>().prop_filter("no NUL", |c| *c != '\0'),
        ],
        0..14,
    )
    .prop_map(|chars| chars.into_iter().collect())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// RULES.md §6: every engine's text gives back the value as it was given, or
    /// refuses it by the name of its option.
    #[test]
    fn every_value_reads_back_as_given_or_is_refused(
        source in text(),
        output in text(),
        pattern in prop_oneof![
            text(),
            "[a-z0-9*._+-]{1,12}(,-?[a-z0-9*._+-]{1,12}){0,2}",
        ],
    ) {
        thread_local! {
            static BENIGN: (Vec<Lexed>, Vec<Vec<String>>, String) = (
                SQL.iter().map(|&(engine, dialect)| benign(engine, dialect)).collect(),
                spark_words(&printed(&with_values("spark", SOURCE_MARK, OUTPUT_MARK))),
                printed(&with_values("elasticsearch", SOURCE_MARK, OUTPUT_MARK)),
            );
        }
        BENIGN.with(|(sql, spark, elastic)| {
            for (&(engine, dialect), benign) in SQL.iter().zip(sql) {
                check_sql(engine, dialect, benign, &source, &output);
            }
            check_spark(spark, &source, &output);
            check_elasticsearch(elastic, &pattern);
        });
    }
}

/// The issue's case: a backslash before the quote ended ClickHouse's string, and the
/// statement after it ran. Now the string holds it, and the script is two statements.
#[test]
fn a_backslash_and_a_quote_cannot_end_a_clickhouse_string() {
    let source = r"x\'; SELECT 1; --";
    // A BigQuery table's name cannot hold the backslash: refused below.
    for &(engine, dialect) in &SQL[..2] {
        let text = printed(&with_values(engine, source, OUTPUT_MARK));
        let lexed = lex(&text, dialect).unwrap_or_else(|e| panic!("{engine}: {e}"));
        assert!(lexed.values.iter().any(|v| v == source), "{engine}: {text}");
        assert_eq!(lexed.skeleton, benign(engine, dialect).skeleton, "{engine}");
    }
    let text = printed(&with_values("clickhouse", source, OUTPUT_MARK));
    assert!(text.contains(r"s3Cluster('CLUSTER', 'x\\\'; SELECT 1; --', 'LineAsString')"));
    assert_refused(&with_values("bigquery", source, OUTPUT_MARK), "--source");
}

/// The console request line holds an index pattern only: a line break would add a
/// request, a slash another route, a space or `?` the rest of a URL.
#[test]
fn the_console_request_line_takes_index_patterns_only() {
    for source in [
        "logs\nDELETE /logs-secret",
        "logs\r\nPOST _security/user/intruder",
        "logs/_doc/1",
        "logs _search?q=secret",
        "logs?q=secret",
        "Logs-secret",
        "logs#secret",
        "logs%2Fsecret",
        "-logs-secret",
        "logs-\u{202E}terces",
    ] {
        let out = with_values("elasticsearch", source, OUTPUT_MARK);
        assert_refused(&out, "--source");
        // The message names the option, never the value.
        assert!(!stderr(&out).contains("secret"), "{}", stderr(&out));
    }
    let text = printed(&with_values(
        "elasticsearch",
        "logs-*,-logs-old,remote:audit-*",
        "x",
    ));
    let requests: Vec<&str> = text.lines().filter(|l| l.starts_with("GET ")).collect();
    assert_eq!(requests, ["GET logs-*,-logs-old,remote:audit-*/_search"; 2]);
    // The field prefix goes into JSON, and holds no control either.
    let out = pushdown(
        "elasticsearch",
        &[OsStr::new("--field-prefix"), OsStr::new("json.\u{1b}[2J")],
    );
    assert_refused(&out, "--field-prefix");
}

/// The Spark lines, run by the shell: quotes, command substitutions and separators
/// reach `spark-submit` as the words given, and nothing else runs.
#[test]
fn spark_words_reach_spark_submit_as_given() {
    let benign = spark_words(&printed(&with_values("spark", SOURCE_MARK, OUTPUT_MARK)));
    assert_eq!(benign.len(), 2);
    let sources = [
        "logs/$(: > pwned)/*.log.gz",
        "logs/`: > pwned`",
        "logs/'; : > pwned; '",
        "logs/\\'\"; : > pwned #",
        "gs://bucket/logs day 1/*.log",
    ];
    for source in sources {
        check_spark(&benign, source, "out put/'$HOME'");
    }
    // The job's argument parser and spark-submit's would read these as options.
    assert_refused(&with_values("spark", "-h", "out"), "--source");
    assert_refused(&with_values("spark", "logs", "--help"), "--output");
    let out = pushdown("spark", &[OsStr::new("--write-job=--verbose")]);
    assert_refused(&out, "--write-job");
}

/// Paths that are not UTF-8 cannot be printed as they are (their display would name
/// another file): refused, and the job is not written.
#[test]
fn a_path_that_is_not_utf8_is_refused_and_nothing_written() {
    let tmp = tempfile::tempdir().unwrap();
    let job = tmp.path().join(OsStr::from_bytes(b"job-\xff.py"));
    let out = pushdown("spark", &[OsStr::new("--write-job"), job.as_os_str()]);
    assert_refused(&out, "--write-job");
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 0);

    // The directory is shipped with --files, a comma-separated list of URIs: it must be
    // UTF-8 and hold no `,`, `#` or `:`.
    let directory = std::fs::read(crate::support::root().join("fixtures/directory.json")).unwrap();
    for name in [
        &b"dir-\xff.json"[..],
        b"a,b.json",
        b"dir#1.json",
        b"c:dir.json",
    ] {
        let path = tmp.path().join(OsStr::from_bytes(name));
        std::fs::write(&path, &directory).unwrap();
        let out = spark_with_directory(&path);
        assert_refused(&out, "--directory");
    }
    // Other odd names are quoted, and reach spark-submit whole.
    let path = tmp.path().join("dir 'one' $(x).json");
    std::fs::write(&path, &directory).unwrap();
    let runs = spark_words(&printed(&spark_with_directory(&path)));
    assert_eq!(runs[1][1], format!(",{}", path.display()));
    let pipe = &runs[1][runs[1].iter().position(|w| w == "--pipe").unwrap() + 1];
    assert!(
        pipe.contains(r"--directory 'dir '\''one'\'' $(x).json'"),
        "{pipe}"
    );
}

fn spark_with_directory(path: &Path) -> Output {
    logbrief()
        .args([
            "pushdown",
            "--requester",
            "alice@acme.example",
            "--directory",
        ])
        .arg(path)
        .args(["--namespace", "acme", "--engine", "spark"])
        .output()
        .unwrap()
}

/// A name in the directory is part of the expression every engine prints: one that
/// holds a line break is refused (exit 2), by the option that named the directory.
#[test]
fn a_name_in_scope_that_holds_a_line_break_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let directory: PathBuf = tmp.path().join("directory.json");
    let text = r#"{
      "namespaces": [{"id": 60, "full_path": "acme", "kind": "group", "plan": "premium"}],
      "projects": [{"id": 7, "path_with_namespace": "acme/docs",
                    "former_paths": ["acme/old-docs\nSELECT 'secret'"]}],
      "users": [{"id": 1, "username": "alice", "email": "alice@acme.example"}],
      "members": [{"namespace_id": 60, "user_id": 1, "access_level": 50}]
    }"#;
    std::fs::write(&directory, text).unwrap();
    for engine in ["regex", "duckdb", "clickhouse", "bigquery", "spark"] {
        let out = logbrief()
            .args([
                "pushdown",
                "--requester",
                "alice@acme.example",
                "--directory",
            ])
            .arg(&directory)
            .args(["--namespace", "acme", "--engine", engine])
            .output()
            .unwrap();
        assert_refused(&out, "--directory");
        assert!(!stderr(&out).contains("secret"), "{}", stderr(&out));
    }
}
