//! Refuses a whole Admin API request, before anything executes, when any string in its
//! variables or in the literal arguments of its document holds NUL (U+0000): PostgreSQL
//! cannot store it, and SQLite and PostgreSQL must give the same `BAD_USER_INPUT`.

use crate::domain::reason;
use crate::graphql::error::code;
use async_graphql::parser::types::{
    Directive, ExecutableDocument, FragmentDefinition, OperationDefinition, Selection, SelectionSet,
};
use async_graphql::{Positioned, ServerError, Value as ConstValue, Variables};

use crate::domain::text::has_forbidden_char;

/// Refuses the request when its variables or its document's literals hold NUL.
pub fn check(document: &ExecutableDocument, variables: &Variables) -> Result<(), ServerError> {
    let variables_ok = variables.iter().all(|(name, value)| !has_forbidden_char(name) && const_ok(value));
    if !variables_ok {
        return Err(refusal("a variable"));
    }
    if !document_ok(document) {
        return Err(refusal("an argument"));
    }
    Ok(())
}

/// The `BAD_USER_INPUT` error for a string holding NUL in `place`.
fn refusal(place: &str) -> ServerError {
    super::error::request_error(
        format!("{place} contains a forbidden character (NUL, U+0000); no text may hold it, so nothing was run"),
        code::BAD_USER_INPUT,
        "Invalid",
        reason::INVALID_CHARACTER,
        None,
    )
}

/// Whether a literal value of the document (with nested lists and objects) is free of
/// NUL. The parser's value type has no public name, so it is turned into a constant
/// value first; a variable inside stands for null (variables are checked on their own).
macro_rules! literal_ok {
    ($value:expr) => {
        const_ok(
            &$value
                .clone()
                .into_const_with(|_| Ok::<_, std::convert::Infallible>(ConstValue::Null))
                .unwrap_or_default(),
        )
    };
}

fn document_ok(doc: &ExecutableDocument) -> bool {
    doc.operations.iter().all(|(_, op)| operation_ok(&op.node)) && doc.fragments.values().all(|f| fragment_ok(&f.node))
}

fn operation_ok(op: &OperationDefinition) -> bool {
    directives_ok(&op.directives)
        && op.variable_definitions.iter().all(|v| {
            directives_ok(&v.node.directives) && v.node.default_value.as_ref().is_none_or(|d| const_ok(&d.node))
        })
        && selection_set_ok(&op.selection_set.node)
}

fn fragment_ok(f: &FragmentDefinition) -> bool {
    directives_ok(&f.directives) && selection_set_ok(&f.selection_set.node)
}

fn selection_set_ok(set: &SelectionSet) -> bool {
    set.items.iter().all(|item| match &item.node {
        Selection::Field(field) => {
            field.node.arguments.iter().all(|(_, v)| literal_ok!(v.node))
                && directives_ok(&field.node.directives)
                && selection_set_ok(&field.node.selection_set.node)
        }
        Selection::FragmentSpread(spread) => directives_ok(&spread.node.directives),
        Selection::InlineFragment(inline) => {
            directives_ok(&inline.node.directives) && selection_set_ok(&inline.node.selection_set.node)
        }
    })
}

fn directives_ok(directives: &[Positioned<Directive>]) -> bool {
    directives.iter().all(|d| d.node.arguments.iter().all(|(_, v)| literal_ok!(v.node)))
}

/// A variable's value (from JSON: object keys are free text too).
fn const_ok(v: &ConstValue) -> bool {
    match v {
        ConstValue::String(s) => !has_forbidden_char(s),
        ConstValue::Enum(name) => !has_forbidden_char(name),
        ConstValue::List(items) => items.iter().all(const_ok),
        ConstValue::Object(map) => map.iter().all(|(k, v)| !has_forbidden_char(k) && const_ok(v)),
        ConstValue::Null | ConstValue::Number(_) | ConstValue::Boolean(_) | ConstValue::Binary(_) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_nul_in_nested_literals_and_variables() {
        let doc = async_graphql::parser::parse_query(r#"{ a(x: {y: ["ok", "b\u0000"]}) }"#).expect("parses");
        assert!(!document_ok(&doc));
        let doc = async_graphql::parser::parse_query(r#"query($v: String = "\u0000") { a(x: $v) }"#).expect("parses");
        assert!(!document_ok(&doc));
        let doc = async_graphql::parser::parse_query(
            r#"{ ...F } fragment F on Query { a @include(if: true) { b(s: "ok\n") } }"#,
        )
        .expect("parses");
        assert!(document_ok(&doc));
        let vars = Variables::from_json(serde_json::json!({"v": {"k\u{0}": "x"}}));
        assert!(!vars.iter().all(|(_, v)| const_ok(v)));
    }
}
