//! The filter in real engines: the script `pushdown --engine duckdb` prints, run by
//! DuckDB (RE2), and logbrief's PySpark job in local mode, once with the expression
//! (Java's regular expressions) and once piping every partition through `logbrief
//! filter`. Each must give the reply of the whole files byte for byte, and the
//! expression must keep the same lines in DuckDB, Spark and Rust's `regex`, on the
//! fixtures, on a generated log of 110 MB and on the look-alike-heavy variant.
//!
//! They need a Python with duckdb, chdb and pyspark, and Java 17 for Spark, so they are
//! ignored by `cargo test` and run with `--ignored`: `.ci/run` installs all of it and
//! runs them. A developer with Java 17 runs `. .ci/engines` (a virtual environment
//! under `target/`, from `.ci/engines.txt`) and then
//! `cargo test --locked --workspace --test cli engines:: -- --ignored`. Run that way,
//! a missing engine is a failure, never a pass.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use serde_json::Value;

use super::pushdown::lines_of;
use super::support::{ALICE_ABOUT_ACME, Bench, QUICK_START, logbrief, root, stderr, stdout};

/// The Python that has duckdb, chdb and pyspark: LOGBRIEF_ENGINES_PYTHON, which
/// `. .ci/engines` sets. A test that runs without it fails.
fn python() -> PathBuf {
    match std::env::var_os("LOGBRIEF_ENGINES_PYTHON") {
        Some(path) => PathBuf::from(path),
        None => panic!(
            "set LOGBRIEF_ENGINES_PYTHON to a Python with duckdb, chdb and pyspark \
             (`. .ci/engines` makes one and sets it)"
        ),
    }
}

/// Logs, the requester they are asked about, and the flags of the reply.
struct Case {
    files: Vec<PathBuf>,
    /// `--requester … --directory … --namespace …`
    requester: Vec<String>,
    /// What `summarize` takes besides the files.
    summarize: Vec<String>,
    /// The directory file named in `requester`.
    directory: PathBuf,
    /// `pushdown --lines`: json or nginx.
    lines: &'static str,
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| s.to_string()).collect()
}

/// The quick start: alice about acme, with the known list.
fn fixtures() -> Case {
    let n = QUICK_START.len();
    Case {
        files: QUICK_START[n - 3..]
            .iter()
            .map(|f| root().join(f))
            .collect(),
        requester: strings(&ALICE_ABOUT_ACME[1..]),
        summarize: strings(&QUICK_START[..n - 3]),
        directory: root().join("fixtures/directory.json"),
        lines: "json",
    }
}

/// GitLab's NGINX access log, alice about acme.
fn nginx_fixture() -> Case {
    let mut summarize = strings(ALICE_ABOUT_ACME);
    summarize.extend(strings(&["--exclude-domain", "acme.example"]));
    Case {
        files: vec![root().join("fixtures/formats/nginx/gitlab_access.log")],
        requester: strings(&ALICE_ABOUT_ACME[1..]),
        summarize,
        directory: root().join("fixtures/directory.json"),
        lines: "nginx",
    }
}

/// The quick start's logs as a log archive stores them, each line the `jsonPayload` of
/// a record (see `formats::archived`), written under `dir`.
fn archived_fixtures(dir: &Path) -> Case {
    let mut case = fixtures();
    case.files = case
        .files
        .iter()
        .map(|f| {
            let text = lines_of(f).join("\n") + "\n";
            let name = f.file_name().unwrap().to_string_lossy().replace(".gz", "");
            let path = dir.join(format!("archived-{name}"));
            std::fs::write(&path, super::formats::archived(&text)).unwrap();
            path
        })
        .collect();
    case
}

/// A 110 MB benchmark log and a 30 MB look-alike-heavy one (a fifth of the lines
/// name look-alikes of northwind), generated once per run.
fn generated() -> Case {
    static BENCH: OnceLock<Bench> = OnceLock::new();
    let bench = BENCH.get_or_init(|| Bench::generate("engines", "110M", "30M"));
    let requester = bench.requester();
    let mut summarize = vec!["summarize".to_owned()];
    summarize.extend(requester.iter().cloned());
    Case {
        files: bench.logs.to_vec(),
        requester,
        summarize,
        directory: bench.directory.clone(),
        lines: "json",
    }
}

impl Case {
    /// What `logbrief COMMAND` prints for the requester, which must succeed.
    fn logbrief(&self, command: &str, args: &[&str], input: String) -> String {
        let out = logbrief()
            .arg(command)
            .args(&self.requester)
            .args(args)
            .write_stdin(input)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        stdout(&out)
    }

    fn pushdown(&self, args: &[&str]) -> String {
        let mut args = args.to_vec();
        args.extend(["--lines", self.lines]);
        self.logbrief("pushdown", &args, String::new())
    }

    /// The reply from `files` (and a manifest), which must succeed.
    fn reply(&self, files: &[PathBuf], manifest: Option<&Path>) -> String {
        let mut cmd = logbrief();
        cmd.args(&self.summarize);
        if let Some(m) = manifest {
            cmd.arg("--manifest").arg(m);
        }
        let out = cmd.args(files).output().unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        stdout(&out)
    }

    /// The JSON summary of `files` (and a manifest), every line in one bucket.
    fn json(&self, files: &[PathBuf], manifest: Option<&Path>, extra: &[&str]) -> Value {
        let mut cmd = logbrief();
        cmd.args(&self.summarize)
            .args(["--format", "json"])
            .args(extra);
        if let Some(m) = manifest {
            cmd.arg("--manifest").arg(m);
        }
        let out = cmd.args(files).output().unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        super::support::assert_reconciled(&v);
        v
    }

    /// Whether the kept lines and the manifest give the whole files' reply and
    /// reconciliation.
    fn assert_same_as_whole(&self, kept: &[PathBuf], manifest: &Path, what: &str) {
        assert_eq!(
            self.reply(kept, Some(manifest)),
            self.reply(&self.files, None),
            "{what}"
        );
        assert_eq!(
            self.json(kept, Some(manifest), &[])["reconciliation"],
            self.json(&self.files, None, &[])["reconciliation"],
            "{what}"
        );
    }

    /// The lines Rust's `regex` keeps of every file, sorted.
    fn kept_by_regex(&self) -> Vec<String> {
        let re = regex::Regex::new(self.pushdown(&[]).trim_end()).unwrap();
        let mut kept: Vec<String> = self
            .files
            .iter()
            .flat_map(|f| lines_of(f))
            .filter(|l| re.is_match(l))
            .collect();
        kept.sort();
        kept
    }

    /// The lines `logbrief filter` keeps of every file, sorted.
    fn kept_by_filter(&self) -> Vec<String> {
        let text: String = self
            .files
            .iter()
            .flat_map(|f| lines_of(f))
            .map(|l| l + "\n")
            .collect();
        let out = self.logbrief("filter", &["--lines", self.lines], text);
        let mut kept: Vec<String> = out.lines().map(str::to_owned).collect();
        kept.sort();
        kept
    }
}

/// Every line of `files`, sorted.
fn sorted_lines(files: &[PathBuf]) -> Vec<String> {
    let mut lines: Vec<String> = files.iter().flat_map(|f| lines_of(f)).collect();
    lines.sort();
    lines
}

/// The files of a Spark output folder whose names start with `part-`.
fn parts(dir: &Path) -> Vec<PathBuf> {
    let mut parts: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("part-")
        })
        .collect();
    parts.sort();
    parts
}

/// Runs the script on standard input with DuckDB.
const DUCKDB_RUN: &str = "import sys, duckdb; duckdb.connect().execute(sys.stdin.read())";

/// Runs the statements on standard input with chdb, ClickHouse's engine in a library:
/// `file()` stands in for `s3Cluster` (one machine, local files), and each result is
/// written where the statement's `INTO OUTFILE` says, in its format. The rest of each
/// statement runs as printed.
const CLICKHOUSE_RUN: &str = r#"
import re, sys, chdb
text = sys.stdin.read().replace("s3Cluster('CLUSTER', ", "file(")
text = "\n".join(l for l in text.split("\n") if not l.lstrip().startswith("--"))
for statement in [s for s in text.split(";") if s.strip()]:
    into = re.search(r"INTO OUTFILE '([^']*)' FORMAT (\w+)", statement)
    query = statement[:into.start()] + statement[into.end():]
    open(into.group(1), "wb").write(chdb.query(query, into.group(2)).bytes())
"#;

/// Runs what `pushdown --engine ENGINE` prints for `case` over local copies of its
/// files, and checks the kept lines, the reply and the reconciliation.
fn check_sql(python: &Path, engine: &str, case: &Case, window: &[&str]) {
    let tmp = tempfile::tempdir().unwrap();
    // The logs side by side, so one glob reads them.
    let logs = tmp.path().join("logs");
    std::fs::create_dir(&logs).unwrap();
    for f in &case.files {
        std::fs::copy(f, logs.join(f.file_name().unwrap())).unwrap();
    }
    let source = format!("{}/*", logs.display());
    let out = tmp.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let out_dir = out.display().to_string();
    let mut args = vec![
        "--engine", engine, "--source", &source, "--output", &out_dir,
    ];
    args.extend(window);
    let script = case.pushdown(&args);
    let runner = match engine {
        "duckdb" => DUCKDB_RUN,
        _ => CLICKHOUSE_RUN,
    };
    let done = assert_cmd::Command::new(python)
        .args(["-c", runner])
        .write_stdin(script)
        .output()
        .unwrap();
    assert!(done.status.success(), "{engine}: {}", stderr(&done));

    let kept = [out.join("kept.log")];
    let manifest = out.join("manifest.json");
    if !window.is_empty() {
        // The lines of the window and the day either side; the same requests counted.
        let whole = case.json(&case.files, None, window);
        let engine = case.json(&kept, Some(&manifest), window);
        assert!(sorted_lines(&kept).len() < case.kept_by_regex().len());
        assert!(
            engine["reconciliation"]["lines"].as_u64() < whole["reconciliation"]["lines"].as_u64()
        );
        assert!(whole["counts"]["accesses"].as_u64().unwrap() > 0);
        for key in ["counts", "paths", "statuses", "kinds", "excluded"] {
            assert_eq!(engine[key], whole[key], "{key}");
        }
        assert_eq!(
            engine["reconciliation"]["counted"],
            whole["reconciliation"]["counted"]
        );
        return;
    }
    assert_eq!(
        sorted_lines(&kept),
        case.kept_by_regex(),
        "{engine} and Rust differ"
    );
    let first = std::fs::read_to_string(&manifest).unwrap();
    let m: Value = serde_json::from_str(first.lines().next().unwrap()).unwrap();
    assert_eq!(m["engine"], engine);
    case.assert_same_as_whole(&kept, &manifest, engine);
}

/// The quick start, GitLab's NGINX log, the generated logs and archive records, then
/// the quick start with a window pushed down.
fn check_sql_everywhere(engine: &str) {
    let python = python();
    let tmp = tempfile::tempdir().unwrap();
    for case in [
        fixtures(),
        nginx_fixture(),
        generated(),
        archived_fixtures(tmp.path()),
    ] {
        check_sql(&python, engine, &case, &[]);
    }
    // The engine keeps a day more on either side, `summarize` applies the window: the
    // same requests are counted.
    let window = ["--since", "2026-03-16T12:00:00Z"];
    check_sql(&python, engine, &fixtures(), &window);
}

#[test]
#[ignore = "needs DuckDB, chdb, PySpark and Java 17: .ci/run runs it (README, Development)"]
fn duckdb_runs_the_printed_script_and_gives_the_whole_reply() {
    check_sql_everywhere("duckdb");
}

#[test]
#[ignore = "needs DuckDB, chdb, PySpark and Java 17: .ci/run runs it (README, Development)"]
fn clickhouse_runs_the_printed_queries_and_gives_the_whole_reply() {
    check_sql_everywhere("clickhouse");
}

/// Runs every statement on standard input with chdb as one script, split by
/// ClickHouse's own lexer; `file()` stands in for `s3Cluster`, and `INTO OUTFILE`
/// writes where the statement says.
const CLICKHOUSE_WHOLE: &str = r#"
import sys, chdb
chdb.query(sys.stdin.read().replace("s3Cluster('CLUSTER', ", "file("))
"#;

/// RULES.md §6: a log file and an output folder whose names hold a quote, a backslash
/// before it, a statement and a comment are read and written by those names, in
/// DuckDB and in ClickHouse; the statement stays part of a name and never runs.
#[test]
#[ignore = "needs DuckDB, chdb, PySpark and Java 17: .ci/run runs it (README, Development)"]
fn names_that_hold_sql_stay_names_in_duckdb_and_clickhouse() {
    let python = python();
    let case = fixtures();
    let log = root().join("fixtures/logs/production_json.log");
    for (engine, runner) in [("duckdb", DUCKDB_RUN), ("clickhouse", CLICKHOUSE_WHOLE)] {
        let tmp = tempfile::tempdir().unwrap();
        let logs = tmp.path().join(r"logs '; DROP TABLE x; --");
        std::fs::create_dir(&logs).unwrap();
        let file = logs.join(r"it's x\'; SELECT 1; --.log");
        std::fs::copy(&log, &file).unwrap();
        let out = tmp.path().join(r"out \'); SELECT 2; --");
        std::fs::create_dir(&out).unwrap();
        let script = case.pushdown(&[
            "--engine",
            engine,
            "--source",
            &file.display().to_string(),
            "--output",
            &out.display().to_string(),
        ]);
        let run = assert_cmd::Command::new(&python)
            .args(["-c", runner])
            .write_stdin(script)
            .output()
            .unwrap();
        assert!(run.status.success(), "{engine}: {}", stderr(&run));
        // The candidates of that one file, and a manifest naming it.
        let re = regex::Regex::new(case.pushdown(&[]).trim_end()).unwrap();
        let mut want: Vec<String> = lines_of(&log)
            .into_iter()
            .filter(|l| re.is_match(l))
            .collect();
        want.sort();
        assert!(!want.is_empty());
        assert_eq!(sorted_lines(&[out.join("kept.log")]), want, "{engine}");
        let manifest = std::fs::read_to_string(out.join("manifest.json")).unwrap();
        let m: Value = serde_json::from_str(manifest.lines().next().unwrap()).unwrap();
        assert_eq!(m["name"], file.display().to_string(), "{engine}");
        assert_eq!(m["lines"], lines_of(&log).len(), "{engine}");

        // The issue's value: a file of that name is looked for, and nothing else runs.
        let missing = tmp.path().join(r"x\'; SELECT 1; --");
        let script = case.pushdown(&[
            "--engine",
            engine,
            "--source",
            &missing.display().to_string(),
        ]);
        // Whatever it writes goes to the folder of the test (the default output is `.`).
        let run = assert_cmd::Command::new(&python)
            .args(["-c", runner])
            .current_dir(tmp.path())
            .write_stdin(script)
            .output()
            .unwrap();
        assert!(!run.status.success(), "{engine}");
        let message = stderr(&run);
        assert!(
            message.contains(r"x\'; SELECT 1; --"),
            "{engine}: {message}"
        );
        assert!(!message.contains("Syntax error"), "{engine}: {message}");
    }
}

/// Runs logbrief's Spark job on `case` in both modes, and checks the replies and the
/// kept lines.
fn check_spark(python: &Path, case: &Case) {
    let tmp = tempfile::tempdir().unwrap();
    let job = tmp.path().join("logbrief_candidates.py");
    case.pushdown(&[
        "--engine",
        "spark",
        "--write-job",
        &job.display().to_string(),
    ]);
    let bin = python.parent().unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let regex = case.pushdown(&[]).trim_end().to_owned();
    let logbrief_bin = Path::new(env!("CARGO_BIN_EXE_logbrief"));
    // The requester's flags, with the directory under the name it is shipped as.
    let mut flags = case.requester.clone();
    let at = flags.iter().position(|a| a == "--directory").unwrap();
    flags[at + 1] = "directory.json".to_owned();
    let pipe = format!("logbrief filter {}", flags.join(" "));
    // The binary and the directory go to the executors as `--files`, under the names
    // the command uses.
    let ship = tmp.path().join("ship");
    std::fs::create_dir(&ship).unwrap();
    std::fs::copy(logbrief_bin, ship.join("logbrief")).unwrap();
    std::fs::copy(&case.directory, ship.join("directory.json")).unwrap();
    let files = format!(
        "{},{}",
        ship.join("logbrief").display(),
        ship.join("directory.json").display()
    );
    for (mode, value) in [("--regex", regex.as_str()), ("--pipe", pipe.as_str())] {
        let out = tmp.path().join(&mode[2..]);
        let run = Command::new(bin.join("spark-submit"))
            .env("PATH", &path)
            .env("PYSPARK_PYTHON", python)
            .env("PYSPARK_DRIVER_PYTHON", python)
            .args([
                "--master",
                "local[2]",
                "--conf",
                "spark.ui.enabled=false",
                "--conf",
                "spark.sql.shuffle.partitions=2",
                "--files",
                &files,
            ])
            .arg(&job)
            .args(["--output", &out.display().to_string(), mode, value])
            .args(&case.files)
            // A file named twice is read once.
            .arg(&case.files[0])
            .output()
            .unwrap();
        let log = String::from_utf8_lossy(&run.stderr);
        let tail: Vec<&str> = log.lines().rev().take(40).collect();
        assert!(run.status.success(), "spark {mode}: {}", tail.join("\n"));

        let kept = parts(&out.join("kept"));
        let want = match mode {
            "--regex" => case.kept_by_regex(),
            _ => case.kept_by_filter(),
        };
        assert_eq!(sorted_lines(&kept), want, "spark {mode} and Rust differ");
        let manifest = parts(&out.join("manifest"));
        assert_eq!(manifest.len(), 1);
        case.assert_same_as_whole(&kept, &manifest[0], &format!("spark {mode}"));
    }
}

#[test]
#[ignore = "needs DuckDB, chdb, PySpark and Java 17: .ci/run runs it (README, Development)"]
fn spark_keeps_the_candidates_both_ways_and_gives_the_whole_reply() {
    let python = python();
    check_spark(&python, &fixtures());
    check_spark(&python, &generated());
}

/// Keeps the lines of each file that its expression matches, in Spark (`rlike`) and
/// DuckDB (`regexp_matches`), reading lines as the job and the script do.
const DIALECTS: &str = r#"
import json, sys
import duckdb
from pyspark.sql import SparkSession, functions as F

spark = (SparkSession.builder.master("local[2]").config("spark.ui.enabled", "false")
         .getOrCreate())
con = duckdb.connect()
kept = []
for case in json.load(open(sys.argv[1])):
    lines = spark.read.option("lineSep", "\n").text(case["file"])
    by_spark = [r.value for r in lines.where(F.col("value").rlike(case["regex"])).collect()]
    by_duckdb = [r[0] for r in con.execute(
        "SELECT line FROM read_csv(?, columns = {'line': 'VARCHAR'}, header = false, "
        "delim = E'\\x1f', quote = '', escape = '', new_line = '\\n', strict_mode = false, "
        "auto_detect = false, max_line_size = 100000000) WHERE regexp_matches(line, ?)",
        [case["file"], case["regex"]]).fetchall()]
    kept.append({"spark": sorted(by_spark), "duckdb": sorted(by_duckdb)})
spark.stop()
json.dump(kept, open(sys.argv[2], "w"))
"#;

#[test]
#[ignore = "needs DuckDB, chdb, PySpark and Java 17: .ci/run runs it (README, Development)"]
fn the_expression_keeps_the_same_lines_in_duckdb_spark_and_rust() {
    let python = python();
    let northwind = generated();
    let mut cases: Vec<(PathBuf, String)> = Vec::new();
    for (case, files) in [
        (
            fixtures(),
            vec![
                "fixtures/logs/production_json.log",
                "fixtures/logs/api_json.log.gz",
                "fixtures/logs/workhorse.log",
                "fixtures/formats/json/production_json.log",
                "fixtures/formats/json/api_json.log",
                "fixtures/formats/json/workhorse.log",
                "fixtures/mixed/production_json.log",
                "fixtures/mixed/api_json.log",
                "fixtures/mixed/workhorse.log.gz",
                "fixtures/geo/production_json.log",
            ],
        ),
        (
            nginx_fixture(),
            vec!["fixtures/formats/nginx/gitlab_access.log"],
        ),
    ] {
        let regex = case.pushdown(&[]).trim_end().to_owned();
        cases.extend(files.iter().map(|f| (root().join(f), regex.clone())));
    }
    let regex = northwind.pushdown(&[]).trim_end().to_owned();
    cases.extend(northwind.files.iter().map(|f| (f.clone(), regex.clone())));

    let tmp = tempfile::tempdir().unwrap();
    let (input, output, script) = (
        tmp.path().join("cases.json"),
        tmp.path().join("kept.json"),
        tmp.path().join("dialects.py"),
    );
    let list: Vec<Value> = cases
        .iter()
        .map(|(f, re)| serde_json::json!({"file": f, "regex": re}))
        .collect();
    std::fs::write(&input, Value::Array(list).to_string()).unwrap();
    std::fs::write(&script, DIALECTS).unwrap();
    let run = Command::new(&python)
        .arg(&script)
        .args([&input, &output])
        .env("PYSPARK_PYTHON", &python)
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&run.stderr);
    let tail: Vec<&str> = log.lines().rev().take(40).collect();
    assert!(run.status.success(), "{}", tail.join("\n"));
    let kept: Vec<Value> = serde_json::from_slice(&std::fs::read(&output).unwrap()).unwrap();
    let mut some = 0;
    for ((file, regex), engines) in cases.iter().zip(&kept) {
        let re = regex::Regex::new(regex).unwrap();
        let mut by_rust: Vec<String> = lines_of(file)
            .into_iter()
            .filter(|l| re.is_match(l))
            .collect();
        by_rust.sort();
        some += by_rust.len();
        for engine in ["spark", "duckdb"] {
            let by_engine: Vec<String> = serde_json::from_value(engines[engine].clone()).unwrap();
            assert_eq!(by_engine, by_rust, "{engine} on {}", file.display());
        }
    }
    assert!(some > 0);
}
