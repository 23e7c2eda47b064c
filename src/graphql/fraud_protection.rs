//! The SMS fraud protection in the Admin API, with Authgear's types:
//! `fraudProtectionLogs` (the decision records) and `fraudProtectionOverview` (totals,
//! hourly buckets, top source IPs, IP locations and SMS origins). Both need
//! `audit-log:read`: the records are audit data.

use crate::graphql::date_time::DateTime;
use async_graphql::{Context, Enum, ID, Object, SimpleObject, Union};
use serde_json::json;

use super::connection::{Conn, CountSource, args, to_conn};
use super::context::services;
use super::node::encode;
use super::scalars::FraudProtectionDecisionRecordData;
use super::users::SortDirection;
use crate::service::admin::fraud_protection::{DecisionFilter, DecisionRecord, Overview, Tally};

/// The decision on a request.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum FraudProtectionDecision {
    /// The request went ahead (possibly with warnings).
    #[graphql(name = "allowed")]
    Allowed,
    /// The request was refused.
    #[graphql(name = "blocked")]
    Blocked,
}

impl FraudProtectionDecision {
    fn as_str(self) -> &'static str {
        match self {
            Self::Allowed => "allowed",
            Self::Blocked => "blocked",
        }
    }
}

/// What the request wanted to do.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum FraudProtectionAction {
    /// Send an SMS with a code.
    #[graphql(name = "send_sms")]
    SendSms,
}

/// A warning the fraud protection raises, in Authgear's names.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum FraudProtectionWarningType {
    /// More than 3 phone countries without a verified code from one IP address in 24 hours.
    #[graphql(name = "SMS__PHONE_COUNTRIES__BY_IP__DAILY_THRESHOLD_EXCEEDED")]
    SmsPhoneCountriesByIpDaily,
    /// Too many unverified codes to one phone country in 24 hours.
    #[graphql(name = "SMS__UNVERIFIED_OTPS__BY_PHONE_COUNTRY__DAILY_THRESHOLD_EXCEEDED")]
    SmsUnverifiedOtpsByPhoneCountryDaily,
    /// Too many unverified codes to one phone country in an hour.
    #[graphql(name = "SMS__UNVERIFIED_OTPS__BY_PHONE_COUNTRY__HOURLY_THRESHOLD_EXCEEDED")]
    SmsUnverifiedOtpsByPhoneCountryHourly,
    /// Too many unverified codes from one IP address in 24 hours.
    #[graphql(name = "SMS__UNVERIFIED_OTPS__BY_IP__DAILY_THRESHOLD_EXCEEDED")]
    SmsUnverifiedOtpsByIpDaily,
    /// Too many unverified codes from one IP address in an hour.
    #[graphql(name = "SMS__UNVERIFIED_OTPS__BY_IP__HOURLY_THRESHOLD_EXCEEDED")]
    SmsUnverifiedOtpsByIpHourly,
}

impl FraudProtectionWarningType {
    fn from_config(w: crate::config::FraudProtectionWarningType) -> Self {
        use crate::config::FraudProtectionWarningType as W;
        match w {
            W::SmsPhoneCountriesByIpDaily => Self::SmsPhoneCountriesByIpDaily,
            W::SmsUnverifiedOtpsByPhoneCountryDaily => Self::SmsUnverifiedOtpsByPhoneCountryDaily,
            W::SmsUnverifiedOtpsByPhoneCountryHourly => Self::SmsUnverifiedOtpsByPhoneCountryHourly,
            W::SmsUnverifiedOtpsByIpDaily => Self::SmsUnverifiedOtpsByIpDaily,
            W::SmsUnverifiedOtpsByIpHourly => Self::SmsUnverifiedOtpsByIpHourly,
        }
    }
}

/// The SMS a `send_sms` decision was about.
#[derive(SimpleObject, Clone)]
#[graphql(name = "FraudProtectionDecisionSendSMSActionDetail")]
pub struct SendSmsActionDetail {
    /// The E.164 phone number.
    pub recipient: String,
    /// What the SMS carried: `login` (a sign-in code) or `verification`.
    #[graphql(name = "type")]
    pub kind: String,
    /// The ISO 3166-1 alpha-2 country of the phone number, from its calling code.
    pub phone_number_country_code: Option<String>,
}

/// The details of the action a decision was about.
#[derive(Union, Clone)]
#[graphql(name = "FraudProtectionDecisionActionDetail")]
pub enum FraudProtectionDecisionActionDetail {
    /// Sending an SMS.
    SendSms(SendSmsActionDetail),
}

/// A fraud protection decision record.
#[derive(Clone)]
pub struct FraudProtectionDecisionRecord(pub DecisionRecord);

/// A fraud protection decision: what was asked, from where, the warnings raised and
/// whether it was allowed or blocked.
#[Object(requires_scopes = "audit-log:read")]
impl FraudProtectionDecisionRecord {
    /// The global ID of the record.
    pub async fn id(&self) -> ID {
        encode(self.0.id)
    }
    /// When the decision was made.
    async fn created_at(&self) -> DateTime {
        DateTime(self.0.created_at)
    }
    /// `allowed` or `blocked`.
    async fn decision(&self) -> FraudProtectionDecision {
        if self.0.decision == "blocked" { FraudProtectionDecision::Blocked } else { FraudProtectionDecision::Allowed }
    }
    /// What was asked (`send_sms`).
    async fn action(&self) -> FraudProtectionAction {
        FraudProtectionAction::SendSms
    }
    /// The details of what was asked.
    async fn action_detail(&self) -> FraudProtectionDecisionActionDetail {
        FraudProtectionDecisionActionDetail::SendSms(SendSmsActionDetail {
            recipient: self.0.recipient.clone(),
            kind: self.0.message_type.clone(),
            phone_number_country_code: self.0.phone_country.clone(),
        })
    }
    /// The warnings raised.
    async fn triggered_warnings(&self) -> Vec<FraudProtectionWarningType> {
        self.0
            .triggered_warnings
            .iter()
            .filter_map(|w| crate::config::FraudProtectionWarningType::parse(w))
            .map(FraudProtectionWarningType::from_config)
            .collect()
    }
    /// The client's user agent.
    async fn user_agent(&self) -> Option<&str> {
        self.0.user_agent.as_deref()
    }
    /// The client's IP address.
    async fn ip_address(&self) -> Option<&str> {
        self.0.ip_address.as_deref()
    }
    /// The country of the client's IP address; null without a GeoIP database.
    async fn geo_location_code(&self) -> Option<&str> {
        self.0.geo_location_code.as_deref()
    }
    /// The whole record as JSON, in Authgear's snake_case shape.
    async fn data(&self) -> FraudProtectionDecisionRecordData {
        let r = &self.0;
        FraudProtectionDecisionRecordData(json!({
            "timestamp": r.created_at.format(&time::format_description::well_known::Rfc3339).unwrap_or_default(),
            "decision": r.decision,
            "action": r.action,
            "action_detail": {
                "recipient": r.recipient,
                "type": r.message_type,
                "phone_number_country_code": r.phone_country,
            },
            "triggered_warnings": r.triggered_warnings,
            "user_agent": r.user_agent,
            "ip_address": r.ip_address,
            "user_id": r.user_id,
            "geo_location_code": r.geo_location_code,
            "verified": r.verified_at.is_some(),
        }))
    }
}

/// The decisions of one hour.
#[derive(SimpleObject)]
pub struct FraudProtectionOverviewTimeBucket {
    /// The start of the hour (UTC).
    pub hour: DateTime,
    /// Decisions.
    pub total: i32,
    /// Blocked decisions.
    pub blocked: i32,
    /// Allowed decisions that raised warnings.
    pub flagged: i32,
}

/// The decisions of one source IP address.
#[derive(SimpleObject)]
#[graphql(name = "FraudProtectionOverviewTopSourceIP")]
pub struct FraudProtectionOverviewTopSourceIp {
    /// The IP address.
    pub ip_address: String,
    /// Its country; empty without a GeoIP database.
    pub geo_country_code: String,
    /// Decisions.
    pub total: i32,
    /// Blocked decisions.
    pub blocked: i32,
    /// Allowed decisions that raised warnings.
    pub flagged: i32,
}

/// The decisions of the IP addresses of one country.
#[derive(SimpleObject)]
#[graphql(name = "FraudProtectionOverviewIPLocation")]
pub struct FraudProtectionOverviewIpLocation {
    /// The ISO 3166-1 alpha-2 country of the IP addresses.
    pub geo_country_code: String,
    /// Decisions.
    pub total: i32,
    /// Blocked decisions.
    pub blocked: i32,
    /// Allowed decisions that raised warnings.
    pub flagged: i32,
}

/// The decisions of SMS to one phone country.
#[derive(SimpleObject)]
#[graphql(name = "FraudProtectionOverviewSMSOrigin")]
pub struct FraudProtectionOverviewSmsOrigin {
    /// The ISO 3166-1 alpha-2 country of the phone numbers.
    pub phone_country_code: String,
    /// Decisions.
    pub total: i32,
    /// Blocked decisions.
    pub blocked: i32,
    /// Allowed decisions that raised warnings.
    pub flagged: i32,
}

/// The SMS decisions of a range.
#[derive(SimpleObject)]
#[graphql(name = "FraudProtectionOverviewSendSMS")]
pub struct FraudProtectionOverviewSendSms {
    /// Decisions.
    pub total: i32,
    /// Blocked decisions.
    pub blocked: i32,
    /// Allowed decisions that raised warnings.
    pub flagged: i32,
    /// The ten source IP addresses with most decisions.
    #[graphql(name = "topSourceIPs")]
    pub top_source_ips: Vec<FraudProtectionOverviewTopSourceIp>,
    /// The ten IP countries with most decisions (empty without a GeoIP database).
    #[graphql(name = "topIPLocations")]
    pub top_ip_locations: Vec<FraudProtectionOverviewIpLocation>,
    /// The ten phone countries with most decisions.
    #[graphql(name = "topSMSOrigins")]
    pub top_sms_origins: Vec<FraudProtectionOverviewSmsOrigin>,
    /// Per hour, oldest first; hours without decisions are left out.
    pub time_buckets: Vec<FraudProtectionOverviewTimeBucket>,
}

/// The fraud protection overview of a range.
#[derive(SimpleObject)]
pub struct FraudProtectionOverview {
    /// SMS with codes.
    #[graphql(name = "sendSMS")]
    pub send_sms: FraudProtectionOverviewSendSms,
}

fn n(v: i64) -> i32 {
    i32::try_from(v).unwrap_or(i32::MAX)
}

impl From<Overview> for FraudProtectionOverview {
    fn from(o: Overview) -> Self {
        let Tally { total, blocked, flagged } = o.totals;
        Self {
            send_sms: FraudProtectionOverviewSendSms {
                total: n(total),
                blocked: n(blocked),
                flagged: n(flagged),
                top_source_ips: o
                    .top_ips
                    .into_iter()
                    .map(|(ip, t)| FraudProtectionOverviewTopSourceIp {
                        ip_address: ip,
                        geo_country_code: String::new(),
                        total: n(t.total),
                        blocked: n(t.blocked),
                        flagged: n(t.flagged),
                    })
                    .collect(),
                top_ip_locations: o
                    .top_ip_locations
                    .into_iter()
                    .map(|(c, t)| FraudProtectionOverviewIpLocation {
                        geo_country_code: c,
                        total: n(t.total),
                        blocked: n(t.blocked),
                        flagged: n(t.flagged),
                    })
                    .collect(),
                top_sms_origins: o
                    .top_phone_countries
                    .into_iter()
                    .map(|(c, t)| FraudProtectionOverviewSmsOrigin {
                        phone_country_code: c,
                        total: n(t.total),
                        blocked: n(t.blocked),
                        flagged: n(t.flagged),
                    })
                    .collect(),
                time_buckets: o
                    .hours
                    .into_iter()
                    .map(|(hour, t)| FraudProtectionOverviewTimeBucket {
                        hour: DateTime(hour),
                        total: n(t.total),
                        blocked: n(t.blocked),
                        flagged: n(t.flagged),
                    })
                    .collect(),
            },
        }
    }
}

/// Fraud protection queries.
#[derive(Default)]
pub struct FraudProtectionQuery;

#[Object]
impl FraudProtectionQuery {
    /// Lists fraud protection decision records, newest first by default. `rangeFrom` is
    /// inclusive and `rangeTo` exclusive. Needs `audit-log:read`.
    #[graphql(
        requires_scopes = "audit-log:read",
        complexity = "super::connection::page_complexity(first, last, child_complexity)",
        tag = "db_count"
    )]
    #[allow(clippy::too_many_arguments)]
    async fn fraud_protection_logs(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Records at or after this time.")] range_from: Option<DateTime>,
        #[graphql(desc = "Records before this time.")] range_to: Option<DateTime>,
        #[graphql(desc = "Sort direction (default DESC).")] sort_direction: Option<SortDirection>,
        #[graphql(desc = "Only these decisions (default: all).")] verdicts: Option<Vec<FraudProtectionDecision>>,
        #[graphql(desc = "Only records that raised at least one of these warnings (warning type names).")]
        reason_codes: Option<Vec<String>>,
        #[graphql(desc = "Only records with at most this many warnings.")] maximum_warning_count: Option<i32>,
        #[graphql(desc = "Only records with at least this many warnings.")] minimum_warning_count: Option<i32>,
        #[graphql(desc = "A prefix of the phone number, its country code or the IP address.")] search: Option<String>,
        #[graphql(desc = "Items after this cursor.")] after: Option<String>,
        #[graphql(desc = "Items before this cursor.")] before: Option<String>,
        #[graphql(desc = "At most this many items from the start (≤ 100, default 100).")] first: Option<i32>,
        #[graphql(desc = "At most this many items from the end (≤ 100).")] last: Option<i32>,
    ) -> async_graphql::Result<Conn<FraudProtectionDecisionRecord>> {
        let filter = DecisionFilter {
            range_from: range_from.map(|d| d.0),
            range_to: range_to.map(|d| d.0),
            ascending: sort_direction == Some(SortDirection::Asc),
            decisions: verdicts.unwrap_or_default().into_iter().map(|v| v.as_str().to_owned()).collect(),
            reason_codes: reason_codes.unwrap_or_default(),
            minimum_warning_count,
            maximum_warning_count,
            search,
        };
        let page = services(ctx)?.fraud_protection().list(&filter, &args(first, after, last, before)).await?;
        Ok(to_conn(page, CountSource::FraudProtectionLogs(Box::new(filter)), FraudProtectionDecisionRecord))
    }

    /// The fraud protection overview of `[rangeFrom, rangeTo)`: by default the 7 days up
    /// to now; at most 90 days. Needs `audit-log:read`.
    #[graphql(requires_scopes = "audit-log:read")]
    async fn fraud_protection_overview(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The start of the range (inclusive).")] range_from: Option<DateTime>,
        #[graphql(desc = "The end of the range (exclusive; default now).")] range_to: Option<DateTime>,
    ) -> async_graphql::Result<FraudProtectionOverview> {
        Ok(services(ctx)?.fraud_protection().overview(range_from.map(|d| d.0), range_to.map(|d| d.0)).await?.into())
    }
}
