//! What each command does with its arguments, beside `summarize` (the pipeline):
//! the requester's verification, the team file's example, the inspection, the
//! engines' filters, the fetches and the completions. `lib.rs` dispatches to these.

use std::io::Write;
use std::path::Path;

use clap::CommandFactory;

use crate::cli::{
    self, Cli, CompletionsArgs, FetchAuditArgs, FetchDirectoryArgs, FetchLogsArgs, FilterArgs,
    InspectArgs, PushdownArgs, VerifyArgs,
};
use crate::config::{self, RequesterConfig};
use crate::directory::{self, Directory};
use crate::error::{Error, Result};
use crate::output::write_out;
use crate::{digest, fetch, inspect, pushdown, scope, zendesk};

fn syntax(lines: cli::LinesArg) -> scope::prefilter::Syntax {
    match lines {
        cli::LinesArg::Json => scope::prefilter::Syntax::Json,
        cli::LinesArg::Nginx => scope::prefilter::Syntax::Nginx,
    }
}

/// `logbrief verify`, from its arguments: the ticket first, then the requester.
pub(crate) fn verify(args: VerifyArgs, out: &mut dyn Write, err: &mut dyn Write) -> Result<()> {
    let ticket = config::ticket_found(args.ticket)?;
    report_verification(
        &RequesterConfig::from_args_found(args.requester)?,
        ticket.as_ref(),
        args.format == cli::ReportFormat::Json,
        out,
        err,
    )
}

/// `logbrief inspect`.
pub(crate) fn inspect(args: InspectArgs, out: &mut dyn Write) -> Result<()> {
    let options = config::read_options(args.format_hint, args.input_tz.as_deref())?;
    let json = args.json || args.format == cli::ReportFormat::Json;
    let digests = digest::Cache::new(!args.no_cache);
    let logs = config::expand_globs(args.logs)?;
    inspect::inspect(&logs, &options, &digests, json, out)
}

/// `logbrief pushdown`.
pub(crate) fn pushdown(args: PushdownArgs, out: &mut dyn Write) -> Result<()> {
    let request = pushdown::Request {
        engine: args.engine,
        syntax: syntax(args.lines),
        source: args.source,
        output: args.output,
        since: args.since.as_deref(),
        until: args.until.as_deref(),
        write_job: args.write_job.as_deref(),
        field_prefix: &args.field_prefix,
    };
    pushdown::pushdown(
        &RequesterConfig::from_args_found(args.requester)?,
        request,
        out,
    )
}

/// `logbrief filter`: the prefilter over standard input.
pub(crate) fn filter(args: FilterArgs, out: &mut dyn Write) -> Result<()> {
    pushdown::filter(
        &RequesterConfig::from_args_found(args.requester)?,
        syntax(args.lines),
        &mut std::io::stdin().lock(),
        out,
    )
}

/// `logbrief fetch directory`.
pub(crate) fn fetch_directory(
    args: FetchDirectoryArgs,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<()> {
    let client = fetch_client(&args.api)?;
    let url = config::gitlab_url(args.api.gitlab_url.as_deref())?;
    let namespace = config::namespace_on(&args.namespace, &url)?;
    fetch::directory(&client, &namespace, &args.output, out, err)
}

/// `logbrief completions`.
pub(crate) fn completions(args: CompletionsArgs, out: &mut dyn Write) -> Result<()> {
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut Cli::command(), "logbrief", &mut script);
    write_out(out, &String::from_utf8_lossy(&script))
}

/// `logbrief fetch logs`: the outputs checked before anything is read or asked, then
/// the search cluster's candidates.
pub(crate) fn fetch_logs(
    args: FetchLogsArgs,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<()> {
    let manifest = args
        .manifest
        .clone()
        .unwrap_or_else(|| fetch::sibling(&args.output, ".manifest.json"));
    // Before anything is read or asked: the two outputs and the files kept
    // beside the first are four different files, none of them the directory.
    crate::files::refuse_outputs_over_inputs(
        &[
            ("--output", &args.output),
            ("--manifest", &manifest),
            (
                "--output's part file",
                &fetch::sibling(&args.output, ".part"),
            ),
            (
                "--output's state file",
                &fetch::sibling(&args.output, ".state"),
            ),
        ],
        std::slice::from_ref(&args.requester.directory),
    )?;
    let settings = config::fetch_settings(&args.retry)?;
    let (query, totals) = pushdown::elastic_requests(
        &RequesterConfig::from_args_found(args.requester)?,
        args.since.as_deref(),
        args.until.as_deref(),
        &args.field_prefix,
    )?;
    let key = fetch::client::Token::api_key_from_env()?;
    let client = fetch::client::Client::elasticsearch(&args.elasticsearch, key, settings)?;
    let request = fetch::logs::Request {
        index: args.index,
        query,
        totals,
        prefix: args.field_prefix,
        out: args.output,
        manifest,
        restart: args.restart,
        page_size: args.page_size,
    };
    fetch::logs(&client, &request, out, err)
}

/// `logbrief fetch audit-events`.
pub(crate) fn fetch_audit_events(
    args: FetchAuditArgs,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<()> {
    let request = config::audit_request(&args)?;
    let client = fetch_client(&args.api)?;
    fetch::audit_events(&client, &request, out, err)
}

fn fetch_client(api: &cli::ApiArgs) -> Result<fetch::client::Client> {
    let settings = config::fetch_settings(&api.retry)?;
    let token = fetch::client::Token::from_env()?;
    let url = config::gitlab_url(api.gitlab_url.as_deref())?;
    fetch::client::Client::new(&url, token, settings)
}

/// `logbrief init`: a commented example of the team configuration.
pub(crate) fn init(path: &Path, force: bool, out: &mut dyn Write) -> Result<()> {
    if path.exists() && !force {
        return Err(Error::Usage(format!(
            "{} exists already; use --force to replace it",
            path.display()
        )));
    }
    crate::files::write(path, config::EXAMPLE.as_bytes(), crate::files::SHARED)?;
    write_out(out, &format!("wrote {}\n", path.display()))
}

/// What `logbrief verify` says: who the requester is and what they may hear about;
/// with `--ticket`, whether the ticket's requester is that person too.
fn report_verification(
    config: &RequesterConfig,
    ticket: Option<&zendesk::Ticket>,
    json: bool,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<()> {
    let checked = ticket
        .map(|t| zendesk::check_requester(t, &config.email, err))
        .transpose()?
        .flatten();
    let ticket_text = ticket.map(|t| match checked {
        Some(_) => format!(
            "ticket {}: its requester in Zendesk has this email as an identity\n",
            t.id
        ),
        None => format!(
            "ticket {}: its requester was not checked (Zendesk is not configured)\n",
            t.id
        ),
    });
    let dir = Directory::load(&config.directory)?;
    let v = directory::verify(&dir, &config.email, &config.namespaces)?;
    if json {
        // The requester's own identity and scope: nothing of anyone else.
        let value = serde_json::json!({
            "verified": true,
            "requester": {"email": config.email, "username": v.username, "user_id": v.user_id},
            "owner_of": dir.ownerships(v.user_id),
            "scope": v.scope.iter().map(|&n| dir.path_of(n)).collect::<Vec<_>>(),
        });
        let mut value = value;
        if let Some(t) = ticket {
            value["ticket"] =
                serde_json::json!({"id": t.id, "requester_checked": checked.is_some()});
        }
        let text = serde_json::to_string_pretty(&value)
            .map_err(|e| Error::Internal(format!("json: {e}")))?;
        return write_out(out, &(text + "\n"));
    }
    let mut text = format!(
        "verified: {} (user {}) is an Owner of a paid namespace\nin scope:\n",
        v.username, v.user_id
    );
    for node in &v.scope {
        text.push_str(&format!("  {}\n", dir.path_of(*node)));
    }
    text.push_str(&ticket_text.unwrap_or_default());
    write_out(out, &text)
}
