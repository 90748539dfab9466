//! logbrief: privacy-safe summaries of GitLab platform logs for support replies.
//!
//! The pipeline, one module a stage: [`ingest`] reads lines into requests, [`directory`]
//! verifies the requester, [`scope`] attributes each request to a namespace,
//! [`exclude`] applies the known list, [`aggregate`] counts, [`guard`] checks, and
//! [`render`] writes the reply. [`run`] ties them together for the binary and tests.

pub mod aggregate;
pub mod cli;
mod collect;
pub mod config;
pub mod directory;
pub mod error;
pub mod exclude;
pub mod fetch;
pub mod geo;
pub mod guard;
pub mod ingest;
pub mod inspect;
pub mod progress;
pub mod render;
pub mod scope;
mod vocabulary;

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::path::Path;

use chrono::Utc;

use crate::aggregate::{
    Aggregates, AuditBatch, Batch, ClientRequest, Filters, InputSummary, Names, Period, format_time,
};
use crate::cli::{Cli, Command, FetchCommand};
use crate::collect::{Collected, Context};
use crate::config::{Config, RequesterConfig, Template};
use crate::directory::{Directory, Verified};
use crate::error::{Error, Result};
use crate::guard::Canaries;
use crate::ingest::Source;
use crate::progress::Progress;

/// Runs one command; the reply (or the verification result) goes to `out`, warnings
/// for the engineer to `err`.
pub fn run(cli: Cli, out: &mut dyn Write, err: &mut dyn Write) -> Result<()> {
    match cli.command {
        Command::Summarize(args) => summarize(&Config::from_args(*args)?, out, err),
        Command::Verify(args) => verify(&RequesterConfig::from_args(args.requester), out),
        Command::Init(args) => init(&args.path, args.force, out),
        Command::Inspect(args) => {
            let options = config::read_options(args.format_hint, args.input_tz.as_deref())?;
            inspect::inspect(&config::expand_globs(args.logs)?, &options, args.json, out)
        }
        Command::Fetch(FetchCommand::Directory(args)) => {
            let client = fetch_client(&args.api)?;
            fetch::directory(&client, &args.namespace, &args.output, out, err)
        }
        Command::Fetch(FetchCommand::AuditEvents(args)) => {
            let request = config::audit_request(&args)?;
            let client = fetch_client(&args.api)?;
            fetch::audit_events(&client, &request, out, err)
        }
    }
}

fn fetch_client(api: &cli::ApiArgs) -> Result<fetch::client::Client> {
    let settings = config::fetch_settings(api)?;
    let token = fetch::client::Token::from_env()?;
    fetch::client::Client::new(&api.gitlab_url, token, settings)
}

pub(crate) fn write_out(out: &mut dyn Write, text: &str) -> Result<()> {
    out.write_all(text.as_bytes())
        .and_then(|_| out.flush())
        .map_err(|source| Error::Write {
            what: "standard output".into(),
            source,
        })
}

/// `logbrief init`: a commented example of the team configuration.
pub fn init(path: &Path, force: bool, out: &mut dyn Write) -> Result<()> {
    if path.exists() && !force {
        return Err(Error::Usage(format!(
            "{} exists already; use --force to replace it",
            path.display()
        )));
    }
    std::fs::write(path, config::EXAMPLE).map_err(|e| Error::write(path, e))?;
    write_out(out, &format!("wrote {}\n", path.display()))
}

/// `logbrief verify`: who the requester is and what they may hear about.
pub fn verify(config: &RequesterConfig, out: &mut dyn Write) -> Result<()> {
    let dir = Directory::load(&config.directory)?;
    let v = directory::verify(&dir, &config.email, &config.namespaces)?;
    let mut text = format!(
        "verified: {} (user {}) is an Owner of a paid namespace\nin scope:\n",
        v.username, v.user_id
    );
    for node in &v.scope {
        text.push_str(&format!("  {}\n", dir.path_of(*node)));
    }
    write_out(out, &text)
}

/// `logbrief summarize`: the whole pipeline.
pub fn summarize(config: &Config, out: &mut dyn Write, err: &mut dyn Write) -> Result<()> {
    let dir = Directory::load(&config.requester.directory)?;
    let verified = directory::verify(&dir, &config.requester.email, &config.requester.namespaces)?;
    // The team configuration's known list for this customer, said out loud.
    let mut roots: Vec<String> = verified
        .scope_paths(&dir)
        .iter()
        .map(|p| p.split('/').next().unwrap_or(p).to_lowercase())
        .collect();
    roots.dedup();
    let mut config = config.clone();
    let config_added = config.apply_customer(&roots);
    let config = &config;
    for added in &config_added {
        let _ = writeln!(err, "logbrief: {added}");
    }
    let own_ranges: Vec<_> = config
        .exclusions
        .networks
        .iter()
        .chain(&config.client_networks)
        .copied()
        .collect();
    let mut canaries = Canaries::new(Some(&verified), &own_ranges);
    canaries.add_directory(&dir);

    let geoip = config.geoip.as_deref().map(geo::GeoIp::open).transpose()?;
    let mut collected = Collected::default();
    let names = Names::default();
    let context = Context {
        config,
        dir: &dir,
        verified: &verified,
        geoip: geoip.as_ref(),
        names: &names,
    };
    let progress = Progress::for_inputs(&config.logs);
    for path in &config.logs {
        collect::read_input(path, &context, &mut canaries, &progress, &mut collected)?;
    }
    progress.finish();
    let Collected {
        mut reconciliation,
        inputs,
        scoped,
        events,
        elsewhere,
        twins,
        coverage,
        mut warnings,
    } = collected;
    warn_malformed(&inputs, err);
    story_has_records(config, &inputs)?;

    // One request logged by several components is one request, wherever the scope
    // places each of its lines: the most complete line decides, the first in reading
    // order among equals (SPEC §6).
    let mut lines: Vec<(collect::At, Source, Option<&str>, usize)> = Vec::new();
    lines.extend(
        scoped
            .iter()
            .enumerate()
            .map(|(i, s)| (s.at, s.source, s.correlation_id.as_deref(), i)),
    );
    let offset = scoped.len();
    lines.extend(
        elsewhere
            .iter()
            .enumerate()
            .map(|(i, e)| (e.at, e.source, e.correlation_id.as_deref(), offset + i)),
    );
    let offset = offset + elsewhere.len();
    lines.extend(
        twins
            .iter()
            .enumerate()
            .map(|(i, t)| (t.at, t.source, Some(&*t.correlation_id), offset + i)),
    );
    lines.sort_by_key(|l| l.0);
    let mut duplicate = vec![false; lines.len()];
    for (dup, line) in duplicates(lines.iter().map(|l| (l.1, l.2)))
        .into_iter()
        .zip(&lines)
    {
        duplicate[line.3] = dup;
    }
    let twin_duplicates = duplicate.split_off(scoped.len() + elsewhere.len());
    let elsewhere_dup = duplicate.split_off(scoped.len());
    // Lines outside the scope that repeat another line of the same request.
    let moved = elsewhere_dup
        .iter()
        .chain(&twin_duplicates)
        .filter(|&&d| d)
        .count() as u64;
    reconciliation.out_of_scope -= moved;
    reconciliation.duplicate += moved;
    let mut batch = Batch::new(names);
    let mut client_requests = Vec::new();
    for (s, dup) in scoped.into_iter().zip(duplicate) {
        if dup {
            reconciliation.duplicate += 1;
        } else if !config.window.contains(s.counted.time) {
            reconciliation.out_of_window += 1;
        } else {
            // The IP-block story is about the requester's own traffic: the known list
            // does not apply to it.
            if s.from_client {
                client_requests.push(ClientRequest {
                    path: Some(batch.names().resolve(s.counted.path).to_owned()),
                    status: s.counted.status,
                    time: s.counted.time,
                    git_challenge: s.git_challenge,
                });
            }
            match s.rule {
                Some(_) => reconciliation.excluded += 1,
                None => reconciliation.counted += 1,
            }
            batch.push(&s.counted, s.rule);
        }
    }
    // Outside the scope these lines stay `out_of_scope` in the reconciliation; the
    // IP-block story only adds them up, nameless.
    for (e, dup) in elsewhere.into_iter().zip(elsewhere_dup) {
        if !dup && config.window.contains(e.time) {
            client_requests.push(ClientRequest {
                path: None,
                status: e.status,
                time: e.time,
                git_challenge: e.git_challenge,
            });
        }
    }
    let mut audit_batch = AuditBatch::default();
    // The same event may arrive twice (a stream retries, exports overlap): by id, the
    // first one stays.
    let mut seen_ids = HashSet::new();
    for e in events {
        if e.id.as_ref().is_some_and(|id| !seen_ids.insert(id.clone())) {
            reconciliation.duplicate += 1;
        } else if !config.window.contains(e.time) {
            reconciliation.out_of_window += 1;
        } else if e.rule.is_some() {
            reconciliation.excluded += 1;
        } else {
            reconciliation.counted += 1;
            audit_batch.push(e.action, e.author, e.time);
        }
    }
    if reconciliation.bucket_sum() != reconciliation.lines {
        return Err(Error::Internal("the reconciliation does not add up".into()));
    }

    let counting = |e: polars::error::PolarsError| Error::Internal(format!("counting: {e}"));
    let tally = aggregate::tally(batch, geoip.is_some()).map_err(counting)?;
    let audit = match config.template {
        Template::Audit => Some(aggregate::audit_tally(audit_batch).map_err(counting)?),
        Template::Access | Template::HighLoad | Template::IpBlock => None,
    };
    let aggregates = Aggregates {
        template: config.template.name(),
        scope: verified
            .scope_paths(&dir)
            .into_iter()
            .map(str::to_owned)
            .collect(),
        filters: Filters {
            client_ranges: config
                .client_networks
                .iter()
                .map(|n| n.to_string())
                .collect(),
            exclude_ip_ranges: config
                .exclusions
                .networks
                .iter()
                .map(|n| n.to_string())
                .collect(),
            exclude_domains: config.exclusions.domains.clone(),
            exclude_users: config.exclusions.users.len(),
            since: config.window.since,
            until: config
                .window
                .until_exclusive
                .map(|u| u - chrono::Duration::milliseconds(1)),
        },
        tally,
        reconciliation,
        inputs,
        audit,
        ip_block: (config.template == Template::IpBlock)
            .then(|| aggregate::ip_block(&client_requests)),
        geoip: geoip.as_ref().map(geo::GeoIp::info),
        logs_cover: Period {
            first: coverage.first,
            last: coverage.last,
        },
        warnings: Vec::new(),
        config_added,
    };
    if let Some(w) = window_beyond_logs(&aggregates) {
        warnings.push(w);
    }
    for rule in config.exclusions.unmatched() {
        warnings.push(format!(
            "{rule} matched nothing in scope: check it for a typo (the reply still names it)"
        ));
    }
    for w in &warnings {
        let _ = writeln!(err, "logbrief: warning: {w}");
    }
    let aggregates = Aggregates {
        warnings,
        ..aggregates
    };

    // Addresses in the ranges the requester supplied are theirs (the guard was told
    // when the canaries were made); the paths in scope are theirs too. The domains
    // they supplied are checked: a username typed as a domain would be repeated.
    let guard = canaries.into_guard(in_scope_paths(&dir, &verified))?;
    let guarded = guard.vet(aggregates)?;
    let reply = render::reply(
        &guarded,
        config.template,
        config.format,
        config.min_count,
        &guard,
    )?;
    if let Some(path) = &config.internal_note {
        let note = render::internal_note(
            &guarded,
            &config.requester.email,
            &config.exclusions.users,
            config.kibana_url.as_deref(),
            Utc::now(),
        )?;
        // The note names the requester: readable by its owner only.
        fetch::replace(path, note.as_bytes())?;
    }
    write_out(out, reply.get())
}

/// Tells the engineer which inputs had lines that could not be read, by line number.
fn warn_malformed(inputs: &[InputSummary], err: &mut dyn Write) {
    for i in inputs.iter().filter(|i| i.malformed > 0) {
        let first: Vec<String> = i.malformed_lines.iter().map(u64::to_string).collect();
        let plural = if i.malformed == 1 { "" } else { "s" };
        let why = i
            .first_malformed
            .map(|w| format!("; the first: {w}"))
            .unwrap_or_default();
        // A failed warning must not fail the run: the reply is what matters.
        let _ = writeln!(
            err,
            "logbrief: warning: {}: {} malformed line{plural} (first at line{} {}{why}), counted as malformed",
            i.name,
            i.malformed,
            if first.len() == 1 { "" } else { "s" },
            first.join(", ")
        );
    }
}

/// A window reaching more than this beyond the logs is said to: logs rarely start or
/// end on the dot.
const COVERAGE_SLACK: chrono::TimeDelta = chrono::TimeDelta::minutes(1);

/// The warning for a window that reaches beyond the period the logs cover.
fn window_beyond_logs(a: &Aggregates) -> Option<String> {
    let (Some(first), Some(last)) = (a.logs_cover.first, a.logs_cover.last) else {
        return None;
    };
    let early = a.filters.since.filter(|&s| s + COVERAGE_SLACK < first);
    let late = a.filters.until.filter(|&u| u > last + COVERAGE_SLACK);
    (early.is_some() || late.is_some()).then(|| {
        format!(
            "the window ({} to {}) reaches beyond the logs, which cover {} to {}; the reply \
             says which period it covers",
            a.filters.since.map_or("the first line".into(), format_time),
            a.filters.until.map_or("the last line".into(), format_time),
            format_time(first),
            format_time(last)
        )
    })
}

/// A story needs records of its kind; refuses the run when the inputs hold none, or
/// when `--format-hint` made every line unreadable as requests (SPEC §9).
fn story_has_records(config: &Config, inputs: &[InputSummary]) -> Result<()> {
    if inputs.iter().any(|i| i.records > 0) {
        return Ok(());
    }
    let story = config.template.name();
    let lines: u64 = inputs.iter().map(|i| i.lines).sum();
    if lines == 0 {
        return Err(Error::NoRecords(format!(
            "--template {story}: the inputs are empty"
        )));
    }
    let holds = |audit: bool| {
        inputs
            .iter()
            .any(|i| i.lines > 0 && i.format.starts_with("audit") == audit)
    };
    if config.template == Template::Audit {
        // Audit events are always read line by line: none means there are none.
        let fits = if holds(false) {
            "; these files hold requests: use --template access, ip-block or high-load"
        } else {
            ""
        };
        return Err(Error::NoRecords(format!(
            "--template {story} needs audit events, and the inputs hold none{fits}"
        )));
    }
    if !holds(false) {
        return Err(Error::NoRecords(format!(
            "--template {story} needs request logs, and the inputs hold only audit events: \
             use --template audit"
        )));
    }
    if let Some(i) = inputs
        .iter()
        .find(|i| i.looks_like.is_some() && i.lines > 0)
    {
        return Err(Error::NoRecords(format!(
            "{}: read as {} (--format-hint), none of its lines is a request; they look like {}: \
             leave out --format-hint or name that format",
            i.name,
            i.format,
            i.looks_like.unwrap_or_default()
        )));
    }
    // Every line was read and none is a request: the logs hold nothing to count. Lines
    // passed over unread may be requests to other customers, which is a valid answer.
    if inputs.iter().all(|i| i.unread == 0) {
        return Err(Error::NoRecords(format!(
            "--template {story} needs requests, and none of the inputs' {lines} lines is one"
        )));
    }
    Ok(())
}

/// Every directory path inside the scope: these may appear in a reply.
fn in_scope_paths(dir: &Directory, v: &Verified) -> Vec<String> {
    let namespaces = (0..dir.namespaces.len()).map(directory::Node::Namespace);
    let projects = (0..dir.projects.len()).map(directory::Node::Project);
    namespaces
        .chain(projects)
        .filter(|&n| v.contains(dir, n))
        .map(|n| dir.path_of(n).to_owned())
        .collect()
}

/// Marks the requests that another component logged too (same `correlation_id`):
/// the most complete record stays, the first one among equals (SPEC §6).
fn duplicates<'a>(records: impl Iterator<Item = (Source, Option<&'a str>)>) -> Vec<bool> {
    let records: Vec<(Source, Option<&str>)> = records.collect();
    let mut dup = vec![false; records.len()];
    let mut kept: HashMap<&str, usize> = HashMap::new();
    for (i, &(source, cid)) in records.iter().enumerate() {
        let Some(cid) = cid else {
            continue;
        };
        match kept.get(cid).copied() {
            None => {
                kept.insert(cid, i);
            }
            Some(k) if source.completeness() > records[k].0.completeness() => {
                dup[k] = true;
                kept.insert(cid, i);
            }
            Some(_) => dup[i] = true,
        }
    }
    dup
}

pub(crate) fn display_name(path: &Path) -> String {
    if path == Path::new("-") {
        "(standard input)".to_owned()
    } else {
        path.display().to_string()
    }
}
