//! The team file, `logbrief.toml`: its defaults, the customers' known lists, and the
//! example `logbrief init` writes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use ipnetwork::IpNetwork;

use crate::cli::SummarizeArgs;
use crate::error::{Error, Result};
use crate::limits::SideFile;

use super::parse_networks;

/// A team's shared defaults: `logbrief.toml` (RULES.md §2.3). Flags win over the file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TeamConfig {
    /// The company's office ranges: the default `--exclude-ip`.
    #[serde(default)]
    pub office_ranges: Vec<String>,
    /// The company's email domains: the default `--exclude-domain`.
    #[serde(default)]
    pub company_domains: Vec<String>,
    /// The default `--geoip` database.
    pub geoip: Option<PathBuf>,
    /// Kibana's base URL, for a Discover link in the internal note.
    pub kibana_url: Option<String>,
    /// The id of the Kibana data view (index pattern) the link opens, when Discover's
    /// default is not the one that holds these logs.
    pub kibana_data_view: Option<String>,
    /// The GitLab instance `fetch` reads, when neither --gitlab-url nor GITLAB_URL
    /// names one.
    pub gitlab_url: Option<String>,
    /// The Zendesk account (`https://example.zendesk.com`), when `ZENDESK_URL` does not
    /// name one.
    pub zendesk_url: Option<String>,
    /// The default `--format`: text, markdown or json.
    pub format: Option<String>,
    /// The reply's first line ("Hello," when absent; empty to leave it out, as when a
    /// Zendesk macro adds its own).
    pub greeting: Option<String>,
    /// The reply's last line (none when absent or empty).
    pub sign_off: Option<String>,
    /// Per customer, keyed by the path of its top-level group: office ranges and
    /// domains that apply only when that customer's Owner asks.
    #[serde(default)]
    pub customers: BTreeMap<String, CustomerConfig>,
}

/// One customer's known list in `logbrief.toml` (`[customers."acme"]`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CustomerConfig {
    #[serde(default)]
    pub office_ranges: Vec<String>,
    #[serde(default)]
    pub company_domains: Vec<String>,
}

/// What the team configuration adds to the known list, so that it is never applied
/// silently: standard error and the internal note name each entry and its source.
#[derive(Debug, Clone, Default)]
pub(crate) struct TeamExclusions {
    pub file: Option<PathBuf>,
    /// `office_ranges` and `company_domains` at the top of the file, when no flag
    /// replaced them (they are in [`super::Config::exclusions`] already).
    pub ranges: Vec<IpNetwork>,
    pub domains: Vec<String>,
    /// Per customer (lower-case top-level path), applied once the requester is known.
    pub customers: BTreeMap<String, (Vec<IpNetwork>, Vec<String>)>,
    pub(super) ranges_from_flags: bool,
    pub(super) domains_from_flags: bool,
}

/// The example `logbrief init` writes.
pub(crate) const EXAMPLE: &str = include_str!("../../docs/logbrief.example.toml");

impl TeamConfig {
    /// `--config FILE`, else `./logbrief.toml`, else `logbrief/logbrief.toml` in the
    /// user's config directory; none at all is an empty configuration.
    pub(crate) fn find(explicit: Option<&Path>) -> Result<(Option<PathBuf>, TeamConfig)> {
        let path = match explicit {
            Some(p) => Some(p.to_owned()),
            None => [
                Some(PathBuf::from("logbrief.toml")),
                dirs::config_dir().map(|d| d.join("logbrief").join("logbrief.toml")),
            ]
            .into_iter()
            .flatten()
            .find(|p| p.is_file()),
        };
        let Some(path) = path else {
            return Ok((None, TeamConfig::default()));
        };
        let text = SideFile::Config.read_text(&path)?;
        let config = toml::from_str(&text).map_err(|e: toml::de::Error| {
            // The message of a TOML error quotes the line; keep only what went wrong.
            let mut line = e.span().map_or(1, |span| {
                text[..span.start].matches('\n').count() as u64 + 1
            });
            // serde reports an unknown key against the whole table: find its line.
            if let Some(key) = e
                .message()
                .strip_prefix("unknown field `")
                .and_then(|m| m.split('`').next())
                && let Some(i) = text.lines().position(|l| l.trim_start().starts_with(key))
            {
                line = i as u64 + 1;
            }
            Error::InputLine {
                path: path.clone(),
                line,
                message: e.message().to_owned(),
            }
        })?;
        Ok((Some(path), config))
    }
}

impl TeamExclusions {
    /// What the file adds where no flag replaced it.
    pub(super) fn new(
        file: &Option<PathBuf>,
        team: &TeamConfig,
        args: &SummarizeArgs,
        ranges_from_flags: bool,
    ) -> Result<Self> {
        Ok(TeamExclusions {
            file: file.clone(),
            ranges: if ranges_from_flags {
                Vec::new()
            } else {
                parse_networks(&team.office_ranges, "office_ranges")?
            },
            domains: if args.exclude_domains.is_empty() {
                team.company_domains.clone()
            } else {
                Vec::new()
            },
            customers: team
                .customers
                .iter()
                .map(|(name, c)| {
                    let ranges = parse_networks(&c.office_ranges, "office_ranges")?;
                    Ok((name.to_lowercase(), (ranges, c.company_domains.clone())))
                })
                .collect::<Result<_>>()?,
            ranges_from_flags,
            domains_from_flags: !args.exclude_domains.is_empty(),
        })
    }
}

/// Where the team configuration was read from, for messages.
pub(crate) fn config_source(path: Option<&Path>) -> String {
    path.map_or_else(|| "logbrief.toml".to_owned(), |p| p.display().to_string())
}
