//! Countries of client addresses, from a MaxMind database (`--geoip`): the `country`
//! ISO code, else the `registered_country`, else `unknown` (RULES.md §5). Locations from
//! such databases are approximate; the replies say so.

use std::net::IpAddr;
use std::path::Path;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

pub const UNKNOWN: &str = "unknown";

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
}

/// What the internal note says about the database used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GeoIpInfo {
    pub database_type: String,
    pub build_date: String,
}

pub struct GeoIp {
    reader: maxminddb::Reader<Vec<u8>>,
}

impl GeoIp {
    pub fn open(path: &Path) -> Result<Self> {
        let reader = maxminddb::Reader::open_readfile(path).map_err(|e| match e {
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
        Ok(GeoIp { reader })
    }

    pub fn info(&self) -> GeoIpInfo {
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
    pub fn country(&self, ip: IpAddr) -> String {
        let found = self
            .reader
            .lookup(crate::ingest::fold_mapped(ip))
            .ok()
            .and_then(|r| r.decode::<Record<'_>>().ok().flatten())
            .and_then(|r| {
                r.country
                    .and_then(|c| c.iso_code)
                    .or(r.registered_country.and_then(|c| c.iso_code))
                    .map(str::to_owned)
            });
        found.unwrap_or_else(|| UNKNOWN.to_owned())
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
