//! botocore is the oracle: for the same input, our request has the same path bytes and JSON
//! body as botocore's, and botocore's signer verifies our signature.

use std::process::Command;

use crate::support::{repo_root, scratch_dir, Reply, TestServer};
use connect_contact::{ClientConfig, UpdateContactRequest};
use serde_json::{json, Value};

#[test]
fn requests_match_botocore_and_its_signer_verifies_them() {
    let server = TestServer::start(|_, n| Reply::ok(&format!("req-{n}")));
    let config = ClientConfig {
        region: Some("eu-central-1".into()),
        endpoint_url: Some(server.url()),
        access_key_id: Some("AKIDORACLE".into()),
        secret_access_key: Some("oracle/secret+key=".into()),
        session_token: Some("oracle-session-token//==".into()),
        max_attempts: Some(1),
        ..Default::default()
    };
    let client = crate::support::client(&config);
    let mut cases: Vec<Value> = serde_json::from_str(
        &std::fs::read_to_string(repo_root().join("tests/data/oracle_cases.json")).unwrap(),
    )
    .unwrap();
    assert!(cases.len() >= 15);
    // One case per member of botocore's own UpdateContact model, whatever its version: a member
    // or value a newer botocore adds that we refuse fails here at once.
    let generated = python_oracle().arg("--generate").output().unwrap();
    assert!(
        generated.status.success(),
        "{}",
        String::from_utf8_lossy(&generated.stderr)
    );
    let generated: Value = serde_json::from_slice(&generated.stdout).unwrap();
    let theirs = generated["botocore_version"].as_str().unwrap();
    let version = |v: &str| -> Vec<u32> { v.split('.').map(|n| n.parse().unwrap()).collect() };
    assert!(
        version(theirs) >= version(connect_contact::BOTOCORE_VERSION),
        "botocore {theirs} is older than the vendored model ({}); install a newer one",
        connect_contact::BOTOCORE_VERSION
    );
    let members = generated["cases"].as_array().unwrap();
    assert_eq!(
        members.len(),
        UpdateContactRequest::BODY_MEMBERS.len(),
        "botocore {theirs} has a different member set: {members:?}"
    );
    cases.extend(members.iter().cloned());
    for case in &cases {
        let request = UpdateContactRequest::from_json(&case.to_string())
            .unwrap_or_else(|e| panic!("we refuse what botocore accepts: {case}: {e}"));
        client
            .update_contact(&request)
            .unwrap_or_else(|e| panic!("{case}: {e}"));
    }
    let captures: Vec<Value> = server
        .requests()
        .iter()
        .zip(&cases)
        .map(|(r, input)| {
            let headers: serde_json::Map<String, Value> = r
                .headers
                .iter()
                .map(|(k, v)| (k.clone(), json!(v)))
                .collect();
            json!({
                "input": input,
                "method": r.method,
                "path": r.path,
                "headers": headers,
                "body": String::from_utf8(r.body.clone()).unwrap(),
            })
        })
        .collect();
    assert_eq!(captures.len(), cases.len(), "every case reached the server");
    let file = scratch_dir("oracle").join("captures.json");
    let document = json!({
        "region": "eu-central-1",
        "endpoint": server.url(),
        "access_key_id": "AKIDORACLE",
        "secret_access_key": "oracle/secret+key=",
        "session_token": "oracle-session-token//==",
        "captures": captures,
    });
    std::fs::write(&file, document.to_string()).unwrap();
    let output = python_oracle()
        .arg(&file)
        .output()
        .expect("python3 runs (pip install botocore)");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "botocore disagrees:\n{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains(&format!("{} cases equivalent", cases.len())),
        "{stdout}"
    );
}

fn python_oracle() -> Command {
    // botocore must not read this machine's AWS files or variables: the clean environment.
    let mut c = crate::support::command("python3");
    c.arg(repo_root().join("tests/oracle/botocore_oracle.py"));
    c
}
