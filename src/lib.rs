//! logbrief: privacy-safe summaries of GitLab platform logs for support replies.
//!
//! The pipeline, one module a stage: [`ingest`] reads lines into requests, [`directory`]
//! verifies the requester, [`scope`] attributes each request to a namespace,
//! [`exclude`] applies the known list, [`aggregate`] counts, [`guard`] checks, and
//! [`render`] writes the reply. [`run`] ties them together for the binary and tests.

pub mod aggregate;
pub mod cli;
pub mod config;
pub mod directory;
pub mod error;
pub mod exclude;
pub mod geo;
pub mod guard;
pub mod ingest;
pub mod inspect;
pub mod render;
pub mod scope;

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::net::IpAddr;
use std::path::Path;

use chrono::Utc;

use crate::aggregate::{
    Aggregates, AuditBatch, Batch, ClientRequest, Counted, Filters, InputSummary, Reconciliation,
};
use crate::cli::{Cli, Command};
use crate::config::{Config, RequesterConfig, Template};
use crate::directory::{Directory, Verified};
use crate::error::{Error, Result};
use crate::exclude::Rule;
use crate::guard::Canaries;
use crate::ingest::reader::LineReader;
use crate::ingest::{Format, Line, Source};

/// How many malformed line numbers an input reports.
const MALFORMED_SHOWN: usize = 5;

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
    }
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
    std::fs::write(path, config::EXAMPLE).map_err(|source| Error::Write {
        what: path.display().to_string(),
        source,
    })?;
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

/// One request attributed to the requester's scope, before deduplication.
struct Scoped {
    source: Source,
    correlation_id: Option<String>,
    rule: Option<Rule>,
    /// From the requester's own addresses (`--client-ip`).
    from_client: bool,
    git_challenge: bool,
    counted: Counted,
}

/// A request from the requester's addresses to a path outside their namespaces: for
/// the IP-block story, counted without its path.
struct Elsewhere {
    source: Source,
    correlation_id: Option<String>,
    status: Option<u16>,
    time: chrono::DateTime<Utc>,
    git_challenge: bool,
}

/// One audit event attributed to the requester's scope, before deduplication.
struct ScopedEvent {
    id: Option<String>,
    rule: Option<Rule>,
    time: chrono::DateTime<Utc>,
    action: String,
    /// `id:<author_id>`, else `name:<author name>`.
    author: Option<String>,
}

/// What reading every input produced.
#[derive(Default)]
struct Collected {
    reconciliation: Reconciliation,
    inputs: Vec<InputSummary>,
    scoped: Vec<Scoped>,
    events: Vec<ScopedEvent>,
    elsewhere: Vec<Elsewhere>,
}

/// `logbrief summarize`: the whole pipeline.
pub fn summarize(config: &Config, out: &mut dyn Write, err: &mut dyn Write) -> Result<()> {
    let dir = Directory::load(&config.requester.directory)?;
    let verified = directory::verify(&dir, &config.requester.email, &config.requester.namespaces)?;
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
    let context = Context {
        config,
        dir: &dir,
        verified: &verified,
        geoip: geoip.as_ref(),
    };
    for path in &config.logs {
        read_input(path, &context, &mut canaries, &mut collected)?;
    }
    let Collected {
        mut reconciliation,
        inputs,
        scoped,
        events,
        elsewhere,
    } = collected;
    warn_malformed(&inputs, err);

    let duplicate = duplicates(
        scoped
            .iter()
            .map(|s| (s.source, s.correlation_id.as_deref())),
    );
    let mut batch = Batch::default();
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
                    path: Some(s.counted.path.clone()),
                    status: s.counted.status,
                    time: s.counted.time,
                    git_challenge: s.git_challenge,
                });
            }
            match s.rule {
                Some(_) => reconciliation.excluded += 1,
                None => reconciliation.counted += 1,
            }
            batch.push(s.counted, s.rule);
        }
    }
    // Outside the scope these lines stay `out_of_scope` in the reconciliation; the
    // IP-block story only adds them up, nameless.
    let elsewhere_dup = duplicates(
        elsewhere
            .iter()
            .map(|e| (e.source, e.correlation_id.as_deref())),
    );
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
    };

    let allowed = in_scope_paths(&dir, &verified);
    let guard = canaries.into_guard(allowed)?;
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
        std::fs::write(path, note).map_err(|source| Error::Write {
            what: path.display().to_string(),
            source,
        })?;
    }
    write_out(out, reply.get())
}

/// Tells the engineer which inputs had lines that could not be read, by line number.
fn warn_malformed(inputs: &[InputSummary], err: &mut dyn Write) {
    for i in inputs.iter().filter(|i| i.malformed > 0) {
        let first: Vec<String> = i.malformed_lines.iter().map(u64::to_string).collect();
        let plural = if i.malformed == 1 { "" } else { "s" };
        // A failed warning must not fail the run: the reply is what matters.
        let _ = writeln!(
            err,
            "logbrief: warning: {}: {} malformed line{plural} (first at line{} {}), counted as malformed",
            i.name,
            i.malformed,
            if first.len() == 1 { "" } else { "s" },
            first.join(", ")
        );
    }
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

/// What every line of every input is read against.
struct Context<'a> {
    config: &'a Config,
    dir: &'a Directory,
    verified: &'a Verified,
    geoip: Option<&'a geo::GeoIp>,
}

/// Reads one input, putting every line in a bucket or in `scoped`.
fn read_input(
    path: &Path,
    context: &Context<'_>,
    canaries: &mut Canaries,
    collected: &mut Collected,
) -> Result<()> {
    let Context {
        config,
        dir,
        verified,
        ..
    } = *context;
    let mut reader = LineReader::open(path)?;
    let format =
        ingest::detect(reader.peek()?, config.read.hint).ok_or_else(|| Error::UnknownFormat {
            path: path.to_owned(),
        })?;
    let mut rec = Reconciliation::default();
    let mut malformed_lines = Vec::new();
    ingest::each_line(&mut reader, format, &config.read, |line_no, line| {
        rec.lines += 1;
        let request = match line {
            Line::Malformed(_) => {
                rec.malformed += 1;
                if malformed_lines.len() < MALFORMED_SHOWN {
                    malformed_lines.push(line_no);
                }
                return;
            }
            Line::NotRequest => {
                rec.not_request += 1;
                return;
            }
            // Each story counts its own kind of record; the other kind is valid input
            // that this reply does not count. Its personal values are canaries all the
            // same.
            Line::Request(r) => {
                canaries.add_request(&r);
                if config.template == Template::Audit {
                    rec.not_request += 1;
                    return;
                }
                r
            }
            Line::Audit(e) => {
                canaries.add_audit_event(&e);
                if config.template != Template::Audit {
                    rec.not_request += 1;
                    return;
                }
                match scope::attribute_audit(dir, &e).filter(|&n| verified.contains(dir, n)) {
                    Some(_) => collected.events.push(to_scoped_event(dir, config, *e)),
                    None => rec.out_of_scope += 1,
                }
                return;
            }
        };
        match scope::attribute(dir, &request).filter(|&n| verified.contains(dir, n)) {
            Some(node) => collected.scoped.push(to_scoped(context, node, &request)),
            None => {
                rec.out_of_scope += 1;
                if config.template == Template::IpBlock && from_client(config, &request) {
                    collected.elsewhere.push(Elsewhere {
                        source: request.source,
                        correlation_id: request.correlation_id.as_deref().map(str::to_owned),
                        status: request.status,
                        time: request.time,
                        git_challenge: is_git_challenge(&request),
                    });
                }
            }
        }
    })?;
    let gzip = reader.is_gzip();
    let sha256 = reader.finish()?;
    collected.inputs.push(InputSummary {
        name: display_name(path),
        format: if format == Format::Empty && rec.lines > 0 {
            Format::RailsJson.name()
        } else {
            format.name()
        },
        gzip,
        sha256,
        lines: rec.lines,
        malformed: rec.malformed,
        malformed_lines,
    });
    collected.reconciliation.add(&rec);
    Ok(())
}

fn from_client(config: &Config, r: &ingest::Request<'_>) -> bool {
    r.client_ip
        .is_some_and(|ip| config.client_networks.iter().any(|n| n.contains(ip)))
}

/// Git over HTTP asks for `info/refs` without credentials first and is answered 401;
/// it then asks again with them. Such a 401 is expected, never the cause of a block.
fn is_git_challenge(r: &ingest::Request<'_>) -> bool {
    let path = r.path.split('?').next().unwrap_or_default();
    r.status == Some(401) && path.to_ascii_lowercase().ends_with("/info/refs")
}

fn to_scoped_event(dir: &Directory, config: &Config, e: ingest::audit::AuditEvent) -> ScopedEvent {
    let author = e.author_id.map(|id| format!("id:{id}")).or_else(|| {
        e.author_name
            .as_ref()
            .map(|n| format!("name:{}", n.to_lowercase()))
    });
    let user = e
        .author_id
        .and_then(|id| u64::try_from(id).ok())
        .and_then(|id| dir.user_by_id(id));
    // The author is the user: by directory id, and by the email the event carries,
    // which also names authors the directory does not know.
    let by_directory = config
        .exclusions
        .rule_for(dir, user.map(|u| u.id), None, e.ip);
    let by_email = e
        .author_email
        .as_deref()
        .is_some_and(|m| config.exclusions.domain_matches(&m.to_lowercase()));
    let rule = match by_directory {
        Some(Rule::User | Rule::Domain) => by_directory,
        _ if by_email => Some(Rule::Domain),
        other => other,
    };
    ScopedEvent {
        id: e.id,
        rule,
        time: e.time,
        action: e.action,
        author,
    }
}

fn to_scoped(context: &Context<'_>, node: directory::Node, r: &ingest::Request<'_>) -> Scoped {
    let (dir, config) = (context.dir, context.config);
    // NGINX's `$remote_user` is whatever the client sent for HTTP basic auth
    // (`gitlab-ci-token`, `oauth2`, a username): it names a user only when the
    // directory knows that username.
    let username = r
        .username
        .as_deref()
        .filter(|name| r.source != Source::Nginx || dir.user_by_username(name).is_some());
    let user = match (r.user_id, username) {
        (Some(id), _) => Some(format!("id:{id}")),
        (None, Some(name)) => Some(match dir.user_by_username(name) {
            Some(u) => format!("id:{}", u.id),
            None => format!("name:{}", name.to_lowercase()),
        }),
        (None, None) => None,
    };
    let ip: Option<IpAddr> = r.client_ip;
    Scoped {
        from_client: from_client(config, r),
        git_challenge: is_git_challenge(r),
        source: r.source,
        correlation_id: r.correlation_id.as_deref().map(str::to_owned),
        rule: config.exclusions.rule_for(dir, r.user_id, username, ip),
        counted: Counted {
            path: dir.path_of(node).to_owned(),
            user,
            ip,
            time: r.time,
            status: r.status,
            kind: r.kind(),
            user_agent: r.user_agent.as_deref().map(str::to_owned),
            country: context.geoip.map(|g| match ip {
                Some(ip) => g.country(ip),
                None => geo::UNKNOWN.to_owned(),
            }),
        },
    }
}
