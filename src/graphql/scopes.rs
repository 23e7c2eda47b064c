//! Scopes decided for the whole operation before anything runs.
//!
//! Every field and object of the schema declares the scopes it needs with async-graphql's
//! `requires_scopes` (several declarations are alternatives; one declaration may name
//! several scopes separated by spaces, all needed). Before execution, [`Planner`] walks
//! the selection set of the operation that will run (through fragments, inline fragments,
//! connections and payloads), collects what every selected field needs, and refuses the
//! whole operation with `FORBIDDEN` unless the caller holds all of it. So a mutation either
//! runs with every field it asks for allowed, or does not run at all.
//!
//! Rules: a field needs its own `requires_scopes` and those of its object type; the `id`
//! of an object and introspection fields (`__typename`, `__schema`, `__type`) need nothing.
//! The one input-dependent check, `node(id)`/`nodes(ids)`, is made when the IDs are decoded.
//! The same walk caps the number of aliases in a document.
//!
//! The declarations are strings (the attribute takes a literal); the planner parses each
//! into [`AdminScope`] when it is built, and an unknown one is a start-up error.

use crate::domain::reason;
use crate::graphql::error::code;
use std::collections::{BTreeSet, HashMap, HashSet};

use async_graphql::parser::types::{DocumentOperations, ExecutableDocument, Selection, SelectionSet};
use async_graphql::registry::{MetaField, MetaType, Registry};
use async_graphql::{Request, ServerError};

use super::context::Principal;
use super::error::request_error;
use crate::domain::scope::AdminScope;

/// Most aliased fields one document may hold: aliases are how one request asks for the
/// same expensive field many times.
pub const MAX_ALIASES: usize = 100;

/// Most fragment definitions one document may hold.
pub const MAX_FRAGMENTS: usize = 100;

/// The checks every Admin API request passes before it runs: the document's size, its
/// aliases, NUL in its text (`text_check`), its database cost (`cost`) and the scopes of
/// every field it selects. Built once with the schema and kept in its data. It is not an
/// async-graphql extension on purpose: any extension sends every field of every response
/// through the extension chain, which cost a quarter of the throughput of a page of users.
pub struct Planner {
    registry: Registry,
    max_cost: usize,
    /// Every distinct scope declaration of the schema, sorted by its text, so that the
    /// walk's set of indexes checks them in that order (the first unmet one is reported).
    needs: Vec<Need>,
    /// The declarations of each object and interface type and of its fields.
    types: HashMap<String, TypePlan>,
    /// Documents parsed before, by their text.
    documents: Documents,
}

/// Documents parsed before, by their text: a dashboard sends the same few documents over
/// and over, and parsing one costs more than copying it. Only short documents are kept,
/// and the set starts over when it is full, so it stays small whatever clients send.
#[derive(Default)]
struct Documents(std::sync::Mutex<HashMap<String, ExecutableDocument>>);

/// Most documents kept.
const DOCUMENTS: usize = 256;
/// Longest document text kept, in bytes.
const DOCUMENT_BYTES: usize = 16 * 1024;

impl Documents {
    /// Gives `request` its parsed document if the same text was parsed before; otherwise
    /// parses it, and keeps the document if the text is short.
    fn parse(&self, request: &mut Request) -> Result<(), ServerError> {
        if request.query.len() > DOCUMENT_BYTES {
            return request.parsed_query().map(|_| ());
        }
        let known = self.0.lock().ok().and_then(|docs| docs.get(&request.query).cloned());
        if let Some(doc) = known {
            request.set_parsed_query(doc);
            return Ok(());
        }
        let doc = request.parsed_query()?.clone();
        if let Ok(mut docs) = self.0.lock() {
            if docs.len() >= DOCUMENTS {
                docs.clear();
            }
            docs.insert(request.query.clone(), doc);
        }
        Ok(())
    }
}

/// One declaration: alternatives, any of which (all its scopes) suffices.
struct Need {
    /// The alternatives as written, which refusals quote.
    declared: Vec<String>,
    /// The scopes of each alternative.
    scopes: Vec<Vec<AdminScope>>,
}

/// What an object or interface type declares.
struct TypePlan {
    /// The type's own declaration (index into [`Planner::needs`]), needed by every field but `id`.
    needs: Option<usize>,
    fields: HashMap<String, FieldPlan>,
}

/// What a field declares, and the named type of its value.
struct FieldPlan {
    needs: Option<usize>,
    ty: String,
}

/// A `requires_scopes` declaration that names no Admin API scope: the schema is refused at
/// start-up.
#[derive(Debug, thiserror::Error)]
#[error("`{place}` requires the scope `{scope}`, which is not an Admin API scope")]
pub struct UnknownScope {
    /// `Type` or `Type.field`.
    pub place: String,
    /// The unknown scope.
    pub scope: String,
}

impl Planner {
    /// Reads the types of `Query` and `Mutation` (and `extra` registrations) the way the
    /// schema does, parsing every scope they declare; `max_cost` is
    /// `admin_api.max_complexity`.
    pub fn new(registry: Registry, max_cost: usize) -> Result<Self, UnknownScope> {
        let mut declared: BTreeSet<&Vec<String>> = BTreeSet::new();
        for ty in registry.types.values() {
            if let Some((own, fields)) = scoped_type(ty) {
                declared.extend(Some(own).filter(|d| !d.is_empty()));
                declared.extend(fields.values().map(|f| &f.requires_scopes).filter(|d| !d.is_empty()));
            }
        }
        let mut needs = Vec::with_capacity(declared.len());
        for alternatives in &declared {
            let place = || {
                let owner = registry.types.values().find_map(|ty| {
                    let (own, fields) = scoped_type(ty)?;
                    if own == *alternatives {
                        return Some(ty.name().to_owned());
                    }
                    let (name, _) = fields.iter().find(|(_, f)| &f.requires_scopes == *alternatives)?;
                    Some(format!("{}.{name}", ty.name()))
                });
                owner.unwrap_or_default()
            };
            let scopes = alternatives
                .iter()
                .map(|alt| {
                    alt.split_whitespace()
                        .map(|s| {
                            AdminScope::parse(s).ok_or_else(|| UnknownScope { place: place(), scope: s.to_owned() })
                        })
                        .collect::<Result<Vec<_>, _>>()
                })
                .collect::<Result<Vec<_>, _>>()?;
            needs.push(Need { declared: (*alternatives).clone(), scopes });
        }
        let index = |d: &Vec<String>| declared.iter().position(|n| *n == d);
        let mut types = HashMap::new();
        for ty in registry.types.values() {
            if let Some((own, fields)) = scoped_type(ty) {
                let fields = fields
                    .iter()
                    .map(|(name, f)| {
                        let plan = FieldPlan { needs: index(&f.requires_scopes), ty: named_type(&f.ty).to_owned() };
                        (name.clone(), plan)
                    })
                    .collect();
                types.insert(ty.name().to_owned(), TypePlan { needs: index(own), fields });
            }
        }
        Ok(Self { registry, max_cost, needs, types, documents: Documents::default() })
    }

    /// Parses the request (async-graphql then reuses the parsed document) and refuses it
    /// whole unless every check passes and `principal` holds every scope it needs.
    pub fn check(&self, request: &mut Request, principal: Option<&Principal>) -> Result<(), ServerError> {
        // Parsing borrows the request mutably: hold the variables aside meanwhile.
        let variables = std::mem::take(&mut request.variables);
        let checked = self.check_parsed(request, &variables, principal);
        request.variables = variables;
        checked
    }

    fn check_parsed(
        &self,
        request: &mut Request,
        variables: &async_graphql::Variables,
        principal: Option<&Principal>,
    ) -> Result<(), ServerError> {
        let name = request.operation_name.clone();
        self.documents.parse(request)?;
        let doc = request.parsed_query()?;
        // Every walk below follows fragment spreads recursively: a long chain of fragments
        // must not reach them (30,000 links overflow the stack).
        if doc.fragments.len() > MAX_FRAGMENTS {
            return Err(limit_error(format!(
                "the document defines {} fragments; at most {MAX_FRAGMENTS} are allowed",
                doc.fragments.len()
            )));
        }
        // Measured before async-graphql walks the document with fragments expanded: a few
        // lines of nested fragment spreads would otherwise expand to billions.
        match super::cost::expansion(doc) {
            Some(n) if n <= super::cost::MAX_EXPANSION => {}
            Some(_) => return Err(limit_error("the document's fragments expand to too many fields".into())),
            None => return Err(limit_error("the document's fragments spread each other in a cycle".into())),
        }
        let aliases = count_aliases(doc);
        if aliases > MAX_ALIASES {
            return Err(limit_error(format!("the document uses {aliases} aliases; at most {MAX_ALIASES} are allowed")));
        }
        super::text_check::check(doc, variables)?;
        let Some((root, selection)) = operation(doc, name.as_deref()) else {
            // Unknown or ambiguous operation: execution reports it and runs nothing.
            return Ok(());
        };
        let root_type = match root {
            async_graphql::parser::types::OperationType::Query => "Query",
            async_graphql::parser::types::OperationType::Mutation => "Mutation",
            async_graphql::parser::types::OperationType::Subscription => "Subscription",
        };
        // A subscription's cost is its stream, not counts: only its scopes are planned.
        let cost = if root_type == "Subscription" {
            Ok(0)
        } else {
            super::cost::check(&self.registry, doc, variables, root_type, selection, self.max_cost)
        };
        match cost {
            Ok(_) => {}
            Err(super::cost::Refusal::TooCostly(cost)) => {
                return Err(limit_error(format!(
                    "the operation is too complex: its counts and root fields cost at least {cost}, more than {} \
                     (each totalCount of a root list costs {}, of a nested list {}, each root field {}, \
                     times how often it runs)",
                    self.max_cost,
                    super::cost::COUNT_COST,
                    super::cost::LINK_COUNT_COST,
                    super::cost::ROOT_COST
                )));
            }
        }
        let mut walk = Walk { types: &self.types, doc, needs: BTreeSet::new(), seen_fragments: HashSet::new() };
        walk.selection_set(root_type, selection);
        let held: &[AdminScope] = match principal {
            Some(p) => &p.scopes,
            None if walk.needs.is_empty() => return Ok(()),
            None => return Err(unauthenticated()),
        };
        for &need in &walk.needs {
            let need = &self.needs[need];
            if !satisfied(&need.scopes, held) {
                return Err(forbidden(&need.declared));
            }
        }
        Ok(())
    }
}

/// The operation that will run: its type and selection set.
fn operation<'d>(
    doc: &'d ExecutableDocument,
    name: Option<&str>,
) -> Option<(async_graphql::parser::types::OperationType, &'d SelectionSet)> {
    let op = match (&doc.operations, name) {
        (DocumentOperations::Single(op), _) => op,
        (DocumentOperations::Multiple(ops), Some(name)) => ops.get(name)?,
        (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => ops.values().next()?,
        (DocumentOperations::Multiple(_), None) => return None,
    };
    Some((op.node.ty, &op.node.selection_set.node))
}

struct Walk<'a> {
    types: &'a HashMap<String, TypePlan>,
    doc: &'a ExecutableDocument,
    /// The declarations met (indexes into [`Planner::needs`]).
    needs: BTreeSet<usize>,
    /// A fragment's needs do not depend on where it is spread, so each is walked once
    /// (this also stops fragment cycles, which validation rejects later).
    seen_fragments: HashSet<String>,
}

impl Walk<'_> {
    fn selection_set(&mut self, type_name: &str, set: &SelectionSet) {
        for selection in &set.items {
            match &selection.node {
                Selection::Field(field) => {
                    let field = &field.node;
                    let name = field.name.node.as_str();
                    if name.starts_with("__") {
                        continue;
                    }
                    let types = self.types;
                    let Some(ty) = types.get(type_name) else { continue };
                    let Some(plan) = ty.fields.get(name) else {
                        continue; // validation reports unknown fields
                    };
                    self.needs.extend(plan.needs);
                    if name != "id" {
                        self.needs.extend(ty.needs);
                    }
                    if !field.selection_set.node.items.is_empty() {
                        self.selection_set(&plan.ty, &field.selection_set.node);
                    }
                }
                Selection::InlineFragment(fragment) => {
                    let fragment = &fragment.node;
                    let on = fragment.type_condition.as_ref().map(|t| t.node.on.node.to_string());
                    let on = on.unwrap_or_else(|| type_name.to_owned());
                    self.selection_set(&on, &fragment.selection_set.node);
                }
                Selection::FragmentSpread(spread) => {
                    let name = spread.node.fragment_name.node.to_string();
                    if !self.seen_fragments.insert(name.clone()) {
                        continue;
                    }
                    let doc = self.doc;
                    if let Some(fragment) = doc.fragments.get(name.as_str()) {
                        let on = fragment.node.type_condition.node.on.node.to_string();
                        self.selection_set(&on, &fragment.node.selection_set.node);
                    }
                }
            }
        }
    }
}

/// The declaration of an object or interface type and its fields.
fn scoped_type(ty: &MetaType) -> Option<(&Vec<String>, &async_graphql::indexmap::IndexMap<String, MetaField>)> {
    match ty {
        MetaType::Object { fields, requires_scopes, .. } => Some((requires_scopes, fields)),
        MetaType::Interface { fields, requires_scopes, .. } => Some((requires_scopes, fields)),
        _ => None,
    }
}

/// `Type.field` of every root field that declares no scope. Only `node` and `nodes` may
/// be here: they check the scope of each ID's type when they decode it.
pub fn unscoped_root_fields(registry: &Registry) -> Vec<String> {
    let mut out = Vec::new();
    for root in ["Query", "Mutation"] {
        if let Some(MetaType::Object { fields, .. }) = registry.types.get(root) {
            for (name, field) in fields {
                if field.requires_scopes.is_empty() && !name.starts_with("__") {
                    out.push(format!("{root}.{name}"));
                }
            }
        }
    }
    out
}

/// `[User!]!` -> `User`.
pub(super) fn named_type(ty: &str) -> &str {
    ty.trim_matches(|c| c == '[' || c == ']' || c == '!')
}

fn satisfied(alternatives: &[Vec<AdminScope>], held: &[AdminScope]) -> bool {
    alternatives.iter().any(|alt| alt.iter().all(|s| held.contains(s)))
}

fn count_aliases(doc: &ExecutableDocument) -> usize {
    fn in_set(set: &SelectionSet) -> usize {
        set.items
            .iter()
            .map(|s| match &s.node {
                Selection::Field(f) => usize::from(f.node.alias.is_some()) + in_set(&f.node.selection_set.node),
                Selection::InlineFragment(f) => in_set(&f.node.selection_set.node),
                Selection::FragmentSpread(_) => 0,
            })
            .sum()
    }
    let ops: usize = doc.operations.iter().map(|(_, op)| in_set(&op.node.selection_set.node)).sum();
    let fragments: usize = doc.fragments.values().map(|f| in_set(&f.node.selection_set.node)).sum();
    ops + fragments
}

fn forbidden(alternatives: &[String]) -> ServerError {
    let first = alternatives.first().map(String::as_str).unwrap_or_default();
    let message = if alternatives.len() == 1 {
        format!("this operation requires the scope `{}`", first.split_whitespace().collect::<Vec<_>>().join("` and `"))
    } else {
        let names: Vec<String> = alternatives.iter().map(|a| format!("`{a}`")).collect();
        format!("this operation requires one of the scopes {}", names.join(", "))
    };
    request_error(
        message,
        code::FORBIDDEN,
        "Forbidden",
        reason::INSUFFICIENT_SCOPE,
        Some(serde_json::json!({"scope": first})),
    )
}

fn unauthenticated() -> ServerError {
    request_error(
        "authentication required".into(),
        code::UNAUTHENTICATED,
        reason::UNAUTHENTICATED,
        "Unauthenticated",
        None,
    )
}

fn limit_error(message: String) -> ServerError {
    request_error(message, code::BAD_USER_INPUT, "Invalid", reason::QUERY_TOO_COMPLEX, None)
}
