//! Storage plumbing, private to the service layer apart from the paging types: the
//! database handle, group commit and the batch writers built on it, keyset paging, the
//! change generations other processes follow, time as stored, ending sessions, sealing.

pub(in crate::service) mod audit_batch;
pub(in crate::service) mod built_once;
pub(in crate::service) mod bulk;
pub(in crate::service) mod changes;
mod column_kinds;
pub(in crate::service) mod connections;
pub(in crate::service) mod db;
pub(in crate::service) mod direct_readers;
pub(in crate::service) mod direct_rows;
pub(in crate::service) mod direct_sqlite;
pub(in crate::service) mod direct_statements;
pub(in crate::service) mod direct_writer;
pub(in crate::service) mod grant_row;
pub(in crate::service) mod group_commit;
mod ids;
pub mod paging;
pub(in crate::service) mod pg_rows;
pub(in crate::service) mod refresh_batch;
pub(in crate::service) mod refresh_claim;
pub(in crate::service) mod sealed;
pub(in crate::service) mod session_end;
pub(in crate::service) mod session_row;
pub(in crate::service) mod startup_lock;
pub mod time;
pub(in crate::service) mod user_status;
pub(in crate::service) mod wal_checkpoint;
