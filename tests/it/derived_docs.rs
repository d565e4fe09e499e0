//! Files derived from the two tables: `SETTINGS` (the `settings!` call in src/config/mod.rs) (docs/configuration.md, the
//! key list in connect_client_new's header comment in src/ffi/client.rs, the Python `ClientConfig`
//! TypedDict) and `Status` in src/error/status.rs (docs/errors.md, the Python `Status` enum, and a
//! check that the Python exception table has a row for every failed status). With `CONNECT_BLESS` set (`scripts/regenerate`) the derived files are
//! rewritten; without it a test fails when any of them differs from what the tables give.

use connect_contact::unstable::{Setting, ValueKind, SETTINGS};
use connect_contact::Status;

use crate::support::repo_root;

/// Compares (or, blessed, writes) one derived file.
fn check(path: &str, expected: &str) {
    let full = repo_root().join(path);
    if std::env::var_os("CONNECT_BLESS").is_some() {
        if let Some(dir) = full.parent() {
            std::fs::create_dir_all(dir).unwrap();
        }
        std::fs::write(&full, expected).unwrap();
    }
    let committed = std::fs::read_to_string(&full).unwrap_or_default();
    assert!(
        committed == expected,
        "{path} differs from what the tables in src/ give; run `scripts/regenerate` and commit the result"
    );
}

/// `text` with the lines strictly between the first line containing `begin` and the next
/// line containing `end` replaced by `body`.
fn splice(text: &str, begin: &str, end: &str, body: &str) -> String {
    let start = text.find(begin).unwrap_or_else(|| panic!("no {begin:?}"));
    let start = start + text[start..].find('\n').unwrap() + 1;
    let stop = start
        + text[start..]
            .find(end)
            .unwrap_or_else(|| panic!("no {end:?}"));
    let stop = text[..stop].rfind('\n').map_or(start, |i| i + 1).max(start);
    format!("{}{body}{}", &text[..start], &text[stop..])
}

fn kind_text(kind: ValueKind) -> String {
    match kind {
        ValueKind::Text => "string".into(),
        ValueKind::Flag => "`true`/`false`".into(),
        ValueKind::Whole { min, max } => format!("whole number {min}..={max}"),
        ValueKind::Millis { min, max } => format!("milliseconds {min}..={max}"),
        ValueKind::Choice(words) => words
            .iter()
            .map(|w| format!("`{w}`"))
            .collect::<Vec<_>>()
            .join(", "),
    }
}

fn code_list(items: &[&str]) -> String {
    if items.is_empty() {
        return "—".into();
    }
    items
        .iter()
        .map(|i| format!("`{i}`"))
        .collect::<Vec<_>>()
        .join(", then ")
}

const GENERATED_NOTE: &str =
    "Generated from `SETTINGS` (the `settings!` call in src/config/mod.rs) by `scripts/regenerate`; do not edit.";

fn configuration_md() -> String {
    let mut out = String::from("# Configuration reference\n\n");
    out.push_str(&format!("<!-- {GENERATED_NOTE} -->\n\n"));
    out.push_str(
        "Each setting comes from the first of: the config JSON passed to `connect_client_new` \
         (Python: `Client(config=...)`), the environment variables in the order listed, the \
         shared profile, the default. An unknown config key is `INVALID_CONFIG` naming it \
         (with a did-you-mean); a bad value is `INVALID_CONFIG` naming the key, variable or \
         profile and file, and the rule. Secret values never appear in Debug output, logs, \
         messages or the resolved configuration.\n\n",
    );
    out.push_str(
        "| setting | config key | environment | profile key | type | default | secret |\n",
    );
    out.push_str("|---|---|---|---|---|---|---|\n");
    for s in SETTINGS {
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} |\n",
            s.doc,
            s.key.map_or("—".into(), |k| format!("`{k}`")),
            code_list(s.env),
            s.profile.map_or("—".into(), |k| format!("`{k}`")),
            kind_text(s.kind),
            s.default,
            if s.secret { "yes" } else { "no" },
        ));
    }
    out
}

fn python_type(s: &Setting) -> &'static str {
    match s.kind {
        ValueKind::Text | ValueKind::Choice(_) => "str",
        ValueKind::Flag => "bool",
        ValueKind::Whole { .. } | ValueKind::Millis { .. } => "int",
    }
}

fn python_client_config() -> String {
    let mut out = String::new();
    for s in SETTINGS {
        if let Some(key) = s.key {
            out.push_str(&format!("    {key}: {}\n", python_type(s)));
        }
    }
    out
}

fn ffi_key_list() -> String {
    // Wrapped at 96 columns under "@param config_json", as the comment is laid out.
    let prefix = "///                     ";
    let mut lines = Vec::new();
    let mut line = String::from(prefix);
    line.push_str("object with any of these keys (docs/configuration.md):");
    for (i, key) in SETTINGS.iter().filter_map(|s| s.key).enumerate() {
        let word = if i == 0 {
            key.to_owned()
        } else {
            format!(" {key}")
        };
        let word = format!("{word},");
        if line.len() + word.len() > 96 {
            lines.push(line);
            line = format!("{prefix}{}", word.trim_start());
        } else {
            line.push_str(&word);
        }
    }
    line.pop();
    line.push('.');
    lines.push(line);
    lines.join("\n") + "\n"
}

#[test]
fn configuration_reference_is_generated() {
    check("docs/configuration.md", &configuration_md());
}

#[test]
fn python_client_config_is_generated() {
    let path = "bindings/python/connect_contact/types.py";
    let text = std::fs::read_to_string(repo_root().join(path)).unwrap();
    let text = splice(
        &text,
        "# BEGIN GENERATED from SETTINGS in src/config/mod.rs",
        "# END GENERATED from SETTINGS",
        &python_client_config(),
    );
    check(path, &text);
}

#[test]
fn ffi_key_list_is_generated() {
    let path = "src/ffi/client.rs";
    let text = std::fs::read_to_string(repo_root().join(path)).unwrap();
    let text = splice(
        &text,
        "/// @param config_json",
        "Borrowed for the duration of the call.",
        &ffi_key_list(),
    );
    check(path, &text);
}

#[test]
fn config_keys_are_unique() {
    let mut keys: Vec<&str> = SETTINGS.iter().map(|s| s.name).collect();
    keys.sort_unstable();
    let before = keys.len();
    keys.dedup();
    assert_eq!(
        keys.len(),
        before,
        "a setting is declared twice in SETTINGS"
    );
}

/// `Status`'s variants with their doc comments, read from src/error/status.rs (the one declaration;
/// cbindgen copies the same comments into the C header).
fn status_docs() -> Vec<(String, i32, String, String)> {
    let text = std::fs::read_to_string(repo_root().join("src/error/status.rs")).unwrap();
    let start = text.find("pub enum Status {").unwrap();
    let body = &text[start..start + text[start..].find("\n}").unwrap()];
    let mut docs: Vec<String> = Vec::new();
    let mut out = Vec::new();
    for line in body.lines().skip(1) {
        let line = line.trim();
        if let Some(doc) = line.strip_prefix("///") {
            docs.push(doc.trim().to_owned());
        } else if let Some((name, number)) = line.trim_end_matches(',').split_once(" = ") {
            let joined = docs.join("\n");
            let (meaning, advice) = joined
                .split_once("What to do: ")
                .unwrap_or_else(|| panic!("Status::{name} has no \"What to do:\" line"));
            let flat = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
            out.push((
                name.to_owned(),
                number.parse().unwrap(),
                flat(meaning),
                flat(advice),
            ));
            docs.clear();
        }
    }
    out
}

fn group(code: i32) -> &'static str {
    match code / 100 {
        0 => "success",
        1 => "caller",
        2 => "environment",
        3 => "transport",
        4 => "service",
        9 => "internal",
        _ => panic!("status {code} is in no group"),
    }
}

fn errors_md() -> String {
    let mut out = String::from("# Error reference\n\n");
    out.push_str(
        "<!-- Generated from `Status` in src/error/status.rs by `scripts/regenerate`; do not edit. -->\n\n",
    );
    out.push_str(
        "Every call returns a `connect_status` (C: `CONNECT_STATUS_<NAME>`, Python: the \
         exception classes in `connect_contact.exceptions`, Rust: `Status`). Numbers never \
         change once released; retired numbers stay reserved. Groups: 0 success, 1xx caller, \
         2xx environment, 3xx transport, 4xx service, 9xx internal. \
         `connect_last_error_message()` has the details.\n\n",
    );
    out.push_str("| number | name | group | meaning | what to do |\n|---|---|---|---|---|\n");
    for (_, number, meaning, advice) in status_docs() {
        let status = Status::from_code(number).unwrap();
        out.push_str(&format!(
            "| {number} | `{}` | {} | {meaning} | {advice} |\n",
            status.name(),
            group(number)
        ));
    }
    out
}

#[test]
fn status_docs_cover_every_status() {
    let docs = status_docs();
    let numbers: Vec<i32> = docs.iter().map(|d| d.1).collect();
    let all: Vec<i32> = Status::ALL.iter().map(|s| s.code()).collect();
    assert_eq!(numbers, all);
}

#[test]
fn error_reference_is_generated() {
    check("docs/errors.md", &errors_md());
}

/// The Python `Status` enum: every status by name, in `Status::ALL`'s order.
fn python_status_enum() -> String {
    let mut out = String::from(
        "class Status(enum.IntEnum):\n    \"\"\"The C ABI's connect_status numbers (CONNECT_STATUS_<name>).\"\"\"\n\n",
    );
    for s in Status::ALL {
        let name = s.name().strip_prefix("CONNECT_STATUS_").unwrap();
        out.push_str(&format!("    {name} = {}\n", s.code()));
    }
    out
}

const PYTHON_EXCEPTIONS: &str = "bindings/python/connect_contact/exceptions.py";

#[test]
fn python_status_enum_is_generated() {
    let text = std::fs::read_to_string(repo_root().join(PYTHON_EXCEPTIONS)).unwrap();
    let text = splice(
        &text,
        "# BEGIN GENERATED from Status::ALL",
        "# END GENERATED from Status::ALL",
        &python_status_enum(),
    );
    check(PYTHON_EXCEPTIONS, &text);
}

#[test]
fn every_failed_status_has_a_python_exception_class() {
    let text = std::fs::read_to_string(repo_root().join(PYTHON_EXCEPTIONS)).unwrap();
    let start = text.find("_CLASS_BY_STATUS: ").unwrap();
    let body = &text[start..start + text[start..].find("\n}\n").unwrap()];
    let python: Vec<String> = body
        .lines()
        .filter_map(|l| {
            let (name, _) = l.trim().strip_prefix("Status.")?.split_once(':')?;
            Some(format!("CONNECT_STATUS_{name}"))
        })
        .collect();
    let rust: Vec<String> = Status::ALL
        .iter()
        .filter(|s| s.code() != 0)
        .map(|s| s.name().to_owned())
        .collect();
    assert_eq!(
        python, rust,
        "exceptions.py's _CLASS_BY_STATUS has one row per failed status, in Status::ALL's order"
    );
}
