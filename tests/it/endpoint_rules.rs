//! Endpoint resolution checked against the service's rules file: a small evaluator of the
//! rules language runs every region × FIPS × dual-stack × custom-endpoint case, and the
//! client's resolution must give the same URL or refuse with the same error. The rules'
//! `aws.partition` function is botocore's own (RuleSetStandardLibrary) over the vendored
//! partitions file, never the library's `partition_of`, so listed and unlisted regions alike
//! are judged by an independent oracle.

use std::collections::HashMap;

use connect_contact::unstable::{partition_of, PARTITIONS};
use connect_contact::{ClientConfig, Error};
use serde_json::{json, Value};

const RULES: &str = "tests/data/connect-endpoint-rules.json";
const PARTITIONS_FILE: &str = "tests/data/partitions.json";

fn rules() -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(RULES);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

type Scope = HashMap<String, Value>;

/// What `aws.partition` gives for each of `regions`, computed by botocore's implementation of
/// the rules' standard library over tests/data/partitions.json.
fn botocore_partitions(regions: &[&str]) -> HashMap<String, Value> {
    let script = r#"
import json, sys
from botocore.endpoint_provider import RuleSetStandardLibrary
with open(sys.argv[1]) as f:
    library = RuleSetStandardLibrary(json.load(f))
keys = ("name", "dnsSuffix", "dualStackDnsSuffix", "supportsFIPS", "supportsDualStack")
print(json.dumps({r: {k: library.aws_partition(r)[k] for k in keys} for r in sys.argv[2:]}))
"#;
    let out = crate::support::command("python3")
        .args(["-c", script])
        .arg(crate::support::repo_root().join(PARTITIONS_FILE))
        .args(regions)
        .output()
        .expect("python3 runs (botocore is the test oracle; see README)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn partition_value(region: &str) -> Value {
    let p = partition_of(region);
    json!({
        "name": p.name,
        "dnsSuffix": p.dns_suffix,
        "dualStackDnsSuffix": p.dual_stack_dns_suffix,
        "supportsFIPS": p.supports_fips,
        "supportsDualStack": p.supports_dual_stack,
    })
}

/// Evaluates a rules expression; `partitions` answers `aws.partition`.
fn eval(expr: &Value, scope: &Scope, partitions: &HashMap<String, Value>) -> Value {
    match expr {
        Value::Object(o) if o.contains_key("ref") => scope
            .get(o["ref"].as_str().unwrap())
            .cloned()
            .unwrap_or(Value::Null),
        Value::Object(o) if o.contains_key("fn") => {
            let args: Vec<Value> = o["argv"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| eval(a, scope, partitions))
                .collect();
            match o["fn"].as_str().unwrap() {
                "isSet" => Value::Bool(!args[0].is_null()),
                "booleanEquals" | "stringEquals" => Value::Bool(args[0] == args[1]),
                "getAttr" => args[0][args[1].as_str().unwrap()].clone(),
                "aws.partition" => {
                    let region = args[0].as_str().unwrap();
                    partitions
                        .get(region)
                        .unwrap_or_else(|| panic!("no botocore partition asked for {region}"))
                        .clone()
                }
                other => panic!("rules function {other} not known to this evaluator"),
            }
        }
        Value::String(s) => Value::String(template(s, scope)),
        other => other.clone(),
    }
}

/// `{Region}` and `{PartitionResult#dnsSuffix}`.
fn template(s: &str, scope: &Scope) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let end = rest[start..].find('}').unwrap() + start;
        let name = &rest[start + 1..end];
        let value = match name.split_once('#') {
            Some((var, attr)) => scope[var][attr].clone(),
            None => scope[name].clone(),
        };
        out.push_str(value.as_str().unwrap());
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

/// Ok(url) or Err(rules error message).
fn evaluate(
    rules: &[Value],
    scope: &Scope,
    partitions: &HashMap<String, Value>,
) -> Option<Result<String, String>> {
    for rule in rules {
        let mut scope = scope.clone();
        let mut matched = true;
        for condition in rule["conditions"].as_array().unwrap() {
            let value = eval(condition, &scope, partitions);
            if let Some(name) = condition.get("assign") {
                scope.insert(name.as_str().unwrap().into(), value.clone());
            }
            if value.is_null() || value == Value::Bool(false) {
                matched = false;
                break;
            }
        }
        if !matched {
            continue;
        }
        return match rule["type"].as_str().unwrap() {
            "endpoint" => Some(Ok(eval(&rule["endpoint"]["url"], &scope, partitions)
                .as_str()
                .unwrap()
                .to_owned())),
            "error" => Some(Err(rule["error"].as_str().unwrap().to_owned())),
            "tree" => evaluate(rule["rules"].as_array().unwrap(), &scope, partitions),
            other => panic!("rule type {other}"),
        };
    }
    None
}

#[test]
fn every_partition_and_flag_matches_the_rules_file() {
    let rules = rules();
    let rules = rules["rules"].as_array().unwrap();
    let regions = [
        "us-east-1",
        "eu-west-2",
        "ap-southeast-2",
        "ca-central-1",
        "il-central-1",
        "mx-central-1",
        "us-gov-west-1",
        "us-gov-east-1",
        "cn-north-1",
        "cn-northwest-1",
        "us-iso-east-1",
        "us-isob-east-1",
        "eu-isoe-west-1",
        "us-isof-south-1",
        "eusc-de-east-1",
        "aws-global",
        "local-zone",
        // Listed nowhere: only the partitions' region patterns (or the aws default) decide.
        "us-west-9",
        "ap-east-7",
        "us-gov-north-3",
        "cn-south-7",
        "us-iso-north-4",
        "us-isob-west-4",
        "eu-isoe-north-2",
        "us-isof-east-9",
        "eusc-de-south-3",
        "eusc-fr-south-3",
        "zz-top-1",
    ];
    let partitions = botocore_partitions(&regions);
    let mut checked = 0;
    for region in regions {
        for fips in [false, true] {
            for dual in [false, true] {
                for custom in [None, Some("https://custom.example")] {
                    let mut scope = Scope::new();
                    scope.insert("Region".into(), json!(region));
                    scope.insert("UseFIPS".into(), json!(fips));
                    scope.insert("UseDualStack".into(), json!(dual));
                    scope.insert(
                        "Endpoint".into(),
                        custom.map(|c| json!(c)).unwrap_or(Value::Null),
                    );
                    let expected =
                        evaluate(rules, &scope, &partitions).expect("the rules always decide");
                    let config = ClientConfig {
                        region: Some(region.into()),
                        endpoint_url: custom.map(str::to_owned),
                        use_fips_endpoint: Some(fips),
                        use_dualstack_endpoint: Some(dual),
                        access_key_id: Some("A".into()),
                        secret_access_key: Some("S".into()),
                        ..Default::default()
                    };
                    let got = crate::support::resolve(&config, &[]).map(|s| s.endpoint_url());
                    let case = format!("{region} fips={fips} dual={dual} custom={custom:?}");
                    match (expected, got) {
                        (Ok(url), Ok(got)) => assert_eq!(got, url, "{case}"),
                        (Err(message), Err(Error::InvalidConfig(m))) => {
                            assert!(m.contains(&message), "{case}: {m} vs {message}")
                        }
                        (expected, got) => {
                            panic!("{case}: rules say {expected:?}, client says {got:?}")
                        }
                    }
                    checked += 1;
                }
            }
        }
    }
    assert_eq!(checked, regions.len() * 8);
}

#[test]
fn partition_facts_match_botocore() {
    // The library's partition table against botocore's partitions file (vendored).
    let path = crate::support::repo_root().join(PARTITIONS_FILE);
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let theirs = doc["partitions"].as_array().unwrap();
    assert_eq!(theirs.len(), PARTITIONS.len(), "partition count");
    for p in theirs {
        let outputs = &p["outputs"];
        let name = outputs["name"].as_str().unwrap();
        // Every listed region maps to this partition, with this partition's facts.
        for region in p["regions"].as_object().unwrap().keys() {
            assert_eq!(
                partition_value(region),
                json!({
                    "name": name,
                    "dnsSuffix": outputs["dnsSuffix"],
                    "dualStackDnsSuffix": outputs["dualStackDnsSuffix"],
                    "supportsFIPS": outputs["supportsFIPS"],
                    "supportsDualStack": outputs["supportsDualStack"],
                }),
                "{region}"
            );
        }
    }
}
