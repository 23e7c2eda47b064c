//! SQLite: a substring keyword's page of users in creation order straight from the FTS5
//! index, whose row IDs follow creation time, newest first (`-bucket × 2^26 + slot`, the
//! bucket being the tenth of a second of `created_at`; migration
//! `m20261206_000000_order_user_search_by_creation`).
//!
//! The index yields matches in row-ID order and stops early, so a page costs about as
//! much for a keyword of 100,000 clustered matches as for one of 100. One statement:
//! the walk takes the page's `n` matches nearest the start in row-ID order (one traversal
//! of the phrase's doclists, kept); the other matches of the last one's bucket are added
//! (a bucket's rows are in arrival order, not in list order), or, when the walk found
//! fewer than `n`, those of the far bound's bucket; so are those of the near bound's
//! bucket (the walk leaves both bounds' buckets out) and the users the keyword names
//! exactly. The rows are filtered by the cursors and sorted by (`created_at`, `id`). Every
//! match left out lies in a bucket beyond all of them, so the first `n` are exactly the
//! page.

use crate::service::Result;
use crate::service::Users;
use crate::service::admin::user_keyword::Keyword;
use crate::service::admin::user_search_range::Range;
use crate::service::store::paging::{Keyset, Plan};
use entity::user;
use sea_orm::{DbBackend, EntityTrait, Statement, Value};

/// Row IDs of one bucket: 2^SHIFT.
const SHIFT: u32 = 26;
const SLOTS: i64 = 1 << SHIFT;

/// The row-ID key of a creation time (microseconds): its tenth of a second, truncated
/// toward zero, clamped and negated, exactly as the migration's triggers compute it.
fn bucket(created_at: i64) -> i64 {
    -(created_at / 100_000).clamp(-130_000_000_000, 130_000_000_000)
}

fn first_row_id(created_at: i64) -> i64 {
    bucket(created_at) * SLOTS
}

fn last_row_id(created_at: i64) -> i64 {
    bucket(created_at) * SLOTS + SLOTS - 1
}

impl Users<'_> {
    /// The users of one page of a keyword search in creation order (`limit + 1` rows at
    /// most, in the page's fetch order), or `None` when this path does not apply: not
    /// SQLite, a keyword shorter than a trigram, or other filters than the keyword.
    pub(in crate::service) async fn search_in_creation_order(
        &self,
        kw: &Keyword,
        ks: &Keyset,
        plan: &Plan,
    ) -> Result<Option<Vec<user::Model>>> {
        if self.backend() != DbBackend::Sqlite || !kw.is_substring() {
            return Ok(None);
        }
        let Range { upper, lower, newest_first } = Range::of(ks, plan)?;
        let n = plan.limit + 1;
        let phrase = kw.fts_phrase();
        let mut values: Vec<Value> = Vec::new();

        // Row IDs grow as creation time falls: the rows older than `upper` are those from
        // its bucket on, the rows newer than `lower` those up to its bucket. The walk
        // leaves out the bounds' buckets (their rows are gathered and filtered below).
        let walk_lo = upper.as_ref().map_or(i64::MIN, |b| last_row_id(b.created_at) + 1);
        let walk_hi = lower.as_ref().map_or(i64::MAX, |b| first_row_id(b.created_at) - 1);
        // Newest first is the index's forward direction. The walk starts at one bound
        // (`start`) and heads for the other (`end`).
        let (walk_order, agg, start, end) =
            if newest_first { ("ASC", "max", &upper, &lower) } else { ("DESC", "min", &lower, &upper) };
        // The bucket gathered besides the walk's matches: the last match's bucket when
        // the walk found a page, else the end bound's bucket (or none).
        let (end_lo, end_hi) = end.as_ref().map_or((1, 0), |b| (first_row_id(b.created_at), last_row_id(b.created_at)));
        let edge = format!("(({agg}(r) >> {SHIFT}) << {SHIFT})");
        let order = if newest_first { "DESC" } else { "ASC" };
        let in_bucket = |lo: &str, hi: &str| {
            format!(
                "s.id IN (SELECT rowid FROM user_search_fts WHERE user_search_fts MATCH ? AND rowid BETWEEN {lo} AND {hi})"
            )
        };
        let mut gathered =
            vec!["s.id IN (SELECT r FROM w)".to_owned(), in_bucket("(SELECT lo FROM e)", "(SELECT hi FROM e)")];
        // The walk's phrase, the last bucket's, the start bound's bucket's.
        values.push(phrase.clone().into());
        values.push(phrase.clone().into());
        if let Some(b) = start {
            gathered.push(in_bucket(&first_row_id(b.created_at).to_string(), &last_row_id(b.created_at).to_string()));
            values.push(phrase.into());
        }
        let with = format!(
            "WITH w AS MATERIALIZED (SELECT rowid AS r FROM user_search_fts WHERE user_search_fts MATCH ? \
             AND rowid BETWEEN {walk_lo} AND {walk_hi} ORDER BY rowid {walk_order} LIMIT {n}), \
             e AS MATERIALIZED (SELECT CASE WHEN count(*) < {n} THEN {end_lo} ELSE {edge} END AS lo, \
             CASE WHEN count(*) < {n} THEN {end_hi} ELSE {edge} + {} END AS hi FROM w)",
            SLOTS - 1
        );

        // Users the keyword names exactly (a user ID, an identity's whole key).
        let keys = kw.login_keys();
        let mut exact =
            format!("SELECT user_id FROM identities WHERE unique_key IN ({})", vec!["?"; keys.len()].join(", "));
        values.extend(keys.iter().map(|k| Value::from(k.clone())));
        if let Some(id) = kw.exact_id() {
            exact.push_str(" UNION SELECT ?");
            values.push(id.into());
        }

        let mut bounds = String::new();
        for (b, op) in [(&upper, "<"), (&lower, ">")] {
            if let Some(b) = b {
                bounds.push_str(&format!(" AND (s.created_at, s.user_id) {op} (?, ?)"));
                values.push(b.created_at.into());
                values.push(b.id.into());
            }
        }
        gathered.push(format!("s.user_id IN ({exact})"));
        let sql = format!(
            "{with} SELECT users.* FROM (SELECT s.user_id AS uid FROM user_search s \
             WHERE ({}){bounds} \
             ORDER BY s.created_at {order}, s.user_id {order} LIMIT {n}) m \
             JOIN users ON users.id = m.uid ORDER BY users.created_at {order}, users.id {order}",
            gathered.join(" OR ")
        );
        let stmt = Statement::from_sql_and_values(DbBackend::Sqlite, sql, values);
        Ok(Some(user::Entity::find().from_raw_sql(stmt).all(&self.db.reader()).await?))
    }
}
