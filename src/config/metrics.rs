//! `GET /metrics` (Prometheus text format): where it is served, if anywhere.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::{ConfigError, Secret};

/// Metrics exposure. With neither key set, no metrics are recorded and `/metrics` is 404.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// A separate address that serves only `GET /metrics`, without authentication (bind it
    /// to a private interface, e.g. `127.0.0.1:9090`).
    pub listen: Option<SocketAddr>,
    /// A secret that opens `GET /metrics` on the main listener to
    /// `Authorization: Bearer <token>` (at least 16 characters). Also read from the file
    /// `bearer_token_file` (or `AUTHGRAPH_METRICS__BEARER_TOKEN_FILE`).
    pub bearer_token: Option<Secret>,
    /// A file holding `bearer_token`.
    pub bearer_token_file: Option<PathBuf>,
}

impl MetricsConfig {
    /// Whether metrics are served anywhere (and so recorded).
    pub fn enabled(&self) -> bool {
        self.listen.is_some() || self.bearer_token.is_some()
    }

    /// Reads `bearer_token_file` into `bearer_token`.
    pub fn read_secret_files(&mut self) -> Result<(), ConfigError> {
        if self.bearer_token.is_none()
            && let Some(path) = &self.bearer_token_file
        {
            let value = std::fs::read_to_string(path).map_err(|e| {
                ConfigError(format!("`metrics.bearer_token_file`: cannot read {}: {e}", path.display()))
            })?;
            self.bearer_token = Some(Secret::new(value.trim().to_owned()));
        }
        Ok(())
    }

    /// Checks the token's length.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if let Some(token) = &self.bearer_token
            && token.expose().trim().chars().count() < 16
        {
            return Err(ConfigError("`metrics.bearer_token`: must be at least 16 characters".into()));
        }
        Ok(())
    }
}
