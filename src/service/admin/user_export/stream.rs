//! The export stream: a task walks the matching users in ID order, a batch at a time,
//! inside one read transaction (REPEATABLE READ on PostgreSQL; a WAL snapshot on SQLite),
//! loads the batch's identities, authenticators, roles and groups with one query each,
//! serialises the batch into one chunk and hands it over a channel of two chunks. A slow
//! reader therefore holds back the database reads, and memory stays at a few batches
//! whatever the number of users. A reader that goes away stops the task.

use std::collections::HashMap;

use futures::StreamExt;
use futures::stream::BoxStream;
use sea_orm::sea_query::{Expr, ExprTrait, Order, Query};
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

/// Starts the task that streams `request`; the stream yields the file chunk by chunk.
pub(super) fn spawn(services: Services, request: ExportRequest) -> BoxStream<'static, Result<Vec<u8>>> {
    let (tx, rx) = mpsc::channel::<Result<Vec<u8>>>(CHANNEL_CHUNKS);
    tokio::spawn(async move {
        if let Err(e) = run(&services, &request, &tx).await {
            if let Error::Internal(cause) = &e {
                tracing::error!(cause = %cause.chain(), "a user export failed while streaming");
            }
            let _ = tx.send(Err(e)).await;
        }
    });
    futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|item| (item, rx)) }).boxed()
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
    ids: &[Uuid],
) -> Result<Vec<(Uuid, String)>> {
    let q = Query::select()
        .column((link, "user_id"))
        .column((table, "key"))
        .from(link)
        .inner_join(table, Expr::col((table, "id")).equals((link, fk)))
        .and_where(Expr::col((link, "user_id")).is_in(ids.to_vec()))
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

async fn run(services: &Services, request: &ExportRequest, tx: &mpsc::Sender<Result<Vec<u8>>>) -> Result<()> {
    let filter = UserFilter {
        keyword: request.search_keyword.clone(),
        role_keys: request.role_keys.clone(),
        group_keys: request.group_keys.clone(),
        is_disabled: request.is_disabled,
        ..Default::default()
    };
    let users_handle = services.users();
    let plan = users_handle.keyword_plan(&filter).await?;
    let condition = crate::service::admin::user_search::condition(&filter, plan);
    let batch = services.config.user_export.batch_size;
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
    let txn = snapshot(services).await?;
    let mut last: Option<Uuid> = None;
    let mut chunk_hint = 0;
    loop {
        let mut q = user::Entity::find().filter(condition.clone());
        if let Some(last) = last {
            q = q.filter(Expr::col((user::Entity, user::Column::Id)).gt(last));
        }
        let users = q.order_by_asc(user::Column::Id).limit(batch).all(&txn).await?;
        let Some(tail) = users.last() else { break };
        last = Some(tail.id);
        let ids: Vec<Uuid> = users.iter().map(|u| u.id).collect();
        let identities = identity::Entity::find()
            .filter(Expr::col(identity::Column::UserId).is_in(ids.clone()))
            .order_by_asc(identity::Column::Id)
            .all(&txn)
            .await?;
        let identities = by_user(identities, |i| i.user_id);
        let mut auth_query = authenticator::Entity::find()
            .filter(Expr::col(authenticator::Column::UserId).is_in(ids.clone()))
            .order_by_asc(authenticator::Column::Id);
        if !request.include_password_hashes {
            auth_query = auth_query.filter(Expr::col(authenticator::Column::Kind).ne("password"));
        }
        let authenticators = by_user(auth_query.all(&txn).await?, |a| a.user_id);
        let roles = by_user(keys(&txn, "user_roles", "roles", "role_id", &ids).await?, |r| r.0);
        let groups = by_user(keys(&txn, "user_groups", "groups", "group_id", &ids).await?, |r| r.0);
        let mut out = Vec::with_capacity(chunk_hint);
        for u in &users {
            let rec = record::build(
                &cx,
                u,
                identities.get(&u.id).map(Vec::as_slice).unwrap_or_default(),
                authenticators.get(&u.id).map(Vec::as_slice).unwrap_or_default(),
                keys_of(&roles, u.id),
                keys_of(&groups, u.id),
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
        let full = users.len() as u64 == batch;
        if tx.send(Ok(out)).await.is_err() {
            // The reader went away (a closed connection): stop reading.
            return Ok(());
        }
        if !full {
            break;
        }
    }
    txn.commit().await?;
    Ok(())
}
