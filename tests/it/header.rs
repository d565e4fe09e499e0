//! The committed header is what the sources generate, and it compiles as strict C11 and C++17.

use crate::support::{repo_root, scratch_dir};

#[test]
fn committed_header_matches_the_generated_one() {
    let generated = std::fs::read_to_string(env!("CONNECT_GENERATED_HEADER")).unwrap();
    let path = repo_root().join("include/connect_contact.h");
    // `scripts/regenerate` sets CONNECT_BLESS: the generated header replaces the committed one.
    if std::env::var_os("CONNECT_BLESS").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "include/connect_contact.h differs from what cbindgen generates from src/; \
         run `scripts/regenerate` and commit the result"
    );
}

fn compile(compiler: &str, std: &str, file: &str, source: &str) {
    let dir = scratch_dir("header");
    let path = dir.join(file);
    std::fs::write(&path, source).unwrap();
    let output = crate::support::command(compiler)
        .args([
            std,
            "-Wall",
            "-Wextra",
            "-Werror",
            "-pedantic",
            "-fsyntax-only",
            "-I",
        ])
        .arg(repo_root().join("include"))
        .arg(&path)
        .output()
        .expect("compiler runs");
    assert!(
        output.status.success(),
        "{compiler} {std}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

const USES: &str = r#"
static int use_everything(void) {
    connect_client *client = 0;
    char *doc = 0;
    connect_status st = connect_client_new("{}", &client);
    if (st == CONNECT_STATUS_OK) st = connect_update_contact(client, "{}", &doc);
    connect_string_free(doc);
    connect_client_free(client);
    return (int)st + (int)connect_status_name(CONNECT_STATUS_PANIC)[0] + (int)connect_last_error_message()[0] +
           (int)connect_version()[0];
}
int main(void) { return use_everything() == -1; }
"#;

#[test]
fn header_compiles_as_strict_c11() {
    compile(
        "gcc",
        "-std=c11",
        "use.c",
        &format!("#include \"connect_contact.h\"\n{USES}"),
    );
}

#[test]
fn header_compiles_as_strict_cpp17() {
    // Included twice to check the include guard, with the extern "C" block from the header.
    let source = format!(
        "#include \"connect_contact.h\"\n#include \"connect_contact.h\"\n{}",
        USES.replace("(void)", "()")
    );
    compile("g++", "-std=c++17", "use.cpp", &source);
}

/// Statuses are declared once, as `Status` in src/error/status.rs; cbindgen writes the header's
/// enum from it. `Status::ALL`, `code()` and `name()` (what `connect_status_name` returns)
/// must list exactly the header's enumerators, with the same numbers, in both directions.
#[test]
fn status_list_and_names_match_the_generated_enum() {
    use connect_contact::Status;
    let header = std::fs::read_to_string(env!("CONNECT_GENERATED_HEADER")).unwrap();
    let mut from_header: Vec<(String, i32)> = header
        .lines()
        .filter_map(|line| {
            let (name, value) = line.trim().trim_end_matches(',').split_once(" = ")?;
            let name = name.strip_prefix("CONNECT_STATUS_").map(|_| name)?;
            Some((name.to_string(), value.parse().ok()?))
        })
        .collect();
    from_header.sort_by_key(|(_, code)| *code);
    let ours: Vec<(String, i32)> = Status::ALL
        .iter()
        .map(|s| (s.name().to_string(), s.code()))
        .collect();
    assert!(
        from_header.len() > 20,
        "parsed too few statuses: {from_header:?}"
    );
    assert_eq!(
        ours, from_header,
        "Status::ALL / Status::name() drifted from the enum"
    );
    for (name, code) in &from_header {
        assert_eq!(
            Status::from_code(*code).map(Status::name),
            Some(name.as_str())
        );
    }
}
