//! The SMS fraud protection as the Admin API reads it: the decision records
//! (`fraudProtectionLogs`) and the overview of a time range (`fraudProtectionOverview`).
//! The decisions are written by `account/fraud_protection.rs`.

use crate::domain::ids::{FraudProtectionDecisionRecordId, TypedId};
use crate::domain::reason;
use crate::service::store::paging::{Cursor, Keyset, Page, PageArgs, SortKind};
use crate::service::store::time::{micros, now, time_of};
use crate::service::{Error, FraudProtection, Result};
use entity::fraud_protection_decision as fpd;
use sea_orm::sea_query::{Condition, Expr, ExprTrait, LikeExpr, Query};
use sea_orm::{ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter};
use time::{Duration, OffsetDateTime};

/// The longest range an overview covers (Authgear: 90 days).
pub const OVERVIEW_MAX_DAYS: i64 = 90;

const HOUR_MICROS: i64 = 3_600_000_000;

/// Filters of `fraudProtectionLogs`.
#[derive(Debug, Clone, Default)]
pub struct DecisionFilter {
    /// Inclusive lower bound.
    pub range_from: Option<OffsetDateTime>,
    /// Exclusive upper bound.
    pub range_to: Option<OffsetDateTime>,
    /// Oldest first instead of newest first.
    pub ascending: bool,
    /// Only these decisions (`allowed`, `blocked`); empty means all.
    pub decisions: Vec<String>,
    /// Only records that raised at least one of these warnings; empty means all.
    pub reason_codes: Vec<String>,
    /// At least this many warnings.
    pub minimum_warning_count: Option<i32>,
    /// At most this many warnings.
    pub maximum_warning_count: Option<i32>,
    /// A prefix of the recipient, of its phone country or of the IP address.
    pub search: Option<String>,
}

/// One decision record.
#[derive(Debug, Clone)]
pub struct DecisionRecord {
    /// ID.
    pub id: FraudProtectionDecisionRecordId,
    /// When the decision was made.
    pub created_at: OffsetDateTime,
    /// `allowed` or `blocked`.
    pub decision: String,
    /// `send_sms`.
    pub action: String,
    /// The E.164 recipient.
    pub recipient: String,
    /// What the SMS carried (`login` or `verification`).
    pub message_type: String,
    /// The recipient's phone country.
    pub phone_country: Option<String>,
    /// The warnings raised, by Authgear's names.
    pub triggered_warnings: Vec<String>,
    /// The client's user agent.
    pub user_agent: Option<String>,
    /// The client's IP address.
    pub ip_address: Option<String>,
    /// The country of the IP address (null without a GeoIP database).
    pub geo_location_code: Option<String>,
    /// The signed-in user who asked, if any.
    pub user_id: Option<uuid::Uuid>,
    /// When the code the SMS carried was used.
    pub verified_at: Option<OffsetDateTime>,
}

impl From<fpd::Model> for DecisionRecord {
    fn from(m: fpd::Model) -> Self {
        Self {
            id: FraudProtectionDecisionRecordId::from_uuid(m.id),
            created_at: time_of(m.created_at),
            decision: m.decision,
            action: m.action,
            recipient: m.recipient,
            message_type: m.message_type,
            phone_country: m.phone_country,
            triggered_warnings: serde_json::from_str(&m.triggered_warnings).unwrap_or_default(),
            user_agent: m.user_agent,
            ip_address: m.ip_address,
            geo_location_code: m.geo_location_code,
            user_id: m.user_id,
            verified_at: m.verified_at.map(time_of),
        }
    }
}

/// Totals of a group of decisions: all, blocked, and allowed with warnings (flagged).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    /// Decisions.
    pub total: i64,
    /// Blocked decisions.
    pub blocked: i64,
    /// Allowed decisions that raised warnings.
    pub flagged: i64,
}

/// The overview of SMS decisions in a range.
#[derive(Debug, Clone, Default)]
pub struct Overview {
    /// All decisions of the range.
    pub totals: Tally,
    /// Per hour (UTC), oldest first; hours without decisions are left out.
    pub hours: Vec<(OffsetDateTime, Tally)>,
    /// The ten IP addresses with most decisions.
    pub top_ips: Vec<(String, Tally)>,
    /// The ten IP countries with most decisions (empty without a GeoIP database).
    pub top_ip_locations: Vec<(String, Tally)>,
    /// The ten phone countries with most decisions.
    pub top_phone_countries: Vec<(String, Tally)>,
}

/// `LIKE` pattern for a prefix, with `\` escaping the wildcards.
fn prefix(s: &str) -> LikeExpr {
    let escaped: String =
        s.chars().flat_map(|c| if matches!(c, '%' | '_' | '\\') { vec!['\\', c] } else { vec![c] }).collect();
    LikeExpr::new(format!("{escaped}%")).escape('\\')
}

fn condition(f: &DecisionFilter) -> Result<Condition> {
    crate::domain::text::check_list("verdicts", f.decisions.len())?;
    crate::domain::text::check_list("reasonCodes", f.reason_codes.len())?;
    let mut cond = Condition::all();
    if let Some(from) = f.range_from {
        cond = cond.add(Expr::col(fpd::Column::CreatedAt).gte(micros(from)));
    }
    if let Some(to) = f.range_to {
        cond = cond.add(Expr::col(fpd::Column::CreatedAt).lt(micros(to)));
    }
    if !f.decisions.is_empty() {
        cond = cond.add(Expr::col(fpd::Column::Decision).is_in(f.decisions.clone()));
    }
    if !f.reason_codes.is_empty() {
        // The warnings are a JSON array of fixed names; a quoted name matches one element.
        let any = f.reason_codes.iter().fold(Condition::any(), |c, code| {
            c.add(Expr::col(fpd::Column::TriggeredWarnings).like(format!("%\"{code}\"%")))
        });
        cond = cond.add(any);
    }
    if let Some(n) = f.minimum_warning_count {
        cond = cond.add(Expr::col(fpd::Column::WarningCount).gte(n));
    }
    if let Some(n) = f.maximum_warning_count {
        cond = cond.add(Expr::col(fpd::Column::WarningCount).lte(n));
    }
    if let Some(s) = f.search.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        crate::domain::text::check_text("search", s)?;
        cond = cond.add(
            Condition::any()
                .add(Expr::col(fpd::Column::Recipient).like(prefix(s)))
                .add(Expr::col(fpd::Column::PhoneCountry).like(prefix(&s.to_uppercase())))
                .add(Expr::col(fpd::Column::IpAddress).like(prefix(s))),
        );
    }
    Ok(cond)
}

impl FraudProtection<'_> {
    /// Lists decision records, newest first unless `ascending`.
    pub async fn list(&self, f: &DecisionFilter, args: &PageArgs) -> Result<Page<DecisionRecord>> {
        let plan = args.plan()?;
        let ks = Keyset {
            table: "fraud_protection_decisions",
            column: "created_at",
            desc: !f.ascending,
            nullable: false,
            kind: SortKind::Time,
        };
        let q = ks.apply(fpd::Entity::find().filter(condition(f)?), &plan)?;
        let rows: Vec<DecisionRecord> = q.all(&self.db.reader()).await?.into_iter().map(DecisionRecord::from).collect();
        Ok(ks.finish(&plan, rows, |r| Cursor::time(Some(r.created_at), r.id.uuid())))
    }

    /// Counts decision records matching `f`.
    pub async fn count(&self, f: &DecisionFilter) -> Result<u64> {
        Ok(fpd::Entity::find().filter(condition(f)?).count(&self.db.reader()).await?)
    }

    /// Loads decision records by ID.
    pub async fn by_ids(&self, ids: &[FraudProtectionDecisionRecordId]) -> Result<Vec<DecisionRecord>> {
        let ids: Vec<uuid::Uuid> = ids.iter().map(|i| i.uuid()).collect();
        let rows = fpd::Entity::find().filter(Expr::col(fpd::Column::Id).is_in(ids)).all(&self.db.reader()).await?;
        Ok(rows.into_iter().map(DecisionRecord::from).collect())
    }

    /// The overview of `[from, to)`: by default the 7 days up to now; at most
    /// [`OVERVIEW_MAX_DAYS`] days.
    pub async fn overview(&self, from: Option<OffsetDateTime>, to: Option<OffsetDateTime>) -> Result<Overview> {
        let to = to.unwrap_or_else(now);
        let from = from.unwrap_or(to - Duration::days(7));
        if from >= to || to - from > Duration::days(OVERVIEW_MAX_DAYS) {
            return Err(Error::invalid(
                reason::INVALID_RANGE,
                format!("rangeFrom must be before rangeTo, at most {OVERVIEW_MAX_DAYS} days apart"),
            ));
        }
        let range = (micros(from), micros(to));
        Ok(Overview {
            totals: self.tally(range, None, 1).await?.into_iter().next().map(|(_, t)| t).unwrap_or_default(),
            hours: self
                .tally(range, Some(GroupBy::Hour), 24 * OVERVIEW_MAX_DAYS as u64)
                .await?
                .into_iter()
                .filter_map(|(k, t)| k.as_i64().map(|h| (time_of(h * HOUR_MICROS), t)))
                .collect(),
            top_ips: self.top(range, fpd::Column::IpAddress).await?,
            top_ip_locations: self.top(range, fpd::Column::GeoLocationCode).await?,
            top_phone_countries: self.top(range, fpd::Column::PhoneCountry).await?,
        })
    }

    /// The ten values of `column` with most decisions, most first.
    async fn top(&self, range: (i64, i64), column: fpd::Column) -> Result<Vec<(String, Tally)>> {
        let mut rows = self.tally(range, Some(GroupBy::Column(column)), u64::MAX).await?;
        rows.retain(|(k, _)| k.as_str().is_some_and(|s| !s.is_empty()));
        rows.sort_by(|a, b| b.1.total.cmp(&a.1.total).then_with(|| a.0.as_str().cmp(&b.0.as_str())));
        rows.truncate(10);
        Ok(rows.into_iter().map(|(k, t)| (k.as_str().unwrap_or_default().to_owned(), t)).collect())
    }

    /// Tallies of the decisions in `range`, grouped by `key` (all in one group without),
    /// ordered by the key; at most `limit` groups.
    async fn tally(&self, range: (i64, i64), key: Option<GroupBy>, limit: u64) -> Result<Vec<(Key, Tally)>> {
        let blocked = Expr::cust("SUM(CASE WHEN decision = 'blocked' THEN 1 ELSE 0 END)");
        let flagged = Expr::cust("SUM(CASE WHEN decision = 'allowed' AND warning_count > 0 THEN 1 ELSE 0 END)");
        let mut q = Query::select();
        q.expr_as(Expr::col(fpd::Column::Id).count(), "total")
            .expr_as(blocked, "blocked")
            .expr_as(flagged, "flagged")
            .from(fpd::Entity)
            .and_where(Expr::col(fpd::Column::CreatedAt).gte(range.0))
            .and_where(Expr::col(fpd::Column::CreatedAt).lt(range.1));
        if let Some(key) = key.as_ref().map(GroupBy::expr) {
            q.expr_as(key.clone(), "k").add_group_by([key.clone()]).order_by_expr(key.clone(), sea_orm::Order::Asc);
        }
        if limit != u64::MAX {
            q.limit(limit);
        }
        let mut out = Vec::new();
        for row in self.db.reader().query_all(&q).await? {
            let total: i64 = row.try_get("", "total")?;
            if total == 0 {
                continue;
            }
            let sum = |c: &str| row.try_get::<Option<i64>>("", c).map(Option::unwrap_or_default);
            let tally = Tally { total, blocked: sum("blocked")?, flagged: sum("flagged")? };
            let k = match &key {
                None => Key::None,
                Some(GroupBy::Hour) => row.try_get::<Option<i64>>("", "k")?.map_or(Key::None, Key::Int),
                Some(GroupBy::Column(_)) => row.try_get::<Option<String>>("", "k")?.map_or(Key::None, Key::Text),
            };
            out.push((k, tally));
        }
        Ok(out)
    }
}

/// What decisions are grouped by.
enum GroupBy {
    /// The hour (UTC) they were made in, as hours since the epoch.
    Hour,
    /// A text column.
    Column(fpd::Column),
}

impl GroupBy {
    fn expr(&self) -> Expr {
        match self {
            Self::Hour => Expr::cust(format!("created_at / {HOUR_MICROS}")),
            Self::Column(c) => Expr::col(*c),
        }
    }
}

/// A group's key: an hour number or a text value.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Key {
    None,
    Int(i64),
    Text(String),
}

impl Key {
    fn as_i64(&self) -> Option<i64> {
        if let Self::Int(n) = self { Some(*n) } else { None }
    }
    fn as_str(&self) -> Option<&str> {
        if let Self::Text(s) = self { Some(s) } else { None }
    }
}
