//! Where a page of a keyword search in creation order lies: the cursors turned into bounds
//! of `(created_at, id)` and the direction the page is read in, for both databases' paths.

use crate::service::Result;
use crate::service::store::paging::{Cursor, Keyset, Plan};
use uuid::Uuid;

/// A bound of the list: rows strictly beyond `(created_at, id)` on one side.
#[derive(Clone, Copy)]
pub(super) struct Bound {
    pub created_at: i64,
    pub id: Uuid,
}

/// Where the page lies: between two optional bounds, read in one direction.
pub(super) struct Range {
    /// Rows before it in creation order.
    pub upper: Option<Bound>,
    /// Rows after it in creation order.
    pub lower: Option<Bound>,
    /// The page is read newest first.
    pub newest_first: bool,
}

impl Range {
    /// The range of a page of the list sorted by creation time.
    pub fn of(ks: &Keyset, plan: &Plan) -> Result<Self> {
        let bound = |c: &Option<Cursor>| -> Result<Option<Bound>> {
            c.as_ref().map(|c| Ok(Bound { created_at: ks.time_value(c)?, id: c.id })).transpose()
        };
        let (upper, lower) = if ks.desc {
            (bound(&plan.after)?, bound(&plan.before)?)
        } else {
            (bound(&plan.before)?, bound(&plan.after)?)
        };
        Ok(Self { upper, lower, newest_first: ks.desc != plan.backward })
    }
}
