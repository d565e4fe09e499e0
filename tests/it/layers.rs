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
            (_, Some(s)) if brace.map_or(true, |b| s < b) => s + 1,
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

/// The top-level modules `code` names through `crate::` (`use crate::a::b`,
/// `use crate::{a, b::c}`, `crate::a::f()`), each with the text that named it.
fn imports(code: &str) -> Vec<(String, String)> {
    let mut found = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find("crate::") {
        let before = rest[..at].chars().next_back();
        rest = &rest[at + "crate::".len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue; // e.g. `my_crate::`
        }
        if let Some(group) = rest.strip_prefix('{') {
            let group = &group[..group.find('}').unwrap_or(group.len())];
            for item in group.split(',') {
                let name: String = item
                    .trim()
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() {
                    found.push((name, format!("crate::{{{}}}", group.trim())));
                }
            }
        } else {
            let path: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
                .collect();
            let name = path.split("::").next().unwrap_or("").to_owned();
            if !name.is_empty() {
                found.push((name, format!("crate::{path}")));
            }
        }
    }
    found
}

/// One import of one module by another.
#[derive(Debug, Clone)]
struct Edge {
    from: String,
    to: String,
    file: PathBuf,
    text: String,
}

/// Every `crate::` import between the top-level modules of the crate at `src` (a file
/// `src/a.rs` or any file under `src/a/` is module `a`; the crate root is left out).
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
    let mut edges = Vec::new();
    for file in files {
        let relative = file.strip_prefix(src).unwrap();
        let first = relative.components().next().unwrap().as_os_str();
        let module = first.to_string_lossy().trim_end_matches(".rs").to_owned();
        if module == "lib" || module == "main" {
            continue;
        }
        let code = without_tests(&code_only(&std::fs::read_to_string(&file).unwrap()));
        for (to, text) in imports(&code) {
            if to != module && to != "self" && to != "super" {
                edges.push(Edge {
                    from: module.clone(),
                    to,
                    file: file.strip_prefix(ROOT).unwrap_or(&file).to_path_buf(),
                    text,
                });
            }
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
        if let (Some(&from), Some(&to)) = (level.get(e.from.as_str()), level.get(e.to.as_str())) {
            if to > from {
                problems.push(format!(
                    "{}: `{}` (layer {}) imports `{}` from `{}` (layer {}, above it)",
                    e.file.display(),
                    e.from,
                    from + 1,
                    e.text,
                    e.to,
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
