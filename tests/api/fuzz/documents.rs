//! Random GraphQL documents for the Admin API, built from the schema model.

use serde_json::{Value, json};

use super::schema_model::{Def, Schema, Ty};
use super::values::{Pool, Rng, alter, mangle_text};
use crate::hostile_input::API;

/// Builds one random GraphQL request. A tame document follows the schema (so that it
/// validates and runs, with random values); a wild one (`wild`) also has wrong types,
/// unknown fields and arguments, hostile strings and undefined fragments or variables.
pub(super) struct DocGen<'a> {
    pub(super) rng: &'a mut Rng,
    pub(super) schema: &'a Schema,
    pub(super) pool: &'a Pool,
    pub(super) wild: bool,
    pub(super) var_defs: Vec<String>,
    pub(super) variables: serde_json::Map<String, Value>,
    pub(super) fragments: Vec<String>,
    pub(super) aliases: usize,
    /// The name of the argument or input field being filled in (`userID`, `roleKeys`...).
    pub(super) hint: String,
}

impl DocGen<'_> {
    /// A wild choice: only in wild documents, `percent` of the time.
    fn oops(&mut self, percent: u64) -> bool {
        self.wild && self.rng.chance(percent)
    }

    fn string(&mut self) -> String {
        if self.wild {
            return self.pool.string(self.rng);
        }
        let good = match self.rng.below(4) {
            0 => self.rng.pick(&self.pool.ids).clone(),
            1 => format!("fuzz{}@example.com", self.rng.below(50)),
            2 => format!("k_{}", self.rng.below(50)),
            _ => self.rng.pick(&self.pool.strings).clone(),
        };
        // Structure stays valid; a value now and then does not.
        if self.rng.chance(10) { alter(self.rng, &good) } else { good }
    }

    /// A value that fits the argument's name, when the name says what it wants.
    fn hinted(&mut self) -> Option<String> {
        let hint = self.hint.to_ascii_lowercase();
        let pool = self.pool;
        let typed = |prefix: &str| -> Vec<String> {
            pool.ids
                .iter()
                .filter(|id| {
                    authgraph::crypto::b64_decode(id)
                        .and_then(|b| String::from_utf8(b).ok())
                        .is_some_and(|t| t.to_ascii_lowercase().starts_with(prefix))
                })
                .cloned()
                .collect()
        };
        let candidates: Vec<String> = if hint.contains("user") && hint.contains("id") {
            typed("user:")
        } else if hint.contains("role") && hint.contains("key") {
            vec!["fuzz_role".into(), format!("k_{}", self.rng.below(5))]
        } else if hint.contains("group") && hint.contains("key") {
            vec!["fuzz_group".into(), format!("k_{}", self.rng.below(5))]
        } else if hint.contains("clientid") {
            self.pool
                .strings
                .iter()
                .filter(|s| s.len() == 16 && s.chars().all(|c| c.is_ascii_hexdigit()))
                .cloned()
                .collect()
        } else if hint.contains("resourceuri") {
            vec![API.to_owned(), "https://api.example.com/other".to_owned()]
        } else if hint == "loginidkey" || hint == "attributename" {
            vec!["email".into(), "phone".into(), "username".into(), "phone_number".into()]
        } else if hint.contains("scope") {
            vec!["read".into(), "write".into()]
        } else if hint == "id" || hint.ends_with("ids") || hint.ends_with("id") {
            self.pool.ids.clone()
        } else {
            Vec::new()
        };
        if candidates.is_empty() || self.rng.chance(15) { None } else { Some(self.rng.pick(&candidates).clone()) }
    }

    fn scalar_json(&mut self, name: &str) -> Value {
        if matches!(name, "String" | "ID")
            && let Some(v) = self.hinted()
        {
            return json!(v);
        }
        match name {
            "Int" => {
                json!(*self.rng.pick(&[0i64, 1, -1, 5, 100, 101, 1_000_000, i64::from(i32::MAX), i64::from(i32::MIN),]))
            }
            "Float" => json!(*self.rng.pick(&[0.5, -1.0, 1e300])),
            "Boolean" => json!(self.rng.chance(50)),
            "ID" => json!(if self.rng.chance(80) { self.rng.pick(&self.pool.ids).clone() } else { self.string() }),
            "DateTime" => json!(*self.rng.pick(&[
                "2024-01-01T00:00:00Z",
                "2030-06-01T12:00:00+02:00",
                "9999-12-31T23:59:59Z",
                "0000-01-01T00:00:00Z",
                "1970-01-01T00:00:00+23:59",
                "-9999-01-01T00:00:00Z",
            ])),
            "String" => json!(self.string()),
            _ => {
                // JSON scalars (attributes, claims, data): an object of random keys.
                let keys = [
                    "email",
                    "phone_number",
                    "preferred_username",
                    "given_name",
                    "family_name",
                    "name",
                    "nickname",
                    "birthdate",
                    "gender",
                    "locale",
                    "zoneinfo",
                    "address",
                    "picture",
                    "website",
                    "x",
                    "",
                ];
                let mut m = serde_json::Map::new();
                for _ in 0..self.rng.below(4) {
                    let k = self.rng.pick(&keys).to_string();
                    let v = match self.rng.below(6) {
                        0 => json!(self.rng.below(100)),
                        1 => json!({"street_address": self.string(), "country": self.string()}),
                        2 => json!([self.string()]),
                        3 => Value::Null,
                        _ => json!(self.string()),
                    };
                    m.insert(k, v);
                }
                if self.rng.chance(5) { json!(self.string()) } else { Value::Object(m) }
            }
        }
    }

    /// A JSON value of type `ty` (mostly).
    fn json_value(&mut self, ty: &Ty, depth: usize) -> Value {
        if self.oops(5) {
            return match self.rng.below(4) {
                0 => Value::Null,
                1 => json!(self.string()),
                2 => json!(42),
                _ => json!({"unexpected": [1, "two"]}),
            };
        }
        match ty {
            Ty::NonNull(t) => self.json_value(t, depth),
            Ty::List(t) => {
                let n = if self.rng.chance(1) { 1_001 } else { self.rng.below(4) };
                Value::Array((0..n).map(|_| self.json_value(t, depth + 1)).collect())
            }
            Ty::Named(name) => match self.schema.defs.get(name) {
                Some(Def::Enum(values)) => json!(self.rng.pick(values)),
                Some(Def::Input(fields)) if depth < 4 => {
                    let mut m = serde_json::Map::new();
                    for (f, t) in fields {
                        if (matches!(t, Ty::NonNull(_)) && !self.oops(5)) || self.rng.chance(40) {
                            self.hint = f.clone();
                            let v = self.json_value(t, depth + 1);
                            m.insert(f.clone(), v);
                        }
                    }
                    if self.oops(5) {
                        m.insert("bogus".into(), json!(1));
                    }
                    Value::Object(m)
                }
                Some(Def::Input(_)) => json!({}),
                _ => self.scalar_json(name),
            },
        }
    }

    /// `value` of type `ty` as a GraphQL literal: enums bare, input objects by field type.
    fn typed_literal(&self, ty: &Ty, value: &Value) -> String {
        match (ty, value) {
            (Ty::NonNull(t), v) => self.typed_literal(t, v),
            (Ty::List(t), Value::Array(items)) => {
                format!("[{}]", items.iter().map(|i| self.typed_literal(t, i)).collect::<Vec<_>>().join(", "))
            }
            (Ty::Named(name), Value::String(s)) if matches!(self.schema.defs.get(name), Some(Def::Enum(_))) => {
                s.clone()
            }
            (Ty::Named(name), Value::Object(m)) => match self.schema.defs.get(name) {
                Some(Def::Input(fields)) => {
                    let parts: Vec<String> = m
                        .iter()
                        .map(|(k, v)| {
                            let t = fields.iter().find(|(f, _)| f == k).map(|(_, t)| t.clone());
                            match t {
                                Some(t) => format!("{k}: {}", self.typed_literal(&t, v)),
                                None => format!("{k}: {}", value_literal(v)),
                            }
                        })
                        .collect();
                    format!("{{{}}}", parts.join(", "))
                }
                _ => value_literal(value),
            },
            _ => value_literal(value),
        }
    }

    /// A GraphQL literal for an argument of type `ty`, or a variable standing for one.
    fn literal(&mut self, ty: &Ty) -> String {
        let value = self.json_value(ty, 0);
        if self.rng.chance(30) {
            let name = format!("v{}", self.var_defs.len());
            let declared = if self.oops(10) { "String".to_owned() } else { ty.sdl() };
            if self.rng.chance(5) {
                let default = self.typed_literal(ty, &value);
                self.var_defs.push(format!("${name}: {declared} = {default}"));
            } else {
                self.var_defs.push(format!("${name}: {declared}"));
                if !self.oops(10) {
                    self.variables.insert(name.clone(), value);
                }
            }
            return format!("${name}");
        }
        self.typed_literal(ty, &value)
    }

    fn args(&mut self, args: &[(String, Ty)]) -> String {
        let mut parts = Vec::new();
        for (name, ty) in args {
            let optional_cursor = matches!(name.as_str(), "after" | "before") && self.rng.chance(70);
            if ((matches!(ty, Ty::NonNull(_)) && !self.oops(5)) || self.rng.chance(35)) && !optional_cursor {
                self.hint = name.clone();
                let v = self.literal(ty);
                parts.push(format!("{name}: {v}"));
            }
        }
        if self.oops(5) {
            let v = value_literal(&json!(self.string()));
            parts.push(format!("bogus: {v}"));
        }
        if parts.is_empty() { String::new() } else { format!("({})", parts.join(", ")) }
    }

    fn other_type(&mut self, type_name: &str) -> String {
        if self.oops(30) { self.rng.pick(&self.schema.types).clone() } else { type_name.to_owned() }
    }

    fn selection(&mut self, type_name: &str, depth: usize) -> String {
        let schema = self.schema;
        let Some(Def::Object(fields)) = schema.defs.get(type_name) else { return String::new() };
        let mut items = Vec::new();
        for _ in 0..1 + self.rng.below(4) {
            match self.rng.below(20) {
                0 => items.push("__typename".to_owned()),
                1 => {
                    let on = self.other_type(type_name);
                    let inner = self.selection(&on, depth + 1);
                    items.push(format!("... on {on} {{ __typename {inner} }}"));
                }
                2 if self.fragments.len() < 3 && depth > 0 => {
                    let i = self.fragments.len();
                    let on = self.other_type(type_name);
                    self.fragments.push(String::new());
                    let inner = self.selection(&on, depth + 1);
                    self.fragments[i] = format!("fragment F{i} on {on} {{ __typename {inner} }}");
                    items.push(format!("...F{i}"));
                }
                3 if self.wild => items
                    .push((*self.rng.pick(&["unknownField", "...Missing", "__schema { types { name } }"])).to_owned()),
                _ => {
                    let f = &fields[self.rng.below(fields.len())];
                    let leaf = !matches!(self.schema.defs.get(f.ty.name()), Some(Def::Object(_)));
                    if !leaf && depth >= 3 {
                        items.push("__typename".to_owned());
                        continue;
                    }
                    self.aliases += 1;
                    let alias = format!("a{}: ", self.aliases);
                    let (name, ty, args) = (f.name.clone(), f.ty.clone(), f.args.clone());
                    let args = self.args(&args);
                    let directive = match self.rng.below(15) {
                        0 => " @include(if: true)".to_owned(),
                        1 => {
                            format!(" @skip(if: {})", self.literal(&Ty::NonNull(Box::new(Ty::Named("Boolean".into())))))
                        }
                        _ => String::new(),
                    };
                    let sub =
                        if leaf { String::new() } else { format!(" {{ {} }}", self.selection(ty.name(), depth + 1)) };
                    items.push(format!("{alias}{name}{args}{directive}{sub}"));
                }
            }
        }
        items.join(" ")
    }

    pub(super) fn document(mut self) -> (String, Value, Option<String>) {
        let root = if self.rng.chance(55) { "Query" } else { "Mutation" };
        let mut body = Vec::new();
        for _ in 0..1 + self.rng.below(3) {
            body.push(self.selection(root, 0));
        }
        if self.rng.chance(2) {
            // Many aliases of one cheap field.
            body.push((0..200).map(|i| format!("t{i}: __typename")).collect::<Vec<_>>().join(" "));
        }
        let keyword = if root == "Query" { "query" } else { "mutation" };
        let name = if self.rng.chance(20) { Some(format!("Op{}", self.rng.below(3))) } else { None };
        let vars = if self.var_defs.is_empty() { String::new() } else { format!("({})", self.var_defs.join(", ")) };
        let mut doc = format!("{keyword} {}{vars} {{ {} }}", name.clone().unwrap_or_default(), body.join(" "));
        for f in &self.fragments {
            doc.push(' ');
            doc.push_str(f);
        }
        if self.oops(30) {
            doc = mangle_text(self.rng, &doc);
        }
        let op = if self.oops(10) { Some(format!("Op{}", self.rng.below(3))) } else { name };
        (doc, Value::Object(self.variables), op)
    }
}

/// A JSON value as a GraphQL literal (object keys bare, strings JSON-escaped).
fn value_literal(v: &Value) -> String {
    match v {
        Value::Object(m) => {
            let fields: Vec<String> = m
                .iter()
                .map(|(k, v)| {
                    let key: String = k.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
                    let key = if key.is_empty() || key.starts_with(|c: char| c.is_ascii_digit()) {
                        format!("k{key}")
                    } else {
                        key
                    };
                    format!("{key}: {}", value_literal(v))
                })
                .collect();
            format!("{{{}}}", fields.join(", "))
        }
        Value::Array(items) => format!("[{}]", items.iter().map(value_literal).collect::<Vec<_>>().join(", ")),
        other => other.to_string(),
    }
}
