//! The C ABI, and all of the crate's `unsafe`. Every export goes through `call` (status
//! functions) or `guard` (the rest), which catch panics (the one boundary, `catch`) and record
//! this thread's last error; inside them, every pointer argument is checked by one helper:
//! `arg_ref` (an object), `arg_str` (a UTF-8 string), `arg_fn` (a callback), `out_ptr` (an
//! out-pointer); `c_string` makes the strings the caller frees, and `call_back` calls the
//! caller's callbacks. Outputs are written only as documented; NULL_ARGUMENT touches none.
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

// SAFETY: connect_set_log_callback(), connect_update_contact_async() and connect_outbox_open()
// document that the callback and user_data must be usable from any thread; the library never
// dereferences user_data, it only passes it back.
unsafe impl Send for UserData {}
unsafe impl Sync for UserData {}

/// An error on its way out of the boundary: the status returned, the message that becomes
/// this thread's last error, and the response document.
struct BoundaryError {
    status: Status,
    message: String,
    document: String,
}

impl BoundaryError {
    fn local(status: Status, message: impl Into<String>) -> Self {
        let message = message.into();
        let document = error_document(status.name(), &message, None);
        BoundaryError {
            status,
            message,
            document,
        }
    }

    fn null(argument: &str) -> Self {
        BoundaryError::local(Status::NullArgument, format!("{argument} is NULL"))
    }
}

impl From<Error> for BoundaryError {
    fn from(e: Error) -> Self {
        BoundaryError {
            status: e.status(),
            message: e.sentence(),
            document: e.to_document(),
        }
    }
}

thread_local! {
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

fn set_last_error(message: String) {
    let _ = LAST_ERROR.try_with(|cell| *cell.borrow_mut() = c_text(message));
}

/// `text` as a C string: moved in as it is when it holds no NUL (documents are JSON, where NUL
/// is escaped), else with U+FFFD for each NUL (a message from the wire may hold one).
fn c_text(text: String) -> CString {
    CString::new(text).unwrap_or_else(|nul| {
        let text = String::from_utf8(nul.into_vec()).unwrap_or_default();
        CString::new(text.replace('\0', "\u{FFFD}")).unwrap_or_default()
    })
}

/// `text` as a string the caller owns and frees with connect_string_free().
fn c_string(text: String) -> *mut c_char {
    c_text(text).into_raw()
}

/// The one panic boundary: `body`'s value, or `None` when it panicked. Every export runs its
/// body through it (by `call` or `guard`), and every call of a C callback goes through it too
/// (`call_back`): a panic never unwinds into C, nor out of a callback into the library.
fn catch<T>(body: impl FnOnce() -> T) -> Option<T> {
    catch_unwind(AssertUnwindSafe(body)).ok()
}

/// The boundary of every status-returning export: runs `body` inside [`catch`] (argument
/// checks included), records this thread's last error, and writes the response document to
/// `document_out` when it is not NULL, on every status but NULL_ARGUMENT (which leaves every
/// output untouched): `body`'s document on OK, the error's otherwise, PANIC's included.
fn call(
    document_out: *mut *mut c_char,
    body: impl FnOnce() -> Result<String, BoundaryError>,
) -> Status {
    let outcome = catch(body).unwrap_or_else(|| {
        Err(BoundaryError::local(
            Status::Panic,
            "internal error: a panic was caught at the C boundary; please report it",
        ))
    });
    let (status, message, document) = match outcome {
        Ok(document) => (Status::Ok, String::new(), document),
        Err(e) => (e.status, e.message, e.document),
    };
    set_last_error(message);
    if status != Status::NullArgument {
        // SAFETY: the caller passed NULL or a pointer to writable `char *` storage.
        if let Some(out) = unsafe { optional_out(document_out) } {
            out.write(c_string(document));
        }
    }
    status
}

/// The boundary of exports that return a value rather than a status: a panic yields `fallback`.
fn guard<T>(fallback: T, body: impl FnOnce() -> T) -> T {
    catch(body).unwrap_or(fallback)
}

/// Calls one of the caller's callbacks (through `invoke`) inside [`catch`], as every callback
/// is called (log sink, async completion, outbox event). A callback cannot unwind legally (an
/// `extern "C"` function aborts on a Rust panic, and C++ exceptions must not cross it), so
/// this is the last line, not the contract: should an unwind reach here anyway, the thread
/// goes on and the library still frees what it lent the callback.
fn call_back(invoke: impl FnOnce()) {
    let _ = catch(invoke);
}

/// Borrows the object behind a pointer argument; NULL is NULL_ARGUMENT naming `name`.
///
/// SAFETY: `p` is NULL or points to a live `T` that outlives the call (the export's contract).
unsafe fn arg_ref<'a, T>(p: *const T, name: &str) -> Result<&'a T, BoundaryError> {
    // SAFETY: per this function's contract.
    unsafe { p.as_ref() }.ok_or_else(|| BoundaryError::null(name))
}

/// Borrows a string argument as UTF-8; NULL is NULL_ARGUMENT and bad UTF-8 INVALID_UTF8, both
/// naming `name`.
///
/// SAFETY: `s` is NULL or a NUL-terminated string that outlives the call.
unsafe fn arg_str<'a>(s: *const c_char, name: &str) -> Result<&'a str, BoundaryError> {
    // SAFETY: per this function's contract.
    utf8(unsafe { arg_c_str(s, name) }?, name)
}

/// As [`arg_str`] for an argument that may be NULL (`None`).
///
/// SAFETY: as for [`arg_str`].
unsafe fn arg_str_or_null<'a>(
    s: *const c_char,
    name: &str,
) -> Result<Option<&'a str>, BoundaryError> {
    if s.is_null() {
        return Ok(None);
    }
    // SAFETY: per this function's contract.
    unsafe { arg_str(s, name) }.map(Some)
}

/// The NULL check of [`arg_str`] alone, for an export that checks every argument for NULL
/// before any for UTF-8 ([`utf8`] does the rest).
///
/// SAFETY: as for [`arg_str`].
unsafe fn arg_c_str<'a>(s: *const c_char, name: &str) -> Result<&'a CStr, BoundaryError> {
    if s.is_null() {
        return Err(BoundaryError::null(name));
    }
    // SAFETY: non-NULL, and per this function's contract.
    Ok(unsafe { CStr::from_ptr(s) })
}

/// The UTF-8 check of [`arg_str`].
fn utf8<'a>(s: &'a CStr, name: &str) -> Result<&'a str, BoundaryError> {
    s.to_str().map_err(|e| {
        BoundaryError::local(
            Status::InvalidUtf8,
            format!("{name} is not valid UTF-8 (byte {})", e.valid_up_to()),
        )
    })
}

/// A required function-pointer argument (C's NULL is `None`): NULL is NULL_ARGUMENT naming
/// `name`.
fn arg_fn<F>(callback: Option<F>, name: &str) -> Result<F, BoundaryError> {
    callback.ok_or_else(|| BoundaryError::null(name))
}

/// An out-pointer argument, checked: [`OutPtr::write`] stores through it.
struct OutPtr<T>(*mut T);

impl<T> OutPtr<T> {
    fn write(self, value: T) {
        // SAFETY: non-NULL (checked when it was made) and writable, per the export's contract;
        // the old value is C data (a pointer or a number), nothing to drop.
        unsafe { self.0.write(value) }
    }
}

/// Checks a required out-pointer argument (NULL is NULL_ARGUMENT naming `name`), before the
/// export does any work; the export writes through it once it has its result.
///
/// SAFETY: `p` is NULL or points to writable storage for a `T` for the whole call.
unsafe fn out_ptr<T>(p: *mut T, name: &str) -> Result<OutPtr<T>, BoundaryError> {
    if p.is_null() {
        return Err(BoundaryError::null(name));
    }
    Ok(OutPtr(p))
}

/// An out-pointer argument that may be NULL (nothing is written then).
///
/// SAFETY: as for [`out_ptr`].
unsafe fn optional_out<T>(p: *mut T) -> Option<OutPtr<T>> {
    (!p.is_null()).then_some(OutPtr(p))
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
        set_last_error("a\0b".into());
        assert_eq!(last_error(), "a\u{FFFD}b");
    }
}
