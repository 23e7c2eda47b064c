//! The layers of `src/` point one way. Reads the source files (no build of the app, no
//! server) and fails, naming the file and line, when
//!
//! - a top-level module (`src/<name>/` or `src/<name>.rs`) uses another through a
//!   `crate::<name>` path (`use crate::x`, `use crate::{x, y}`, `crate::x::f()`) that the
//!   table [`ALLOWED`] does not list, or the modules' imports form a cycle;
//! - a file of an adapter (`src/graphql`, `src/oidc`, `src/http`) mentions `sea_orm` or
//!   `entity::`: only `service` talks to the database.
//!
//! `super::` paths stay inside a module and are not looked at; `src/lib.rs` (the crate
//! root, which wires the layers together) and `src/main.rs` (the binary, which uses the
//! library by its name) are not modules of the graph.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Each top-level module with the modules it may use. Read top to bottom: the adapters,
/// the state they share, the Admin API schema, the business logic, the building blocks.
/// `config` may be used by any layer above it; `domain` uses nothing; `crypto` only reads
/// `config` (the parameters of imported password hashes).
const ALLOWED: &[(&str, &[&str])] = &[
    ("http", &["state", "oidc", "graphql", "service", "config", "domain", "crypto", "telemetry"]),
    ("oidc", &["state", "service", "config", "domain", "crypto", "telemetry"]),
    ("jobs", &["service", "hooks", "config", "domain", "crypto"]),
    ("state", &["graphql", "service", "config", "domain", "crypto"]),
    ("graphql", &["service", "config", "domain", "crypto"]),
    ("service", &["hooks", "config", "domain", "crypto", "telemetry"]),
    ("hooks", &["config", "domain", "crypto"]),
    ("config", &["domain"]),
    ("crypto", &["config"]),
    ("domain", &[]),
    // Metrics: a building block that the adapters and the services record into.
    ("telemetry", &[]),
    // The `import` command of the binary: it uses the library by its name (`authgraph::`).
    ("cli_import", &[]),
];

/// Folders whose files may not mention the database layer.
const ADAPTERS: &[&str] = &["graphql", "oidc", "http", "hooks"];

/// Words of the database layer that an adapter may not mention.
const DATABASE_WORDS: &[&str] = &["sea_orm", "entity::"];

/// The node of the graph that stands for the crate root's own items (`crate::Startup`).
const ROOT: &str = "the crate root (src/lib.rs)";

fn src_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every `.rs` file under `dir`, sorted.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap_or_else(|e| panic!("cannot read {}: {e}", d.display())) {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|x| x == "rs") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// The top-level module a file under `src/` belongs to; `None` for the crate root and
/// the binary.
fn module_of(relative: &Path) -> Option<String> {
    let mut parts = relative.components().map(|c| c.as_os_str().to_string_lossy().into_owned());
    let first = parts.next()?;
    if parts.next().is_some() {
        return Some(first); // src/<name>/...
    }
    match first.strip_suffix(".rs")? {
        "lib" | "main" => None,
        name => Some(name.to_owned()),
    }
}

/// The names of the top-level modules (`src/<name>/` and `src/<name>.rs`).
fn top_level_modules(src: &Path) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for entry in std::fs::read_dir(src).expect("src/") {
        let path = entry.expect("directory entry").path();
        let name = path.file_name().expect("file name").to_string_lossy().into_owned();
        if path.is_dir() {
            out.insert(name);
        } else if let Some(stem) = name.strip_suffix(".rs")
            && stem != "lib"
            && stem != "main"
        {
            out.insert(stem.to_owned());
        }
    }
    out
}

/// `text` with its comments blanked out (line breaks kept, so lines keep their numbers).
/// String and character literals are kept: attribute strings can hold paths
/// (`complexity = "crate::..."`).
fn without_comments(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let blank = |c: char| if c == '\n' { '\n' } else { ' ' };
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                out.push(' ');
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    out.push_str("  ");
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    out.push_str("  ");
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    out.push(blank(chars[i]));
                    i += 1;
                }
            }
        } else if c == 'r'
            && (next == Some('"') || next == Some('#'))
            && !ident_char(i.checked_sub(1).map(|p| chars[p]))
        {
            // A raw string: r"..." or r#"..."#.
            let mut j = i + 1;
            let mut hashes = 0;
            while chars.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if chars.get(j) != Some(&'"') {
                out.push(c);
                i += 1;
                continue;
            }
            j += 1;
            let end = loop {
                match chars.get(j) {
                    None => break chars.len(),
                    Some('"') if (1..=hashes).all(|k| chars.get(j + k) == Some(&'#')) => break j + 1 + hashes,
                    Some(_) => j += 1,
                }
            };
            out.extend(&chars[i..end]);
            i = end;
        } else if c == '"' {
            let mut j = i + 1;
            while j < chars.len() && chars[j] != '"' {
                j += if chars[j] == '\\' { 2 } else { 1 };
            }
            let end = (j + 1).min(chars.len());
            out.extend(&chars[i..end]);
            i = end;
        } else if c == '\'' {
            // A character literal ('x', '\n', '\u{..}') or a lifetime ('a): only the
            // former is skipped whole, so a `'"'` does not open a string.
            let end = if next == Some('\\') {
                let mut j = i + 2;
                while j < chars.len() && chars[j] != '\'' {
                    j += 1;
                }
                j + 1
            } else if chars.get(i + 2) == Some(&'\'') {
                i + 3
            } else {
                i + 1
            };
            let end = end.min(chars.len());
            out.extend(&chars[i..end]);
            i = end;
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

fn ident_char(c: Option<char>) -> bool {
    c.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The first segments of the `crate::` paths in `code` (comments removed), with their
/// 1-based line numbers: `crate::a::b` gives `a`, `crate::{a::b, c}` gives `a` and `c`.
fn crate_paths(code: &str) -> Vec<(usize, String)> {
    let chars: Vec<char> = code.chars().collect();
    let line_at = |pos: usize| 1 + chars[..pos].iter().filter(|&&c| c == '\n').count();
    let word = |mut j: usize| -> (String, usize) {
        let start = j;
        while j < chars.len() && (chars[j].is_ascii_alphanumeric() || chars[j] == '_') {
            j += 1;
        }
        (chars[start..j].iter().collect(), j)
    };
    let skip_space = |mut j: usize| {
        while j < chars.len() && chars[j].is_whitespace() {
            j += 1;
        }
        j
    };
    let mut out = Vec::new();
    let pattern: Vec<char> = "crate".chars().collect();
    let mut i = 0;
    while i + pattern.len() < chars.len() {
        let is_crate = chars[i..i + pattern.len()] == pattern[..]
            && !ident_char(i.checked_sub(1).map(|p| chars[p]))
            && !ident_char(chars.get(i + pattern.len()).copied());
        if !is_crate {
            i += 1;
            continue;
        }
        let mut j = skip_space(i + pattern.len());
        if !(chars.get(j) == Some(&':') && chars.get(j + 1) == Some(&':')) {
            i = j.max(i + 1);
            continue;
        }
        j = skip_space(j + 2);
        if chars.get(j) == Some(&'{') {
            // A group: the first segment of each of its top-level items.
            let mut depth = 0;
            let mut expect_item = true;
            while j < chars.len() {
                match chars[j] {
                    '{' => {
                        depth += 1;
                        if depth == 1 {
                            expect_item = true;
                        }
                        j += 1;
                    }
                    '}' => {
                        depth -= 1;
                        j += 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    ',' if depth == 1 => {
                        expect_item = true;
                        j += 1;
                    }
                    c if depth == 1 && expect_item && (c.is_ascii_alphabetic() || c == '_') => {
                        let (name, end) = word(j);
                        out.push((line_at(j), name));
                        expect_item = false;
                        j = end;
                    }
                    _ => j += 1,
                }
            }
            i = j;
        } else {
            let (name, end) = word(j);
            if !name.is_empty() {
                out.push((line_at(j), name));
            }
            i = end.max(j);
        }
    }
    out
}

/// One use of a module by another: where it is.
#[derive(Debug, Clone)]
struct Site {
    file: String,
    line: usize,
}

impl std::fmt::Display for Site {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.file, self.line)
    }
}

/// Every edge `from -> to` between top-level modules, with the places that make it.
fn import_graph() -> BTreeMap<(String, String), Vec<Site>> {
    let src = src_dir();
    let modules = top_level_modules(&src);
    let mut edges: BTreeMap<(String, String), Vec<Site>> = BTreeMap::new();
    for path in rust_files(&src) {
        let relative = path.strip_prefix(&src).expect("under src/");
        let Some(from) = module_of(relative) else { continue };
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        for (line, first) in crate_paths(&without_comments(&text)) {
            let to = if modules.contains(&first) { first } else { ROOT.to_owned() };
            if to != from {
                let file = format!("src/{}", relative.display());
                edges.entry((from.clone(), to)).or_default().push(Site { file, line });
            }
        }
    }
    edges
}

/// A cycle in `graph` (the nodes in order, the first repeated at the end), if any.
fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        done: &mut BTreeSet<String>,
        path: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|n| n == node) {
            let mut cycle = path[at..].to_vec();
            cycle.push(node.to_owned());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_owned());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, done, path) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(node.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    graph.keys().find_map(|start| visit(start, graph, &mut done, &mut Vec::new()))
}

fn allowed() -> BTreeMap<String, BTreeSet<String>> {
    ALLOWED.iter().map(|(m, to)| ((*m).to_owned(), to.iter().map(|t| (*t).to_owned()).collect())).collect()
}

#[test]
fn the_allowed_edges_form_no_cycle() {
    if let Some(cycle) = find_cycle(&allowed()) {
        panic!("the ALLOWED table of tests/layers.rs has a cycle: {}", cycle.join(" -> "));
    }
}

#[test]
fn every_top_level_module_has_a_row_in_the_table() {
    let table = allowed();
    let missing: Vec<String> = top_level_modules(&src_dir()).into_iter().filter(|m| !table.contains_key(m)).collect();
    assert!(
        missing.is_empty(),
        "src/ has top-level modules without a row in ALLOWED (tests/layers.rs): {missing:?}; add each with the \
         modules it may use"
    );
}

#[test]
fn modules_import_only_what_their_layer_allows() {
    let table = allowed();
    let mut refused = Vec::new();
    for ((from, to), sites) in import_graph() {
        if table.get(&from).is_some_and(|may| may.contains(&to)) {
            continue;
        }
        for site in sites {
            refused.push(format!("{site}: `{from}` uses `{to}`, which is not below it"));
        }
    }
    assert!(
        refused.is_empty(),
        "imports against the layers (allowed edges: ALLOWED in tests/layers.rs):\n{}",
        refused.join("\n")
    );
}

#[test]
fn the_imports_between_top_level_modules_form_no_cycle() {
    let edges = import_graph();
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (from, to) in edges.keys() {
        graph.entry(from.clone()).or_default().insert(to.clone());
    }
    if let Some(cycle) = find_cycle(&graph) {
        let steps: Vec<String> = cycle
            .windows(2)
            .map(|w| {
                let site = &edges[&(w[0].clone(), w[1].clone())][0];
                format!("  {} -> {} at {site}", w[0], w[1])
            })
            .collect();
        panic!("the top-level modules import each other in a cycle:\n{}", steps.join("\n"));
    }
}

#[test]
fn adapters_do_not_mention_the_database_layer() {
    let src = src_dir();
    let mut found = Vec::new();
    for adapter in ADAPTERS {
        for path in rust_files(&src.join(adapter)) {
            let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
            let relative = path.strip_prefix(src.parent().expect("crate dir")).expect("under the crate");
            for (n, line) in text.lines().enumerate() {
                for word in DATABASE_WORDS.iter().filter(|w| line.contains(*w)) {
                    found.push(format!("{}:{}: mentions `{word}`: {}", relative.display(), n + 1, line.trim()));
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "graphql/, oidc/ and http/ call service functions and never sea-orm or entities:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_path_reader_finds_every_form_of_crate_path() {
    let code = without_comments(
        "use crate::config::Config;\n\
         use crate::{service::{Services, Actor}, domain};\n\
         // use crate::http::AppState;\n\
         /* crate::oidc */ let x = crate :: crypto::sha256(b\"crate::a\");\n\
         let c = '\"'; let s = \"// not a comment\"; crate::jobs::run();\n\
         fn f<'a>(x: &'a str) -> &'a str { crate::state::g(x) }\n\
         pub(in crate::graphql) fn h() {}\n\
         let r = r#\"crate::raw\"#; mycrate::no(); crate_x::no();\n",
    );
    let found: Vec<(usize, String)> = crate_paths(&code);
    let expected: Vec<(usize, String)> = [
        (1, "config"),
        (2, "service"),
        (2, "domain"),
        (4, "crypto"),
        (4, "a"),
        (5, "jobs"),
        (6, "state"),
        (7, "graphql"),
        (8, "raw"),
    ]
    .into_iter()
    .map(|(l, m)| (l, m.to_owned()))
    .collect();
    assert_eq!(found, expected);
}

#[test]
fn a_cycle_is_found_and_named() {
    let graph: BTreeMap<String, BTreeSet<String>> =
        [("a", vec!["b"]), ("b", vec!["c"]), ("c", vec!["a"]), ("d", vec![])]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.into_iter().map(str::to_owned).collect()))
            .collect();
    assert_eq!(find_cycle(&graph), Some(vec!["a".into(), "b".into(), "c".into(), "a".into()]));
}
