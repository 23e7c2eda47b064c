//! Pages built straight into a response value when their selection is plain.
//!
//! async-graphql resolves every selected field of every object as a boxed future of its
//! own, polled through a `FuturesUnordered`, and collects the results into a map: about
//! 3,000 instructions per field, which made up a third of a request for a page of 50
//! users with their roles and groups. Most selections a dashboard sends hold nothing that
//! needs any of that: fields read from the item itself, with no arguments, no directives
//! and no fragments. For those, [`page`] builds the same value directly, field by field,
//! in the order of the selection.
//!
//! Anything else (a fragment, a directive, an argument, a field an object does not build
//! here, a response key given twice, a `totalCount` that needs a query) makes [`page`]
//! return `None`, and the caller resolves the page as usual. (`@skip` and `@include` never
//! reach this point: async-graphql applies them to the document before execution.) Authorization is not
//! affected: the scope planner has already checked every field of the operation before
//! anything runs (`scopes.rs`). A test compares both paths on the same selections.

use std::borrow::Cow;
use std::collections::HashMap;

use async_graphql::connection::{CursorType, Edge, EmptyFields};
use async_graphql::indexmap::IndexMap;
use async_graphql::parser::types::{Field, Selection, SelectionSet};
use async_graphql::registry::Registry;
use async_graphql::{ContextSelectionSet, OutputType, Positioned, ServerError, ServerResult, Value};
use time::OffsetDateTime;

use super::connection::{Conn, CountSource};
use super::loaders::KeyedOf;
use crate::service::admin::roles_groups::Keyed;
use crate::service::paging::PageCursor;

/// What a plain field may read besides its object: the lists read ahead with the page.
pub struct Ahead<'a> {
    /// Roles and groups of the page's users, by owner.
    pub keyed: Option<&'a HashMap<KeyedOf, Vec<Keyed>>>,
}

/// An object type whose fields without arguments can be built without async-graphql's
/// executor.
pub trait Plain: OutputType {
    /// The value of `field` (no arguments, no directives) of this object, or `None` if
    /// this field is not built here.
    fn plain(&self, field: &Field, ahead: &Ahead<'_>) -> Option<Value>;
}

/// A field's sub-selection, if each of its items is a field without directives or
/// arguments.
fn plain_fields(set: &Positioned<SelectionSet>) -> Option<impl Iterator<Item = &Positioned<Field>>> {
    let fields = || {
        set.node.items.iter().map(|s| match &s.node {
            Selection::Field(f) => Some(f),
            _ => None,
        })
    };
    let ok = fields().all(|f| f.is_some_and(|f| f.node.directives.is_empty() && f.node.arguments.is_empty()));
    ok.then(|| fields().flatten())
}

/// The object value of `set` for `item`, each field built by `build` (`None`: not plain).
pub fn object(
    set: &Positioned<SelectionSet>,
    type_name: impl Fn() -> Cow<'static, str>,
    mut build: impl FnMut(&Field) -> Option<Value>,
) -> Option<Value> {
    let mut map = IndexMap::with_capacity(set.node.items.len());
    for f in plain_fields(set)? {
        let value = match f.node.name.node.as_str() {
            "__typename" => Value::String(type_name().into_owned()),
            _ => build(&f.node)?,
        };
        // The same response key twice is merged by the executor; leave that to it.
        if map.insert(f.node.response_key().node.clone(), value).is_some() {
            return None;
        }
    }
    Some(Value::Object(map))
}

/// The value of a selection of an object `T`.
pub fn item<T: Plain>(t: &T, set: &Positioned<SelectionSet>, ahead: &Ahead<'_>) -> Option<Value> {
    object(set, T::type_name, |f| t.plain(f, ahead))
}

/// A page as [`page`] builds it: its edges, and how to build each one's node and cursor.
pub struct Parts<'a, E, C, N> {
    /// The page's edges, in order.
    pub edges: &'a [E],
    /// `pageInfo.hasPreviousPage`.
    pub has_prev: bool,
    /// `pageInfo.hasNextPage`.
    pub has_next: bool,
    /// `totalCount`, if known without a query.
    pub count: Option<u64>,
    /// The encoded cursor of an edge.
    pub cursor: C,
    /// The value of an edge's node for a selection (`None`: not plain).
    pub node: N,
}

/// The value of `field`'s selection on a connection of `T`, or `None` if it is not plain.
pub fn page<T: Plain>(conn: &Conn<T>, field: &Field, ahead: &Ahead<'_>) -> Option<Value> {
    let parts = Parts {
        edges: &conn.edges,
        has_prev: conn.has_previous_page,
        has_next: conn.has_next_page,
        count: match &conn.additional_fields.0 {
            CountSource::Known(n) => Some(*n),
            _ => None,
        },
        cursor: |e: &Edge<PageCursor, T, EmptyFields>| e.cursor.encode_cursor(),
        node: |e: &Edge<PageCursor, T, EmptyFields>, set: &Positioned<SelectionSet>| item(&e.node, set, ahead),
    };
    parts_of::<T, _, _, _>(parts, field)
}

/// The value of `field`'s selection on a connection of `T` made of `parts`.
pub fn parts_of<T: OutputType, E, C, N>(parts: Parts<'_, E, C, N>, field: &Field) -> Option<Value>
where
    C: Fn(&E) -> String,
    N: Fn(&E, &Positioned<SelectionSet>) -> Option<Value>,
{
    let set = &field.selection_set;
    // A count that needs a query is the executor's; see it before building any edge.
    if parts.count.is_none() && plain_fields(set)?.any(|f| f.node.name.node == "totalCount") {
        return None;
    }
    object(set, Conn::<T>::type_name, |f| match f.name.node.as_str() {
        "edges" => {
            let edges = parts.edges.iter().map(|e| edge::<T, E>(e, &f.selection_set, &parts.cursor, &parts.node));
            edges.collect::<Option<Vec<_>>>().map(Value::List)
        }
        "nodes" => {
            let nodes = parts.edges.iter().map(|e| (parts.node)(e, &f.selection_set));
            nodes.collect::<Option<Vec<_>>>().map(Value::List)
        }
        "pageInfo" => page_info(&parts, &f.selection_set),
        "totalCount" => parts.count.map(|n| Value::from(i32::try_from(n).unwrap_or(i32::MAX))),
        _ => None,
    })
}

fn edge<T: OutputType, E>(
    e: &E,
    set: &Positioned<SelectionSet>,
    cursor: impl Fn(&E) -> String,
    node: impl Fn(&E, &Positioned<SelectionSet>) -> Option<Value>,
) -> Option<Value> {
    object(set, Edge::<PageCursor, T, EmptyFields>::type_name, |f| match f.name.node.as_str() {
        "node" => node(e, &f.selection_set),
        "cursor" => Some(Value::String(cursor(e))),
        _ => None,
    })
}

fn page_info<E, C: Fn(&E) -> String, N>(parts: &Parts<'_, E, C, N>, set: &Positioned<SelectionSet>) -> Option<Value> {
    let cursor = |e: Option<&E>| e.map_or(Value::Null, |e| Value::String((parts.cursor)(e)));
    object(
        set,
        || "PageInfo".into(),
        |f| match f.name.node.as_str() {
            "hasPreviousPage" => Some(Value::Boolean(parts.has_prev)),
            "hasNextPage" => Some(Value::Boolean(parts.has_next)),
            "startCursor" => Some(cursor(parts.edges.first())),
            "endCursor" => Some(cursor(parts.edges.last())),
            _ => None,
        },
    )
}

/// A timestamp as the `DateTime` scalar outputs it.
pub fn time(t: OffsetDateTime) -> Value {
    Value::String(crate::graphql::date_time::format(t))
}

/// An optional timestamp as the `DateTime` scalar outputs it.
pub fn opt_time(t: Option<OffsetDateTime>) -> Value {
    t.map_or(Value::Null, time)
}

/// An optional string as async-graphql outputs it.
pub fn opt_str(s: Option<&str>) -> Value {
    s.map_or(Value::Null, |s| Value::String(s.to_owned()))
}

/// A connection of `T` resolved by the executor, or its value built beforehand.
pub enum Built<T: Plain> {
    /// The selection was plain: the value, taken when the field resolves.
    Value(std::sync::Mutex<Option<Value>>),
    /// Resolved field by field.
    Lazy(Box<Conn<T>>),
}

impl<T: Plain> Built<T> {
    /// `conn` built now if `field`'s selection is plain, else kept for the executor.
    pub fn new(conn: Conn<T>, field: &Field, ahead: &Ahead<'_>) -> Self {
        match page(&conn, field, ahead) {
            Some(v) => Built::Value(std::sync::Mutex::new(Some(v))),
            None => Built::Lazy(Box::new(conn)),
        }
    }
}

impl<T: Plain> OutputType for Built<T> {
    fn type_name() -> Cow<'static, str> {
        Conn::<T>::type_name()
    }

    fn qualified_type_name() -> String {
        Conn::<T>::qualified_type_name()
    }

    fn create_type_info(registry: &mut Registry) -> String {
        Conn::<T>::create_type_info(registry)
    }

    async fn resolve(&self, ctx: &ContextSelectionSet<'_>, field: &Positioned<Field>) -> ServerResult<Value> {
        match self {
            Built::Value(v) => {
                // The executor resolves a field's value once; a poisoned lock still holds
                // the whole value.
                let taken = v.lock().unwrap_or_else(|p| p.into_inner()).take();
                taken.ok_or_else(|| ServerError::new("internal error", Some(field.pos)))
            }
            Built::Lazy(conn) => conn.resolve(ctx, field).await,
        }
    }
}
