//! The C ABI. The only module with `unsafe`: every export goes through `call` (status
//! functions) or `guard` (the rest), which check pointers, catch panics and record this
//! thread's last error. Outputs are written only as documented; NULL_ARGUMENT touches none.
#![allow(unsafe_code)]
#![allow(non_camel_case_types)]
// Every export is called from C, never from Rust: its safety contract (which pointers may be
// NULL, who owns what, which threads may call) is the doc comment cbindgen copies into the
// header and docs/c.md, not a Rust `# Safety` section.
#![allow(clippy::missing_safety_doc)]

use std::cell::RefCell;
use std::ffi::{c_char, c_void, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::error::{Error, Status};
use crate::protocol::response::error_document;

// cbindgen writes the header in the order it reads the modules: these three, in this order
// (rustfmt would sort them if they stood together).
mod client;

mod outbox;

mod library;

mod pool;

pub use client::{
    connect_client, connect_client_config_json, connect_client_free, connect_client_new,
    connect_update_callback, connect_update_contact, connect_update_contact_async,
};
pub use library::{
    connect_last_error_message, connect_log_callback, connect_set_log_callback,
    connect_status_name, connect_string_free, connect_version,
};
pub use outbox::{
    connect_outbox, connect_outbox_callback, connect_outbox_close, connect_outbox_dead_letters,
    connect_outbox_discard, connect_outbox_enqueue, connect_outbox_flush, connect_outbox_open,
    connect_outbox_retry, connect_outbox_stats,
};

/// A caller's `void *user_data`, handed back to its callback from whichever thread runs it.
#[derive(Clone, Copy)]
struct UserData(*mut c_void);

// SAFETY: connect_set_log_callback() and connect_update_contact_async() document that the
// callback and user_data must be usable from any thread; the library never dereferences
// user_data, it only passes it back.
unsafe impl Send for UserData {}
unsafe impl Sync for UserData {}

/// A failure on its way out of the boundary.
struct Failure {
    status: Status,
    message: String,
    document: String,
}

impl Failure {
    fn local(status: Status, message: impl Into<String>) -> Self {
        let message = message.into();
        let document = error_document(status.name(), &message, None);
        Failure {
            status,
            message,
            document,
        }
    }

    fn null(argument: &str) -> Self {
        Failure::local(Status::NullArgument, format!("{argument} is NULL"))
    }
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure {
            status: e.status(),
            message: e.sentence(),
            document: e.to_document(),
        }
    }
}

thread_local! {
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

fn set_last_error(message: &str) {
    // A message from the wire may hold NUL bytes; C strings cannot.
    let text = CString::new(message.replace('\0', "\u{FFFD}")).unwrap_or_default();
    let _ = LAST_ERROR.try_with(|cell| *cell.borrow_mut() = text);
}

/// Copies `s` into a string the caller frees with connect_string_free().
fn to_c_string(s: String) -> *mut c_char {
    // Documents are JSON (NUL is escaped there), so the first try moves the string in without
    // a copy; anything else with a NUL gets U+FFFD for it.
    CString::new(s)
        .or_else(|nul| {
            let text = String::from_utf8(nul.into_vec()).unwrap_or_default();
            CString::new(text.replace('\0', "\u{FFFD}"))
        })
        .unwrap_or_default()
        .into_raw()
}

/// The boundary of every status-returning export: runs `body` under `catch_unwind`, records
/// the last error, and writes the response document to `document_out` when it is not NULL
/// (except on NULL_ARGUMENT, which leaves every output untouched).
fn call(document_out: *mut *mut c_char, body: impl FnOnce() -> Result<String, Failure>) -> Status {
    let outcome = catch_unwind(AssertUnwindSafe(body)).unwrap_or_else(|_| {
        Err(Failure::local(
            Status::Panic,
            "internal error: a panic was caught at the C boundary; please report it",
        ))
    });
    let (status, message, document) = match outcome {
        Ok(document) => (Status::Ok, String::new(), document),
        Err(f) => (f.status, f.message, f.document),
    };
    set_last_error(&message);
    if status != Status::NullArgument && !document_out.is_null() {
        // SAFETY: the caller passed a non-NULL pointer to writable `char *` storage.
        unsafe { *document_out = to_c_string(document) };
    }
    status
}

/// The boundary of exports that return a value rather than a status: a panic yields `fallback`.
fn guard<T>(fallback: T, body: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or(fallback)
}

/// Borrows a C string as UTF-8; `what` names the argument in the error.
///
/// SAFETY: `s` is non-NULL and points to a NUL-terminated string that outlives the call.
unsafe fn utf8<'a>(s: *const c_char, what: &str) -> Result<&'a str, Failure> {
    CStr::from_ptr(s).to_str().map_err(|e| {
        Failure::local(
            Status::InvalidUtf8,
            format!("{what} is not valid UTF-8 (byte {})", e.valid_up_to()),
        )
    })
}

/// This thread's last error, as a C caller reads it.
#[cfg(test)]
fn last_error() -> String {
    // SAFETY: the library returns a valid C string.
    unsafe { CStr::from_ptr(connect_last_error_message()) }
        .to_string_lossy()
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ptr;

    #[test]
    fn the_last_error_is_a_sentence_and_the_document_keeps_the_service_message() {
        let error = Error::from(crate::error::ServiceError {
            code: "ThrottlingException".into(),
            message: "Rate exceeded".into(),
            metadata: crate::error::ResponseMetadata {
                notes: Some(Box::new(crate::error::CallNotes {
                    stop_reason: Some("gave up after 3 attempts: max_attempts 3 reached".into()),
                    url: None,
                })),
                ..Default::default()
            },
            fields: None,
        });
        let mut doc: *mut c_char = ptr::null_mut();
        assert_eq!(call(&mut doc, || Err(error.into())), Status::Throttling);
        assert_eq!(
            last_error(),
            "Rate exceeded (gave up after 3 attempts: max_attempts 3 reached)"
        );
        // SAFETY: written by `call`.
        let text = unsafe { CStr::from_ptr(doc) }
            .to_string_lossy()
            .into_owned();
        unsafe { connect_string_free(doc) };
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["Error"]["Message"], "Rate exceeded");
        assert_eq!(
            v["Details"]["StopReason"],
            "gave up after 3 attempts: max_attempts 3 reached"
        );
    }

    #[test]
    fn a_panic_becomes_a_status_and_a_document() {
        let mut doc: *mut c_char = ptr::null_mut();
        let status = call(&mut doc, || panic!("boom"));
        assert_eq!(status, Status::Panic);
        assert!(last_error().contains("panic was caught"));
        // SAFETY: written by `call`.
        let text = unsafe { CStr::from_ptr(doc) }
            .to_string_lossy()
            .into_owned();
        assert!(text.contains("CONNECT_STATUS_PANIC"), "{text}");
        unsafe { connect_string_free(doc) };
        assert_eq!(call(ptr::null_mut(), || Ok(String::new())), Status::Ok);
        assert_eq!(last_error(), "", "a success clears the last error");
    }

    #[test]
    fn messages_with_nul_bytes_survive() {
        set_last_error("a\0b");
        assert_eq!(last_error(), "a\u{FFFD}b");
    }
}
