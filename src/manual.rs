//! Manual pages from the command line's own definition: logbrief's, and one per
//! subcommand with all its options (`logbrief man summarize`, `logbrief man fetch logs`).

use clap::CommandFactory;

use crate::cli::Cli;
use crate::error::{Error, Result};

/// The roff page of logbrief, or of the subcommand `path` names.
pub(crate) fn page(path: &[String]) -> Result<String> {
    let mut command = Cli::command();
    let mut name = String::from("logbrief");
    for word in path {
        let sub = command
            .get_subcommands()
            .find(|c| c.get_name() == word)
            .cloned()
            .ok_or_else(|| {
                Error::Usage(format!(
                    "man: {name} has no subcommand {word}; `{name} --help` lists them"
                ))
            })?;
        name = format!("{name}-{}", sub.get_name());
        // The page is named after the whole path, as `git-commit(1)` is.
        command = sub.name(name.clone()).bin_name(name.replace('-', " "));
    }
    let mut page = Vec::new();
    clap_mangen::Man::new(command)
        .render(&mut page)
        .map_err(|source| Error::Write {
            what: "the manual page".into(),
            source,
        })?;
    Ok(String::from_utf8_lossy(&page).into_owned())
}
