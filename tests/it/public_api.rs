//! The public Rust API is what api/public-api.txt lists: a change to the surface fails here
//! until the listing is regenerated (`scripts/public-api`) and committed with it.

#[test]
fn public_api_matches_the_committed_listing() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    // The listing comes from cargo's rustdoc: the clean environment, told where the toolchain is.
    let output = crate::support::toolchain_command("python3")
        .arg(root.join("scripts/public-api"))
        .arg("--check")
        .current_dir(root)
        .output()
        .expect("python3 runs scripts/public-api");
    assert!(
        output.status.success(),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
