//! The `connect-contact` binary against the AWS CLI (`aws` from tests/requirements.txt; run
//! `scripts/setup test` and put `.venv/bin` first on PATH): for the same arguments both send
//! the same request, and fail with the same words. What is compared with the installed `aws`,
//! and what only with fixed text, is listed in docs/cli.md ("How it is tested"), with the one
//! documented difference: the exit codes (ours are version 2's; the installed awscli 1.x
//! exits 2 or 255, which each comparison checks).

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use connect_emulator::{
    Emulator, EmulatorConfig, DEFAULT_ACCESS_KEY_ID, DEFAULT_SECRET_ACCESS_KEY,
};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_connect-contact");
const REGION: &str = "us-east-1";

/// A command with nothing from the real environment: no profiles, no proxies, no IMDS.
fn isolated(program: &str) -> Command {
    let mut c = Command::new(program);
    c.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", "/nonexistent")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_ACCESS_KEY_ID", DEFAULT_ACCESS_KEY_ID)
        .env("AWS_SECRET_ACCESS_KEY", DEFAULT_SECRET_ACCESS_KEY)
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("no_proxy", "127.0.0.1,localhost")
        .stdin(Stdio::null());
    c
}

/// Runs with a 60 s limit.
fn run(mut command: Command) -> Output {
    connect_test_support::try_output_within(&mut command, Duration::from_secs(60)).unwrap_or_else(
        |e| panic!("{command:?}: {e} (is .venv/bin first on PATH? run scripts/setup test)"),
    )
}

fn ours(endpoint: &str, args: &[&str]) -> Output {
    let mut c = isolated(BIN);
    c.args([
        "update-contact",
        "--endpoint-url",
        endpoint,
        "--region",
        REGION,
    ])
    .args(args);
    run(c)
}

fn aws(endpoint: &str, args: &[&str]) -> Output {
    let mut c = isolated("aws");
    // The library retries as botocore's standard mode does; the AWS CLI v1 defaults to legacy.
    c.env("AWS_RETRY_MODE", "standard")
        .args([
            "connect",
            "update-contact",
            "--endpoint-url",
            endpoint,
            "--region",
            REGION,
        ])
        .args(args);
    run(c)
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// One request as a server saw it.
#[derive(Debug, PartialEq)]
struct Seen {
    method: String,
    path: String,
    body: Value,
}

/// A server on 127.0.0.1 that records each request and answers 200 `{}`.
struct Capture {
    url: String,
    seen: mpsc::Receiver<Seen>,
}

fn capture() -> Capture {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(500) {
            let Ok(stream) = stream else { break };
            if let Some(seen) = serve_one(stream) {
                if tx.send(seen).is_err() {
                    break;
                }
            }
        }
    });
    Capture { url, seen: rx }
}

fn serve_one(stream: TcpStream) -> Option<Seen> {
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let (method, path) = (parts.next()?.to_string(), parts.next()?.to_string());
    let mut length = 0;
    loop {
        let mut header = String::new();
        reader.read_line(&mut header).ok()?;
        if header.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().ok()?;
            }
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    let mut stream = stream;
    let _ = stream.write_all(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nx-amzn-RequestId: r-1\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}",
    );
    Some(Seen {
        method,
        path,
        body: serde_json::from_slice(&body).ok()?,
    })
}

impl Capture {
    fn next(&self, who: &str) -> Seen {
        self.seen
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| panic!("{who} sent nothing"))
    }
}

#[test]
fn every_option_sends_what_the_aws_cli_sends() {
    let dir = std::env::temp_dir().join(format!("connect-contact-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let input = dir.join("input.json");
    std::fs::write(
        &input,
        r#"{"InstanceId": "inst-1", "ContactId": "c-2", "Description": "from a file", "QueueInfo": {"Id": "q-9"}}"#,
    )
    .unwrap();
    let input_arg = format!("file://{}", input.display());
    let name_file = dir.join("name.txt");
    std::fs::write(&name_file, "Name from a file").unwrap();
    let name_arg = format!("file://{}", name_file.display());
    let ids = ["--instance-id", "inst-1", "--contact-id", "c-2"];
    let cases: Vec<Vec<&str>> = vec![
        vec!["--name", "Billing callback"],
        vec!["--name", &name_arg],
        vec!["--description", "Called back about invoice 42 — ünïcode"],
        vec![
            "--references",
            r#"{"ticket": {"Type": "URL", "Value": "https://tickets/42"}, "n": {"Type": "NUMBER", "Value": "7"}}"#,
        ],
        vec![
            "--segment-attributes",
            r#"{"connect:Subtype": {"ValueString": "connect:Guide"}, "n": {"ValueInteger": 3}}"#,
        ],
        vec![
            "--customer-endpoint",
            r#"{"Type": "TELEPHONE_NUMBER", "Address": "+15551234567"}"#,
        ],
        vec![
            "--system-endpoint",
            r#"{"Type": "EMAIL_ADDRESS", "Address": "support@example.com"}"#,
        ],
        vec!["--queue-info", r#"{"Id": "queue-1"}"#],
        vec!["--user-info", r#"{"UserId": "agent-7"}"#],
        vec![
            "--additional-recipients",
            r#"{"CcEmailAddresses": [{"EmailAddress": "a@example.com", "DisplayName": "A"}]}"#,
        ],
        vec![
            "--name",
            "n",
            "--cli-read-timeout",
            "20",
            "--cli-connect-timeout",
            "5",
            "--output",
            "json",
        ],
    ];
    let server = capture();
    let mut checked = Vec::new();
    let mut fell_back = Vec::new();
    for case in &cases {
        let args: Vec<&str> = ids.iter().copied().chain(case.iter().copied()).collect();
        // The awscli package carries its own botocore, whose model can lag the vendored one
        // (awscli 1.46.3 has no AdditionalRecipients): then botocore of tests/requirements.txt
        // (the model's own release) serializes the same parameters through boto3.
        let theirs = if aws_knows(case[0]) {
            aws(&server.url, &args)
        } else {
            fell_back.push(case[0]);
            boto3(&server.url, &args)
        };
        assert!(theirs.status.success(), "aws {args:?}: {}", stderr(&theirs));
        let expected = server.next("aws");
        let mine = ours(&server.url, &args);
        assert!(mine.status.success(), "ours {args:?}: {}", stderr(&mine));
        assert!(mine.stdout.is_empty() && theirs.stdout.is_empty());
        assert_eq!(server.next("ours"), expected, "{args:?}");
        checked.push(case[0]);
    }
    // Only the documented few (docs/cli.md, for the awscli pinned in tests/requirements.txt)
    // went to boto3 instead of the AWS CLI.
    assert_eq!(
        fell_back,
        ["--additional-recipients"],
        "options the installed aws lacks; update docs/cli.md's list with the awscli pin"
    );
    // Labels that need encoding, and the whole request from --cli-input-json (inline and
    // file://), with an option overriding one of its members.
    let inline = r#"{"InstanceId": "inst 1", "ContactId": "c/2", "Name": "from json", "UserInfo": {"UserId": "u"}}"#;
    for args in [
        vec!["--cli-input-json", inline],
        vec!["--cli-input-json", inline, "--name", "from the option"],
        vec!["--cli-input-json", &input_arg],
    ] {
        let theirs = aws(&server.url, &args);
        assert!(theirs.status.success(), "aws {args:?}: {}", stderr(&theirs));
        let expected = server.next("aws");
        let mine = ours(&server.url, &args);
        assert!(mine.status.success(), "ours {args:?}: {}", stderr(&mine));
        assert_eq!(server.next("ours"), expected, "{args:?}");
    }
    // Every member of the model has its option, and each was checked above.
    let help = run({
        let mut c = isolated(BIN);
        c.args(["update-contact", "--help"]);
        c
    });
    let help = String::from_utf8_lossy(&help.stdout).into_owned();
    for option in [
        "--instance-id",
        "--contact-id",
        "--name",
        "--description",
        "--references",
        "--segment-attributes",
        "--customer-endpoint",
        "--system-endpoint",
        "--queue-info",
        "--user-info",
        "--additional-recipients",
        "--cli-input-json",
        "--generate-cli-skeleton",
        "--region",
        "--profile",
        "--endpoint-url",
        "--debug",
        "--output",
        "--cli-read-timeout",
        "--cli-connect-timeout",
    ] {
        assert!(help.contains(option), "help lacks {option}:\n{help}");
    }
    for option in checked.iter().filter(|o| o.starts_with("--")) {
        assert!(help.contains(option));
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Whether the installed AWS CLI has this option for update-contact.
fn aws_knows(option: &str) -> bool {
    let mut c = isolated("aws");
    c.args(["connect", "update-contact", "--generate-cli-skeleton"]);
    let skeleton = String::from_utf8(run(c).stdout).unwrap();
    let member: String = option
        .trim_start_matches('-')
        .split('-')
        .map(|w| w[..1].to_uppercase() + &w[1..])
        .collect();
    skeleton.contains(&format!("\"{member}\""))
}

/// boto3 (botocore of tests/requirements.txt) sending the request the options describe.
fn boto3(endpoint: &str, args: &[&str]) -> Output {
    let mut params = serde_json::Map::new();
    for pair in args.chunks(2) {
        let member: String = pair[0]
            .trim_start_matches('-')
            .split('-')
            .map(|w| w[..1].to_uppercase() + &w[1..])
            .collect();
        let value = serde_json::from_str(pair[1]).unwrap_or_else(|_| Value::from(pair[1]));
        params.insert(member, value);
    }
    let mut c = isolated("python3");
    c.args([
        "-c",
        "import boto3, json, sys\n\
         c = boto3.client('connect', region_name=sys.argv[2], endpoint_url=sys.argv[1])\n\
         c.update_contact(**json.loads(sys.argv[3]))\n",
        endpoint,
        REGION,
        &Value::Object(params).to_string(),
    ]);
    run(c)
}

/// Enum placeholders are random in the AWS CLI's skeleton: blank every non-empty string.
fn blank_enums(text: &str) -> String {
    text.lines()
        .map(|line| match line.split_once(": \"") {
            Some((key, rest)) if rest != "\"," && rest != "\"" => {
                let comma = if rest.ends_with(',') { "," } else { "" };
                format!("{key}: \"\"{comma}")
            }
            _ => line.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn the_skeleton_is_the_aws_clis() {
    let mine = run({
        let mut c = isolated(BIN);
        c.args(["update-contact", "--generate-cli-skeleton"]);
        c
    });
    let theirs = run({
        let mut c = isolated("aws");
        c.args(["connect", "update-contact", "--generate-cli-skeleton"]);
        c
    });
    assert!(mine.status.success() && theirs.status.success());
    let (mine, theirs) = (
        String::from_utf8(mine.stdout).unwrap(),
        String::from_utf8(theirs.stdout).unwrap(),
    );
    assert!(mine.contains("\"SegmentAttributes\""), "{mine}");
    // The AWS CLI's vendored model may lag ours by whole members (awscli 1.46.3 lacks
    // AdditionalRecipients): every member it lists must be ours, the same, in the same place.
    let mut ours_blank = blank_enums(&mine);
    if !theirs.contains("\"AdditionalRecipients\"") {
        let cut = ours_blank.find(",\n    \"AdditionalRecipients\"").unwrap();
        ours_blank = ours_blank[..cut].to_string() + "\n}";
    }
    assert_eq!(ours_blank, blank_enums(&theirs));
    // And it is a request --cli-input-json takes back.
    let parsed: Value = serde_json::from_str(&mine).unwrap();
    assert_eq!(parsed["InstanceId"], "");
}

/// The installed AWS CLI's (version 1's) exit code for a failure: 2 for an argument error
/// (argparse's usage message), 255 for anything else (docs/cli.md, Errors and exit codes).
fn aws_v1_code(our_stderr: &str) -> i32 {
    if our_stderr.starts_with("usage: ") {
        2
    } else {
        255
    }
}

/// Our stderr and exit code for `args`, next to the AWS CLI's stderr (whose exit code is
/// checked against version 1's).
fn both(endpoint: &str, args: &[&str]) -> (String, u8, String) {
    let mine = ours(endpoint, args);
    let theirs = aws(endpoint, args);
    assert!(!theirs.status.success(), "aws accepted {args:?}");
    assert_eq!(
        theirs.status.code(),
        Some(aws_v1_code(&stderr(&mine))),
        "aws {args:?}: {}",
        stderr(&theirs)
    );
    (
        stderr(&mine),
        mine.status.code().unwrap() as u8,
        stderr(&theirs),
    )
}

#[test]
fn bad_parameters_exit_252_with_the_aws_clis_words() {
    // Nothing listens here: a parameter error must come before any connection.
    let nowhere = "http://127.0.0.1:9";
    let ids = ["--instance-id", "i", "--contact-id", "c"];
    let with_ids = |extra: &[&'static str]| -> Vec<&'static str> {
        ids.iter().copied().chain(extra.iter().copied()).collect()
    };

    // Bad JSON: the same first words and the same echo of what was received.
    let (mine, code, theirs) = both(nowhere, &with_ids(&["--references", "{bad"]));
    assert_eq!(code, 252, "{mine}");
    let prefix = "\nError parsing parameter '--references': Invalid JSON: ";
    assert!(
        mine.starts_with(prefix) && theirs.starts_with(prefix),
        "{mine}\n{theirs}"
    );
    assert!(mine.contains("\nJSON received: {bad") && theirs.contains("\nJSON received: {bad"));

    // A missing required option: argparse's sentence.
    let (mine, code, theirs) = both(nowhere, &["--instance-id", "i", "--name", "n"]);
    assert_eq!(code, 252, "{mine}");
    let tail = ": error: the following arguments are required: --contact-id\n";
    assert!(
        mine.ends_with(tail) && theirs.ends_with(tail),
        "{mine}\n{theirs}"
    );

    // Validation: botocore's ParamValidationError lines, word for word.
    for extra in [
        &["--user-info", r#"{"UserId": ""}"#][..],
        &["--references", r#"{"r": {"Value": "v"}}"#],
    ] {
        let (mine, code, theirs) = both(nowhere, &with_ids(extra));
        assert_eq!(code, 252, "{mine}");
        assert!(
            mine.starts_with("\nParameter validation failed:\n"),
            "{mine}"
        );
        assert_eq!(mine, theirs, "{extra:?}");
    }
    // A wrong type: botocore's sentence, without the value (the library never echoes one).
    let (mine, code, theirs) = both(
        nowhere,
        &with_ids(&["--customer-endpoint", r#"{"Type": 7}"#]),
    );
    assert_eq!(code, 252);
    let sentence =
        "\nParameter validation failed:\nInvalid type for parameter CustomerEndpoint.Type, ";
    assert!(
        mine.starts_with(sentence) && theirs.starts_with(sentence),
        "{mine}\n{theirs}"
    );
    // Ours adds a suggestion after botocore's sentence.
    let (mine, code, theirs) = both(
        nowhere,
        &with_ids(&["--references", r#"{"a": {"Type": "URL", "Valu": "x"}}"#]),
    );
    assert_eq!(code, 252);
    assert!(mine.starts_with(theirs.trim_end()), "{mine}\n{theirs}");
    assert!(mine.contains("did you mean \"Value\"?"), "{mine}");
    // --cli-input-json: its own JSON errors, and the required members checked after merging.
    let (mine, code, theirs) = both(nowhere, &["--cli-input-json", r#"{"InstanceId": "i""#]);
    assert_eq!(code, 252);
    let prefix = "\nError parsing parameter 'cli-input-json': Invalid JSON: ";
    assert!(
        mine.starts_with(prefix) && theirs.starts_with(prefix),
        "{mine}\n{theirs}"
    );
    let (mine, code, theirs) = both(nowhere, &["--cli-input-json", r#"{"InstanceId": "i"}"#]);
    assert_eq!(code, 252);
    assert_eq!(mine, theirs);
    // An unknown option.
    let mine = ours(nowhere, &with_ids(&["--nmae", "x"]));
    assert_eq!(mine.status.code(), Some(252), "{}", stderr(&mine));
    assert!(stderr(&mine).contains("--nmae"));
}

fn put(endpoint: &str, path: &str, body: &str) {
    let address = endpoint.trim_start_matches("http://");
    let mut s = TcpStream::connect(address).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "PUT {path} HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

#[test]
fn each_service_error_exits_254_with_the_aws_clis_sentence() {
    let emulator = Emulator::start(EmulatorConfig {
        auto_create: true,
        log: false,
        ..EmulatorConfig::default()
    })
    .unwrap();
    let url = emulator.endpoint_url();
    let args = ["--instance-id", "inst", "--contact-id", "c", "--name", "n"];
    for (code, _, _) in connect_emulator::INJECTABLE_ERRORS {
        for attempts in ["1", "3"] {
            let sequence = format!(r#"{{"sequence": ["{code}", "{code}", "{code}"]}}"#);
            let run_with = |mut c: Command| {
                c.env("AWS_MAX_ATTEMPTS", attempts);
                run(c)
            };
            put(&url, "/_emulator/faults", &sequence);
            let mine = run_with({
                let mut c = isolated(BIN);
                c.args(["update-contact", "--endpoint-url", &url, "--region", REGION])
                    .args(args);
                c
            });
            put(&url, "/_emulator/faults", &sequence);
            let theirs = run_with({
                let mut c = isolated("aws");
                c.env("AWS_RETRY_MODE", "standard")
                    .args(["connect", "update-contact", "--endpoint-url", &url])
                    .args(["--region", REGION])
                    .args(args);
                c
            });
            assert_eq!(mine.status.code(), Some(254), "{code}: {}", stderr(&mine));
            assert_eq!(theirs.status.code(), Some(aws_v1_code(&stderr(&mine))));
            let expected =
                format!("\nAn error occurred ({code}) when calling the UpdateContact operation");
            assert!(stderr(&mine).starts_with(&expected), "{}", stderr(&mine));
            assert_eq!(
                stderr(&mine),
                stderr(&theirs),
                "{code} with {attempts} attempts"
            );
        }
    }
    put(&url, "/_emulator/faults", "{}");
    // And a success: exit 0, nothing printed, the store has it.
    let mine = ours(
        &url,
        &[
            "--instance-id",
            "inst",
            "--contact-id",
            "c",
            "--name",
            "Stored",
        ],
    );
    assert!(mine.status.success(), "{}", stderr(&mine));
    assert!(mine.stdout.is_empty() && mine.stderr.is_empty());
    let store = common::admin_get(&url, "/_emulator/contacts").to_string();
    assert!(store.contains("Stored"), "{store}");
    emulator.shutdown().unwrap();
}

#[test]
fn other_failures_exit_253_or_255_with_the_aws_clis_sentence() {
    // Nothing listens on port 9 of loopback.
    let (mine, code, theirs) = both(
        "http://127.0.0.1:9",
        &["--instance-id", "i", "--contact-id", "c", "--name", "n"],
    );
    assert_eq!(code, 255, "{mine}");
    assert_eq!(mine, theirs);
    assert_eq!(
        mine,
        "\nCould not connect to the endpoint URL: \"http://127.0.0.1:9/contacts/i/c\"\n"
    );
    // A response slower than --cli-read-timeout; and --debug: one line per attempt and the
    // response metadata, never the request's sensitive values.
    let emulator = Emulator::start(EmulatorConfig {
        auto_create: true,
        log: false,
        ..EmulatorConfig::default()
    })
    .unwrap();
    let url = emulator.endpoint_url();
    put(&url, "/_emulator/faults", r#"{"latency_ms": 2500}"#);
    let args = [
        "--instance-id",
        "i",
        "--contact-id",
        "c",
        "--name",
        "n",
        "--cli-read-timeout",
        "1",
    ];
    let started = Instant::now();
    let mut c = isolated(BIN);
    c.env("AWS_MAX_ATTEMPTS", "1")
        .args(["update-contact", "--endpoint-url", &url, "--region", REGION])
        .args(args);
    let mine = run(c);
    assert!(
        started.elapsed() < Duration::from_millis(2400),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(mine.status.code(), Some(255));
    assert_eq!(
        stderr(&mine),
        format!("\nRead timeout on endpoint URL: \"{url}/contacts/i/c\"\n")
    );
    let mut c = isolated("aws");
    c.env("AWS_MAX_ATTEMPTS", "1")
        .args(["connect", "update-contact", "--endpoint-url", &url])
        .args(["--region", REGION])
        .args(args);
    let theirs = run(c);
    assert_eq!(stderr(&mine), stderr(&theirs));
    assert_eq!(theirs.status.code(), Some(aws_v1_code(&stderr(&mine))));
    put(&url, "/_emulator/faults", "{}");
    let mine = ours(
        &url,
        &[
            "--instance-id",
            "i",
            "--contact-id",
            "c",
            "--name",
            "Secret Name",
            "--debug",
        ],
    );
    assert!(mine.status.success(), "{}", stderr(&mine));
    let log = stderr(&mine);
    assert!(
        log.contains("POST /contacts/i/c attempt 1/3: HTTP 200"),
        "{log}"
    );
    assert!(log.contains("\"HTTPStatusCode\":200"), "{log}");
    assert!(!log.contains("Secret Name"), "{log}");
    emulator.shutdown().unwrap();
    // No region anywhere.
    let args = ["--instance-id", "i", "--contact-id", "c", "--name", "n"];
    let mut c = isolated(BIN);
    c.arg("update-contact").args(args);
    let mine = run(c);
    assert_eq!(mine.status.code(), Some(253));
    assert_eq!(
        stderr(&mine),
        "You must specify a region. You can also configure your region by running \"aws configure\".\n"
    );
    let mut c = isolated("aws");
    c.args(["connect", "update-contact"]).args(args);
    let theirs = run(c);
    assert_eq!(stderr(&theirs), stderr(&mine));
    assert_eq!(theirs.status.code(), Some(aws_v1_code(&stderr(&mine))));
}

/// The words of the `config` table's row for `name`.
fn config_row<'t>(text: &'t str, name: &str) -> Vec<&'t str> {
    text.lines()
        .find(|l| l.split_whitespace().next() == Some(name))
        .unwrap_or_else(|| panic!("no {name} row in\n{text}"))
        .split_whitespace()
        .collect()
}

#[test]
fn config_shows_each_value_and_its_source_and_never_a_secret() {
    let secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYSECRETKEY";
    let mut c = isolated(BIN);
    c.env("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE0001")
        .env("AWS_SECRET_ACCESS_KEY", secret)
        .env("AWS_SESSION_TOKEN", "token-that-must-not-show")
        .env("AWS_DEFAULT_REGION", "eu-west-1")
        .args(["config", "--endpoint-url", "http://127.0.0.1:8977"]);
    let out = run(c);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    let row = |name: &str| config_row(&text, name);
    assert_eq!(
        row("access_key"),
        ["access_key", "****************0001", "env"]
    );
    assert_eq!(row("secret_key"), ["secret_key", "****************", "env"]);
    assert_eq!(row("token"), ["token", "<set>", "env"]);
    assert_eq!(
        row("region"),
        ["region", "eu-west-1", "env", "AWS_DEFAULT_REGION"]
    );
    assert_eq!(
        row("endpoint"),
        [
            "endpoint",
            "http://127.0.0.1:8977",
            "manual",
            "--endpoint-url"
        ]
    );
    assert_eq!(row("profile"), ["profile", "<not", "set>", "None", "None"]);
    for secret_part in [secret, &secret[secret.len() - 4..], "token-that"] {
        assert!(!text.contains(secret_part), "{text}");
    }
}

/// The sources come from the library's resolution, not from re-reading the environment: with
/// configured endpoints ignored, an `AWS_ENDPOINT_URL` that is set is not where the endpoint
/// came from; a region from the profile names the profile.
#[test]
fn config_prints_the_sources_the_library_resolved() {
    let home = std::env::temp_dir().join(format!("cli-config-home-{}", std::process::id()));
    std::fs::create_dir_all(home.join(".aws")).unwrap();
    std::fs::write(
        home.join(".aws/config"),
        "[profile ops]\nregion = ap-southeast-2\n",
    )
    .unwrap();
    let mut c = isolated(BIN);
    c.env("HOME", &home)
        .env("AWS_CONFIG_FILE", home.join(".aws/config"))
        .env("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE0002")
        .env("AWS_SECRET_ACCESS_KEY", "config-test-secret")
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:8977")
        .env("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true")
        .env("AWS_PROFILE", "ops")
        .args(["config"]);
    let out = run(c);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    let row = |name: &str| config_row(&text, name).join(" ");
    assert_eq!(
        row("endpoint"),
        "endpoint https://connect.ap-southeast-2.amazonaws.com resolved default (endpoint rules)"
    );
    assert_eq!(
        row("region"),
        "region ap-southeast-2 config-file profile \"ops\" key \"region\""
    );
    assert_eq!(row("profile"), "profile ops env AWS_PROFILE");
    std::fs::remove_dir_all(&home).ok();
}

#[test]
fn the_emulator_subcommand_serves_and_update_contact_reaches_it() {
    let (mut child, url) = connect_test_support::spawn_emulator(
        isolated(BIN)
            .args([
                "emulator",
                "--listen",
                "127.0.0.1:0",
                "--auto-create",
                "--quiet",
            ])
            .stderr(Stdio::null()),
    );
    let mine = ours(
        &url,
        &[
            "--instance-id",
            "i",
            "--contact-id",
            "c",
            "--description",
            "via the CLI's emulator",
        ],
    );
    let store = common::admin_get(&url, "/_emulator/contacts").to_string();
    let _ = child.kill();
    let _ = child.wait();
    assert!(mine.status.success(), "{}", stderr(&mine));
    assert!(store.contains("via the CLI's emulator"), "{store}");
    // Its help is the emulator's own, under this command's name.
    let mut c = isolated(BIN);
    c.args(["emulator", "--help"]);
    let help = run(c);
    let help = String::from_utf8(help.stdout).unwrap();
    assert!(
        help.starts_with("Usage: connect-contact emulator [OPTIONS]"),
        "{help}"
    );
    assert!(help.contains("--quota"));
}

#[test]
fn completions_and_man_page_generate() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let mut c = isolated(BIN);
        c.args(["completions", shell]);
        let out = run(c);
        assert!(out.status.success(), "{shell}: {}", stderr(&out));
        let text = String::from_utf8(out.stdout).unwrap();
        for word in [
            "update-contact",
            "segment-attributes",
            "cli-input-json",
            "emulator",
        ] {
            assert!(text.contains(word), "{shell} lacks {word}");
        }
    }
    let mut c = isolated(BIN);
    c.arg("man");
    let out = run(c);
    assert!(out.status.success());
    let man = String::from_utf8(out.stdout).unwrap();
    assert!(man.contains(".TH connect-contact"), "{man}");
    assert!(man.contains("update\\-contact"), "{man}");
}
