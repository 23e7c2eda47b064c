//! SMS fraud protection (Authgear's `fraud_protection`): before each SMS that carries a
//! code, warnings about SMS pumping are raised from the counts of unverified codes, and the
//! send is allowed or blocked.

use serde::{Deserialize, Serialize};

use super::ConfigError;

/// A warning the fraud protection raises, in Authgear's names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum FraudProtectionWarningType {
    /// More phone countries than 3 without a verified code from one IP address in 24 hours.
    #[serde(rename = "SMS__PHONE_COUNTRIES__BY_IP__DAILY_THRESHOLD_EXCEEDED")]
    SmsPhoneCountriesByIpDaily,
    /// Too many unverified codes to one phone country in 24 hours.
    #[serde(rename = "SMS__UNVERIFIED_OTPS__BY_PHONE_COUNTRY__DAILY_THRESHOLD_EXCEEDED")]
    SmsUnverifiedOtpsByPhoneCountryDaily,
    /// Too many unverified codes to one phone country in an hour.
    #[serde(rename = "SMS__UNVERIFIED_OTPS__BY_PHONE_COUNTRY__HOURLY_THRESHOLD_EXCEEDED")]
    SmsUnverifiedOtpsByPhoneCountryHourly,
    /// Too many unverified codes from one IP address in 24 hours.
    #[serde(rename = "SMS__UNVERIFIED_OTPS__BY_IP__DAILY_THRESHOLD_EXCEEDED")]
    SmsUnverifiedOtpsByIpDaily,
    /// Too many unverified codes from one IP address in an hour.
    #[serde(rename = "SMS__UNVERIFIED_OTPS__BY_IP__HOURLY_THRESHOLD_EXCEEDED")]
    SmsUnverifiedOtpsByIpHourly,
}

impl FraudProtectionWarningType {
    /// Every warning type, in Authgear's order.
    pub const ALL: [Self; 5] = [
        Self::SmsPhoneCountriesByIpDaily,
        Self::SmsUnverifiedOtpsByPhoneCountryDaily,
        Self::SmsUnverifiedOtpsByPhoneCountryHourly,
        Self::SmsUnverifiedOtpsByIpDaily,
        Self::SmsUnverifiedOtpsByIpHourly,
    ];

    /// Authgear's name, as stored and as the Admin API spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SmsPhoneCountriesByIpDaily => "SMS__PHONE_COUNTRIES__BY_IP__DAILY_THRESHOLD_EXCEEDED",
            Self::SmsUnverifiedOtpsByPhoneCountryDaily => {
                "SMS__UNVERIFIED_OTPS__BY_PHONE_COUNTRY__DAILY_THRESHOLD_EXCEEDED"
            }
            Self::SmsUnverifiedOtpsByPhoneCountryHourly => {
                "SMS__UNVERIFIED_OTPS__BY_PHONE_COUNTRY__HOURLY_THRESHOLD_EXCEEDED"
            }
            Self::SmsUnverifiedOtpsByIpDaily => "SMS__UNVERIFIED_OTPS__BY_IP__DAILY_THRESHOLD_EXCEEDED",
            Self::SmsUnverifiedOtpsByIpHourly => "SMS__UNVERIFIED_OTPS__BY_IP__HOURLY_THRESHOLD_EXCEEDED",
        }
    }

    /// From Authgear's name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|w| w.as_str() == s)
    }
}

/// What happens when a warning is raised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FraudProtectionAction {
    /// Record the decision, send anyway (the default; a diagnosis mode).
    #[default]
    RecordOnly,
    /// Block the SMS when any warning is raised (unless an always-allow rule matches).
    DenyIfAnyWarning,
}

/// One enabled warning.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FraudProtectionWarning {
    /// The warning.
    #[serde(rename = "type")]
    pub kind: FraudProtectionWarningType,
}

/// Ratios of one group of phone countries, overriding the global ones.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PhoneCountryBudget {
    /// ISO 3166-1 alpha-2 codes of the phone countries these ratios apply to.
    pub geo_location_codes: Vec<String>,
    /// Overrides `daily_ratio` for these countries.
    pub daily_ratio: Option<f64>,
    /// Overrides `hourly_ratio` for these countries.
    pub hourly_ratio: Option<f64>,
}

/// How the thresholds of unverified codes scale with the verified ones.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UnverifiedOtpBudget {
    /// Ratio of verified codes allowed unverified per day (default 0.3).
    pub daily_ratio: Option<f64>,
    /// Ratio of verified codes allowed unverified per hour (default 0.2).
    pub hourly_ratio: Option<f64>,
    /// Per phone country overrides; the first item naming a country applies.
    pub by_phone_country: Vec<PhoneCountryBudget>,
}

impl UnverifiedOtpBudget {
    /// The global daily ratio.
    pub fn daily(&self) -> f64 {
        self.daily_ratio.unwrap_or(0.3)
    }
    /// The global hourly ratio.
    pub fn hourly(&self) -> f64 {
        self.hourly_ratio.unwrap_or(0.2)
    }
    /// The daily and hourly ratios of a phone country (overrides, else the global ones).
    pub fn for_country(&self, country: &str) -> (f64, f64) {
        let item = self.by_phone_country.iter().find(|b| b.geo_location_codes.iter().any(|c| c == country));
        (
            item.and_then(|b| b.daily_ratio).unwrap_or(self.daily()),
            item.and_then(|b| b.hourly_ratio).unwrap_or(self.hourly()),
        )
    }
}

/// SMS settings of the fraud protection.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FraudProtectionSms {
    /// The adaptive budget of unverified codes.
    pub unverified_otp_budget: UnverifiedOtpBudget,
}

/// Always allow requests from these IP addresses.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AlwaysAllowIp {
    /// CIDRs (`203.0.113.0/24`) or single addresses.
    pub cidrs: Vec<String>,
    /// Countries of the IP address. Needs a GeoIP database, which authgraph does not read
    /// yet: must be empty.
    pub geo_location_codes: Vec<String>,
}

/// Always allow SMS to these phone numbers.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AlwaysAllowPhone {
    /// Countries of the phone number (ISO 3166-1 alpha-2, from the calling code).
    pub geo_location_codes: Vec<String>,
    /// Regular expressions matched against the E.164 number (`^\+852\d*$`).
    pub regex: Vec<String>,
}

/// Requests that are always allowed, whatever the warnings.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AlwaysAllow {
    /// By the client's IP address.
    pub ip_address: AlwaysAllowIp,
    /// By the recipient's phone number.
    pub phone_number: AlwaysAllowPhone,
}

/// The decision.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FraudProtectionDecisionConfig {
    /// Rules that always allow; any match is enough.
    pub always_allow: AlwaysAllow,
    /// `record_only` (default) or `deny_if_any_warning`.
    pub action: FraudProtectionAction,
}

/// SMS fraud protection (Authgear's `fraud_protection`). Every SMS with a code gets a
/// decision, recorded with the audit row `fraud_protection.decision_recorded`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FraudProtectionConfig {
    /// On by default (recording only).
    pub enabled: bool,
    /// SMS settings.
    pub sms: FraudProtectionSms,
    /// The warnings raised (default: all five).
    pub warnings: Vec<FraudProtectionWarning>,
    /// What a warning leads to.
    pub decision: FraudProtectionDecisionConfig,
}

impl Default for FraudProtectionConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            sms: FraudProtectionSms::default(),
            warnings: FraudProtectionWarningType::ALL.map(|kind| FraudProtectionWarning { kind }).to_vec(),
            decision: FraudProtectionDecisionConfig::default(),
        }
    }
}

impl FraudProtectionConfig {
    /// Whether `kind` is enabled.
    pub fn warns(&self, kind: FraudProtectionWarningType) -> bool {
        self.warnings.iter().any(|w| w.kind == kind)
    }

    /// The always-allow CIDRs, parsed (a single address is its own /32 or /128).
    pub fn allowed_nets(&self) -> Vec<ipnet::IpNet> {
        self.decision.always_allow.ip_address.cidrs.iter().filter_map(|c| parse_net(c)).collect()
    }

    /// Checks what serde cannot; the error names the key.
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        const KEY: &str = "fraud_protection";
        let bad = |key: String, msg: String| Err(ConfigError(format!("`{KEY}.{key}`: {msg}")));
        let budget = &self.sms.unverified_otp_budget;
        let ratios = [
            ("sms.unverified_otp_budget.daily_ratio".to_owned(), budget.daily_ratio),
            ("sms.unverified_otp_budget.hourly_ratio".to_owned(), budget.hourly_ratio),
        ]
        .into_iter()
        .chain(budget.by_phone_country.iter().enumerate().flat_map(|(i, b)| {
            let at = format!("sms.unverified_otp_budget.by_phone_country[{i}]");
            [(format!("{at}.daily_ratio"), b.daily_ratio), (format!("{at}.hourly_ratio"), b.hourly_ratio)]
        }));
        for (key, ratio) in ratios {
            if let Some(r) = ratio
                && !(r.is_finite() && (0.0..=1_000.0).contains(&r))
            {
                return bad(key, format!("must be a number between 0 and 1000, not {r}"));
            }
        }
        for (i, b) in budget.by_phone_country.iter().enumerate() {
            check_countries(
                &format!("sms.unverified_otp_budget.by_phone_country[{i}].geo_location_codes"),
                &b.geo_location_codes,
            )
            .or_else(|(k, m)| bad(k, m))?;
        }
        let allow = &self.decision.always_allow;
        for c in &allow.ip_address.cidrs {
            if parse_net(c).is_none() {
                return bad(
                    "decision.always_allow.ip_address.cidrs".into(),
                    format!("`{c}` is not a CIDR or IP address"),
                );
            }
        }
        if !allow.ip_address.geo_location_codes.is_empty() {
            return bad(
                "decision.always_allow.ip_address.geo_location_codes".into(),
                "needs a GeoIP database, which authgraph does not read; allow the networks by `cidrs` instead".into(),
            );
        }
        check_countries(
            "decision.always_allow.phone_number.geo_location_codes",
            &allow.phone_number.geo_location_codes,
        )
        .or_else(|(k, m)| bad(k, m))?;
        for r in &allow.phone_number.regex {
            if let Err(e) = regex::Regex::new(r) {
                return bad("decision.always_allow.phone_number.regex".into(), format!("`{r}`: {e}"));
            }
        }
        Ok(())
    }
}

/// A CIDR, or a single address as a host network.
fn parse_net(s: &str) -> Option<ipnet::IpNet> {
    s.parse::<ipnet::IpNet>().ok().or_else(|| s.parse::<std::net::IpAddr>().ok().map(ipnet::IpNet::from))
}

/// Two upper-case letters each, no duplicates.
fn check_countries(key: &str, codes: &[String]) -> Result<(), (String, String)> {
    for (i, c) in codes.iter().enumerate() {
        if c.len() != 2 || !c.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err((key.to_owned(), format!("`{c}` is not an ISO 3166-1 alpha-2 code such as `HK`")));
        }
        if codes[..i].contains(c) {
            return Err((key.to_owned(), format!("`{c}` is listed twice")));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_overrides() {
        let mut c = FraudProtectionConfig::default();
        assert!(c.enabled && c.warns(FraudProtectionWarningType::SmsUnverifiedOtpsByIpHourly));
        assert_eq!(c.sms.unverified_otp_budget.for_country("HK"), (0.3, 0.2));
        c.sms.unverified_otp_budget.by_phone_country = vec![
            PhoneCountryBudget {
                geo_location_codes: vec!["HK".into(), "SG".into()],
                daily_ratio: Some(0.15),
                hourly_ratio: None,
            },
            PhoneCountryBudget {
                geo_location_codes: vec!["HK".into()],
                daily_ratio: Some(0.9),
                hourly_ratio: Some(0.9),
            },
        ];
        assert_eq!(c.sms.unverified_otp_budget.for_country("HK"), (0.15, 0.2), "the first match applies");
        assert!(c.validate().is_ok());
    }

    #[test]
    fn bad_values_are_refused_with_their_key() {
        let bad = |f: fn(&mut FraudProtectionConfig)| {
            let mut c = FraudProtectionConfig::default();
            f(&mut c);
            c.validate().err().map(|e| e.0).unwrap_or_default()
        };
        assert!(bad(|c| c.sms.unverified_otp_budget.daily_ratio = Some(f64::NAN)).contains("daily_ratio"));
        assert!(bad(|c| c.decision.always_allow.phone_number.regex = vec!["(".into()]).contains("regex"));
        assert!(bad(|c| c.decision.always_allow.ip_address.cidrs = vec!["10.0.0/8".into()]).contains("cidrs"));
        assert!(bad(|c| c.decision.always_allow.ip_address.geo_location_codes = vec!["HK".into()]).contains("GeoIP"));
        assert!(
            bad(|c| c.decision.always_allow.phone_number.geo_location_codes = vec!["hk".into()]).contains("alpha-2")
        );
        assert!(
            bad(|c| c.decision.always_allow.phone_number.geo_location_codes = vec!["HK".into(), "HK".into()])
                .contains("twice")
        );
    }
}
