//! Which non-blocking events go to hooks. Authgear sends only events whose payload is
//! `ForHook` to `*` handlers: the user lifecycle (apart from signing out and ending
//! sessions), every identity event, and usage alerts. Failures, messaging, rate limits,
//! `m2m.token.created` and `admin_api.*` are audit-only there; here a handler may still
//! name one of them explicitly and receive it.

/// Whether `event_type` goes to handlers subscribed to `*`.
pub fn for_hook(event_type: &str) -> bool {
    const USER: &[&str] = &[
        "user.created",
        "user.profile.updated",
        "user.authenticated",
        "user.reauthenticated",
        "user.anonymous.promoted",
        "user.disabled",
        "user.reenabled",
        "user.deletion_scheduled",
        "user.deletion_unscheduled",
        "user.deleted",
        "user.anonymization_scheduled",
        "user.anonymization_unscheduled",
        "user.anonymized",
    ];
    USER.contains(&event_type) || event_type.starts_with("identity.") || event_type == "usage.alert.triggered"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifecycle_and_identity_events_go_to_hooks_failures_do_not() {
        assert!(for_hook("user.created"));
        assert!(for_hook("identity.email.added"));
        assert!(!for_hook("user.signed_out"));
        assert!(!for_hook("user.session.terminated"));
        assert!(!for_hook("authentication.primary.password.failed"));
        assert!(!for_hook("admin_api.mutation.create_user.executed"));
    }
}
