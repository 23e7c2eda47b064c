//! The export's reads on a SQLite file: the same statements as the sqlx path
//! ([`Queries`]), run on one blocking thread with a connection of its own inside one read
//! transaction (one WAL snapshot for the whole file), with each row turned into its model
//! where SQLite hands it out. Batches go to the serialising task as on the other path.

use sea_orm::{DbBackend, QueryTrait};
use tokio::sync::mpsc;
use uuid::Uuid;

use super::stream::{Batch, Queries};
use crate::service::Result;
use crate::service::store::direct_rows::{all, authenticators_of, identities_of, keys_of, users_of};
use crate::service::store::direct_sqlite::{DirectSqlite, read_error};

/// Reads every batch of `queries` and sends it to `out`; stops early, without error, when
/// the receiving side has gone.
pub(super) fn read(direct: &DirectSqlite, queries: &Queries, out: &mpsc::Sender<Batch>) -> Result<()> {
    let conn = direct.open_reader()?;
    conn.execute_batch("BEGIN").map_err(read_error)?;
    let mut last: Option<Uuid> = None;
    loop {
        let users = all(&conn, queries.users(last).build(DbBackend::Sqlite), users_of)?;
        let Some(tail) = users.last() else { break };
        last = Some(tail.id);
        let range = queries.range(&users);
        let ids: Vec<Uuid> = users.iter().map(|u| u.id).collect();
        let identities = all(&conn, queries.identities(&ids, range).build(DbBackend::Sqlite), identities_of)?;
        let authenticators =
            all(&conn, queries.authenticators(&ids, range).build(DbBackend::Sqlite), authenticators_of)?;
        let roles = all(&conn, DbBackend::Sqlite.build(&queries.roles(&ids, range)), keys_of)?;
        let groups = all(&conn, DbBackend::Sqlite.build(&queries.groups(&ids, range)), keys_of)?;
        let full = queries.full(users.len());
        let next = Batch::new(users, identities, authenticators, roles, groups);
        if out.blocking_send(next).is_err() {
            return Ok(());
        }
        if !full {
            break;
        }
    }
    conn.execute_batch("COMMIT").map_err(read_error)?;
    Ok(())
}
