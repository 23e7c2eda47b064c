//! TypeScript to JavaScript: parse with oxc, strip the types (and lower TypeScript-only
//! syntax such as `enum`), print plain ES module code that QuickJS runs. The same pass
//! checks a script when it is saved: a parse error, an `import`, or a missing default
//! export is refused with its line and column.

use std::path::Path;

use oxc_allocator::Allocator;
use oxc_ast::ast::ModuleDeclaration;
use oxc_codegen::Codegen;
use oxc_parser::Parser;
use oxc_semantic::SemanticBuilder;
use oxc_span::SourceType;
use oxc_transformer::{TransformOptions, Transformer};

/// Why a script does not compile, at a 1-based line and column of its source.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: {message}")]
pub struct ScriptSyntaxError {
    /// 1-based line.
    pub line: u32,
    /// 1-based column (in characters).
    pub column: u32,
    /// What is wrong.
    pub message: String,
}

/// The 1-based line and column of byte `offset` in `source`.
fn position(source: &str, offset: u32) -> (u32, u32) {
    let offset = usize::try_from(offset).unwrap_or(usize::MAX).min(source.len());
    let before = source.get(..offset).unwrap_or(source);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before.get(line_start..).map_or(0, |s| s.chars().count()) + 1;
    (u32::try_from(line).unwrap_or(u32::MAX), u32::try_from(column).unwrap_or(u32::MAX))
}

fn at(source: &str, offset: u32, message: impl Into<String>) -> ScriptSyntaxError {
    let (line, column) = position(source, offset);
    ScriptSyntaxError { line, column, message: message.into() }
}

fn source_type(name: &str) -> SourceType {
    if name.ends_with(".js") { SourceType::mjs() } else { SourceType::ts() }
}

/// Compiles a script (`.ts` or `.js` by its name) to plain JavaScript, or says where it
/// is wrong. A panic inside the compiler is a refusal, not a crash.
pub fn to_javascript(name: &str, source: &str) -> Result<String, ScriptSyntaxError> {
    std::panic::catch_unwind(|| compile(name, source))
        .unwrap_or_else(|_| Err(at(source, 0, "the TypeScript compiler cannot handle this script")))
}

fn compile(name: &str, source: &str) -> Result<String, ScriptSyntaxError> {
    let allocator = Allocator::default();
    let parsed = Parser::new(&allocator, source, source_type(name)).parse();
    if let Some(e) = parsed.diagnostics.errors().next() {
        let offset = e.labels.first().map_or(0, |l| l.offset());
        return Err(at(source, offset, e.message.to_string()));
    }
    if parsed.panicked {
        return Err(at(source, 0, "the script cannot be parsed"));
    }
    let mut program = parsed.program;
    let mut has_default = false;
    for stmt in &program.body {
        if let Some(decl) = stmt.as_module_declaration() {
            match decl {
                ModuleDeclaration::ImportDeclaration(i) if i.import_kind.is_value() => {
                    return Err(at(source, i.span.start, "a script cannot import modules"));
                }
                ModuleDeclaration::ExportDefaultDeclaration(_) => has_default = true,
                ModuleDeclaration::ExportAllDeclaration(e) if e.export_kind.is_value() => {
                    return Err(at(source, e.span.start, "a script cannot re-export modules"));
                }
                ModuleDeclaration::ExportFromDeclaration(e) if e.export_kind.is_value() => {
                    return Err(at(source, e.span.start, "a script cannot re-export modules"));
                }
                ModuleDeclaration::TSExportAssignment(e) => {
                    return Err(at(source, e.span.start, "use `export default` instead of `export =`"));
                }
                _ => {}
            }
        }
    }
    if !has_default {
        return Err(at(source, 0, "a script must `export default` the function that handles the event"));
    }
    let scoping = SemanticBuilder::new().with_enum_eval(true).build(&program).semantic.into_scoping();
    let transformed = Transformer::new(&allocator, Path::new(name), &TransformOptions::default())
        .build_with_scoping(scoping, &mut program);
    if let Some(e) = transformed.diagnostics.errors().next() {
        let offset = e.labels.first().map_or(0, |l| l.offset());
        return Err(at(source, offset, e.message.to_string()));
    }
    Ok(Codegen::new().build(&program).code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_are_stripped() {
        let js = to_javascript(
            "a.ts",
            "interface E { payload: { n: number } }\nenum K { A = 1 }\nexport default async function (e: E): Promise<number> { const x: number = e.payload.n as number; return x + K.A; }\n",
        )
        .expect("compiles");
        assert!(!js.contains("interface"), "{js}");
        assert!(!js.contains(": number"), "{js}");
        assert!(js.contains("export default"), "{js}");
    }

    #[test]
    fn syntax_errors_have_a_position() {
        let e = to_javascript("a.ts", "export default function (e) {\n  return e.;\n}\n").expect_err("refused");
        assert_eq!((e.line, e.column), (2, 12), "{e}");
        let e = to_javascript("a.ts", "import x from 'fs';\nexport default () => x;").expect_err("refused");
        assert_eq!((e.line, e.column), (1, 1));
        assert!(to_javascript("a.ts", "const a = 1;").is_err());
        // Type-only imports are erased, so they are fine.
        assert!(to_javascript("a.ts", "import type { X } from './x';\nexport default (e: X) => e;").is_ok());
    }
}
