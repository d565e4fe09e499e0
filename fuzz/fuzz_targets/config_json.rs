//! Config JSON through connect_client_new: every input ends in one status, never a panic, and
//! a client that is built can be freed. The process environment is emptied of AWS settings
//! first so nothing is read from this machine or probed on the network.
#![no_main]

use std::ffi::{CStr, CString};
use std::ptr;
use std::sync::Once;

use connect_contact::ffi::{connect_client_free, connect_client_new, connect_last_error_message};
use connect_contact::Status;
use libfuzzer_sys::fuzz_target;

fn hermetic() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        for (key, _) in std::env::vars() {
            if key.starts_with("AWS_") || key.ends_with("_PROXY") || key.ends_with("_proxy") {
                std::env::remove_var(key);
            }
        }
        std::env::set_var("AWS_CONFIG_FILE", "/dev/null");
        std::env::set_var("AWS_SHARED_CREDENTIALS_FILE", "/dev/null");
        std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
    });
}

fuzz_target!(|data: &[u8]| {
    hermetic();
    let mut text = data.to_vec();
    text.retain(|b| *b != 0);
    let text = CString::new(text).unwrap();
    let mut client = ptr::null_mut();
    let status = unsafe { connect_client_new(text.as_ptr(), &mut client) };
    assert_ne!(status, Status::Panic, "a panic reached the boundary");
    if status == Status::Ok {
        assert!(!client.is_null());
        unsafe { connect_client_free(client) };
    } else {
        assert!(client.is_null(), "outputs are written only on success");
        let message = unsafe { CStr::from_ptr(connect_last_error_message()) };
        assert!(!message.to_bytes().is_empty(), "a failure has a message");
    }
});
