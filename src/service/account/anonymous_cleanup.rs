//! The clean-up of abandoned anonymous users (`anonymous.delete_inactive_after_days`): an
//! app that was uninstalled leaves its anonymous user behind, with nobody to come back.

use crate::service::Maintenance;
use crate::service::store::time::{micros, now};
use crate::service::{Actor, Audit, Result};
use entity::{session, user};
use sea_orm::sea_query::{Expr, ExprTrait, Func, Query};
use sea_orm::{EntityTrait, QueryFilter, QuerySelect};

/// At most this many users are deleted per run (each in its own transaction).
const BATCH: u64 = 500;

impl Maintenance<'_> {
    /// Deletes anonymous users with no sign-in and no use of a live session for
    /// `anonymous.delete_inactive_after_days` days (none when 0), each audited as
    /// `user.deleted` by the system. Returns how many.
    pub async fn delete_abandoned_anonymous_users(&self) -> Result<u64> {
        let days = i64::from(self.config.anonymous.delete_inactive_after_days);
        if days == 0 {
            return Ok(0);
        }
        let cutoff = micros(now()) - days * 86_400 * 1_000_000;
        let recently_used = Query::select()
            .expr(Expr::val(1))
            .from(session::Entity)
            .and_where(Expr::col((session::Entity, session::Column::UserId)).equals((user::Entity, user::Column::Id)))
            .and_where(Expr::col((session::Entity, session::Column::RevokedAt)).is_null())
            .and_where(Expr::col((session::Entity, session::Column::LastAccessedAt)).gte(cutoff))
            .to_owned();
        let abandoned: Vec<uuid::Uuid> = user::Entity::find()
            .select_only()
            .column(user::Column::Id)
            .filter(Expr::col((user::Entity, user::Column::IsAnonymous)).eq(true))
            .filter(
                // `Func`, not a custom `COALESCE($1, $2)`: sea-query left that text as it
                // is, and `$1` and `$2` then named the query's first two bound values.
                Expr::expr(Func::coalesce([
                    Expr::col((user::Entity, user::Column::LastLoginAt)),
                    Expr::col((user::Entity, user::Column::CreatedAt)),
                ]))
                .lt(cutoff),
            )
            .filter(Expr::exists(recently_used).not())
            .limit(BATCH)
            .into_tuple()
            .all(&self.db.reader())
            .await?;
        let audit = Audit {
            actor: Actor {
                subject: Some("system".into()),
                triggered_by: crate::service::TriggeredBy::System,
                ..Actor::default()
            },
            activity: "user.deleted".into(),
        };
        let reason = format!("anonymous user inactive for {days} days");
        let mut n = 0;
        for id in abandoned {
            self.users().delete(&audit, id.into(), Some(reason.clone())).await?;
            n += 1;
        }
        Ok(n)
    }
}
