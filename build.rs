//! Generates the C header from the FFI sources with cbindgen.
//!
//! The header is written to OUT_DIR only: a build never edits the source tree. The committed
//! include/connect_contact.h is refreshed on purpose with `scripts/regenerate`, and
//! tests/it/header.rs fails when it differs from what the sources generate.
use std::path::PathBuf;

/// True when building natively for linux-gnu on a glibc of 2.36 or later (which reads
/// DT_RELR), unless CONNECT_CONTACT_NO_RELR is set.
fn packs_relative_relocations() -> bool {
    println!("cargo:rerun-if-env-changed=CONNECT_CONTACT_NO_RELR");
    let var = |name: &str| std::env::var(name).unwrap_or_default();
    if std::env::var_os("CONNECT_CONTACT_NO_RELR").is_some()
        || var("CARGO_CFG_TARGET_OS") != "linux"
        || var("CARGO_CFG_TARGET_ENV") != "gnu"
        || var("HOST") != var("TARGET")
    {
        return false;
    }
    // `glibc 2.36`
    let Ok(out) = std::process::Command::new("getconf")
        .arg("GNU_LIBC_VERSION")
        .output()
    else {
        return false;
    };
    let text = String::from_utf8_lossy(&out.stdout);
    major_minor(text.trim().trim_start_matches("glibc ")).is_some_and(|v| v >= (2, 36))
}

/// The first two numbers of a version such as `2.36` or `1.95.0-nightly`.
fn major_minor(version: &str) -> Option<(u32, u32)> {
    let mut parts = version.split(['.', '-']).map(|p| p.parse::<u32>().ok());
    Some((parts.next()??, parts.next()??))
}

/// bench/symbol-order.txt, when the linker takes it: LLD, which rustc uses on
/// x86_64-unknown-linux-gnu from 1.90 on unless told otherwise. Off with
/// CONNECT_CONTACT_NO_SYMBOL_ORDER=1 (e.g. for a linker configured by hand).
fn symbol_order(crate_dir: &std::path::Path) -> Option<PathBuf> {
    println!("cargo:rerun-if-env-changed=CONNECT_CONTACT_NO_SYMBOL_ORDER");
    // Watched whether or not it is used (it is in the repository, so this costs nothing).
    println!("cargo:rerun-if-changed=bench/symbol-order.txt");
    let var = |name: &str| std::env::var(name).unwrap_or_default();
    let flags = var("CARGO_ENCODED_RUSTFLAGS");
    if std::env::var_os("CONNECT_CONTACT_NO_SYMBOL_ORDER").is_some()
        || var("TARGET") != "x86_64-unknown-linux-gnu"
        || flags.contains("linker")
        || flags.contains("fuse-ld")
        || std::env::var_os("CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_LINKER").is_some()
    {
        return None;
    }
    let out = std::process::Command::new(std::env::var_os("RUSTC")?)
        .arg("-vV")
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let release = text.lines().find_map(|l| l.strip_prefix("release: "))?;
    let order = crate_dir.join("bench").join("symbol-order.txt");
    (major_minor(release)? >= (1, 90) && order.is_file()).then_some(order)
}

/// `target/<profile>/<soname>` (and the same in `deps/`, where `cargo test` leaves the
/// library) -> `libconnect_contact.so`: a program linked against the build tree records the
/// soname and finds it there at run time. The links are made before the library exists and
/// point at it once it is linked. This is the only write outside OUT_DIR, and it stays inside
/// the target directory, never the source tree.
fn soname_links(soname: &str) {
    let Some(out_dir) = std::env::var_os("OUT_DIR") else {
        return;
    };
    // OUT_DIR is target/<profile>/build/<package>-<hash>/out.
    let Some(profile_dir) = PathBuf::from(out_dir).ancestors().nth(3).map(PathBuf::from) else {
        return;
    };
    for dir in [profile_dir.clone(), profile_dir.join("deps")] {
        let link = dir.join(soname);
        if std::fs::symlink_metadata(&link).is_err() {
            let _ = std::fs::create_dir_all(&dir);
            // Parallel builds may race to make it: either link is as good.
            #[cfg(unix)]
            let _ = std::os::unix::fs::symlink("libconnect_contact.so", &link);
        }
    }
}

fn main() {
    let crate_dir =
        PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    for watched in [
        "src/ffi",
        "src/error",
        "src/log.rs",
        "cbindgen.toml",
        "build.rs",
    ] {
        println!("cargo:rerun-if-changed={watched}");
    }
    // The shared library is known by the part of its version that promises ABI compatibility
    // (CHANGELOG.md, "ABI policy"): the major version, or `0.MINOR` before 1.0, where a minor
    // release may break the ABI. A compatible upgrade replaces the library in place; an
    // incompatible one installs beside it. Everything else that needs the name (examples,
    // tests) reads CONNECT_SONAME; scripts/install.sh applies the same rule and
    // tests/it/install.rs checks that they agree.
    let major = std::env::var("CARGO_PKG_VERSION_MAJOR").expect("cargo sets the version");
    let minor = std::env::var("CARGO_PKG_VERSION_MINOR").expect("cargo sets the version");
    let abi = if major == "0" {
        format!("0.{minor}")
    } else {
        major
    };
    let soname = format!("libconnect_contact.so.{abi}");
    println!("cargo:rustc-env=CONNECT_SONAME={soname}");
    if std::env::var("CARGO_CFG_TARGET_OS").is_ok_and(|os| os == "linux") {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,{soname}");
        soname_links(&soname);
    }
    println!("cargo:rerun-if-env-changed=CONNECT_CONTACT_KEEP_SYMBOLS");
    let release = std::env::var("PROFILE").is_ok_and(|p| p == "release");
    if release && std::env::var_os("CONNECT_CONTACT_KEEP_SYMBOLS").is_none() {
        // The release profile keeps `strip = false` so that a build with symbols (this
        // variable set: bench/symbol_order.py, the size by crate) names every function as
        // the shipped library does (Cargo's strip setting changes the symbol hashes); the
        // library is stripped here, by the linker, instead.
        println!("cargo:rustc-cdylib-link-arg=-Wl,--strip-all");
    }
    if let Some(order) = symbol_order(&crate_dir).filter(|_| release) {
        // The functions a client's construction and its calls run, first and together
        // (docs/performance.md, "TLS, round trips, cold start and size (issue 16)"). Names
        // not found (another compiler or dependency version) are skipped, silently.
        println!(
            "cargo:rustc-cdylib-link-arg=-Wl,--symbol-ordering-file={}",
            order.display()
        );
        println!("cargo:rustc-cdylib-link-arg=-Wl,--no-warn-symbol-ordering");
    }
    if packs_relative_relocations() {
        // DT_RELR: the library's ~9,400 relative relocations (vtables, string tables) packed
        // into a bitmap, 225 KB -> 2 KB of the stripped .so (docs/performance.md, "TLS, round
        // trips, cold start and size (issue 16)"). The loader that reads them is glibc 2.36's, so it is
        // used only when the build machine has that glibc (a library built here needs it anyway to load); set
        // CONNECT_CONTACT_NO_RELR=1 to build for an older glibc than the build machine's.
        println!("cargo:rustc-cdylib-link-arg=-Wl,-z,pack-relative-relocs");
    }
    let config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml"))
        .expect("cbindgen.toml is readable");
    let bindings = match cbindgen::generate_with_config(&crate_dir, config) {
        Ok(bindings) => bindings,
        Err(e) => panic!("cbindgen could not generate the header: {e}"),
    };
    let mut generated = Vec::new();
    bindings.write(&mut generated);
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    let generated_path = out_dir.join("connect_contact.h");
    std::fs::write(&generated_path, &generated).expect("OUT_DIR is writable");
    // Lets tests/it/header.rs compare what the sources generate with what is committed.
    println!(
        "cargo:rustc-env=CONNECT_GENERATED_HEADER={}",
        generated_path.display()
    );
}
