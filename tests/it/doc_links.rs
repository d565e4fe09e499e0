//! Every relative link in the documents points at a file that exists, and a `#fragment` at a
//! heading of that file (GitHub's anchors): README.md, CONTRIBUTING.md, ARCHITECTURE.md,
//! CHANGELOG.md and docs/*.md. Links to other sites are not followed (tests stay offline).

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use crate::support::repo_root;

/// Documents other work of issue 14 writes (the generated configuration and error references,
/// the architecture); a link to one of them passes while it is absent. Once they are on main,
/// empty this list: from then on those links are checked like any other.
const PENDING: &[&str] = &[];

/// `a/b/../c` as `a/c`, so a link's file can be compared with [`PENDING`].
fn normal(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// The documents checked, relative to the repository root.
fn documents(root: &Path) -> Vec<PathBuf> {
    let mut docs: Vec<PathBuf> = [
        "README.md",
        "CONTRIBUTING.md",
        "ARCHITECTURE.md",
        "CHANGELOG.md",
    ]
    .iter()
    .map(PathBuf::from)
    .filter(|p| root.join(p).is_file())
    .collect();
    let dir = root.join("docs");
    let mut more: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("docs/ exists")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .map(|p| p.strip_prefix(root).unwrap().to_path_buf())
        .collect();
    more.sort();
    docs.extend(more);
    docs
}

/// The text outside fenced code blocks and inline code spans, line by line (links there are
/// examples, not links).
fn prose_lines(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut fenced = false;
    for (n, line) in text.lines().enumerate() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if fenced {
            continue;
        }
        let mut kept = String::new();
        let mut in_code = false;
        for c in line.chars() {
            if c == '`' {
                in_code = !in_code;
            } else if !in_code {
                kept.push(c);
            }
        }
        out.push((n + 1, kept));
    }
    out
}

/// The targets of the inline links `[text](target)` in a document, with their line numbers.
fn links(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for (n, line) in prose_lines(text) {
        let mut rest = line.as_str();
        while let Some(i) = rest.find("](") {
            let after = &rest[i + 2..];
            match after.find(')') {
                Some(j) => {
                    let target = after[..j].split_whitespace().next().unwrap_or("");
                    out.push((n, target.to_string()));
                    rest = &after[j + 1..];
                }
                None => break,
            }
        }
    }
    out
}

/// GitHub's anchor for a heading: lower case, punctuation other than `-` and `_` dropped,
/// spaces to `-`; a repeated anchor gets `-1`, `-2`, ...
fn anchors(text: &str) -> HashSet<String> {
    let mut seen = HashSet::new();
    let mut fenced = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if fenced || !line.starts_with('#') {
            continue;
        }
        let title = line.trim_start_matches('#');
        if !title.starts_with(' ') {
            continue;
        }
        let slug: String = title
            .trim()
            .to_lowercase()
            .chars()
            .filter(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_'))
            .map(|c| if c == ' ' { '-' } else { c })
            .collect();
        let mut candidate = slug.clone();
        let mut k = 0;
        while seen.contains(&candidate) {
            k += 1;
            candidate = format!("{slug}-{k}");
        }
        seen.insert(candidate);
    }
    seen
}

/// The broken links of one document: `file:line: target (why)`.
fn broken_links(root: &Path, doc: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(root.join(doc)).unwrap();
    let dir = doc.parent().unwrap_or(Path::new(""));
    let mut broken = Vec::new();
    for (line, target) in links(&text) {
        if target.is_empty() || target.contains("://") || target.starts_with("mailto:") {
            continue;
        }
        let (path, fragment) = match target.split_once('#') {
            Some((p, f)) => (p, Some(f)),
            None => (target.as_str(), None),
        };
        let file = if path.is_empty() {
            doc.to_path_buf()
        } else {
            dir.join(path)
        };
        let full = root.join(&file);
        let pending = PENDING.iter().any(|p| normal(&file) == Path::new(p));
        let why = if !full.exists() && pending {
            None
        } else if !full.exists() {
            Some("no such file".to_string())
        } else {
            match fragment {
                Some(f) if full.is_file() => {
                    let target_text = std::fs::read_to_string(&full).unwrap_or_default();
                    (!anchors(&target_text).contains(f))
                        .then(|| format!("no heading with anchor #{f} in {}", file.display()))
                }
                _ => None,
            }
        };
        if let Some(why) = why {
            broken.push(format!("{}:{line}: {target} ({why})", doc.display()));
        }
    }
    broken
}

#[test]
fn every_relative_link_in_the_documents_resolves() {
    let root = repo_root();
    let docs = documents(&root);
    assert!(
        docs.iter().any(|d| d == Path::new("README.md")) && docs.len() >= 5,
        "documents found: {docs:?}"
    );
    let total: usize = docs
        .iter()
        .map(|d| links(&std::fs::read_to_string(root.join(d)).unwrap()).len())
        .sum();
    assert!(
        total >= 20,
        "only {total} links found: is the link reader broken?"
    );
    let broken: Vec<String> = docs.iter().flat_map(|d| broken_links(&root, d)).collect();
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

#[test]
fn the_checker_finds_a_missing_file_and_a_missing_anchor() {
    let root = crate::support::scratch_dir("doc-links");
    std::fs::create_dir_all(root.join("docs")).unwrap();
    std::fs::write(
        root.join("docs/a.md"),
        "# A guide\n\n## Second part: more\n\n[ok](b.md#the-b-file) [ok](#second-part-more) \
         [ok](../README.md) [gone](missing.md) [bad](b.md#nowhere) [site](https://example.com/x)\n\
         `[code](not-a-link.md)`\n\n```sh\n[fenced](not-a-link.md)\n```\n",
    )
    .unwrap();
    std::fs::write(root.join("docs/b.md"), "# The B file\n").unwrap();
    std::fs::write(root.join("README.md"), "# R\n").unwrap();
    let broken = broken_links(&root, Path::new("docs/a.md"));
    assert_eq!(
        broken,
        vec![
            "docs/a.md:5: missing.md (no such file)".to_string(),
            "docs/a.md:5: b.md#nowhere (no heading with anchor #nowhere in docs/b.md)".to_string(),
        ]
    );
}

/// The figures README quotes (sizes, memory, per-call overheads: a number with MB, MiB or µs)
/// as README writes them.
fn quoted_figures(readme: &str) -> Vec<String> {
    let mut found = Vec::new();
    let words: Vec<&str> = readme.split_whitespace().collect();
    for pair in words.windows(2) {
        let unit = pair[1].trim_end_matches(|c: char| !c.is_alphanumeric());
        let number = pair[0].trim_start_matches(['(', '`']);
        let numeric = number
            .trim_start_matches('+')
            .chars()
            .all(|c| c.is_ascii_digit() || c == '.' || c == ',')
            && number.chars().any(|c| c.is_ascii_digit());
        if numeric && matches!(unit, "MB" | "MiB" | "KiB" | "µs") {
            found.push(format!("{number} {unit}"));
        }
    }
    found
}

/// README is the front door; docs/performance.md is where figures live. Every size, memory
/// and per-call figure README quotes must be one that page's "Last run" states (the section
/// `bench/run.sh` rewrites; the older comparisons below it keep superseded figures), so a new
/// run that changes a figure fails here until README follows.
#[test]
fn readme_quotes_only_figures_docs_performance_states() {
    let root = repo_root();
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let page = std::fs::read_to_string(root.join("docs/performance.md")).unwrap();
    let performance = page
        .split("\n## ")
        .find(|s| s.starts_with("Last run\n"))
        .expect("docs/performance.md has a \"## Last run\" section");
    let figures = quoted_figures(&readme);
    assert!(
        figures.len() >= 5,
        "README's figures were found: {figures:?}"
    );
    let stale: Vec<&String> = figures
        .iter()
        .filter(|f| !performance.contains(f.as_str()))
        .collect();
    assert!(
        stale.is_empty(),
        "README quotes figures docs/performance.md's last run does not state: {stale:?}"
    );
    // The checker: a figure that is not on the page is reported.
    assert_eq!(
        quoted_figures("adds +8 µs, (3.17 MB)"),
        ["+8 µs", "3.17 MB"]
    );
}

/// File names a comment or a document may point at: the repository's source and text kinds.
const POINTED_AT: &[&str] = &[
    "rs", "md", "py", "c", "cpp", "h", "hpp", "toml", "json", "txt", "sh",
];

/// The repository's top-level folders: a path starting with one of them is a path into it.
const TOP: &[&str] = &[
    "src",
    "tests",
    "cli",
    "emulator",
    "bench",
    "examples",
    "docs",
    "include",
    "scripts",
    "fuzz",
    "bindings",
    "model",
    "packaging",
    "api",
];

/// The files whose pointers are checked: comments of code files and build scripts, and whole
/// documents (CHANGELOG.md aside: its entries name paths as they were). Build output,
/// virtual environments, fuzz corpora and vendored data are not walked.
fn pointing_files(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if path.is_dir() {
                let skip = name.starts_with('.') && name != ".ci"
                    || matches!(
                        name.as_str(),
                        "target" | "corpus" | "results" | "__pycache__"
                    )
                    || path.ends_with("tests/data");
                if !skip {
                    stack.push(path);
                }
                continue;
            }
            let rel = path.strip_prefix(root).unwrap().to_path_buf();
            let ext = path.extension().map(|e| e.to_string_lossy().into_owned());
            let script = rel.starts_with("scripts") || rel.starts_with(".ci");
            let known = ext.as_deref().is_some_and(|e| POINTED_AT.contains(&e));
            if (known || script) && rel != Path::new("CHANGELOG.md") {
                out.push(rel);
            }
        }
    }
    out.sort();
    out
}

/// The text of `file` that may point somewhere: a document whole; of code, its comments
/// (lines starting with `//`, `#`, `/*` or `*`), consecutive ones joined by a space so that a
/// section name wrapped over two lines reads as one.
fn pointing_text(file: &Path, text: &str) -> Vec<(usize, String)> {
    if file.extension().is_some_and(|e| e == "md") {
        return text
            .lines()
            .enumerate()
            .map(|(n, l)| (n + 1, l.to_owned()))
            .collect();
    }
    let mut out: Vec<(usize, String)> = Vec::new();
    let mut joined = false;
    for (n, line) in text.lines().enumerate() {
        let t = line.trim_start();
        let body = ["//!", "///", "//", "#", "/*", "*"]
            .iter()
            .find_map(|m| t.strip_prefix(m));
        match body {
            Some(body) if joined => {
                let last = out.last_mut().unwrap();
                last.1.push(' ');
                last.1.push_str(body.trim());
            }
            Some(body) => {
                out.push((n + 1, body.trim().to_owned()));
                joined = true;
            }
            None => joined = false,
        }
    }
    out
}

/// Where a path named in `file` may be: from the repository root, `file`'s folder, its
/// crate's root, or `src/` (ARCHITECTURE.md names `model/rules.rs` inside the `model` layer).
fn resolve(root: &Path, file: &Path, named: &str) -> Option<PathBuf> {
    let dir = file.parent().unwrap_or(Path::new(""));
    let mut bases = vec![PathBuf::new(), dir.to_path_buf(), PathBuf::from("src")];
    let mut up = Some(dir);
    while let Some(d) = up {
        if root.join(d).join("Cargo.toml").is_file() {
            bases.push(d.to_path_buf());
            break;
        }
        up = d.parent();
    }
    bases
        .into_iter()
        .map(|b| b.join(named))
        .find(|p| root.join(p).exists())
}

/// The sections of a Markdown file a pointer may name: its headings, and the bold words that
/// open a list item (`- **Several processes on one file**: ...`), as written.
fn sections(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in text.lines() {
        if line.starts_with('#') {
            out.push(line.trim_start_matches('#').trim().to_owned());
        } else if let Some(bold) = line.strip_prefix("- **") {
            if let Some((lead, _)) = bold.split_once("**") {
                out.push(lead.trim_end_matches(['.', ':']).to_owned());
            }
        }
    }
    out
}

/// What one file points at that is not there: `file:line: what` (for code, the first line of
/// the comment). A path is a word starting with a top-level folder and ending in one of
/// [`POINTED_AT`]'s kinds; a section is a Markdown file's name followed by `, "Section"` (a
/// section that reads so, or so followed by a parenthesis).
fn stale_pointers(root: &Path, file: &Path, text: &str) -> Vec<String> {
    let mut stale = Vec::new();
    for (line, text) in pointing_text(file, text) {
        let words = text.split(|c: char| !(c.is_alphanumeric() || "_./-".contains(c)));
        for word in words {
            let word = word.trim_end_matches(['.', '-']);
            let top = word.split('/').next().unwrap_or("");
            let ext = word.rsplit_once('.').map_or("", |(_, e)| e);
            let a_path = word.contains('/') && TOP.contains(&top) && POINTED_AT.contains(&ext);
            if a_path && resolve(root, file, word).is_none() {
                stale.push(format!("{}:{line}: {word} (no such file)", file.display()));
            }
        }
        let mut rest = text.as_str();
        while let Some(i) = rest.find(".md, \"") {
            let name_start = rest[..i]
                .rfind(|c: char| !(c.is_alphanumeric() || "_./-".contains(c)))
                .map_or(0, |j| j + 1);
            let name = format!("{}.md", &rest[name_start..i]);
            let after = &rest[i + 6..];
            let Some(j) = after.find('"') else { break };
            let section = &after[..j];
            rest = &after[j..];
            let Some(target) = resolve(root, file, &name) else {
                stale.push(format!("{}:{line}: {name} (no such file)", file.display()));
                continue;
            };
            let target_text = std::fs::read_to_string(root.join(&target)).unwrap_or_default();
            let found = sections(&target_text).iter().any(|h| {
                h == section || h.strip_prefix(section).is_some_and(|r| r.starts_with(" ("))
            });
            if !found {
                stale.push(format!(
                    "{}:{line}: {name}, \"{section}\" (no such section in {})",
                    file.display(),
                    target.display()
                ));
            }
        }
    }
    stale
}

/// Comments and documents name files and sections (`src/http/framing.rs`, `docs/outbox.md,
/// "Pacing"`); when a file moves or a heading changes, every pointer to it must follow.
#[test]
fn files_and_sections_named_in_comments_and_documents_exist() {
    let root = repo_root();
    let files = pointing_files(&root);
    assert!(
        files.iter().any(|f| f == Path::new("build.rs")) && files.len() > 100,
        "files walked: {}",
        files.len()
    );
    let stale: Vec<String> = files
        .iter()
        .flat_map(|f| {
            let text = std::fs::read_to_string(root.join(f)).unwrap_or_default();
            stale_pointers(&root, f, &text)
        })
        .collect();
    assert!(
        stale.is_empty(),
        "pointers to nothing:\n{}",
        stale.join("\n")
    );
}

#[test]
fn the_pointer_checker_finds_a_moved_file_and_a_renamed_section() {
    let root = repo_root();
    let code = "// Parsed in src/http1.rs (docs/performance.md, \"The reuse\n\
                // probe\"); see docs/performance.md, \"The reuse probe\" and src/http/framing.rs.\n\
                fn main() {}\n\
                // docs/outbox.md, \"Pacing\", \"Several processes on one file\"; docs/outbox.md, \"Reuse\"\n";
    assert_eq!(
        stale_pointers(&root, Path::new("build.rs"), code),
        [
            "build.rs:1: src/http1.rs (no such file)",
            "build.rs:4: docs/outbox.md, \"Reuse\" (no such section in docs/outbox.md)",
        ]
    );
}
