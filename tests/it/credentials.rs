//! Every credential source against local fakes on 127.0.0.1 (IMDS, container, STS, SSO)
//! and temporary profile files; nothing here reads the real environment or network.

use std::collections::HashMap;
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::support::{Recorded, Reply, TestServer};
use connect_contact::{Client, ClientConfig, Error, Settings, UpdateContactRequest};

const CANARY: &str = "CANARY-SECRET-1234";

/// A temporary HOME; removed on drop.
struct Home(PathBuf);

impl Home {
    fn new(tag: &str) -> Home {
        let dir = std::env::temp_dir().join(format!("cc-creds-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join(".aws/sso/cache")).unwrap();
        Home(dir)
    }

    fn write(&self, rel: &str, text: &str) -> String {
        let path = self.0.join(rel);
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_owned()
    }

    fn path(&self) -> &str {
        self.0.to_str().unwrap()
    }
}

impl Drop for Home {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Resolves with only `vars` (plus HOME, a region and IMDS off unless given).
fn resolve(home: &Home, json: &str, vars: &[(&str, &str)]) -> Result<Settings, Error> {
    let mut env: HashMap<String, String> = HashMap::from([
        ("HOME".into(), home.path().into()),
        ("AWS_REGION".into(), "us-east-1".into()),
        ("AWS_EC2_METADATA_DISABLED".into(), "true".into()),
    ]);
    env.extend(vars.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    ClientConfig::from_json(json)?.resolve_with(&|k| env.get(k).cloned())
}

fn access_key(settings: &Settings) -> String {
    settings.credentials().unwrap().access_key_id().to_owned()
}

fn json(status: u16, body: &str) -> Reply {
    Reply::Respond {
        status,
        headers: vec![("content-type".into(), "application/json".into())],
        body: body.as_bytes().to_vec(),
    }
}

fn creds_json(id: &str) -> String {
    format!(
        r#"{{"Code":"Success","AccessKeyId":"{id}","SecretAccessKey":"{CANARY}","Token":"TOKEN-{id}","Expiration":"2099-01-01T00:00:00Z"}}"#
    )
}

fn sts_ok(id: &str) -> Reply {
    Reply::Respond {
        status: 200,
        headers: vec![("content-type".into(), "text/xml".into())],
        body: format!(
            "<AssumeRoleResponse><AssumeRoleResult><Credentials><AccessKeyId>{id}</AccessKeyId>\
             <SecretAccessKey>{CANARY}</SecretAccessKey><SessionToken>ST-{id}</SessionToken>\
             <Expiration>2099-01-01T00:00:00Z</Expiration></Credentials></AssumeRoleResult></AssumeRoleResponse>"
        )
        .into_bytes(),
    }
}

/// A fake IMDS answering as EC2 does, with role `web-role`.
fn fake_imds(id: &'static str) -> TestServer {
    TestServer::start(move |r, _| match (r.method.as_str(), r.path.as_str()) {
        ("PUT", "/latest/api/token") => json(200, "IMDSTOKEN"),
        ("GET", "/latest/meta-data/iam/security-credentials/")
            if r.header("x-aws-ec2-metadata-token") == Some("IMDSTOKEN") =>
        {
            json(200, "web-role\n")
        }
        ("GET", "/latest/meta-data/iam/security-credentials/web-role") => {
            json(200, &creds_json(id))
        }
        _ => json(401, ""),
    })
}

fn form(r: &Recorded) -> String {
    String::from_utf8_lossy(&r.body).into_owned()
}

fn assert_no_canary(e: &Error) {
    let shown = format!("{e} {e:?}");
    assert!(!shown.contains(CANARY), "secret leaked: {shown}");
}

#[test]
fn imds_v2_flow_cached_and_used_for_signing() {
    let home = Home::new("imds");
    let imds = fake_imds("AKIDIMDS");
    let connect = TestServer::start(|_, _| Reply::ok("req-1"));
    let s = resolve(
        &home,
        &format!(r#"{{"endpoint_url":"{}"}}"#, connect.url()),
        &[
            ("AWS_EC2_METADATA_DISABLED", "false"),
            ("AWS_EC2_METADATA_SERVICE_ENDPOINT", &imds.url()),
        ],
    )
    .unwrap();
    let client = Client::with_settings(s);
    let mut request = UpdateContactRequest::new("i", "c");
    request.name = Some("n".into());
    client.update_contact(&request).unwrap();
    client.update_contact(&request).unwrap();
    let calls = imds.requests();
    assert_eq!(
        calls.len(),
        3,
        "one token, one role list, one credentials: {calls:?}"
    );
    assert_eq!(
        calls[0].header("x-aws-ec2-metadata-token-ttl-seconds"),
        Some("21600")
    );
    let sent = connect.requests();
    assert_eq!(sent.len(), 2);
    let auth = sent[1].header("authorization").unwrap();
    assert!(auth.contains("Credential=AKIDIMDS/"), "{auth}");
    assert_eq!(
        sent[1].header("x-amz-security-token"),
        Some("TOKEN-AKIDIMDS")
    );
}

#[test]
fn imds_off_ec2_gives_up_fast_and_once() {
    let home = Home::new("offec2");
    // A server that accepts but never answers in time (it counts the answers it gets to
    // send, after 5 s), and a port nobody listens on.
    let answered = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let late = Arc::clone(&answered);
    let stalled = TestServer::start(move |_, _| {
        std::thread::sleep(Duration::from_secs(5));
        late.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Reply::ok("late")
    });
    let closed = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://127.0.0.1:{}", l.local_addr().unwrap().port())
    };
    for endpoint in [stalled.url(), closed] {
        let s = resolve(
            &home,
            "{}",
            &[
                ("AWS_EC2_METADATA_DISABLED", "false"),
                ("AWS_EC2_METADATA_SERVICE_ENDPOINT", &endpoint),
            ],
        )
        .expect("building the client asks nobody");
        let asked = stalled.requests().len();
        let start = Instant::now();
        let e = s.credentials().unwrap_err();
        // Counted: at most two token tries, each given up on by its own 1 s timeout before
        // the stalled server answered (an order, not a time); the wall clock is a ceiling.
        assert!(
            stalled.requests().len() - asked <= 2,
            "{} requests to IMDS",
            stalled.requests().len() - asked
        );
        assert_eq!(
            answered.load(std::sync::atomic::Ordering::SeqCst),
            0,
            "the client waited for the stalled server's answer"
        );
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "{:?}",
            start.elapsed()
        );
        assert!(matches!(e, Error::NoCredentials(_)), "{e:?}");
        let m = e.to_string();
        for tried in [
            "config keys",
            "AWS_ACCESS_KEY_ID",
            "profile \"default\"",
            "web identity",
            "container",
            "EC2 instance metadata at",
        ] {
            assert!(m.contains(tried), "{tried} missing from: {m}");
        }
        let before = stalled.requests().len();
        let start = Instant::now();
        let again = s.credentials().unwrap_err();
        assert_eq!(again, e, "the same answer, remembered");
        assert_eq!(stalled.requests().len(), before, "IMDS is asked only once");
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "{:?}",
            start.elapsed()
        );
    }
    assert!(stalled.requests().len() <= 2, "at most two tries");
}

#[test]
fn imds_disabled_means_no_credentials_at_build_time() {
    let home = Home::new("disabled");
    let e = resolve(&home, "{}", &[]).unwrap_err();
    assert!(matches!(e, Error::NoCredentials(_)));
    assert!(
        e.to_string()
            .contains("EC2 instance metadata (disabled by AWS_EC2_METADATA_DISABLED)"),
        "{e}"
    );
}

#[test]
fn imds_garbage_and_no_role() {
    let home = Home::new("imdsbad");
    let garbage = TestServer::start(|r, _| match r.method.as_str() {
        "PUT" => json(200, "T"),
        _ if r.path.ends_with('/') => json(200, "role"),
        _ => json(200, &format!("{{\"AccessKeyId\": \"{CANARY}")),
    });
    let no_role = TestServer::start(|r, _| match r.method.as_str() {
        "PUT" => json(200, "T"),
        _ => json(404, ""),
    });
    let provide = |url: String| {
        resolve(
            &home,
            "{}",
            &[
                ("AWS_EC2_METADATA_DISABLED", "false"),
                ("AWS_EC2_METADATA_SERVICE_ENDPOINT", &url),
            ],
        )
        .unwrap()
        .credentials()
        .unwrap_err()
    };
    let e = provide(garbage.url());
    assert!(matches!(e, Error::CredentialsProvider(_)), "{e:?}");
    assert_no_canary(&e);
    let e = provide(no_role.url());
    assert!(matches!(e, Error::NoCredentials(_)), "{e:?}");
    assert!(e.to_string().contains("no IAM role"), "{e}");
}

#[test]
fn container_full_uri_with_token_file_and_failures() {
    let home = Home::new("container");
    let token_file = home.write("token", "TOKEN-FROM-FILE\n");
    let server = TestServer::start(|r, _| match r.path.as_str() {
        "/ok" => json(200, &creds_json("AKIDCONTAINER")),
        "/denied" => json(403, r#"{"code":"AccessDenied","message":"no"}"#),
        "/garbage" => json(200, CANARY),
        _ => Reply::Stall(Duration::from_secs(5)),
    });
    let run = |path: &str| {
        resolve(
            &home,
            "{}",
            &[
                (
                    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                    &format!("{}{path}", server.url()),
                ),
                ("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", &token_file),
                ("AWS_CONTAINER_AUTHORIZATION_TOKEN", "IGNORED"),
            ],
        )
        .unwrap()
        .credentials()
    };
    assert_eq!(run("/ok").unwrap().access_key_id(), "AKIDCONTAINER");
    assert_eq!(
        server.requests()[0].header("authorization"),
        Some("TOKEN-FROM-FILE")
    );
    let e = run("/denied").unwrap_err();
    assert!(
        matches!(&e, Error::CredentialsProvider(m) if m.contains("HTTP 403 (AccessDenied)")),
        "{e:?}"
    );
    let e = run("/garbage").unwrap_err();
    assert!(matches!(e, Error::CredentialsProvider(_)));
    assert_no_canary(&e);
    let start = Instant::now();
    let asked = server.count();
    let e = run("/hang").unwrap_err();
    // Counted: two tries, each cut by its 2 s timeout (the server would answer after 5 s);
    // the wall clock is a ceiling.
    assert_eq!(server.count() - asked, 2, "two tries");
    assert!(e.to_string().contains("2 tries failed"), "{e}");
    assert!(
        start.elapsed() < Duration::from_secs(20),
        "{:?}",
        start.elapsed()
    );
    let e = resolve(
        &home,
        "{}",
        &[(
            "AWS_CONTAINER_CREDENTIALS_FULL_URI",
            "http://10.1.2.3/creds",
        )],
    )
    .unwrap_err();
    assert!(matches!(e, Error::InvalidConfig(_)), "{e:?}");
}

#[test]
fn assume_role_chain_is_signed_with_each_source() {
    let home = Home::new("assume");
    let sts = TestServer::start(|r, n| {
        let body = String::from_utf8_lossy(&r.body).into_owned();
        if body.contains("RoleArn=arn%3Aaws%3Aiam%3A%3A1%3Arole%2Fdenied") {
            return Reply::Respond {
                status: 403,
                headers: vec![],
                body: b"<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code>\
                        <Message>not allowed</Message></Error></ErrorResponse>"
                    .to_vec(),
            };
        }
        sts_ok(&format!("ASIAROLE{n}"))
    });
    home.write(
        ".aws/config",
        "[profile first]\nrole_arn = arn:aws:iam::1:role/first\nsource_profile = base\nrole_session_name = s1\n\
         [profile second]\nrole_arn = arn:aws:iam::1:role/second\nsource_profile = first\nexternal_id = ext\n\
         [profile denied]\nrole_arn = arn:aws:iam::1:role/denied\nsource_profile = base\n\
         [profile loop-a]\nrole_arn = arn:aws:iam::1:role/a\nsource_profile = loop-b\n\
         [profile loop-b]\nrole_arn = arn:aws:iam::1:role/b\nsource_profile = loop-a\n\
         [profile self]\nrole_arn = arn:aws:iam::1:role/self\nsource_profile = self\n\
         aws_access_key_id = AKIDSELF\naws_secret_access_key = S\n",
    );
    home.write(
        ".aws/credentials",
        &format!("[base]\naws_access_key_id = AKIDBASE\naws_secret_access_key = {CANARY}\n"),
    );
    let with = |profile: &str| {
        resolve(
            &home,
            &format!(r#"{{"profile":"{profile}"}}"#),
            &[("AWS_ENDPOINT_URL_STS", &sts.url())],
        )
    };
    let s = with("second").unwrap();
    assert_eq!(access_key(&s), "ASIAROLE1");
    assert_eq!(access_key(&s), "ASIAROLE1", "cached");
    let calls = sts.requests();
    assert_eq!(calls.len(), 2);
    let first = form(&calls[0]);
    assert!(first.contains("Action=AssumeRole&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A1%3Arole%2Ffirst&RoleSessionName=s1"), "{first}");
    let auth = calls[0].header("authorization").unwrap();
    assert!(
        auth.contains("Credential=AKIDBASE/") && auth.contains("/us-east-1/sts/aws4_request"),
        "{auth}"
    );
    let second = form(&calls[1]);
    assert!(
        second.contains("RoleArn=arn%3Aaws%3Aiam%3A%3A1%3Arole%2Fsecond")
            && second.contains("ExternalId=ext"),
        "{second}"
    );
    let auth = calls[1].header("authorization").unwrap();
    assert!(auth.contains("Credential=ASIAROLE0/"), "chained: {auth}");
    assert_eq!(
        calls[1].header("x-amz-security-token"),
        Some("ST-ASIAROLE0")
    );

    let s = with("self").unwrap();
    assert!(access_key(&s).starts_with("ASIAROLE"));
    assert!(sts
        .requests()
        .last()
        .unwrap()
        .header("authorization")
        .unwrap()
        .contains("Credential=AKIDSELF/"));

    let e = with("denied").unwrap().credentials().unwrap_err();
    assert!(matches!(e, Error::CredentialsProvider(_)), "{e:?}");
    assert!(
        e.to_string().contains("HTTP 403 AccessDenied: not allowed"),
        "{e}"
    );
    assert_no_canary(&e);
    let e = with("loop-a").unwrap_err();
    assert!(e.to_string().contains("loop-a -> loop-b -> loop-a"), "{e}");
}

#[test]
fn web_identity_from_environment_and_profile() {
    let home = Home::new("webid");
    let sts = TestServer::start(|_, n| sts_ok(&format!("ASIAWEB{n}")));
    let token = home.write("token.jwt", "eyJ.JWT.sig\n");
    home.write(
        ".aws/config",
        &format!(
            "[profile wi]\nrole_arn = arn:aws:iam::1:role/wi\nweb_identity_token_file = {token}\n"
        ),
    );
    let s = resolve(
        &home,
        "{}",
        &[
            ("AWS_ROLE_ARN", "arn:aws:iam::1:role/eks"),
            ("AWS_WEB_IDENTITY_TOKEN_FILE", &token),
            ("AWS_ROLE_SESSION_NAME", "pod"),
            ("AWS_ENDPOINT_URL_STS", &sts.url()),
        ],
    )
    .unwrap();
    assert_eq!(access_key(&s), "ASIAWEB0");
    let r = &sts.requests()[0];
    let body = form(r);
    assert!(
        body.contains("Action=AssumeRoleWithWebIdentity")
            && body.contains("RoleSessionName=pod")
            && body.contains("WebIdentityToken=eyJ.JWT.sig"),
        "{body}"
    );
    assert!(
        r.header("authorization").is_none(),
        "web identity calls are not signed"
    );

    let s = resolve(
        &home,
        r#"{"profile":"wi"}"#,
        &[("AWS_ENDPOINT_URL", &sts.url())],
    )
    .unwrap();
    assert_eq!(access_key(&s), "ASIAWEB1");

    let e = resolve(
        &home,
        "{}",
        &[
            ("AWS_ROLE_ARN", "arn:aws:iam::1:role/eks"),
            ("AWS_WEB_IDENTITY_TOKEN_FILE", "/nonexistent/token"),
            ("AWS_ENDPOINT_URL_STS", &sts.url()),
        ],
    )
    .unwrap()
    .credentials()
    .unwrap_err();
    assert!(
        matches!(&e, Error::CredentialsProvider(m) if m.contains("/nonexistent/token cannot be read")),
        "{e:?}"
    );
}

#[test]
fn sso_session_uses_the_cached_token() {
    let home = Home::new("sso");
    let sso = TestServer::start(|r, _| {
        if r.header("x-amz-sso_bearer_token") != Some("SSO-ACCESS-TOKEN") {
            return json(401, r#"{"message":"Session token not found or invalid"}"#);
        }
        json(
            200,
            &format!(
                r#"{{"roleCredentials":{{"accessKeyId":"ASIASSO","secretAccessKey":"{CANARY}","sessionToken":"SSOST","expiration":4070908800000}}}}"#
            ),
        )
    });
    home.write(
        ".aws/config",
        "[profile dev]\nsso_session = corp\nsso_account_id = 123456789012\nsso_role_name = Dev Role\nregion = eu-west-1\n\
         [sso-session corp]\nsso_region = us-east-1\nsso_start_url = https://corp.awsapps.com/start\n\
         [profile legacy]\nsso_start_url = https://legacy/start\nsso_region = us-east-1\nsso_account_id = 1\nsso_role_name = r\n",
    );
    // SHA-1 of "corp", as the AWS CLI names the cache file.
    home.write(
        ".aws/sso/cache/ee0bfd2552fbd840c02cc48b6e823320543c450f.json",
        r#"{"accessToken":"SSO-ACCESS-TOKEN","expiresAt":"2099-01-01T00:00:00Z","region":"us-east-1"}"#,
    );
    let s = resolve(
        &home,
        r#"{"profile":"dev","region":null}"#,
        &[("AWS_REGION", ""), ("AWS_ENDPOINT_URL_SSO", &sso.url())],
    )
    .unwrap();
    assert_eq!(s.region(), "eu-west-1", "region from the profile");
    let c = s.credentials().unwrap();
    assert_eq!(
        (c.access_key_id(), c.session_token()),
        ("ASIASSO", Some("SSOST"))
    );
    assert_eq!(
        sso.requests()[0].path,
        "/federation/credentials?account_id=123456789012&role_name=Dev%20Role"
    );
    let e = resolve(
        &home,
        r#"{"profile":"legacy"}"#,
        &[("AWS_ENDPOINT_URL_SSO", &sso.url())],
    )
    .unwrap()
    .credentials()
    .unwrap_err();
    assert!(
        matches!(&e, Error::CredentialsProvider(m) if m.contains("aws sso login --profile legacy")),
        "{e:?}"
    );
}

#[test]
fn credential_process_from_profile() {
    let home = Home::new("process");
    home.write(
        ".aws/config",
        &format!(
            "[default]\ncredential_process = printf '{{\"Version\":1,\"AccessKeyId\":\"AKIDPROC\",\"SecretAccessKey\":\"{CANARY}\"}}'\n\
             [profile broken]\ncredential_process = echo {CANARY}\n"
        ),
    );
    let s = resolve(&home, "{}", &[]).unwrap();
    assert_eq!(access_key(&s), "AKIDPROC");
    let e = resolve(&home, r#"{"profile":"broken"}"#, &[])
        .unwrap()
        .credentials()
        .unwrap_err();
    assert!(matches!(e, Error::CredentialsProvider(_)));
    assert_no_canary(&e);
}

#[test]
fn precedence_between_the_six_sources() {
    let home = Home::new("precedence");
    let imds = fake_imds("AKIDIMDS");
    let container = TestServer::start(|_, _| json(200, &creds_json("AKIDCONTAINER")));
    let sts = TestServer::start(|_, _| sts_ok("ASIAWEB"));
    let token = home.write("token", "JWT");
    home.write(
        ".aws/credentials",
        "[default]\naws_access_key_id = AKIDPROFILE\naws_secret_access_key = S\n",
    );
    let config_keys = r#"{"access_key_id":"AKIDCONFIG","secret_access_key":"S"}"#;
    let container_url = format!("{}/creds", container.url());
    let (sts_url, imds_url) = (sts.url(), imds.url());
    let all: Vec<(&str, &str)> = vec![
        ("AWS_ACCESS_KEY_ID", "AKIDENV"),
        ("AWS_SECRET_ACCESS_KEY", "S"),
        ("AWS_ROLE_ARN", "arn:aws:iam::1:role/r"),
        ("AWS_WEB_IDENTITY_TOKEN_FILE", &token),
        ("AWS_ENDPOINT_URL_STS", &sts_url),
        ("AWS_CONTAINER_CREDENTIALS_FULL_URI", &container_url),
        ("AWS_EC2_METADATA_DISABLED", "false"),
        ("AWS_EC2_METADATA_SERVICE_ENDPOINT", &imds_url),
    ];
    let without = |drop: &[&str]| -> Vec<(&str, &str)> {
        all.iter()
            .copied()
            .filter(|(k, _)| !drop.contains(k))
            .collect()
    };
    let no_profile = home.write("empty", "");
    assert_eq!(
        access_key(&resolve(&home, config_keys, &all).unwrap()),
        "AKIDCONFIG"
    );
    assert_eq!(access_key(&resolve(&home, "{}", &all).unwrap()), "AKIDENV");
    let env_keys = ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"];
    assert_eq!(
        access_key(&resolve(&home, "{}", &without(&env_keys)).unwrap()),
        "AKIDPROFILE"
    );
    let mut vars = without(&env_keys);
    vars.push(("AWS_SHARED_CREDENTIALS_FILE", &no_profile));
    assert_eq!(access_key(&resolve(&home, "{}", &vars).unwrap()), "ASIAWEB");
    vars.retain(|(k, _)| *k != "AWS_ROLE_ARN");
    assert_eq!(
        access_key(&resolve(&home, "{}", &vars).unwrap()),
        "AKIDCONTAINER"
    );
    vars.retain(|(k, _)| *k != "AWS_CONTAINER_CREDENTIALS_FULL_URI");
    assert_eq!(
        access_key(&resolve(&home, "{}", &vars).unwrap()),
        "AKIDIMDS"
    );
}

#[test]
fn proxy_routes_remote_hosts_and_skips_loopback() {
    let home = Home::new("proxy");
    // ureq tunnels through the proxy with CONNECT, then sends the request inside.
    let proxy = TestServer::start(|r, _| match r.method.as_str() {
        "CONNECT" => Reply::Respond {
            status: 200,
            headers: vec![],
            body: vec![],
        },
        _ => Reply::ok("via-proxy"),
    });
    let direct = TestServer::start(|_, _| Reply::ok("direct"));
    let keys = [
        ("AWS_ACCESS_KEY_ID", "AKID"),
        ("AWS_SECRET_ACCESS_KEY", "S"),
    ];
    let mut request = UpdateContactRequest::new("i", "c");
    request.name = Some("n".into());

    let mut vars = keys.to_vec();
    let proxy_url = proxy.url();
    vars.push(("HTTP_PROXY", &proxy_url));
    let s = resolve(
        &home,
        r#"{"endpoint_url":"http://connect.remote.example","allow_http":true,"max_attempts":1}"#,
        &vars,
    )
    .unwrap();
    let out = Client::with_settings(s).update_contact(&request).unwrap();
    assert_eq!(out.metadata.request_id.as_deref(), Some("via-proxy"));
    let seen = proxy.requests();
    assert_eq!(
        (seen[0].method.as_str(), seen[0].path.as_str()),
        ("CONNECT", "connect.remote.example:80")
    );
    assert_eq!(seen[1].path, "/contacts/i/c");
    // Loopback is always direct, whatever the proxy.
    let s = resolve(
        &home,
        &format!(
            r#"{{"endpoint_url":"{}","proxy":"http://127.0.0.1:9"}}"#,
            direct.url()
        ),
        &keys,
    )
    .unwrap();
    let out = Client::with_settings(s).update_contact(&request).unwrap();
    assert_eq!(out.metadata.request_id.as_deref(), Some("direct"));
    // Other loopback addresses go through the proxy unless NO_PROXY names them (127.0.0.2
    // has no listener: the direct try fails, and the proxy sees nothing).
    let other_loopback = format!(
        r#"{{"endpoint_url":"http://127.0.0.2:{}","max_attempts":1}}"#,
        direct.port
    );
    let mut via = keys.to_vec();
    via.push(("HTTP_PROXY", &proxy_url));
    let s = resolve(&home, &other_loopback, &via).unwrap();
    Client::with_settings(s).update_contact(&request).unwrap();
    let seen = proxy.requests();
    assert_eq!(
        seen[seen.len() - 2].path,
        format!("127.0.0.2:{}", direct.port)
    );
    via.push(("NO_PROXY", "example.org, 127.0.0.2"));
    let s = resolve(&home, &other_loopback, &via).unwrap();
    let before = proxy.requests().len();
    assert!(Client::with_settings(s).update_contact(&request).is_err());
    assert_eq!(proxy.requests().len(), before, "NO_PROXY host went direct");
}

#[test]
fn ignored_endpoint_urls_apply_to_sts_too() {
    let home = Home::new("ignore-sts");
    home.write(
        ".aws/credentials",
        "[base]\naws_access_key_id = AKIDBASE\naws_secret_access_key = S\n",
    );
    home.write(
        ".aws/config",
        "[profile role]\nrole_arn = arn:aws:iam::1:role/r\nsource_profile = base\n",
    );
    let sts = TestServer::start(|_, n| sts_ok(&format!("ASIAROLE{n}")));
    // Nothing leaves the machine: remote hosts go to this loopback proxy, which refuses.
    let proxy = TestServer::start(|_, _| json(403, ""));
    let (sts_url, proxy_url) = (sts.url(), proxy.url());
    let with = |ignore: &str| {
        resolve(
            &home,
            r#"{"profile":"role"}"#,
            &[
                ("AWS_ENDPOINT_URL_STS", &sts_url),
                ("HTTPS_PROXY", &proxy_url),
                ("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", ignore),
            ],
        )
        .unwrap()
        .credentials()
    };
    assert_eq!(with("false").unwrap().access_key_id(), "ASIAROLE0");
    assert!(with("true").is_err());
    assert_eq!(sts.requests().len(), 1, "the override was set aside");
    let seen = proxy.requests();
    assert_eq!(
        (seen[0].method.as_str(), seen[0].path.as_str()),
        ("CONNECT", "sts.us-east-1.amazonaws.com:443")
    );
}

/// `now + secs` as the SSO token cache writes times.
fn cache_time(secs_from_now: i64) -> String {
    use aws_smithy_types::date_time::{DateTime, Format};
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    DateTime::from_secs(now + secs_from_now)
        .fmt(Format::DateTime)
        .unwrap()
}

fn sts_error(status: u16, code: &str) -> Reply {
    Reply::Respond {
        status,
        headers: vec![("content-type".into(), "text/xml".into())],
        body: format!(
            "<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>m</Message></Error></ErrorResponse>"
        )
        .into_bytes(),
    }
}

#[test]
fn sts_calls_are_retried_with_the_standard_policy() {
    let home = Home::new("sts-retry");
    home.write(
        ".aws/config",
        "[profile transient]\nrole_arn = arn:aws:iam::1:role/transient\nsource_profile = base\n\
         [profile throttled]\nrole_arn = arn:aws:iam::1:role/throttled\nsource_profile = base\n\
         [profile denied]\nrole_arn = arn:aws:iam::1:role/denied\nsource_profile = base\n\
         [profile down]\nrole_arn = arn:aws:iam::1:role/down\nsource_profile = base\n",
    );
    home.write(
        ".aws/credentials",
        &format!("[base]\naws_access_key_id = AKIDBASE\naws_secret_access_key = {CANARY}\n"),
    );
    let sts = TestServer::start(|r, _| {
        let body = String::from_utf8_lossy(&r.body).into_owned();
        let role = body
            .split("role%2F")
            .nth(1)
            .unwrap_or("")
            .split('&')
            .next()
            .unwrap_or("");
        match role {
            "denied" => sts_error(403, "AccessDenied"),
            "down" => sts_error(503, "ServiceUnavailable"),
            _ => sts_ok(&format!("ASIA{role}")),
        }
    });
    // The first request of each retried role fails once: count per role.
    let seen = Arc::new(std::sync::Mutex::new(HashMap::<String, usize>::new()));
    let seen2 = seen.clone();
    let flaky = TestServer::start(move |r, _| {
        let body = String::from_utf8_lossy(&r.body).into_owned();
        let role = body
            .split("role%2F")
            .nth(1)
            .unwrap_or("")
            .split('&')
            .next()
            .unwrap_or("")
            .to_owned();
        let n = {
            let mut seen = seen2.lock().unwrap();
            let n = seen.entry(role.clone()).or_default();
            *n += 1;
            *n
        };
        match (role.as_str(), n) {
            ("transient", 1) => sts_error(500, "InternalFailure"),
            ("throttled", 1) => sts_error(400, "Throttling"),
            _ => sts_ok(&format!("ASIA{role}")),
        }
    });
    let with = |profile: &str, url: &str| {
        resolve(
            &home,
            &format!(r#"{{"profile":"{profile}","new_retries_2026":true}}"#),
            &[("AWS_ENDPOINT_URL_STS", url)],
        )
        .unwrap()
        .credentials()
    };
    assert_eq!(
        with("transient", &flaky.url()).unwrap().access_key_id(),
        "ASIAtransient"
    );
    assert_eq!(
        with("throttled", &flaky.url()).unwrap().access_key_id(),
        "ASIAthrottled"
    );
    assert_eq!(flaky.requests().len(), 4, "one retry each");
    let e = with("denied", &sts.url()).unwrap_err();
    assert!(e.to_string().contains("HTTP 403 AccessDenied: m"), "{e}");
    assert_eq!(sts.requests().len(), 1, "an access denial is not retried");
    let e = with("down", &sts.url()).unwrap_err();
    assert!(
        e.to_string()
            .contains("HTTP 503 ServiceUnavailable: m (after 3 attempts)"),
        "{e}"
    );
    assert_eq!(sts.requests().len(), 4, "max_attempts 3");
}

/// An SSO portal answering with the role credentials for `token`, after `fail_first`
/// answers of 503.
fn sso_portal(token: &'static str, fail_first: usize) -> TestServer {
    TestServer::start(move |r, n| {
        if n < fail_first {
            return json(503, r#"{"message":"busy"}"#);
        }
        if r.header("x-amz-sso_bearer_token") != Some(token) {
            return json(401, r#"{"message":"Session token not found or invalid"}"#);
        }
        json(
            200,
            &format!(
                r#"{{"roleCredentials":{{"accessKeyId":"ASIASSO{n}","secretAccessKey":"{CANARY}","sessionToken":"SSOST","expiration":4070908800000}}}}"#
            ),
        )
    })
}

const SSO_CONFIG: &str = "[profile dev]\nsso_session = corp\nsso_account_id = 1\nsso_role_name = r\n\
     [sso-session corp]\nsso_region = us-east-1\nsso_start_url = https://corp.awsapps.com/start\n\
     [profile legacy]\nsso_start_url = https://legacy/start\nsso_region = us-east-1\nsso_account_id = 1\nsso_role_name = r\n";
/// sha1("corp"): the cache file of the sso_session.
const CORP_CACHE: &str = ".aws/sso/cache/ee0bfd2552fbd840c02cc48b6e823320543c450f.json";

fn sso_cache(home: &Home, rel: &str, expires_in: i64) {
    home.write(
        rel,
        &format!(
            r#"{{"accessToken":"OLD-TOKEN","expiresAt":"{}","refreshToken":"REFRESH-1","clientId":"CID","clientSecret":"{CANARY}","registrationExpiresAt":"{}","region":"us-east-1","startUrl":"https://corp.awsapps.com/start"}}"#,
            cache_time(expires_in),
            cache_time(86_400)
        ),
    );
}

#[test]
fn sso_calls_are_retried() {
    let home = Home::new("sso-retry");
    home.write(".aws/config", SSO_CONFIG);
    sso_cache(&home, CORP_CACHE, 3600);
    let portal = sso_portal("OLD-TOKEN", 1);
    let s = resolve(
        &home,
        r#"{"profile":"dev","new_retries_2026":true}"#,
        &[("AWS_ENDPOINT_URL_SSO", &portal.url())],
    )
    .unwrap();
    assert_eq!(access_key(&s), "ASIASSO1");
    assert_eq!(portal.requests().len(), 2, "the 503 was retried");
}

#[test]
fn sso_tokens_near_expiry_are_refreshed_and_written_back() {
    let home = Home::new("sso-refresh");
    home.write(".aws/config", SSO_CONFIG);
    let oidc = TestServer::start(|r, _| {
        if r.path != "/token" || r.method != "POST" {
            return json(404, "{}");
        }
        json(
            200,
            r#"{"accessToken":"NEW-TOKEN","expiresIn":3600,"tokenType":"Bearer","refreshToken":"REFRESH-2"}"#,
        )
    });
    let portal = sso_portal("NEW-TOKEN", 0);
    let env = [
        ("AWS_ENDPOINT_URL_SSO", portal.url()),
        ("AWS_ENDPOINT_URL_SSO_OIDC", oidc.url()),
    ];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let provide = || {
        resolve(&home, r#"{"profile":"dev"}"#, &env)
            .unwrap()
            .credentials()
    };
    // Ten minutes left: inside the 15-minute window.
    sso_cache(&home, CORP_CACHE, 600);
    assert_eq!(provide().unwrap().access_key_id(), "ASIASSO0");
    let calls = oidc.requests();
    assert_eq!(calls.len(), 1);
    let body: serde_json::Value = serde_json::from_slice(&calls[0].body).unwrap();
    assert_eq!(
        body,
        serde_json::json!({"grantType": "refresh_token", "clientId": "CID",
                           "clientSecret": CANARY, "refreshToken": "REFRESH-1"})
    );
    let cached: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(home.0.join(CORP_CACHE)).unwrap()).unwrap();
    assert_eq!(cached["accessToken"], "NEW-TOKEN");
    assert_eq!(cached["refreshToken"], "REFRESH-2");
    assert_eq!(cached["clientId"], "CID", "the rest of the cache is kept");
    let expires = cached["expiresAt"].as_str().unwrap();
    assert!(
        (cache_time(3590)..=cache_time(3610)).contains(&expires.to_owned()),
        "{expires}"
    );
    // Now valid for an hour: no refresh.
    assert_eq!(provide().unwrap().access_key_id(), "ASIASSO1");
    assert_eq!(oidc.requests().len(), 1);

    // A failing refresh: a token still valid is used; an expired one is an error.
    // It echoes the client secret it was sent: scrubbed.
    let broken = TestServer::start(|_, _| {
        json(
            400,
            &format!(
                r#"{{"error":"invalid_grant","error_description":"no such secret {CANARY}"}}"#
            ),
        )
    });
    let old_portal = sso_portal("OLD-TOKEN", 0);
    let env = [
        ("AWS_ENDPOINT_URL_SSO", old_portal.url()),
        ("AWS_ENDPOINT_URL_SSO_OIDC", broken.url()),
    ];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let provide = || {
        resolve(&home, r#"{"profile":"dev"}"#, &env)
            .unwrap()
            .credentials()
    };
    sso_cache(&home, CORP_CACHE, 600);
    assert_eq!(provide().unwrap().access_key_id(), "ASIASSO0");
    sso_cache(&home, CORP_CACHE, -60);
    let e = provide().unwrap_err();
    assert!(
        e.to_string().contains("expired and could not be refreshed")
            && e.to_string()
                .contains("invalid_grant: no such secret ** redacted **")
            && e.to_string().contains("aws sso login --sso-session corp"),
        "{e}"
    );
    assert_no_canary(&e);
    assert_eq!(broken.requests().len(), 2, "a 400 is not retried");

    // The legacy keys have no refresh: their expired token just says to log in.
    let legacy = connect_contact::unstable::sso_cache_file(
        &home.0.join(".aws/sso/cache"),
        "https://legacy/start",
    );
    std::fs::write(
        &legacy,
        format!(r#"{{"accessToken":"OLD-TOKEN","expiresAt":"{}","refreshToken":"R","clientId":"C","clientSecret":"S"}}"#, cache_time(-60)),
    )
    .unwrap();
    let before = broken.requests().len();
    let e = resolve(&home, r#"{"profile":"legacy"}"#, &env)
        .unwrap()
        .credentials()
        .unwrap_err();
    assert!(
        e.to_string().contains("the cached token has expired"),
        "{e}"
    );
    assert_eq!(
        broken.requests().len(),
        before,
        "no refresh for the legacy keys"
    );
}

#[test]
fn web_identity_token_file_without_role_arn_names_the_profile() {
    let home = Home::new("webid-no-role");
    let token = home.write("token.jwt", "JWT");
    home.write(
        ".aws/config",
        &format!("[profile half]\nweb_identity_token_file = {token}\n"),
    );
    let e = resolve(&home, r#"{"profile":"half"}"#, &[]).unwrap_err();
    assert!(
        matches!(e, Error::InvalidConfig(_)),
        "not a fall-through: {e:?}"
    );
    assert!(
        e.to_string().starts_with("profile \"half\" in ")
            && e.to_string().ends_with(
                "has web_identity_token_file but no role_arn; set role_arn to the role to assume"
            ),
        "{e}"
    );
}
