//! Whether a user may sign in, as SQL: the rule of `User::is_disabled_at`, for the
//! statements that filter users by it (the admin list's `isDisabled`, the refresh claims).

use sea_orm::sea_query::{Condition, Expr, ExprTrait};

/// `users` is disabled at `t` (UTC microseconds: a value, or an expression of the
/// statement): disabled indefinitely, within a temporary window, or outside its account's
/// validity period. A condition that is never NULL, so its negation is exact.
pub(in crate::service) fn disabled_at(t: Expr) -> Condition {
    let c = |name: &'static str| Expr::col(("users", name));
    Condition::any()
        .add(c("is_disabled").eq(true))
        .add(
            Condition::all()
                .add(c("temporarily_disabled_from").is_not_null())
                .add(c("temporarily_disabled_until").is_not_null())
                .add(c("temporarily_disabled_from").lte(t.clone()))
                .add(c("temporarily_disabled_until").gt(t.clone())),
        )
        .add(Condition::all().add(c("account_valid_from").is_not_null()).add(c("account_valid_from").gt(t.clone())))
        .add(Condition::all().add(c("account_valid_until").is_not_null()).add(c("account_valid_until").lte(t)))
}
