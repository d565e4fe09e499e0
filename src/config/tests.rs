//! The configuration: every setting's precedence, types, bounds, secrecy and messages.

use super::*;
use std::collections::HashMap;

/// Resolves against `vars` only: no HOME (so no profile files) unless given, and IMDS
/// off unless a test turns it on.
fn resolve(json: &str, vars: &[(&str, &str)]) -> Result<Settings, Error> {
    let mut all: HashMap<String, String> =
        HashMap::from([("AWS_EC2_METADATA_DISABLED".into(), "true".into())]);
    all.extend(vars.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    ClientConfig::from_json(json)?.resolve_with(&|k| all.get(k).cloned())
}

#[test]
fn ca_bundle_is_loaded() {
    let home = Home::new("ca", "", "");
    let pem = format!("{}/ca.pem", home.path());
    std::fs::write(&pem, include_str!("../../tests/data/test-ca.pem")).unwrap();
    let s = resolve(
        "{}",
        &[
            ("HOME", home.path()),
            ("AWS_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", "A"),
            ("AWS_SECRET_ACCESS_KEY", "S"),
            ("AWS_CA_BUNDLE", &pem),
        ],
    )
    .unwrap();
    assert_eq!(s.network.root_certs.as_ref().map(|r| r.len()), Some(1));
}

/// A temporary HOME with `~/.aws/config` and `~/.aws/credentials`.
struct Home(std::path::PathBuf);

impl Home {
    fn new(tag: &str, config: &str, credentials: &str) -> Home {
        let dir = std::env::temp_dir().join(format!(
            "cc-config-{tag}-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        std::fs::create_dir_all(dir.join(".aws")).unwrap();
        std::fs::write(dir.join(".aws/config"), config).unwrap();
        std::fs::write(dir.join(".aws/credentials"), credentials).unwrap();
        Home(dir)
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

/// `to_json()`'s value and source for `name`.
fn shown(s: &Settings, name: &str) -> (Value, String) {
    let doc: Value = serde_json::from_str(&s.to_json()).unwrap();
    let entry = &doc[name];
    (
        entry.get("value").cloned().unwrap_or(Value::Null),
        entry["source"].as_str().unwrap().to_owned(),
    )
}

#[test]
fn resolved_json_shows_precedence_explicit_env_profile_default() {
    let home = Home::new(
        "sources",
        "[default]\nregion = eu-west-1\nmax_attempts = 7\nretry_mode = adaptive\nuse_fips_endpoint = true\n",
        "",
    );
    let h = ("HOME", home.path());
    let profile = |k: &str| format!("profile \"default\" key \"{k}\"");
    let cases: [(&str, &str, &str, Value, Value, Value, Value); 3] = [
        (
            "max_attempts",
            r#"{"max_attempts": 9}"#,
            "AWS_MAX_ATTEMPTS",
            9.into(),
            8.into(),
            7.into(),
            3.into(),
        ),
        (
            "retry_mode",
            r#"{"retry_mode": "standard"}"#,
            "AWS_RETRY_MODE",
            "standard".into(),
            "standard".into(),
            "adaptive".into(),
            "standard".into(),
        ),
        (
            "use_fips_endpoint",
            r#"{"use_fips_endpoint": false}"#,
            "AWS_USE_FIPS_ENDPOINT",
            false.into(),
            false.into(),
            true.into(),
            false.into(),
        ),
    ];
    for (name, explicit, var, v_explicit, v_env, v_profile, v_default) in cases {
        let env_value = match &v_env {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let with_env = [
            KEYS[0],
            KEYS[1],
            h,
            ("AWS_REGION", "us-east-1"),
            (var, env_value.as_str()),
        ];
        let s = resolve(explicit, &with_env).unwrap();
        assert_eq!(
            shown(&s, name),
            (v_explicit, format!("config key \"{name}\"")),
            "{name}"
        );
        let s = resolve("{}", &with_env).unwrap();
        assert_eq!(shown(&s, name), (v_env, var.to_owned()), "{name}");
        let s = resolve("{}", &[KEYS[0], KEYS[1], h, ("AWS_REGION", "us-east-1")]).unwrap();
        assert_eq!(shown(&s, name), (v_profile, profile(name)), "{name}");
        let s = resolve("{}", &[KEYS[0], KEYS[1], ("AWS_REGION", "us-east-1")]).unwrap();
        assert_eq!(shown(&s, name), (v_default, "default".to_owned()), "{name}");
    }
    // Region has no default: explicit > AWS_REGION > AWS_DEFAULT_REGION > profile.
    let all = [
        KEYS[0],
        KEYS[1],
        h,
        ("AWS_REGION", "us-east-2"),
        ("AWS_DEFAULT_REGION", "us-west-2"),
    ];
    let s = resolve(r#"{"region": "ca-central-1"}"#, &all).unwrap();
    assert_eq!(
        shown(&s, "region"),
        ("ca-central-1".into(), "config key \"region\"".into())
    );
    let s = resolve("{}", &all).unwrap();
    assert_eq!(
        shown(&s, "region"),
        ("us-east-2".into(), "AWS_REGION".into())
    );
    let s = resolve(
        "{}",
        &[KEYS[0], KEYS[1], h, ("AWS_DEFAULT_REGION", "us-west-2")],
    )
    .unwrap();
    assert_eq!(
        shown(&s, "region"),
        ("us-west-2".into(), "AWS_DEFAULT_REGION".into())
    );
    let s = resolve("{}", &[KEYS[0], KEYS[1], h]).unwrap();
    assert_eq!(shown(&s, "region"), ("eu-west-1".into(), profile("region")));
    // Timeouts: explicit or default; the credentials name their source.
    let s = resolve(r#"{"timeout_ms": 1234}"#, &all).unwrap();
    assert_eq!(
        shown(&s, "timeout_ms"),
        (1234.into(), "config key \"timeout_ms\"".into())
    );
    assert_eq!(
        shown(&s, "connect_timeout_ms"),
        (2000.into(), "default".into())
    );
    assert!(shown(&s, "access_key_id").1.contains("AWS_ACCESS_KEY_ID"));
    // Every setting of the table appears, in its order.
    let doc: serde_json::Map<String, Value> = serde_json::from_str(&s.to_json()).unwrap();
    let names: Vec<&str> = SETTINGS.iter().map(|s| s.name).collect();
    let mut shown_names: Vec<&str> = doc.keys().map(String::as_str).collect();
    let mut sorted = names.clone();
    sorted.sort_unstable();
    shown_names.sort_unstable();
    assert_eq!(shown_names, sorted);
}

#[test]
fn resolved_json_never_shows_a_secret() {
    let s = resolve(
        r#"{"region": "us-east-1", "access_key_id": "AKIDCANARY", "secret_access_key": "SECRETCANARY",
            "session_token": "TOKENCANARY", "proxy": "http://user:PROXYCANARY@127.0.0.1:3128"}"#,
        &[],
    )
    .unwrap();
    let json = s.to_json();
    for canary in ["SECRETCANARY", "TOKENCANARY", "PROXYCANARY"] {
        assert!(!json.contains(canary), "{canary} in {json}");
        assert!(!format!("{s:?}").contains(canary), "{canary} in Debug");
    }
    assert_eq!(shown(&s, "secret_access_key").0, Value::Null);
    assert_eq!(
        shown(&s, "proxy"),
        (Value::Null, "config key \"proxy\"".into())
    );
    assert!(shown(&s, "session_token").1.contains("config keys"));
}

const KEYS: [(&str, &str); 2] = [
    ("AWS_ACCESS_KEY_ID", "AKID"),
    ("AWS_SECRET_ACCESS_KEY", "SECRET"),
];

#[test]
fn region_precedence_and_no_silent_default() {
    let s = resolve(
        r#"{"region":"eu-west-2"}"#,
        &[("AWS_REGION", "us-west-2"), KEYS[0], KEYS[1]],
    )
    .unwrap();
    assert_eq!(s.region, "eu-west-2");
    let env = [
        ("AWS_REGION", "us-west-2"),
        ("AWS_DEFAULT_REGION", "ap-south-1"),
        KEYS[0],
        KEYS[1],
    ];
    assert_eq!(resolve("{}", &env).unwrap().region, "us-west-2");
    assert_eq!(
        resolve(
            "",
            &[("AWS_DEFAULT_REGION", "ap-south-1"), KEYS[0], KEYS[1]]
        )
        .unwrap()
        .region,
        "ap-south-1"
    );
    assert!(matches!(resolve("null", &KEYS), Err(Error::NoRegion(_))));
    assert!(matches!(
        resolve("{}", &[("AWS_REGION", ""), KEYS[0], KEYS[1]]),
        Err(Error::NoRegion(_))
    ));
}

#[test]
fn region_must_look_like_a_region() {
    for bad in ["evil.com/x", "us-east-1@x", "-us", "us-", "123", "a b", ""] {
        let json =
            serde_json::json!({"region": bad, "access_key_id": "a", "secret_access_key": "b"})
                .to_string();
        let err = resolve(&json, &[]).unwrap_err();
        assert!(matches!(err, Error::InvalidConfig(_)), "{bad}: {err:?}");
    }
    let s = resolve(
        r#"{"region":"cn-north-1","access_key_id":"a","secret_access_key":"b"}"#,
        &[],
    )
    .unwrap();
    assert_eq!(
        s.endpoint.url_for("/x"),
        "https://connect.cn-north-1.amazonaws.com.cn/x"
    );
}

#[test]
fn endpoint_precedence_and_http_rules() {
    let base = [("AWS_REGION", "us-east-1"), KEYS[0], KEYS[1]];
    assert_eq!(
        resolve("{}", &base).unwrap().endpoint.url_for("/p"),
        "https://connect.us-east-1.amazonaws.com/p"
    );
    let mut env = base.to_vec();
    env.push(("AWS_ENDPOINT_URL", "https://generic.example"));
    assert_eq!(
        resolve("{}", &env).unwrap().endpoint.host,
        "generic.example"
    );
    env.push(("AWS_ENDPOINT_URL_CONNECT", "http://127.0.0.1:8080/base/"));
    let e = resolve("{}", &env).unwrap().endpoint;
    assert_eq!(
        (e.authority.as_str(), e.base_path.as_str()),
        ("127.0.0.1:8080", "/base")
    );
    let e = resolve(r#"{"endpoint_url":"http://[::1]:9"}"#, &env)
        .unwrap()
        .endpoint;
    assert_eq!(e.host, "::1");
    let err = resolve(r#"{"endpoint_url":"http://connect.example.com"}"#, &base).unwrap_err();
    assert!(err.to_string().contains("allow_http"), "{err}");
    assert!(resolve(
        r#"{"endpoint_url":"http://connect.example.com","allow_http":true}"#,
        &base
    )
    .is_ok());
    for bad in [
        "ftp://x",
        "connect.example.com",
        "https://user:pw@host",
        "https://h/?q=1",
    ] {
        let json = serde_json::json!({ "endpoint_url": bad }).to_string();
        let err = resolve(&json, &base).unwrap_err();
        assert!(matches!(err, Error::InvalidConfig(_)), "{bad}");
        assert!(
            !err.to_string().contains("pw"),
            "no user info echoed: {err}"
        );
    }
}

#[test]
fn credentials_come_together_and_never_show() {
    let env = [
        ("AWS_REGION", "us-east-1"),
        ("AWS_SESSION_TOKEN", "ENVTOKEN"),
        KEYS[0],
        KEYS[1],
    ];
    let s = resolve("{}", &env).unwrap();
    assert_eq!(
        s.credentials.provide().unwrap().session_token(),
        Some("ENVTOKEN")
    );
    let s = resolve(r#"{"access_key_id":"X","secret_access_key":"Y"}"#, &env).unwrap();
    let c = s.credentials.provide().unwrap();
    assert_eq!((c.access_key_id(), c.session_token()), ("X", None));
    assert!(matches!(
        resolve(r#"{"access_key_id":"X"}"#, &env),
        Err(Error::InvalidConfig(_))
    ));
    assert!(matches!(
        resolve("{}", &[("AWS_REGION", "r")]),
        Err(Error::NoCredentials(_))
    ));
    assert!(matches!(
        resolve("{}", &[("AWS_REGION", "r"), KEYS[0]]),
        Err(Error::NoCredentials(_))
    ));
    let cfg = ClientConfig::from_json(r#"{"access_key_id":"X","secret_access_key":"CANARY-SECRET","session_token":"CANARY-TOKEN"}"#).unwrap();
    let shown = format!(
        "{cfg:?} {:?}",
        cfg.resolve_with(&|k| (k == "AWS_REGION").then(|| "us-east-1".to_string()))
            .unwrap()
    );
    assert!(!shown.contains("CANARY"), "{shown}");
    let err = resolve(
        r#"{"access_key_id":"X","secret_access_key":"CANARY SECRET"}"#,
        &env,
    )
    .unwrap_err();
    assert!(!err.to_string().contains("CANARY"));
}

#[test]
fn keys_types_and_ranges_are_checked() {
    let base = [("AWS_REGION", "us-east-1"), KEYS[0], KEYS[1]];
    let err = resolve(r#"{"regoin":"x"}"#, &base).unwrap_err();
    assert!(err.to_string().contains("\"regoin\" is not known"), "{err}");
    assert!(
        err.to_string().ends_with("; did you mean \"region\"?"),
        "{err}"
    );
    let err = resolve(r#"{"profile":"p"}"#, &base).unwrap_err();
    assert!(
        matches!(err, Error::InvalidConfig(_))
            && err
                .to_string()
                .contains("profile \"p\" (from config key \"profile\") is not in"),
        "{err}"
    );
    assert_eq!(
        resolve(r#"{"retry_mode":"adaptive"}"#, &base)
            .unwrap()
            .retry
            .mode,
        RetryMode::Adaptive
    );
    assert!(resolve(r#"{"retry_mode":"fast"}"#, &base)
        .unwrap_err()
        .to_string()
        .contains("not a retry mode"));
    let standard = resolve(r#"{"retry_mode":"legacy"}"#, &base).unwrap();
    assert_eq!(
        (
            standard.retry.mode,
            standard.retry.max_attempts,
            standard.retry.new_2026
        ),
        (RetryMode::Standard, 3, false)
    );
    assert_eq!(
        (standard.attempt_timeout, standard.clock_skew_correction),
        (DEFAULT_ATTEMPT_TIMEOUT, true)
    );
    let mut env = base.to_vec();
    env.extend([
        ("AWS_RETRY_MODE", "adaptive"),
        ("AWS_NEW_RETRIES_2026", "true"),
        ("AWS_DISABLE_CLOCK_SKEW_CORRECTION", "true"),
    ]);
    let s = resolve(r#"{"attempt_timeout_ms":20000}"#, &env).unwrap();
    assert_eq!(
        (s.retry.mode, s.retry.new_2026, s.clock_skew_correction),
        (RetryMode::Adaptive, true, false)
    );
    assert_eq!(
        s.attempt_timeout, DEFAULT_TIMEOUT,
        "an attempt never outlives the call"
    );
    let s = resolve(
        r#"{"retry_mode":"standard","new_retries_2026":false}"#,
        &env,
    )
    .unwrap();
    assert_eq!(
        (s.retry.mode, s.retry.new_2026),
        (RetryMode::Standard, false),
        "config wins over the environment"
    );
    assert!(resolve(r#"{"max_attempts":0}"#, &base)
        .unwrap_err()
        .to_string()
        .contains("max_attempts"));
    assert!(resolve(r#"{"timeout_ms":-1}"#, &base).is_err());
    assert!(resolve(r#"{"connect_timeout_ms":"5"}"#, &base).is_err());
    assert!(resolve(r#"{"client_validation":"no"}"#, &base).is_err());
    assert!(resolve(r#"{"strict_enums":1}"#, &base)
        .unwrap_err()
        .to_string()
        .contains("strict_enums"));
    assert!(
        !resolve("{}", &base).unwrap().strict_enums,
        "enums are open by default"
    );
    assert!(
        resolve(r#"{"strict_enums":true}"#, &base)
            .unwrap()
            .strict_enums
    );
    assert!(matches!(
        resolve("[1]", &base),
        Err(Error::InvalidConfig(_))
    ));
    assert!(matches!(resolve("{", &base), Err(Error::InvalidJson(_))));
    let s = resolve(r#"{"max_attempts":1,"timeout_ms":1500,"connect_timeout_ms":200,"client_validation":false}"#, &base).unwrap();
    assert_eq!(
        (
            s.retry.max_attempts,
            s.timeout,
            s.connect_timeout,
            s.client_validation
        ),
        (
            1,
            Duration::from_millis(1500),
            Duration::from_millis(200),
            false
        )
    );
    let mut env = base.to_vec();
    env.push(("AWS_MAX_ATTEMPTS", "5"));
    assert_eq!(resolve("{}", &env).unwrap().retry.max_attempts, 5);
    env.push(("AWS_MAX_ATTEMPTS", "x"));
    let env: Vec<_> = env.into_iter().filter(|(_, v)| *v != "5").collect();
    assert!(resolve("{}", &env).is_err());
}

#[test]
fn async_pool_keys_are_checked() {
    let c = ClientConfig::from_json(r#"{"async_workers":4,"async_queue":10}"#).unwrap();
    assert_eq!((c.async_workers, c.async_queue), (Some(4), Some(10)));
    let c = ClientConfig::from_json("{}").unwrap();
    assert_eq!((c.async_workers, c.async_queue), (None, None));
    for bad in [
        r#"{"async_workers":0}"#,
        r#"{"async_workers":65}"#,
        r#"{"async_queue":0}"#,
        r#"{"async_queue":1.5}"#,
        r#"{"async_queue":"8"}"#,
    ] {
        let err = ClientConfig::from_json(bad).unwrap_err();
        assert!(matches!(err, Error::InvalidConfig(_)), "{bad}: {err:?}");
        assert!(err.to_string().contains("async_"), "{err}");
    }
}

#[test]
fn profile_gives_region_keys_endpoint_and_attempts() {
    let home = Home::new(
        "profile",
        "[default]\nregion = eu-central-1\n[profile dev]\nregion = ap-south-1\nservices = local\nmax_attempts = 7\n\
         [services local]\nconnect =\n  endpoint_url = http://127.0.0.1:7777\n\
         [profile ep]\nregion = us-west-2\nendpoint_url = https://profile.example\n",
        "[default]\naws_access_key_id = AKIDDEFAULT\naws_secret_access_key = S\n\
         [dev]\naws_access_key_id = AKIDDEV\naws_secret_access_key = S\naws_session_token = T\n\
         [ep]\naws_access_key_id = AKIDEP\naws_secret_access_key = S\n",
    );
    let h = ("HOME", home.path());
    let s = resolve("{}", &[h]).unwrap();
    assert_eq!(s.region, "eu-central-1");
    assert_eq!(
        s.credentials.provide().unwrap().access_key_id(),
        "AKIDDEFAULT"
    );
    // The Python binding's profile_name arrives as config key "profile".
    let s = resolve(r#"{"profile":"dev"}"#, &[h, ("AWS_PROFILE", "ep")]).unwrap();
    assert_eq!(s.region, "ap-south-1");
    assert_eq!(s.retry.max_attempts, 7);
    assert_eq!(s.endpoint.authority, "127.0.0.1:7777");
    let c = s.credentials.provide().unwrap();
    assert_eq!(
        (c.access_key_id(), c.session_token()),
        ("AKIDDEV", Some("T"))
    );
    let s = resolve("{}", &[h, ("AWS_PROFILE", "ep")]).unwrap();
    assert_eq!(s.endpoint.host, "profile.example");
    assert_eq!(s.credentials.provide().unwrap().access_key_id(), "AKIDEP");
    // Environment beats the profile: region, endpoint, keys.
    let s = resolve(
        "{}",
        &[
            h,
            ("AWS_PROFILE", "dev"),
            ("AWS_DEFAULT_REGION", "sa-east-1"),
            ("AWS_ENDPOINT_URL", "https://env.example"),
            KEYS[0],
            KEYS[1],
        ],
    )
    .unwrap();
    assert_eq!(s.region, "sa-east-1");
    assert_eq!(s.endpoint.host, "env.example");
    assert_eq!(s.credentials.provide().unwrap().access_key_id(), "AKID");
    // The file variables beat HOME.
    let other = Home::new("other", "[default]\nregion = ca-central-1\n", "");
    let cfg = format!("{}/.aws/config", other.path());
    let s = resolve("{}", &[h, ("AWS_CONFIG_FILE", &cfg), KEYS[0], KEYS[1]]).unwrap();
    assert_eq!(s.region, "ca-central-1");
    assert_eq!(
        resolve("{}", &[("AWS_PROFILE", "nope"), h]).unwrap_err().to_string(),
        format!(
            "profile \"nope\" (from AWS_PROFILE) is not in {0}/.aws/config and {0}/.aws/credentials",
            home.path()
        )
    );
}

#[test]
fn configured_endpoints_can_be_ignored() {
    let home = Home::new(
        "ignore-ep",
        "[default]\nendpoint_url = https://profile.example\n\
         [profile ign]\nendpoint_url = https://profile.example\nservices = s\n\
         ignore_configured_endpoint_urls = true\n\
         [services s]\nconnect =\n  endpoint_url = https://services.example\n\
         [profile bad]\nignore_configured_endpoint_urls = sometimes\n",
        "",
    );
    let base = [
        ("AWS_REGION", "us-east-1"),
        ("HOME", home.path()),
        KEYS[0],
        KEYS[1],
    ];
    let host = |json: &str, extra: &[(&str, &str)]| {
        let mut env = base.to_vec();
        env.extend_from_slice(extra);
        resolve(json, &env).map(|s| s.endpoint.host)
    };
    let default = "connect.us-east-1.amazonaws.com";
    assert_eq!(host("{}", &[]).unwrap(), "profile.example");
    let on = ("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true");
    assert_eq!(host("{}", &[on]).unwrap(), default);
    for var in ["AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_CONNECT"] {
        let url = (var, "https://env.example");
        assert_eq!(host("{}", &[url]).unwrap(), "env.example", "{var}");
        assert_eq!(
            host("{}", &[(var, "https://env.example"), on]).unwrap(),
            default
        );
    }
    assert_eq!(
        host(r#"{"endpoint_url":"https://explicit.example"}"#, &[on]).unwrap(),
        "explicit.example",
        "the config key is not a configured endpoint"
    );
    let ign = ("AWS_PROFILE", "ign");
    assert_eq!(host("{}", &[ign]).unwrap(), default);
    assert_eq!(
        host(
            "{}",
            &[ign, ("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "false")]
        )
        .unwrap(),
        "services.example",
        "the environment wins over the profile"
    );
    // The config key beats the environment and the profile, either way.
    let key_on = r#"{"ignore_configured_endpoint_urls": true}"#;
    let key_off = r#"{"ignore_configured_endpoint_urls": false}"#;
    let off = ("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "false");
    assert_eq!(host(key_on, &[off]).unwrap(), default);
    assert_eq!(host(key_off, &[on]).unwrap(), "profile.example");
    assert_eq!(host(key_off, &[ign]).unwrap(), "services.example");
    let err = host(r#"{"ignore_configured_endpoint_urls": "yes"}"#, &[]).unwrap_err();
    assert!(
        err.to_string()
            .contains("config key \"ignore_configured_endpoint_urls\": expected true or false"),
        "{err}"
    );
    let err = host("{}", &[("AWS_PROFILE", "bad")]).unwrap_err();
    assert!(
        err.to_string().contains(
            "key \"ignore_configured_endpoint_urls\": \"sometimes\" is not true or false"
        ),
        "{err}"
    );
}

#[test]
fn unused_sts_override_cannot_fail_a_client() {
    let env = [
        ("AWS_REGION", "us-east-1"),
        ("AWS_ENDPOINT_URL", "http://plain.example"),
        KEYS[0],
        KEYS[1],
    ];
    let s = resolve(r#"{"endpoint_url":"https://x.example"}"#, &env).unwrap();
    assert_eq!(s.endpoint.host, "x.example");
    assert!(resolve(r#"{"allow_http":true}"#, &env).is_ok());
}

#[test]
fn malformed_profile_file_names_file_and_line() {
    let home = Home::new("bad", "[default]\nregion = x\nthis line is wrong\n", "");
    let err = resolve("{}", &[("HOME", home.path())]).unwrap_err();
    assert!(matches!(err, Error::InvalidConfig(_)));
    assert_eq!(
        err.to_string(),
        format!(
            "{}/.aws/config:3: expected \"key = value\", a [section] or a comment",
            home.path()
        )
    );
    let home = Home::new("half", "", "[default]\naws_access_key_id = A\n");
    let err = resolve(r#"{"region":"us-east-1"}"#, &[("HOME", home.path())]).unwrap_err();
    assert!(
        err.to_string()
            .contains("has aws_access_key_id but no aws_secret_access_key"),
        "{err}"
    );
}

#[test]
fn fips_and_dualstack_from_config_env_and_profile() {
    let home = Home::new(
        "flags",
        "[default]\nuse_fips_endpoint = true\n[profile bad]\nuse_dualstack_endpoint = maybe\n",
        "",
    );
    let base = [("AWS_REGION", "us-east-1"), KEYS[0], KEYS[1]];
    let url = |json: &str, extra: &[(&str, &str)]| {
        let mut env = base.to_vec();
        env.extend_from_slice(extra);
        resolve(json, &env).map(|s| s.endpoint.url_for(""))
    };
    assert_eq!(
        url("{}", &[]).unwrap(),
        "https://connect.us-east-1.amazonaws.com"
    );
    let h = ("HOME", home.path());
    assert_eq!(
        url("{}", &[h]).unwrap(),
        "https://connect-fips.us-east-1.amazonaws.com"
    );
    assert_eq!(
        url(
            "{}",
            &[
                h,
                ("AWS_USE_FIPS_ENDPOINT", "false"),
                ("AWS_USE_DUALSTACK_ENDPOINT", "TRUE")
            ]
        )
        .unwrap(),
        "https://connect.us-east-1.api.aws"
    );
    assert_eq!(
        url(
            r#"{"use_fips_endpoint":true,"use_dualstack_endpoint":true}"#,
            &[]
        )
        .unwrap(),
        "https://connect-fips.us-east-1.api.aws"
    );
    let err = url("{}", &[h, ("AWS_ENDPOINT_URL", "https://x.example")]).unwrap_err();
    assert!(matches!(err, Error::InvalidConfig(_)));
    assert!(err.to_string().contains("FIPS and custom endpoint are not supported (endpoint from AWS_ENDPOINT_URL, FIPS from profile \"default\" key \"use_fips_endpoint\")"), "{err}");
    let err = url(
        r#"{"use_dualstack_endpoint":true,"endpoint_url":"https://x.example"}"#,
        &[],
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("Dualstack and custom endpoint"),
        "{err}"
    );
    assert!(url(
        r#"{"use_fips_endpoint":false,"endpoint_url":"https://x.example"}"#,
        &[]
    )
    .is_ok());
    let err = url("{}", &[("AWS_USE_FIPS_ENDPOINT", "yes")]).unwrap_err();
    assert!(
        err.to_string()
            .contains("AWS_USE_FIPS_ENDPOINT: \"yes\" is not true or false"),
        "{err}"
    );
    let err = url("{}", &[h, ("AWS_PROFILE", "bad")]).unwrap_err();
    assert!(err.to_string().contains("use_dualstack_endpoint"), "{err}");
    assert!(url(r#"{"use_fips_endpoint":"true"}"#, &[]).is_err());
}

#[test]
fn proxy_and_ca_bundle_settings() {
    let base = [("AWS_REGION", "us-east-1"), KEYS[0], KEYS[1]];
    let with = |json: &str, extra: &[(&str, &str)]| {
        let mut env = base.to_vec();
        env.extend_from_slice(extra);
        resolve(json, &env)
    };
    let s = with(
        "{}",
        &[("HTTPS_PROXY", "http://user:CANARY@proxy.example:3128")],
    )
    .unwrap();
    let p = s.network.proxy.as_ref().unwrap();
    assert_eq!((p.host(), p.port()), ("proxy.example", 3128));
    let shown = format!("{s:?}");
    assert!(
        shown.contains("proxy.example:3128 from HTTPS_PROXY") && !shown.contains("CANARY"),
        "{shown}"
    );
    let s = with(
        r#"{"proxy":"proxy2.example:8080"}"#,
        &[("HTTP_PROXY", "http://p.example:1")],
    )
    .unwrap();
    assert_eq!(s.network.proxy.as_ref().unwrap().host(), "proxy2.example");
    assert!(!format!(
        "{:?}",
        ClientConfig {
            proxy: Some("http://u:CANARY@h".into()),
            ..Default::default()
        }
    )
    .contains("CANARY"));
    let err = with(r#"{"proxy":"ftp://u:CANARY@h:1"}"#, &[]).unwrap_err();
    assert!(
        err.to_string().starts_with("config key \"proxy\"") && !err.to_string().contains("CANARY"),
        "{err}"
    );
    assert!(with("{}", &[]).unwrap().network.proxy.is_none());

    let err = with(r#"{"ca_bundle":"/nonexistent/ca.pem"}"#, &[]).unwrap_err();
    assert!(
        err.to_string()
            .contains("config key \"ca_bundle\": CA bundle /nonexistent/ca.pem cannot be read"),
        "{err}"
    );
    let home = Home::new("ca", "", "");
    let pem = format!("{}/ca.pem", home.path());
    std::fs::write(&pem, "not a certificate\n").unwrap();
    let err = with("{}", &[("AWS_CA_BUNDLE", &pem)]).unwrap_err();
    assert!(
        err.to_string().contains("holds no PEM certificate"),
        "{err}"
    );
}

#[test]
fn every_flag_rejects_a_word_that_is_not_true_or_false_naming_the_variable() {
    use crate::config::{ValueKind, SETTINGS};
    const KEYS: &str = r#"{"region": "us-east-1", "access_key_id": "AKIDFLAGS", "secret_access_key": "flags-secret"}"#;
    let mut checked = 0;
    for s in SETTINGS.iter().filter(|s| s.kind == ValueKind::Flag) {
        for var in s.env {
            for bad in ["maybe", "1", "yes"] {
                let err = resolve(KEYS, &[(var, bad)]).unwrap_err();
                assert_eq!(err.status(), crate::Status::InvalidConfig, "{var}={bad}");
                assert!(
                    err.message().contains(var) && err.message().contains(bad),
                    "{var}={bad}: {err}"
                );
            }
            let ok = resolve(KEYS, &[(var, "TRUE")]);
            assert!(ok.is_ok(), "{var}=TRUE: {:?}", ok.err());
            checked += 1;
        }
    }
    // Both flags that were once read with a case-insensitive "true" are among them.
    assert!(checked >= 5, "{checked} flag variables");
    for var in ["AWS_NEW_RETRIES_2026", "AWS_DISABLE_CLOCK_SKEW_CORRECTION"] {
        let err = resolve(KEYS, &[(var, "maybe")]).unwrap_err();
        assert!(err.message().contains(var), "{err}");
    }
    let s = resolve(KEYS, &[("AWS_DISABLE_CLOCK_SKEW_CORRECTION", "true")]).unwrap();
    assert!(!s.clock_skew_correction);
    let s = resolve(KEYS, &[]).unwrap();
    assert!(s.clock_skew_correction);
}
