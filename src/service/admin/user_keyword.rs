//! The keyword of the users list, as SQL: an exact user ID or login ID; a substring of a
//! login ID or name through the trigram index (keywords of three or more characters); a
//! prefix of an indexed column (shorter keywords). See the migration
//! `m20261204_100000_create_user_search_index` for the indexes.

use sea_orm::DbBackend;
use sea_orm::sea_query::extension::postgres::PgExpr;
use sea_orm::sea_query::extension::sqlite::SqliteExpr;
use sea_orm::sea_query::{Condition, Expr, ExprTrait, Func, LikeExpr, Query, SelectStatement, UnionType};
use uuid::Uuid;

use crate::service::admin::trigram_stats::holds_symbol_sql;

/// Keywords of at least this many characters match substrings through the trigram index.
pub(in crate::service) const SUBSTRING_MIN_CHARS: usize = 3;

/// How a keyword condition is shaped for the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::service) enum KeywordPlan {
    /// Few matches: one `IN (... UNION ...)` set of candidate IDs, each part an index scan,
    /// so the database finds the matches first and sorts only those.
    Candidates,
    /// Many matches: a per-row test while walking users in sort order, which finds a page
    /// of matches after a few rows instead of sorting every match.
    PerRow,
}

/// A search keyword, trimmed and case-folded.
#[derive(Debug, Clone)]
pub(in crate::service) struct Keyword {
    /// The keyword lower-cased.
    lower: String,
    /// The login ID unique keys an exact match compares with: the lower-cased keyword,
    /// and the keyword as typed when it differs (emails are stored as typed when
    /// `email_case_sensitive` is on).
    login_keys: Vec<String>,
    /// The keyword read as a user ID.
    exact_id: Option<Uuid>,
    /// PostgreSQL: substring matches are sought among the rows that hold a symbol
    /// ([`Keyword::among_symbol_rows`]).
    symbol_rows: bool,
}

impl Keyword {
    /// The keyword of `raw`, or `None` for an absent or blank one.
    pub(in crate::service) fn parse(raw: Option<&str>) -> Option<Self> {
        let kw = raw.map(str::trim).filter(|k| !k.is_empty())?;
        let lower = kw.to_lowercase();
        let mut login_keys = vec![lower.clone()];
        if kw != lower {
            login_keys.push(kw.to_owned());
        }
        Some(Self { lower, login_keys, exact_id: Uuid::parse_str(kw).ok(), symbol_rows: false })
    }

    /// On PostgreSQL, the candidate-set condition and the probes seek substring matches
    /// among the rows that hold a symbol (their partial indexes) instead of through the
    /// trigram indexes, when `yes`: the caller has made sure the keyword holds a symbol
    /// and the sample says those rows are fewer than the trigram indexes' candidates.
    pub(in crate::service) fn among_symbol_rows(mut self, yes: bool) -> Self {
        self.symbol_rows = yes;
        self
    }

    /// Whether the keyword matches substrings (else prefixes).
    pub(in crate::service) fn is_substring(&self) -> bool {
        self.lower.chars().count() >= SUBSTRING_MIN_CHARS
    }

    /// The login ID unique keys an exact match compares with.
    pub(in crate::service) fn login_keys(&self) -> &[String] {
        &self.login_keys
    }

    /// The keyword read as a user ID.
    pub(in crate::service) fn exact_id(&self) -> Option<Uuid> {
        self.exact_id
    }

    /// The keyword as one FTS5 phrase: with the trigram tokenizer, a substring match.
    pub(in crate::service) fn fts_phrase(&self) -> String {
        format!("\"{}\"", self.lower.replace('"', "\"\""))
    }

    /// `%keyword%` with LIKE's wildcards escaped by a backslash, PostgreSQL's default
    /// escape character (an explicit `ESCAPE` after `ILIKE` is mis-parenthesized by SeaQuery).
    fn like_pattern(&self) -> LikeExpr {
        LikeExpr::new(self.pg_pattern())
    }

    /// The text of [`Keyword::like_pattern`], for statements written as SQL text.
    pub(in crate::service) fn pg_pattern(&self) -> String {
        contains_pattern(&self.lower)
    }

    /// `%keyword%` as the trigram indexes' joined copies hold it
    /// ([`migration::trigram_text`]), for `<col>_joined LIKE`.
    pub(in crate::service) fn pg_joined_pattern(&self) -> String {
        contains_pattern(&migration::trigram_text(&self.lower))
    }

    /// The keyword lower-cased.
    pub(in crate::service) fn lower(&self) -> &str {
        &self.lower
    }

    /// The keyword's condition on `users`.
    pub(in crate::service) fn condition(&self, plan: KeywordPlan, backend: DbBackend) -> Condition {
        if self.is_substring() { self.substring_condition(plan, backend) } else { self.prefix_condition(plan) }
    }

    /// Statements selecting the matches of the keyword from each index, each stopping
    /// after `limit` rows: their row counts added bound the number of matches from below.
    pub(in crate::service) fn probes(&self, backend: DbBackend, limit: u64) -> Vec<SelectStatement> {
        let probe = |table: &'static str, cond: Condition| {
            Query::select().expr(Expr::val(1)).from(table).cond_where(cond).limit(limit).to_owned()
        };
        if !self.is_substring() {
            return [("identities", "unique_key"), ("users", "name_key")]
                .into_iter()
                .map(|(table, column)| probe(table, prefix_range(Expr::col((table, column)), &self.lower)))
                .collect();
        }
        if backend == DbBackend::Postgres && self.symbol_rows {
            let logins = self.pg_symbol_match("identities", "unique_key");
            vec![
                probe("identities", logins.add(Expr::cust("\"identities\".\"kind\" = 'login_id'"))),
                probe("users", self.pg_symbol_match("users", "name_key")),
            ]
        } else if backend == DbBackend::Postgres {
            vec![
                probe("identities", self.pg_indexed_match("identities", "unique_key")),
                probe("users", self.pg_indexed_match("users", "name_key")),
            ]
        } else {
            vec![probe(
                "user_search_fts",
                Condition::all().add(SqliteExpr::matches(Expr::col("user_search_fts"), self.fts_phrase())),
            )]
        }
    }

    /// `unique_key ILIKE '%kw%'` of a login ID, tested row by row.
    fn pg_login_id_match(&self, unique_key: Expr, table: &'static str) -> Condition {
        Condition::all().add(Expr::col((table, "kind")).eq("login_id")).add(unique_key.ilike(self.like_pattern()))
    }

    /// PostgreSQL: `col` of `table` (`identities.unique_key` of login IDs, or
    /// `users.name_key`) holds the keyword, through its trigram index: the copy of the
    /// column that the index reads (migration `m20261213_000000_search_joined_trigrams`)
    /// holds the keyword as the index reads it, and the row holds the keyword itself.
    fn pg_indexed_match(&self, table: &'static str, col: &'static str) -> Condition {
        let joined = LikeExpr::new(self.pg_joined_pattern());
        let cond = Condition::all()
            .add(Expr::col((table, migration::joined_column(col))).ilike(joined))
            .add(Expr::col((table, col)).ilike(self.like_pattern()));
        if table == "identities" { cond.add(Expr::cust("\"identities\".\"kind\" = 'login_id'")) } else { cond }
    }

    /// PostgreSQL, a keyword with a symbol: `col` holds the keyword,
    /// among the rows that hold a symbol. The condition repeats the partial index's word
    /// for word (migration `m20261212_000000_search_symbol_rows`) and tests the keyword
    /// with `strpos`, which no index serves: the trigram index would take both conditions
    /// and read every row for `%%%`, which gives it no trigram. `lower` as `ILIKE` folds.
    fn pg_symbol_match(&self, table: &str, col: &str) -> Condition {
        let symbol = Expr::cust(holds_symbol_sql(&format!("\"{table}\".\"{col}\"")));
        let holds = Expr::expr(
            Func::cust("strpos")
                .arg(Func::lower(Expr::col((table.to_owned(), col.to_owned()))))
                .arg(self.lower.clone()),
        )
        .gt(0);
        Condition::all().add(symbol).add(holds)
    }

    /// IDs of the users that the keyword names exactly: by user ID or by any identity's key
    /// (an OAuth `alias:subject`, a device key ID), as typed or folded.
    fn exact_ids(&self) -> SelectStatement {
        let mut q = subquery("identities", "user_id")
            .and_where(Expr::col(("identities", "unique_key")).is_in(self.login_keys.clone()))
            .to_owned();
        if let Some(id) = self.exact_id {
            q.union(
                UnionType::Distinct,
                subquery("users", "id").and_where(Expr::col(("users", "id")).eq(id)).to_owned(),
            );
        }
        q
    }

    fn substring_condition(&self, plan: KeywordPlan, backend: DbBackend) -> Condition {
        let users_id = || Expr::col(("users", "id"));
        let postgres = backend == DbBackend::Postgres;
        match plan {
            KeywordPlan::Candidates => {
                let mut candidates = self.exact_ids();
                if postgres && self.symbol_rows {
                    candidates.union(
                        UnionType::Distinct,
                        subquery("identities", "user_id")
                            .and_where(Expr::cust("\"identities\".\"kind\" = 'login_id'"))
                            .cond_where(self.pg_symbol_match("identities", "unique_key"))
                            .to_owned(),
                    );
                    candidates.union(
                        UnionType::Distinct,
                        subquery("users", "id").cond_where(self.pg_symbol_match("users", "name_key")).to_owned(),
                    );
                } else if postgres {
                    candidates.union(
                        UnionType::Distinct,
                        subquery("identities", "user_id")
                            .cond_where(self.pg_indexed_match("identities", "unique_key"))
                            .to_owned(),
                    );
                    candidates.union(
                        UnionType::Distinct,
                        subquery("users", "id").cond_where(self.pg_indexed_match("users", "name_key")).to_owned(),
                    );
                } else {
                    let fts = Query::select()
                        .column("rowid")
                        .from("user_search_fts")
                        .and_where(SqliteExpr::matches(Expr::col("user_search_fts"), self.fts_phrase()))
                        .to_owned();
                    candidates.union(
                        UnionType::Distinct,
                        subquery("user_search", "user_id")
                            .and_where(Expr::col(("user_search", "id")).in_subquery(fts))
                            .to_owned(),
                    );
                }
                Condition::all().add(users_id().in_subquery(candidates))
            }
            KeywordPlan::PerRow => {
                let found = if postgres {
                    let ident = Query::select()
                        .expr(Expr::val(1))
                        .from_as("identities", "kw_i")
                        .and_where(Expr::col(("kw_i", "user_id")).equals(("users", "id")))
                        .cond_where(self.pg_login_id_match(Expr::col(("kw_i", "unique_key")), "kw_i"))
                        .to_owned();
                    Condition::any()
                        .add(Expr::col(("users", "name_key")).ilike(self.like_pattern()))
                        .add(Expr::exists(ident))
                } else {
                    // The row's search text, folded as the FTS table folds it (ASCII).
                    let text = Func::lower(Expr::col(("kw_s", "text")));
                    let hit = Expr::from(Func::cust("instr").arg(text).arg(self.lower.clone())).gt(0);
                    let row = Query::select()
                        .expr(Expr::val(1))
                        .from_as("user_search", "kw_s")
                        .and_where(Expr::col(("kw_s", "user_id")).equals(("users", "id")))
                        .and_where(hit)
                        .to_owned();
                    Condition::any().add(Expr::exists(row))
                };
                found.add(users_id().in_subquery(self.exact_ids()))
            }
        }
    }

    fn prefix_condition(&self, plan: KeywordPlan) -> Condition {
        let lower = &self.lower;
        match plan {
            KeywordPlan::Candidates => {
                let mut candidates = subquery("users", "id")
                    .cond_where(prefix_range(Expr::col(("users", "name_key")), lower))
                    .to_owned();
                for key in &self.login_keys {
                    candidates.union(
                        UnionType::Distinct,
                        subquery("identities", "user_id")
                            .cond_where(prefix_range(Expr::col(("identities", "unique_key")), key))
                            .to_owned(),
                    );
                }
                if let Some(id) = self.exact_id {
                    candidates.union(
                        UnionType::Distinct,
                        subquery("users", "id").and_where(Expr::col(("users", "id")).eq(id)).to_owned(),
                    );
                }
                Condition::all().add(Expr::col(("users", "id")).in_subquery(candidates))
            }
            KeywordPlan::PerRow => {
                let mut any = Condition::any().add(prefix_range(Expr::col(("users", "name_key")), lower));
                for key in &self.login_keys {
                    let ident = Query::select()
                        .expr(Expr::val(1))
                        .from_as("identities", "kw_i")
                        .and_where(Expr::col(("kw_i", "user_id")).equals(("users", "id")))
                        .cond_where(prefix_range(Expr::col(("kw_i", "unique_key")), key))
                        .to_owned();
                    any = any.add(Expr::exists(ident));
                }
                if let Some(id) = self.exact_id {
                    any = any.add(Expr::col(("users", "id")).eq(id));
                }
                any
            }
        }
    }
}

/// `%text%` with LIKE's wildcards escaped by a backslash, PostgreSQL's default escape
/// character.
pub(in crate::service) fn contains_pattern(text: &str) -> String {
    let mut p = String::with_capacity(text.len() + 2);
    p.push('%');
    for c in text.chars() {
        if matches!(c, '\\' | '%' | '_') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    p
}

/// `lo <= col < hi` for every string that starts with `prefix`, on a byte-wise collation.
fn prefix_range(column: Expr, prefix: &str) -> Condition {
    let hi = format!("{prefix}\u{10FFFF}");
    Condition::all().add(column.clone().gte(prefix.to_owned())).add(column.lt(hi))
}

/// `SELECT table.select FROM table`.
pub(in crate::service) fn subquery(table: &'static str, select: &'static str) -> SelectStatement {
    Query::select().column((table, select)).from(table).to_owned()
}
