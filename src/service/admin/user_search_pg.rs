//! PostgreSQL: a substring keyword's page of users in creation order, without reading every
//! matching user.
//!
//! A `pg_trgm` GIN index yields its matches as a bitmap in no useful order, so the page is
//! found in at most two steps:
//!
//! 1. **A walk**: the next login IDs (by their user's creation time, an index of
//!    `identities.user_created_at`) and the next users' names in list order, merged, each
//!    tested against the keyword, stopping at a full page. Keywords whose matches are
//!    dense near the page (`example`, `user`) end here after a few dozen rows. The walk
//!    reads at most four times `admin_api.search_walk_window` rows, and is skipped when
//!    the sample of the trigram statistics ([`super::trigram_stats`]) places the page
//!    beyond that, or step 2 is expected to cost less. The same statement fetches the users the keyword
//!    names exactly (a user ID, an identity's whole key).
//! 2. **Every match, sorted on its own row**: each trigram index's matches are ordered by
//!    the list's sort key held in the matching row itself (`users.created_at` for names,
//!    `identities.user_created_at` for login IDs, migration
//!    `m20261209_000000_identity_user_created_at`) and cut to a page (a top-N sort, no
//!    join); the index is asked for the keyword's rarest substring and the rows it returns
//!    are checked for the whole keyword. Only the page's users are then read. The sample
//!    places a time bound a few pages of matches from the page's start, and only the
//!    matches up to it are read (the trigram bitmap `AND` a BRIN range of creation times,
//!    [`super::user_search_pg_lookup`]); all of them only when that leaves the page short.
//!    A keyword matching 100,000 login IDs far down the list reads a few hundred rows.
//!
//! A user with several matching login IDs appears once per identity in step 2; when that
//! leaves the page short while an index had more, step 2 runs again with a larger cut.

use crate::service::Result;
use crate::service::Users;
use crate::service::admin::trigram_stats::Span;
use crate::service::admin::user_keyword::Keyword;
use crate::service::admin::user_search_pg_lookup::Lookup;
use crate::service::admin::user_search_range::Range;
use crate::service::store::paging::{Keyset, Plan};
use entity::user;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ConnectionTrait, DbBackend, EntityTrait, QueryFilter, Statement, Value};
use std::cmp::Ordering;
use std::collections::HashMap;
use uuid::Uuid;

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

impl Range {
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

    /// The range's creation times, for the sample.
    fn span(&self) -> Span {
        Span {
            from: self.lower.map(|b| b.created_at),
            to: self.upper.map(|b| b.created_at),
            newest_first: self.newest_first,
        }
    }

    /// ` AND t >= bound` (or `<=`, oldest first): rows from the range's start to `bound`.
    /// The bound is written out: with a parameter, PostgreSQL may settle on a generic plan
    /// that cannot tell a narrow span of times from a wide one and never uses the BRIN index.
    fn until(&self, t: &str, bound: Option<i64>) -> String {
        match bound {
            Some(b) => format!(" AND {t} {} {b}", if self.newest_first { ">=" } else { "<=" }),
            None => String::new(),
        }
    }

    /// A creation time `t` lies between the range's start and `bound`, inclusive.
    fn reaches(&self, t: i64, bound: i64) -> bool {
        if self.newest_first { t >= bound } else { t <= bound }
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
    /// The users of one page of a keyword search in creation order on PostgreSQL (one
    /// more than the page's size at most, in the page's fetch order), or `None` when this
    /// path does not apply: not PostgreSQL, or a keyword shorter than a trigram.
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
        let stats = self.trigram_stats.get(&self.db.reader());
        let lookup = Lookup::of(kw, stats.as_deref(), range.span(), n);
        let window = self.walk_window(&lookup, n);
        let walk = self.walk(kw, &range, n, window).await?;
        let mut keys = match walk.page {
            Some(keys) => keys,
            None => self.every_match(kw, &lookup, &range, n).await?,
        };
        keys.extend(walk.exact);
        keys.sort_by(|a, b| range.cmp(*a, *b));
        keys.dedup_by_key(|k| k.1);
        keys.truncate(usize::try_from(n).unwrap_or(usize::MAX));
        if keys.is_empty() {
            return Ok(Some(Vec::new()));
        }
        let ids: Vec<Uuid> = keys.iter().map(|k| k.1).collect();
        let mut found: HashMap<Uuid, user::Model> = user::Entity::find()
            .filter(Expr::col((user::Entity, user::Column::Id)).is_in(ids))
            .all(&self.db.reader())
            .await?
            .into_iter()
            .map(|u| (u.id, u))
            .collect();
        // A user deleted between the statements is left out.
        Ok(Some(keys.into_iter().filter_map(|(_, id)| found.remove(&id)).collect()))
    }

    /// How many rows step 1 walks (0: none): `search_walk_window` × [`PG_WALK_FACTOR`], or
    /// none for a keyword estimated to match at most `search_broad_threshold` users, or
    /// whose page the sample places beyond the window, or where step 2 is expected to cost
    /// less than the walk.
    fn walk_window(&self, lookup: &Lookup, n: u64) -> u64 {
        let config = &self.config.admin_api;
        let window = std::cmp::max(config.search_walk_window.saturating_mul(PG_WALK_FACTOR), n);
        let (Some(est), Some(o)) = (lookup.matches, &lookup.outlook) else {
            return window;
        };
        let far = o.walk_rows > window as f64;
        let dearer = o.walk_rows * WALK_COST > lookup.step2_cost;
        if est <= config.search_broad_threshold as f64 || far || dearer { 0 } else { window }
    }

    /// Step 1: walks the next `window` rows of login IDs (by their user's creation time)
    /// and users' names, merged in list order, stopping at `n` matches, and finds the users
    /// the keyword names exactly within the range.
    async fn walk(&self, kw: &Keyword, range: &Range, n: u64, window: u64) -> Result<Walk> {
        let mut sql = Sql::default();
        let dir = range.dir();
        let like = self.login_id_like();
        let pattern = sql.bind(kw.pg_pattern());
        let login_bounds = range.sql(&mut sql, "user_created_at", "user_id");
        let name_bounds = range.sql(&mut sql, "created_at", "id");
        let keys: Vec<String> = kw.login_keys().iter().map(|k| sql.bind(k.clone())).collect();
        let mut exact = format!("id IN (SELECT user_id FROM identities WHERE unique_key IN ({}))", keys.join(", "));
        if let Some(id) = kw.exact_id() {
            exact.push_str(&format!(" OR id = {}", sql.bind(id)));
        }
        let exact_bounds = range.sql(&mut sql, "created_at", "id");
        let exact = format!("SELECT 2 AS src, id, created_at, TRUE, 0::int8 FROM users WHERE ({exact}){exact_bounds}");
        if window == 0 {
            let rows = self
                .db
                .reader()
                .query_all_raw(Statement::from_sql_and_values(DbBackend::Postgres, exact, sql.values))
                .await?;
            let exact =
                rows.iter().map(|r| Ok((r.try_get_by_index(2)?, r.try_get_by_index(1)?))).collect::<Result<_>>()?;
            return Ok(Walk { page: None, exact });
        }
        // Both time indexes read in step (a merge), each row tested; the walk returns its
        // matches and, if it gets that far, its last row (`rn` = `window`): what lies
        // beyond that row is unknown.
        let text = format!(
            "(SELECT 1 AS src, id, t, hit, rn FROM (SELECT id, t, hit, row_number() OVER () AS rn FROM \
               (SELECT id, t, hit FROM (\
                  (SELECT user_id AS id, user_created_at AS t, unique_key {like} {pattern} AS hit FROM identities \
                     WHERE kind = 'login_id'{login_bounds} ORDER BY user_created_at {dir}, user_id {dir} LIMIT {window}) \
                  UNION ALL (SELECT id, created_at, name_key LIKE {pattern} FROM users WHERE TRUE{name_bounds} \
                     ORDER BY created_at {dir}, id {dir} LIMIT {window})\
                ) u ORDER BY t {dir}, id {dir} LIMIT {window}) w0) w \
              WHERE hit OR rn = {window} LIMIT {n}) \
             UNION ALL ({exact})"
        );
        let rows = self
            .db
            .reader()
            .query_all_raw(Statement::from_sql_and_values(DbBackend::Postgres, text, sql.values))
            .await?;
        let (mut hits, mut last, mut exact) = (Vec::new(), None, Vec::new());
        for row in rows {
            let src: i32 = row.try_get_by_index(0)?;
            let key: (i64, Uuid) = (row.try_get_by_index(2)?, row.try_get_by_index(1)?);
            let hit: Option<bool> = row.try_get_by_index(3)?;
            let rn: i64 = row.try_get_by_index(4)?;
            if src == 2 {
                exact.push(key);
                continue;
            }
            if hit == Some(true) {
                hits.push(key);
            }
            if rn == window as i64 {
                last = Some(key);
            }
        }
        hits.sort_by(|a, b| range.cmp(*a, *b));
        // Every match is known up to the walk's `n`-th match, else to its last row, else
        // (the list ended) to the end of the range.
        let reach = if hits.len() as u64 >= n { hits.last().copied() } else { last };
        hits.dedup_by_key(|k| k.1);
        let page = (window > 0 && (reach.is_none() || hits.len() as u64 >= n)).then_some(hits);
        Ok(Walk { page, exact })
    }

    /// Step 2: the first `n` distinct users (as `(created_at, id)`, in the page's fetch
    /// order) among every substring match of the keyword within the range, from each
    /// trigram index's rows alone: first only those up to the sample's time bound (the
    /// index's bitmap `AND` the BRIN index of creation times), then, if that left the page
    /// short, all of them.
    async fn every_match(&self, kw: &Keyword, lookup: &Lookup, range: &Range, n: u64) -> Result<Vec<(i64, Uuid)>> {
        let mut cut = n;
        let mut bounds = lookup.bounds;
        loop {
            let mut sql = Sql::default();
            let dir = range.dir();
            let like = self.login_id_like();
            let login = lookup.condition(kw, "unique_key", like, lookup.login_piece.as_deref(), |v| sql.bind(v));
            let name = lookup.condition(kw, "name_key", "LIKE", lookup.name_piece.as_deref(), |v| sql.bind(v));
            let login_bounds =
                range.sql(&mut sql, "user_created_at", "user_id") + &range.until("user_created_at", bounds[0]);
            let name_bounds = range.sql(&mut sql, "created_at", "id") + &range.until("created_at", bounds[1]);
            // `+ 0`: sort the matches, never walk the creation-time index (step 1 did); rows
            // with a symbol are walked in list order in their own index.
            let sort = if lookup.symbols { "" } else { " + 0" };
            let text = format!(
                "(SELECT 1 AS src, user_id, user_created_at FROM identities WHERE kind = 'login_id' \
                   AND {login}{login_bounds} ORDER BY user_created_at{sort} {dir}, user_id {dir} LIMIT {cut}) \
                 UNION ALL (SELECT 2, id, created_at FROM users WHERE {name}{name_bounds} \
                   ORDER BY created_at{sort} {dir}, id {dir} LIMIT {cut})"
            );
            let rows = self
                .db
                .reader()
                .query_all_raw(Statement::from_sql_and_values(DbBackend::Postgres, text, sql.values))
                .await?;
            let mut count = [0u64; 2];
            let mut last: [Option<(i64, Uuid)>; 2] = [None, None];
            let mut keys = Vec::with_capacity(rows.len());
            for row in rows {
                let src = usize::from(row.try_get_by_index::<i32>(0)? == 2);
                let key: (i64, Uuid) = (row.try_get_by_index(2)?, row.try_get_by_index(1)?);
                count[src] += 1;
                if last[src].is_none_or(|l| range.cmp(key, l) == Ordering::Greater) {
                    last[src] = Some(key);
                }
                keys.push(key);
            }
            // Only the keys before every cut source's last row and before the bound are
            // known to be all there is: beyond them, a source may have more.
            let bound = bounds.iter().flatten().next().copied();
            keys.retain(|k| {
                let before_cuts =
                    (0..2).all(|s| count[s] < cut || last[s].is_none_or(|l| range.cmp(*k, l) != Ordering::Greater));
                before_cuts && bound.is_none_or(|b| range.reaches(k.0, b))
            });
            keys.sort_by(|a, b| range.cmp(*a, *b));
            keys.dedup_by_key(|k| k.1);
            if (keys.len() as u64) < n {
                // A source was cut (one user's login IDs can take several of its places).
                if count.contains(&cut) {
                    cut = cut.saturating_mul(4);
                    continue;
                }
                // The bound left matches out (the sample promised more before it).
                if bound.is_some() {
                    bounds = [None, None];
                    continue;
                }
            }
            return Ok(keys);
        }
    }
}

/// Rows of login IDs and names walked per user that `search_walk_window` allows: they
/// cost about a quarter of a user walked by the general plan (which probes the user's
/// login IDs one by one), so the same window's time walks four times as far.
const PG_WALK_FACTOR: u64 = 4;
/// A walked row's cost (µs, PostgreSQL 15): step 1 reads login IDs and users in creation
/// order from their time indexes, rows that lie together.
const WALK_COST: f64 = 0.5;

impl Users<'_> {
    /// How login IDs' keys are compared with the folded keyword. They are stored folded
    /// (emails too, unless `login_id.email_case_sensitive` is on: sign-in looks them up
    /// folded as well), so `LIKE` finds the same rows as `ILIKE` at a fifth of its cost
    /// per row (measured on PostgreSQL 15: about 0.05 against 0.22 µs). Names' keys are
    /// always folded.
    fn login_id_like(&self) -> &'static str {
        if self.config.login_id.email_case_sensitive { "ILIKE" } else { "LIKE" }
    }
}

/// What step 1 found.
struct Walk {
    /// Every substring match up to a page's worth (or to the end of the range), in fetch
    /// order; `None` when the walks fell short.
    page: Option<Vec<(i64, Uuid)>>,
    /// Users the keyword names exactly.
    exact: Vec<(i64, Uuid)>,
}
