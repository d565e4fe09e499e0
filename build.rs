//! Generates the C header from the FFI sources with cbindgen.
//!
//! The header is written to OUT_DIR on every build (the committed-header test compares it
//! with the committed file) and to include/ only when its content changed, so an unchanged
//! build never touches the source tree.
use std::path::PathBuf;

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
    // The shared library is known by its major version, so a compatible upgrade replaces it in
    // place and an incompatible one installs beside it (ELF platforms only).
    if std::env::var("CARGO_CFG_TARGET_OS").is_ok_and(|os| os == "linux") {
        let major = std::env::var("CARGO_PKG_VERSION_MAJOR").expect("cargo sets the version");
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libconnect_contact.so.{major}");
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
    let committed = crate_dir.join("include").join("connect_contact.h");
    if std::fs::read(&committed).ok().as_deref() != Some(generated.as_slice()) {
        std::fs::create_dir_all(committed.parent().expect("include/ has a parent"))
            .expect("include/ can be created");
        std::fs::write(&committed, &generated).expect("include/connect_contact.h is writable");
    }
}
