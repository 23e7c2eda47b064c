//! The users list: keyword search, role/group/status filters, keyset paging.

use crate::domain::ids::{GroupId, RoleId, TypedId, UserId};
use crate::domain::login_id::LoginId;
use crate::domain::reason;
use crate::domain::text::quoted;
use crate::domain::text::{check_list, check_text};
use crate::service::Users;
use crate::service::admin::trigram_stats::{Span, has_symbol, symbols_only};
use crate::service::admin::user_keyword::{Keyword, KeywordPlan, subquery};
use crate::service::admin::user_search_pg_lookup::Lookup;
use crate::service::admin::users::User;
use crate::service::store::built_once::BuiltOnce;
use crate::service::store::paging::{Cursor, Keyset, Page, PageArgs, Plan, SortKind};
use crate::service::store::time::{micros, now};
use crate::service::store::user_status::disabled_at;
use crate::service::{Error, Result};
use entity::{identity, user};
use sea_orm::sea_query::{Condition, Expr, ExprTrait, Query};
use sea_orm::{ConnectionTrait, DbBackend, EntityTrait, PaginatorTrait, QueryFilter};
use uuid::Uuid;

/// What the users list is sorted by.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum UserSort {
    /// Creation time.
    #[default]
    CreatedAt,
    /// Last login time (users who never logged in come last).
    LastLoginAt,
}

/// Filters of the users list.
#[derive(Debug, Clone, Default)]
pub struct UserFilter {
    /// Matches a user ID or an identity's key exactly; with three or more characters, a
    /// substring of a login ID (email, username, phone number) or name through the trigram
    /// index; with fewer, a prefix of an identity's key or name; case-insensitively.
    pub keyword: Option<String>,
    /// Users having all these roles (directly or through a group).
    pub role_keys: Vec<String>,
    /// Users in all these groups.
    pub group_keys: Vec<String>,
    /// Disabled (true) or enabled (false) users at the time of the query.
    pub is_disabled: Option<bool>,
    /// Users with this role assigned directly.
    pub direct_role: Option<RoleId>,
    /// Users in this group.
    pub direct_group: Option<GroupId>,
    /// Sort key.
    pub sort: UserSort,
    /// Ascending order (default descending).
    pub ascending: bool,
}

impl UserFilter {
    /// Whether the keyword is the only filter.
    fn only_keyword(&self) -> bool {
        self.role_keys.is_empty()
            && self.group_keys.is_empty()
            && self.is_disabled.is_none()
            && self.direct_role.is_none()
            && self.direct_group.is_none()
    }
}

fn has_role(key: &str) -> Condition {
    let direct = subquery("user_roles", "user_id")
        .inner_join("roles", Expr::col(("roles", "id")).equals(("user_roles", "role_id")))
        .and_where(Expr::col(("roles", "key")).eq(key))
        .to_owned();
    let via_group = subquery("user_groups", "user_id")
        .inner_join("group_roles", Expr::col(("group_roles", "group_id")).equals(("user_groups", "group_id")))
        .inner_join("roles", Expr::col(("roles", "id")).equals(("group_roles", "role_id")))
        .and_where(Expr::col(("roles", "key")).eq(key))
        .to_owned();
    Condition::any()
        .add(Expr::col(("users", "id")).in_subquery(direct))
        .add(Expr::col(("users", "id")).in_subquery(via_group))
}

fn in_group(key: &str) -> Expr {
    let q = subquery("user_groups", "user_id")
        .inner_join("groups", Expr::col(("groups", "id")).equals(("user_groups", "group_id")))
        .and_where(Expr::col(("groups", "key")).eq(key))
        .to_owned();
    Expr::col(("users", "id")).in_subquery(q)
}

/// The filters of `f` as one condition on `users` (the export walks users with it too);
/// `symbol_rows`: see [`Keyword::among_symbol_rows`].
pub(in crate::service) fn condition(
    f: &UserFilter,
    plan: KeywordPlan,
    backend: DbBackend,
    symbol_rows: bool,
) -> Condition {
    let mut cond = Condition::all();
    if let Some(kw) = Keyword::parse(f.keyword.as_deref()) {
        cond = cond.add(kw.among_symbol_rows(symbol_rows).condition(plan, backend));
    }
    for key in &f.role_keys {
        cond = cond.add(has_role(key));
    }
    for key in &f.group_keys {
        cond = cond.add(in_group(key));
    }
    if let Some(wanted) = f.is_disabled {
        let disabled = disabled_at(Expr::val(micros(now())));
        cond = cond.add(if wanted { disabled } else { disabled.not() });
    }
    if let Some(role) = f.direct_role {
        let q = subquery("user_roles", "user_id").and_where(Expr::col(("user_roles", "role_id")).eq(role)).to_owned();
        cond = cond.add(Expr::col(("users", "id")).in_subquery(q));
    }
    if let Some(group) = f.direct_group {
        let q =
            subquery("user_groups", "user_id").and_where(Expr::col(("user_groups", "group_id")).eq(group)).to_owned();
        cond = cond.add(Expr::col(("users", "id")).in_subquery(q));
    }
    cond
}

impl Users<'_> {
    /// Lists users matching `f`.
    pub async fn list(&self, f: &UserFilter, args: &PageArgs) -> Result<Page<User>> {
        let plan = args.plan()?;
        check_text("searchKeyword", f.keyword.as_deref().unwrap_or(""))?;
        check_list("roleKeys", f.role_keys.len())?;
        check_list("groupKeys", f.group_keys.len())?;
        let column = match f.sort {
            UserSort::CreatedAt => "created_at",
            UserSort::LastLoginAt => "last_login_at",
        };
        let ks = Keyset {
            table: "users",
            column,
            desc: !f.ascending,
            nullable: f.sort == UserSort::LastLoginAt,
            kind: SortKind::Time,
        };
        let mut models = None;
        let keyword = Keyword::parse(f.keyword.as_deref());
        if let Some(kw) = keyword.as_ref().filter(|_| f.sort == UserSort::CreatedAt && f.only_keyword()) {
            models = match self.backend() {
                DbBackend::Postgres => self.search_in_creation_order_pg(kw, &ks, &plan).await?,
                _ => self.search_in_creation_order(kw, &ks, &plan).await?,
            };
        }
        if models.is_none() && self.keyword_plan(f).await? == KeywordPlan::PerRow {
            // A broad keyword: test each row while walking users in sort order, but only
            // the next `search_walk_window` of them, as a range of the sort index that
            // ends before the row just past the window: the walk stops at a full page.
            // Matches spread over time fill a page at once; matches clustered elsewhere
            // fall through to the candidate-set plan below, so neither shape of data
            // makes the walk cover the whole table.
            let walk = std::cmp::max(self.config.admin_api.search_walk_window, plan.limit + 1);
            let edge = self.walk_edge(&ks, &plan, walk).await?;
            let mut walk_plan = plan.clone();
            match (&edge, plan.backward) {
                (Some(c), false) => walk_plan.before = Some(c.clone()),
                (Some(c), true) => walk_plan.after = Some(c.clone()),
                (None, _) => {}
            }
            let cond = condition(f, KeywordPlan::PerRow, self.backend(), false);
            let found = self.db.select_users(ks.apply(user::Entity::find().filter(cond), &walk_plan)?, false).await?;
            // A full page, or every match when the window reached the end of the list.
            if found.len() as u64 > plan.limit || edge.is_none() {
                models = Some(found);
            }
        }
        let models = match models {
            Some(m) => m,
            None => {
                let symbols = self.pg_symbol_rows(keyword.as_ref());
                let cond = condition(f, KeywordPlan::Candidates, self.backend(), symbols);
                let q = ks.apply(user::Entity::find().filter(cond), &plan)?;
                // With no condition at all, the page is a range of the sort index.
                let bounded = keyword.is_none() && f.only_keyword();
                self.db.select_users(q, bounded).await?
            }
        };
        let rows: Vec<User> = models.into_iter().map(User::from).collect();
        let sort = f.sort;
        Ok(ks.finish(&plan, rows, |u| {
            let value = match sort {
                UserSort::CreatedAt => Some(u.created_at),
                UserSort::LastLoginAt => u.last_login_at,
            };
            Cursor::time(value, u.id.uuid())
        }))
    }

    /// The cursor of the row `walk` rows beyond the page's start in the page's direction
    /// (the first row a walk of `walk` rows does not reach), or `None` when the list ends
    /// sooner. One short scan of the sort index.
    async fn walk_edge(&self, ks: &Keyset, plan: &Plan, walk: u64) -> Result<Option<Cursor>> {
        let mut q =
            Query::select().column(("users", "id")).expr(Expr::col(("users", ks.column))).from("users").to_owned();
        ks.apply_stmt(&mut q, &Plan { limit: 0, ..plan.clone() })?;
        q.offset(walk);
        let Some(row) = self.db.reader().query_one(&q).await? else {
            return Ok(None);
        };
        let id: Uuid = row.try_get_by_index(0)?;
        let value: Option<i64> = row.try_get_by_index(1)?;
        Ok(Some(Cursor { list: ks.tag(), kind: SortKind::Time, value: value.map(|v| v.to_string()), id }))
    }

    /// Picks the keyword plan by counting matches up to `admin_api.search_broad_threshold`
    /// (index scans that stop early, so this costs little even for one letter).
    pub(in crate::service) async fn keyword_plan(&self, f: &UserFilter) -> Result<KeywordPlan> {
        let Some(kw) = Keyword::parse(f.keyword.as_deref()) else {
            return Ok(KeywordPlan::Candidates);
        };
        let symbols = self.pg_symbol_rows(Some(&kw));
        let kw = kw.among_symbol_rows(symbols);
        let threshold = self.config.admin_api.search_broad_threshold;
        let mut matches = 0;
        for probe in kw.probes(self.backend(), threshold + 1) {
            matches += self.db.count_rows(probe).await?;
        }
        Ok(if matches > threshold { KeywordPlan::PerRow } else { KeywordPlan::Candidates })
    }

    /// The database's kind (the keyword's SQL differs).
    pub(in crate::service) fn backend(&self) -> DbBackend {
        self.db.reader().get_database_backend()
    }

    /// Counts users matching `f`.
    pub async fn count(&self, f: &UserFilter) -> Result<u64> {
        let symbols = self.pg_symbol_rows(Keyword::parse(f.keyword.as_deref()).as_ref());
        Ok(user::Entity::find()
            .filter(condition(f, KeywordPlan::Candidates, self.backend(), symbols))
            .count(&self.db.reader())
            .await?)
    }

    /// PostgreSQL: whether a substring keyword with a symbol is sought among the rows that
    /// hold one (their partial indexes, migration `m20261212_000000_search_symbol_rows`)
    /// rather than through the trigram indexes: where the sample says those rows are
    /// fewer than the trigram indexes' candidates, as step 2 of a search in creation order
    /// decides. Before the first sample is taken, only for a keyword that gives the
    /// trigram indexes nothing to look up.
    fn pg_symbol_rows(&self, kw: Option<&Keyword>) -> bool {
        let Some(kw) = kw.filter(|k| k.is_substring() && has_symbol(k.lower())) else { return false };
        if self.backend() != DbBackend::Postgres {
            return false;
        }
        let all = Span { from: None, to: None, newest_first: true };
        match self.trigram_stats.get(&self.db.reader()) {
            Some(s) => Lookup::of(kw, Some(&s), all, 1).symbols,
            None => symbols_only(kw.lower()),
        }
    }

    /// Finds the user who owns a login ID (one statement: every sign-in starts here).
    pub async fn by_login_id(&self, key: &str, value: &str) -> Result<Option<User>> {
        let unique_key = LoginId::lookup_key(&self.config.login_id, key, value)?;
        let owner = Query::select()
            .column(identity::Column::UserId)
            .from(identity::Entity)
            .and_where(Expr::col(identity::Column::UniqueKey).eq(unique_key))
            // Only login IDs: another kind's key (a device key's ID) may read the same.
            .and_where(Expr::col(identity::Column::Kind).eq("login_id"))
            .to_owned();
        let found =
            user::Entity::find().filter(Expr::col(user::Column::Id).in_subquery(owner)).one(&self.db.reader()).await?;
        Ok(found.map(User::from))
    }

    /// The user who owns the `oauth` identity of provider `alias` and subject `subject`.
    pub async fn by_oauth(&self, alias: &str, subject: &str) -> Result<Option<User>> {
        let key = format!("{alias}:{subject}");
        let Some(ident) = crate::service::admin::identities::keyed_identity(
            &self.db.reader(),
            crate::service::admin::identities::OAUTH,
            &key,
        )
        .await?
        else {
            return Ok(None);
        };
        self.get(ident.user_id.into()).await
    }

    /// Finds users by `email`, `phone_number` or `preferred_username`.
    pub async fn by_standard_attribute(&self, name: &str, value: &str) -> Result<Vec<User>> {
        let key = match name {
            "email" => "email",
            "phone_number" => "phone",
            "preferred_username" => "username",
            other => {
                return Err(Error::invalid(
                    reason::GET_USERS_INVALID_ARGUMENT,
                    format!(
                        "attributeName {} is not supported: use email, phone_number or preferred_username",
                        quoted(other)
                    ),
                ));
            }
        };
        let unique_key = LoginId::lookup_key(&self.config.login_id, key, value)?;
        let ids = self.user_ids_by_unique_keys(&[unique_key]).await?;
        let mut users = self.lookups().users_by_ids(&ids).await?;
        users.sort_by_key(|u| u.created_at);
        Ok(users)
    }

    /// The users owning any of these login ID unique keys, read with the keys in one
    /// statement (a sign-in's lookup: the owner and its row at once). Only login IDs count,
    /// as in [`Self::user_ids_by_unique_keys`].
    pub(in crate::service) async fn users_by_unique_keys(&self, keys: &[String]) -> Result<Vec<User>> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let backend = self.db.reader().get_database_backend();
        let build = || {
            use sea_orm::QueryTrait;
            let owners = Query::select()
                .column(identity::Column::UserId)
                .from(identity::Entity)
                .cond_where(login_ids(keys))
                .to_owned();
            user::Entity::find().filter(Expr::col((user::Entity, user::Column::Id)).in_subquery(owners)).build(backend)
        };
        // The sign-in's lookup: its text is kept for the usual few keys.
        static BY_KEYS: [BuiltOnce; 4] = [BuiltOnce::new(), BuiltOnce::new(), BuiltOnce::new(), BuiltOnce::new()];
        let stmt = match keys.len().checked_sub(1).and_then(|i| BY_KEYS.get(i)) {
            Some(once) => {
                let values = keys.iter().map(|k| sea_orm::Value::from(k.as_str())).chain(["login_id".into()]).collect();
                once.statement(backend, values, build)
            }
            None => build(),
        };
        let rows = self.db.users_of_statement(stmt, true).await?;
        Ok(rows.into_iter().map(User::from).collect())
    }

    /// IDs of users owning any of these login ID unique keys (only login IDs: an
    /// anonymous identity's key ID is no login ID, even if it looks like a username).
    pub(in crate::service) async fn user_ids_by_unique_keys(&self, keys: &[String]) -> Result<Vec<UserId>> {
        let rows = identity::Entity::find().filter(login_ids(keys)).all(&self.db.reader()).await?;
        let mut ids: Vec<Uuid> = rows.into_iter().map(|r| r.user_id).collect();
        ids.dedup();
        Ok(ids.into_iter().map(UserId::from).collect())
    }
}

/// The identities that are login IDs with one of these unique keys.
fn login_ids(keys: &[String]) -> Condition {
    Condition::all()
        .add(Expr::col(identity::Column::UniqueKey).is_in(keys.to_vec()))
        .add(Expr::col(identity::Column::Kind).eq("login_id"))
}
