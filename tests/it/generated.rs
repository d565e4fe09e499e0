//! Everything that restates the model is generated from model/connect.json: the committed
//! files must be what the generator writes, and one changed limit must reach every output.

use std::path::Path;
use std::process::Command;

use crate::support::{repo_root, scratch_dir};

fn generator() -> Command {
    // The generator runs rustfmt, a rustup proxy: it needs to know where the toolchain is.
    let mut c = crate::support::toolchain_command("python3");
    c.arg(repo_root().join("scripts/generate-from-model"));
    c
}

#[test]
fn committed_files_are_what_the_model_generates() {
    let out = generator().arg("--check").output().expect("python3 runs");
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

const OUTPUTS: &[&str] = &[
    "src/model/generated.rs",
    "include/connect_contact.hpp",
    "bindings/python/connect_contact/types.py",
    "docs/requests.md",
];

/// Written whole (not spliced), so not among the outputs that show the model's limits.
const CLI_OPTIONS: &str = "cli/src/generated.rs";

fn copy_outputs(to: &Path) {
    for rel in OUTPUTS.iter().chain([&CLI_OPTIONS]) {
        let target = to.join(rel);
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::copy(repo_root().join(rel), target).unwrap();
    }
}

#[test]
fn one_changed_limit_reaches_validation_python_cpp_and_docs() {
    let root = scratch_dir("generated-limit");
    copy_outputs(&root);
    let mut model: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo_root().join("model/connect.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(model["shapes"]["Name"]["max"], 1024);
    model["shapes"]["Name"]["max"] = 777.into();
    let model_path = root.join("connect.json");
    std::fs::write(&model_path, model.to_string()).unwrap();
    let out = generator()
        .arg("--model")
        .arg(&model_path)
        .arg("--root")
        .arg(&root)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for rel in OUTPUTS {
        let before = std::fs::read_to_string(repo_root().join(rel)).unwrap();
        let after = std::fs::read_to_string(root.join(rel)).unwrap();
        assert_ne!(before, after, "{rel} did not follow the model");
        assert!(
            after.contains("0..777 characters") && !after.contains("0..1024 characters; sensitive"),
            "{rel} shows the new limit for Name"
        );
    }
    let rust = std::fs::read_to_string(root.join("src/model/generated.rs")).unwrap();
    assert!(
        rust.contains("shape: \"Name\",\n        min: 0,\n        max: Some(777),"),
        "validation's limit for Name follows"
    );
}

#[test]
fn a_new_member_reaches_the_command_lines_options_and_skeleton() {
    let root = scratch_dir("generated-cli");
    copy_outputs(&root);
    let mut model: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo_root().join("model/connect.json")).unwrap(),
    )
    .unwrap();
    let input = &mut model["shapes"]["UpdateContactRequest"];
    assert!(input["members"].get("QueuePriority").is_none());
    input["members"]["QueuePriority"] = serde_json::json!({"shape": "Priority"});
    input["required"]
        .as_array_mut()
        .unwrap()
        .push("QueuePriority".into());
    model["shapes"]["Priority"] = serde_json::json!({"type": "integer"});
    let model_path = root.join("connect.json");
    std::fs::write(&model_path, model.to_string()).unwrap();
    let out = generator()
        .arg("--model")
        .arg(&model_path)
        .arg("--root")
        .arg(&root)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let cli = std::fs::read_to_string(root.join(CLI_OPTIONS)).unwrap();
    assert!(
        cli.contains(
            "name: \"QueuePriority\",\n        option: \"queue-priority\",\n        kind: \"integer\",\n        required: true,"
        ),
        "the new member is an option:\n{cli}"
    );
    assert!(
        cli.contains("\n    \"QueuePriority\": 0"),
        "and a member of the skeleton:\n{cli}"
    );
}
