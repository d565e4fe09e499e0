//! The restJson1 error parser: any status, `x-amzn-ErrorType` and body give a code and a
//! message, never a panic.
#![no_main]

use connect_contact::unstable::parse_error;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let status = u16::from_le_bytes([data[0], data[1]]);
    let rest = &data[2..];
    // The first line (if any) is the header value; the remainder is the body.
    let (header, body) = match rest.iter().position(|b| *b == b'\n') {
        Some(i) => (std::str::from_utf8(&rest[..i]).ok(), &rest[i + 1..]),
        None => (None, rest),
    };
    let document = parse_error(status, header, body);
    assert!(!document.code.is_empty(), "a code is always given");
    assert!(!document.code.contains(':') && !document.code.contains('#'), "codes are cleaned: {:?}", document.code);
});
