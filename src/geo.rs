//! Countries of client addresses, from a MaxMind database (`--geoip`): the `country`
//! ISO code, else the `registered_country`, else `unknown` (RULES.md §5). Locations from
//! such databases are approximate; the replies say so.

use std::net::IpAddr;
use std::path::Path;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::limits::SideFile;

pub(crate) const UNKNOWN: &str = "unknown";

#[derive(Deserialize)]
struct Record<'a> {
    #[serde(borrow)]
    country: Option<Country<'a>>,
    #[serde(borrow)]
    registered_country: Option<Country<'a>>,
}

#[derive(Deserialize)]
struct Country<'a> {
    iso_code: Option<&'a str>,
    #[serde(borrow)]
    names: Option<std::collections::BTreeMap<&'a str, &'a str>>,
}

impl Country<'_> {
    fn code_and_name(&self) -> Option<(String, Option<String>)> {
        let code = self.iso_code?;
        let name = self
            .names
            .as_ref()
            .and_then(|n| n.get("en"))
            .map(|n| n.to_string());
        Some((code.to_owned(), name))
    }
}

/// What the internal note says about the database used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct GeoIpInfo {
    pub database_type: String,
    pub build_date: String,
}

pub(crate) struct GeoIp {
    reader: maxminddb::Reader<Vec<u8>>,
    /// The English name of each country code looked up, as the database gives it.
    names: std::sync::Mutex<std::collections::BTreeMap<String, String>>,
}

impl GeoIp {
    pub(crate) fn open(path: &Path) -> Result<Self> {
        let bytes = SideFile::GeoIp.read(path)?;
        let reader = maxminddb::Reader::from_source(bytes).map_err(|e| match e {
            maxminddb::MaxMindDbError::Io(source) => Error::Read {
                path: path.to_owned(),
                source,
            },
            other => Error::InputLine {
                path: path.to_owned(),
                line: 0,
                message: format!("not a MaxMind database ({other})"),
            },
        })?;
        Ok(GeoIp {
            reader,
            names: Default::default(),
        })
    }

    pub(crate) fn info(&self) -> GeoIpInfo {
        let built = i64::try_from(self.reader.metadata().build_epoch)
            .ok()
            .and_then(|s| DateTime::<Utc>::from_timestamp(s, 0));
        GeoIpInfo {
            database_type: self.reader.metadata().database_type.clone(),
            build_date: built
                .map_or_else(|| UNKNOWN.to_owned(), |t| t.format("%Y-%m-%d").to_string()),
        }
    }

    /// The ISO code of the address's country, or `unknown`.
    pub(crate) fn country(&self, ip: IpAddr) -> String {
        let found = self
            .reader
            .lookup(crate::ingest::fold_mapped(ip))
            .ok()
            .and_then(|r| r.decode::<Record<'_>>().ok().flatten())
            .and_then(|r| {
                r.country
                    .as_ref()
                    .and_then(Country::code_and_name)
                    .or_else(|| {
                        r.registered_country
                            .as_ref()
                            .and_then(Country::code_and_name)
                    })
            });
        match found {
            Some((code, name)) => {
                if let Some(name) = name
                    && let Ok(mut names) = self.names.lock()
                {
                    names.entry(code.clone()).or_insert(name);
                }
                code
            }
            None => UNKNOWN.to_owned(),
        }
    }

    /// The English name of a country code seen in a look-up, if the database has one.
    pub(crate) fn name_of(&self, code: &str) -> Option<String> {
        self.names.lock().ok()?.get(code).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn countries_from_the_test_database() {
        let db = GeoIp::open(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/geoip/GeoIP2-Country-Test.mmdb"),
        )
        .unwrap();
        let c = |ip: &str| db.country(ip.parse().unwrap());
        assert_eq!(c("81.2.69.150"), "GB");
        assert_eq!(c("89.160.20.130"), "SE");
        assert_eq!(c("67.43.156.1"), "BT");
        // In the database, but with neither country nor registered country.
        assert_eq!(c("214.1.1.1"), "unknown");
        // Not in the database at all.
        assert_eq!(c("198.51.100.7"), "unknown");
        assert_eq!(c("::ffff:81.2.69.150"), "GB");
        let info = db.info();
        assert_eq!(info.database_type, "GeoIP2-Country");
    }
}
