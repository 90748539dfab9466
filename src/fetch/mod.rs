//! `logbrief fetch`: the directory and the audit events straight from a GitLab
//! instance's REST API, in the files `verify` and `summarize` read.
//!
//! The token comes from `GITLAB_TOKEN` and goes nowhere but the `PRIVATE-TOKEN`
//! header of requests to that instance's API; what is printed are counts and the
//! paths the engineer typed.

mod address;
pub(crate) mod audit;
pub(crate) mod client;
pub(crate) mod directory;
pub(crate) mod logs;

use std::cell::RefCell;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::{Error, Result};
use crate::progress::Spinner;
use client::Client;

/// Tells the engineer about a wait, on standard error, whether or not it is a terminal:
/// a run that pauses for minutes says why.
fn wait_notice(err: &RefCell<&mut dyn Write>, spinner: &Spinner, reason: &str, wait: Duration) {
    let secs = wait.as_secs_f64();
    let line = format!("{reason}; trying again in {secs:.1} s");
    spinner.set(&line);
    if !spinner.is_visible() {
        let _ = writeln!(err.borrow_mut(), "logbrief: {line}");
    }
}

/// `logbrief fetch directory`.
pub(crate) fn directory(
    client: &Client,
    namespace: &str,
    output: &Path,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<()> {
    let spinner = Spinner::new("fetching the directory");
    let err = RefCell::new(err);
    let fetched = directory::fetch(
        client,
        namespace,
        &|step| spinner.set(&format!("reading {step}")),
        &|reason, wait| wait_notice(&err, &spinner, reason, wait),
    );
    spinner.finish();
    let fetched = fetched?;
    crate::files::write_private(output, &fetched.json)?;
    let err = err.into_inner();
    match &fetched.plan {
        None => {
            let _ = writeln!(
                err,
                "logbrief: warning: the plan of {} is not visible to this token (it needs \
                 Owner or administrator access); verify will find no paid plan",
                fetched.root
            );
        }
        Some(plan) if !crate::directory::is_paid(Some(plan)) => {
            let _ = writeln!(
                err,
                "logbrief: warning: {} is on the {plan} plan, which is not a paid plan \
                 (a self-managed instance reports `default` for every group); verify will \
                 find no paid plan",
                fetched.root
            );
        }
        Some(_) => {}
    }
    if fetched.inactive > 0 {
        let _ = writeln!(
            err,
            "logbrief: {} memberships left out: blocked, awaiting or expired",
            fetched.inactive
        );
    }
    crate::output::write_out(
        out,
        &format!(
            "wrote {}: {} groups, {} projects, {} users ({} with an email), {} memberships\n",
            output.display(),
            fetched.groups,
            fetched.projects,
            fetched.users,
            fetched.users_with_email,
            fetched.members
        ),
    )
}

/// Runs a fetch of pages under a spinner that counts the pages and the `items` in
/// them; waits are told as [`wait_notice`] tells them.
fn paged<T>(
    what: &str,
    items: &str,
    err: &mut dyn Write,
    fetch: impl FnOnce(&dyn Fn(u64, u64), client::OnWait<'_>) -> Result<T>,
) -> Result<T> {
    let spinner = Spinner::new(what);
    let err = RefCell::new(err);
    let fetched = fetch(
        &|pages, n| spinner.set(&format!("{pages} pages, {n} {items}")),
        &|reason, wait| wait_notice(&err, &spinner, reason, wait),
    );
    spinner.finish();
    fetched
}

/// `logbrief fetch audit-events`.
pub(crate) fn audit_events(
    client: &Client,
    request: &audit::Request,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<()> {
    let fetched = paged(
        "fetching audit events",
        "events",
        err,
        |on_page, on_wait| audit::fetch(client, request, on_page, on_wait),
    )?;
    let mut text = format!(
        "wrote {}: {} events from {} pages",
        request.out.display(),
        fetched.events,
        fetched.pages
    );
    if fetched.resumed_pages > 0 {
        text.push_str(&format!(
            " ({} of them fetched by an earlier run)",
            fetched.resumed_pages
        ));
    }
    if fetched.repeated > 0 {
        text.push_str(&format!("; {} repeated events left out", fetched.repeated));
    }
    text.push('\n');
    crate::output::write_out(out, &text)
}

/// `logbrief fetch logs`.
pub(crate) fn logs(
    client: &Client,
    request: &logs::Request,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<()> {
    let fetched = paged(
        "fetching log documents",
        "documents",
        err,
        |on_page, on_wait| logs::fetch(client, request, on_page, on_wait),
    )?;
    let mut text = format!(
        "wrote {}: {} documents from {} pages",
        request.out.display(),
        fetched.written,
        fetched.pages
    );
    if fetched.resumed > 0 {
        text.push_str(&format!(
            " ({} of them written by an earlier run)",
            fetched.resumed
        ));
    }
    if fetched.reopened > 0 {
        text.push_str(&format!(
            "; the point in time expired and was opened again {} time(s)",
            fetched.reopened
        ));
    }
    text.push_str(&format!(
        "\nwrote {}: {} documents in {} indices\n",
        request.manifest.display(),
        fetched.total,
        fetched.indices
    ));
    crate::output::write_out(out, &text)
}

/// `OUT` with a suffix added to its file name (`events.json.part`).
pub(crate) fn sibling(out: &Path, suffix: &str) -> PathBuf {
    let mut name = out.file_name().unwrap_or_default().to_os_string();
    name.push(suffix);
    out.with_file_name(name)
}

/// An error after `pages` pages were recorded, saying they are kept for the same
/// command to continue: only where running it again may well get further (a server
/// that failed or asked to wait). A server that goes round in a circle, points
/// elsewhere or answers outside the window would do the same again.
pub(crate) fn kept(e: Error, pages: u64) -> Error {
    match e {
        Error::Fetch { source, .. } if source.may_pass() => Error::Fetch {
            source,
            kept: pages,
        },
        other => other,
    }
}

/// The largest state file read: states hold a few counts and, for `fetch logs`, the
/// digests of the documents at the last time read.
const MAX_STATE_BYTES: u64 = 4 << 20;

/// The state an interrupted fetch left at `path`, if any. It is read only when it is
/// a regular file of the user's own that others cannot read or write, as logbrief
/// leaves it.
pub(crate) fn read_state<S: serde::de::DeserializeOwned>(path: &Path) -> Result<Option<S>> {
    let Some(file) = crate::files::reopen_private(path)? else {
        return Ok(None);
    };
    let mut bytes = Vec::new();
    file.take(MAX_STATE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|source| Error::Read {
            path: path.to_owned(),
            source,
        })?;
    let not_a_state = || {
        Error::Usage(format!(
            "{} is not a fetch state logbrief wrote; remove it or use --restart",
            path.display()
        ))
    };
    if bytes.len() as u64 > MAX_STATE_BYTES {
        return Err(not_a_state());
    }
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|_| not_a_state())
}

/// Removes the files that exist of `paths` (a symlink is removed, never followed).
pub(crate) fn remove_if_present(paths: &[&Path]) -> Result<()> {
    for p in paths {
        crate::files::remove_if_present(p)?;
    }
    Ok(())
}

/// The private file at `path` that an earlier run left, cut back to the `recorded`
/// bytes the state at `state_path` knows of, and ready to append to. A symlink, or a
/// file of another user's or open to others, is refused (`files::reopen_private`).
pub(crate) fn open_at(path: &Path, state_path: &Path, recorded: u64) -> Result<File> {
    let shorter = || {
        Error::Usage(format!(
            "{} is missing or shorter than {} says it was; use --restart to fetch again",
            path.display(),
            state_path.display()
        ))
    };
    let mut file = crate::files::reopen_private(path)?.ok_or_else(shorter)?;
    let on_disk = file.metadata().map_err(|e| Error::write(path, e))?.len();
    if on_disk < recorded {
        return Err(shorter());
    }
    // What a page appended after its state was recorded is dropped: that page is
    // fetched again.
    file.set_len(recorded)
        .and_then(|()| file.seek(SeekFrom::End(0)).map(drop))
        .map_err(|e| Error::write(path, e))?;
    Ok(file)
}
