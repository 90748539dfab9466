//! From command-line arguments to one validated [`Config`]: addresses, ranges and
//! times are parsed here, once, so the rest of the program never handles raw strings.

use std::path::{Path, PathBuf};

use clap::ValueEnum;

use chrono::{DateTime, FixedOffset, NaiveDate, Utc};
use ipnetwork::IpNetwork;

use crate::cli::{FormatArg, FormatHintArg, RequesterArgs, SummarizeArgs, TemplateArg};
use crate::error::{Error, Result};
use crate::exclude::Exclusions;
use crate::ingest::{Format, ReadOptions};
use crate::limits::SideFile;

mod instance;
mod team;

pub(crate) use instance::{Instance, gitlab_url, namespace_on, namespace_path};
pub(crate) use team::{EXAMPLE, TeamConfig, TeamExclusions, config_source};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OutputFormat {
    Text,
    Markdown,
    Json,
}

/// The story a reply tells (`--template`), and the rules that follow from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Story {
    Access,
    Audit,
    HighLoad,
    IpBlock,
}

impl Story {
    /// The story `--template` names.
    pub(crate) fn of(template: TemplateArg) -> Story {
        match template {
            TemplateArg::Access => Story::Access,
            TemplateArg::Audit => Story::Audit,
            TemplateArg::HighLoad => Story::HighLoad,
            TemplateArg::IpBlock => Story::IpBlock,
        }
    }

    /// Whether the story counts audit events (else requests).
    pub(crate) fn counts_audit_events(self) -> bool {
        self == Story::Audit
    }

    /// Whether the story is about the requester's own addresses (`--client-ip`).
    pub(crate) fn is_ip_block(self) -> bool {
        self == Story::IpBlock
    }

    /// The story's name, as `--template` spells it.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Story::Access => "access",
            Story::Audit => "audit",
            Story::HighLoad => "high-load",
            Story::IpBlock => "ip-block",
        }
    }
}

/// Who asks, against which directory, narrowed to which namespaces.
#[derive(Debug, Clone)]
pub(crate) struct RequesterConfig {
    pub email: String,
    pub directory: PathBuf,
    pub namespaces: Vec<String>,
}

/// The time window; `until` is exclusive here, whatever the user typed.
#[derive(Debug, Clone, Default)]
pub(crate) struct Window {
    pub since: Option<DateTime<Utc>>,
    pub until_exclusive: Option<DateTime<Utc>>,
}

impl Window {
    pub(crate) fn contains(&self, t: DateTime<Utc>) -> bool {
        self.since.is_none_or(|s| t >= s) && self.until_exclusive.is_none_or(|u| t < u)
    }
}

/// Where the logs can be browsed: Kibana's base URL, and the data view to open.
#[derive(Debug, Clone)]
pub(crate) struct Kibana {
    pub url: String,
    pub data_view: Option<String>,
}

#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub requester: RequesterConfig,
    pub logs: Vec<PathBuf>,
    pub exclusions: Exclusions,
    pub window: Window,
    pub story: Story,
    pub format: OutputFormat,
    pub internal_note: Option<PathBuf>,
    pub geoip: Option<PathBuf>,
    /// Kibana, for a Discover link in the internal note.
    pub kibana: Option<Kibana>,
    pub min_count: Option<u64>,
    /// `--details`: the breakdowns in the reply.
    pub details: bool,
    /// What the team configuration added to the known list.
    pub team_exclusions: TeamExclusions,
    /// The reply's first and last lines, from the team configuration.
    pub greeting: Option<String>,
    pub sign_off: Option<String>,
    /// The requester's own addresses (`--client-ip`), for the ip-block story.
    pub client_networks: Vec<IpNetwork>,
    /// How logs are read: a format instead of detection, the zone of naive times.
    pub read: ReadOptions,
    /// Parse every line instead of only those that may concern the scope.
    pub parse_all: bool,
    /// Threads to use: one reads, the others search and parse; 1 does it all.
    pub threads: usize,
    /// No progress bar, even on a terminal.
    pub no_progress: bool,
    /// Neither read nor write the digest cache.
    pub no_cache: bool,
    /// An engine's totals for the logs it filtered (`--manifest`).
    pub manifest: Option<PathBuf>,
    /// `--ticket`, the Zendesk account and `--post-note`.
    pub ticket: Option<crate::zendesk::Ticket>,
    /// `--chart`: the SVG of the requests over time.
    pub chart: Option<PathBuf>,
    /// No warnings on standard error.
    pub quiet: bool,
    /// Counts of what each rule took out, and the reconciliation, on standard error.
    pub verbose: bool,
}

impl RequesterConfig {
    /// The requester's arguments, with each `--namespace` as a path. `instance` says
    /// which GitLab instance the directory describes; it is asked only when a
    /// `--namespace` is an address.
    pub(crate) fn from_args(
        args: RequesterArgs,
        instance: impl FnOnce() -> Result<Option<Instance>>,
    ) -> Result<Self> {
        let instance = match args.namespaces.iter().any(|n| n.contains("://")) {
            true => instance()?,
            false => None,
        };
        Ok(RequesterConfig {
            email: args.requester,
            directory: args.directory,
            namespaces: args
                .namespaces
                .iter()
                .map(|n| namespace_path(n, instance.as_ref()))
                .collect::<Result<_>>()?,
        })
    }

    /// The same, for a command that reads no team configuration of its own: the
    /// instance is `GITLAB_URL`, else `gitlab_url` in the team configuration found.
    pub(crate) fn from_args_found(args: RequesterArgs) -> Result<Self> {
        Self::from_args(args, || {
            let (path, team) = TeamConfig::find(None)?;
            Ok(Instance::from_env().or_else(|| Instance::from_team(path.as_deref(), &team)))
        })
    }
}

impl Config {
    pub(crate) fn from_args(args: SummarizeArgs) -> Result<Self> {
        let (config_path, team) = TeamConfig::find(args.config.as_deref())?;
        let logs = expand_globs(args.logs.clone())?;
        refuse_note_over_inputs(&args, &logs, config_path.as_deref(), team.geoip.as_deref())?;
        // List flags replace the file's lists; an absent flag leaves them in force.
        let ranges_from_flags = !(args.exclude_ips.is_empty() && args.exclude_ip_files.is_empty());
        let exclude_ips = if !ranges_from_flags {
            team.office_ranges.clone()
        } else {
            args.exclude_ips.clone()
        };
        let exclude_domains = if args.exclude_domains.is_empty() {
            team.company_domains.clone()
        } else {
            args.exclude_domains.clone()
        };
        let format = output_format(args.format, team.format.as_deref(), &config_path)?;
        let team_exclusions = TeamExclusions::new(&config_path, &team, &args, ranges_from_flags)?;
        let mut networks = parse_networks(&exclude_ips, "--exclude-ip")?;
        for file in &args.exclude_ip_files {
            networks.extend(read_network_file(file)?);
        }
        let client_networks = client_networks(&args)?;
        check_note_folder(&args)?;
        check_chart(&args)?;
        check_manifest_story(&args)?;
        let ticket = crate::zendesk::Ticket::new(
            args.ticket,
            args.post_note,
            team.zendesk_url.as_deref(),
            &config_source(config_path.as_deref()),
        )?;
        let window = window(args.since.as_deref(), args.until.as_deref())?;
        let requester = RequesterConfig::from_args(args.requester, || {
            Ok(Instance::from_env().or_else(|| Instance::from_team(config_path.as_deref(), &team)))
        })?;
        Ok(Config {
            requester,
            logs,
            exclusions: Exclusions::new(args.exclude_users, exclude_domains, networks),
            window,
            story: Story::of(args.template),
            format,
            internal_note: args.internal_note,
            geoip: args.geoip.or(team.geoip),
            kibana: team.kibana_url.map(|url| Kibana {
                url,
                data_view: team.kibana_data_view,
            }),
            min_count: args.min_count,
            details: args.details,
            team_exclusions,
            greeting: match team.greeting {
                None => Some("Hello,".to_owned()),
                Some(g) => Some(g.trim().to_owned()).filter(|g| !g.is_empty()),
            },
            sign_off: team
                .sign_off
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty()),
            client_networks,
            read: read_options(args.format_hint, args.input_tz.as_deref())?,
            parse_all: args.parse_all,
            no_progress: args.no_progress,
            no_cache: args.no_cache,
            manifest: args.manifest,
            ticket,
            chart: args.chart,
            quiet: args.quiet,
            verbose: args.verbose,
            threads: match args.threads {
                Some(n) => usize::from(n),
                None => std::thread::available_parallelism().map_or(1, usize::from),
            },
        })
    }
}

/// `--format`, else the team file's `format`, else markdown.
fn output_format(
    flag: Option<FormatArg>,
    team: Option<&str>,
    config_path: &Option<PathBuf>,
) -> Result<OutputFormat> {
    let format = match (flag, team) {
        (Some(f), _) => f,
        (None, Some(name)) => FormatArg::from_str(name, true).map_err(|_| Error::InputLine {
            path: config_path.clone().unwrap_or_default(),
            line: 0,
            message: format!("format must be text, markdown or json, not {name:?}"),
        })?,
        (None, None) => FormatArg::Markdown,
    };
    Ok(match format {
        FormatArg::Text => OutputFormat::Text,
        FormatArg::Markdown => OutputFormat::Markdown,
        FormatArg::Json => OutputFormat::Json,
    })
}

/// `--client-ip`, refused wider than a /16 (IPv4) or a /32 (IPv6) without
/// `--allow-wide-client-ip`: a wide range makes everyone in it "the requester", with
/// platform-wide counts and addresses the guard no longer treats as someone else's.
fn client_networks(args: &SummarizeArgs) -> Result<Vec<IpNetwork>> {
    let networks = parse_networks(&args.client_ips, "--client-ip")?;
    if let Some(wide) = networks.iter().find(|n| match n {
        IpNetwork::V4(v4) => v4.prefix() < 16,
        IpNetwork::V6(v6) => v6.prefix() < 32,
    }) && !args.allow_wide_client_ip
    {
        return Err(Error::Usage(format!(
            "--client-ip {wide} is wider than a /16 (IPv4) or a /32 (IPv6): name the \
             requester's own ranges, or pass --allow-wide-client-ip if they really are \
             that wide"
        )));
    }
    if args.template == TemplateArg::IpBlock && networks.is_empty() {
        return Err(Error::Usage(
            "--template ip-block needs the requester's addresses: --client-ip CIDR".into(),
        ));
    }
    Ok(networks)
}

/// The engine's filter keeps the lines of the requester's scope: enough for the stories
/// that count requests to it, not for the IP-block story, which also counts the
/// requester's requests to other paths, nor for audit events.
fn check_manifest_story(args: &SummarizeArgs) -> Result<()> {
    let (story, why) = match args.template {
        _ if args.manifest.is_none() => return Ok(()),
        TemplateArg::IpBlock => (
            "ip-block",
            "it also counts the requester's requests to paths outside the scope, which \
             the engine's filter leaves out",
        ),
        TemplateArg::Audit => ("audit", "audit events are not filtered by an engine"),
        TemplateArg::Access | TemplateArg::HighLoad => return Ok(()),
    };
    Err(Error::Usage(format!(
        "--manifest cannot be used with --template {story}: {why}; summarize the whole logs"
    )))
}

/// `--ticket` for a command that reads no team configuration of its own (`verify`):
/// the Zendesk account is `ZENDESK_URL`, else `zendesk_url` in the one found.
pub(crate) fn ticket_found(id: Option<u64>) -> Result<Option<crate::zendesk::Ticket>> {
    if id.is_none() {
        return Ok(None);
    }
    let (path, team) = TeamConfig::find(None)?;
    crate::zendesk::Ticket::new(
        id,
        false,
        team.zendesk_url.as_deref(),
        &config_source(path.as_deref()),
    )
}

/// `--chart` draws the stories that count requests, into a folder that exists.
fn check_chart(args: &SummarizeArgs) -> Result<()> {
    let Some(chart) = &args.chart else {
        return Ok(());
    };
    if args.template == TemplateArg::Audit {
        return Err(Error::Usage(
            "--chart draws requests over time: use it with --template access, ip-block or \
             high-load"
                .into(),
        ));
    }
    if let Some(folder) = chart.parent().filter(|p| !p.as_os_str().is_empty())
        && !folder.is_dir()
    {
        return Err(Error::Usage(format!(
            "--chart {}: the folder {} does not exist",
            chart.display(),
            folder.display()
        )));
    }
    Ok(())
}

/// The internal note and the chart never replace a file the run reads (RULES.md §11):
/// a log, the directory, the configuration, the manifest, the GeoIP database or an
/// address list; nor each other.
fn refuse_note_over_inputs(
    args: &SummarizeArgs,
    logs: &[PathBuf],
    config: Option<&Path>,
    team_geoip: Option<&Path>,
) -> Result<()> {
    let mut outputs: Vec<(&str, &Path)> = Vec::new();
    if let Some(note) = &args.internal_note {
        outputs.push(("--internal-note", note));
    }
    if let Some(chart) = &args.chart {
        outputs.push(("--chart", chart));
    }
    if outputs.is_empty() {
        return Ok(());
    }
    let mut inputs = logs.to_vec();
    inputs.push(args.requester.directory.clone());
    inputs.extend(args.exclude_ip_files.iter().cloned());
    inputs.extend(
        [
            config,
            args.manifest.as_deref(),
            args.geoip.as_deref(),
            team_geoip,
        ]
        .into_iter()
        .flatten()
        .map(Path::to_owned),
    );
    crate::files::refuse_outputs_over_inputs(&outputs, &inputs)
}

/// The internal note's folder must exist before anything is read.
fn check_note_folder(args: &SummarizeArgs) -> Result<()> {
    if let Some(note) = &args.internal_note
        && let Some(folder) = note.parent().filter(|p| !p.as_os_str().is_empty())
        && !folder.is_dir()
    {
        return Err(Error::Usage(format!(
            "--internal-note {}: the folder {} does not exist",
            note.display(),
            folder.display()
        )));
    }
    Ok(())
}

/// `--since` and `--until`, the second exclusive.
pub(crate) fn window(since: Option<&str>, until: Option<&str>) -> Result<Window> {
    let window = Window {
        since: since
            .map(|s| parse_bound(s, "--since", false))
            .transpose()?,
        until_exclusive: until.map(|s| parse_bound(s, "--until", true)).transpose()?,
    };
    if let (Some(s), Some(u)) = (window.since, window.until_exclusive)
        && s >= u
    {
        return Err(Error::Usage("--since must be earlier than --until".into()));
    }
    Ok(window)
}

impl Config {
    /// Adds the team configuration's per-customer known list for the requester's
    /// top-level groups (`roots`, lower-case), where no flag replaced it. Returns what
    /// the configuration file added in all, one line per source, for standard error and
    /// the internal note.
    pub(crate) fn apply_customer(&mut self, roots: &[String]) -> Vec<String> {
        let t = &self.team_exclusions;
        let Some(file) = &t.file else {
            return Vec::new();
        };
        let file = file.display();
        let mut notes = Vec::new();
        let mut describe = |source: &str, ranges: &[IpNetwork], domains: &[String]| {
            let mut added: Vec<String> =
                ranges.iter().map(|r| format!("--exclude-ip {r}")).collect();
            added.extend(domains.iter().map(|d| format!("--exclude-domain {d}")));
            if !added.is_empty() {
                notes.push(format!("{file} ({source}) added {}", added.join(", ")));
            }
        };
        describe("top level", &t.ranges, &t.domains);
        let mut networks = self.exclusions.networks.clone();
        let mut domains = self.exclusions.domains.clone();
        for root in roots {
            let Some((ranges, doms)) = t.customers.get(root) else {
                continue;
            };
            let ranges: &[IpNetwork] = if t.ranges_from_flags { &[] } else { ranges };
            let doms: &[String] = if t.domains_from_flags { &[] } else { doms };
            describe(&format!("customers.\"{root}\""), ranges, doms);
            networks.extend(ranges);
            domains.extend(doms.iter().cloned());
        }
        self.exclusions = Exclusions::new(self.exclusions.users.clone(), domains, networks);
        notes
    }
}

/// Expands the patterns the shell left alone (quoted, or on a shell without globbing)
/// into the files they match, in name order. A name that exists is taken as it is,
/// even if it contains `*`; a pattern that matches nothing is an input error.
pub(crate) fn expand_globs(logs: Vec<PathBuf>) -> Result<Vec<PathBuf>> {
    let mut out = Vec::with_capacity(logs.len());
    for log in logs {
        let text = log.to_string_lossy();
        let is_pattern = text.contains(['*', '?', '[']);
        if log.as_os_str() == "-" || !is_pattern || log.exists() {
            out.push(log);
            continue;
        }
        let not_found = |message: &str| Error::Read {
            path: log.clone(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, message.to_owned()),
        };
        let paths = glob::glob(&text).map_err(|_| not_found("not a valid pattern"))?;
        let mut matched: Vec<PathBuf> = paths
            .filter_map(std::result::Result::ok)
            .filter(|p| p.is_file())
            .collect();
        if matched.is_empty() {
            return Err(not_found("no file matches this pattern"));
        }
        matched.sort();
        out.extend(matched);
    }
    Ok(out)
}

/// How logs are read, from `--format-hint` and `--input-tz`.
pub(crate) fn read_options(
    hint: Option<FormatHintArg>,
    input_tz: Option<&str>,
) -> Result<ReadOptions> {
    Ok(ReadOptions {
        hint: hint.map(|h| match h {
            FormatHintArg::Rails => Format::RailsJson,
            FormatHintArg::Workhorse => Format::WorkhorseJson,
            FormatHintArg::Nginx => Format::Nginx,
            FormatHintArg::Kibana => Format::KibanaCsv,
        }),
        input_tz: input_tz
            .map(|s| {
                parse_offset(s)
                    .map(crate::ingest::Zone::Fixed)
                    .or_else(|| crate::ingest::Zone::named(s))
                    .ok_or_else(|| {
                        Error::Usage(format!(
                            "--input-tz {s}: expected UTC, an offset such as +01:00 or -0500, \
                             or a time zone name such as Europe/Berlin"
                        ))
                    })
            })
            .transpose()?,
    })
}

/// `UTC`, `Z`, or an offset: `+01:00`, `-0500`, `+1`.
pub(crate) fn parse_offset(s: &str) -> Option<FixedOffset> {
    let s = s.trim();
    if s.eq_ignore_ascii_case("utc") || s.eq_ignore_ascii_case("z") {
        return FixedOffset::east_opt(0);
    }
    let (sign, rest) = match s.as_bytes().first()? {
        b'+' => (1, &s[1..]),
        b'-' => (-1, &s[1..]),
        _ => return None,
    };
    let digits: String = rest.chars().filter(|c| *c != ':').collect();
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (hours, minutes) = match digits.len() {
        1 | 2 => (digits.parse::<i32>().ok()?, 0),
        4 => (
            digits[..2].parse::<i32>().ok()?,
            digits[2..].parse::<i32>().ok()?,
        ),
        _ => return None,
    };
    if hours > 14 || minutes > 59 {
        return None;
    }
    FixedOffset::east_opt(sign * (hours * 3600 + minutes * 60))
}

/// A CIDR range or a bare address (a /32 or /128).
pub(crate) fn parse_network(s: &str) -> Option<IpNetwork> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    let net: IpNetwork = s.parse().ok()?;
    // Fold an IPv4-mapped range to IPv4 so it matches folded client addresses.
    match net {
        IpNetwork::V6(v6) if v6.prefix() >= 96 => match v6.ip().to_ipv4_mapped() {
            Some(v4) => IpNetwork::new(v4.into(), v6.prefix() - 96).ok(),
            None => Some(net),
        },
        _ => Some(net),
    }
}

/// The values of a repeatable range flag; a bad one is a usage error naming the flag.
fn parse_networks(values: &[String], flag: &str) -> Result<Vec<IpNetwork>> {
    values
        .iter()
        .map(|s| {
            parse_network(s)
                .ok_or_else(|| Error::Usage(format!("{flag} {s}: not an IP address or CIDR range")))
        })
        .collect()
}

fn read_network_file(path: &Path) -> Result<Vec<IpNetwork>> {
    let text = SideFile::AddressList.read_text(path)?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let entry = line.split('#').next().unwrap_or("").trim();
        if entry.is_empty() {
            continue;
        }
        out.push(parse_network(entry).ok_or_else(|| Error::InputLine {
            path: path.to_owned(),
            line: i as u64 + 1,
            message: "not an IP address or CIDR range".into(),
        })?);
    }
    Ok(out)
}

/// RFC 3339, or a date: its first instant for `--since`, the next day's first instant
/// (exclusive) for `--until`. An RFC 3339 `--until` is inclusive.
fn parse_bound(s: &str, flag: &str, until: bool) -> Result<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        let t = t.with_timezone(&Utc);
        return Ok(if until {
            t + chrono::Duration::nanoseconds(1)
        } else {
            t
        });
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        let d = if until { d.succ_opt().unwrap_or(d) } else { d };
        return Ok(d.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc());
    }
    Err(Error::Usage(format!(
        "{flag} {s}: expected RFC 3339 (2026-03-14T20:06:00Z) or a date (2026-03-14)"
    )))
}

/// `fetch`'s client settings from its flags.
pub(crate) fn fetch_settings(
    api: &crate::cli::RetryArgs,
) -> Result<crate::fetch::client::Settings> {
    let timeout = parse_seconds(&api.timeout, "--timeout")?;
    if timeout.is_zero() {
        return Err(Error::Usage("--timeout must be more than 0 seconds".into()));
    }
    Ok(crate::fetch::client::Settings {
        retries: api.retries,
        backoff: parse_seconds(&api.backoff, "--backoff")?,
        max_wait: parse_seconds(&api.max_wait, "--max-wait")?,
        timeout,
    })
}

/// `fetch audit-events`' request from its flags.
pub(crate) fn audit_request(
    args: &crate::cli::FetchAuditArgs,
) -> Result<crate::fetch::audit::Request> {
    use crate::fetch::audit::Entity;
    let e = &args.entity;
    let entity = match (&e.group, &e.project) {
        (Some(group), _) => Entity::Group(group.clone()),
        (None, Some(project)) => Entity::Project(project.clone()),
        (None, None) => Entity::Instance,
    };
    let since = args
        .since
        .as_deref()
        .map(|s| parse_bound(s, "--since", false))
        .transpose()?;
    let until = args
        .until
        .as_deref()
        .map(|s| parse_bound(s, "--until", true))
        .transpose()?;
    if let (Some(s), Some(u)) = (since, until)
        && s >= u
    {
        return Err(Error::Usage("--since must come before --until".into()));
    }
    Ok(crate::fetch::audit::Request {
        entity,
        since,
        until,
        out: args.output.clone(),
        restart: args.restart,
    })
}

/// A number of seconds, fractions allowed, up to a day.
fn parse_seconds(s: &str, flag: &str) -> Result<std::time::Duration> {
    const DAY: f64 = 86_400.0;
    s.trim()
        .parse::<f64>()
        .ok()
        .filter(|secs| *secs <= DAY)
        .and_then(|secs| std::time::Duration::try_from_secs_f64(secs).ok())
        .ok_or_else(|| {
            Error::Usage(format!(
                "{flag} {s}: expected a number of seconds, at most a day"
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets() {
        let secs = |s| parse_offset(s).map(|o| o.local_minus_utc());
        assert_eq!(secs("UTC"), Some(0));
        assert_eq!(secs("+01:00"), Some(3600));
        assert_eq!(secs("-0500"), Some(-18000));
        assert_eq!(secs("+5"), Some(18000));
        assert_eq!(secs("+05:30"), Some(19800));
        assert_eq!(secs("Europe/Berlin"), None);
        assert_eq!(secs("+25:00"), None);
    }

    #[test]
    fn input_zones() {
        use crate::ingest::Zone;
        let zone = |s: &str| read_options(None, Some(s)).map(|o| o.input_tz);
        let fixed = |secs| Some(Zone::Fixed(FixedOffset::east_opt(secs).unwrap()));
        assert_eq!(zone("UTC").unwrap(), fixed(0));
        assert_eq!(zone("+01:00").unwrap(), fixed(3600));
        assert_eq!(zone("-0500").unwrap(), fixed(-18000));
        assert_eq!(
            zone("Europe/Berlin").unwrap(),
            Some(Zone::Named(chrono_tz::Tz::Europe__Berlin))
        );
        assert_eq!(
            zone("america/new_york").unwrap(),
            Some(Zone::Named(chrono_tz::Tz::America__New_York))
        );
        for bad in ["Europe/Atlantis", "CET+1", "+25:00", ""] {
            let err = zone(bad).unwrap_err();
            assert_eq!(err.exit_code(), 2, "{bad}");
            assert!(err.to_string().contains("Europe/Berlin"), "{err}");
        }
        // Not given: times without a zone are not guessed.
        assert_eq!(read_options(None, None).unwrap().input_tz, None);
    }

    #[test]
    fn networks() {
        assert_eq!(parse_network("203.0.113.7").unwrap().prefix(), 32);
        assert_eq!(parse_network("2001:db8::1").unwrap().prefix(), 128);
        assert_eq!(
            parse_network("::ffff:203.0.113.0/120").unwrap().to_string(),
            "203.0.113.0/24"
        );
        assert!(parse_network("203.0.113.0/33").is_none());
        assert!(parse_network("office").is_none());
    }

    #[test]
    fn window_bounds() {
        let since = parse_bound("2026-03-10", "--since", false).unwrap();
        let until = parse_bound("2026-03-20", "--until", true).unwrap();
        assert_eq!(since.to_rfc3339(), "2026-03-10T00:00:00+00:00");
        assert_eq!(until.to_rfc3339(), "2026-03-21T00:00:00+00:00");
        let w = Window {
            since: Some(since),
            until_exclusive: Some(until),
        };
        let t = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        assert!(w.contains(t("2026-03-20T23:59:59.999Z")));
        assert!(!w.contains(t("2026-03-21T00:00:00Z")));
        assert!(!w.contains(t("2026-03-09T23:59:59Z")));
        let exact = parse_bound("2026-03-20T10:00:00Z", "--until", true).unwrap();
        assert!(
            Window {
                until_exclusive: Some(exact),
                ..Window::default()
            }
            .contains(t("2026-03-20T10:00:00Z"))
        );
        assert!(parse_bound("last week", "--since", false).is_err());
    }
}
