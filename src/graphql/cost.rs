//! The database cost of an operation, checked before it runs.
//!
//! async-graphql's complexity counts fields (a paged list multiplies its items by the page
//! size). That misses what costs the database most: the `totalCount` of a list paged in
//! the database (its field carries the tag [`DB_COUNT`]) is a `COUNT` query, every root
//! field is at least one query, and aliases repeat them at will. This walk adds
//! [`COUNT_COST`] for each such `totalCount` of a root list (a count over a whole table,
//! such as every audit log row matching a filter), [`LINK_COUNT_COST`] for one of a nested
//! list (an index range, such as one role's users) and as much again for the nested list's
//! page query, and [`ROOT_COST`] for each root field, times
//! how often each runs (a `totalCount` inside the `edges` of a 50-item page runs 50 times),
//! and refuses the operation when the sum passes `admin_api.max_complexity`. Lists loaded
//! whole (a user's identities, roles, ...) know their count: it is free.

use async_graphql::Variables;
use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};
use async_graphql::registry::Registry;

/// Cost of the `totalCount` of a root list (a `COUNT` over a table).
pub const COUNT_COST: usize = 2_000;
/// Cost of the `totalCount` of a nested list (a `COUNT` over one object's links).
pub const LINK_COUNT_COST: usize = 100;
/// The tag of a connection field whose `totalCount` is a `COUNT` query.
pub const DB_COUNT: &str = "db_count";
/// Cost of one root field (at least one query).
pub const ROOT_COST: usize = 100;

/// How many selections the document's operations expand to, fragments spread in full;
/// `None` for a fragment cycle. Linear in the document's size (each fragment is sized
/// once), so a "fragment bomb" is measured without being expanded.
pub fn expansion(doc: &ExecutableDocument) -> Option<usize> {
    fn size(
        doc: &ExecutableDocument,
        set: &SelectionSet,
        memo: &mut std::collections::HashMap<String, usize>,
        stack: &mut Vec<String>,
    ) -> Option<usize> {
        let mut n: usize = 0;
        for selection in &set.items {
            n = n.saturating_add(1);
            let inner = match &selection.node {
                Selection::Field(f) => size(doc, &f.node.selection_set.node, memo, stack)?,
                Selection::InlineFragment(f) => size(doc, &f.node.selection_set.node, memo, stack)?,
                Selection::FragmentSpread(spread) => {
                    let name = spread.node.fragment_name.node.to_string();
                    if let Some(known) = memo.get(&name) {
                        *known
                    } else if stack.contains(&name) {
                        return None;
                    } else if let Some(fragment) = doc.fragments.get(name.as_str()) {
                        stack.push(name.clone());
                        let inner = size(doc, &fragment.node.selection_set.node, memo, stack)?;
                        stack.pop();
                        memo.insert(name, inner);
                        inner
                    } else {
                        0
                    }
                }
            };
            n = n.saturating_add(inner);
        }
        Some(n)
    }
    let mut memo = std::collections::HashMap::new();
    let mut total: usize = 0;
    for (_, op) in doc.operations.iter() {
        total = total.saturating_add(size(doc, &op.node.selection_set.node, &mut memo, &mut Vec::new())?);
    }
    for fragment in doc.fragments.values() {
        total = total.saturating_add(size(doc, &fragment.node.selection_set.node, &mut memo, &mut Vec::new())?);
    }
    Some(total)
}

/// Most selections a document may expand to.
pub const MAX_EXPANSION: usize = 50_000;

/// Why an operation was refused.
pub enum Refusal {
    /// The sum passed the limit.
    TooCostly(usize),
}

/// Prices the selection `set` of the root type `root`; refuses above `max`. The walk
/// expands fragments: call it only on a document whose [`expansion`] is bounded.
pub fn check(
    registry: &Registry,
    doc: &ExecutableDocument,
    variables: &Variables,
    root: &str,
    set: &SelectionSet,
    max: usize,
) -> Result<usize, Refusal> {
    let mut walk = Walk { registry, doc, variables, cost: 0, max };
    walk.set(root, set, 1, Page { size: None, count_cost: 0 }, true)?;
    Ok(walk.cost)
}

/// What the selection set of a connection knows about it.
#[derive(Clone, Copy)]
struct Page {
    /// Items per page (its `edges` and `nodes` run once per item).
    size: Option<usize>,
    /// What its `totalCount` costs (0: the count is known without a query).
    count_cost: usize,
}

struct Walk<'a> {
    registry: &'a Registry,
    doc: &'a ExecutableDocument,
    variables: &'a Variables,
    cost: usize,
    max: usize,
}

impl Walk<'_> {
    /// `times`: how often this selection runs; `page`: what is known when `type_name` is
    /// a connection.
    fn set(
        &mut self,
        type_name: &str,
        set: &SelectionSet,
        times: usize,
        page: Page,
        root: bool,
    ) -> Result<(), Refusal> {
        for selection in &set.items {
            match &selection.node {
                Selection::Field(field) => {
                    let field = &field.node;
                    let name = field.name.node.as_str();
                    if name.starts_with("__") {
                        continue;
                    }
                    if root {
                        self.add(ROOT_COST.saturating_mul(times))?;
                    }
                    if name == "totalCount" {
                        self.add(page.count_cost.saturating_mul(times))?;
                    }
                    let Some(meta) = self.registry.concrete_type_by_name(type_name).and_then(|t| t.field_by_name(name))
                    else {
                        continue;
                    };
                    if field.selection_set.node.items.is_empty() {
                        continue;
                    }
                    let times = match (page.size, name) {
                        (Some(size), "edges" | "nodes") => times.saturating_mul(size),
                        _ => times,
                    };
                    // A list fetched by IDs (`nodes(ids:)`) runs its selection once per ID,
                    // duplicates included.
                    let times = match meta.args.contains_key("ids") {
                        true => times.saturating_mul(self.list_len(field, "ids")),
                        false => times,
                    };
                    let counted = meta.tags.iter().any(|t| t == DB_COUNT);
                    if counted && !root {
                        // A nested list paged in the database is a query per parent item.
                        self.add(LINK_COUNT_COST.saturating_mul(times))?;
                    }
                    let paged = meta.args.contains_key("first") || meta.args.contains_key("last");
                    let child_page = Page {
                        size: paged.then(|| self.page_size(field)),
                        count_cost: match (counted, root) {
                            (false, _) => 0,
                            (true, true) => COUNT_COST,
                            (true, false) => LINK_COUNT_COST,
                        },
                    };
                    let child = super::scopes::named_type(&meta.ty).to_owned();
                    self.set(&child, &field.selection_set.node, times, child_page, false)?;
                }
                Selection::InlineFragment(fragment) => {
                    let on = fragment.node.type_condition.as_ref().map(|t| t.node.on.node.to_string());
                    let on = on.unwrap_or_else(|| type_name.to_owned());
                    self.set(&on, &fragment.node.selection_set.node, times, page, root)?;
                }
                Selection::FragmentSpread(spread) => {
                    let doc = self.doc;
                    if let Some(fragment) = doc.fragments.get(&spread.node.fragment_name.node) {
                        let on = fragment.node.type_condition.node.on.node.to_string();
                        self.set(&on, &fragment.node.selection_set.node, times, page, root)?;
                    }
                }
            }
        }
        Ok(())
    }

    fn add(&mut self, n: usize) -> Result<(), Refusal> {
        self.cost = self.cost.saturating_add(n);
        if self.cost > self.max { Err(Refusal::TooCostly(self.cost)) } else { Ok(()) }
    }

    /// How many items the list argument `arg` holds (a literal or a variable); the
    /// longest list any argument takes when it cannot be read.
    fn list_len(&self, field: &async_graphql::parser::types::Field, arg: &str) -> usize {
        let value = field
            .get_argument(arg)
            .map(|v| v.node.clone().into_const_with(|name| self.variables.get(&name).cloned().ok_or(())));
        match value {
            Some(Ok(async_graphql::Value::List(items))) => items.len(),
            Some(Ok(_)) => 1,
            _ => crate::domain::text::MAX_LIST,
        }
    }

    /// The page size a connection field asks for (`first` or `last`, a literal or a
    /// variable), 100 when it asks for none; sizes are capped at 100 as the resolvers do.
    fn page_size(&self, field: &async_graphql::parser::types::Field) -> usize {
        let asked = ["first", "last"].iter().find_map(|arg| {
            let value = field.get_argument(arg)?;
            let value = value.node.clone().into_const_with(|name| self.variables.get(&name).cloned().ok_or(()));
            match value {
                Ok(async_graphql::Value::Number(n)) => n.as_u64(),
                _ => None,
            }
        });
        asked.map_or(100, |n| usize::try_from(n.min(100)).unwrap_or(100))
    }
}
