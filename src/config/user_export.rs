//! User exports (`POST /_api/admin/users/export`, `exportUsers`, `authgraph export`).

use serde::{Deserialize, Serialize};

use super::{ConfigError, within};

/// How long exports and their download links live, and how many users each database
/// round trip of an export reads.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UserExportConfig {
    /// Seconds a download link stays valid after it is issued (default 60, as Authgear's
    /// signed URLs; 1–86400). A download that has started runs to its end.
    pub link_ttl_seconds: u64,
    /// Hours an export can be fetched after it is created (default 24, as Authgear; 1–720).
    pub retention_hours: u64,
    /// Users read per batch (default 1000; 100–10000).
    pub batch_size: u64,
}

impl Default for UserExportConfig {
    fn default() -> Self {
        Self { link_ttl_seconds: 60, retention_hours: 24, batch_size: 1000 }
    }
}

impl UserExportConfig {
    /// Checks the ranges.
    pub fn validate(&self) -> Result<(), ConfigError> {
        within("user_export.link_ttl_seconds", self.link_ttl_seconds, 1, 86_400)?;
        within("user_export.retention_hours", self.retention_hours, 1, 720)?;
        within("user_export.batch_size", self.batch_size, 100, 10_000)
    }
}
