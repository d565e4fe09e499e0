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
/// and per-call figure README quotes must be one that page states, so the two cannot drift.
#[test]
fn readme_quotes_only_figures_docs_performance_states() {
    let root = repo_root();
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let performance = std::fs::read_to_string(root.join("docs/performance.md")).unwrap();
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
        "README quotes figures docs/performance.md does not state: {stale:?}"
    );
    // The checker: a figure that is not on the page is reported.
    assert_eq!(
        quoted_figures("adds +8 µs, (3.17 MB)"),
        ["+8 µs", "3.17 MB"]
    );
}
