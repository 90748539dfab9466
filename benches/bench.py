#!/usr/bin/env python3
"""Benchmark logbrief against DuckDB and `wc -l` on generated GitLab logs (RULES.md §10).

One run builds the binaries, generates the inputs it lacks, installs DuckDB into a
virtual environment, times every tool several times on every input, checks that
logbrief and DuckDB count the same, and prints a markdown report (also written to
report.md in the bench directory).

The question every tool answers: what did the requests to the group `northwind`
(owned by the requester owner@northwind.example) look like: accesses, distinct users,
anonymous accesses, unique client IPs, first and last time, per project or group path
and per status.

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
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# The DuckDB release the comparison runs against. Pinned so numbers stay comparable.
DUCKDB_VERSION = "1.5.6"

REQUESTER = "owner@northwind.example"
NAMESPACE = "northwind"

# Every input the benchmark knows: name -> (file name, uncompressed bytes, gzipped).
INPUTS = {
    "1g": ("bench-1g.log", 1_000_000_000, False),
    "1g.gz": ("bench-1g.log.gz", 1_000_000_000, True),
    "5g": ("bench-5g.log", 5_000_000_000, False),
}

# The generator stops at the end of the line that reaches the size asked for, so a
# complete file is at most one line longer. No generated line comes near this.
MAX_LINE = 64 * 1024

HELP_EPILOG = """\
environment variables:
  BENCH_DIR      where the inputs, the DuckDB venv and report.md live
                 (default: target/bench in the repository)
  BENCH_SIZES    comma-separated inputs to run, out of 1g, 1g.gz and 5g
                 (default: all three; e.g. BENCH_SIZES=1g for a quick run)
  BENCH_RUNS     runs of each tool on each input; medians, minima and maxima are
                 reported (default: 5)
  BENCH_THREADS  comma-separated thread counts for DuckDB and logbrief (default: 1,2)

Inputs that already exist with the right size are reused; delete them to regenerate.
The run exits non-zero when logbrief's counts differ from DuckDB's.
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


def measure(argv: list[str]) -> Run:
    """Runs argv with stdout and stderr piped and returns its wall time and peak RSS.

    The child is reaped with os.wait4, whose rusage gives ru_maxrss (KiB on Linux) for
    the child and the descendants it waited for. Pipes are drained by threads so a
    chatty child never blocks.
    """
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
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


def complete(path: Path, size: int, gzipped: bool) -> bool:
    """Whether path holds a finished generator output of `size` uncompressed bytes."""
    if not path.is_file():
        return False
    if not gzipped:
        return size <= path.stat().st_size < size + MAX_LINE
    # A gzip member ends with the uncompressed size modulo 2**32 (ISIZE).
    with path.open("rb") as f:
        if f.read(2) != b"\x1f\x8b":
            return False
        f.seek(-4, os.SEEK_END)
        isize = int.from_bytes(f.read(4), "little")
    return (isize - size) % 2**32 < MAX_LINE


def generate(generator: Path, bench_dir: Path, names: list[str]) -> dict[str, float]:
    """Writes the inputs that are missing; returns the seconds each generation took."""
    took: dict[str, float] = {}
    for name in names:
        file_name, size, gzipped = INPUTS[name]
        path = bench_dir / file_name
        if complete(path, size, gzipped):
            log(f"{path} exists, reusing it")
            continue
        argv = [str(generator), "bench", "--bytes", str(size), "--out", str(path)]
        if gzipped:
            argv.append("--gzip")
        start = time.perf_counter()
        check_call(argv)
        took[name] = time.perf_counter() - start
    # The directory is tiny; writing it every time keeps it in step with the generator.
    check_call([str(generator), "bench-directory", "--out", str(bench_dir / "directory.json")])
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
    walls: list[float] = field(default_factory=list)
    rss_kib: list[int] = field(default_factory=list)
    # DuckDB only: the query's own time, measured inside the subprocess.
    query_walls: list[float] = field(default_factory=list)
    # What the tool answered (parsed JSON), one per run.
    answers: list[dict] = field(default_factory=list)
    stdouts: list[bytes] = field(default_factory=list)
    error: str | None = None

    def median(self, query_only: bool = False) -> float:
        return statistics.median(self.query_walls if query_only else self.walls)


def shown(argv: list[str]) -> str:
    """A command line for messages, with the inline DuckDB script left out."""
    return shlex.join("SCRIPT" if arg == DUCKDB_SCRIPT else arg for arg in argv)


def failure(run: Run, argv: list[str]) -> str:
    tail = run.stderr.decode(errors="replace").strip().splitlines()[-5:]
    return f"`{shown(argv)}` exited with {run.returncode}: " + " / ".join(tail)


def logbrief_takes_threads(logbrief: Path) -> bool:
    """Whether this logbrief build already has `summarize --threads`."""
    help_text = subprocess.run(
        [str(logbrief), "summarize", "--help"], capture_output=True, text=True
    ).stdout
    return "--threads" in help_text


def run_input(
    path: Path,
    gzipped: bool,
    runs: int,
    threads: list[str],
    python: Path,
    logbrief: Path | None,
    directory: Path,
) -> list[Series]:
    """Runs every tool `runs` times on one input, round-robin so that drift of the
    machine (other load, thermal limits) spreads over all tools alike."""
    configs: list[tuple[Series, list[str]]] = []
    if gzipped:
        count = ["sh", "-c", 'gzip -dc "$1" | wc -l', "sh", str(path)]
        configs.append((Series("gzip -dc | wc -l", "1"), count))
    else:
        configs.append((Series("wc -l", "1"), ["wc", "-l", str(path)]))
    for t in threads:
        argv = [str(python), "-c", DUCKDB_SCRIPT, str(path), t]
        configs.append((Series("DuckDB", t), argv))
    if logbrief is not None:
        for t in threads:
            argv = [
                str(logbrief), "summarize",
                "--requester", REQUESTER,
                "--directory", str(directory),
                "--format", "json",
                "--threads", t,
                str(path),
            ]  # fmt: skip
            configs.append((Series("logbrief", t), argv))

    for i in range(runs):
        for series, argv in configs:
            if series.error:
                continue
            log(f"  run {i + 1}/{runs}: {series.tool} ({series.threads} thread(s))")
            run = measure(argv)
            if run.returncode != 0:
                series.error = failure(run, argv)
                log("    " + series.error)
                continue
            try:
                if series.tool == "DuckDB":
                    answer = json.loads(run.stdout)
                    series.query_walls.append(answer["query_seconds"])
                elif series.tool == "logbrief":
                    answer = json.loads(run.stdout)
                else:
                    answer = {"lines": int(run.stdout.split()[0])}
            except (ValueError, KeyError, IndexError) as e:
                series.error = f"`{shown(argv)}` printed something unexpected ({e})"
                log("    " + series.error)
                continue
            series.answers.append(answer)
            series.walls.append(run.wall)
            series.rss_kib.append(run.rss_kib)
            series.stdouts.append(run.stdout)
    return [series for series, _ in configs]


# --------------------------------------------------------------------------------------
# Step 6: the correctness gate
# --------------------------------------------------------------------------------------


def compare(all_series: list[Series]) -> tuple[list[str], list[str]]:
    """Checks logbrief against DuckDB. Returns (problems, notes): a problem fails the
    run; a note is a difference outside the gate worth a look."""
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
    expected = reference["counts"] or {}
    expected_paths = {p: n["accesses"] for p, n in reference["paths"].items()}
    for s in brief:
        if any(out != s.stdouts[0] for out in s.stdouts):
            problems.append(f"logbrief with {s.threads} thread(s) printed different output across runs")
        got = s.answers[0]
        counts = got.get("counts", {})
        who = f"logbrief ({s.threads} thread(s))"
        for key in ("accesses", "users", "unique_ips", "anonymous_accesses"):
            if counts.get(key) != expected.get(key):
                problems.append(f"{who}: counts.{key} is {counts.get(key)}, DuckDB says {expected.get(key)}")
        paths = {p["path"]: p["accesses"] for p in got.get("paths", [])}
        if paths != expected_paths:
            differing = sorted(
                p for p in set(paths) | set(expected_paths) if paths.get(p) != expected_paths.get(p)
            )
            shown = ", ".join(f"{p}: {paths.get(p)} vs {expected_paths.get(p)}" for p in differing[:5])
            problems.append(f"{who}: per-path accesses differ (logbrief vs DuckDB) for {shown}")
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
    return problems, notes


# --------------------------------------------------------------------------------------
# Step 7: the report
# --------------------------------------------------------------------------------------


def seconds(x: float) -> str:
    return f"{x:.3f}" if x < 10 else f"{x:.2f}"


def table(all_series: list[Series]) -> list[str]:
    """One input's table. Ratios are time divided by the baseline's median: below 1
    is faster. Against DuckDB, the baseline is its query-only time with the same number
    of threads (the stricter comparison); against wc -l, its whole-process time."""
    counter = next(s for s in all_series if s.tool.endswith("wc -l"))
    duck = {s.threads: s for s in all_series if s.tool == "DuckDB" and s.walls}
    rows = [
        "| tool | threads | median s | min–max s | peak RSS MiB | ÷ DuckDB query | ÷ wc -l |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]

    def row(name: str, s: Series, walls: list[float], rss: str) -> str:
        median = statistics.median(walls)
        vs_duck = "–"
        if s.threads in duck and name != "DuckDB, query only":
            vs_duck = f"{median / duck[s.threads].median(query_only=True):.2f}"
        vs_wc = f"{median / counter.median():.2f}" if counter.walls else "–"
        spread = f"{seconds(min(walls))}–{seconds(max(walls))}"
        cell = name.replace("|", "\\|")  # `gzip -dc | wc -l` must not split the row
        return f"| {cell} | {s.threads} | {seconds(median)} | {spread} | {rss} | {vs_duck} | {vs_wc} |"

    for s in all_series:
        if s.error:
            rows.append(f"| {s.tool.replace('|', chr(92) + '|')} | {s.threads} | failed | | | | |")
            continue
        if not s.walls:
            continue
        rss = f"{max(s.rss_kib) / 1024:.0f}"
        if s.tool == "DuckDB":
            rows.append(row("DuckDB, query only", s, s.query_walls, "–"))
            rows.append(row("DuckDB, whole process", s, s.walls, rss))
        else:
            rows.append(row(s.tool, s, s.walls, rss))
    return rows


def goals(all_series: list[Series]) -> list[str]:
    """RULES.md §10's two goals for logbrief on 2 threads, where both numbers exist."""
    counter = next(s for s in all_series if s.tool.endswith("wc -l"))
    duck = next((s for s in all_series if s.tool == "DuckDB" and s.threads == "2" and s.walls), None)
    mine = next((s for s in all_series if s.tool == "logbrief" and s.threads == "2" and s.walls), None)
    if mine is None or duck is None or not counter.walls:
        return []
    vs_duck = mine.median() / duck.median(query_only=True)
    vs_wc = mine.median() / counter.median()

    def mark(ok: bool) -> str:
        return "met" if ok else "**not met**"

    return [
        f"- at least 2× faster than DuckDB's query (2 threads): logbrief takes {vs_duck:.2f}× "
        f"its time, {mark(vs_duck <= 0.5)}",
        f"- within 3× of `{counter.tool}`: {vs_wc:.2f}×, {mark(vs_wc <= 3)}",
    ]


def report(
    machine_facts: dict[str, str],
    results: dict[str, list[Series]],
    generation: dict[str, float],
    runs: int,
    notes: list[str],
    problems: list[str],
    bench_dir: Path,
) -> str:
    out = [
        "# logbrief benchmark",
        "",
        f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC; medians of {runs} runs each; "
        f"the question: requests to `{NAMESPACE}` for {REQUESTER}.",
        "",
        "| machine | |",
        "|---|---|",
        *(f"| {k} | {v} |" for k, v in machine_facts.items()),
        "",
        "## Inputs",
        "",
        "| input | bytes on disk | lines | generated in |",
        "|---|---:|---:|---:|",
    ]
    for name, all_series in results.items():
        file_name = INPUTS[name][0]
        size = (bench_dir / file_name).stat().st_size
        counter = next(s for s in all_series if s.tool.endswith("wc -l"))
        lines = f"{counter.answers[0]['lines']:,}" if counter.answers else "?"
        made = f"{generation[name]:.1f} s" if name in generation else "(reused)"
        out.append(f"| `{file_name}` | {size:,} | {lines} | {made} |")
    for name, all_series in results.items():
        duck = next((s for s in all_series if s.tool == "DuckDB" and s.answers), None)
        out += ["", f"## `{INPUTS[name][0]}`", ""]
        if duck:
            c = duck.answers[0]["counts"] or {}
            out += [
                f"DuckDB's answer: {c.get('accesses')} accesses, {c.get('users')} users, "
                f"{c.get('anonymous_accesses')} anonymous, {c.get('unique_ips')} unique IPs, "
                f"{len(duck.answers[0]['paths'])} paths, {c.get('first_seen')} to {c.get('last_seen')}.",
                "",
            ]
        out += table(all_series)
        met = goals(all_series)
        if met:
            out += ["", "RULES.md §10 goals (set for the 1 GB uncompressed file):", *met]
        errors = [f"- {s.tool} ({s.threads} thread(s)): {s.error}" for s in all_series if s.error]
        if errors:
            out += ["", "Failures:", *errors]
    out += [
        "",
        "Ratios are the tool's median time divided by the baseline's median: below 1 is faster. "
        "`÷ DuckDB query` divides by DuckDB's query-only time with the same number of threads "
        "(the query measured inside its process, without starting Python and loading DuckDB); "
        "`÷ wc -l` by the line count's whole-process time. Peak RSS is `ru_maxrss` of the "
        "process (and what it waited for), the largest over the runs. Files are read once "
        "before the runs, so they come from the page cache.",
    ]
    memory = [
        f"{INPUTS[name][0]}: {max(s.rss_kib) / 1024:.0f} MiB"
        for name, all_series in results.items()
        for s in all_series
        if s.tool == "logbrief" and s.threads == "2" and s.rss_kib
    ]
    if len(memory) > 1:
        out += [
            "",
            "logbrief's peak RSS with 2 threads (RULES.md §10: flat in the input's size): "
            + ", ".join(memory)
            + ".",
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
        out.append("logbrief's counts equal DuckDB's on every input.")
    else:
        out.append("logbrief did not run, so nothing was compared.")
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog=HELP_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.parse_args()

    bench_dir = Path(os.environ.get("BENCH_DIR", ROOT / "target" / "bench")).resolve()
    names = env_list("BENCH_SIZES", ",".join(INPUTS))
    unknown = [n for n in names if n not in INPUTS]
    if unknown:
        parser.error(f"BENCH_SIZES: unknown input(s) {', '.join(unknown)}; known: {', '.join(INPUTS)}")
    runs = int(os.environ.get("BENCH_RUNS", "5"))
    threads = env_list("BENCH_THREADS", "1,2")
    bench_dir.mkdir(parents=True, exist_ok=True)

    # 1. Build.
    unavailable = build()
    release = target_dir() / "release"
    generator = release / "logbrief-fixtures"
    logbrief: Path | None = release / "logbrief"
    if unavailable is None and not logbrief_takes_threads(logbrief):
        unavailable = "this build has no `summarize --threads` yet"
    notes: list[str] = []
    if unavailable:
        notes.append(f"logbrief was not run: {unavailable}.")
        log(f"skipping logbrief: {unavailable}")
        logbrief = None

    # 2. Inputs.
    generation = generate(generator, bench_dir, names)

    # 3. DuckDB.
    python = duckdb_python(bench_dir)
    duckdb_version = output_of([str(python), "-c", "import duckdb; print(duckdb.__version__)"])

    # 4. Page cache and machine.
    for name in names:
        log(f"reading {INPUTS[name][0]} once to warm the page cache")
        warm(bench_dir / INPUTS[name][0])
    facts = machine(duckdb_version)
    if os.getloadavg()[0] > 0.5:
        notes.append(
            "the machine was busy when the runs began (see the load average): "
            "expect noisy times, and compare the minima as well as the medians"
        )

    # 5. Runs.
    results: dict[str, list[Series]] = {}
    for name in names:
        file_name, _, gzipped = INPUTS[name]
        log(f"{file_name}:")
        results[name] = run_input(
            bench_dir / file_name,
            gzipped,
            runs,
            threads,
            python,
            logbrief,
            bench_dir / "directory.json",
        )

    # 6. Correctness.
    problems: list[str] = []
    for name, all_series in results.items():
        found, remarks = compare(all_series)
        problems += [f"{INPUTS[name][0]}: {p}" for p in found]
        notes += [f"{INPUTS[name][0]}: {n}" for n in remarks]
        problems += [
            f"{INPUTS[name][0]}: {s.tool} ({s.threads} thread(s)) failed: {s.error}"
            for s in all_series
            if s.error
        ]

    # 7. Report.
    text = report(facts, results, generation, runs, notes, problems, bench_dir)
    (bench_dir / "report.md").write_text(text)
    print(text, end="")
    if problems:
        log("logbrief and DuckDB disagree, or a tool failed:\n" + "\n".join(problems))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
