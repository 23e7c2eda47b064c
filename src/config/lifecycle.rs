//! The account lifecycle: grace periods of scheduled deletion and anonymization
//! (Authgear's `account_deletion` and `account_anonymization`), and the background job
//! that runs due schedules.

use serde::{Deserialize, Serialize};

/// Scheduled deletion (Authgear's `account_deletion`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AccountDeletionConfig {
    /// Days between scheduling a deletion (`scheduleAccountDeletion`, or the user's own
    /// request on the settings page) and the deletion; 1 to 180.
    pub grace_period_days: i64,
    /// Whether users may request their own account's deletion on the settings page
    /// (Authgear's key; on by default here, since an app that lets people sign up must let
    /// them delete their account in most app stores).
    pub scheduled_by_end_user_enabled: bool,
}

impl Default for AccountDeletionConfig {
    fn default() -> Self {
        Self { grace_period_days: 30, scheduled_by_end_user_enabled: true }
    }
}

/// Scheduled anonymization (Authgear's `account_anonymization`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AccountAnonymizationConfig {
    /// Days between `scheduleAccountAnonymization` and the anonymization; 1 to 180.
    pub grace_period_days: i64,
}

impl Default for AccountAnonymizationConfig {
    fn default() -> Self {
        Self { grace_period_days: 30 }
    }
}

/// The background job that deletes and anonymizes users whose schedule is due.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LifecycleJobConfig {
    /// Seconds between runs; 1 to 86400.
    pub interval_seconds: u64,
    /// Users one run handles at most (each in its own transaction); the rest wait for the
    /// next run. 1 to 10000.
    pub batch_size: u64,
}

impl Default for LifecycleJobConfig {
    fn default() -> Self {
        Self { interval_seconds: 60, batch_size: 100 }
    }
}
