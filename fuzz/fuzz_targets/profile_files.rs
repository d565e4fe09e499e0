//! The shared config and credentials files (src/env/profile.rs): any text (the part before the
//! first NUL is ~/.aws/config, the rest ~/.aws/credentials) is read or refused with an error
//! naming the file and line, never a panic; an error never quotes a value from the file (a
//! secret key may be on the line); every profile read can be looked up.
#![no_main]

use connect_contact::unstable::{FileKind, ProfileSet};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (config, credentials) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let mut set = ProfileSet::default();
    for (bytes, name, kind) in [
        (config, "config", FileKind::Config),
        (credentials, "credentials", FileKind::Credentials),
    ] {
        let text = String::from_utf8_lossy(bytes);
        match set.add(&text, name, kind) {
            Ok(()) => {}
            Err(e) => {
                let message = e.to_string();
                assert!(message.starts_with(&format!("{name}:")), "{message}");
                // The reasons are fixed lower-case phrases after `file:line: `, so a value with
                // an upper-case letter (as keys and tokens have) can only be there if quoted.
                for line in text.lines() {
                    if let Some((_, value)) = line.split_once('=') {
                        let value = value.trim();
                        if value.len() >= 8 && value.bytes().any(|b| b.is_ascii_uppercase()) {
                            assert!(!message.contains(value), "value quoted: {message}");
                        }
                    }
                }
                return;
            }
        }
        for line in text.lines() {
            let header = line.trim().trim_start_matches('[').split(']').next().unwrap_or("");
            let name = header.trim().strip_prefix("profile ").unwrap_or(header).trim();
            if let Some(section) = set.profile(name) {
                let _ = section.get("region");
                let _ = section.get("aws_secret_access_key");
            }
        }
    }
});
