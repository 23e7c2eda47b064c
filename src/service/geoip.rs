//! The country of an IP address, from a MaxMind DB file (GeoLite2 or GeoIP2, Country or
//! City), for the Admin API's `Session.lastAccessedByIPCountryCode` and
//! `lastAccessedByIPEnglishCountryName`. Without a configured file there is no country.

use std::net::IpAddr;
use std::path::Path;

/// A country as the database names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpCountry {
    /// ISO 3166-1 alpha-2 code, e.g. `NZ`.
    pub code: String,
    /// The English name, e.g. `New Zealand`.
    pub english_name: String,
}

/// An opened MaxMind DB file, held in memory.
pub struct GeoIp {
    reader: maxminddb::Reader<Vec<u8>>,
}

impl std::fmt::Debug for GeoIp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GeoIp").field("database_type", &self.reader.metadata().database_type).finish()
    }
}

impl GeoIp {
    /// Reads the database at `path`; an unreadable or malformed file is an error.
    pub fn open(path: &Path) -> anyhow::Result<Self> {
        let reader = maxminddb::Reader::open_readfile(path)
            .map_err(|e| anyhow::anyhow!("cannot read the GeoIP database {}: {e}", path.display()))?;
        Ok(Self { reader })
    }

    /// The country of `ip` (an IPv4 or IPv6 address as text), when the database knows it.
    pub fn country(&self, ip: &str) -> Option<IpCountry> {
        let ip: IpAddr = ip.parse().ok()?;
        let found = self.reader.lookup(ip).ok()?;
        let record = found.decode::<maxminddb::geoip2::Country>().ok()??;
        let code = record.country.iso_code?;
        let name = record.country.names.english.unwrap_or(code);
        Some(IpCountry { code: code.to_owned(), english_name: name.to_owned() })
    }
}
