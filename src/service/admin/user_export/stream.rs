//! The export stream: a task walks the matching users in ID order, a batch at a time,
//! inside one read transaction (REPEATABLE READ on PostgreSQL; a WAL snapshot on SQLite),
//! and loads the batch's identities, authenticators, roles and groups with one query each;
//! a second task serialises each batch into one chunk and hands it over a channel of two
//! chunks. A slow reader therefore holds back the database reads, and memory stays at a
//! few batches whatever the number of users. A reader that goes away stops both tasks.

use std::collections::HashMap;

use futures::StreamExt;
use futures::stream::BoxStream;
use sea_orm::sea_query::{Condition, Expr, ExprTrait, Order, Query};
use sea_orm::{
    AccessMode, ConnectionTrait, DatabaseTransaction, DbBackend, EntityTrait, IsolationLevel, QueryFilter, QueryOrder,
    QuerySelect, Statement, TransactionTrait,
};
use tokio::sync::mpsc;
use uuid::Uuid;

use super::record;
use crate::domain::user_export::{ExportFormat, ExportRequest, write_csv_row};
use crate::service::admin::user_search::UserFilter;
use crate::service::{Error, Result, Services};
use entity::{authenticator, identity, user};

/// Chunks in flight between the reading task and the response.
const CHANNEL_CHUNKS: usize = 2;

/// Starts the tasks that stream `request`; the stream yields the file chunk by chunk. One
/// task reads batches from the database, another turns them into bytes, so reading the
/// next batch overlaps serialising the last.
pub(super) fn spawn(services: Services, request: ExportRequest) -> BoxStream<'static, Result<Vec<u8>>> {
    let (tx, rx) = mpsc::channel::<Result<Vec<u8>>>(CHANNEL_CHUNKS);
    let (batches_tx, batches_rx) = mpsc::channel::<Batch>(1);
    let reader = {
        let (services, request) = (services.clone(), request.clone());
        tokio::spawn(async move { read(&services, &request, &batches_tx).await })
    };
    tokio::spawn(async move {
        // The writer ends when the reader does (or the reader's channel closes), so the
        // reader's outcome is known before the stream ends: a failed read ends it with
        // an error, never cleanly.
        let outcome = match write(&services, &request, batches_rx, &tx).await {
            Ok(()) => reader.await.unwrap_or_else(|e| Err(Error::internal(format!("the export reader: {e}")))),
            Err(e) => Err(e),
        };
        if let Err(e) = outcome {
            if let Error::Internal(cause) = &e {
                tracing::error!(cause = %cause.chain(), "a user export failed while streaming");
            }
            let _ = tx.send(Err(e)).await;
        }
    });
    futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|item| (item, rx)) }).boxed()
}

/// One batch of users with what belongs to them.
pub(super) struct Batch {
    pub(super) users: Vec<user::Model>,
    pub(super) identities: HashMap<Uuid, Vec<identity::Model>>,
    pub(super) authenticators: HashMap<Uuid, Vec<authenticator::Model>>,
    pub(super) roles: HashMap<Uuid, Vec<(Uuid, String)>>,
    pub(super) groups: HashMap<Uuid, Vec<(Uuid, String)>>,
}

impl Batch {
    /// A batch of users with the rows of theirs, grouped by user.
    pub(super) fn new(
        users: Vec<user::Model>,
        identities: Vec<identity::Model>,
        authenticators: Vec<authenticator::Model>,
        roles: Vec<(Uuid, String)>,
        groups: Vec<(Uuid, String)>,
    ) -> Self {
        Self {
            users,
            identities: by_user(identities, |i| i.user_id),
            authenticators: by_user(authenticators, |a| a.user_id),
            roles: by_user(roles, |r| r.0),
            groups: by_user(groups, |r| r.0),
        }
    }
}

/// Rows whose `column` is one of the batch's user IDs: an index range from the first to
/// the last ID when every user is exported (the batch is then every user in that range),
/// otherwise the list of IDs.
fn of_users(column: (&'static str, &'static str), ids: &[Uuid], range: Option<(Uuid, Uuid)>) -> Condition {
    match range {
        Some((first, last)) => Condition::all().add(Expr::col(column).gte(first)).add(Expr::col(column).lte(last)),
        None => Condition::all().add(Expr::col(column).is_in(ids.to_vec())),
    }
}

/// Read transactions over one consistent snapshot: the first, and on PostgreSQL with a
/// pool of at least [`PARALLEL_MIN_POOL`] connections two more that share its snapshot
/// (`pg_export_snapshot`, as `pg_dump --jobs` does), so that a batch's look-ups run side
/// by side. PostgreSQL's execution, one query at a time, was the bound of the export.
/// Only one export at a time reads on three connections (the others on one), so that
/// exports waiting for their second connection never hold the whole pool between them; the
/// permit that says so comes back with the transactions and is held until the read ends.
async fn snapshots(
    services: &Services,
) -> Result<(Vec<DatabaseTransaction>, Option<tokio::sync::OwnedSemaphorePermit>)> {
    let conn = &services.db.conn;
    if conn.get_database_backend() != DbBackend::Postgres {
        return Ok((vec![conn.begin().await?], None));
    }
    let begin = || conn.begin_with_config(Some(IsolationLevel::RepeatableRead), Some(AccessMode::ReadOnly));
    let wide =
        (services.config.database_max_connections >= PARALLEL_MIN_POOL).then(|| services.db.try_wide_read()).flatten();
    let first = begin().await?;
    if wide.is_none() {
        return Ok((vec![first], None));
    }
    let id: String =
        match first.query_one_raw(Statement::from_string(DbBackend::Postgres, "SELECT pg_export_snapshot()")).await? {
            Some(row) => row.try_get_by_index(0)?,
            None => return Err(Error::internal("pg_export_snapshot returned no row")),
        };
    // An identifier PostgreSQL made (hex digits and dashes); checked all the same, since
    // `SET TRANSACTION SNAPSHOT` takes no parameter.
    if id.is_empty() || !id.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
        return Err(Error::internal(format!("an unexpected snapshot identifier {id:?}")));
    }
    let mut txns = vec![first];
    for _ in 0..2 {
        let t = begin().await?;
        t.execute_unprepared(&format!("SET TRANSACTION SNAPSHOT '{id}'")).await?;
        txns.push(t);
    }
    Ok((txns, wide))
}

/// The smallest PostgreSQL pool an export takes three connections of.
const PARALLEL_MIN_POOL: u32 = 6;

/// The query of the `(user_id, key)` pairs of the users' roles (`user_roles`) or groups
/// (`user_groups`), by key.
pub(super) fn keys_query(
    link: &'static str,
    table: &'static str,
    fk: &'static str,
    owners: Condition,
) -> sea_orm::sea_query::SelectStatement {
    Query::select()
        .column((link, "user_id"))
        .column((table, "key"))
        .from(link)
        .inner_join(table, Expr::col((table, "id")).equals((link, fk)))
        .cond_where(owners)
        .order_by((table, "key"), Order::Asc)
        .to_owned()
}

/// `(user_id, key)` pairs of [`keys_query`].
async fn keys(txn: &DatabaseTransaction, q: sea_orm::sea_query::SelectStatement) -> Result<Vec<(Uuid, String)>> {
    let mut out = Vec::new();
    for row in txn.query_all(&q).await? {
        out.push((row.try_get_by_index::<Uuid>(0)?, row.try_get_by_index::<String>(1)?));
    }
    Ok(out)
}

fn by_user<T>(rows: Vec<T>, user: impl Fn(&T) -> Uuid) -> HashMap<Uuid, Vec<T>> {
    let mut map: HashMap<Uuid, Vec<T>> = HashMap::new();
    for r in rows {
        map.entry(user(&r)).or_default().push(r);
    }
    map
}

/// The keys of `user` in a map of `(user_id, key)` pairs.
fn keys_of(map: &HashMap<Uuid, Vec<(Uuid, String)>>, user: Uuid) -> Vec<&str> {
    map.get(&user).map(|v| v.iter().map(|(_, k)| k.as_str()).collect()).unwrap_or_default()
}

/// The statements of one export: which users, in batches of how many, and what of them.
#[derive(Clone)]
pub(super) struct Queries {
    condition: Condition,
    everyone: bool,
    batch: u64,
    include_password_hashes: bool,
}

impl Queries {
    /// The next batch of users after `last`, by ID.
    pub(super) fn users(&self, last: Option<Uuid>) -> sea_orm::Select<user::Entity> {
        let mut q = user::Entity::find().filter(self.condition.clone());
        if let Some(last) = last {
            q = q.filter(Expr::col((user::Entity, user::Column::Id)).gt(last));
        }
        q.order_by_asc(user::Column::Id).limit(self.batch)
    }

    /// Whether a batch of `n` users was a full one (more may follow).
    pub(super) fn full(&self, n: usize) -> bool {
        n as u64 == self.batch
    }

    /// The ID range of a batch when every user is exported (the batch is then every user
    /// in that range), else `None` (rows are looked up by the batch's ID list).
    pub(super) fn range(&self, users: &[user::Model]) -> Option<(Uuid, Uuid)> {
        match (users.first(), users.last()) {
            (Some(head), Some(tail)) if self.everyone => Some((head.id, tail.id)),
            _ => None,
        }
    }

    /// The batch's identities, by ID.
    pub(super) fn identities(&self, ids: &[Uuid], range: Option<(Uuid, Uuid)>) -> sea_orm::Select<identity::Entity> {
        identity::Entity::find()
            .filter(of_users(("identities", "user_id"), ids, range))
            .order_by_asc(identity::Column::Id)
    }

    /// The batch's authenticators, by ID; passwords only with the hash option.
    pub(super) fn authenticators(
        &self,
        ids: &[Uuid],
        range: Option<(Uuid, Uuid)>,
    ) -> sea_orm::Select<authenticator::Entity> {
        let mut q = authenticator::Entity::find()
            .filter(of_users(("authenticators", "user_id"), ids, range))
            .order_by_asc(authenticator::Column::Id);
        if !self.include_password_hashes {
            q = q.filter(Expr::col(authenticator::Column::Kind).ne("password"));
        }
        q
    }

    /// The batch's `(user_id, role key)` pairs.
    pub(super) fn roles(&self, ids: &[Uuid], range: Option<(Uuid, Uuid)>) -> sea_orm::sea_query::SelectStatement {
        keys_query("user_roles", "roles", "role_id", of_users(("user_roles", "user_id"), ids, range))
    }

    /// The batch's `(user_id, group key)` pairs.
    pub(super) fn groups(&self, ids: &[Uuid], range: Option<(Uuid, Uuid)>) -> sea_orm::sea_query::SelectStatement {
        keys_query("user_groups", "groups", "group_id", of_users(("user_groups", "user_id"), ids, range))
    }
}

/// Reads the matching users batch by batch inside one snapshot and hands each batch on.
/// On a SQLite file the batches are read on a blocking thread with a connection of its
/// own ([`super::sqlite_read`]): sqlx's hand-off of every row was most of the export's cost.
async fn read(services: &Services, request: &ExportRequest, out: &mpsc::Sender<Batch>) -> Result<()> {
    let filter = UserFilter {
        keyword: request.search_keyword.clone(),
        role_keys: request.role_keys.clone(),
        group_keys: request.group_keys.clone(),
        is_disabled: request.is_disabled,
        ..Default::default()
    };
    let everyone = filter.keyword.as_deref().is_none_or(|k| k.trim().is_empty())
        && filter.role_keys.is_empty()
        && filter.group_keys.is_empty()
        && filter.is_disabled.is_none();
    let plan = services.users().keyword_plan(&filter).await?;
    let queries = Queries {
        condition: crate::service::admin::user_search::condition(&filter, plan, services.users().backend(), false),
        everyone,
        batch: services.config.user_export.batch_size,
        include_password_hashes: request.include_password_hashes,
    };
    if let Some(direct) = services.db.direct_sqlite() {
        let (direct, out) = (direct.clone(), out.clone());
        return tokio::task::spawn_blocking(move || super::sqlite_read::read(&direct, &queries, &out))
            .await
            .map_err(|e| Error::internal(format!("the export's SQLite reader: {e}")))?;
    }
    let (txns, _wide) = snapshots(services).await?;
    // The users of the next batch are read while the look-ups of this one run: three
    // streams of queries, on three connections when there are three.
    let (t0, t1, t2) = (&txns[0], txns.get(1).unwrap_or(&txns[0]), txns.get(2).unwrap_or(&txns[0]));
    let mut users = queries.users(None).all(t0).await?;
    while let Some(tail) = users.last() {
        let (last, full) = (tail.id, queries.full(users.len()));
        let range = queries.range(&users);
        let ids: Vec<Uuid> = users.iter().map(|u| u.id).collect();
        let (next, (identities, authenticators), (roles, groups)) = tokio::try_join!(
            async { if full { queries.users(Some(last)).all(t0).await.map_err(Error::from) } else { Ok(Vec::new()) } },
            async {
                let identities = queries.identities(&ids, range).all(t1).await?;
                Ok::<_, Error>((identities, queries.authenticators(&ids, range).all(t1).await?))
            },
            async {
                Ok::<_, Error>((
                    keys(t2, queries.roles(&ids, range)).await?,
                    keys(t2, queries.groups(&ids, range)).await?,
                ))
            },
        )?;
        let batch = Batch::new(std::mem::replace(&mut users, next), identities, authenticators, roles, groups);
        if out.send(batch).await.is_err() {
            // The writer stopped (the reader of the file went away): stop reading.
            return Ok(());
        }
    }
    for t in txns {
        t.commit().await?;
    }
    Ok(())
}

/// Turns batches into the file's bytes, one chunk per batch (CSV: the header first).
async fn write(
    services: &Services,
    request: &ExportRequest,
    mut batches: mpsc::Receiver<Batch>,
    tx: &mpsc::Sender<Result<Vec<u8>>>,
) -> Result<()> {
    let csv = match request.format {
        ExportFormat::Csv => {
            let headers = request.csv_headers().map_err(crate::domain::Invalid::from)?;
            let pointers: Vec<String> = request.csv_fields().into_iter().map(|f| f.pointer).collect();
            let mut head = Vec::new();
            write_csv_row(&mut head, &headers);
            if tx.send(Ok(head)).await.is_err() {
                return Ok(());
            }
            Some(pointers)
        }
        ExportFormat::Ndjson => None,
    };
    let decrypt = |sealed: &[u8]| services.master_key.decrypt(sealed).ok();
    let cx = record::Context {
        issuer: &services.config.ui.app_name,
        include_password_hashes: request.include_password_hashes,
        decrypt: &decrypt,
    };
    let mut chunk_hint = 0;
    while let Some(b) = batches.recv().await {
        let mut out = Vec::with_capacity(chunk_hint);
        for u in &b.users {
            let rec = record::build(
                &cx,
                u,
                b.identities.get(&u.id).map(Vec::as_slice).unwrap_or_default(),
                b.authenticators.get(&u.id).map(Vec::as_slice).unwrap_or_default(),
                keys_of(&b.roles, u.id),
                keys_of(&b.groups, u.id),
            );
            match &csv {
                None => {
                    serde_json::to_writer(&mut out, &rec).map_err(|e| Error::caused("export record", e))?;
                    out.push(b'\n');
                }
                Some(pointers) => {
                    let mut whole = None;
                    let cells: Vec<String> = pointers.iter().map(|p| rec.cell(p, &mut whole)).collect();
                    write_csv_row(&mut out, &cells);
                }
            }
        }
        chunk_hint = out.len() + out.len() / 8;
        if tx.send(Ok(out)).await.is_err() {
            // The reader of the file went away (a closed connection): stop.
            return Ok(());
        }
    }
    Ok(())
}
