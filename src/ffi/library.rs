//! The exports of the library as a whole rather than of a client or an outbox: the log
//! callback, freeing a returned string, the last error, status names and the version.

use std::ffi::{c_char, c_void, CStr, CString};
use std::ptr;
use std::sync::Arc;

use super::{c_text, call, call_back, guard, BoundaryError, UserData, LAST_ERROR};
use crate::error::Status;
use crate::log::{set_sink, LogLevel, LogSink};

/// A status as the C caller passes it in: any int32_t, checked before use (the header
/// spells it `connect_status`).
type StatusArg = i32;

/// A log level as the C caller passes it in: any int32_t, checked before use (the header
/// spells it `connect_log_level`).
type LogLevelArg = i32;

/// Receives the library's diagnostic lines: `level` is a connect_log_level, `message` a
/// NUL-terminated line valid only during the call, `user_data` what was given to
/// connect_set_log_callback(). Called on the thread making the library call, possibly on
/// several threads at once.
pub type connect_log_callback = Option<
    unsafe extern "C" fn(level: LogLevelArg, message: *const c_char, user_data: *mut c_void),
>;

/// A C callback as a log sink.
struct CallbackSink {
    callback: unsafe extern "C" fn(LogLevelArg, *const c_char, *mut c_void),
    user_data: UserData,
}

impl LogSink for CallbackSink {
    fn log(&self, level: LogLevel, message: &str) {
        let line = c_text(message.to_owned());
        call_back(|| {
            // SAFETY: a valid function pointer from the caller, a NUL-terminated line that
            // lives through the call, and the caller's own user_data.
            unsafe { (self.callback)(level as i32, line.as_ptr(), self.user_data.0) }
        });
    }
}

/// Sends the library's diagnostic lines to `callback` (process-wide, for every client).
///
/// @param min_level  The most verbose level delivered: CONNECT_LOG_LEVEL_ERROR (failed calls)
///                   up to CONNECT_LOG_LEVEL_DEBUG (one line per attempt with its status,
///                   latency and retry decision).
/// @param callback   NULL to stop delivering lines (the `CONNECT_CONTACT_LOG=debug` stderr
///                   default applies again). Must be callable from any thread, must not call
///                   connect_set_log_callback() itself, and should return quickly: calls wait
///                   for it.
/// @param user_data  Passed back to every callback invocation; may be NULL.
/// @return CONNECT_STATUS_OK, INVALID_CONFIG (min_level is not a connect_log_level) or PANIC.
///
/// Lines never contain the secret key, the session token, the Authorization header, or a
/// sensitive request value (Name, Description, a recipient's EmailAddress or DisplayName):
/// they carry request paths (instance and contact IDs), statuses, error codes, HTTP statuses,
/// request ids and timings, with the secret key and the session token removed from anything
/// the endpoint sent. When this returns, the previous
/// callback is no longer running and is never called again.
///
/// Fork: the callback stays installed in the child.
#[no_mangle]
pub unsafe extern "C" fn connect_set_log_callback(
    min_level: LogLevelArg,
    callback: connect_log_callback,
    user_data: *mut c_void,
) -> Status {
    call(ptr::null_mut(), || {
        let level = LogLevel::from_code(min_level).ok_or_else(|| {
            BoundaryError::local(
                Status::InvalidConfig,
                format!("min_level {min_level} is not a connect_log_level (1 to 4)"),
            )
        })?;
        let sink = callback.map(|callback| {
            Arc::new(CallbackSink {
                callback,
                user_data: UserData(user_data),
            }) as Arc<dyn LogSink>
        });
        set_sink(level, sink);
        Ok(String::new())
    })
}

/// Frees a string the library returned (a response document). NULL is a no-op.
///
/// Fork: a string returned before fork() may be freed in either process (each has a copy).
#[no_mangle]
pub unsafe extern "C" fn connect_string_free(s: *mut c_char) {
    guard((), || {
        if !s.is_null() {
            // SAFETY: the pointer came from this library's CString::into_raw and is freed once.
            drop(unsafe { CString::from_raw(s) });
        }
    })
}

/// The message of this thread's last failed call, or "" after a success. Never NULL.
///
/// The string belongs to the library and stays valid only until this thread's next call of
/// another function of this library: every function that returns a connect_status replaces
/// it (with "" on success), and any other may; copy the text to keep it. Inside a
/// connect_update_callback it is the message of the call being reported.
///
/// What it may contain: for a failure the library detected, a message it composed from names
/// (fields, config keys, environment variables, files and lines, credential providers, hosts),
/// rules, statuses, HTTP statuses and request ids, never the value of a sensitive request
/// member (Name, Description, a recipient's EmailAddress or DisplayName); for an error the
/// service (or a credential provider's endpoint) returned, that endpoint's own message, which
/// may quote what was sent (IDs, References, attributes), with every sensitive request value
/// of 4 or more characters replaced by `** redacted **`. In every case the client's secret
/// key and session token are replaced by `** redacted **` wherever they appear, whatever the
/// text's source.
///
/// Fork: per thread; in the child, the forking thread keeps its last message.
#[no_mangle]
pub extern "C" fn connect_last_error_message() -> *const c_char {
    guard(c"".as_ptr(), || {
        LAST_ERROR
            .try_with(|cell| cell.borrow().as_ptr())
            .unwrap_or(c"".as_ptr())
    })
}

/// The name of a status, e.g. "CONNECT_STATUS_THROTTLING"; "CONNECT_STATUS_UNKNOWN" for a
/// number that is not a status. Static storage; never NULL; any thread, either side of fork().
#[no_mangle]
pub extern "C" fn connect_status_name(status: StatusArg) -> *const c_char {
    guard(c"CONNECT_STATUS_UNKNOWN".as_ptr(), || {
        Status::from_code(status)
            .map_or(c"CONNECT_STATUS_UNKNOWN".as_ptr(), |s| s.c_name().as_ptr())
    })
}

const VERSION: &CStr =
    match CStr::from_bytes_with_nul(concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes()) {
        Ok(v) => v,
        Err(_) => c"unknown",
    };

/// The library version, e.g. "0.1.0". Static storage; never NULL; any thread, either side of
/// fork().
#[no_mangle]
pub extern "C" fn connect_version() -> *const c_char {
    VERSION.as_ptr()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_names_cover_unknown_numbers() {
        let name = |n| {
            unsafe { CStr::from_ptr(connect_status_name(n)) }
                .to_str()
                .unwrap()
                .to_owned()
        };
        assert_eq!(name(407), "CONNECT_STATUS_THROTTLING");
        assert_eq!(name(-1), "CONNECT_STATUS_UNKNOWN");
        assert_eq!(
            unsafe { CStr::from_ptr(connect_version()) }
                .to_str()
                .unwrap(),
            env!("CARGO_PKG_VERSION")
        );
    }
}
