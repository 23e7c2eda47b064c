//! PostgreSQL: the common refresh (a first use of the current token of a rotating grant
//! that is live, of an enabled user, presented by its own client) read and written by one
//! statement for a whole batch of concurrent refreshes: the statement finds each grant with
//! its user and roles, moves the grant to its next token generation, records its last
//! access when it is due, and returns the grants it claimed. A refresh then costs its share
//! of one statement, instead of a read of its own and a share of the batch's write.
//!
//! A refresh the statement does not claim (a token that is not the grant's current one,
//! another client, a grant or user no longer allowed) takes the general path, which reads
//! the grant and says why; nothing was written for it.

use super::grant_row::{SessionGrant, session_grant_of, session_grant_query};
use super::user_status::disabled_at;
use crate::service::Db;
use crate::service::store::group_commit::{BatchError, GroupCommit};
use sea_orm::sea_query::{Condition, Expr, ExprTrait, PostgresQueryBuilder};
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use serde_json::json;
use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;
use uuid::Uuid;

/// One refresh to claim.
pub struct Claim {
    /// The grant.
    pub session_id: Uuid,
    /// The presented token's generation: the grant is claimed only while it is current.
    pub generation: i64,
    /// The client presenting it: the grant must be this client's.
    pub client_id: String,
    /// The application's refresh-token idle timeout, in seconds.
    pub idle_timeout: i64,
    /// The client's address, recorded with the grant's last access.
    pub ip: Option<String>,
}

const MAX_BATCH: usize = 256;

/// Batches in flight at once: while one waits for its commit (the WAL's flush), the next is
/// already on its way, so the requests of both keep the cores busy. Two batches never claim
/// the same token: the second waits for the first's row lock, then finds it rotated.
pub(super) const WRITERS: usize = 2;

/// A grant's last access is recorded at most this often (its idle timeout is counted in
/// days, so a minute's precision is plenty and saves a write per refresh).
pub(in crate::service) const TOUCH_EVERY_US: i64 = 60 * 1_000_000;

/// Sends claims to their group-commit writer (PostgreSQL only).
#[derive(Clone)]
pub struct ClaimBatcher(GroupCommit<Claim, Option<SessionGrant>>);

impl ClaimBatcher {
    /// Starts the writer tasks on `db`.
    pub fn start(db: Db) -> Self {
        Self(GroupCommit::start_with(db, MAX_BATCH, WRITERS, write))
    }

    /// The grant of `c` as it was before its rotation (committed), or `None` if the
    /// statement did not claim it.
    pub async fn claim(&self, c: Claim) -> crate::service::Result<Option<SessionGrant>> {
        self.0.submit(c).await
    }
}

/// The statement: `$1` the claims as a JSON array of `[grant, generation, client, idle_us,
/// ip, at]` (grants distinct; `at` now in UTC micros), `$2` the same now, for the writes.
/// Each grant is looked up on its own (a lateral subquery with `LIMIT 1`, so the planner
/// cannot turn the batch into a scan of the sessions), and the update finds its rows by the
/// addresses the look-up read (`ctid = ANY`, a TID scan whatever the statistics: a generic
/// plan made while the table was small on a new database would otherwise go on scanning it
/// as it grew). Should another statement have changed a row since the look-up, PostgreSQL
/// re-checks the update's conditions on the newest version: a grant revoked or rotated
/// meanwhile is left alone. The statement runs on a connection that plans no sequential
/// scan ([`Db::keyed_writer`]). The conditions read the time from the JSON, not from `$2`,
/// so no estimate depends on a parameter's value: after its first five executions on a
/// connection PostgreSQL keeps one generic plan for the prepared statement.
///
/// The grant's last access is recorded at most once a minute ([`TOUCH_EVERY_US`]); the
/// rest of the row is its generation and when it moved, columns no index holds, so the
/// update is a heap-only tuple update that writes no index entry.
fn claim_sql() -> &'static str {
    static SQL: OnceLock<String> = OnceLock::new();
    SQL.get_or_init(|| {
        let claimable = Expr::cust(
            "\"sessions\".\"id\" = j.sid AND \"sessions\".\"refresh_generation\" = j.gen \
             AND \"sessions\".\"client_id\" = j.client AND \"sessions\".\"revoked_at\" IS NULL \
             AND \"sessions\".\"expires_at\" > j.at AND \"sessions\".\"last_accessed_at\" > j.at - j.idle_us",
        );
        // The user may sign in at `j.at` (the caller checks `User::is_disabled_at` again).
        let enabled = Condition::all()
            .add(Expr::col(("users", "is_deactivated")).eq(false))
            .add(disabled_at(Expr::cust("j.at")).not());
        let mut grant = session_grant_query(DbBackend::Postgres, Condition::all().add(claimable).add(enabled));
        grant.expr_as(Expr::cust("\"sessions\".ctid"), "s_ctid");
        let grant = grant.to_string(PostgresQueryBuilder);
        let due = format!("s.last_accessed_at < $2 - {TOUCH_EVERY_US}");
        format!(
            "WITH j AS (SELECT (v->>0)::uuid AS sid, (v->>1)::bigint AS gen, v->>2 AS client, \
             (v->>3)::bigint AS idle_us, v->>4 AS ip, (v->>5)::bigint AS at \
             FROM jsonb_array_elements($1::jsonb) AS v), \
             c AS (SELECT j.gen, j.ip, j.at, g.* FROM j CROSS JOIN LATERAL ({grant} LIMIT 1) AS g), \
             r AS (UPDATE sessions AS s SET refresh_generation = s.refresh_generation + 1, refresh_rotated_at = $2, \
             last_accessed_at = CASE WHEN {due} THEN $2 ELSE s.last_accessed_at END, \
             last_accessed_by_ip = CASE WHEN {due} THEN (SELECT c.ip FROM c WHERE c.s_id = s.id LIMIT 1) \
             ELSE s.last_accessed_by_ip END \
             WHERE s.ctid = ANY(ARRAY(SELECT c.s_ctid FROM c)) AND s.revoked_at IS NULL \
             AND s.refresh_generation = (SELECT c.gen FROM c WHERE c.s_id = s.id LIMIT 1) RETURNING s.id) \
             SELECT c.* FROM c WHERE c.s_id IN (SELECT id FROM r)"
        )
    })
}

async fn write(db: Db, jobs: Vec<Claim>) -> Result<Vec<Option<SessionGrant>>, BatchError> {
    let at = super::time::micros(super::time::now());
    let mut seen = HashSet::new();
    let mut rows = Vec::with_capacity(jobs.len());
    for j in &jobs {
        // A grant presented twice in one batch: the second is a retry, for the general path.
        if seen.insert(j.session_id) {
            let idle_us = j.idle_timeout.saturating_mul(1_000_000);
            rows.push(json!([j.session_id, j.generation, j.client_id, idle_us, j.ip, at]));
        }
    }
    let stmt = Statement::from_sql_and_values(
        DbBackend::Postgres,
        claim_sql(),
        [serde_json::Value::Array(rows).into(), at.into()],
    );
    let conn = db.keyed_writer().await.map_err(BatchError::new)?;
    let mut claimed: HashMap<Uuid, SessionGrant> = HashMap::new();
    match conn.query_all_raw(stmt).await {
        Ok(result) => {
            let grants = match super::pg_rows::read_all(&result, super::pg_rows::session_grants_of) {
                Some(read) => read.map_err(|e| BatchError::new(sea_orm::DbErr::Custom(e.describe())))?,
                None => result.iter().map(session_grant_of).collect::<Result<_, _>>().map_err(BatchError::new)?,
            };
            for grant in grants {
                claimed.insert(grant.0.id, grant);
            }
        }
        // One statement: nothing of it was written, and every refresh of the batch can take
        // the general path, which reports its own errors.
        Err(e) => tracing::warn!(error = %e, "claiming refresh grants failed; they take the general path"),
    }
    Ok(jobs.iter().map(|j| claimed.remove(&j.session_id)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::TransactionTrait;

    /// A fresh, migrated PostgreSQL database, or `None` when no test database is named.
    async fn fresh_postgres() -> Option<Db> {
        let admin_url = std::env::var("AUTHGRAPH_TEST_DATABASE_URL").ok().filter(|u| !u.is_empty())?;
        let name = format!("agtest_{}", Uuid::now_v7().simple());
        let admin = sea_orm::Database::connect(admin_url.as_str()).await.expect("connect to PostgreSQL");
        admin.execute_unprepared(&format!("CREATE DATABASE {name}")).await.expect("create the database");
        admin.close().await.ok();
        let (base, _) = admin_url.rsplit_once('/').expect("the URL names a database");
        let db = Db::connect(&format!("{base}/{name}"), 4, 1024).await.expect("connect");
        db.migrate().await.expect("migrate");
        Some(db)
    }

    /// The plan a claim writer's connection keeps for the claim statement, made while the
    /// tables are empty (as on a new database), finds every row by its key or its address:
    /// no sequential scan, which would go on scanning the tokens' table as it grew.
    #[tokio::test]
    async fn the_claims_generic_plan_on_empty_tables_scans_no_table() {
        let Some(db) = fresh_postgres().await else { return };
        let crate::service::store::connections::WriteConn::Pool(keyed) = db.keyed_writer().await.expect("writer")
        else {
            panic!("PostgreSQL's writer is a pool");
        };
        let txn = keyed.begin().await.expect("begin");
        txn.execute_unprepared(&format!("PREPARE claim(jsonb, bigint) AS {}", claim_sql())).await.expect("prepare");
        txn.execute_unprepared("SET LOCAL plan_cache_mode = force_generic_plan").await.expect("set");
        let rows = txn
            .query_all_raw(Statement::from_string(DbBackend::Postgres, "EXPLAIN (COSTS OFF) EXECUTE claim('[]', 0)"))
            .await
            .expect("explain");
        let plan: Vec<String> = rows.iter().map(|r| r.try_get_by_index::<String>(0).expect("a plan line")).collect();
        let plan = plan.join("\n");
        assert!(!plan.contains("Seq Scan"), "the claim's generic plan scans a table:\n{plan}");
        assert!(plan.contains("Tid Scan on sessions"), "the rotation finds its grants by address:\n{plan}");
        txn.rollback().await.expect("rollback");
    }
}
