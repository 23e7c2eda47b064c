//! Keyset pagination: opaque cursors over `(sort value, id)`, never offsets. A cursor is
//! bound to its list and order: it names them, and any other list or order refuses it.

use crate::crypto::{b64, b64_decode};
use crate::domain::reason;
use crate::domain::text::quoted;
use crate::service::{Error, Result};
use sea_orm::sea_query::{Condition, Expr, ExprTrait, NullOrdering, Order, SelectStatement};
use sea_orm::{EntityTrait, QueryOrder, QuerySelect, Select, Value};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Largest page; also the default when neither `first` nor `last` is given.
pub const MAX_PAGE_SIZE: u64 = 100;

/// Relay connection arguments as the client sent them.
#[derive(Debug, Clone, Default)]
pub struct PageArgs {
    /// Items after `after`, at most this many.
    pub first: Option<i32>,
    /// Cursor to start after.
    pub after: Option<String>,
    /// Items before `before`, at most this many (counted from the end).
    pub last: Option<i32>,
    /// Cursor to stop before.
    pub before: Option<String>,
}

/// A page of items with their cursors.
#[derive(Debug, Clone)]
pub struct Page<T> {
    /// Items in order, each with its cursor.
    pub items: Vec<(PageCursor, T)>,
    /// More items follow the last one.
    pub has_next: bool,
    /// Items precede the first one.
    pub has_prev: bool,
}

/// What a list is sorted by; a cursor of one kind is refused by a list of another.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub enum SortKind {
    /// A time (microseconds since the epoch), then the ID.
    #[serde(rename = "t")]
    Time,
    /// A unique text key, then the ID.
    #[serde(rename = "k")]
    Key,
    /// The ID alone (UUIDv7, so creation order).
    #[serde(rename = "i")]
    Id,
}

/// The position of an item in its sort order.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Cursor {
    /// The list and order the cursor belongs to (see [`Keyset::tag`]); set when the page
    /// is built, empty until then.
    #[serde(rename = "l", default)]
    pub list: String,
    /// What the list is sorted by.
    #[serde(rename = "k")]
    pub kind: SortKind,
    /// Sort value (microseconds or key text); `None` for a null sort value or an ID sort.
    #[serde(rename = "v")]
    pub value: Option<String>,
    /// Item ID, the tie-breaker.
    #[serde(rename = "i")]
    pub id: Uuid,
}

/// The cursor of an item of a page, encoded only when a client asks for it: most pages
/// are read without their cursors, and each encoding is a JSON text and its base64.
#[derive(Debug, Clone)]
pub struct PageCursor {
    /// The list's tag, shared by the page's items.
    list: std::sync::Arc<str>,
    /// The position, without the list's tag.
    cursor: Cursor,
}

impl PageCursor {
    /// The cursor `c` of an item of the list `list`.
    pub fn new(list: std::sync::Arc<str>, c: Cursor) -> Self {
        Self { list, cursor: Cursor { list: String::new(), ..c } }
    }

    /// The opaque text of the cursor, as [`Cursor::encode`] gives it.
    pub fn encode(&self) -> String {
        CursorText::of(&self.list, &self.cursor).encode()
    }

    /// Decodes opaque cursor text.
    pub fn decode(text: &str) -> Result<Self> {
        let c = Cursor::decode(text)?;
        Ok(Self { list: c.list.as_str().into(), cursor: Cursor { list: String::new(), ..c } })
    }
}

/// A cursor as it is serialized (the same fields, in the same order, as [`Cursor`]),
/// borrowed, so that encoding one copies nothing first.
#[derive(Serialize)]
struct CursorText<'a> {
    #[serde(rename = "l")]
    list: &'a str,
    #[serde(rename = "k")]
    kind: SortKind,
    #[serde(rename = "v")]
    value: Option<&'a str>,
    #[serde(rename = "i")]
    id: Uuid,
}

impl<'a> CursorText<'a> {
    fn of(list: &'a str, c: &'a Cursor) -> Self {
        Self { list, kind: c.kind, value: c.value.as_deref(), id: c.id }
    }

    fn encode(&self) -> String {
        b64(serde_json::to_vec(self).unwrap_or_default())
    }
}

impl Cursor {
    /// The cursor of an item sorted by a time.
    pub fn time(t: Option<time::OffsetDateTime>, id: Uuid) -> Self {
        Self {
            list: String::new(),
            kind: SortKind::Time,
            value: t.map(|t| crate::service::store::time::micros(t).to_string()),
            id,
        }
    }

    /// The cursor of an item sorted by a key.
    pub fn key(key: &str, id: Uuid) -> Self {
        Self { list: String::new(), kind: SortKind::Key, value: Some(key.to_owned()), id }
    }

    /// The cursor of an item sorted by ID.
    pub fn id(id: Uuid) -> Self {
        Self { list: String::new(), kind: SortKind::Id, value: None, id }
    }

    fn foreign() -> Error {
        Error::invalid(reason::INVALID_CURSOR, "the cursor belongs to another list or order")
    }

    /// Refuses the cursor unless it was made for the list and order named `list`.
    fn check(&self, list: &str, kind: SortKind) -> Result<()> {
        if self.list == list && self.kind == kind { Ok(()) } else { Err(Self::foreign()) }
    }

    /// Encodes the cursor as opaque text.
    pub fn encode(&self) -> String {
        CursorText::of(&self.list, self).encode()
    }

    /// Decodes opaque cursor text.
    pub fn decode(text: &str) -> Result<Self> {
        b64_decode(text)
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .ok_or_else(|| Error::invalid(reason::INVALID_CURSOR, format!("{} is not a valid cursor", quoted(text))))
    }
}

/// What to fetch, derived from [`PageArgs`].
#[derive(Debug, Clone)]
pub(in crate::service) struct Plan {
    /// Page size.
    pub limit: u64,
    /// Fetch from the end (`last`).
    pub backward: bool,
    /// Lower bound.
    pub after: Option<Cursor>,
    /// Upper bound.
    pub before: Option<Cursor>,
}

impl PageArgs {
    /// Validates the arguments.
    pub(in crate::service) fn plan(&self) -> Result<Plan> {
        if self.first.is_some() && self.last.is_some() {
            return Err(Error::invalid(reason::INVALID_PAGINATION, "pass `first` or `last`, not both"));
        }
        let size = |n: i32, name: &str| {
            u64::try_from(n)
                .map(|n| std::cmp::min(n, MAX_PAGE_SIZE))
                .map_err(|_| Error::invalid(reason::INVALID_PAGINATION, format!("`{name}` must not be negative")))
        };
        let (limit, backward) = match (self.first, self.last) {
            (Some(n), _) => (size(n, "first")?, false),
            (None, Some(n)) => (size(n, "last")?, true),
            (None, None) => (MAX_PAGE_SIZE, self.before.is_some() && self.after.is_none()),
        };
        Ok(Plan {
            limit,
            backward,
            after: self.after.as_deref().map(Cursor::decode).transpose()?,
            before: self.before.as_deref().map(Cursor::decode).transpose()?,
        })
    }
}

/// The sort order of a list: one column (nulls last) then the table's `id` column.
pub(in crate::service) struct Keyset {
    /// The table listed.
    pub table: &'static str,
    /// The sort column of `table`.
    pub column: &'static str,
    /// Descending.
    pub desc: bool,
    /// The sort column can be NULL (nulls sort last). For a NOT NULL column the order
    /// clause leaves NULLS out, so that both databases can walk the index instead of sorting.
    pub nullable: bool,
    /// What the list is sorted by (`Time` or `Key`).
    pub kind: SortKind,
}

impl Keyset {
    /// The list and order this keyset walks, e.g. `users.last_login_at.desc`: what a cursor
    /// carries so that another list or order refuses it.
    pub fn tag(&self) -> String {
        format!("{}.{}.{}", self.table, self.column, if self.desc { "desc" } else { "asc" })
    }

    fn col(&self) -> Expr {
        col(self.table, self.column)
    }

    fn id(&self) -> Expr {
        col(self.table, "id")
    }

    fn value(&self, c: &Cursor) -> Result<Option<Value>> {
        c.check(&self.tag(), self.kind)?;
        match (&c.value, self.kind) {
            (None, _) if self.nullable => Ok(None),
            (Some(v), SortKind::Time) => v.parse::<i64>().map(|n| Some(Value::from(n))).map_err(|_| Cursor::foreign()),
            (Some(v), SortKind::Key) => Ok(Some(Value::from(v.clone()))),
            _ => Err(Cursor::foreign()),
        }
    }

    /// The sort value of a cursor of this time-sorted, non-nullable list (microseconds).
    pub(in crate::service) fn time_value(&self, c: &Cursor) -> Result<i64> {
        match self.value(c)? {
            Some(Value::BigInt(Some(v))) => Ok(v),
            _ => Err(Cursor::foreign()),
        }
    }

    /// `(col, id) > (v, id)` (or `<`): a row-value comparison that both databases turn
    /// into an index range, so that deep pages cost as little as the first.
    fn row_cmp(&self, v: Value, id: Value, greater: bool) -> Expr {
        let left = Expr::tuple([self.col(), self.id()]);
        let right = Expr::tuple([Expr::val(v), Expr::val(id)]);
        if greater { left.gt(right) } else { left.lt(right) }
    }

    /// Rows strictly after `c` in this order.
    fn after(&self, c: &Cursor) -> Result<Condition> {
        let id = Value::from(c.id);
        Ok(match self.value(c)? {
            Some(v) if !self.nullable => Condition::all().add(self.row_cmp(v, id, !self.desc)),
            Some(v) => {
                let (beyond, id_beyond) = if self.desc {
                    (self.col().lt(v.clone()), self.id().lt(id))
                } else {
                    (self.col().gt(v.clone()), self.id().gt(id))
                };
                Condition::any()
                    .add(beyond)
                    .add(Condition::all().add(self.col().eq(v)).add(id_beyond))
                    .add(self.col().is_null())
            }
            None => {
                let id_beyond = if self.desc { self.id().lt(id) } else { self.id().gt(id) };
                Condition::all().add(self.col().is_null()).add(id_beyond)
            }
        })
    }

    /// Rows strictly before `c` in this order.
    fn before(&self, c: &Cursor) -> Result<Condition> {
        let id = Value::from(c.id);
        Ok(match self.value(c)? {
            Some(v) if !self.nullable => Condition::all().add(self.row_cmp(v, id, self.desc)),
            Some(v) => {
                let (ahead, id_ahead) = if self.desc {
                    (self.col().gt(v.clone()), self.id().gt(id))
                } else {
                    (self.col().lt(v.clone()), self.id().lt(id))
                };
                Condition::any().add(ahead).add(Condition::all().add(self.col().eq(v)).add(id_ahead))
            }
            None => {
                let id_ahead = if self.desc { self.id().gt(id) } else { self.id().lt(id) };
                Condition::any()
                    .add(self.col().is_not_null())
                    .add(Condition::all().add(self.col().is_null()).add(id_ahead))
            }
        })
    }

    fn order(&self, plan: &Plan) -> (Order, NullOrdering) {
        let desc = self.desc != plan.backward;
        let order = if desc { Order::Desc } else { Order::Asc };
        let nulls = if plan.backward { NullOrdering::First } else { NullOrdering::Last };
        (order, nulls)
    }

    fn bounds(&self, plan: &Plan) -> Result<Condition> {
        let mut cond = Condition::all();
        if let Some(c) = &plan.after {
            cond = cond.add(self.after(c)?);
        }
        if let Some(c) = &plan.before {
            cond = cond.add(self.before(c)?);
        }
        Ok(cond)
    }

    /// Turns fetched rows into a page whose cursors name this list and order.
    pub fn finish<T>(&self, plan: &Plan, rows: Vec<T>, cursor: impl Fn(&T) -> Cursor) -> Page<T> {
        let list: std::sync::Arc<str> = self.tag().into();
        finish(plan, rows, |r| PageCursor::new(list.clone(), cursor(r)))
    }

    /// Adds the bounds, the order and the limit (one extra row tells whether more exist).
    pub(in crate::service) fn apply<E: EntityTrait>(&self, q: Select<E>, plan: &Plan) -> Result<Select<E>> {
        let (order, nulls) = self.order(plan);
        let q = sea_orm::QueryFilter::filter(q, self.bounds(plan)?);
        let q = if self.nullable {
            q.order_by_with_nulls(self.col(), order.clone(), nulls)
        } else {
            q.order_by(self.col(), order.clone())
        };
        Ok(q.order_by(self.id(), order).limit(plan.limit + 1))
    }

    /// The same as [`Keyset::apply`] for a plain select statement.
    pub(in crate::service) fn apply_stmt(&self, q: &mut SelectStatement, plan: &Plan) -> Result<()> {
        let (order, nulls) = self.order(plan);
        q.cond_where(self.bounds(plan)?);
        if self.nullable {
            q.order_by_expr_with_nulls(self.col(), order.clone(), nulls);
        } else {
            q.order_by_expr(self.col(), order.clone());
        }
        q.order_by_expr(self.id(), order).limit(plan.limit + 1);
        Ok(())
    }
}

/// Turns fetched rows (one more than the limit at most) into a page.
fn finish<T>(plan: &Plan, mut rows: Vec<T>, cursor: impl Fn(&T) -> PageCursor) -> Page<T> {
    let limit = usize::try_from(plan.limit).unwrap_or(usize::MAX);
    let more = rows.len() > limit;
    rows.truncate(limit);
    if plan.backward {
        rows.reverse();
    }
    let (has_next, has_prev) = if plan.backward { (plan.before.is_some(), more) } else { (more, plan.after.is_some()) };
    Page { items: rows.into_iter().map(|r| (cursor(&r), r)).collect(), has_next, has_prev }
}

/// Pages through a list that is already in memory (a user's roles, identities, ...).
/// `items` must be sorted by their cursors' `(value, id)`, ascending; a cursor marks a
/// position in that order, so it stays valid when the item it came from is removed.
/// `list` names the list; its cursors carry it, and other lists refuse them.
pub fn paginate_in_memory<T>(
    items: Vec<T>,
    args: &PageArgs,
    list: &str,
    kind: SortKind,
    cursor: impl Fn(&T) -> Cursor,
) -> Result<Page<T>> {
    let plan = args.plan()?;
    for c in plan.after.iter().chain(plan.before.iter()) {
        c.check(list, kind)?;
    }
    // Positions are compared only against a cursor the client gave; the page's own
    // cursors are encoded only if the client asks for them.
    fn position(c: &Cursor) -> (Option<&str>, Uuid) {
        (c.value.as_deref(), c.id)
    }
    let start = match &plan.after {
        Some(c) => items.iter().position(|t| position(&cursor(t)) > position(c)).unwrap_or(items.len()),
        None => 0,
    };
    let end = match &plan.before {
        Some(c) => items.iter().position(|t| position(&cursor(t)) >= position(c)).unwrap_or(items.len()),
        None => items.len(),
    };
    let len_all = items.len();
    let list: std::sync::Arc<str> = list.into();
    let window: Vec<(PageCursor, T)> = items
        .into_iter()
        .skip(start)
        .take(end.saturating_sub(start))
        .map(|t| (PageCursor::new(list.clone(), cursor(&t)), t))
        .collect();
    let limit = usize::try_from(plan.limit).unwrap_or(usize::MAX);
    let total = window.len();
    let (skip, has_next, has_prev) = if plan.backward {
        let skip = total.saturating_sub(limit);
        (skip, end < len_all, skip > 0 || start > 0)
    } else {
        (0, total > limit || end < len_all, start > 0)
    };
    let items = window.into_iter().skip(skip).take(limit).collect();
    Ok(Page { items, has_next, has_prev })
}

/// A column of a table, as an expression.
pub(in crate::service) fn col(table: &'static str, column: &'static str) -> Expr {
    Expr::col((table, column))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_cursor_encodes_as_the_cursor_did_and_decodes_back() {
        let id = Uuid::from_u128(7);
        for c in [Cursor::key("admin", id), Cursor::id(id), Cursor::time(Some(time::OffsetDateTime::UNIX_EPOCH), id)] {
            let whole = Cursor { list: "users.created_at.desc".into(), ..c.clone() };
            let page = PageCursor::new("users.created_at.desc".into(), c);
            // The text cursors had before they were encoded lazily: the derived
            // serialization of the whole cursor.
            let before = b64(serde_json::to_vec(&whole).unwrap());
            assert_eq!(page.encode(), before);
            assert_eq!(whole.encode(), before);
            assert_eq!(Cursor::decode(&page.encode()).unwrap(), whole);
            assert_eq!(PageCursor::decode(&page.encode()).unwrap().encode(), whole.encode());
        }
    }
}
