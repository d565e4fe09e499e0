//! The cross-SDK conformance suites vendored from smithy-rs (tests/data/conformance/, see
//! tests/data/README.md), run through the public configuration API: the profile files are
//! written to a temporary directory and read with `ProfileSet::load` or resolved with
//! `ClientConfig::resolve_with`; role chains are observed on loopback STS, SSO and IMDS fakes.
//!
//! Every case runs. The few that do not apply to this library are named in `NOT_APPLICABLE`
//! with the reason, and the tests fail if such a case disappears from the suite. The number
//! of cases is pinned, so a case added or lost when the suite is updated shows. Error cases
//! are checked for the kind of error, the line (parser) or profile (role chains) it names,
//! and a key phrase of our own wording (`PARSER_ERRORS`, `ROLE_ERRORS`): the suites' wording
//! is smithy-rs's own, not an SDK contract.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use crate::support::{Recorded, Reply, TestServer};
use connect_contact::unstable::{sso_cache_file as cache_file, ProfileSet, Section};
use connect_contact::{ClientConfig, Error};
use serde_json::Value;

const NOT_APPLICABLE: &[(&str, &str)] = &[
    (
        "SSO token profile selected",
        "a profile with only sso_session yields an SSO bearer token for token-auth services; \
         Connect is signed with SigV4 and needs sso_account_id/sso_role_name",
    ),
    (
        "User home is loaded from $HOME with highest priority on windows platforms.",
        "Windows paths",
    ),
    (
        "User home is loaded from $USERPROFILE on windows platforms when $HOME is not set.",
        "Windows paths",
    ),
    (
        "User home is loaded from $HOMEDRIVE$HOMEPATH on windows platforms when $HOME and $USERPROFILE are not set.",
        "Windows paths",
    ),
    (
        "The default credentials location can be overridden by the user on windows platforms.",
        "Windows paths",
    ),
];

/// The profile-parser suite's error cases: (case, the line our error names, a phrase of it).
/// The suite gives no line; these are the lines of its inputs where the rule breaks.
const PARSER_ERRORS: &[(&str, usize, &str)] = &[
    (
        "Profile definitions must end with brackets.",
        1,
        "section header without a closing ']'",
    ),
    (
        "Properties must be defined in a profile.",
        1,
        "property before the first [section]",
    ),
    (
        "Property key cannot be empty.",
        2,
        "a property needs a name before '='",
    ),
    (
        "Property definitions must contain an equals sign.",
        2,
        "expected \"key = value\"",
    ),
    (
        "Continuations cannot be used outside of a profile.",
        1,
        "indented line outside any section",
    ),
    (
        "Continuations cannot be used outside of a property.",
        2,
        "indented line without a property above it",
    ),
    (
        "Continuations reset with profile definitions.",
        4,
        "indented line without a property above it",
    ),
    (
        "Invalid sub-property definitions cause an error.",
        3,
        "expected \"key = value\" in a sub-section",
    ),
    (
        "Sub-property definitions cannot have an empty name.",
        3,
        "a sub-property needs a name before '='",
    ),
    (
        "Invalid continuation",
        4,
        "indented line without a property above it",
    ),
];

/// The assume-role suite's error cases: (case, a phrase our error must hold).
const ROLE_ERRORS: &[(&str, &str)] = &[
    (
        "role_arn without source source_profile",
        "has role_arn but neither source_profile nor credential_source",
    ),
    (
        "source profile and credential source both present",
        "has both source_profile and credential_source",
    ),
    (
        "partial credentials error (missing secret)",
        "has aws_access_key_id but no aws_secret_access_key",
    ),
    (
        "partial credentials error (missing access key)",
        "has aws_secret_access_key but no aws_access_key_id",
    ),
    (
        "missing credentials error (empty source profile)",
        "source_profile \"B\" does not exist or holds no credentials",
    ),
    (
        "profile only contains configuration",
        "no credentials: tried",
    ),
    (
        "missing source profile",
        "source_profile \"B\" does not exist or holds no credentials",
    ),
    (
        "missing root profile (should never happen in practice)",
        "profile \"A\" (from config key \"profile\") is not in",
    ),
    (
        "assume role profile infinite loop",
        "source_profile loops: A -> B -> A",
    ),
    (
        "infinite loop with static credentials",
        "source_profile loops: A -> B -> A",
    ),
    (
        "web identity role",
        "has web_identity_token_file but no role_arn",
    ),
    (
        "invalid SSO credentials configuration: missing account ID",
        "SSO needs sso_account_id",
    ),
    (
        "invalid SSO credentials configuration: missing role name",
        "SSO needs sso_role_name",
    ),
    (
        "invalid SSO token configuration: sso_region must be in sso-session",
        "SSO needs sso_region in [sso-session A]",
    ),
    (
        "invalid SSO token configuration: sso-session not found",
        "sso_session \"oops\" has no [sso-session oops] section",
    ),
];

/// A block property's raw value (`"\nkey = value\n..."`) parsed into its sub-properties, as
/// botocore's `_parse_nested` reads it: each non-blank line split at its first `=`, both
/// sides trimmed.
fn sub_properties_of(raw: &str) -> BTreeMap<String, String> {
    raw.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| {
            let (k, v) = l.split_once('=').expect("a sub-property line has '='");
            (k.trim().to_owned(), v.trim().to_owned())
        })
        .collect()
}

fn suite(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/conformance")
        .join(name);
    serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap()
}

fn not_applicable(name: &str) -> Option<&'static str> {
    NOT_APPLICABLE
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, why)| *why)
}

/// A temporary directory, removed on drop.
struct Dir(PathBuf);

impl Dir {
    fn new(tag: &str, n: usize) -> Dir {
        let dir = std::env::temp_dir().join(format!("cc-conf-{tag}-{n}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join(".aws/sso/cache")).unwrap();
        Dir(dir)
    }

    fn write(&self, rel: &str, text: &str) -> PathBuf {
        let path = self.0.join(rel);
        std::fs::write(&path, text).unwrap();
        path
    }

    fn path(&self) -> String {
        self.0.to_str().unwrap().to_owned()
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The sections of a `ProfileSet` as the suite writes them: name → key → raw value.
fn as_json(names: Vec<&str>, get: impl Fn(&str) -> BTreeMap<String, String>) -> Value {
    Value::Object(
        names
            .into_iter()
            .map(|n| (n.to_owned(), serde_json::to_value(get(n)).unwrap()))
            .collect(),
    )
}

#[test]
fn profile_parser_suite() {
    let suite = suite("profile-parser-tests.json");
    let tests = suite["tests"].as_array().unwrap();
    assert_eq!(tests.len(), 65, "the vendored suite's cases");
    let (mut errors, mut blocks) = (0, 0);
    for (n, case) in tests.iter().enumerate() {
        let name = case["name"].as_str().unwrap();
        assert!(
            not_applicable(name).is_none(),
            "{name}: every parser case applies"
        );
        let dir = Dir::new("parse", n);
        let file =
            |key: &str, rel: &str| case["input"][key].as_str().map(|text| dir.write(rel, text));
        let config = file("configFile", "config");
        let credentials = file("credentialsFile", "credentials");
        let loaded = ProfileSet::load(config.as_deref(), credentials.as_deref());
        let output = &case["output"];
        if output.get("errorContaining").is_some() {
            let err = loaded.expect_err(name);
            assert!(matches!(err, Error::InvalidConfig(_)), "{name}: {err:?}");
            let (_, line, phrase) = PARSER_ERRORS
                .iter()
                .find(|(n, _, _)| *n == name)
                .unwrap_or_else(|| panic!("{name}: an error case missing from PARSER_ERRORS"));
            let file = config.or(credentials).unwrap().display().to_string();
            let shown = err.to_string();
            assert!(
                shown.starts_with(&format!("{file}:{line}: ")),
                "{name}: the error names the file and line {line}: {shown}"
            );
            assert!(shown.contains(phrase), "{name}: {shown}");
            errors += 1;
            continue;
        }
        let set = loaded.unwrap_or_else(|e| panic!("{name}: {e}"));
        let section = |s: Option<&Section>| {
            s.unwrap()
                .properties
                .iter()
                .map(|(k, p)| (k.clone(), p.value.clone()))
                .collect::<BTreeMap<_, _>>()
        };
        let profiles = as_json(set.profile_names().collect(), |p| section(set.profile(p)));
        assert_eq!(profiles, output["config"]["profiles"], "{name}");
        // A block's sub-properties as parsed, not only its raw text.
        for (profile, props) in output["config"]["profiles"].as_object().unwrap() {
            for (key, raw) in props.as_object().unwrap() {
                let raw = raw.as_str().unwrap();
                if !raw.starts_with('\n') {
                    continue;
                }
                let parsed = &set.profile(profile).unwrap().property(key).unwrap().sub;
                assert_eq!(
                    parsed,
                    &sub_properties_of(raw),
                    "{name}: [{profile}] {key}'s sub-properties"
                );
                blocks += 1;
            }
        }
        if let Some(expected) = output["config"].get("sso_sessions") {
            let sessions = as_json(set.sso_session_names().collect(), |s| {
                section(set.sso_session(s))
            });
            assert_eq!(&sessions, expected, "{name}");
        }
    }
    assert_eq!(errors, PARSER_ERRORS.len(), "every listed error case ran");
    assert_eq!(blocks, 4, "the suite's cases with sub-properties");
}

#[test]
fn file_location_suite() {
    let suite = suite("file-location-tests.json");
    let (mut ran, mut windows) = (0, 0);
    for case in suite["tests"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        if case["platform"] != "linux" {
            assert_eq!(not_applicable(name), Some("Windows paths"), "{name}");
            windows += 1;
            continue;
        }
        let env: HashMap<String, String> = case["environment"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
            .collect();
        let resolve = |json: &str| {
            ClientConfig::from_json(json)
                .unwrap()
                .resolve_with(&|k| env.get(k).cloned())
        };
        // A profile that is nowhere makes the error name both files.
        let err = resolve(r#"{"profile":"conformance-probe","region":"us-east-1"}"#).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "profile \"conformance-probe\" (from config key \"profile\") is not in {} and {}",
                case["configLocation"].as_str().unwrap(),
                case["credentialsLocation"].as_str().unwrap()
            ),
            "{name}"
        );
        // The profile chosen: "default" may be absent; any other one is looked for.
        match case["profile"].as_str() {
            None => {}
            Some("default") => assert!(
                !resolve(r#"{"region":"us-east-1"}"#)
                    .err()
                    .is_some_and(|e| e.to_string().contains("is not in")),
                "{name}"
            ),
            Some(other) => {
                let err = resolve(r#"{"region":"us-east-1"}"#).unwrap_err();
                assert!(
                    err.to_string()
                        .starts_with(&format!("profile \"{other}\" (from AWS_PROFILE)")),
                    "{name}: {err}"
                );
            }
        }
        ran += 1;
    }
    assert_eq!(ran, 4);
    // Five Windows cases under four names (two share one).
    assert_eq!(windows, 5, "the listed Windows cases are in the suite");
}

const IMDS_KEY: &str = "AKIDIMDS";
const SSO_KEY: &str = "ASIASSO";

fn reply(status: u16, body: String) -> Reply {
    Reply::Respond {
        status,
        headers: vec![("content-type".into(), "application/json".into())],
        body: body.into_bytes(),
    }
}

fn sts() -> TestServer {
    TestServer::start(|_, n| {
        Reply::Respond {
        status: 200,
        headers: vec![("content-type".into(), "text/xml".into())],
        body: format!(
            "<AssumeRoleResponse><AssumeRoleResult><Credentials><AccessKeyId>ASIASTS{n}</AccessKeyId>\
             <SecretAccessKey>S</SecretAccessKey><SessionToken>T{n}</SessionToken>\
             <Expiration>2099-01-01T00:00:00Z</Expiration></Credentials></AssumeRoleResult></AssumeRoleResponse>"
        )
        .into_bytes(),
    }
    })
}

fn imds() -> TestServer {
    TestServer::start(|r, _| match (r.method.as_str(), r.path.as_str()) {
        ("PUT", "/latest/api/token") => reply(200, "TOKEN".into()),
        ("GET", "/latest/meta-data/iam/security-credentials/") => reply(200, "role".into()),
        ("GET", "/latest/meta-data/iam/security-credentials/role") => reply(
            200,
            format!(
                r#"{{"Code":"Success","AccessKeyId":"{IMDS_KEY}","SecretAccessKey":"S","Token":"T","Expiration":"2099-01-01T00:00:00Z"}}"#
            ),
        ),
        _ => reply(404, String::new()),
    })
}

fn sso() -> TestServer {
    TestServer::start(|r, _| {
        if r.header("x-amz-sso_bearer_token") != Some("SSO-TOKEN") {
            return reply(401, r#"{"message":"bad token"}"#.into());
        }
        reply(
            200,
            format!(
                r#"{{"roleCredentials":{{"accessKeyId":"{SSO_KEY}","secretAccessKey":"S","sessionToken":"T","expiration":4070908800000}}}}"#
            ),
        )
    })
}

/// The form fields of an STS request, percent-decoded.
fn form(r: &Recorded) -> HashMap<String, String> {
    let decode = |s: &str| {
        let bytes = s.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'%' if i + 2 < bytes.len() => {
                    out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
                    i += 3;
                }
                b'+' => {
                    out.push(b' ');
                    i += 1;
                }
                b => {
                    out.push(b);
                    i += 1;
                }
            }
        }
        String::from_utf8(out).unwrap()
    };
    String::from_utf8_lossy(&r.body)
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (decode(k), decode(v)))
        .collect()
}

fn signer(r: &Recorded) -> String {
    let auth = r.header("authorization").unwrap_or_default();
    auth.split("Credential=")
        .nth(1)
        .and_then(|c| c.split('/').next())
        .unwrap_or_default()
        .to_owned()
}

fn ini(header: &str, props: &Value, token_file: &Path) -> String {
    let mut text = format!("[{header}]\n");
    for (k, v) in props.as_object().unwrap() {
        let mut v = v.as_str().unwrap().to_owned();
        if k == "web_identity_token_file" {
            // The suite's /var/token.jwt, written where a test may write.
            assert_eq!(v, "/var/token.jwt");
            v = token_file.display().to_string();
        }
        text += &format!("{k} = {v}\n");
    }
    text
}

#[test]
fn assume_role_suite() {
    let suite = suite("assume-role-tests.json");
    let cases = suite.as_array().unwrap();
    assert_eq!(cases.len(), 28, "the vendored suite's cases");
    let (mut skipped, mut errors, mut chains) = (0, 0, 0);
    for (n, case) in cases.iter().enumerate() {
        let name = case["docs"].as_str().unwrap();
        if not_applicable(name).is_some() {
            skipped += 1;
            continue;
        }
        let input = &case["input"];
        let selected = input["selected_profile"].as_str().unwrap();
        let home = Dir::new("role", n);
        let token_file = home.write("token.jwt", "JWT-TOKEN");
        let mut config = String::new();
        for (p, props) in input["profiles"].as_object().unwrap() {
            config += &ini(&format!("profile {p}"), props, &token_file);
        }
        if let Some(sessions) = input.get("sso_sessions") {
            for (s, props) in sessions.as_object().unwrap() {
                config += &ini(&format!("sso-session {s}"), props, &token_file);
            }
        }
        home.write(".aws/config", &config);
        let (sts, sso, imds) = (sts(), sso(), imds());
        let chain = case["output"].get("ProfileChain").and_then(Value::as_array);
        let mut env: HashMap<String, String> = HashMap::from([
            ("HOME".into(), home.path()),
            ("AWS_REGION".into(), "us-east-1".into()),
            ("AWS_ENDPOINT_URL_STS".into(), sts.url()),
            ("AWS_ENDPOINT_URL_SSO".into(), sso.url()),
        ]);
        // IMDS stands for the machine: reachable (a fake) only where the case sources from it.
        let from_imds = chain.is_some_and(|c| c[0]["NamedSource"] == "Ec2InstanceMetadata");
        if from_imds {
            env.insert("AWS_EC2_METADATA_SERVICE_ENDPOINT".into(), imds.url());
        } else {
            env.insert("AWS_EC2_METADATA_DISABLED".into(), "true".into());
        }
        // The token `aws sso login` would have cached for the legacy profile keys.
        for props in input["profiles"].as_object().unwrap().values() {
            if let Some(url) = props.get("sso_start_url").and_then(Value::as_str) {
                let file = cache_file(&home.0.join(".aws/sso/cache"), url);
                std::fs::write(
                    file,
                    r#"{"accessToken":"SSO-TOKEN","expiresAt":"2099-01-01T00:00:00Z"}"#,
                )
                .unwrap();
            }
        }
        let result = ClientConfig::from_json(&format!(r#"{{"profile":"{selected}"}}"#))
            .unwrap()
            .resolve_with(&|k| env.get(k).cloned())
            .and_then(|s| s.credentials());

        let Some(chain) = chain else {
            assert!(case["output"].get("Error").is_some(), "{name}");
            let err = match result {
                Ok(c) => panic!(
                    "{name}: expected an error, got credentials {}",
                    c.access_key_id()
                ),
                Err(e) => e,
            };
            assert!(
                matches!(
                    err,
                    Error::InvalidConfig(_)
                        | Error::NoCredentials(_)
                        | Error::CredentialsProvider(_)
                ),
                "{name}: {err:?}"
            );
            let shown = err.to_string();
            let mut names = input["profiles"]
                .as_object()
                .unwrap()
                .keys()
                .cloned()
                .collect::<Vec<_>>();
            names.push(selected.to_owned());
            assert!(
                names
                    .iter()
                    .any(|p| shown.contains(&format!("profile \"{p}\""))),
                "{name}: the error names the profile: {shown}"
            );
            let (_, phrase) = ROLE_ERRORS
                .iter()
                .find(|(n, _)| *n == name)
                .unwrap_or_else(|| {
                    panic!("{name}: an error case missing from ROLE_ERRORS: {shown}")
                });
            assert!(shown.contains(phrase), "{name}: {shown}");
            errors += 1;
            continue;
        };
        let creds = result.unwrap_or_else(|e| panic!("{name}: {e}"));
        let calls = sts.requests();
        // The first link: where the base credentials came from.
        let (mut key, roles) = match chain[0].as_object().unwrap().iter().next().unwrap() {
            (kind, v) if kind == "AccessKey" => {
                (v["access_key_id"].as_str().unwrap().to_owned(), &chain[1..])
            }
            (kind, v) if kind == "NamedSource" => {
                assert_eq!(v, "Ec2InstanceMetadata", "{name}");
                assert!(imds.count() >= 3, "{name}: IMDS was asked");
                (IMDS_KEY.to_owned(), &chain[1..])
            }
            (kind, v) if kind == "WebIdentityToken" => {
                let f = form(&calls[0]);
                assert_eq!(f["Action"], "AssumeRoleWithWebIdentity", "{name}");
                assert_eq!(f["RoleArn"], v["role_arn"].as_str().unwrap(), "{name}");
                assert_eq!(f["WebIdentityToken"], "JWT-TOKEN", "{name}");
                if let Some(s) = v.get("role_session_name") {
                    assert_eq!(&f["RoleSessionName"], s.as_str().unwrap(), "{name}");
                }
                ("ASIASTS0".to_owned(), &chain[1..])
            }
            (kind, v) if kind == "Sso" => {
                let r = &sso.requests()[0];
                assert_eq!(
                    r.path,
                    format!(
                        "/federation/credentials?account_id={}&role_name={}",
                        v["sso_account_id"].as_str().unwrap(),
                        v["sso_role_name"].as_str().unwrap()
                    ),
                    "{name}"
                );
                (SSO_KEY.to_owned(), &chain[1..])
            }
            (kind, _) => panic!("{name}: unknown link {kind}"),
        };
        let first_sts = usize::from(chain[0].get("WebIdentityToken").is_some());
        assert_eq!(
            calls.len(),
            first_sts + roles.len(),
            "{name}: one STS call per role"
        );
        for (i, link) in roles.iter().enumerate() {
            let role = &link["AssumeRole"];
            let call = &calls[first_sts + i];
            let f = form(call);
            assert_eq!(f["Action"], "AssumeRole", "{name}");
            assert_eq!(f["RoleArn"], role["role_arn"].as_str().unwrap(), "{name}");
            assert_eq!(
                signer(call),
                key,
                "{name}: link {i} signed by the previous one"
            );
            if let Some(s) = role.get("role_session_name") {
                assert_eq!(&f["RoleSessionName"], s.as_str().unwrap(), "{name}");
            }
            if let Some(x) = role.get("external_id") {
                assert_eq!(&f["ExternalId"], x.as_str().unwrap(), "{name}");
            } else {
                assert!(!f.contains_key("ExternalId"), "{name}");
            }
            key = format!("ASIASTS{}", first_sts + i);
        }
        assert_eq!(
            creds.access_key_id(),
            key,
            "{name}: the chain's last credentials"
        );
        chains += 1;
    }
    assert_eq!(skipped, 1);
    assert_eq!(errors, ROLE_ERRORS.len(), "every listed error case ran");
    assert_eq!(chains, 28 - 1 - ROLE_ERRORS.len(), "the chains resolved");
}
