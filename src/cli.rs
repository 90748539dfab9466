//! The command line, as clap sees it. Only definitions live here: the doc comments are
//! the `--help` text, and `config` turns these raw strings into validated types.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::elastic::DEFAULT_INDEX;

/// Privacy-safe summaries of GitLab platform logs, ready to paste into a support ticket.
///
/// logbrief answers a verified Owner of a paid namespace with counts about their own
/// namespaces only: users, accesses, unique IPs, time range and paths, optionally
/// without their office addresses, their company's email domain or named accounts.
#[derive(Debug, Parser)]
#[command(name = "logbrief", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Summarize logs for a verified requester and print the reply for the ticket.
    #[command(after_help = SUMMARIZE_EXAMPLES)]
    Summarize(Box<SummarizeArgs>),
    /// Check whether a requester may receive a summary, and which namespaces it may cover.
    Verify(VerifyArgs),
    /// Write a commented example logbrief.toml (office ranges, company domains, GeoIP
    /// database, Kibana URL, default format) to the current directory.
    Init(InitArgs),
    /// Report each log's format, line counts, malformed lines and time range (no
    /// personal data).
    Inspect(InspectArgs),
    /// Print the scope filter for the engine that holds the logs: one regular
    /// expression (RE2 subset) that every line in the requester's scope matches, or
    /// ready queries for DuckDB, BigQuery, ClickHouse, Spark or Elasticsearch.
    #[command(after_help = PUSHDOWN_EXAMPLES)]
    Pushdown(PushdownArgs),
    /// Copy the lines of standard input that may concern the requester's scope to
    /// standard output: the filter of `pushdown`, applied by logbrief itself (for
    /// Spark's `pipe`, or any stream).
    Filter(FilterArgs),
    /// Read the directory or audit events from a GitLab instance's REST API (with the
    /// access token in GITLAB_TOKEN), or the candidate log documents from Elasticsearch
    /// or OpenSearch (with the API key in ELASTIC_API_KEY).
    #[command(subcommand)]
    Fetch(FetchCommand),
    /// Print a completion script for a shell (bash, zsh, fish, powershell, elvish).
    Completions(CompletionsArgs),
    /// Print a manual page (roff), for `man -l -` or a man directory: logbrief's, or
    /// one subcommand's with all its options (`logbrief man summarize`,
    /// `logbrief man fetch logs`).
    Man(ManArgs),
}

const PUSHDOWN_EXAMPLES: &str = "\
Examples:
  The expression alone:
    logbrief pushdown --requester owner@acme.example --directory directory.json

  A DuckDB script that writes kept.log and manifest.json, for March:
    logbrief pushdown --engine duckdb --source 'archive/*.log.gz' --since 2026-03-01 \\
      --until 2026-03-31 --requester owner@acme.example --directory directory.json > kept.sql

  Then, as for any export:
    logbrief summarize --manifest manifest.json --requester owner@acme.example \\
      --directory directory.json --since 2026-03-01 --until 2026-03-31 kept.log";

/// The four stories, as `summarize --help` shows them.
const SUMMARIZE_EXAMPLES: &str = "\
Examples:
  Who accessed the requester's projects, without their staff and office:
    logbrief summarize --requester owner@acme.example --directory directory.json \\
      --exclude-domain acme.example --exclude-ip 203.0.113.0/24 production_json.log api_json.log.gz

  Why the requester's addresses were blocked:
    logbrief summarize --template ip-block --client-ip 192.0.2.0/24 \\
      --requester owner@acme.example --directory directory.json production_json.log workhorse.log

  Where the load comes from, by country:
    logbrief summarize --template high-load --geoip GeoLite2-Country.mmdb \\
      --requester owner@acme.example --directory directory.json production_json.log

  What the group's audit events show:
    logbrief summarize --template audit --requester owner@acme.example \\
      --directory directory.json audit_events.json";

#[derive(Debug, Args)]
pub struct ManArgs {
    /// The subcommand whose page to print; none for logbrief's own page.
    #[arg(value_name = "SUBCOMMAND")]
    pub command: Vec<String>,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Subcommand)]
pub enum FetchCommand {
    /// Write the directory of a group (its ancestors' plan, descendant groups,
    /// projects, members and their visible emails) for --directory.
    Directory(FetchDirectoryArgs),
    /// Write the audit events of a group, a project or the instance as a JSON array
    /// for `summarize --template audit`. An interrupted run keeps what it fetched;
    /// the same command continues it.
    AuditEvents(FetchAuditArgs),
    /// Write the log documents of Elasticsearch or OpenSearch that may concern the
    /// requester's scope (the query of `pushdown --engine elasticsearch`) as NDJSON,
    /// and the manifest of every document per index for `summarize --manifest`. The
    /// API key is read from ELASTIC_API_KEY. An interrupted run keeps what it fetched;
    /// the same command continues it.
    Logs(Box<FetchLogsArgs>),
}

/// Where the API is and how hard to try.
#[derive(Debug, Args)]
pub struct ApiArgs {
    /// The instance, such as https://gitlab.com or a bare host name (then https).
    /// Default: GITLAB_URL, else `gitlab_url` in logbrief.toml. Plain http only on a
    /// loopback address.
    #[arg(long = "gitlab-url", value_name = "URL")]
    pub gitlab_url: Option<String>,
    #[command(flatten)]
    pub retry: RetryArgs,
}

/// How hard to try, for every `fetch`.
#[derive(Debug, Args)]
pub struct RetryArgs {
    /// Retries of a request after HTTP 429, a 5xx other than 501 and 505, a timeout, a
    /// dropped connection or a page that is not the JSON expected.
    #[arg(long, default_value_t = 5, value_name = "N")]
    pub retries: u32,
    /// The first wait before a retry when the server does not say how long (no
    /// Retry-After or RateLimit-Reset); it doubles with each retry, up to --max-wait.
    #[arg(long, default_value = "1", value_name = "SECONDS")]
    pub backoff: String,
    /// The longest wait before a retry: the backoff grows no further. When the server
    /// asks for a longer wait (Retry-After or RateLimit-Reset), the fetch stops and says
    /// so instead of waiting.
    #[arg(long, default_value = "300", value_name = "SECONDS")]
    pub max_wait: String,
    /// How long to wait for the connection and for each read of an answer.
    #[arg(long, default_value = "60", value_name = "SECONDS")]
    pub timeout: String,
}

#[derive(Debug, Args)]
pub struct FetchLogsArgs {
    #[command(flatten)]
    pub requester: RequesterArgs,
    /// The cluster, such as https://logs.example.com:9200. Plain http only on a
    /// loopback address.
    #[arg(long = "elasticsearch", value_name = "URL")]
    pub elasticsearch: String,
    /// The indices to search: names or patterns, comma-separated.
    #[arg(long, value_name = "PATTERN", default_value = DEFAULT_INDEX)]
    pub index: String,
    /// Only documents from this time on (RFC 3339 or a date). The cluster is asked for
    /// a day more on either side; `summarize` then applies the exact window.
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// Only documents up to this time (RFC 3339, inclusive; or a date, through its
    /// end).
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,
    /// What the log line's field names start with in the indices (`json.` in the
    /// platform's; empty where they are the line's own).
    #[arg(long = "field-prefix", value_name = "PREFIX", default_value = "json.")]
    pub field_prefix: String,
    /// The candidate documents to write, one JSON object per line.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: PathBuf,
    /// The manifest to write. Default: FILE with `.manifest.json` appended.
    #[arg(long, value_name = "FILE")]
    pub manifest: Option<PathBuf>,
    /// Start over, throwing away what an interrupted run kept.
    #[arg(long)]
    pub restart: bool,
    /// Documents per page.
    #[arg(long = "page-size", default_value_t = 1000, value_name = "N",
          value_parser = clap::value_parser!(u32).range(1..=10000))]
    pub page_size: u32,
    #[command(flatten)]
    pub retry: RetryArgs,
}

#[derive(Debug, Args)]
pub struct FetchDirectoryArgs {
    #[command(flatten)]
    pub api: ApiArgs,
    /// Full path of the group (a subgroup works too), or its address in the browser
    /// on the instance fetch reads.
    #[arg(long, value_name = "PATH")]
    pub namespace: String,
    /// The directory file to write.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: PathBuf,
}

#[derive(Debug, Args)]
pub struct FetchAuditArgs {
    #[command(flatten)]
    pub api: ApiArgs,
    #[command(flatten)]
    pub entity: AuditEntityArgs,
    /// Events at or after this time (RFC 3339 or a date).
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// Events up to this time (RFC 3339, inclusive; or a date, through its end).
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,
    /// The events file to write.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: PathBuf,
    /// Start over, throwing away what an interrupted run kept.
    #[arg(long)]
    pub restart: bool,
}

/// Whose events: exactly one.
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct AuditEntityArgs {
    /// A group, by full path.
    #[arg(long, value_name = "PATH")]
    pub group: Option<String>,
    /// A project, by full path.
    #[arg(long, value_name = "PATH")]
    pub project: Option<String>,
    /// The whole instance (administrators only).
    #[arg(long)]
    pub instance: bool,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Where to write it.
    #[arg(default_value = "logbrief.toml", value_name = "FILE")]
    pub path: PathBuf,

    /// Replace an existing file.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// Log files to read (plain or gzip); `-` reads standard input.
    #[arg(value_name = "LOG", required = true)]
    pub logs: Vec<PathBuf>,

    /// Read every log as this format instead of detecting it from its first lines.
    #[arg(long = "format-hint", value_enum, value_name = "FORMAT")]
    pub format_hint: Option<FormatHintArg>,

    /// The time zone of timestamps written without one, as Kibana writes @timestamp in
    /// CSV exports: UTC, an offset such as +01:00, or a zone name such as Europe/Berlin.
    #[arg(long = "input-tz", value_name = "ZONE")]
    pub input_tz: Option<String>,

    /// How the reports are printed; JSON keys are stable for tools.
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    pub format: ReportFormat,

    /// The same as --format json.
    #[arg(long, hide = true)]
    pub json: bool,

    /// Hash every input again: neither use nor fill the cache of input digests
    /// ($XDG_CACHE_HOME/logbrief, by default ~/.cache/logbrief).
    #[arg(long = "no-cache")]
    pub no_cache: bool,
}

/// How `inspect` and `verify` print what they found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    Text,
    Json,
}

#[derive(Debug, Args)]
pub struct RequesterArgs {
    /// Email address of the person who opened the ticket (primary or secondary).
    #[arg(help_heading = "Requester and scope", long, value_name = "EMAIL")]
    pub requester: String,

    /// JSON file with the namespaces, projects, users and members to verify against.
    #[arg(help_heading = "Requester and scope", long, value_name = "FILE")]
    pub directory: PathBuf,

    /// Limit the summary to this namespace or project (repeatable); it must lie within
    /// the paid namespaces the requester owns.
    #[arg(
        help_heading = "Requester and scope",
        long = "namespace",
        value_name = "PATH"
    )]
    pub namespaces: Vec<String>,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    pub requester: RequesterArgs,

    /// How the result is printed; JSON keys are stable for tools.
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    pub format: ReportFormat,

    /// The Zendesk ticket the requester wrote. With Zendesk configured (ZENDESK_URL or
    /// zendesk_url in logbrief.toml, ZENDESK_EMAIL, ZENDESK_API_TOKEN), the ticket's
    /// requester must have --requester as an email identity.
    #[arg(long, value_name = "ID", value_parser = clap::value_parser!(u64).range(1..))]
    pub ticket: Option<u64>,
}

#[derive(Debug, Args)]
pub struct PushdownArgs {
    #[command(flatten)]
    pub requester: RequesterArgs,

    /// How the logs' lines are written: JSON (Rails, Workhorse) or NGINX's access
    /// log. Each escapes characters its own way, and the filter must see through it.
    #[arg(long = "lines", value_enum, default_value_t = LinesArg::Json)]
    pub lines: LinesArg,

    /// What to print: the expression, or the queries (or job) for an engine that keep
    /// the candidate lines and count every line for `summarize --manifest`.
    #[arg(long, value_enum, default_value_t = EngineArg::Regex)]
    pub engine: EngineArg,

    /// What the engine reads: files or a glob (duckdb, spark), a table with one
    /// `line` column (bigquery), an object-store URL (clickhouse), or index patterns
    /// (elasticsearch).
    #[arg(long, value_name = "SOURCE")]
    pub source: Option<String>,

    /// Where the engine writes the kept lines and the manifest (duckdb, clickhouse: a
    /// folder, for kept.log and manifest.json; spark: a folder or URL).
    #[arg(long, value_name = "DIR")]
    pub output: Option<String>,

    /// Only lines from this time on (RFC 3339 or a date). The engine keeps a day more
    /// on either side; `summarize` then applies the exact window.
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,

    /// Only lines up to this time (RFC 3339, inclusive; or a date, through its end).
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,

    /// With --engine elasticsearch: what the log line's field names start with in the
    /// indices (`json.` in the platform's; empty where they are the line's own).
    #[arg(long = "field-prefix", value_name = "PREFIX", default_value = "json.")]
    pub field_prefix: String,

    /// With --engine spark: write the PySpark job to this file too.
    #[arg(long = "write-job", value_name = "FILE")]
    pub write_job: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EngineArg {
    /// One regular expression, in the subset RE2, Java and Rust agree on.
    Regex,
    /// A DuckDB script over local files (plain or gzip).
    Duckdb,
    /// BigQuery queries over a table of raw lines (an external table on the archive).
    Bigquery,
    /// ClickHouse queries over an object store with s3Cluster and LineAsString.
    Clickhouse,
    /// The spark-submit invocations of logbrief's PySpark job.
    Spark,
    /// Query DSL for Kibana's Dev Tools console (Elasticsearch or OpenSearch).
    Elasticsearch,
}

#[derive(Debug, Args)]
pub struct FilterArgs {
    #[command(flatten)]
    pub requester: RequesterArgs,

    /// How the lines are written (see `pushdown --lines`).
    #[arg(long = "lines", value_enum, default_value_t = LinesArg::Json)]
    pub lines: LinesArg,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LinesArg {
    /// One JSON object per line: GitLab Rails and Workhorse logs.
    Json,
    /// NGINX access logs in the combined format.
    Nginx,
}

#[derive(Debug, Args)]
pub struct SummarizeArgs {
    #[command(flatten)]
    pub requester: RequesterArgs,

    /// Log files to read (plain or gzip); `-` reads standard input.
    #[arg(value_name = "LOG", required = true)]
    pub logs: Vec<PathBuf>,

    /// Leave out requests from this address or CIDR range (repeatable, IPv4 or IPv6).
    #[arg(
        help_heading = "Exclusions (the known list)",
        long = "exclude-ip",
        value_name = "CIDR"
    )]
    pub exclude_ips: Vec<String>,

    /// Read more ranges to leave out from a file: one per line, `#` starts a comment.
    #[arg(
        help_heading = "Exclusions (the known list)",
        long = "exclude-ip-file",
        value_name = "FILE"
    )]
    pub exclude_ip_files: Vec<PathBuf>,

    /// Leave out requests by users with an email in this domain or its subdomains
    /// (repeatable).
    #[arg(
        help_heading = "Exclusions (the known list)",
        long = "exclude-domain",
        value_name = "DOMAIN"
    )]
    pub exclude_domains: Vec<String>,

    /// Leave out requests by this username (repeatable).
    #[arg(
        help_heading = "Exclusions (the known list)",
        long = "exclude-user",
        value_name = "USERNAME"
    )]
    pub exclude_users: Vec<String>,

    /// Count only requests at or after this time: RFC 3339 or a date (its first
    /// second, UTC).
    #[arg(help_heading = "Time", long, value_name = "TIME")]
    pub since: Option<String>,

    /// Count only requests at or before this time: RFC 3339 or a date (through the end
    /// of that day, UTC).
    #[arg(help_heading = "Time", long, value_name = "TIME")]
    pub until: Option<String>,

    /// The story the reply tells.
    #[arg(help_heading = "Output", long, value_enum, default_value_t = TemplateArg::Access)]
    pub template: TemplateArg,

    /// How the reply is printed; markdown (the default) is what the Zendesk editor
    /// accepts.
    #[arg(help_heading = "Output", long, value_enum)]
    pub format: Option<FormatArg>,

    /// The team configuration to use instead of ./logbrief.toml or the one in the
    /// user's config directory.
    #[arg(
        help_heading = "Exclusions (the known list)",
        long,
        value_name = "FILE"
    )]
    pub config: Option<PathBuf>,

    /// The requester's own addresses, for the ip-block story (repeatable CIDR). A
    /// range wider than a /16 (IPv4) or a /32 (IPv6) needs --allow-wide-client-ip.
    #[arg(help_heading = "Output", long = "client-ip", value_name = "CIDR")]
    pub client_ips: Vec<String>,

    /// Accept a --client-ip range wider than a /16 (IPv4) or a /32 (IPv6). Addresses in
    /// those ranges count as the requester's own: the reply may then describe traffic of
    /// many others, and the privacy guard no longer treats them as someone else's.
    #[arg(help_heading = "Output", long = "allow-wide-client-ip")]
    pub allow_wide_client_ip: bool,

    /// A MaxMind database (GeoLite2/GeoIP2 Country or City) for countries of client
    /// addresses.
    #[arg(help_heading = "Output", long, value_name = "MMDB")]
    pub geoip: Option<PathBuf>,

    /// Print counts below K as "fewer than K" (zero stays zero), in every format.
    #[arg(help_heading = "Output", long = "min-count", value_name = "K", value_parser = clap::value_parser!(u64).range(2..))]
    pub min_count: Option<u64>,

    /// Add the breakdowns to the reply: per kind, per group or project, per status,
    /// per country and per audit action. Without it the reply is the answer in a few
    /// sentences and at most one short list.
    #[arg(help_heading = "Output", long)]
    pub details: bool,

    /// Also write the internal note for the support team to this file.
    #[arg(help_heading = "Output", long = "internal-note", value_name = "FILE")]
    pub internal_note: Option<PathBuf>,

    /// The time zone of timestamps written without one, as Kibana writes @timestamp in
    /// CSV exports (the zone of the browser they were made in): UTC, an offset such as
    /// +01:00, or a zone name such as Europe/Berlin, whose daylight saving time is
    /// followed. A Kibana export without json.time needs it.
    #[arg(help_heading = "Time", long = "input-tz", value_name = "ZONE")]
    pub input_tz: Option<String>,

    /// Read every log as this format instead of detecting it from its first lines.
    #[arg(
        help_heading = "Reading and performance",
        long = "format-hint",
        value_enum,
        value_name = "FORMAT"
    )]
    pub format_hint: Option<FormatHintArg>,

    /// Parse every line, also those that name nothing in the requester's scope. By
    /// default such lines are counted out of scope unread, which is much faster; with
    /// this flag every malformed line is reported, wherever it is.
    #[arg(help_heading = "Reading and performance", long = "parse-all")]
    pub parse_all: bool,

    /// Threads that search and parse, beside one that reads (and decompresses) and one
    /// that hashes; with 1, one thread does it all. Default: the cores available.
    #[arg(help_heading = "Reading and performance", long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub threads: Option<u16>,

    /// Show no progress bar, even on a terminal.
    #[arg(help_heading = "Reading and performance", long = "no-progress")]
    pub no_progress: bool,

    /// Hash every input again: neither use nor fill the cache of input digests
    /// ($XDG_CACHE_HOME/logbrief, by default ~/.cache/logbrief).
    #[arg(help_heading = "Reading and performance", long = "no-cache")]
    pub no_cache: bool,

    /// The LOG files are the lines an engine kept with `logbrief pushdown`'s filter;
    /// FILE is its JSON count of every line it held, per source, with their first and
    /// last times. The lines it left out are then counted out of scope, and the period
    /// the logs cover is the sources'.
    #[arg(help_heading = "Reading and performance", long, value_name = "FILE")]
    pub manifest: Option<PathBuf>,

    /// The Zendesk ticket the requester wrote: the internal note records it (and links
    /// it when the Zendesk URL is known). With Zendesk configured (ZENDESK_URL or
    /// zendesk_url in logbrief.toml, ZENDESK_EMAIL and ZENDESK_API_TOKEN), the ticket's
    /// requester must have --requester as an email identity before any log is read.
    #[arg(help_heading = "Ticket", long, value_name = "ID", value_parser = clap::value_parser!(u64).range(1..))]
    pub ticket: Option<u64>,

    /// Add the internal note to the ticket as a private comment (never public), with
    /// the chart attached when --chart draws one. The reply itself is never posted.
    #[arg(
        help_heading = "Ticket",
        long = "post-note",
        requires = "ticket",
        requires = "internal_note"
    )]
    pub post_note: bool,

    /// Draw the requests over time by status class as an SVG file (access, ip-block and
    /// high-load stories): counts only.
    #[arg(help_heading = "Ticket", long, value_name = "FILE.svg")]
    pub chart: Option<PathBuf>,

    /// Print no warnings on standard error (errors and refusals still are).
    #[arg(help_heading = "Output", short, long, conflicts_with = "verbose")]
    pub quiet: bool,

    /// Also say on standard error, in counts, what each rule of the known list took
    /// out and where every line went.
    #[arg(help_heading = "Output", short, long)]
    pub verbose: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TemplateArg {
    /// Who accessed the requester's projects.
    Access,
    /// What the audit events of the requester's namespaces show.
    Audit,
    /// Why the requester's addresses were blocked: refusals (401, 403, 429) by path.
    IpBlock,
    /// Where load on the requester's projects comes from: countries, user agents,
    /// access kinds, the busiest minute.
    HighLoad,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    Text,
    Markdown,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FormatHintArg {
    /// GitLab Rails JSON logs: production_json, api_json, graphql_json.
    Rails,
    /// GitLab Workhorse JSON logs (gitlab-workhorse/current).
    Workhorse,
    /// NGINX access logs in the combined format, GitLab's gitlab_access.log among them.
    Nginx,
    /// Kibana Discover CSV exports (`@timestamp` and `json.*` columns).
    Kibana,
}
