//! The shared library's ABI surface (soname, exported symbols), and the install: install into
//! a temporary prefix from the already-built library, then build and run the C example with
//! pkg-config (shared and static) and the C++ example with CMake's find_package.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::{
    cdylib_path, repo_root, run_program, scratch_dir, standard_reply, TestServer,
};

/// Runs a tool; panics with its output when it fails, else returns its stdout.
fn tool(command: &mut Command) -> String {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("{command:?} could not start ({e}); is it installed?"));
    assert!(
        output.status.success(),
        "{command:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn shared_library_has_a_soname_and_exports_only_connect_symbols() {
    let lib = cdylib_path();
    let dynamic = tool(crate::support::command("readelf").arg("-d").arg(&lib));
    let soname = format!("Library soname: [{}]", env!("CONNECT_SONAME"));
    assert!(dynamic.contains(&soname), "{dynamic}");
    let symbols = tool(
        crate::support::command("nm")
            .args(["-D", "--defined-only"])
            .arg(&lib),
    );
    let exported: BTreeSet<&str> = symbols
        .lines()
        .filter_map(|l| l.split_whitespace().nth(2))
        .collect();
    let stray: Vec<_> = exported
        .iter()
        .filter(|s| !s.starts_with("connect_"))
        .collect();
    assert!(
        stray.is_empty(),
        "only connect_* is exported, not {stray:?}"
    );
    // Every function the header declares is exported, and nothing else is.
    let header = std::fs::read_to_string(repo_root().join("include/connect_contact.h")).unwrap();
    let declared: BTreeSet<&str> = header
        .split('(')
        .filter_map(|before| {
            let name = before.rsplit(|c: char| !(c.is_ascii_alphanumeric() || c == '_'));
            name.into_iter().next()
        })
        .filter(|name| name.starts_with("connect_"))
        .collect();
    assert_eq!(exported, declared);
}

fn install(prefix: &Path) {
    let _ = std::fs::remove_dir_all(prefix);
    // The libraries this test run built (the .so and .a sit together, in deps/ after a bare
    // `cargo test`).
    let built = cdylib_path();
    tool(
        crate::support::command("sh")
            .arg(repo_root().join("scripts/install.sh"))
            .arg("--prefix")
            .arg(prefix)
            .arg("--from")
            .arg(built.parent().unwrap()),
    );
    let lib = prefix.join("lib");
    let version = env!("CARGO_PKG_VERSION");
    // scripts/install.sh names the soname link by build.rs's rule.
    let soname = env!("CONNECT_SONAME");
    for (link, target) in [
        (
            soname.to_string(),
            format!("libconnect_contact.so.{version}"),
        ),
        ("libconnect_contact.so".to_string(), soname.to_string()),
    ] {
        assert_eq!(
            std::fs::read_link(lib.join(&link)).unwrap(),
            PathBuf::from(target)
        );
    }
    for file in [
        "lib/libconnect_contact.a",
        "include/connect_contact.h",
        "include/connect_contact.hpp",
        "lib/pkgconfig/connect_contact.pc",
        "lib/cmake/ConnectContact/ConnectContactConfig.cmake",
        "lib/cmake/ConnectContact/ConnectContactConfigVersion.cmake",
    ] {
        assert!(prefix.join(file).is_file(), "{file} installed");
    }
}

fn pkg_config(prefix: &Path, args: &[&str]) -> Vec<String> {
    tool(
        crate::support::command("pkg-config")
            .env("PKG_CONFIG_PATH", prefix.join("lib/pkgconfig"))
            .args(args)
            .arg("connect_contact"),
    )
    .split_whitespace()
    .map(str::to_owned)
    .collect()
}

fn run_example(program: &Path, server: &TestServer) -> String {
    let url = server.url();
    let env = [
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
        ("AWS_SECRET_ACCESS_KEY", "example-secret"),
        ("AWS_ENDPOINT_URL_CONNECT", url.as_str()),
    ];
    let args = ["inst-example".to_string(), "contact-1".to_string()];
    let (output, success) = run_program(&[], program, &args, &env);
    assert!(success, "{} failed:\n{output}", program.display());
    output
}

#[test]
fn installed_library_builds_with_pkg_config_and_cmake() {
    let scratch = scratch_dir("install");
    let prefix = scratch.join("prefix");
    install(&prefix);
    let server = TestServer::start(standard_reply);

    // pkg-config, shared library.
    assert_eq!(
        pkg_config(&prefix, &["--modversion"]),
        [env!("CARGO_PKG_VERSION")]
    );
    let example = repo_root().join("examples/c/update_contact.c");
    let shared = scratch.join("example_c_shared");
    tool(
        crate::support::command("gcc")
            .args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-pedantic"])
            .arg(&example)
            .arg("-o")
            .arg(&shared)
            .args(pkg_config(&prefix, &["--cflags", "--libs"]))
            .arg(format!("-Wl,-rpath,{}", prefix.join("lib").display()))
            .arg("-lpthread"),
    );
    let needed = tool(crate::support::command("readelf").arg("-d").arg(&shared));
    assert!(
        needed.contains(&format!("Shared library: [{}]", env!("CONNECT_SONAME"))),
        "linked by soname"
    );
    let output = run_example(&shared, &server);
    assert!(output.contains("blocking: CONNECT_STATUS_OK"), "{output}");
    assert!(output.contains("async: CONNECT_STATUS_OK"), "{output}");

    // pkg-config, static library: Libs.private must be enough to link it.
    let static_libs: Vec<String> = pkg_config(&prefix, &["--static", "--libs"])
        .into_iter()
        .map(|flag| {
            if flag == "-lconnect_contact" {
                prefix
                    .join("lib/libconnect_contact.a")
                    .display()
                    .to_string()
            } else {
                flag
            }
        })
        .collect();
    let fully_static = scratch.join("example_c_static");
    tool(
        crate::support::command("gcc")
            .args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-pedantic"])
            .arg(&example)
            .arg("-o")
            .arg(&fully_static)
            .args(pkg_config(&prefix, &["--cflags"]))
            .args(&static_libs),
    );
    let needed = tool(
        crate::support::command("readelf")
            .arg("-d")
            .arg(&fully_static),
    );
    assert!(!needed.contains("libconnect_contact"), "linked statically");
    let output = run_example(&fully_static, &server);
    assert!(output.contains("async: CONNECT_STATUS_OK"), "{output}");

    // CMake find_package, with the C++ example.
    let build = scratch.join("cmake-build");
    let _ = std::fs::remove_dir_all(&build);
    tool(
        crate::support::command("cmake")
            .arg("-S")
            .arg(repo_root().join("examples/cpp"))
            .arg("-B")
            .arg(&build)
            .arg(format!("-DCMAKE_PREFIX_PATH={}", prefix.display()))
            .arg("-DCMAKE_CXX_FLAGS=-Wall -Wextra -Werror -pedantic"),
    );
    tool(crate::support::command("cmake").arg("--build").arg(&build));
    let output = run_example(&build.join("update_contact_cpp"), &server);
    assert!(output.contains("async: {\"ResponseMetadata\""), "{output}");

    let requests = server.requests();
    assert_eq!(
        requests
            .iter()
            .filter(|r| r.path == "/contacts/inst-example/contact-1")
            .count(),
        7,
        "2 calls from each C program, 3 from the C++ one"
    );
}
