//! Generates the C header from the FFI sources with cbindgen.
//!
//! The header is written to OUT_DIR only: a build never edits the source tree. The committed
//! include/connect_contact.h is refreshed on purpose with `scripts/regenerate`, and
//! tests/header.rs fails when it differs from what the sources generate.
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
    let mut parts = text
        .trim()
        .trim_start_matches("glibc ")
        .split('.')
        .map(|p| p.parse::<u32>().unwrap_or(0));
    let (major, minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    (major, minor) >= (2, 36)
}

fn main() {
    let crate_dir =
        PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    for watched in [
        "src/ffi.rs",
        "src/error.rs",
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
    // tests/install.rs checks that they agree.
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
    }
    if packs_relative_relocations() {
        // DT_RELR: the library's ~9,400 relative relocations (vtables, string tables) packed
        // into a bitmap, 225 KB -> 2 KB of the stripped .so (docs/performance.md, size). The
        // loader that reads them is glibc 2.36's, so it is used only when the build machine
        // has that glibc (a library built here needs it anyway to load); set
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
    // Lets tests/header.rs compare what the sources generate with what is committed.
    println!(
        "cargo:rustc-env=CONNECT_GENERATED_HEADER={}",
        generated_path.display()
    );
}
