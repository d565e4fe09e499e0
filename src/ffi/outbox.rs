//! The outbox exports: open, enqueue, flush, stats, dead letters, close.

use std::ffi::{c_char, c_void};
use std::ptr;
use std::sync::Arc;

use super::client::connect_client;
use super::{
    arg_c_str, arg_ref, arg_str, arg_str_or_null, c_text, call, call_back, guard, optional_out,
    out_ptr, utf8, BoundaryError, UserData,
};
use crate::error::{Error, Status};
use crate::model::UpdateContactRequest;
use crate::outbox::{DeadLetter, Outbox, OutboxEvent, OutboxOptions};

/// A durable, quota-aware outbox of UpdateContact calls on a file (see docs/outbox.md).
/// Create with connect_outbox_open(), release with connect_outbox_close().
///
/// Thread safety: a `const connect_outbox *` may be used by any number of threads at once,
/// until connect_outbox_close(), which no other call on it may overlap.
#[derive(Debug)]
pub struct connect_outbox {
    outbox: Outbox,
}

/// Told of each delivery and each dead letter of an outbox.
///
/// @param id          The id connect_outbox_enqueue() returned.
/// @param status      CONNECT_STATUS_OK when delivered; for a dead letter, the status of its
///                    last error.
/// @param event_json  `{"Id", "Event": "Delivered"}` or `{"Id", "Event": "Dead", "Error":
///                    {"Code", "Message"}}`; owned by the library, valid during the call only.
/// @param user_data   What was given to connect_outbox_open().
///
/// Runs on one of the outbox's delivery threads; must return, and must not call
/// connect_outbox_close() on its own outbox.
pub type connect_outbox_callback = Option<
    unsafe extern "C" fn(
        id: u64,
        status: Status,
        event_json: *const c_char,
        user_data: *mut c_void,
    ),
>;

/// The `outbox` argument of every export but open and close.
///
/// SAFETY: `outbox` is NULL or from connect_outbox_open() and not yet closed.
unsafe fn outbox_arg<'a>(outbox: *const connect_outbox) -> Result<&'a Outbox, BoundaryError> {
    // SAFETY: per this function's contract.
    Ok(&unsafe { arg_ref(outbox, "outbox") }?.outbox)
}

/// Opens (or creates) an outbox — a file, or a queue in a PostgreSQL database — and starts
/// delivering what it holds in the background.
///
/// @param client        A client from connect_client_new(); the outbox keeps its own reference,
///                      so the client may be freed before the outbox is closed.
/// @param path          The outbox file (SQLite, WAL mode; `-wal` and `-shm` files beside it).
///                      Several processes may open the same file: each update is delivered
///                      by one of them. A new file is created owner-only (0600, and so are
///                      its `-wal` and `-shm`). An existing file is opened only when it is
///                      empty or an outbox this version reads; any other is refused
///                      without being written to. Or a `postgres://` / `postgresql://` URL
///                      (`sslmode`, `sslrootcert` as libpq takes them): a queue several hosts
///                      share, paced as one (a library built with the cargo feature
///                      `postgres`; else INVALID_CONFIG).
/// @param options_json  NULL or a JSON object with any of: rate (calls/s to start from,
///                      0.001 to 100000, default 2), burst (default 5), max_age_ms (retry
///                      until then, then dead letter; default 86400000), workers (1..=64,
///                      default 4), max_coalesce (1..=1000, default 50), max_backoff_ms
///                      (default 30000), lease_ms (how long one call holds its contact's
///                      updates before another thread or process may take them over; at
///                      least the client's timeout + 1000, default the client's timeout +
///                      30000), queue (PostgreSQL only: the queue's name, one per account
///                      and Region, default "default").
/// @param callback      NULL, or told of each delivery and dead letter (see
///                      connect_outbox_callback).
/// @param user_data     Passed to the callback untouched.
/// @param outbox_out    Receives the outbox on CONNECT_STATUS_OK only.
/// @return CONNECT_STATUS_OK, NULL_ARGUMENT (client, path or outbox_out), INVALID_UTF8,
///         INVALID_JSON, INVALID_CONFIG (an option, named; a URL that cannot be read),
///         STORAGE (the file or database cannot be opened or written, is not an outbox, or
///         is an outbox of a newer version: the message names it — a database without its
///         password — and the reason), PANIC. On failure nothing is left running.
#[no_mangle]
pub unsafe extern "C" fn connect_outbox_open(
    client: *const connect_client,
    path: *const c_char,
    options_json: *const c_char,
    callback: connect_outbox_callback,
    user_data: *mut c_void,
    outbox_out: *mut *mut connect_outbox,
) -> Status {
    call(ptr::null_mut(), || {
        // SAFETY (every argument): as the contract above says. Every argument is checked for
        // NULL before any for UTF-8.
        let client = &unsafe { arg_ref(client, "client") }?.client;
        let path = unsafe { arg_c_str(path, "path") }?;
        let outbox_out = unsafe { out_ptr(outbox_out, "outbox_out") }?;
        let path = utf8(path, "path")?;
        let mut options = match unsafe { arg_str_or_null(options_json, "options_json") }? {
            Some(text) => OutboxOptions::from_json(text)?,
            None => OutboxOptions::default(),
        };
        if let Some(function) = callback {
            let user_data = UserData(user_data);
            options.on_event = Some(Arc::new(move |event: &OutboxEvent| {
                // The whole UserData (Send + Sync), not its raw pointer field alone.
                let data = user_data;
                let (id, status, json) = match event {
                    OutboxEvent::Delivered { id } => (
                        *id,
                        Status::Ok,
                        serde_json::json!({"Id": id, "Event": "Delivered"}),
                    ),
                    OutboxEvent::Dead {
                        id,
                        status,
                        code,
                        message,
                    } => (
                        *id,
                        *status,
                        serde_json::json!({"Id": id, "Event": "Dead",
                            "Error": {"Code": code, "Message": message}}),
                    ),
                };
                let text = c_text(json.to_string());
                call_back(|| {
                    // SAFETY: the caller's function pointer, a NUL-terminated string that
                    // lives through the call, and the caller's own user_data.
                    unsafe { function(id, status, text.as_ptr(), data.0) }
                });
            }));
        }
        let outbox = Outbox::open(Arc::clone(client), path, options)?;
        outbox_out.write(Box::into_raw(Box::new(connect_outbox { outbox })));
        Ok(String::new())
    })
}

/// Validates a request exactly as connect_update_contact() does and stores it durably.
///
/// @param request_json  As for connect_update_contact().
/// @param id_out        NULL, or receives the update's id on CONNECT_STATUS_OK.
/// @return CONNECT_STATUS_OK (on disk: survives kill -9 and power loss); NULL_ARGUMENT,
///         INVALID_UTF8, INVALID_JSON, VALIDATION (same status and message as
///         connect_update_contact(); nothing stored); STORAGE (the file cannot be written,
///         e.g. the disk is full, or it was deleted or replaced since the outbox opened it);
///         PANIC.
#[no_mangle]
pub unsafe extern "C" fn connect_outbox_enqueue(
    outbox: *const connect_outbox,
    request_json: *const c_char,
    id_out: *mut u64,
) -> Status {
    call(ptr::null_mut(), || {
        // SAFETY (every argument): as the contract above says.
        let outbox = unsafe { outbox_arg(outbox) }?;
        let text = unsafe { arg_str(request_json, "request_json") }?;
        let id = outbox.enqueue(&UpdateContactRequest::from_json(text)?)?;
        if let Some(id_out) = unsafe { optional_out(id_out) } {
            id_out.write(id);
        }
        Ok(String::new())
    })
}

/// Waits until every update enqueued before the call (by any process on the file) is
/// delivered or dead.
///
/// @return CONNECT_STATUS_OK when so; TIMEOUT when `timeout_ms` passed first; NULL_ARGUMENT;
///         STORAGE (the file cannot be read); PANIC.
#[no_mangle]
pub unsafe extern "C" fn connect_outbox_flush(
    outbox: *const connect_outbox,
    timeout_ms: u64,
) -> Status {
    call(ptr::null_mut(), || {
        // SAFETY: as the contract above says.
        let outbox = unsafe { outbox_arg(outbox) }?;
        if outbox.flush(std::time::Duration::from_millis(timeout_ms))? {
            Ok(String::new())
        } else {
            Err(BoundaryError::local(
                Status::Timeout,
                format!("connect_outbox_flush: updates still pending after {timeout_ms} ms"),
            ))
        }
    })
}

/// Writes the outbox's counters as JSON: `{"pending", "oldest_pending_age_ms", "delivered",
/// "dead", "attempts", "throttled", "send_rate"}`.
///
/// @param stats_json_out  Receives the counters on CONNECT_STATUS_OK, and an error document
///                        (`{"Error": {"Code": "CONNECT_STATUS_PANIC", "Message"}, ...}`) on
///                        CONNECT_STATUS_PANIC; either way the caller owns it and frees it with
///                        connect_string_free(). Untouched on NULL_ARGUMENT.
/// @return CONNECT_STATUS_OK, NULL_ARGUMENT (outbox or stats_json_out), PANIC.
#[no_mangle]
pub unsafe extern "C" fn connect_outbox_stats(
    outbox: *const connect_outbox,
    stats_json_out: *mut *mut c_char,
) -> Status {
    call(stats_json_out, || {
        // SAFETY (both): as the contract above says. `call` writes the document through
        // stats_json_out.
        unsafe { out_ptr(stats_json_out, "stats_json_out") }?;
        Ok(unsafe { outbox_arg(outbox) }?.stats().to_json())
    })
}

/// Writes the dead letters as a JSON array `[{"Id", "Request", "Error": {"Code", "Message",
/// "Status"}, "Attempts"}]`.
///
/// @param dead_letters_json_out  Receives the array on CONNECT_STATUS_OK, and an error
///                               document (`{"Error": {"Code", "Message"}, ...}`, the code
///                               the status name) on STORAGE and PANIC; either way the caller
///                               owns it and frees it with connect_string_free(). Untouched
///                               on NULL_ARGUMENT.
/// @return CONNECT_STATUS_OK, NULL_ARGUMENT (outbox or dead_letters_json_out), STORAGE (the
///         file cannot be read), PANIC.
#[no_mangle]
pub unsafe extern "C" fn connect_outbox_dead_letters(
    outbox: *const connect_outbox,
    dead_letters_json_out: *mut *mut c_char,
) -> Status {
    call(dead_letters_json_out, || {
        // SAFETY (both): as the contract above says. `call` writes the document through
        // dead_letters_json_out.
        unsafe { out_ptr(dead_letters_json_out, "dead_letters_json_out") }?;
        let outbox = unsafe { outbox_arg(outbox) }?;
        Ok(DeadLetter::list_to_json(&outbox.dead_letters()?))
    })
}

/// The dead letter `id` of `outbox`, retried or discarded by `op`.
///
/// SAFETY: as for [`outbox_arg`].
unsafe fn dead_letter_op(
    outbox: *const connect_outbox,
    id: u64,
    what: &str,
    op: impl FnOnce(&Outbox, u64) -> Result<bool, Error>,
) -> Status {
    call(ptr::null_mut(), || {
        // SAFETY: per this function's contract.
        if op(unsafe { outbox_arg(outbox) }?, id)? {
            Ok(String::new())
        } else {
            Err(BoundaryError::local(
                Status::InvalidConfig,
                format!("{what}: {id} is not a dead letter of this outbox"),
            ))
        }
    })
}

/// Puts dead letter `id` back in line, with a fresh max_age.
///
/// @return CONNECT_STATUS_OK; INVALID_CONFIG when `id` is not a dead letter; STORAGE (the file
///         cannot be written); NULL_ARGUMENT; PANIC.
#[no_mangle]
pub unsafe extern "C" fn connect_outbox_retry(outbox: *const connect_outbox, id: u64) -> Status {
    dead_letter_op(outbox, id, "connect_outbox_retry", Outbox::retry_dead)
}

/// Deletes dead letter `id`.
///
/// @return CONNECT_STATUS_OK; INVALID_CONFIG when `id` is not a dead letter; STORAGE (the file
///         cannot be written); NULL_ARGUMENT; PANIC.
#[no_mangle]
pub unsafe extern "C" fn connect_outbox_discard(outbox: *const connect_outbox, id: u64) -> Status {
    dead_letter_op(outbox, id, "connect_outbox_discard", Outbox::discard_dead)
}

/// Stops delivering (calls in flight finish, within the client's timeout_ms) and releases the
/// outbox; pending updates stay in the file for the next open. NULL is a no-op.
///
/// The caller must make sure no other thread is still in a call on this outbox, and none
/// starts one: they would use freed memory (the Python binding counts its calls in flight
/// and waits for them). Never from the outbox's own callback.
///
/// Fork: an outbox does not survive fork(); in the child, close only releases the child's
/// copy (it waits for no thread and closes nothing of the parent's) and the parent's outbox
/// is unaffected.
#[no_mangle]
pub unsafe extern "C" fn connect_outbox_close(outbox: *mut connect_outbox) {
    guard((), || {
        if !outbox.is_null() {
            // SAFETY: from connect_outbox_open(), closed once.
            unsafe { Box::from_raw(outbox) }.outbox.close();
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ClientConfig;
    use crate::ffi::{connect_client_free, last_error};

    /// The two outbox exports that write a document through their out-pointer check it inside
    /// the boundary, as every argument: NULL is NULL_ARGUMENT naming it, nothing is written.
    #[test]
    fn null_out_pointers_are_refused_and_named() {
        // Built as connect_client_new builds it, from an empty environment.
        let config = ClientConfig::from_json(
            r#"{"region":"us-east-1","endpoint_url":"http://127.0.0.1:9","access_key_id":"a","secret_access_key":"b"}"#,
        )
        .unwrap();
        let settings = config.resolve_with(&|_| None).unwrap();
        let client = Box::into_raw(Box::new(connect_client::build(&config, settings)));
        let dir = std::env::temp_dir().join(format!("connect-ffi-outbox-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = std::ffi::CString::new(dir.join("null-out.db").to_str().unwrap()).unwrap();
        let mut outbox = ptr::null_mut();
        let opened = unsafe {
            connect_outbox_open(
                client,
                path.as_ptr(),
                ptr::null(),
                None,
                ptr::null_mut(),
                &mut outbox,
            )
        };
        assert_eq!(opened, Status::Ok, "{}", last_error());
        assert_eq!(
            unsafe { connect_outbox_stats(outbox, ptr::null_mut()) },
            Status::NullArgument
        );
        assert_eq!(last_error(), "stats_json_out is NULL");
        assert_eq!(
            unsafe { connect_outbox_dead_letters(outbox, ptr::null_mut()) },
            Status::NullArgument
        );
        assert_eq!(last_error(), "dead_letters_json_out is NULL");
        let sentinel = std::ptr::dangling_mut::<c_char>();
        let mut out = sentinel;
        assert_eq!(
            unsafe { connect_outbox_stats(ptr::null(), &mut out) },
            Status::NullArgument
        );
        assert_eq!(last_error(), "outbox is NULL");
        assert_eq!(
            unsafe { connect_outbox_dead_letters(ptr::null(), &mut out) },
            Status::NullArgument
        );
        assert_eq!(out, sentinel, "nothing written on NULL_ARGUMENT");
        unsafe {
            connect_outbox_close(outbox);
            connect_client_free(client);
        }
        std::fs::remove_dir_all(&dir).ok();
    }
}
