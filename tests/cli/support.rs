//! What the topic modules share: the binary in a clean environment, the quick start's
//! command line, a `Summarize` builder for the runs that vary it, and the checks every
//! JSON summary must pass (the reconciliation, and the fast path against a full parse).

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Output;

use assert_cmd::Command;
use serde_json::Value;

pub(crate) fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The binary, run from the repository root with a clean environment. Its digest
/// cache is a place where nothing can be created (under `/dev/null`), so no test
/// reads or fills the user's cache and every run computes its digests, whatever ran
/// before; the tests of the cache give it a directory of their own.
pub(crate) fn logbrief() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_logbrief"));
    cmd.current_dir(root())
        .env_clear()
        .env("XDG_CACHE_HOME", "/dev/null/logbrief-tests");
    cmd
}

pub(crate) const QUICK_START: &[&str] = &[
    "summarize",
    "--requester",
    "alice@acme.example",
    "--directory",
    "fixtures/directory.json",
    "--namespace",
    "acme",
    "--exclude-domain",
    "acme.example",
    "--exclude-ip",
    "203.0.113.0/24",
    "fixtures/logs/production_json.log",
    "fixtures/logs/api_json.log.gz",
    "fixtures/logs/workhorse.log",
];

/// `summarize` for alice@acme.example, an Owner of acme in the fixture directory,
/// about acme.
pub(crate) const ALICE_ABOUT_ACME: &[&str] = &[
    "summarize",
    "--requester",
    "alice@acme.example",
    "--directory",
    "fixtures/directory.json",
    "--namespace",
    "acme",
];

/// A `logbrief summarize` command line, built in the order it is written. It starts
/// from alice@acme.example, the fixture directory and the namespace acme (or from the
/// quick start); flags and files follow.
#[derive(Clone)]
pub(crate) struct Summarize {
    args: Vec<String>,
    stdin: Option<Vec<u8>>,
}

impl Summarize {
    /// alice@acme.example, an Owner of acme in the fixture directory, asks about acme.
    pub(crate) fn new() -> Self {
        Self::from_args(ALICE_ABOUT_ACME)
    }

    /// `QUICK_START`, the README's command line.
    pub(crate) fn quick_start() -> Self {
        Self::from_args(QUICK_START)
    }

    /// The quick start's flags without its three log files.
    pub(crate) fn quick_start_flags() -> Self {
        Self::from_args(&QUICK_START[..QUICK_START.len() - 3])
    }

    pub(crate) fn from_args(args: &[&str]) -> Self {
        Self {
            args: args.iter().map(|a| a.to_string()).collect(),
            stdin: None,
        }
    }

    /// The value after `flag` becomes `value`.
    fn set(mut self, flag: &str, value: &str) -> Self {
        let at = self.args.iter().position(|a| a == flag).unwrap();
        self.args[at + 1] = value.to_owned();
        self
    }

    pub(crate) fn requester(self, email: &str) -> Self {
        self.set("--requester", email)
    }

    pub(crate) fn directory(self, path: impl AsRef<OsStr>) -> Self {
        self.set("--directory", &text(path.as_ref()))
    }

    /// These `--namespace` flags instead of `acme`; none asks about everything the
    /// requester owns.
    pub(crate) fn namespaces(mut self, namespaces: &[&str]) -> Self {
        while let Some(at) = self.args.iter().position(|a| a == "--namespace") {
            self.args.drain(at..at + 2);
        }
        for namespace in namespaces {
            self = self.args(["--namespace", *namespace]);
        }
        self
    }

    pub(crate) fn arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.args.push(text(arg.as_ref()));
        self
    }

    pub(crate) fn args<A: AsRef<OsStr>>(self, args: impl IntoIterator<Item = A>) -> Self {
        args.into_iter().fold(self, Self::arg)
    }

    /// Input files (or `-`), in this order.
    pub(crate) fn files<A: AsRef<OsStr>>(self, files: impl IntoIterator<Item = A>) -> Self {
        self.args(files)
    }

    pub(crate) fn format(self, format: &str) -> Self {
        self.args(["--format", format])
    }

    pub(crate) fn stdin(mut self, bytes: Vec<u8>) -> Self {
        self.stdin = Some(bytes);
        self
    }

    /// The command line, without the binary's name.
    pub(crate) fn to_args(&self) -> Vec<String> {
        self.args.clone()
    }

    pub(crate) fn run(&self) -> Output {
        let mut cmd = logbrief();
        cmd.args(&self.args);
        if let Some(bytes) = &self.stdin {
            cmd.write_stdin(bytes.clone());
        }
        cmd.output().expect("logbrief runs")
    }

    /// The JSON summary, which must succeed and reconcile; see `json_of`.
    pub(crate) fn json(&self) -> Value {
        json_of(&self.args)
    }
}

/// The temporary paths the tests make are UTF-8; a command line is kept as text so
/// that `json_of` and `assert_fast_path_agrees` can take it too.
fn text(arg: &OsStr) -> String {
    arg.to_str().expect("a UTF-8 argument").to_owned()
}

pub(crate) fn run(args: &[&str]) -> Output {
    logbrief().args(args).output().expect("logbrief runs")
}

pub(crate) fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).expect("stdout is UTF-8")
}

pub(crate) fn stderr(out: &Output) -> String {
    String::from_utf8(out.stderr.clone()).expect("stderr is UTF-8")
}

/// The benchmark's input, made by the project's generator: a log and a
/// look-alike-heavy one (a fifth of its lines name look-alikes of northwind), both of
/// `production_json` lines, and the directory that goes with them.
pub(crate) struct Bench {
    pub logs: [PathBuf; 2],
    pub directory: PathBuf,
}

impl Bench {
    /// Generates the logs, of `bytes` and `look_alike_bytes` (`110M`), and the directory
    /// into `CARGO_TARGET_TMPDIR/FOLDER`. The same sizes always give the same bytes.
    pub(crate) fn generate(folder: &str, bytes: &str, look_alike_bytes: &str) -> Bench {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(folder);
        std::fs::create_dir_all(&dir).unwrap();
        let generate = |args: &[&str]| {
            let out = std::process::Command::new(env!("CARGO"))
                .args(["run", "--locked", "-q", "-p", "logbrief-fixtures", "--"])
                .args(args)
                .current_dir(root())
                .output()
                .unwrap();
            assert!(out.status.success(), "{}", stderr(&out));
        };
        let name = |kind: &str, size: &str| dir.join(format!("{kind}-{}.log", size.to_lowercase()));
        let bench = Bench {
            logs: [name("bench", bytes), name("lookalike", look_alike_bytes)],
            directory: dir.join("directory.json"),
        };
        let path = |p: &Path| p.display().to_string();
        generate(&["bench", "--bytes", bytes, "--out", &path(&bench.logs[0])]);
        generate(&[
            "bench",
            "--bytes",
            look_alike_bytes,
            "--lookalikes",
            "0.2",
            "--out",
            &path(&bench.logs[1]),
        ]);
        generate(&["bench-directory", "--out", &path(&bench.directory)]);
        bench
    }

    /// `--requester owner@northwind.example --directory … --namespace northwind`: the
    /// Owner of the premium group the benchmark is about.
    pub(crate) fn requester(&self) -> Vec<String> {
        [
            "--requester",
            "owner@northwind.example",
            "--directory",
            &self.directory.display().to_string(),
            "--namespace",
            "northwind",
        ]
        .map(str::to_owned)
        .to_vec()
    }
}

pub(crate) fn with(base: &[&str], extra: &[&str]) -> Vec<String> {
    base.iter().chain(extra).map(|s| s.to_string()).collect()
}

pub(crate) fn json_of(args: &[String]) -> Value {
    let out = logbrief()
        .args(args)
        .args(["--format", "json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let v: Value = serde_json::from_slice(&out.stdout).expect("JSON output");
    assert_reconciled(&v);
    v
}

/// lines = malformed + not_request + duplicate + out_of_scope + out_of_window + excluded + counted
pub(crate) fn assert_reconciled(v: &Value) {
    let r = &v["reconciliation"];
    let n = |k: &str| {
        r[k].as_u64()
            .unwrap_or_else(|| panic!("reconciliation.{k}"))
    };
    let buckets = [
        "malformed",
        "not_request",
        "duplicate",
        "out_of_scope",
        "out_of_window",
        "excluded",
        "counted",
    ];
    assert_eq!(n("lines"), buckets.iter().map(|b| n(b)).sum::<u64>(), "{r}");
    let per_input: u64 = v["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["lines"].as_u64().unwrap())
        .sum();
    assert_eq!(n("lines"), per_input);
    let audit_events = v["audit"]["events"].as_u64().unwrap_or(0);
    assert_eq!(
        n("counted"),
        v["counts"]["accesses"].as_u64().unwrap() + audit_events
    );
    let excluded: u64 = ["user", "domain", "ip"]
        .iter()
        .map(|rule| v["excluded"][rule]["accesses"].as_u64().unwrap())
        .sum();
    // Excluded audit events are in the reconciliation only.
    if v.get("audit").is_none() {
        assert_eq!(n("excluded"), excluded);
    }
}

/// The detected format of each input, in order.
pub(crate) fn input_formats(v: &Value) -> Vec<&str> {
    v["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["format"].as_str().unwrap())
        .collect()
}

/// The keys of `expected.json` that logbrief's JSON must match exactly.
pub(crate) const COMPARED: &[&str] = &[
    "counts",
    "paths",
    "statuses",
    "kinds",
    "distinct_user_agents",
    "reconciliation",
];

pub(crate) fn expected(set: &str) -> (Vec<String>, Value) {
    let path = root().join("fixtures").join(set).join("expected.json");
    let v: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let args = v["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_owned())
        .collect();
    (args, v)
}

/// The buckets a full parse may fill where the fast path counts a line out of scope
/// unread (RULES.md §6).
const UNREAD_BUCKETS: &[&str] = &["malformed", "not_request", "duplicate"];

/// Runs `args` (a summarize command line) with the prefilter and with `--parse-all`,
/// and checks RULES.md §6: the two agree on every number except where lines that name
/// nothing in scope went. The replies in markdown and text are byte-identical; the JSON
/// is byte-identical when no line moved. Returns the full parse's JSON.
pub(crate) fn assert_fast_path_agrees(args: &[String]) -> Value {
    let raw = |extra: &[&str]| {
        let out = logbrief().args(args).args(extra).output().unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        out.stdout
    };
    for format in ["markdown", "text"] {
        assert_eq!(
            stdout_of(raw(&["--format", format])),
            stdout_of(raw(&["--format", format, "--parse-all"])),
            "{format} reply of {args:?}"
        );
    }
    let fast_raw = raw(&["--format", "json"]);
    let full_raw = raw(&["--format", "json", "--parse-all"]);
    let fast: Value = serde_json::from_slice(&fast_raw).unwrap();
    let full: Value = serde_json::from_slice(&full_raw).unwrap();
    assert_reconciled(&fast);
    assert_reconciled(&full);
    if fast["reconciliation"] == full["reconciliation"] {
        assert_eq!(stdout_of(fast_raw), stdout_of(full_raw), "JSON of {args:?}");
        return full;
    }
    // Lines moved: everything but the buckets is still the same.
    let without_buckets = |v: &Value| {
        let mut v = v.clone();
        v.as_object_mut().unwrap().remove("reconciliation");
        for input in v["inputs"].as_array_mut().unwrap() {
            let input = input.as_object_mut().unwrap();
            input.remove("malformed");
            input.remove("malformed_lines");
        }
        v
    };
    assert_eq!(without_buckets(&fast), without_buckets(&full), "{args:?}");
    let bucket = |v: &Value, k: &str| v["reconciliation"][k].as_u64().unwrap();
    for k in ["lines", "out_of_window", "excluded", "counted"] {
        assert_eq!(bucket(&fast, k), bucket(&full, k), "{k} of {args:?}");
    }
    let mut moved = 0;
    for k in UNREAD_BUCKETS {
        assert!(bucket(&fast, k) <= bucket(&full, k), "{k} of {args:?}");
        moved += bucket(&full, k) - bucket(&fast, k);
    }
    assert_eq!(
        bucket(&fast, "out_of_scope"),
        bucket(&full, "out_of_scope") + moved,
        "out_of_scope of {args:?}"
    );
    full
}

fn stdout_of(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).expect("stdout is UTF-8")
}

/// A fixture set's command line, as `expected.json` records it.
pub(crate) fn summarize_args(args: &[String]) -> Vec<String> {
    with(
        &["summarize"],
        &args.iter().map(String::as_str).collect::<Vec<_>>(),
    )
}

/// `v` with requests whose logs record no user counted among those without a user,
/// as the generator's labels count them: the labels know who made each request, the
/// logs do not always (RULES.md §9), so the split is checked by its own tests.
pub(crate) fn folded(v: &Value) -> Value {
    let mut v = v.clone();
    let fold = |o: &mut Value| {
        if let Some(o) = o.as_object_mut()
            && let Some(unknown) = o.remove("unidentified_accesses")
        {
            let anonymous = o["anonymous_accesses"].as_u64().unwrap() + unknown.as_u64().unwrap();
            o.insert("anonymous_accesses".into(), anonymous.into());
        }
    };
    fold(&mut v["counts"]);
    if let Some(paths) = v["paths"].as_array_mut() {
        paths.iter_mut().for_each(fold);
    }
    v
}

/// The generator's labels describe every line as a full parse reads it; the fast path
/// must agree with the full parse.
pub(crate) fn assert_matches_labels(set: &str) {
    let (args, want) = expected(set);
    let got = folded(&assert_fast_path_agrees(&summarize_args(&args)));
    for key in COMPARED {
        assert_eq!(
            got[key], want[key],
            "{set}: {key} differs from the generator's labels"
        );
    }
    assert_excluded_matches(&got, &want, set);
}

/// Per rule, the numbers RULES.md §4 names; the time ranges are checked by the snapshots.
pub(crate) fn assert_excluded_matches(got: &Value, want: &Value, label: &str) {
    for rule in ["user", "domain", "ip"] {
        for key in ["accesses", "users", "unique_ips"] {
            assert_eq!(
                got["excluded"][rule][key], want["excluded"][rule][key],
                "{label}: excluded.{rule}.{key}"
            );
        }
    }
}
