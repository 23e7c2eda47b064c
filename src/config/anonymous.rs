//! Anonymous users (Authgear's `identity.anonymous`): an app signs in without asking the
//! person anything, with a key pair it keeps on the device.

use serde::{Deserialize, Serialize};

/// Anonymous users for apps: the grant
/// `urn:authgear:params:oauth:grant-type:anonymous-request` with a device key.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AnonymousConfig {
    /// Whether SPA, native and traditional web applications may sign users in
    /// anonymously (off by default, as in Authgear): the app grant and the web SDK's
    /// `/api/anonymous_user/signup`. The sign-ups are limited by
    /// `rate_limits.anonymous_signups_per_ip_per_minute`.
    pub enabled: bool,
    /// Delete anonymous users abandoned for this many days: no sign-in and no use of a
    /// live session (a refresh) in that time. 0 (the default) keeps them forever.
    pub delete_inactive_after_days: u32,
}
