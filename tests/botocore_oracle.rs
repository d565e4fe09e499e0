//! botocore is the oracle: for the same input, our request has the same path bytes and JSON
//! body as botocore's, and botocore's signer verifies our signature.

mod support;

use std::process::Command;

use connect_contact::client::Client;
use connect_contact::config::ClientConfig;
use connect_contact::model::UpdateContactRequest;
use serde_json::{json, Value};
use support::{repo_root, scratch_dir, Reply, TestServer};

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
    let client = Client::new(&config).unwrap();
    let cases: Vec<Value> = serde_json::from_str(
        &std::fs::read_to_string(repo_root().join("tests/data/oracle_cases.json")).unwrap(),
    )
    .unwrap();
    assert!(cases.len() >= 10);
    for case in &cases {
        let request = UpdateContactRequest::from_json(&case.to_string()).unwrap();
        client.update_contact(&request).unwrap();
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
    let output = Command::new("python3")
        .arg(repo_root().join("tests/oracle/botocore_oracle.py"))
        .arg(&file)
        // botocore must not read this machine's AWS files or variables.
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env_remove("AWS_PROFILE")
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
