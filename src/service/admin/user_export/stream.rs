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
    QuerySelect, TransactionTrait,
};
use tokio::sync::mpsc;
use uuid::Uuid;

use super::record;
use crate::domain::user_export::{ExportFormat, ExportRequest, csv_cell, write_csv_row};
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
struct Batch {
    users: Vec<user::Model>,
    identities: HashMap<Uuid, Vec<identity::Model>>,
    authenticators: HashMap<Uuid, Vec<authenticator::Model>>,
    roles: HashMap<Uuid, Vec<(Uuid, String)>>,
    groups: HashMap<Uuid, Vec<(Uuid, String)>>,
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

/// A read transaction over one consistent snapshot.
async fn snapshot(services: &Services) -> Result<DatabaseTransaction> {
    let conn = &services.db.conn;
    Ok(match conn.get_database_backend() {
        DbBackend::Postgres => {
            conn.begin_with_config(Some(IsolationLevel::RepeatableRead), Some(AccessMode::ReadOnly)).await?
        }
        _ => conn.begin().await?,
    })
}

/// `(user_id, key)` pairs of the users' roles (`user_roles`) or groups (`user_groups`).
async fn keys(
    txn: &DatabaseTransaction,
    link: &'static str,
    table: &'static str,
    fk: &'static str,
    owners: Condition,
) -> Result<Vec<(Uuid, String)>> {
    let q = Query::select()
        .column((link, "user_id"))
        .column((table, "key"))
        .from(link)
        .inner_join(table, Expr::col((table, "id")).equals((link, fk)))
        .cond_where(owners)
        .order_by((table, "key"), Order::Asc)
        .to_owned();
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

/// Reads the matching users batch by batch inside one snapshot and hands each batch on.
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
    let condition = crate::service::admin::user_search::condition(&filter, plan, services.users().backend());
    let batch = services.config.user_export.batch_size;
    let txn = snapshot(services).await?;
    let mut last: Option<Uuid> = None;
    loop {
        let mut q = user::Entity::find().filter(condition.clone());
        if let Some(last) = last {
            q = q.filter(Expr::col((user::Entity, user::Column::Id)).gt(last));
        }
        let users = q.order_by_asc(user::Column::Id).limit(batch).all(&txn).await?;
        let (Some(head), Some(tail)) = (users.first(), users.last()) else { break };
        let range = everyone.then_some((head.id, tail.id));
        last = Some(tail.id);
        let ids: Vec<Uuid> = users.iter().map(|u| u.id).collect();
        let identities = identity::Entity::find()
            .filter(of_users(("identities", "user_id"), &ids, range))
            .order_by_asc(identity::Column::Id)
            .all(&txn)
            .await?;
        let mut auth_query = authenticator::Entity::find()
            .filter(of_users(("authenticators", "user_id"), &ids, range))
            .order_by_asc(authenticator::Column::Id);
        if !request.include_password_hashes {
            auth_query = auth_query.filter(Expr::col(authenticator::Column::Kind).ne("password"));
        }
        let authenticators = auth_query.all(&txn).await?;
        let roles =
            keys(&txn, "user_roles", "roles", "role_id", of_users(("user_roles", "user_id"), &ids, range)).await?;
        let groups =
            keys(&txn, "user_groups", "groups", "group_id", of_users(("user_groups", "user_id"), &ids, range)).await?;
        let full = users.len() as u64 == batch;
        let next = Batch {
            users,
            identities: by_user(identities, |i| i.user_id),
            authenticators: by_user(authenticators, |a| a.user_id),
            roles: by_user(roles, |r| r.0),
            groups: by_user(groups, |r| r.0),
        };
        if out.send(next).await.is_err() {
            // The writer stopped (the reader of the file went away): stop reading.
            return Ok(());
        }
        if !full {
            break;
        }
    }
    txn.commit().await?;
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
                    let value = serde_json::to_value(&rec).map_err(|e| Error::caused("export record", e))?;
                    let cells: Vec<String> = pointers.iter().map(|p| csv_cell(&value, p)).collect();
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
