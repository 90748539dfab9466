//! `logbrief summarize`: the pipeline, one stage a step:
//! verify → collect → settle → count → guard → render.
//!
//! Each stage hands the next a value of its own; only the last one writes. Per-line
//! code (collect) sees a [`Reading`], never the output format, the note or the links.

mod collect;
mod gaps;
mod settle;

use std::io::Write;

use chrono::Utc;
use ipnetwork::IpNetwork;

use crate::aggregate::{
    self, Aggregates, Filters, InputSummary, KnownList, Names, Period, format_time,
};
use crate::config::{Config, Story};
use crate::directory::{self, Directory, Verified};
use crate::error::{Error, Result};
use crate::exclude::Exclusions;
use crate::guard::Canaries;
use crate::ingest::ReadOptions;
use crate::output::write_out;
use crate::progress::Progress;
use crate::{geo, render};

use collect::{Collected, Context};
use settle::Settled;

/// Whose requests are whose, as far as reading a line needs to know: the known list
/// (the company's own people, left out) and the requester's own addresses.
pub(crate) struct Audience<'a> {
    pub(crate) exclusions: &'a Exclusions,
    /// The requester's own addresses (`--client-ip`), for the IP-block story.
    pub(crate) client_networks: &'a [IpNetwork],
}

/// How the inputs are read: the story, whose requests are whose, and the reading
/// options.
pub(crate) struct Reading<'a> {
    pub(crate) story: Story,
    pub(crate) audience: Audience<'a>,
    pub(crate) options: &'a ReadOptions,
    /// Parse every line instead of only those that may concern the scope.
    pub(crate) parse_all: bool,
    pub(crate) threads: usize,
    /// Where input digests are cached (RULES.md §10).
    pub(crate) digests: &'a crate::digest::Cache,
}

/// `logbrief summarize`: the whole pipeline.
pub(crate) fn summarize(config: &Config, out: &mut dyn Write, err: &mut dyn Write) -> Result<()> {
    // `--quiet`: warnings go nowhere; errors are the binary's to print.
    let mut nowhere = std::io::sink();
    let err: &mut dyn Write = if config.quiet { &mut nowhere } else { err };
    // The ticket first: one written by someone else stops the run before anything is
    // read.
    let ticket = ticket_note(config, err)?;
    // Verify.
    let dir = Directory::load(&config.requester.directory)?;
    let verified = directory::verify(&dir, &config.requester.email, &config.requester.namespaces)?;
    let (config, config_added) = for_customer(config, &dir, &verified, err);
    let config = &config;
    let geoip = config.geoip.as_deref().map(geo::GeoIp::open).transpose()?;
    let manifest = load_manifest(config, &dir, &verified)?;

    // Collect.
    let mut canaries = canaries(config, &dir, &verified);
    let names = Names::default();
    let collected = collect(
        config,
        &dir,
        &verified,
        geoip.as_ref(),
        manifest.as_ref(),
        &names,
        &mut canaries,
    )?;
    warn_malformed(&collected.inputs, err);
    story_has_records(config, &collected, &dir, &verified)?;

    // Settle and count.
    let engine_kept = manifest.is_some();
    let counted = settle_and_count(
        config,
        &dir,
        &verified,
        collected,
        names,
        geoip.as_ref(),
        engine_kept,
    );
    let (aggregates, timeline, mut warnings) = counted?;
    say_warnings(config, &aggregates, &mut warnings, err);

    // Guard. Addresses in the ranges the requester supplied are theirs (the canaries
    // know them); the paths in scope are theirs too. The domains they supplied are
    // checked: a username typed as a domain would be repeated.
    let guard = canaries.into_guard(in_scope_paths(&dir, &verified))?;
    let guarded = guard.vet(aggregates)?;

    // Render.
    let reply = render::reply(
        &guarded,
        config.story,
        config.format,
        detail(config),
        &guard,
    )?;
    let chart = write_chart(config, timeline)?;
    // The note, and the files hashed for it, only when it is written or posted.
    let posted = config.ticket.as_ref().is_some_and(|t| t.post_note);
    if config.internal_note.is_none() && !posted {
        return write_out(out, reply.get());
    }
    let provenance = render::Provenance {
        requester: &config.requester.email,
        command_line: command_line(),
        working_folder: std::env::current_dir()
            .ok()
            .map(|d| d.display().to_string()),
        ownerships: dir.ownerships(verified.user_id),
        config_file: config_file(config),
        side_files: side_files(config)?,
        config_added,
        manifest,
        warnings,
        exclude_users: &config.exclusions.users,
        kibana: config.kibana.as_ref(),
        ticket: ticket.as_ref(),
        chart: chart.as_ref().map(|(path, _)| *path),
    };
    let note = render::internal_note(&guarded, &provenance, Utc::now())?;
    deliver(config, reply.get(), &note, chart.as_ref(), out, err)
}

/// The note to its file (`--internal-note`), the reply to standard output, and the
/// note to the ticket (`--post-note`), in that order.
fn deliver(
    config: &Config,
    reply: &str,
    note: &str,
    chart: Option<&(&std::path::Path, String)>,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<()> {
    if let Some(path) = &config.internal_note {
        // The note names the requester: readable by its owner only.
        crate::files::write_private(path, note.as_bytes())?;
    }
    write_out(out, reply)?;
    match &config.ticket {
        Some(t) if t.post_note => post_note(config, t, note, chart, err),
        _ => Ok(()),
    }
}

/// `--min-count` and `--details`: how much the reply says.
fn detail(config: &Config) -> render::Detail {
    render::Detail {
        min_count: config.min_count,
        details: config.details,
    }
}

/// The team configuration read, as the note names it.
fn config_file(config: &Config) -> Option<String> {
    config
        .team_exclusions
        .file
        .as_ref()
        .map(|f| f.display().to_string())
}

/// `--manifest`: the engine's totals, read and checked against the scope.
fn load_manifest(
    config: &Config,
    dir: &Directory,
    verified: &Verified,
) -> Result<Option<crate::manifest::Manifest>> {
    let manifest = config
        .manifest
        .as_deref()
        .map(crate::manifest::Manifest::load)
        .transpose()?;
    if let Some(m) = &manifest {
        manifest_fits_the_scope(m, dir, verified)?;
    }
    Ok(manifest)
}

/// The inputs hold records of the story's kind, and audit events about the scope.
fn story_has_records(
    config: &Config,
    collected: &Collected,
    dir: &Directory,
    verified: &Verified,
) -> Result<()> {
    settle::story_has_records(config.story, &collected.inputs)?;
    if config.story == Story::Audit {
        let scope: Vec<&str> = verified.scope.iter().map(|&n| dir.path_of(n)).collect();
        collected.audit_of_others(&scope.join(", "))?;
    }
    Ok(())
}

/// The run's warnings on standard error, with the window's and the known list's; with
/// `--verbose`, how the counts came about.
fn say_warnings(
    config: &Config,
    aggregates: &Aggregates,
    warnings: &mut Vec<String>,
    err: &mut dyn Write,
) {
    warnings.extend(window_beyond_logs(aggregates));
    warnings.extend(config.exclusions.unmatched().into_iter().map(|rule| {
        format!("{rule} matched nothing in scope: check it for a typo (the reply still names it)")
    }));
    for w in warnings.iter() {
        let _ = writeln!(err, "logbrief: warning: {w}");
    }
    if config.verbose {
        explain(aggregates, err);
    }
}

/// `--chart`: the timeline drawn and written; its path and SVG, for the note and the
/// ticket.
fn write_chart(
    config: &Config,
    timeline: Option<aggregate::Timeline>,
) -> Result<Option<(&std::path::Path, String)>> {
    Ok(match (&config.chart, timeline) {
        (Some(path), Some(timeline)) => {
            let whose = match config.story {
                Story::IpBlock => "Requests from the requester's addresses",
                _ => "Requests",
            };
            let svg = crate::chart::svg(&timeline, whose)?;
            crate::files::write_private(path, svg.as_bytes())?;
            Some((path.as_path(), svg))
        }
        _ => None,
    })
}

/// `--ticket`: the ticket's requester checked in Zendesk when it is configured, for the
/// note; a warning when it is not.
fn ticket_note(config: &Config, err: &mut dyn Write) -> Result<Option<render::TicketNote>> {
    let Some(ticket) = &config.ticket else {
        return Ok(None);
    };
    let checked = crate::zendesk::check_requester(ticket, &config.requester.email, err)?;
    if checked.is_none() {
        let _ = writeln!(
            err,
            "logbrief: warning: the requester of ticket {} was not checked: Zendesk is not \
             configured ({}, {} and {})",
            ticket.id,
            crate::zendesk::URL_VARIABLE,
            crate::zendesk::EMAIL_VARIABLE,
            crate::zendesk::TOKEN_VARIABLE
        );
    }
    Ok(Some(render::TicketNote {
        id: ticket.id,
        link: ticket.link(),
        checked,
    }))
}

/// `--post-note`: the note as a private comment on the ticket, with the chart. The
/// reply is printed and the note written already; a failure says so.
fn post_note(
    config: &Config,
    ticket: &crate::zendesk::Ticket,
    note: &str,
    chart: Option<&(&std::path::Path, String)>,
    err: &mut dyn Write,
) -> Result<()> {
    let attachment = chart.map(|(path, svg)| crate::zendesk::Attachment {
        name: path
            .file_name()
            .map_or_else(|| "chart.svg".into(), |n| n.to_string_lossy().into_owned()),
        bytes: svg.as_bytes(),
        content_type: "image/svg+xml",
    });
    let after = format!(
        "\nThe reply is printed and the internal note is in {}: check ticket {} and add the \
         note as a private comment by hand if it is not there.",
        config
            .internal_note
            .as_deref()
            .map_or_else(|| "no file".into(), |p| p.display().to_string()),
        ticket.id
    );
    crate::zendesk::post_note(ticket, note, attachment, &after, err)?;
    let _ = writeln!(
        err,
        "logbrief: the internal note was added to ticket {} as a private comment{}",
        ticket.id,
        if chart.is_some() {
            ", with the chart"
        } else {
            ""
        }
    );
    Ok(())
}

/// The directory, the team configuration and the GeoIP database, with the SHA-256 of
/// each, for the note (RULES.md §7).
fn side_files(config: &Config) -> Result<Vec<render::SideFile>> {
    let files = [
        ("Directory", Some(&config.requester.directory)),
        ("Team configuration", config.team_exclusions.file.as_ref()),
        ("GeoIP database", config.geoip.as_ref()),
    ];
    files
        .into_iter()
        .filter_map(|(role, path)| path.map(|p| (role, p)))
        .map(|(role, path)| {
            Ok(render::SideFile {
                role,
                name: path.display().to_string(),
                sha256: crate::digest::hash_file(path).map_err(|source| Error::Read {
                    path: path.clone(),
                    source,
                })?,
            })
        })
        .collect()
}

/// The command line as run, each argument quoted for a POSIX shell where it needs to
/// be, for the internal note.
fn command_line() -> String {
    let quote = |a: String| {
        let plain = !a.is_empty()
            && a.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_./=:@,+%".contains(c));
        if plain {
            a
        } else {
            format!("'{}'", a.replace('\'', "'\\''"))
        }
    };
    let mut args = std::env::args().map(quote);
    // The program as the engineer typed it is the one thing that varies between
    // machines; its name is enough.
    let program = args.next().map(|_| "logbrief".to_owned());
    program
        .into_iter()
        .chain(args)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Reads every input into buckets and records in the requester's scope.
fn collect(
    config: &Config,
    dir: &Directory,
    verified: &Verified,
    geoip: Option<&geo::GeoIp>,
    manifest: Option<&crate::manifest::Manifest>,
    names: &Names,
    canaries: &mut Canaries,
) -> Result<Collected> {
    let reading = Reading {
        story: config.story,
        audience: Audience {
            exclusions: &config.exclusions,
            client_networks: &config.client_networks,
        },
        options: &config.read,
        parse_all: config.parse_all,
        threads: config.threads,
        digests: &crate::digest::Cache::new(!config.no_cache),
    };
    let context = Context {
        reading: &reading,
        dir,
        verified,
        geoip,
        names,
        hold: Default::default(),
    };
    let mut collected = Collected::default();
    let progress = if config.no_progress {
        Progress::hidden()
    } else {
        Progress::for_inputs(&config.logs)
    };
    for (i, path) in config.logs.iter().enumerate() {
        progress.start_input(i, config.logs.len(), path);
        collect::read_input(path, &context, canaries, &progress, &mut collected)?;
    }
    progress.finish();
    if let Some(manifest) = manifest {
        collected.left_out_by_the_engine(manifest)?;
    }
    Ok(collected)
}

/// Settles every record in its bucket and counts what is left, with the inputs, the
/// period they cover and the warnings reading them gave; with `--chart`, the
/// timeline of the requests the story counts.
fn settle_and_count(
    config: &Config,
    dir: &Directory,
    verified: &Verified,
    mut collected: Collected,
    names: Names,
    geoip: Option<&geo::GeoIp>,
    engine_kept: bool,
) -> Result<(Aggregates, Option<aggregate::Timeline>, Vec<String>)> {
    let read = Read {
        inputs: std::mem::take(&mut collected.inputs),
        logs_cover: Period {
            first: collected.coverage.first,
            last: collected.coverage.last,
        },
        unreadable_in_scope: collected.unreadable_in_scope,
        // The lines an engine kept are the scope's only: the stretches between them
        // are no gaps in the logs, and the engine's totals do not tell where its
        // sources' lines lie (RULES.md §9).
        gaps: match engine_kept {
            true => Vec::new(),
            false => gaps::gaps(&collected.timelines, &config.window),
        },
    };
    let warnings = std::mem::take(&mut collected.warnings);
    let settled = settle::settle(collected, &config.window, names)?;
    let timeline = config.chart.as_ref().map(|_| match config.story {
        Story::IpBlock => aggregate::client_timeline(&settled.client_requests),
        _ => aggregate::timeline(&settled.batch),
    });
    let aggregates = count(config, dir, verified, settled, read, geoip)?;
    Ok((aggregates, timeline, warnings))
}

/// What reading the inputs found beside the records: the inputs themselves, the
/// period they cover, the lines that may concern the scope but could not be read, and
/// the gaps in them.
struct Read {
    inputs: Vec<InputSummary>,
    logs_cover: Period,
    unreadable_in_scope: u64,
    gaps: Vec<aggregate::Gap>,
}

/// `--verbose`: what each rule of the known list took out, and where every line went,
/// in counts only.
fn explain(a: &Aggregates, err: &mut dyn Write) {
    let x = &a.tally.excluded;
    let (records, who, lines) = if a.audit.is_some() {
        ("events", "authors", "not audit events")
    } else {
        ("requests", "signed-in users", "not requests")
    };
    for (rule, c) in [
        ("--exclude-user", &x.user),
        ("--exclude-domain", &x.domain),
        ("--exclude-ip", &x.ip),
    ] {
        let _ = write!(
            err,
            "logbrief: {rule} took out {} {records} ({} {who}",
            c.accesses, c.users
        );
        let _ = if a.audit.is_some() {
            writeln!(err, ")")
        } else {
            writeln!(err, ", {} unique IP addresses)", c.unique_ips)
        };
    }
    let r = &a.reconciliation;
    let _ = writeln!(
        err,
        "logbrief: {} lines: {} malformed, {} {lines}, {} duplicates, {} out of scope \
         ({} of them unread), {} out of the window, {} excluded, {} counted",
        r.lines,
        r.malformed,
        r.not_request,
        r.duplicate,
        r.out_of_scope,
        r.unread,
        r.out_of_window,
        r.excluded,
        r.counted
    );
}

/// The configuration with the team configuration's known list for the requester's
/// top-level groups, and what the file added, said out loud.
fn for_customer(
    config: &Config,
    dir: &Directory,
    verified: &Verified,
    err: &mut dyn Write,
) -> (Config, Vec<String>) {
    let mut roots: Vec<String> = verified
        .scope_paths(dir)
        .iter()
        .map(|p| p.split('/').next().unwrap_or(p).to_lowercase())
        .collect();
    roots.dedup();
    let mut config = config.clone();
    let added = config.apply_customer(&roots);
    for line in &added {
        let _ = writeln!(err, "logbrief: {line}");
    }
    (config, added)
}

/// The values a reply must never contain, to be filled while reading.
fn canaries(config: &Config, dir: &Directory, verified: &Verified) -> Canaries {
    let own_ranges: Vec<IpNetwork> = config
        .exclusions
        .networks
        .iter()
        .chain(&config.client_networks)
        .copied()
        .collect();
    let mut canaries = Canaries::new(Some(verified), &own_ranges);
    canaries.add_directory(dir);
    canaries
}

/// Counts what was settled, with polars, into the aggregates a reply is built from.
fn count(
    config: &Config,
    dir: &Directory,
    verified: &Verified,
    settled: Settled,
    read: Read,
    geoip: Option<&geo::GeoIp>,
) -> Result<Aggregates> {
    let counting = |e: polars::error::PolarsError| Error::Internal(format!("counting: {e}"));
    let mut tally = aggregate::tally(settled.batch, geoip.is_some()).map_err(counting)?;
    if let (Some(geoip), Some(countries)) = (geoip, tally.countries.as_mut()) {
        for c in countries {
            c.name = geoip.name_of(&c.country);
        }
    }
    let audit = match config.story {
        Story::Audit => Some(aggregate::audit_tally(settled.audit).map_err(counting)?),
        Story::Access | Story::HighLoad | Story::IpBlock => None,
    };
    if audit.is_some() {
        // The audit story's known list takes out events: each rule's events and
        // their authors, in the same places as requests.
        let x = &mut tally.excluded;
        for (counts, (events, authors)) in [&mut x.user, &mut x.domain, &mut x.ip]
            .into_iter()
            .zip(&settled.audit_excluded)
        {
            counts.accesses = *events;
            counts.users = authors.len() as u64;
        }
    }
    Ok(Aggregates {
        template: config.story.name(),
        scope: verified
            .scope_paths(dir)
            .into_iter()
            .map(str::to_owned)
            .collect(),
        filters: filters(config),
        tally,
        overlap: settled.reconciliation.overlap,
        gaps: read.gaps,
        reconciliation: settled.reconciliation,
        inputs: read.inputs,
        audit,
        ip_block: (config.story == Story::IpBlock)
            .then(|| aggregate::ip_block(&settled.client_requests, whole_minutes(&config.window)))
            .transpose()
            .map_err(counting)?,
        geoip: geoip.map(geo::GeoIp::info),
        logs_cover: read.logs_cover,
        unreadable_in_scope: read.unreadable_in_scope,
        scope_projects: verified
            .scope
            .iter()
            .filter(|n| matches!(n, directory::Node::Project(_)))
            .count(),
        greeting: config.greeting.clone(),
        sign_off: config.sign_off.clone(),
    })
}

/// What the run was asked to filter: the requester's ranges, the known list and what of
/// it matched nothing, the team's defaults, the window.
fn filters(config: &Config) -> Filters {
    let strings = |networks: &[IpNetwork]| networks.iter().map(|n| n.to_string()).collect();
    Filters {
        client_ranges: strings(&config.client_networks),
        exclude_ip_ranges: strings(&config.exclusions.networks),
        exclude_domains: config.exclusions.domains.clone(),
        exclude_users: config.exclusions.users.len(),
        matched_nothing: {
            let (users, domains, ip_ranges) = config.exclusions.matched_nothing();
            KnownList {
                ip_ranges,
                domains,
                users,
            }
        },
        team_wide: KnownList {
            ip_ranges: strings(&config.team_exclusions.ranges),
            domains: config
                .team_exclusions
                .domains
                .iter()
                .map(|d| d.trim().trim_start_matches(['@', '.']).to_lowercase())
                .collect(),
            users: 0,
        },
        since: config.window.since,
        // The last instant the window includes: `--until` as given, or the end
        // of its day.
        until: config
            .window
            .until_exclusive
            .map(|u| u - chrono::Duration::nanoseconds(1)),
    }
}

/// The minutes wholly inside the window: the busiest minute is one of them.
pub(crate) fn whole_minutes(window: &crate::config::Window) -> aggregate::WholeMinutes {
    aggregate::WholeMinutes::of(window.since, window.until_exclusive)
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

/// The warning for a window that reaches beyond the period the logs cover.
fn window_beyond_logs(a: &Aggregates) -> Option<String> {
    let (Some(first), Some(last)) = (a.logs_cover.first, a.logs_cover.last) else {
        return None;
    };
    a.window_beyond_logs().map(|_| {
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

/// A manifest describes the logs of this scope (RULES.md §9): the filter it names,
/// when it names one, is the expression `logbrief pushdown` gives for this requester
/// (for either kind of line), or logbrief's own `filter`, which reads the same
/// directory. An Elasticsearch manifest names its query, which `fetch logs` built for
/// the same scope. Anything else is the manifest of other logs or another scope.
fn manifest_fits_the_scope(
    m: &crate::manifest::Manifest,
    dir: &Directory,
    verified: &Verified,
) -> Result<()> {
    use crate::scope::prefilter::{Syntax, Terms, regex};
    let Some(filter) = m.filter.as_deref() else {
        return Ok(());
    };
    let engine = m.engine.as_deref().unwrap_or_default().to_ascii_lowercase();
    if matches!(engine.as_str(), "elasticsearch" | "opensearch") || filter == "logbrief filter" {
        return Ok(());
    }
    let terms = Terms::of(dir, verified);
    if [Syntax::Json, Syntax::Nginx]
        .iter()
        .any(|&syntax| regex(&terms, syntax) == filter)
    {
        return Ok(());
    }
    Err(Error::Manifest {
        path: m.name.clone().into(),
        message: "its filter is not the expression `logbrief pushdown` gives for this \
                  requester's scope: it describes other logs or another scope; run the \
                  engine again with the expression `logbrief pushdown` prints"
            .to_owned(),
    })
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
