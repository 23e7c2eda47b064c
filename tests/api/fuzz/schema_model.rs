//! A small model of the Admin API schema, read from schema.graphql.

use std::collections::HashMap;

const SCHEMA: &str = include_str!("../../../schema.graphql");

#[derive(Clone, Debug)]
pub(super) enum Ty {
    Named(String),
    NonNull(Box<Ty>),
    List(Box<Ty>),
}

impl Ty {
    pub(super) fn name(&self) -> &str {
        match self {
            Ty::Named(n) => n,
            Ty::NonNull(t) | Ty::List(t) => t.name(),
        }
    }

    pub(super) fn sdl(&self) -> String {
        match self {
            Ty::Named(n) => n.clone(),
            Ty::NonNull(t) => format!("{}!", t.sdl()),
            Ty::List(t) => format!("[{}]", t.sdl()),
        }
    }
}

pub(super) struct FieldDef {
    pub(super) name: String,
    pub(super) args: Vec<(String, Ty)>,
    pub(super) ty: Ty,
}

pub(super) enum Def {
    Object(Vec<FieldDef>),
    Input(Vec<(String, Ty)>),
    Enum(Vec<String>),
    Scalar,
}

pub(super) struct Schema {
    pub(super) defs: HashMap<String, Def>,
    pub(super) types: Vec<String>,
}

fn tokens(sdl: &str) -> Vec<String> {
    // Descriptions first: every other piece between `"""` is one.
    let text: String = sdl.split("\"\"\"").step_by(2).collect::<Vec<_>>().join(" ");
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_whitespace() || c == ',' {
            continue;
        }
        if c == '#' {
            for d in chars.by_ref() {
                if d == '\n' {
                    break;
                }
            }
        } else if c == '"' {
            for d in chars.by_ref() {
                if d == '"' {
                    break;
                }
            }
        } else if c.is_alphanumeric() || c == '_' {
            let mut name = c.to_string();
            while let Some(&d) = chars.peek() {
                if d.is_alphanumeric() || d == '_' {
                    name.push(d);
                    chars.next();
                } else {
                    break;
                }
            }
            out.push(name);
        } else {
            out.push(c.to_string());
        }
    }
    out
}

struct Parser {
    t: Vec<String>,
    i: usize,
}

impl Parser {
    fn peek(&self) -> &str {
        self.t.get(self.i).map(String::as_str).unwrap_or("")
    }

    fn next(&mut self) -> String {
        self.i += 1;
        self.t.get(self.i - 1).cloned().unwrap_or_default()
    }

    fn ty(&mut self) -> Ty {
        let t = if self.peek() == "[" {
            self.next();
            let inner = self.ty();
            self.next(); // ]
            Ty::List(Box::new(inner))
        } else {
            Ty::Named(self.next())
        };
        if self.peek() == "!" {
            self.next();
            Ty::NonNull(Box::new(t))
        } else {
            t
        }
    }

    fn skip_value(&mut self) {
        let mut depth = 0;
        loop {
            let tok = self.next();
            match tok.as_str() {
                "[" | "{" => depth += 1,
                "]" | "}" => depth -= 1,
                _ => {}
            }
            if depth <= 0 {
                break;
            }
        }
    }

    fn directives(&mut self) {
        while self.peek() == "@" {
            self.next();
            self.next();
            if self.peek() == "(" {
                while self.next() != ")" {}
            }
        }
    }

    fn input_values(&mut self, close: &str) -> Vec<(String, Ty)> {
        let mut out = Vec::new();
        while self.peek() != close && !self.peek().is_empty() {
            let name = self.next();
            self.next(); // :
            let ty = self.ty();
            if self.peek() == "=" {
                self.next();
                self.skip_value();
            }
            self.directives();
            out.push((name, ty));
        }
        self.next();
        out
    }

    fn schema(mut self) -> Schema {
        let mut defs = HashMap::new();
        let mut types = Vec::new();
        while !self.peek().is_empty() {
            match self.next().as_str() {
                kw @ ("type" | "interface" | "input" | "enum" | "scalar") => {
                    let name = self.next();
                    while !matches!(self.peek(), "{" | "") && kw != "scalar" {
                        self.next(); // implements A & B
                    }
                    self.directives();
                    let def = match kw {
                        "scalar" => Def::Scalar,
                        "input" => {
                            self.next();
                            Def::Input(self.input_values("}"))
                        }
                        "enum" => {
                            self.next();
                            let mut values = Vec::new();
                            while self.peek() != "}" {
                                values.push(self.next());
                                self.directives();
                            }
                            self.next();
                            Def::Enum(values)
                        }
                        _ => {
                            self.next();
                            let mut fields = Vec::new();
                            while self.peek() != "}" && !self.peek().is_empty() {
                                let name = self.next();
                                let args = if self.peek() == "(" {
                                    self.next();
                                    self.input_values(")")
                                } else {
                                    Vec::new()
                                };
                                self.next(); // :
                                let ty = self.ty();
                                self.directives();
                                fields.push(FieldDef { name, args, ty });
                            }
                            self.next();
                            if kw == "type" {
                                types.push(name.clone());
                            }
                            Def::Object(fields)
                        }
                    };
                    defs.insert(name, def);
                }
                "schema" => while self.next() != "}" {},
                _ => {} // directive definitions and the like
            }
        }
        Schema { defs, types }
    }
}

pub(super) fn parse_schema() -> Schema {
    Parser { t: tokens(SCHEMA), i: 0 }.schema()
}
