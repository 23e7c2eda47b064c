//! PostgreSQL: a substring keyword's page of users in creation order, without reading every
//! matching user.
//!
//! A `pg_trgm` GIN index yields its matches as a bitmap in no useful order, so the page is
//! found in at most two steps:
//!
//! 1. **A walk**: the next `admin_api.search_walk_window` users in list order, each tested
//!    against the keyword, stopping at a full page. Keywords whose matches are dense near
//!    the page (`example`, `user`) end here after a few dozen rows. The same statement
//!    fetches the users the keyword names exactly (a user ID, an identity's whole key).
//! 2. **Every match, sorted on its own row**: when the walk finds less than a page, each
//!    trigram index's matches are ordered by the list's sort key held in the matching row
//!    itself (`users.created_at` for names, `identities.user_created_at` for login IDs,
//!    migration `m20261209_000000_identity_user_created_at`) and cut to a page (a top-N
//!    sort, no join). Only the page's users are then read. A keyword matching 100,000 login
//!    IDs far down the list costs one pass over those index entries and rows instead of
//!    100,000 lookups of users.
//!
//! A user with several matching login IDs appears once per identity in step 2; when that
//! leaves the page short while an index had more, step 2 runs again with a larger cut.

use crate::service::Result;
use crate::service::Users;
use crate::service::admin::user_keyword::Keyword;
use crate::service::store::paging::{Cursor, Keyset, Plan};
use entity::user;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ConnectionTrait, DbBackend, EntityTrait, FromQueryResult, QueryFilter, Statement, Value};
use std::cmp::Ordering;
use std::collections::HashMap;
use uuid::Uuid;

/// A bound of the list: rows strictly beyond `(created_at, id)` on one side.
#[derive(Clone, Copy)]
struct Bound {
    created_at: i64,
    id: Uuid,
}

/// SQL text with its `$n` parameters.
#[derive(Default)]
struct Sql {
    values: Vec<Value>,
}

impl Sql {
    fn bind(&mut self, v: impl Into<Value>) -> String {
        self.values.push(v.into());
        format!("${}", self.values.len())
    }
}

/// Where the page lies: between two optional bounds, read in one direction.
struct Range {
    /// Rows before it in creation order.
    upper: Option<Bound>,
    /// Rows after it in creation order.
    lower: Option<Bound>,
    /// The page is read newest first.
    newest_first: bool,
}

impl Range {
    fn of(ks: &Keyset, plan: &Plan) -> Result<Self> {
        let bound = |c: &Option<Cursor>| -> Result<Option<Bound>> {
            c.as_ref().map(|c| Ok(Bound { created_at: ks.time_value(c)?, id: c.id })).transpose()
        };
        let (upper, lower) = if ks.desc {
            (bound(&plan.after)?, bound(&plan.before)?)
        } else {
            (bound(&plan.before)?, bound(&plan.after)?)
        };
        Ok(Self { upper, lower, newest_first: ks.desc != plan.backward })
    }

    /// ` AND (t, id) < (...) AND (t, id) > (...)` for the columns `t` and `id`.
    fn sql(&self, sql: &mut Sql, t: &str, id: &str) -> String {
        let mut s = String::new();
        for (b, op) in [(&self.upper, "<"), (&self.lower, ">")] {
            if let Some(b) = b {
                let (bt, bid) = (sql.bind(b.created_at), sql.bind(b.id));
                s.push_str(&format!(" AND ({t}, {id}) {op} ({bt}, {bid})"));
            }
        }
        s
    }

    fn dir(&self) -> &'static str {
        if self.newest_first { "DESC" } else { "ASC" }
    }

    /// The order of two `(created_at, id)` keys in the page's fetch order.
    fn cmp(&self, a: (i64, Uuid), b: (i64, Uuid)) -> Ordering {
        if self.newest_first { b.cmp(&a) } else { a.cmp(&b) }
    }
}

impl Users<'_> {
    /// The users of one page of a keyword search in creation order on PostgreSQL (`limit
    /// + 1` rows at most, in the page's fetch order), or `None` when this path does not
    /// apply: not PostgreSQL, or a keyword shorter than a trigram.
    pub(in crate::service) async fn search_in_creation_order_pg(
        &self,
        kw: &Keyword,
        ks: &Keyset,
        plan: &Plan,
    ) -> Result<Option<Vec<user::Model>>> {
        if self.backend() != DbBackend::Postgres || !kw.is_substring() {
            return Ok(None);
        }
        let range = Range::of(ks, plan)?;
        let n = plan.limit + 1;
        let (walked, exact) = self.walk(kw, &range, n).await?;
        if walked.len() as u64 >= n {
            return Ok(Some(page(&range, walked.into_iter().chain(exact), n)));
        }
        let keys = self.every_match(kw, &range, n).await?;
        let mut held: HashMap<Uuid, user::Model> = exact.into_iter().map(|u| (u.id, u)).collect();
        let mut ids: Vec<(i64, Uuid)> = keys;
        ids.extend(held.values().map(|u| (u.created_at, u.id)));
        ids.sort_by(|a, b| range.cmp(*a, *b));
        ids.dedup_by_key(|k| k.1);
        ids.truncate(usize::try_from(n).unwrap_or(usize::MAX));
        let missing: Vec<Uuid> = ids.iter().map(|k| k.1).filter(|id| !held.contains_key(id)).collect();
        if !missing.is_empty() {
            let found = user::Entity::find()
                .filter(Expr::col((user::Entity, user::Column::Id)).is_in(missing))
                .all(&self.db.reader())
                .await?;
            held.extend(found.into_iter().map(|u| (u.id, u)));
        }
        // A user deleted between the statements is left out.
        Ok(Some(ids.into_iter().filter_map(|(_, id)| held.remove(&id)).collect()))
    }

    /// Step 1: the keyword's matches among the next `search_walk_window` users in list
    /// order (`n` at most), and the users the keyword names exactly within the range.
    async fn walk(&self, kw: &Keyword, range: &Range, n: u64) -> Result<(Vec<user::Model>, Vec<user::Model>)> {
        let mut sql = Sql::default();
        let window = std::cmp::max(self.config.admin_api.search_walk_window, n);
        let dir = range.dir();
        let pattern = sql.bind(kw.pg_pattern());
        let walk_bounds = range.sql(&mut sql, "created_at", "id");
        let keys: Vec<String> = kw.login_keys().iter().map(|k| sql.bind(k.clone())).collect();
        let mut exact = format!("id IN (SELECT user_id FROM identities WHERE unique_key IN ({}))", keys.join(", "));
        if let Some(id) = kw.exact_id() {
            exact.push_str(&format!(" OR id = {}", sql.bind(id)));
        }
        let exact_bounds = range.sql(&mut sql, "created_at", "id");
        let text = format!(
            "SELECT users.*, m.walk FROM (\
               (SELECT w.id, 1 AS walk FROM (SELECT id, created_at, name_key FROM users WHERE TRUE{walk_bounds} \
                  ORDER BY created_at {dir}, id {dir} LIMIT {window}) w \
                WHERE w.name_key ILIKE {pattern} OR EXISTS (SELECT 1 FROM identities i WHERE i.user_id = w.id \
                  AND i.kind = 'login_id' AND i.unique_key ILIKE {pattern}) \
                ORDER BY w.created_at {dir}, w.id {dir} LIMIT {n}) \
               UNION ALL (SELECT id, 0 FROM users WHERE ({exact}){exact_bounds})\
             ) m JOIN users ON users.id = m.id"
        );
        let rows = self
            .db
            .reader()
            .query_all_raw(Statement::from_sql_and_values(DbBackend::Postgres, text, sql.values))
            .await?;
        let (mut walked, mut exact) = (Vec::new(), Vec::new());
        for row in rows {
            let walk: i32 = row.try_get("", "walk")?;
            let u = user::Model::from_query_result(&row, "")?;
            if walk == 1 { walked.push(u) } else { exact.push(u) }
        }
        Ok((walked, exact))
    }

    /// Step 2: the first `n` distinct users (as `(created_at, id)`, in no particular order)
    /// among every substring match of the keyword within the range, from each trigram
    /// index's rows alone.
    async fn every_match(&self, kw: &Keyword, range: &Range, n: u64) -> Result<Vec<(i64, Uuid)>> {
        let mut cut = n;
        loop {
            let mut sql = Sql::default();
            let dir = range.dir();
            let pattern = sql.bind(kw.pg_pattern());
            let login_bounds = range.sql(&mut sql, "user_created_at", "user_id");
            let name_bounds = range.sql(&mut sql, "created_at", "id");
            // `+ 0`: sort the matches, never walk the creation-time index (step 1 did).
            let text = format!(
                "(SELECT 1 AS src, user_id, user_created_at FROM identities WHERE kind = 'login_id' \
                   AND unique_key ILIKE {pattern}{login_bounds} ORDER BY user_created_at + 0 {dir}, user_id {dir} \
                   LIMIT {cut}) \
                 UNION ALL (SELECT 2, id, created_at FROM users WHERE name_key ILIKE {pattern}{name_bounds} \
                   ORDER BY created_at + 0 {dir}, id {dir} LIMIT {cut})"
            );
            let rows = self
                .db
                .reader()
                .query_all_raw(Statement::from_sql_and_values(DbBackend::Postgres, text, sql.values))
                .await?;
            let mut per_source = [0u64; 2];
            let mut keys = Vec::with_capacity(rows.len());
            for row in rows {
                let src: i32 = row.try_get_by_index(0)?;
                let id: Uuid = row.try_get_by_index(1)?;
                let t: i64 = row.try_get_by_index(2)?;
                per_source[usize::from(src == 2)] += 1;
                keys.push((t, id));
            }
            keys.sort_by(|a, b| range.cmp(*a, *b));
            keys.dedup_by_key(|k| k.1);
            // Short of a page only because one user's identities took several places.
            if (keys.len() as u64) < n && per_source.contains(&cut) {
                cut = cut.saturating_mul(4);
                continue;
            }
            return Ok(keys);
        }
    }
}

/// The first `n` distinct users of `rows` in the page's fetch order.
fn page(range: &Range, rows: impl Iterator<Item = user::Model>, n: u64) -> Vec<user::Model> {
    let mut rows: Vec<user::Model> = rows.collect();
    rows.sort_by(|a, b| range.cmp((a.created_at, a.id), (b.created_at, b.id)));
    rows.dedup_by_key(|u| u.id);
    rows.truncate(usize::try_from(n).unwrap_or(usize::MAX));
    rows
}
