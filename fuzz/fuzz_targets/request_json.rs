//! Request JSON through the exported functions, as a C caller would send it. The client
//! points at a loopback port where nothing listens, so a request that passes validation fails
//! fast with TRANSPORT instead of leaving the machine.
#![no_main]

use std::ffi::{c_char, CStr, CString};
use std::ptr;
use std::sync::OnceLock;

use connect_contact::ffi::{
    connect_client, connect_client_new, connect_last_error_message, connect_string_free, connect_update_contact,
};
use connect_contact::Status;
use libfuzzer_sys::fuzz_target;

struct Shared(*mut connect_client);
// The client is documented as shareable across threads.
unsafe impl Send for Shared {}
unsafe impl Sync for Shared {}

fn client() -> *const connect_client {
    static CLIENT: OnceLock<Shared> = OnceLock::new();
    CLIENT
        .get_or_init(|| {
            let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
            let config = CString::new(format!(
                r#"{{"region":"us-east-1","endpoint_url":"http://127.0.0.1:{port}","access_key_id":"AKIDFUZZ",
                    "secret_access_key":"FUZZ-SECRET","max_attempts":1,"connect_timeout_ms":50,"timeout_ms":200}}"#
            ))
            .unwrap();
            let mut client = ptr::null_mut();
            let status = unsafe { connect_client_new(config.as_ptr(), &mut client) };
            assert_eq!(status, Status::Ok);
            Shared(client)
        })
        .0
}

fuzz_target!(|data: &[u8]| {
    let mut text = data.to_vec();
    text.retain(|b| *b != 0);
    let text = CString::new(text).unwrap();
    let mut document: *mut c_char = ptr::null_mut();
    let status = unsafe { connect_update_contact(client(), text.as_ptr(), &mut document) };
    assert_ne!(status, Status::Panic, "a panic reached the boundary");
    assert!(!document.is_null(), "a document is written for every outcome but NULL_ARGUMENT");
    let doc = unsafe { CStr::from_ptr(document) }.to_str().expect("documents are UTF-8");
    assert!(doc.starts_with('{'), "documents are JSON objects");
    assert!(!doc.contains("FUZZ-SECRET"));
    let message = unsafe { CStr::from_ptr(connect_last_error_message()) };
    assert!(!message.to_string_lossy().contains("FUZZ-SECRET"));
    unsafe { connect_string_free(document) };
});
