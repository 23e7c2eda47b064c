//! SMS fraud protection against SMS pumping (Authgear's `fraud_protection`): before each
//! SMS with a code, the counts of unverified codes from the client's IP address and to the
//! recipient's phone country raise warnings, and the send is allowed or blocked. Every
//! decision is a row in `fraud_protection_decisions`, written with the audit row
//! `fraud_protection.decision_recorded` in one transaction. A code that is used marks its
//! SMS verified, which takes it out of the unverified counts and raises the thresholds.
//!
//! The thresholds, as Authgear's spec sets them (`v` = verified codes):
//! - unverified to one phone country, 24 h: `max(20, 14-day max of daily v × daily_ratio,
//!   v in 24 h × daily_ratio)`;
//! - unverified to one phone country, 1 h: `max(3, 14-day max of daily v / 6 × hourly_ratio,
//!   v in 1 h × hourly_ratio)`;
//! - unverified from one IP address, 24 h: `max(10, v from it in 24 h × daily_ratio)`;
//! - unverified from one IP address, 1 h: `max(5, v from it in 24 h / 6 × hourly_ratio)`;
//! - phone countries without a verified code from one IP address in 24 h: 3.
//!
//! A warning is raised when this SMS would take its count past the threshold. Only SMS
//! that were allowed count; a blocked one was never sent.

use std::collections::HashMap;
use std::net::IpAddr;

use entity::fraud_protection_decision as fpd;
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{ActiveModelTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, Set};
use serde_json::json;
use uuid::Uuid;

use crate::config::{FraudProtectionAction, FraudProtectionConfig, FraudProtectionWarningType as W};
use crate::domain::phone_country::phone_country;
use crate::domain::reason;
use crate::service::Account;
use crate::service::account::otp::OtpPurpose;
use crate::service::store::time::{micros, now};
use crate::service::{Actor, Audit, Error, Result};

/// The audit activity of a decision (Authgear's event type).
pub const DECISION_RECORDED: &str = "fraud_protection.decision_recorded";

const HOUR: i64 = 3_600 * 1_000_000;
const DAY: i64 = 24 * HOUR;

/// Fixed lower bounds and the distinct-country threshold of Authgear's spec.
const MIN_COUNTRY_DAILY: f64 = 20.0;
const MIN_COUNTRY_HOURLY: f64 = 3.0;
const MIN_IP_DAILY: f64 = 10.0;
const MIN_IP_HOURLY: f64 = 5.0;
const MAX_PHONE_COUNTRIES_PER_IP: usize = 3;
/// The hours a day's verified traffic is spread over for the hourly thresholds.
const HOURS_PER_DAY: f64 = 6.0;

/// The counts a decision looks at.
#[derive(Debug, Default, Clone, Copy)]
struct Metrics {
    ip_unverified_1h: u64,
    ip_unverified_24h: u64,
    ip_verified_24h: u64,
    country_unverified_1h: u64,
    country_unverified_24h: u64,
    country_verified_1h: u64,
    country_verified_24h: u64,
    country_verified_daily_max_14d: u64,
    /// Phone countries from the IP address in 24 h, with this one, that have no verified code.
    ip_phone_countries: usize,
}

/// The warnings `m` raises under `cfg` for a phone country `country` (if known).
fn warnings(cfg: &FraudProtectionConfig, country: Option<&str>, m: &Metrics) -> Vec<W> {
    let budget = &cfg.sms.unverified_otp_budget;
    let over = |count: u64, threshold: f64| (count + 1) as f64 > threshold;
    let mut out = Vec::new();
    let mut warn = |kind: W, raised: bool| {
        if raised && cfg.warns(kind) {
            out.push(kind);
        }
    };
    warn(W::SmsPhoneCountriesByIpDaily, m.ip_phone_countries > MAX_PHONE_COUNTRIES_PER_IP);
    if let Some(country) = country {
        let (daily, hourly) = budget.for_country(country);
        let rolling = m.country_verified_daily_max_14d as f64;
        let day = MIN_COUNTRY_DAILY.max(rolling * daily).max(m.country_verified_24h as f64 * daily);
        let hour = MIN_COUNTRY_HOURLY.max(rolling / HOURS_PER_DAY * hourly).max(m.country_verified_1h as f64 * hourly);
        warn(W::SmsUnverifiedOtpsByPhoneCountryDaily, over(m.country_unverified_24h, day));
        warn(W::SmsUnverifiedOtpsByPhoneCountryHourly, over(m.country_unverified_1h, hour));
    }
    let ip_day = MIN_IP_DAILY.max(m.ip_verified_24h as f64 * budget.daily());
    let ip_hour = MIN_IP_HOURLY.max(m.ip_verified_24h as f64 / HOURS_PER_DAY * budget.hourly());
    warn(W::SmsUnverifiedOtpsByIpDaily, over(m.ip_unverified_24h, ip_day));
    warn(W::SmsUnverifiedOtpsByIpHourly, over(m.ip_unverified_1h, ip_hour));
    out
}

/// Whether an always-allow rule matches the recipient or the client.
fn always_allowed(cfg: &FraudProtectionConfig, recipient: &str, country: Option<&str>, ip: Option<&str>) -> bool {
    let allow = &cfg.decision.always_allow;
    let by_country = country.is_some_and(|c| allow.phone_number.geo_location_codes.iter().any(|g| g == c));
    // Checked at start-up; a pattern that does not compile never matches.
    let by_regex = allow.phone_number.regex.iter().any(|r| regex::Regex::new(r).is_ok_and(|re| re.is_match(recipient)));
    let by_ip = ip
        .and_then(|ip| ip.parse::<IpAddr>().ok())
        .is_some_and(|ip| cfg.allowed_nets().iter().any(|n| n.contains(&ip)));
    by_country || by_regex || by_ip
}

impl Account<'_> {
    /// Decides whether the SMS with a code for `purpose` to `recipient` may be sent, and
    /// records the decision (with its audit row). A blocked SMS is the `Invalid` error
    /// `BlockedByFraudProtection`; nothing is recorded when the protection is off.
    pub(in crate::service) async fn guard_sms(
        &self,
        purpose: OtpPurpose,
        recipient: &str,
        actor: &Actor,
    ) -> Result<()> {
        let cfg = &self.config.fraud_protection;
        if !cfg.enabled {
            return Ok(());
        }
        let at = now();
        let t = micros(at);
        let country = phone_country(recipient);
        let ip = actor.ip.as_deref().filter(|s| !s.is_empty());
        let metrics = self.sms_metrics(ip, country, t).await?;
        let raised = warnings(cfg, country, &metrics);
        let blocked = cfg.decision.action == FraudProtectionAction::DenyIfAnyWarning
            && !raised.is_empty()
            && !always_allowed(cfg, recipient, country, ip);
        let decision = if blocked { "blocked" } else { "allowed" };
        let names: Vec<&str> = raised.iter().map(|w| w.as_str()).collect();
        let user_id = actor.subject.as_deref().and_then(|s| Uuid::parse_str(s).ok());
        if !raised.is_empty() {
            tracing::warn!(decision, warnings = ?names, country, "SMS fraud protection raised warnings");
        }
        let record = json!({
            "timestamp": at.format(&time::format_description::well_known::Rfc3339).unwrap_or_default(),
            "decision": decision,
            "action": "send_sms",
            "action_detail": {"recipient": recipient, "type": purpose.as_str(), "phone_number_country_code": country},
            "triggered_warnings": names,
            "user_agent": actor.user_agent,
            "ip_address": ip,
            "user_id": user_id,
            "geo_location_code": null,
        });
        let row = fpd::ActiveModel {
            id: Set(Uuid::now_v7()),
            created_at: Set(t),
            decision: Set(decision.to_owned()),
            action: Set("send_sms".to_owned()),
            recipient: Set(recipient.to_owned()),
            message_type: Set(purpose.as_str().to_owned()),
            phone_country: Set(country.map(str::to_owned)),
            ip_address: Set(ip.map(str::to_owned)),
            geo_location_code: Set(None),
            user_agent: Set(actor.user_agent.clone()),
            user_id: Set(user_id),
            triggered_warnings: Set(serde_json::to_string(&names).map_err(Error::internal)?),
            warning_count: Set(i32::try_from(names.len()).unwrap_or(i32::MAX)),
            verified_at: Set(None),
        };
        let audit = Audit { actor: actor.clone(), activity: DECISION_RECORDED.into() };
        self.write(async |tx| {
            row.insert(tx.conn()).await?;
            tx.record_at(&audit, user_id, json!({"record": record}), at).await?;
            Ok::<_, Error>(())
        })
        .await?;
        if blocked {
            return Err(Error::invalid(
                reason::BLOCKED_BY_FRAUD_PROTECTION,
                "this text message was blocked to protect the service from SMS abuse; try again later or sign in another way",
            ));
        }
        Ok(())
    }

    /// A code for `purpose` to `recipient` was used: its latest unverified SMS counts as
    /// verified from now on. One statement, outside any transaction (a counter).
    pub(in crate::service) async fn sms_code_verified(&self, purpose: OtpPurpose, recipient: &str) -> Result<()> {
        if !recipient.starts_with('+') {
            return Ok(());
        }
        let t = micros(now());
        let latest = fpd::Entity::find()
            .filter(Expr::col(fpd::Column::Recipient).eq(recipient))
            .filter(Expr::col(fpd::Column::MessageType).eq(purpose.as_str()))
            .filter(Expr::col(fpd::Column::Decision).eq("allowed"))
            .filter(Expr::col(fpd::Column::VerifiedAt).is_null())
            .filter(Expr::col(fpd::Column::CreatedAt).gte(t - DAY))
            .order_by_desc(fpd::Column::CreatedAt)
            .one(&self.db.reader())
            .await?;
        if let Some(row) = latest {
            fpd::Entity::update_many()
                .col_expr(fpd::Column::VerifiedAt, Expr::value(t))
                .filter(Expr::col(fpd::Column::Id).eq(row.id))
                .filter(Expr::col(fpd::Column::VerifiedAt).is_null())
                .exec(&self.db.writer().await?)
                .await?;
        }
        Ok(())
    }

    /// The counts behind the warnings, at `t`.
    async fn sms_metrics(&self, ip: Option<&str>, country: Option<&str>, t: i64) -> Result<Metrics> {
        let conn = &self.db.reader();
        let sent = || fpd::Entity::find().filter(Expr::col(fpd::Column::Decision).eq("allowed"));
        let unverified = |since: i64| {
            sent()
                .filter(Expr::col(fpd::Column::VerifiedAt).is_null())
                .filter(Expr::col(fpd::Column::CreatedAt).gte(since))
        };
        let verified = |since: i64| sent().filter(Expr::col(fpd::Column::VerifiedAt).gte(since));
        let mut m = Metrics::default();
        if let Some(ip) = ip {
            let by_ip = Expr::col(fpd::Column::IpAddress).eq(ip);
            m.ip_unverified_1h = unverified(t - HOUR).filter(by_ip.clone()).count(conn).await?;
            m.ip_unverified_24h = unverified(t - DAY).filter(by_ip.clone()).count(conn).await?;
            m.ip_verified_24h = verified(t - DAY).filter(by_ip).count(conn).await?;
            let mut countries = self.ip_phone_countries(ip, t).await?;
            if let Some(c) = country {
                countries.entry(c.to_owned()).or_insert(false);
            }
            m.ip_phone_countries = countries.values().filter(|verified| !**verified).count();
        }
        if let Some(country) = country {
            let by_country = Expr::col(fpd::Column::PhoneCountry).eq(country);
            m.country_unverified_1h = unverified(t - HOUR).filter(by_country.clone()).count(conn).await?;
            m.country_unverified_24h = unverified(t - DAY).filter(by_country.clone()).count(conn).await?;
            m.country_verified_1h = verified(t - HOUR).filter(by_country.clone()).count(conn).await?;
            m.country_verified_24h = verified(t - DAY).filter(by_country).count(conn).await?;
            m.country_verified_daily_max_14d = self.verified_daily_max(country, t).await?;
        }
        Ok(m)
    }

    /// The phone countries sent to from `ip` in the 24 hours before `t`, and whether each
    /// had a verified code from it.
    async fn ip_phone_countries(&self, ip: &str, t: i64) -> Result<HashMap<String, bool>> {
        let q = Query::select()
            .column(fpd::Column::PhoneCountry)
            .expr_as(Expr::col(fpd::Column::VerifiedAt).count(), "verified")
            .from(fpd::Entity)
            .and_where(Expr::col(fpd::Column::IpAddress).eq(ip))
            .and_where(Expr::col(fpd::Column::Decision).eq("allowed"))
            .and_where(Expr::col(fpd::Column::PhoneCountry).is_not_null())
            .and_where(Expr::col(fpd::Column::CreatedAt).gte(t - DAY))
            .group_by_col(fpd::Column::PhoneCountry)
            .to_owned();
        let mut out = HashMap::new();
        for row in self.db.reader().query_all(&q).await? {
            let country: String = row.try_get("", "phone_country")?;
            let verified: i64 = row.try_get("", "verified")?;
            out.insert(country, verified > 0);
        }
        Ok(out)
    }

    /// The most codes to `country` verified on one day (UTC) of the 14 days before `t`.
    async fn verified_daily_max(&self, country: &str, t: i64) -> Result<u64> {
        let day = format!("verified_at / {DAY}");
        let q = Query::select()
            .expr_as(Expr::cust(day.clone()), "day")
            .expr_as(Expr::col(fpd::Column::Id).count(), "n")
            .from(fpd::Entity)
            .and_where(Expr::col(fpd::Column::PhoneCountry).eq(country))
            .and_where(Expr::col(fpd::Column::Decision).eq("allowed"))
            .and_where(Expr::col(fpd::Column::VerifiedAt).gte(t - 14 * DAY))
            .add_group_by([Expr::cust(day)])
            .to_owned();
        let mut max = 0u64;
        for row in self.db.reader().query_all(&q).await? {
            let n: i64 = row.try_get("", "n")?;
            max = Ord::max(max, u64::try_from(n).unwrap_or(0));
        }
        Ok(max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_follow_the_spec() {
        let cfg = FraudProtectionConfig::default();
        // Nothing verified yet: 3 unverified per country and hour pass, the 4th warns.
        let m = Metrics { country_unverified_1h: 2, ..Metrics::default() };
        assert!(warnings(&cfg, Some("SG"), &m).is_empty());
        let m = Metrics { country_unverified_1h: 3, country_unverified_24h: 3, ..Metrics::default() };
        assert_eq!(warnings(&cfg, Some("SG"), &m), [W::SmsUnverifiedOtpsByPhoneCountryHourly]);
        // 1000 verified per day: the daily country threshold is 300, the hourly 33.3; this
        // SMS counts too.
        let busy = Metrics {
            country_verified_daily_max_14d: 1_000,
            country_unverified_24h: 299,
            country_unverified_1h: 32,
            ..Metrics::default()
        };
        assert!(warnings(&cfg, Some("SG"), &busy).is_empty());
        let more = Metrics { country_unverified_24h: 300, country_unverified_1h: 33, ..busy };
        assert_eq!(
            warnings(&cfg, Some("SG"), &more),
            [W::SmsUnverifiedOtpsByPhoneCountryDaily, W::SmsUnverifiedOtpsByPhoneCountryHourly]
        );
        // IP: 5 per hour, 10 per day without verified codes; 4 countries warn.
        let ip = Metrics { ip_unverified_1h: 5, ip_unverified_24h: 10, ip_phone_countries: 4, ..Metrics::default() };
        assert_eq!(
            warnings(&cfg, None, &ip),
            [W::SmsPhoneCountriesByIpDaily, W::SmsUnverifiedOtpsByIpDaily, W::SmsUnverifiedOtpsByIpHourly]
        );
    }

    #[test]
    fn always_allow_rules() {
        let mut cfg = FraudProtectionConfig::default();
        cfg.decision.always_allow.phone_number.regex = vec![r"^\+852\d*$".into()];
        cfg.decision.always_allow.phone_number.geo_location_codes = vec!["JP".into()];
        cfg.decision.always_allow.ip_address.cidrs = vec!["203.0.113.0/24".into(), "2001:db8::1".into()];
        assert!(always_allowed(&cfg, "+85291234567", Some("HK"), None));
        assert!(always_allowed(&cfg, "+819012345678", Some("JP"), None));
        assert!(always_allowed(&cfg, "+6591230001", Some("SG"), Some("203.0.113.9")));
        assert!(always_allowed(&cfg, "+6591230001", Some("SG"), Some("2001:db8::1")));
        assert!(!always_allowed(&cfg, "+6591230001", Some("SG"), Some("198.51.100.1")));
    }
}
