//! `cargo run --example quickstart`: the whole product, offline, in one command.
//!
//! Starts the emulator on 127.0.0.1, updates a contact through the C ABI from a small C
//! program and through the Python binding, then reads the contact back with a signed
//! DescribeContact and prints it, with the references from the emulator's store. Needs gcc
//! and python3 (`scripts/quickstart` installs them when missing, then runs this); no AWS
//! account, no network.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

use connect_contact::unstable::encode_label;
use connect_contact::unstable::Signer;
use connect_contact::Credentials;
use connect_emulator::{
    Emulator, EmulatorConfig, DEFAULT_ACCESS_KEY_ID, DEFAULT_REGION, DEFAULT_SECRET_ACCESS_KEY,
};

const INSTANCE: &str = "quickstart-instance";
const CONTACT: &str = "call/2026-11-21/0001";

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

fn main() -> Result<()> {
    let emulator = Emulator::start(EmulatorConfig {
        auto_create: true,
        ..EmulatorConfig::default()
    })?;
    let endpoint = emulator.endpoint_url();
    println!("emulator listening on {endpoint}\n");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let library = built_library()?;
    // Configured like every AWS SDK: everything from the environment.
    let env = [
        ("AWS_ENDPOINT_URL", endpoint.as_str()),
        ("AWS_REGION", DEFAULT_REGION),
        ("AWS_ACCESS_KEY_ID", DEFAULT_ACCESS_KEY_ID),
        ("AWS_SECRET_ACCESS_KEY", DEFAULT_SECRET_ACCESS_KEY),
    ];

    println!("== 1. C, through libconnect_contact");
    let program = compile_c(root, &library)?;
    let ran = run(Command::new(&program).envs(env));
    if let Some(dir) = program.parent() {
        let _ = std::fs::remove_dir_all(dir);
    }
    ran?;

    println!("\n== 2. Python, through the ctypes binding");
    let python = r#"
import connect_contact
with connect_contact.Client() as client:
    response = client.update_contact(
        InstanceId="quickstart-instance", ContactId="call/2026-11-21/0001",
        References={"recording": {"Type": "URL", "Value": "https://recordings.example.com/0001"}},
        QueueInfo={"Id": "billing-queue"}, UserInfo={"UserId": "agent-7"},
        AdditionalRecipients={"CcEmailAddresses": [{"EmailAddress": "billing@example.com"}]})
    print("Python:", response)
    try:
        client.update_contact(InstanceId="quickstart-instance", ContactId="call/2026-11-21/0001",
                              AdditionalRecipients={"CcEmailAddresses": [{"EmailAddress": "not-an-address"}]})
    except connect_contact.ParamValidationError as e:
        print("Python: ParamValidationError:", e)
    try:
        client.update_contact(InstanceId="quickstart-instance", ContactId="call/2026-11-21/0001",
                              References={"bad": {"Type": "BOGUS"}})
    except connect_contact.InvalidParameterException as e:
        print("Python: enums are open; the service judged BOGUS:", e)
"#;
    run(Command::new("python3")
        .args(["-c", python])
        .envs(env)
        .env("PYTHONPATH", root.join("bindings/python"))
        .env("CONNECT_CONTACT_LIB", &library))?;

    println!("\n== 3. DescribeContact, read back over HTTP");
    println!("{}", describe_contact(&endpoint)?);
    // References are stored but are not a member of DescribeContact's Contact.
    println!("\n== 4. References, from the emulator's store (GET /_emulator/contacts)");
    let stored = emulator
        .contact(INSTANCE, CONTACT)
        .ok_or("the contact was stored")?;
    println!("{}", serde_json::to_string_pretty(&stored["References"])?);
    emulator.shutdown()?;
    Ok(())
}

/// A signed `GET /contacts/{InstanceId}/{ContactId}`, as any client would read the contact.
fn describe_contact(endpoint: &str) -> Result<String> {
    let mut path = String::from("/contacts/");
    encode_label(INSTANCE, &mut path);
    path.push('/');
    encode_label(CONTACT, &mut path);
    let url = format!("{endpoint}{path}");
    let credentials = Credentials::new(
        DEFAULT_ACCESS_KEY_ID,
        DEFAULT_SECRET_ACCESS_KEY,
        None,
        None,
        "quickstart",
    )?;
    let signed =
        Signer::new(DEFAULT_REGION).sign(&credentials, "GET", &url, &[], b"", SystemTime::now())?;
    let mut request = ureq::get(&url);
    for (name, value) in &signed {
        request = request.header(*name, value);
    }
    let text = request.call()?.body_mut().read_to_string()?;
    let body: serde_json::Value = serde_json::from_str(&text)?;
    Ok(serde_json::to_string_pretty(&body)?)
}

/// The cdylib cargo built for this example: target/<profile>/deps first, then target/<profile>.
fn built_library() -> Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let profile = exe
        .parent()
        .and_then(Path::parent)
        .ok_or("unexpected target layout")?;
    [
        profile.join("deps/libconnect_contact.so"),
        profile.join("libconnect_contact.so"),
    ]
    .into_iter()
    .find(|p| p.is_file())
    .ok_or_else(|| "libconnect_contact.so was not built".into())
}

/// Builds examples/quickstart.c against the library cargo just built, as a C program linked
/// against the build tree is: `-L` and the rpath point at the library's folder, where build.rs
/// links the soname (CONNECT_SONAME) the loader asks for to the built file.
fn compile_c(root: &Path, library: &Path) -> Result<PathBuf> {
    let libdir = library.parent().ok_or("unexpected target layout")?;
    if !libdir.join(env!("CONNECT_SONAME")).exists() {
        return Err(format!(
            "{} is missing beside {} (build.rs makes it)",
            env!("CONNECT_SONAME"),
            library.display()
        )
        .into());
    }
    let dir = std::env::temp_dir().join(format!("connect-quickstart-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let out = dir.join("quickstart");
    let status = Command::new("gcc")
        .args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-pedantic", "-I"])
        .arg(root.join("include"))
        .arg(root.join("examples/quickstart.c"))
        .arg("-o")
        .arg(&out)
        .arg(format!("-L{}", libdir.display()))
        .arg(format!("-Wl,-rpath,{}", libdir.display()))
        .arg("-lconnect_contact")
        .status()
        .map_err(|e| {
            format!("gcc could not be started ({e}); run scripts/quickstart, which installs it")
        })?;
    if !status.success() {
        return Err("gcc failed to build examples/quickstart.c".into());
    }
    Ok(out)
}

fn run(command: &mut Command) -> Result<()> {
    let status = command.status()?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{command:?} exited with {status}").into())
    }
}
