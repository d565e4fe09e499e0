//! ARCHITECTURE.md's layer list against the imports of every `src/` file: an import may point
//! into its own layer or a lower one, never up, and the module graph has no cycle. The
//! emulator's modules have no cycle either. Comments and `#[cfg(test)]` code do not count
//! (tests may reach anywhere).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// The layers of ARCHITECTURE.md's "## Layers" section, bottom first: each numbered item's
/// modules are the backquoted names in its first parentheses.
fn layers(doc: &str) -> Vec<Vec<String>> {
    let section = doc
        .split("\n## ")
        .find(|s| s.starts_with("Layers\n"))
        .expect("ARCHITECTURE.md has a \"## Layers\" section");
    let mut layers = Vec::new();
    for line in section.lines() {
        let Some((number, rest)) = line.split_once(". ") else {
            continue;
        };
        if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let group = rest
            .split_once('(')
            .and_then(|(_, r)| r.split_once(')'))
            .map(|(g, _)| g)
            .unwrap_or_else(|| panic!("layer {number} lists no modules in parentheses: {line}"));
        let modules: Vec<String> = group
            .split('`')
            .skip(1)
            .step_by(2)
            .map(str::to_owned)
            .collect();
        assert!(
            !modules.is_empty(),
            "layer {number} lists no modules: {line}"
        );
        layers.push(modules);
    }
    assert!(!layers.is_empty(), "the Layers section lists no layers");
    layers
}

/// `src` with comments removed and every string and character literal emptied, so neither
/// can hide or fake an import or a brace.
fn code_only(src: &str) -> String {
    let b = src.as_bytes();
    let mut out = String::with_capacity(src.len());
    let mut i = 0;
    let ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    while i < b.len() {
        if b[i..].starts_with(b"//") {
            i = src[i..].find('\n').map_or(b.len(), |n| i + n);
        } else if b[i..].starts_with(b"/*") {
            let mut depth = 0;
            while i < b.len() {
                if b[i..].starts_with(b"/*") {
                    depth += 1;
                    i += 2;
                } else if b[i..].starts_with(b"*/") {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
        } else if (b[i] == b'r' || b[i..].starts_with(b"br"))
            && (i == 0 || !ident(b[i - 1]))
            && raw_string_start(&b[i..]).is_some()
        {
            let (skip, hashes) = raw_string_start(&b[i..]).unwrap();
            let end = format!("\"{}", "#".repeat(hashes));
            let from = i + skip;
            i = src[from..]
                .find(&end)
                .map_or(b.len(), |n| from + n + end.len());
            out.push_str("\"\"");
        } else if b[i] == b'"' {
            i += 1;
            while i < b.len() && b[i] != b'"' {
                i += if b[i] == b'\\' { 2 } else { 1 };
            }
            i += 1;
            out.push_str("\"\"");
        } else if b[i] == b'\'' {
            // A character literal ('x', '\n', '\u{7f}'), or else a lifetime.
            let close = if b.get(i + 1) == Some(&b'\\') {
                src[i + 2..].find('\'').map(|n| i + 2 + n)
            } else {
                src[i + 1..]
                    .chars()
                    .next()
                    .map(|c| i + 1 + c.len_utf8())
                    .filter(|&e| b.get(e) == Some(&b'\''))
            };
            match close {
                Some(e) => {
                    out.push_str("' '");
                    i = e + 1;
                }
                None => {
                    out.push('\'');
                    i += 1;
                }
            }
        } else {
            let c = src[i..].chars().next().unwrap();
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

/// `r"`, `r#"`, `br##"`...: the prefix length and the number of `#`.
fn raw_string_start(b: &[u8]) -> Option<(usize, usize)> {
    let mut i = if b.starts_with(b"br") { 2 } else { 1 };
    let start = i;
    while b.get(i) == Some(&b'#') {
        i += 1;
    }
    (b.get(i) == Some(&b'"')).then_some((i + 1, i - start))
}

/// `code` without the items marked `#[cfg(test)]` (a test module, a test-only use or fn).
fn without_tests(code: &str) -> String {
    let mut code = code.to_owned();
    while let Some(at) = code.find("#[cfg(test)]") {
        let after = at + "#[cfg(test)]".len();
        let brace = code[after..].find('{').map(|n| after + n);
        let semi = code[after..].find(';').map(|n| after + n);
        let end = match (brace, semi) {
            (_, Some(s)) if brace.is_none_or(|b| s < b) => s + 1,
            (Some(b), _) => {
                let mut depth = 0;
                let mut end = code.len();
                for (k, c) in code[b..].char_indices() {
                    match c {
                        '{' => depth += 1,
                        '}' => {
                            depth -= 1;
                            if depth == 0 {
                                end = b + k + 1;
                                break;
                            }
                        }
                        _ => {}
                    }
                }
                end
            }
            _ => code.len(),
        };
        code.replace_range(at..end, "");
    }
    code
}

/// The paths `code` names through `crate::`, `super::` or `self::` (`use crate::a::b`,
/// `use super::{a::X, b}`, `crate::a::f()`), each as (its start: `crate`, `super` repeated,
/// or `self`; its segments; the text that named it). A group is one path per item.
fn imports(code: &str) -> Vec<(Vec<String>, Vec<String>, String)> {
    let ident = |c: char| c.is_alphanumeric() || c == '_';
    let mut found = Vec::new();
    let mut at = 0;
    while at < code.len() {
        let rest = &code[at..];
        let Some(start) = ["crate::", "super::", "self::"]
            .iter()
            .filter_map(|p| rest.find(p).map(|n| (n, *p)))
            .min()
        else {
            break;
        };
        let (n, prefix) = start;
        let begin = at + n;
        at = begin + prefix.len();
        let before = code[..begin].chars().next_back();
        // `my_crate::`, `$crate::`, or a segment in the middle of a path (`a::self::`).
        if before.is_some_and(|c| ident(c) || c == '$' || c == ':') {
            continue;
        }
        let mut base = vec![prefix.trim_end_matches(':').to_owned()];
        while code[at..].starts_with("super::") && base.iter().all(|b| b == "super") {
            base.push("super".into());
            at += "super::".len();
        }
        let (paths, used) = use_tree(&code[at..]);
        let text = format!("{}{}", base.join("::") + "::", code[at..at + used].trim());
        for path in paths {
            found.push((base.clone(), path, text.clone()));
        }
        at += used.max(1);
    }
    found
}

/// The paths of a use tree at the start of `code` (`a::b`, `a::{b, c::d}`, `{a, b}`,
/// `a::*`), and how many bytes it took. `self` in a group names the group's own path.
fn use_tree(code: &str) -> (Vec<Vec<String>>, usize) {
    let ident = |c: char| c.is_alphanumeric() || c == '_';
    let mut prefix = Vec::new();
    let mut i = 0;
    loop {
        let name: String = code[i..].chars().take_while(|&c| ident(c)).collect();
        if !name.is_empty() {
            i += name.len();
            if name != "self" {
                prefix.push(name);
            }
            if code[i..].starts_with("::") {
                i += 2;
                continue;
            }
            return (vec![prefix], i);
        }
        if code[i..].starts_with('{') {
            i += 1;
            let mut paths = Vec::new();
            loop {
                let skipped = code[i..].len() - code[i..].trim_start().len();
                i += skipped;
                if i >= code.len() || code[i..].starts_with('}') {
                    i += 1;
                    break;
                }
                let (inner, used) = use_tree(&code[i..]);
                for p in inner {
                    paths.push(prefix.iter().cloned().chain(p).collect());
                }
                i += used.max(1);
                let skipped = code[i..].len() - code[i..].trim_start().len();
                i += skipped;
                if code[i..].starts_with(',') {
                    i += 1;
                }
            }
            return (paths, i.min(code.len()));
        }
        // `*`, `as`, or the end of the path.
        return (vec![prefix], i);
    }
}

/// One import of one module by another (modules by path: `credentials::chain`).
#[derive(Debug, Clone)]
struct Edge {
    from: String,
    to: String,
    file: PathBuf,
    text: String,
}

impl Edge {
    /// The top-level modules (the layers' units) of both ends.
    fn top(&self) -> (&str, &str) {
        let top = |m: &str| -> usize { m.find("::").unwrap_or(m.len()) };
        (&self.from[..top(&self.from)], &self.to[..top(&self.to)])
    }
}

/// The module path of a file under `src` (`a.rs` and `a/mod.rs`: `a`; `a/b.rs`: `a::b`); the
/// crate root is the empty path.
fn module_path(relative: &Path) -> Vec<String> {
    let mut parts: Vec<String> = relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    let file = parts.pop().unwrap_or_default();
    match file.trim_end_matches(".rs") {
        "mod" => {}
        "lib" | "main" if parts.is_empty() => {}
        stem => parts.push(stem.to_owned()),
    }
    parts
}

/// Every import between the modules of the crate at `src`, by module path: `crate::`
/// paths, and `super::`/`self::` resolved from the importing module. Each import names the
/// longest known module its path starts with. Imports of a module's own descendants (a
/// parent re-exporting its children) and of itself are left out: a module contains those.
fn edges(src: &Path) -> Vec<Edge> {
    let mut files = Vec::new();
    let mut dirs = vec![src.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    files.sort();
    let known: BTreeSet<Vec<String>> = files
        .iter()
        .map(|f| module_path(f.strip_prefix(src).unwrap()))
        .collect();
    let mut edges = Vec::new();
    for file in files {
        let from = module_path(file.strip_prefix(src).unwrap());
        if from.is_empty() {
            continue;
        }
        let code = without_tests(&code_only(&std::fs::read_to_string(&file).unwrap()));
        for (base, path, text) in imports(&code) {
            let mut full = match base[0].as_str() {
                "crate" => Vec::new(),
                "self" => from.clone(),
                _ => from[..from.len().saturating_sub(base.len())].to_vec(),
            };
            full.extend(path);
            let to = (1..=full.len())
                .rev()
                .map(|n| full[..n].to_vec())
                .find(|m| known.contains(m))
                .unwrap_or_default();
            if to.is_empty() || to.starts_with(&from) {
                continue;
            }
            edges.push(Edge {
                from: from.join("::"),
                to: to.join("::"),
                file: file.strip_prefix(ROOT).unwrap_or(&file).to_path_buf(),
                text,
            });
        }
    }
    edges
}

/// Every import that points up the layer list, and every module the list lacks.
fn layer_violations(
    layers: &[Vec<String>],
    edges: &[Edge],
    modules: &BTreeSet<String>,
) -> Vec<String> {
    let level: BTreeMap<&str, usize> = layers
        .iter()
        .enumerate()
        .flat_map(|(n, l)| l.iter().map(move |m| (m.as_str(), n)))
        .collect();
    let mut problems = Vec::new();
    for module in modules {
        if !level.contains_key(module.as_str()) {
            problems.push(format!(
                "module `{module}` is in no layer of ARCHITECTURE.md"
            ));
        }
    }
    for e in edges {
        let (from_top, to_top) = e.top();
        if let (Some(&from), Some(&to)) = (level.get(from_top), level.get(to_top)) {
            if to > from {
                problems.push(format!(
                    "{}: `{}` (layer {}) imports `{}` from `{}` (layer {}, above it)",
                    e.file.display(),
                    from_top,
                    from + 1,
                    e.text,
                    to_top,
                    to + 1
                ));
            }
        }
    }
    problems
}

/// A cycle in the module graph, as the imports that make it, if there is one.
fn cycle(edges: &[Edge]) -> Option<Vec<Edge>> {
    let mut graph: BTreeMap<&str, Vec<&Edge>> = BTreeMap::new();
    for e in edges {
        graph.entry(&e.from).or_default().push(e);
    }
    // Depth-first search; `path` holds the imports from the root to the current module.
    fn visit<'e>(
        node: &'e str,
        graph: &BTreeMap<&'e str, Vec<&'e Edge>>,
        done: &mut BTreeSet<&'e str>,
        path: &mut Vec<&'e Edge>,
    ) -> Option<Vec<Edge>> {
        if done.contains(node) {
            return None;
        }
        for &e in graph.get(node).map(Vec::as_slice).unwrap_or(&[]) {
            if let Some(start) = path.iter().position(|p| p.from == e.to) {
                let mut found: Vec<Edge> = path[start..].iter().map(|&p| p.clone()).collect();
                found.push(e.clone());
                return Some(found);
            }
            if e.to == node {
                return Some(vec![e.clone()]);
            }
            path.push(e);
            let found = visit(&e.to, graph, done, path);
            path.pop();
            if found.is_some() {
                return found;
            }
        }
        done.insert(node);
        None
    }
    let mut done = BTreeSet::new();
    let nodes: Vec<&str> = graph.keys().copied().collect();
    for node in nodes {
        if let Some(found) = visit(node, &graph, &mut done, &mut Vec::new()) {
            return Some(found);
        }
    }
    None
}

fn describe(cycle: &[Edge]) -> String {
    cycle
        .iter()
        .map(|e| format!("{} -> {} ({}: {})", e.from, e.to, e.file.display(), e.text))
        .collect::<Vec<_>>()
        .join("; ")
}

/// The crate's modules: `src/*.rs` and `src/*/` but the root.
fn modules(src: &Path) -> BTreeSet<String> {
    std::fs::read_dir(src)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir() || p.extension().is_some_and(|e| e == "rs"))
        .map(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .trim_end_matches(".rs")
                .to_owned()
        })
        .filter(|m| m != "lib" && m != "main")
        .collect()
}

#[test]
fn library_imports_follow_architecture_md() {
    let doc = std::fs::read_to_string(Path::new(ROOT).join("ARCHITECTURE.md")).unwrap();
    let layers = layers(&doc);
    let src = Path::new(ROOT).join("src");
    let edges = edges(&src);
    assert!(
        edges.len() > 50,
        "the scan found the imports ({} found)",
        edges.len()
    );
    let problems = layer_violations(&layers, &edges, &modules(&src));
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    if let Some(found) = cycle(&edges) {
        panic!("import cycle: {}", describe(&found));
    }
}

#[test]
fn emulator_modules_have_no_cycle() {
    let edges = edges(&Path::new(ROOT).join("emulator/src"));
    assert!(
        edges.len() > 10,
        "the scan found the imports ({} found)",
        edges.len()
    );
    if let Some(found) = cycle(&edges) {
        panic!("import cycle in the emulator: {}", describe(&found));
    }
}

/// The checker itself: an upward import, a cycle, and imports hidden in comments, strings
/// or test code.
#[test]
fn the_checker_finds_upward_imports_and_cycles_and_ignores_comments_and_tests() {
    let dir = std::env::temp_dir().join(format!("connect-contact-layers-{}", std::process::id()));
    let src = dir.join("src");
    std::fs::create_dir_all(src.join("b")).unwrap();
    std::fs::write(src.join("lib.rs"), "mod a; mod b; mod c;").unwrap();
    std::fs::write(
        src.join("a.rs"),
        "// use crate::c;\n/* crate::c */ const S: &str = \"crate::c\"; const R: &str = r#\"crate::c\"#;\n\
         const Q: char = '{';\nuse crate::b::X;\n#[cfg(test)]\nmod tests { use crate::c; fn f() { let _ = '}'; } }\n\
         #[cfg(test)] use crate::c::Y;\n",
    )
    .unwrap();
    std::fs::write(src.join("b/mod.rs"), "use crate::{a::Z, c};\n").unwrap();
    std::fs::write(src.join("c.rs"), "pub fn f() { crate::a::g() }\n").unwrap();
    let edges = edges(&src);
    let named: BTreeSet<(String, String)> = edges
        .iter()
        .map(|e| (e.from.clone(), e.to.clone()))
        .collect();
    let expected: BTreeSet<(String, String)> = [("a", "b"), ("b", "a"), ("b", "c"), ("c", "a")]
        .iter()
        .map(|(f, t)| (f.to_string(), t.to_string()))
        .collect();
    assert_eq!(named, expected);
    let layers = vec![vec!["a".to_owned()], vec!["b".to_owned()]];
    let problems = layer_violations(&layers, &edges, &modules(&src));
    assert!(
        problems.iter().any(|p| p.contains("`c` is in no layer")),
        "{problems:?}"
    );
    assert!(
        problems
            .iter()
            .any(|p| p.contains("a.rs") && p.contains("crate::b::X") && p.contains("above it")),
        "{problems:?}"
    );
    let found = cycle(&edges).expect("a cycle");
    assert!(describe(&found).contains("a -> b"), "{}", describe(&found));
    let acyclic: Vec<Edge> = edges.into_iter().filter(|e| e.from != "a").collect();
    assert!(cycle(&acyclic).is_none());
    std::fs::remove_dir_all(&dir).ok();
}

/// Inside a folder: `super::` and `self::` are resolved to module paths, so two sibling files
/// that import each other are a cycle, while a parent re-exporting its children and the
/// children using the parent's items are not.
#[test]
fn the_checker_sees_cycles_inside_folders() {
    let dir = std::env::temp_dir().join(format!(
        "connect-contact-layers-inner-{}",
        std::process::id()
    ));
    let src = dir.join("src");
    std::fs::create_dir_all(src.join("p/q")).unwrap();
    std::fs::write(src.join("lib.rs"), "mod p;").unwrap();
    std::fs::write(
        src.join("p/mod.rs"),
        "pub mod q; pub mod x; pub mod y;\npub use self::x::T;\npub struct Shared;\n",
    )
    .unwrap();
    std::fs::write(
        src.join("p/x.rs"),
        "use super::Shared;\nuse super::q::{self, deep::D};\n",
    )
    .unwrap();
    std::fs::write(src.join("p/q/mod.rs"), "pub mod deep;\n").unwrap();
    std::fs::write(src.join("p/q/deep.rs"), "use super::super::Shared;\n").unwrap();
    std::fs::write(src.join("p/y.rs"), "pub fn f() {}\n").unwrap();
    let edges = edges(&src);
    let named: BTreeSet<(String, String)> = edges
        .iter()
        .map(|e| (e.from.clone(), e.to.clone()))
        .collect();
    let expected: BTreeSet<(String, String)> = [
        ("p::x", "p"),
        ("p::x", "p::q"),
        ("p::x", "p::q::deep"),
        ("p::q::deep", "p"),
    ]
    .iter()
    .map(|(f, t)| (f.to_string(), t.to_string()))
    .collect();
    assert_eq!(named, expected);
    assert!(
        cycle(&edges).is_none(),
        "{}",
        describe(&cycle(&edges).unwrap())
    );
    // A planted circle between siblings: one through a group, one through an expression.
    std::fs::write(src.join("p/y.rs"), "use super::{x::T, Shared};\n").unwrap();
    std::fs::write(
        src.join("p/x.rs"),
        "use super::Shared;\npub fn g() { super::y::f() }\n",
    )
    .unwrap();
    let found = cycle(&self::edges(&src)).expect("the sibling circle is found");
    let text = describe(&found);
    assert!(
        text.contains("p::x -> p::y") && text.contains("p::y -> p::x"),
        "{text}"
    );
    std::fs::remove_dir_all(&dir).ok();
}
