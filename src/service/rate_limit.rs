//! Failure counters in fixed one-minute windows, stored in the database so that several
//! server processes share them. Checking is a read; only failures write.

use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{EntityTrait, QueryFilter, Set};

use super::types::now;
use super::{Result, Services};
use entity::rate_limit;

const WINDOW_SECONDS: i64 = 60;

fn window_start() -> i64 {
    let t = now().unix_timestamp();
    t - t.rem_euclid(WINDOW_SECONDS)
}

impl Services {
    /// Whether any `(bucket, limit)` already counted `limit` failures in this window
    /// (a limit of 0 is no limit). One query.
    pub(crate) async fn rate_limited(&self, limits: &[(&str, i64)]) -> Result<bool> {
        let active: Vec<&(&str, i64)> = limits.iter().filter(|(_, l)| *l > 0).collect();
        if active.is_empty() {
            return Ok(false);
        }
        let rows = rate_limit::Entity::find()
            .filter(Expr::col(rate_limit::Column::Bucket).is_in(active.iter().map(|(b, _)| (*b).to_owned())))
            .filter(Expr::col(rate_limit::Column::WindowStart).eq(window_start()))
            .all(&self.db.conn)
            .await?;
        Ok(rows.iter().any(|r| active.iter().any(|(b, l)| *b == r.bucket && r.count >= *l)))
    }

    /// Counts one failure in each bucket (a new window starts the count again).
    pub(crate) async fn count_failure(&self, buckets: &[String]) -> Result<()> {
        let start = window_start();
        let rows = buckets.iter().map(|b| rate_limit::ActiveModel {
            bucket: Set(b.clone()),
            window_start: Set(start),
            count: Set(1),
        });
        rate_limit::Entity::insert_many(rows)
            .on_conflict(
                OnConflict::column(rate_limit::Column::Bucket)
                    .value(
                        rate_limit::Column::Count,
                        Expr::cust(
                            "CASE WHEN \"rate_limits\".\"window_start\" = excluded.\"window_start\" \
                             THEN \"rate_limits\".\"count\" + 1 ELSE 1 END",
                        ),
                    )
                    .update_column(rate_limit::Column::WindowStart)
                    .to_owned(),
            )
            .exec(self.db.writer())
            .await?;
        Ok(())
    }

    /// Deletes counters of windows that have ended.
    pub(crate) async fn forget_old_counters(&self) -> Result<u64> {
        Ok(rate_limit::Entity::delete_many()
            .filter(Expr::col(rate_limit::Column::WindowStart).lt(window_start()))
            .exec(self.db.writer())
            .await?
            .rows_affected)
    }
}
