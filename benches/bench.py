#!/usr/bin/env python3
"""Benchmark logbrief against DuckDB, `wc -l` and SHA-256 on generated GitLab logs (RULES.md §10).

One run builds the binaries, generates the inputs it lacks, installs DuckDB into a
virtual environment, times every tool several times on every input, checks that
logbrief and DuckDB count the same, and prints a markdown report (also written to
report.md in the bench directory): a table per input, then RULES.md §10's goals with
the measured ratio and whether each is met.

The question every tool answers: what did the requests to the group `northwind`
(owned by the requester owner@northwind.example) look like: accesses, distinct users,
anonymous accesses, unique client IPs, first and last time, per project or group path
and per status.

The inputs: the benchmark log at 256 MB and 1 GB, a look-alike-heavy variant of it
(a fifth of the lines name `northwind-labs`, `northwinds` or `northwind.io`) at both
sizes, the plain log gzipped at both sizes, and a crawl of a million requests to
`northwind`, each from its own address, user and user agent, next to the same
requests from one visitor. A 5 GB log is there on request.

The tools: `wc -l` (or `gzip -dc | wc -l`) and `openssl dgst -sha256` as baselines;
DuckDB with 1 and 2 threads; logbrief's first run (an empty digest cache) and repeat
run (the digest cached by an untimed run before), with 1 and 2 threads, or on a crawl
in the access and high-load stories with 2 threads. logbrief always runs with its own
XDG_CACHE_HOME, never the user's.

Only the standard library is used here; DuckDB runs in a subprocess of the venv's
Python, which measures the query alone with time.perf_counter as well.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# The DuckDB release the comparison runs against. Pinned so numbers stay comparable.
DUCKDB_VERSION = "1.5.6"

REQUESTER = "owner@northwind.example"
NAMESPACE = "northwind"

# The share of lines that name look-alikes of `northwind` in the look-alike-heavy logs.
LOOK_ALIKE_SHARE = "0.2"


@dataclass(frozen=True)
class Input:
    """One benchmark input, as the generator writes it."""

    file: str
    # "plain" and "look-alike" are benchmark logs of `size` uncompressed bytes;
    # "crawl" is a crawl of `size` requests.
    kind: str
    size: int
    gzipped: bool = False
    one_visitor: bool = False
    # Left out unless asked for by name.
    optional: bool = False

    @property
    def crawl(self) -> bool:
        return self.kind == "crawl"


# Every input the benchmark knows, by the name BENCH_INPUTS selects it with.
INPUTS = {
    "256m": Input("bench-256m.log", "plain", 256_000_000),
    "1g": Input("bench-1g.log", "plain", 1_000_000_000),
    "lookalike-256m": Input("bench-lookalike-256m.log", "look-alike", 256_000_000),
    "lookalike-1g": Input("bench-lookalike-1g.log", "look-alike", 1_000_000_000),
    "256m.gz": Input("bench-256m.log.gz", "plain", 256_000_000, gzipped=True),
    "1g.gz": Input("bench-1g.log.gz", "plain", 1_000_000_000, gzipped=True),
    "crawl-1m": Input("crawl-1m.log", "crawl", 1_000_000),
    "crawl-1m-one": Input("crawl-1m-one.log", "crawl", 1_000_000, one_visitor=True),
    "5g": Input("bench-5g.log", "plain", 5_000_000_000, optional=True),
}

# The generator stops at the end of the line that reaches the size asked for, so a
# complete file is at most one line longer. No generated line comes near this.
MAX_LINE = 64 * 1024

# The stories logbrief tells on a crawl.
CRAWL_STORIES = ("access", "high-load")

HELP_EPILOG = """\
inputs (uncompressed sizes):
  256m, 1g                        the benchmark log
  lookalike-256m, lookalike-1g    the same with 20% of the lines naming look-alikes
  256m.gz, 1g.gz                  the benchmark log, gzipped
  crawl-1m, crawl-1m-one          1,000,000 requests to northwind, each from its own
                                  visitor, and the same from one visitor
  5g                              the benchmark log at 5 GB (only when asked for)

environment variables:
  BENCH_DIR      where the inputs, the DuckDB venv and report.md live
                 (default: target/bench in the repository)
  BENCH_INPUTS   comma-separated inputs to run (default: all but 5g; e.g.
                 BENCH_INPUTS=1g,lookalike-1g for a quick run). BENCH_SIZES is the
                 older name and still works.
  BENCH_RUNS     runs of each tool on each input; medians, minima and maxima are
                 reported (default: 5)
  BENCH_THREADS  comma-separated thread counts for DuckDB and logbrief (default: 1,2);
                 the crawls run logbrief with the largest
  BENCH_SCALE    scale every size and the crawl's request count by this factor, to
                 check the script itself quickly (e.g. BENCH_SCALE=0.01 BENCH_RUNS=1).
                 Scaled inputs and their report live in BENCH_DIR/scale-FACTOR.

A first run gives logbrief a new, empty XDG_CACHE_HOME; a repeat run one that an
untimed run of the same command filled. A logbrief without `summarize --no-cache`
has no digest cache, and its repeat runs are reported as not measurable.

Inputs that already exist with the right size are reused; delete them to regenerate.
The run exits non-zero when logbrief's counts differ from DuckDB's or a tool fails.
"""


def log(message: str) -> None:
    """Progress goes to standard error, so standard output carries only the report."""
    print(message, file=sys.stderr, flush=True)


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


# --------------------------------------------------------------------------------------
# Running and measuring a process
# --------------------------------------------------------------------------------------


@dataclass
class Run:
    """One finished process: wall time, peak resident memory and what it printed."""

    wall: float
    rss_kib: int
    returncode: int
    stdout: bytes
    stderr: bytes


def measure(argv: list[str], env: dict[str, str] | None = None) -> Run:
    """Runs argv with stdout and stderr piped and returns its wall time and peak RSS.

    The child is reaped with os.wait4, whose rusage gives ru_maxrss (KiB on Linux) for
    the child and the descendants it waited for. Pipes are drained by threads so a
    chatty child never blocks.
    """
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    chunks: dict[str, bytes] = {}

    def drain(name: str, stream) -> None:
        chunks[name] = stream.read()

    readers = [
        threading.Thread(target=drain, args=("stdout", proc.stdout)),
        threading.Thread(target=drain, args=("stderr", proc.stderr)),
    ]
    for reader in readers:
        reader.start()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    for reader in readers:
        reader.join()
    proc.stdout.close()
    proc.stderr.close()
    # The child is reaped already; tell Popen so it does not wait for it again.
    proc.returncode = os.waitstatus_to_exitcode(status)
    return Run(wall, usage.ru_maxrss, proc.returncode, chunks["stdout"], chunks["stderr"])


def check_call(argv: list[str], **kwargs) -> None:
    log("$ " + shlex.join(str(a) for a in argv))
    subprocess.run(argv, check=True, **kwargs)


def output_of(argv: list[str]) -> str:
    try:
        return subprocess.run(argv, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


# --------------------------------------------------------------------------------------
# Step 1: build
# --------------------------------------------------------------------------------------


def target_dir() -> Path:
    """Cargo's target directory (CARGO_TARGET_DIR or the workspace's `target/`)."""
    meta = subprocess.run(
        ["cargo", "metadata", "--format-version", "1", "--no-deps"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return Path(json.loads(meta.stdout)["target_directory"])


def build() -> str | None:
    """Builds both binaries in release mode. Returns why logbrief is unavailable, or
    None. A logbrief that does not build does not stop the DuckDB and wc runs."""
    argv = ["cargo", "build", "--release", "--locked", "-p", "logbrief", "-p", "logbrief-fixtures"]
    log("$ " + shlex.join(argv))
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True)
    if done.returncode == 0:
        return None
    tail = "\n".join(done.stderr.strip().splitlines()[-15:])
    log(f"building logbrief failed:\n{tail}\nbuilding the generator alone")
    check_call(["cargo", "build", "--release", "--locked", "-p", "logbrief-fixtures"], cwd=ROOT)
    return "it did not build (`cargo build --release --locked -p logbrief` failed)"



# --------------------------------------------------------------------------------------
# Step 2: inputs
# --------------------------------------------------------------------------------------


def scaled(spec: Input, scale: float) -> int:
    """The input's size (bytes or requests) at this scale."""
    return max(1, round(spec.size * scale))


def complete(path: Path, spec: Input, size: int) -> bool:
    """Whether path holds a finished generator output of `size` uncompressed bytes.
    A crawl is written under its name only once complete, so it is there or not."""
    if not path.is_file():
        return False
    if spec.crawl:
        return True
    if not spec.gzipped:
        return size <= path.stat().st_size < size + MAX_LINE
    # A gzip member ends with the uncompressed size modulo 2**32 (ISIZE).
    with path.open("rb") as f:
        if f.read(2) != b"\x1f\x8b":
            return False
        f.seek(-4, os.SEEK_END)
        isize = int.from_bytes(f.read(4), "little")
    return (isize - size) % 2**32 < MAX_LINE


def generate(generator: Path, data_dir: Path, names: list[str], scale: float) -> dict[str, float]:
    """Writes the inputs that are missing; returns the seconds each generation took."""
    took: dict[str, float] = {}
    for name in names:
        spec = INPUTS[name]
        path = data_dir / spec.file
        size = scaled(spec, scale)
        if complete(path, spec, size):
            log(f"{path} exists, reusing it")
            continue
        if spec.crawl:
            argv = [str(generator), "crawl", "--requests", str(size), "--out", str(path)]
            if spec.one_visitor:
                argv.append("--one-visitor")
        else:
            argv = [str(generator), "bench", "--bytes", str(size), "--out", str(path)]
            if spec.kind == "look-alike":
                argv += ["--lookalikes", LOOK_ALIKE_SHARE]
            if spec.gzipped:
                argv.append("--gzip")
        start = time.perf_counter()
        check_call(argv)
        took[name] = time.perf_counter() - start
    # The directory is tiny; writing it every time keeps it in step with the generator.
    check_call([str(generator), "bench-directory", "--out", str(data_dir / "directory.json")])
    return took




# --------------------------------------------------------------------------------------
# Step 3: DuckDB in a venv
# --------------------------------------------------------------------------------------


def duckdb_python(bench_dir: Path) -> Path:
    """The venv's Python with the pinned DuckDB, created or reused."""
    venv = bench_dir / "venv"
    python = venv / "bin" / "python"
    probe = [str(python), "-c", "import duckdb; print(duckdb.__version__)"]
    if python.exists() and output_of(probe) == DUCKDB_VERSION:
        log(f"reusing {venv} (duckdb {DUCKDB_VERSION})")
        return python
    check_call([sys.executable, "-m", "venv", str(venv)])
    check_call([str(venv / "bin" / "pip"), "install", "--quiet", f"duckdb=={DUCKDB_VERSION}"])
    return python


# The DuckDB side, run as `python -c DUCKDB_SCRIPT FILE THREADS`. One scan computes the
# totals, the per-path and the per-status numbers (GROUPING SETS); only the columns the
# question needs are read. A request belongs to northwind when the root segment of
# meta.project (else meta.root_namespace) is `northwind`, in any case. Users are counted
# by id, else by username; anonymous means neither. It prints one JSON object.
DUCKDB_SCRIPT = r'''
import json, sys, time
import duckdb

path, threads = sys.argv[1], int(sys.argv[2])
con = duckdb.connect()
con.execute(f"SET threads = {threads}")
# Long queries would otherwise draw a progress bar on standard output.
con.execute("SET enable_progress_bar = false")
literal = "'" + path.replace("'", "''") + "'"
query = f"""
-- GROUPING(x) is 1 where x is summed over: the per-status rows sum over paths.
SELECT GROUPING(path) AS by_status, GROUPING(status) AS by_path, path, status,
       count(*) AS accesses,
       count(DISTINCT CASE WHEN user_id IS NOT NULL THEN 'id:' || user_id::VARCHAR
                           WHEN username IS NOT NULL THEN 'name:' || lower(username) END) AS users,
       count(*) FILTER (WHERE user_id IS NULL AND username IS NULL) AS anonymous,
       count(DISTINCT remote_ip) AS unique_ips,
       min(t) AS first_seen,
       max(t) AS last_seen
FROM (
    SELECT "time" AS t, status, user_id, username, remote_ip,
           coalesce("meta.project", "meta.root_namespace") AS path
    FROM read_ndjson({literal}, columns = {{
        'time': 'VARCHAR', 'status': 'BIGINT', 'user_id': 'BIGINT', 'username': 'VARCHAR',
        'remote_ip': 'VARCHAR', 'meta.project': 'VARCHAR', 'meta.root_namespace': 'VARCHAR'
    }})
    WHERE lower(split_part(coalesce("meta.project", "meta.root_namespace"), '/', 1)) = 'northwind'
)
GROUP BY GROUPING SETS ((), (path), (status))
"""
start = time.perf_counter()
rows = con.execute(query).fetchall()
seconds = time.perf_counter() - start

result = {"query_seconds": seconds, "counts": None, "paths": {}, "statuses": {}}
for by_status, by_path, p, status, accesses, users, anonymous, ips, first, last in rows:
    numbers = {"accesses": accesses, "users": users, "anonymous_accesses": anonymous,
               "unique_ips": ips}
    if by_status and by_path:
        result["counts"] = dict(numbers, first_seen=first, last_seen=last)
    elif by_path:
        result["paths"][p] = numbers
    else:
        result["statuses"][str(status)] = accesses
print(json.dumps(result, sort_keys=True))
'''


# --------------------------------------------------------------------------------------
# Step 4: the machine and the page cache
# --------------------------------------------------------------------------------------


def warm(path: Path) -> None:
    """Reads the file once so every tool starts with it in the page cache."""
    with path.open("rb", buffering=0) as f:
        while f.read(16 << 20):
            pass


def machine(duckdb_version: str) -> dict[str, str]:
    cpu = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = "unknown"
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
                break
    commit = output_of(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"])
    if output_of(["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"]):
        commit += " (with uncommitted changes)"
    return {
        "cores (nproc)": output_of(["nproc"]),
        "CPU": cpu,
        "memory": memory,
        "kernel": platform.release(),
        "rustc": output_of(["rustc", "--version"]),
        "duckdb": duckdb_version,
        "python": platform.python_version(),
        "logbrief commit": commit,
        "load average before the runs": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }


# --------------------------------------------------------------------------------------
# Step 5: the measured runs
# --------------------------------------------------------------------------------------


@dataclass
class Series:
    """Every run of one tool configuration on one input."""

    tool: str
    threads: str
    # logbrief only: "first" (an empty digest cache) or "repeat" (the digest cached).
    run: str | None = None
    # logbrief on a crawl: the story it tells.
    story: str | None = None
    walls: list[float] = field(default_factory=list)
    rss_kib: list[int] = field(default_factory=list)
    # DuckDB only: the query's own time, measured inside the subprocess.
    query_walls: list[float] = field(default_factory=list)
    # What the tool answered (parsed JSON), one per run.
    answers: list[dict] = field(default_factory=list)
    stdouts: list[bytes] = field(default_factory=list)
    error: str | None = None
    # Why the series cannot be measured at all (not a failure).
    unavailable: str | None = None
    # Repeat runs: the XDG_CACHE_HOME an untimed run filled, and whether it stayed empty.
    cache: Path | None = None
    cache_empty: bool = False

    @property
    def label(self) -> str:
        if self.tool != "logbrief":
            return self.tool
        story = f" {self.story}" if self.story else ""
        return f"logbrief{story}, {self.run} run"

    def median(self, query_only: bool = False) -> float:
        return statistics.median(self.query_walls if query_only else self.walls)

    def peak_mib(self) -> float:
        return max(self.rss_kib) / 1024


def shown(argv: list[str]) -> str:
    """A command line for messages, with the inline DuckDB script left out."""
    return shlex.join("SCRIPT" if arg == DUCKDB_SCRIPT else arg for arg in argv)


def failure(run: Run, argv: list[str]) -> str:
    tail = run.stderr.decode(errors="replace").strip().splitlines()[-5:]
    return f"`{shown(argv)}` exited with {run.returncode}: " + " / ".join(tail)


def summarize_help(logbrief: Path) -> str:
    """What `logbrief summarize --help` prints, to tell which options this build has."""
    return subprocess.run(
        [str(logbrief), "summarize", "--help"], capture_output=True, text=True
    ).stdout


def logbrief_env(cache: Path) -> dict[str, str]:
    """The environment of a logbrief run: the digest cache lives in `cache`, so the
    user's own cache is never read or written."""
    return dict(os.environ, XDG_CACHE_HOME=str(cache))


def parse_answer(series: Series, run: Run) -> dict:
    """What one run answered; raises ValueError, KeyError or IndexError on nonsense."""
    if series.tool in ("DuckDB", "logbrief"):
        return json.loads(run.stdout)
    if series.tool.startswith("openssl"):
        # `SHA2-256(FILE)= HEX`
        return {"sha256": run.stdout.decode().rsplit("=", 1)[1].strip()}
    return {"lines": int(run.stdout.split()[0])}


def run_input(
    path: Path,
    spec: Input,
    runs: int,
    threads: list[str],
    python: Path,
    logbrief: Path | None,
    repeat_unavailable: str | None,
    directory: Path,
) -> list[Series]:
    """Runs every tool `runs` times on one input, round-robin so that drift of the
    machine (other load, thermal limits) spreads over all tools alike."""
    configs: list[tuple[Series, list[str]]] = []
    if spec.gzipped:
        count = ["sh", "-c", 'gzip -dc "$1" | wc -l', "sh", str(path)]
        configs.append((Series("gzip -dc | wc -l", "1"), count))
    else:
        configs.append((Series("wc -l", "1"), ["wc", "-l", str(path)]))
    configs.append((Series("openssl dgst -sha256", "1"), ["openssl", "dgst", "-sha256", str(path)]))
    for t in threads:
        argv = [str(python), "-c", DUCKDB_SCRIPT, str(path), t]
        configs.append((Series("DuckDB", t), argv))
    if logbrief is not None:
        if spec.crawl:
            plan = [(story, max(threads, key=int)) for story in CRAWL_STORIES]
        else:
            plan = [(None, t) for t in threads]
        for kind in ("first", "repeat"):
            for story, t in plan:
                argv = [
                    str(logbrief), "summarize",
                    "--requester", REQUESTER,
                    "--directory", str(directory),
                    "--format", "json",
                    "--threads", t,
                    *(["--template", story] if story else []),
                    str(path),
                ]  # fmt: skip
                series = Series("logbrief", t, run=kind, story=story)
                if kind == "repeat":
                    series.unavailable = repeat_unavailable
                configs.append((series, argv))

    # Repeat runs start from a cache that one untimed run of the same command filled.
    try:
        for series, argv in configs:
            if series.run != "repeat" or series.unavailable:
                continue
            series.cache = Path(tempfile.mkdtemp(prefix="logbrief-bench-cache-"))
            log(f"  filling the digest cache: {series.label} ({series.threads} thread(s))")
            run = measure(argv, logbrief_env(series.cache))
            if run.returncode != 0:
                series.error = failure(run, argv)
                log("    " + series.error)
            series.cache_empty = not any(p.is_file() for p in series.cache.rglob("*"))
        measure_rounds(configs, runs)
    finally:
        for series, _ in configs:
            if series.cache is not None:
                shutil.rmtree(series.cache, ignore_errors=True)
    return [series for series, _ in configs]


def measure_rounds(configs: list[tuple[Series, list[str]]], runs: int) -> None:
    """The timed runs, round-robin. A first run gets a new, empty cache, removed after
    it; a repeat run the cache filled for its series."""
    for i in range(runs):
        for series, argv in configs:
            if series.error or series.unavailable:
                continue
            log(f"  run {i + 1}/{runs}: {series.label} ({series.threads} thread(s))")
            fresh = None
            env = None
            if series.run == "first":
                fresh = Path(tempfile.mkdtemp(prefix="logbrief-bench-cache-"))
                env = logbrief_env(fresh)
            elif series.run == "repeat":
                env = logbrief_env(series.cache)
            try:
                run = measure(argv, env)
            finally:
                if fresh is not None:
                    shutil.rmtree(fresh, ignore_errors=True)
            if run.returncode != 0:
                series.error = failure(run, argv)
                log("    " + series.error)
                continue
            try:
                answer = parse_answer(series, run)
                if series.tool == "DuckDB":
                    series.query_walls.append(answer["query_seconds"])
            except (ValueError, KeyError, IndexError) as e:
                series.error = f"`{shown(argv)}` printed something unexpected ({e})"
                log("    " + series.error)
                continue
            series.answers.append(answer)
            series.walls.append(run.wall)
            series.rss_kib.append(run.rss_kib)
            series.stdouts.append(run.stdout)


# --------------------------------------------------------------------------------------
# Step 6: the correctness gate
# --------------------------------------------------------------------------------------


def compare(all_series: list[Series]) -> tuple[list[str], list[str]]:
    """Checks logbrief against DuckDB and against openssl's digest. Returns (problems,
    notes): a problem fails the run; a note is a difference outside the gate worth a
    look."""
    problems: list[str] = []
    notes: list[str] = []
    duck = [s for s in all_series if s.tool == "DuckDB" and s.answers]
    brief = [s for s in all_series if s.tool == "logbrief" and s.answers]
    if not duck:
        return (["DuckDB produced no answer"], notes)
    reference = duck[0].answers[0]
    for s in duck:
        for answer in s.answers:
            if {k: v for k, v in answer.items() if k != "query_seconds"} != {
                k: v for k, v in reference.items() if k != "query_seconds"
            }:
                problems.append(f"DuckDB with {s.threads} thread(s) answered differently")
                break
    # The query's own scope rule: every path it counts has `northwind` as its root
    # segment, whatever look-alikes the input holds.
    strays = sorted(p for p in reference["paths"] if p.split("/")[0].lower() != NAMESPACE)
    if strays:
        problems.append(f"DuckDB counted paths outside {NAMESPACE}: {', '.join(strays[:5])}")
    expected = reference["counts"] or {}
    expected_paths = {p: n["accesses"] for p, n in reference["paths"].items()}
    digest = next(
        (s.answers[0]["sha256"] for s in all_series if s.tool.startswith("openssl") and s.answers), None
    )
    for s in brief:
        who = f"{s.label} ({s.threads} thread(s))"
        if any(out != s.stdouts[0] for out in s.stdouts):
            problems.append(f"{who} printed different output across runs")
        got = s.answers[0]
        counts = got.get("counts", {})
        for key in ("accesses", "users", "unique_ips", "anonymous_accesses"):
            if counts.get(key) != expected.get(key):
                problems.append(f"{who}: counts.{key} is {counts.get(key)}, DuckDB says {expected.get(key)}")
        paths = {p["path"]: p["accesses"] for p in got.get("paths", [])}
        if paths != expected_paths:
            differing = sorted(
                p for p in set(paths) | set(expected_paths) if paths.get(p) != expected_paths.get(p)
            )
            listed = ", ".join(f"{p}: {paths.get(p)} vs {expected_paths.get(p)}" for p in differing[:5])
            problems.append(f"{who}: per-path accesses differ (logbrief vs DuckDB) for {listed}")
        sha = (got.get("inputs") or [{}])[0].get("sha256")
        if digest is not None and sha != digest:
            problems.append(f"{who}: inputs[0].sha256 is {sha}, openssl says {digest}")
        # Outside the gate, but worth knowing.
        for key in ("first_seen", "last_seen"):
            if counts.get(key) != expected.get(key):
                notes.append(f"{who}: counts.{key} is {counts.get(key)}, DuckDB says {expected.get(key)}")
        statuses = got.get("statuses")
        if isinstance(statuses, list):
            mine = {str(x.get("status")): x.get("accesses") for x in statuses}
            if mine != reference["statuses"]:
                notes.append(f"{who}: per-status accesses differ from DuckDB's")
        differing = [
            f"{p['path']} {key} {p[key]} vs {reference['paths'].get(p['path'], {}).get(key)}"
            for p in got.get("paths", [])
            for key in ("users", "unique_ips", "anonymous_accesses")
            if key in p and p[key] != reference["paths"].get(p["path"], {}).get(key)
        ]
        if differing:
            notes.append(
                f"{who}: {len(differing)} per-path numbers differ from DuckDB's (logbrief vs DuckDB): "
                + ", ".join(differing[:5])
            )
    # A cached digest must not change the answer.
    for first in (s for s in brief if s.run == "first"):
        for repeat in brief:
            if (repeat.run, repeat.story, repeat.threads) == ("repeat", first.story, first.threads):
                if repeat.stdouts[0] != first.stdouts[0]:
                    problems.append(
                        f"{first.label} and {repeat.label} ({first.threads} thread(s)) "
                        "printed different output"
                    )
    return problems, notes


# --------------------------------------------------------------------------------------
# Step 7: the report
# --------------------------------------------------------------------------------------


def seconds(x: float) -> str:
    return f"{x:.3f}" if x < 10 else f"{x:.2f}"


def cell(text: str) -> str:
    """Text for a table cell: `gzip -dc | wc -l` must not split the row."""
    return text.replace("|", "\\|")


def table(all_series: list[Series]) -> list[str]:
    """One input's table. Ratios are time divided by the baseline's median: below 1
    is faster. Against DuckDB, the baseline is its query-only time with the same number
    of threads (the stricter comparison); against wc -l and openssl, their
    whole-process time."""
    counter = next(s for s in all_series if s.tool.endswith("wc -l"))
    digest = next(s for s in all_series if s.tool.startswith("openssl"))
    duck = {s.threads: s for s in all_series if s.tool == "DuckDB" and s.walls}
    rows = [
        "| tool | threads | median s | min–max s | peak RSS MiB | ÷ DuckDB query | ÷ wc -l | ÷ openssl |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]

    def ratio(median: float, base: Series | None, query_only: bool = False) -> str:
        if base is None or not base.walls:
            return "–"
        return f"{median / base.median(query_only):.2f}"

    def row(name: str, s: Series, walls: list[float], rss: str) -> str:
        median = statistics.median(walls)
        query = name == "DuckDB, query only"
        vs_duck = "–" if query else ratio(median, duck.get(s.threads), query_only=True)
        spread = f"{seconds(min(walls))}–{seconds(max(walls))}"
        return (
            f"| {cell(name)} | {s.threads} | {seconds(median)} | {spread} | {rss} | {vs_duck} "
            f"| {ratio(median, counter)} | {ratio(median, digest)} |"
        )

    for s in all_series:
        if s.unavailable:
            rows.append(f"| {cell(s.label)} | {s.threads} | {s.unavailable} | | | | | |")
            continue
        if s.error:
            rows.append(f"| {cell(s.label)} | {s.threads} | failed | | | | | |")
            continue
        if not s.walls:
            continue
        rss = f"{s.peak_mib():.0f}"
        if s.tool == "DuckDB":
            rows.append(row("DuckDB, query only", s, s.query_walls, "–"))
            rows.append(row("DuckDB, whole process", s, s.walls, rss))
        else:
            rows.append(row(s.label, s, s.walls, rss))
    return rows


def find(
    results: dict[str, list[Series]], name: str, tool: str, run: str | None = None, story: str | None = None
) -> tuple[Series | None, str]:
    """The 2-thread series of a tool on an input, or why there is none."""
    if name not in results:
        return None, f"`{name}` was not in this run"
    for s in results[name]:
        if s.tool != tool or s.run != run or s.story != story:
            continue
        if tool in ("DuckDB", "logbrief") and s.threads != "2":
            continue
        if s.unavailable:
            return None, s.unavailable
        if s.error:
            return None, "it failed"
        if s.walls:
            return s, ""
    if tool == "logbrief":
        return None, "logbrief did not run with 2 threads"
    return None, f"{tool} did not run"


def goals(results: dict[str, list[Series]]) -> list[str]:
    """RULES.md §10's goals, each with the measured ratio: logbrief with 2 threads."""
    rows = [
        "| goal | input | measured | limit | result |",
        "|---|---|---:|---:|---|",
    ]

    def add(goal: str, where: str, value: float | None, limit: float, missing: str) -> None:
        if value is None:
            rows.append(f"| {goal} | {where} | – | ≤ {limit:g} | not measured: {missing} |")
        else:
            verdict = "met" if value <= limit else "**not met**"
            rows.append(f"| {goal} | {where} | {value:.2f} | ≤ {limit:g} | {verdict} |")

    def ratio(a: tuple[Series | None, str], b: tuple[Series | None, str], of) -> tuple[float | None, str]:
        (x, why_x), (y, why_y) = a, b
        if x is None or y is None:
            return None, why_x or why_y
        return of(x) / of(y), ""

    time_of = Series.median
    rss_of = Series.peak_mib

    for name in ("1g", "lookalike-1g", "1g.gz"):
        value, why = ratio(
            find(results, name, "logbrief", "repeat"),
            find(results, name, "DuckDB"),
            lambda s: s.median(query_only=s.tool == "DuckDB"),
        )
        add("repeat run ÷ DuckDB query (2 threads)", f"`{name}`", value, 0.5, why)
    for name in ("1g", "lookalike-1g", "1g.gz"):
        value, why = ratio(
            find(results, name, "logbrief", "first"),
            find(results, name, "openssl dgst -sha256"),
            time_of,
        )
        add("first run ÷ `openssl dgst -sha256`", f"`{name}`", value, 1.25, why)
    for story in CRAWL_STORIES:
        for run in ("first", "repeat"):
            many = find(results, "crawl-1m", "logbrief", run, story)
            one = find(results, "crawl-1m-one", "logbrief", run, story)
            where = f"{story}, {run} runs"
            value, why = ratio(many, one, time_of)
            add("crawl ÷ one visitor, time", where, value, 2, why)
            value, why = ratio(many, one, rss_of)
            add("crawl ÷ one visitor, peak RSS", where, value, 2, why)
    for small, large in (("256m", "1g"), ("lookalike-256m", "lookalike-1g"), ("256m.gz", "1g.gz")):
        for run in ("first", "repeat"):
            value, why = ratio(
                find(results, large, "logbrief", run),
                find(results, small, "logbrief", run),
                rss_of,
            )
            add("peak RSS 1 GB ÷ 256 MB", f"`{large}` ÷ `{small}`, {run} runs", value, 1.5, why)
    return rows


def report(
    machine_facts: dict[str, str],
    results: dict[str, list[Series]],
    generation: dict[str, float],
    runs: int,
    scale: float,
    notes: list[str],
    problems: list[str],
    data_dir: Path,
) -> str:
    out = [
        "# logbrief benchmark",
        "",
        f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC; medians of {runs} runs each; "
        f"the question: requests to `{NAMESPACE}` for {REQUESTER}.",
    ]
    if scale != 1:
        out += [
            "",
            f"**Scaled run (BENCH_SCALE={scale:g})**: every input is {scale:g} of the size its "
            "name says, and the crawls have as many fewer requests. It checks the script; "
            "its times say nothing about the goals.",
        ]
    out += [
        "",
        "| machine | |",
        "|---|---|",
        *(f"| {k} | {v} |" for k, v in machine_facts.items()),
        "",
        "## Inputs",
        "",
        "| input | file | bytes on disk | lines | generated in |",
        "|---|---|---:|---:|---:|",
    ]
    for name, all_series in results.items():
        file_name = INPUTS[name].file
        size = (data_dir / file_name).stat().st_size
        counter = next(s for s in all_series if s.tool.endswith("wc -l"))
        lines = f"{counter.answers[0]['lines']:,}" if counter.answers else "?"
        made = f"{generation[name]:.1f} s" if name in generation else "(reused)"
        out.append(f"| `{name}` | `{file_name}` | {size:,} | {lines} | {made} |")
    for name, all_series in results.items():
        duck = next((s for s in all_series if s.tool == "DuckDB" and s.answers), None)
        out += ["", f"## `{name}` (`{INPUTS[name].file}`)", ""]
        if duck:
            c = duck.answers[0]["counts"] or {}
            out += [
                f"DuckDB's answer: {c.get('accesses')} accesses, {c.get('users')} users, "
                f"{c.get('anonymous_accesses')} anonymous, {c.get('unique_ips')} unique IPs, "
                f"{len(duck.answers[0]['paths'])} paths, {c.get('first_seen')} to {c.get('last_seen')}.",
                "",
            ]
        out += table(all_series)
        errors = [f"- {s.label} ({s.threads} thread(s)): {s.error}" for s in all_series if s.error]
        if errors:
            out += ["", "Failures:", *errors]
    out += [
        "",
        "Ratios are the tool's median time divided by the baseline's median: below 1 is faster. "
        "`÷ DuckDB query` divides by DuckDB's query-only time with the same number of threads "
        "(the query measured inside its process, without starting Python and loading DuckDB); "
        "`÷ wc -l` and `÷ openssl` by the whole-process time of the line count and of "
        "`openssl dgst -sha256` on the stored file. A first run starts with an empty digest "
        "cache, a repeat run with the digest an untimed run cached. Peak RSS is `ru_maxrss` "
        "of the process (and what it waited for), the largest over the runs. Files are read "
        "once before their runs, so they come from the page cache.",
        "",
        "## RULES.md §10 goals",
        "",
        "logbrief with 2 threads. Times are medians; peak RSS the largest over the runs.",
        "",
        *goals(results),
    ]
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    out += ["", f"Load average after the runs: {load} (other work on the machine skews the times)."]
    if notes:
        out += ["", "## Notes", "", *(f"- {n}" for n in notes)]
    out += ["", "## Correctness", ""]
    ran = any(s.tool == "logbrief" and s.answers for group in results.values() for s in group)
    if problems:
        out += [f"- **{p}**" for p in problems]
    elif ran:
        repeated = any(s.run == "repeat" and s.answers for group in results.values() for s in group)
        out.append(
            "logbrief's counts equal DuckDB's, and its digest openssl's, on every input"
            + ("; its first and repeat runs print the same." if repeated else ".")
        )
    else:
        out.append("logbrief did not run, so nothing was compared.")
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------------------


def selected(parser: argparse.ArgumentParser) -> list[str]:
    """The inputs BENCH_INPUTS (or its older name BENCH_SIZES) asks for."""
    variable = "BENCH_INPUTS" if "BENCH_INPUTS" in os.environ else "BENCH_SIZES"
    default = ",".join(name for name, spec in INPUTS.items() if not spec.optional)
    names = env_list(variable, default)
    unknown = [n for n in names if n not in INPUTS]
    if unknown:
        parser.error(f"{variable}: unknown input(s) {', '.join(unknown)}; known: {', '.join(INPUTS)}")
    return names


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog=HELP_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.parse_args()

    bench_dir = Path(os.environ.get("BENCH_DIR", ROOT / "target" / "bench")).resolve()
    names = selected(parser)
    runs = int(os.environ.get("BENCH_RUNS", "5"))
    threads = env_list("BENCH_THREADS", "1,2")
    try:
        scale = float(os.environ.get("BENCH_SCALE", "1"))
    except ValueError:
        parser.error("BENCH_SCALE wants a number, such as 0.01")
    if not scale > 0:
        parser.error("BENCH_SCALE must be above 0")
    # Scaled inputs live apart, so a quick check never replaces a full-size input.
    data_dir = bench_dir if scale == 1 else bench_dir / f"scale-{scale:g}"
    data_dir.mkdir(parents=True, exist_ok=True)

    # 1. Build.
    unavailable = build()
    release = target_dir() / "release"
    generator = release / "logbrief-fixtures"
    logbrief: Path | None = release / "logbrief"
    help_text = "" if unavailable else summarize_help(logbrief)
    if unavailable is None and "--threads" not in help_text:
        unavailable = "this build has no `summarize --threads` yet"
    notes: list[str] = []
    if unavailable:
        notes.append(f"logbrief was not run: {unavailable}.")
        log(f"skipping logbrief: {unavailable}")
        logbrief = None
    repeat_unavailable = None
    if "--no-cache" not in help_text:
        repeat_unavailable = "not measurable with this build"
        if logbrief is not None:
            notes.append(
                "this build has no `summarize --no-cache`, so no digest cache: repeat runs "
                "are not measurable, and a first run is every run"
            )

    # 2. Inputs.
    generation = generate(generator, data_dir, names, scale)

    # 3. DuckDB.
    python = duckdb_python(bench_dir)
    duckdb_version = output_of([str(python), "-c", "import duckdb; print(duckdb.__version__)"])

    # 4. The machine.
    facts = machine(duckdb_version)
    if os.getloadavg()[0] > 0.5:
        notes.append(
            "the machine was busy when the runs began (see the load average): "
            "expect noisy times, and compare the minima as well as the medians"
        )

    # 5. Runs, each input read once beforehand so that it comes from the page cache.
    results: dict[str, list[Series]] = {}
    for name in names:
        spec = INPUTS[name]
        path = data_dir / spec.file
        log(f"{name} ({spec.file}): reading it once to warm the page cache")
        warm(path)
        results[name] = run_input(
            path,
            spec,
            runs,
            threads,
            python,
            logbrief,
            repeat_unavailable,
            data_dir / "directory.json",
        )
        notes += [
            f"`{name}`: {s.label} ({s.threads} thread(s)): the untimed run before left the "
            "digest cache empty, so the repeat runs found nothing cached"
            for s in results[name]
            if s.cache_empty and not s.error
        ]

    # 6. Correctness.
    problems: list[str] = []
    for name, all_series in results.items():
        found, remarks = compare(all_series)
        problems += [f"`{name}`: {p}" for p in found]
        notes += [f"`{name}`: {n}" for n in remarks]
        problems += [
            f"`{name}`: {s.label} ({s.threads} thread(s)) failed: {s.error}"
            for s in all_series
            if s.error
        ]

    # 7. Report.
    text = report(facts, results, generation, runs, scale, notes, problems, data_dir)
    (data_dir / "report.md").write_text(text)
    print(text, end="")
    if problems:
        log("logbrief and DuckDB disagree, or a tool failed:\n" + "\n".join(problems))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
