"""logbrief's candidate job for Spark.

Reads log files (plain or gzip, from any path Spark reads: local, HDFS, S3 or GCS
through the usual connectors), keeps the lines that may concern a requester's scope,
and counts every line per source for `logbrief summarize --manifest`. It writes:

  OUTPUT/kept/part-*           the candidate lines, one per line
  OUTPUT/manifest/part-*.json  one JSON object per source: name, lines, first, last

The candidate lines are chosen either by the expression of `logbrief pushdown`
(--regex, Spark's rlike) or by logbrief's own filter, piped through on every
executor (--pipe 'logbrief filter ...'). Both keep every line in scope; the second
depends on no regular-expression dialect.

Printed by `logbrief pushdown --engine spark`, which also gives the invocations.
"""

import argparse
import datetime
import shlex

from pyspark.sql import SparkSession
from pyspark.sql import functions as F


def field(name):
    """A JSON field of the line, from a `jsonPayload` wrapper first."""
    return F.coalesce(
        F.get_json_object("value", "$.jsonPayload." + name),
        F.get_json_object("value", "$." + name),
    )


def line_time(lines):
    """The time of a line, or null when it has none Spark can read."""
    if lines == "nginx":
        text = F.regexp_extract("value", r"\[([^\]]+)\]", 1)
        return F.try_to_timestamp(text, F.lit("dd/MMM/yyyy:HH:mm:ss Z"))
    text = F.coalesce(field("time"), F.get_json_object("value", "$.timestamp"))
    return F.try_to_timestamp(text)


def looks_like_request(lines, t):
    """A little wider than logbrief's own notion of a request, never narrower."""
    if lines == "nginx":
        return t.isNotNull()
    msg, path, uri = field("msg"), field("path"), field("uri")
    lower = F.lower(path)
    internal = lower.startswith("/api/v4/internal/") & (lower != "/api/v4/internal/allowed")
    rails = msg.isNull() & path.isNotNull() & ~internal
    workhorse = (msg == F.lit("access")) & uri.isNotNull()
    return t.isNotNull() & (rails | workhorse)


def pipe_through(command):
    """Runs `command` on each partition, its lines in, the kept lines out.

    A program or file shipped with --files (logbrief, the directory) is found where
    Spark put it on the executor; anything else is taken as it is (PATH, absolute).
    """

    def run(rows):
        import os
        import subprocess
        import threading

        from pyspark import SparkFiles

        def local(arg):
            path = SparkFiles.get(arg)
            return path if os.path.isfile(path) else arg

        argv = [local(arg) for arg in command]
        child = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE)

        def feed():
            try:
                for row in rows:
                    child.stdin.write(row.encode("utf-8") + b"\n")
            except BrokenPipeError:
                pass
            finally:
                child.stdin.close()

        writer = threading.Thread(target=feed, daemon=True)
        writer.start()
        for line in child.stdout:
            yield line.rstrip(b"\n").decode("utf-8")
        writer.join()
        if child.wait() != 0:
            raise RuntimeError(f"{command[0]} ended with exit code {child.returncode}")

    return run


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", choices=["json", "nginx"], default="json")
    how = parser.add_mutually_exclusive_group(required=True)
    how.add_argument("--regex", help="the expression of `logbrief pushdown`")
    how.add_argument("--pipe", help="a `logbrief filter ...` command line")
    parser.add_argument("--since", help="keep lines at or after this RFC 3339 time")
    parser.add_argument("--until", help="keep lines before this RFC 3339 time")
    parser.add_argument("--output", required=True, help="a folder or URL, not yet there")
    parser.add_argument("sources", nargs="+", help="files, folders or globs")
    args = parser.parse_args()

    spark = (
        SparkSession.builder.appName("logbrief-candidates")
        .config("spark.sql.session.timeZone", "UTC")
        .getOrCreate()
    )
    ran_at = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    # A source named twice is read once, as logbrief reads a file given twice; lines
    # end at \n only, as logbrief reads them.
    sources = list(dict.fromkeys(args.sources))
    lines = (
        spark.read.option("lineSep", "\n")
        .text(sources)
        .select(F.col("_metadata.file_path").alias("source"), "value")
        .withColumn("t", line_time(args.lines))
    )
    t = F.col("t")
    if args.since:
        lines = lines.where(t.isNull() | (t >= F.lit(args.since).cast("timestamp")))
    if args.until:
        lines = lines.where(t.isNull() | (t < F.lit(args.until).cast("timestamp")))

    if args.regex is not None:
        kept = lines.where(F.col("value").rlike(args.regex)).select("value")
        kept.write.text(args.output + "/kept")
        used = args.regex
    else:
        rows = lines.select("value").rdd.map(lambda row: row[0])
        rows.mapPartitions(pipe_through(shlex.split(args.pipe))).saveAsTextFile(
            args.output + "/kept"
        )
        used = "logbrief filter"

    stamp = "yyyy-MM-dd'T'HH:mm:ss.SSSSSS'Z'"
    request_t = F.when(looks_like_request(args.lines, t), t)
    manifest = (
        lines.groupBy("source")
        .agg(
            F.count(F.lit(1)).alias("lines"),
            F.date_format(F.min(request_t), stamp).alias("first"),
            F.date_format(F.max(request_t), stamp).alias("last"),
        )
        .withColumnRenamed("source", "name")
        .withColumn("engine", F.lit("spark"))
        .withColumn("filter", F.lit(used))
        .withColumn("ran_at", F.lit(ran_at))
        .orderBy("name")
        .coalesce(1)
    )
    manifest.write.json(args.output + "/manifest")
    spark.stop()


if __name__ == "__main__":
    main()
