//! The release profile no longer strips (see the root Cargo.toml): the command-line tool's
//! release build is stripped by the linker instead.
fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    if std::env::var("PROFILE").is_ok_and(|p| p == "release") {
        println!("cargo:rustc-link-arg-bins=-Wl,--strip-all");
    }
}
