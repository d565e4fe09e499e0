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
use std::ptr;
use std::sync::Arc;

use crate::client::Client;
use crate::config::{ClientConfig, Settings, DEFAULT_ASYNC_QUEUE, DEFAULT_ASYNC_WORKERS};
use crate::error::{Error, Status};
use crate::log::{set_sink, LogLevel, LogSink};
use crate::model::UpdateContactRequest;
use crate::outbox::{DeadLetter, Outbox, OutboxEvent, OutboxOptions};
use crate::pool::{Pool, Refused, Run};
use crate::protocol::response::error_document;

/// An Amazon Connect client: configuration, credentials, signing key material and a pool of
/// connections. Create with connect_client_new(), release with connect_client_free().
///
/// Thread safety: a `const connect_client *` may be used by any number of threads at once.
#[derive(Debug)]
pub struct connect_client {
    // Shared with queued asynchronous calls, which may outlive a free started from a callback.
    client: Arc<Client>,
    // Started on the first asynchronous call; dropping it cancels, finishes and joins.
    pool: Pool,
    // Test hook: every call on this client panics inside the boundary (see TEST_PANIC).
    panics: bool,
}

/// Set when a client is built, this makes every UpdateContact through that client panic
/// inside the library, so the C, C++ and Python tests can see a caught panic become
/// CONNECT_STATUS_PANIC with the process still running. A panic is otherwise only reachable
/// through a bug; the hook costs one flag test per call and does nothing unless set.
const TEST_PANIC: &str = "CONNECT_CONTACT_TEST_PANIC";

impl connect_client {
    /// The client `config` describes, with `settings` resolved from it.
    fn build(config: &ClientConfig, settings: Settings) -> connect_client {
        connect_client {
            client: Arc::new(Client::with_settings(settings)),
            pool: Pool::new(
                config.async_workers.unwrap_or(DEFAULT_ASYNC_WORKERS),
                config.async_queue.unwrap_or(DEFAULT_ASYNC_QUEUE),
            ),
            panics: false,
        }
    }
}

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

/// A caller's `void *user_data`, handed back to its callback from whichever thread runs it.
#[derive(Clone, Copy)]
struct UserData(*mut c_void);

// SAFETY: connect_set_log_callback() and connect_update_contact_async() document that the
// callback and user_data must be usable from any thread; the library never dereferences
// user_data, it only passes it back.
unsafe impl Send for UserData {}
unsafe impl Sync for UserData {}

/// A C callback as a log sink.
struct CallbackSink {
    callback: unsafe extern "C" fn(LogLevelArg, *const c_char, *mut c_void),
    user_data: UserData,
}

impl LogSink for CallbackSink {
    fn log(&self, level: LogLevel, message: &str) {
        let line = CString::new(message.replace('\0', "\u{FFFD}")).unwrap_or_default();
        // SAFETY: a valid function pointer from the caller, a NUL-terminated line that lives
        // through the call, and the caller's own user_data.
        unsafe { (self.callback)(level as i32, line.as_ptr(), self.user_data.0) }
    }
}

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

/// Creates a client.
///
/// @param config_json  NULL, `""` or `"{}"` to take everything from the environment, or a JSON
///                     object with any of these keys (docs/configuration.md):region,
///                     endpoint_url, ignore_configured_endpoint_urls, use_fips_endpoint,
///                     use_dualstack_endpoint, profile, access_key_id, secret_access_key,
///                     session_token, proxy, ca_bundle, connect_timeout_ms, timeout_ms,
///                     attempt_timeout_ms, max_attempts, retry_mode, new_retries_2026,
///                     async_workers, async_queue, client_validation, strict_enums, allow_http.
///                     Borrowed for the duration of the call.
/// @param client_out   Receives the new client on CONNECT_STATUS_OK only; the caller owns it
///                     and releases it with connect_client_free().
/// @return CONNECT_STATUS_OK, NULL_ARGUMENT (client_out is NULL), INVALID_UTF8, INVALID_JSON,
///         INVALID_CONFIG (the message names the key), NO_REGION, NO_CREDENTIALS, or PANIC.
///         Details of a failure: connect_last_error_message().
///
/// Deadline: `timeout_ms` (default 10000) bounds every call on the client from start to
/// status, credential lookup included: a credential provider still working when the deadline
/// passes (a slow credential_process, container endpoint or metadata service) makes that call
/// CONNECT_STATUS_TIMEOUT naming the provider, and goes on in the background within its own
/// limit (credential_process 60 s; container, IMDS, STS, SSO a few seconds); what it fetches
/// serves the calls after it. Nothing a call does keeps it past its deadline.
///
/// Thread safety: may be called from any thread.
///
/// Fork: a client may be created before or after fork(). The first call in a process installs
/// a pthread_atfork() handler by which every client notices it is in a child (see
/// connect_update_contact() and connect_update_contact_async()).
#[no_mangle]
pub unsafe extern "C" fn connect_client_new(
    config_json: *const c_char,
    client_out: *mut *mut connect_client,
) -> Status {
    call(ptr::null_mut(), || {
        if client_out.is_null() {
            return Err(Failure::null("client_out"));
        }
        watch_forks();
        let config = if config_json.is_null() {
            ClientConfig::default()
        } else {
            // SAFETY: non-NULL, and the caller promises a NUL-terminated string.
            ClientConfig::from_json(unsafe { utf8(config_json, "config_json") }?)?
        };
        let mut client = Box::new(connect_client::build(&config, config.resolve()?));
        // Debug builds only (the test suite's): a released library never reads it.
        client.panics =
            cfg!(debug_assertions) && std::env::var_os(TEST_PANIC).is_some_and(|v| v == "1");
        // SAFETY: client_out is non-NULL and writable, per the contract above.
        unsafe { *client_out = Box::into_raw(client) };
        Ok(String::new())
    })
}

/// Installs, once per process, the `pthread_atfork` child handler that moves
/// [`crate::fork::generation`], so pools and pooled connections made before a fork are not
/// used after it in the child.
fn watch_forks() {
    #[cfg(unix)]
    {
        static ONCE: std::sync::Once = std::sync::Once::new();
        extern "C" fn child() {
            crate::fork::forked();
        }
        ONCE.call_once(|| {
            // SAFETY: registers a handler with no state that only adds to an atomic, which is
            // async-signal-safe as a fork child handler must be. A failure (ENOMEM) leaves fork
            // detection off, as before; nothing else depends on it.
            unsafe { libc::pthread_atfork(None, None, Some(child)) };
        });
    }
}

/// Releases a client made by connect_client_new(). NULL is a no-op.
///
/// The caller must make sure no other thread is still using the client, except the client's
/// own callbacks. With asynchronous calls outstanding it: stops accepting new ones (a callback
/// that submits gets CONNECT_STATUS_CANCELLED back); lets calls already running finish and
/// report normally (each bounded by timeout_ms); completes every call still queued with
/// CONNECT_STATUS_CANCELLED (not sent); waits for the worker threads; then frees. So when it
/// returns, every callback has returned. Called from one of this client's own callbacks, it
/// does the same but cannot wait for that callback's worker, which ends once the callback
/// returns. A credential refresh that outlived its call's deadline may still be running; it
/// ends within its provider's limit and touches nothing the caller owns.
///
/// Fork: the parent and the child each own a copy: free it in both. In the child this never
/// waits for or joins the parent's worker threads (they do not exist there), drops the
/// parent's queued calls without calling back (the parent reports them), and closes only the
/// child's copies of the connections; the parent's client is unaffected.
#[no_mangle]
pub unsafe extern "C" fn connect_client_free(client: *mut connect_client) {
    guard((), || {
        if !client.is_null() {
            // SAFETY: the pointer came from connect_client_new() and is freed once.
            drop(unsafe { Box::from_raw(client) });
        }
    })
}

/// Adds or updates a contact's information (Amazon Connect UpdateContact).
///
/// @param client             A client from connect_client_new(). Borrowed; may be shared by
///                           many threads calling at once.
/// @param request_json       The request as `aws connect update-contact --cli-input-json` takes
///                           it: InstanceId, ContactId, and at least one of Name, Description,
///                           References, SegmentAttributes, QueueInfo, UserInfo,
///                           CustomerEndpoint, SystemEndpoint. Borrowed for the call.
/// @param response_json_out  NULL, or receives a response document on success and on every
///                           failure but NULL_ARGUMENT:
///                           `{"ResponseMetadata": {"RequestId", "HTTPStatusCode", "HTTPHeaders",
///                           "RetryAttempts"}}` (and `"MaxAttemptsReached": true` once the
///                           attempt limit is reached, as boto3), or `{"Error": {"Code",
///                           "Message"}, "ResponseMetadata": {...}, "Details": {...}}`: Message
///                           is the service's own; Details (when any) holds StopReason (how
///                           retrying stopped), Transport (ConnectTimeout, ReadTimeout,
///                           EndpointConnection or ConnectionClosed) and EndpointUrl.
///                           The caller owns it and frees it with connect_string_free().
///                           Error.Message is connect_last_error_message()'s text (see there
///                           for what it may contain); Error.Code the service's error code or
///                           the status name; RequestId the service's x-amzn-RequestId.
///                           Neither ever holds the secret key or the session token.
/// @return CONNECT_STATUS_OK; caller errors NULL_ARGUMENT, INVALID_UTF8, INVALID_JSON,
///         VALIDATION (nothing was sent; the message names the field and the rule);
///         TRANSPORT, TIMEOUT, INVALID_RESPONSE; the service's ACCESS_DENIED, CONFLICT,
///         INTERNAL_SERVICE, INVALID_ACTIVE_REGION, INVALID_PARAMETER, INVALID_REQUEST,
///         RESOURCE_NOT_FOUND, THROTTLING, or SERVICE_ERROR for any other code; or PANIC.
///         Throttling and transient failures are retried (max_attempts) before returning.
///
/// Thread safety: may be called concurrently on one client. Blocks until done, at most
/// timeout_ms (credential lookup included; see connect_client_new()).
///
/// Fork: works in the child of a fork() on a client created before it. The child opens its
/// own connections (it never uses the parent's pooled ones, which the parent goes on using)
/// and keeps the credentials the parent had cached. As with any multithreaded library, do
/// not fork while another thread is inside a call of this library: a lock it holds would stay
/// held in the child.
#[no_mangle]
pub unsafe extern "C" fn connect_update_contact(
    client: *const connect_client,
    request_json: *const c_char,
    response_json_out: *mut *mut c_char,
) -> Status {
    call(response_json_out, || {
        if client.is_null() {
            return Err(Failure::null("client"));
        }
        if request_json.is_null() {
            return Err(Failure::null("request_json"));
        }
        // SAFETY: both non-NULL; the caller promises a live client and a C string.
        let (client, text) = unsafe { (&*client, utf8(request_json, "request_json")?) };
        update(&client.client, text, client.panics)
    })
}

/// The client's resolved configuration, like `aws configure list`: a JSON object with one
/// member per setting (docs/configuration.md), each `{"value": ..., "source": ...}`. The source
/// is `config key "region"`, an environment variable's name, `profile "dev" key "region"`,
/// `default`, or the credential provider. Secrets (the secret key, the session token, the
/// proxy URL) have only a source, never a value; the credentials are not fetched.
///
/// @param client    A client from connect_client_new(). Borrowed.
/// @param json_out  Receives the document on CONNECT_STATUS_OK; the caller frees it with
///                  connect_string_free().
/// @return CONNECT_STATUS_OK, NULL_ARGUMENT (client or json_out is NULL), or PANIC.
///
/// Thread safety: may be called from any thread, concurrently with calls on the client.
#[no_mangle]
pub unsafe extern "C" fn connect_client_config_json(
    client: *const connect_client,
    json_out: *mut *mut c_char,
) -> Status {
    if json_out.is_null() {
        return call(ptr::null_mut(), || Err(Failure::null("json_out")));
    }
    call(json_out, || {
        if client.is_null() {
            return Err(Failure::null("client"));
        }
        // SAFETY: non-NULL; the caller promises a live client.
        Ok(unsafe { &(*client).client }.settings().to_json())
    })
}

/// One UpdateContact from request JSON to response document: the sync and async paths share it.
fn update(client: &Client, request_json: &str, panics: bool) -> Result<String, Failure> {
    if panics {
        panic!("{TEST_PANIC}=1 was set when this client was built: a deliberate panic");
    }
    let request = UpdateContactRequest::from_json(request_json)?;
    Ok(client.update_contact(&request)?.to_document())
}

/// Receives the outcome of connect_update_contact_async().
///
/// @param status         The status the blocking call would have returned, or
///                       CONNECT_STATUS_CANCELLED when the client was freed before the call
///                       started.
/// @param response_json  The response document, as connect_update_contact() writes it; never
///                       NULL. Owned by the library and valid only until the callback returns:
///                       copy what you need, do not free it.
/// @param user_data      What the caller passed to connect_update_contact_async().
///
/// Runs on one of the client's worker threads, in the process that made the call: after a
/// fork(), calls submitted before it call back in the parent only. During the callback,
/// connect_last_error_message() on that thread returns this call's message ("" on success).
/// The callback must return (not longjmp, not throw a C++ exception); it may call any function
/// of this library, including connect_update_contact_async() and connect_client_free().
pub type connect_update_callback = Option<
    unsafe extern "C" fn(status: Status, response_json: *const c_char, user_data: *mut c_void),
>;

/// The caller's callback and its argument on their way to a worker thread.
struct Callback {
    function: unsafe extern "C" fn(Status, *const c_char, *mut c_void),
    user_data: UserData,
}

impl Callback {
    /// Runs the call (or cancels it) and reports the outcome, exactly once.
    fn complete(self, client: &Client, request_json: &str, panics: bool, run: Run) {
        let mut document: *mut c_char = ptr::null_mut();
        let status = call(&mut document, || match run {
            Run::Execute => update(client, request_json, panics),
            Run::Cancel => Err(Failure::local(
                Status::Cancelled,
                "the client was freed before this call started; it was not sent",
            )),
        });
        // `call` always writes a document here (only NULL_ARGUMENT skips it, and it cannot
        // happen on this path); a panic in the caller's code around the callback is caught so
        // the document is still freed and the worker lives on.
        let function = self.function;
        let _ = catch_unwind(AssertUnwindSafe(|| {
            // SAFETY: a function pointer the caller gave us, with the argument it gave us and a
            // valid NUL-terminated document that lives until after the call.
            unsafe { function(status, document, self.user_data.0) }
        }));
        // SAFETY: the document came from `call` and is freed once.
        unsafe { connect_string_free(document) };
    }
}

/// Starts an UpdateContact and returns at once; the outcome goes to `callback`.
///
/// @param client        A client from connect_client_new(). Borrowed; its worker threads
///                      (async_workers of them) start on the first asynchronous call.
/// @param request_json  As for connect_update_contact(). Copied before this returns.
/// @param callback      Called exactly once for every call this function accepts (returns
///                      CONNECT_STATUS_OK), on a worker thread: see connect_update_callback.
///                      Never called when this function returns anything else.
/// @param user_data     Passed to the callback untouched; may be NULL. It and the callback
///                      must be usable from another thread.
/// @return CONNECT_STATUS_OK (accepted: parse, validation and service errors arrive at the
///         callback); NULL_ARGUMENT (client, request_json or callback is NULL); INVALID_UTF8;
///         QUEUE_FULL (async_queue calls are already waiting; nothing was queued);
///         CANCELLED (connect_client_free() has begun); THREAD_START (no worker could be
///         started); or PANIC. Details: connect_last_error_message() on the calling thread.
///
/// Thread safety: may be called concurrently on one client, and from inside a callback.
///
/// Fork: works in the child of a fork() on a client created (and used asynchronously) before
/// it. The child has none of the parent's worker threads: its first asynchronous call drops
/// the parent's queued calls from its copy of the queue (the parent runs and reports them)
/// and starts the child's own workers; its calls then complete and call back as usual.
#[no_mangle]
pub unsafe extern "C" fn connect_update_contact_async(
    client: *const connect_client,
    request_json: *const c_char,
    callback: connect_update_callback,
    user_data: *mut c_void,
) -> Status {
    call(ptr::null_mut(), || {
        if client.is_null() {
            return Err(Failure::null("client"));
        }
        if request_json.is_null() {
            return Err(Failure::null("request_json"));
        }
        let Some(function) = callback else {
            return Err(Failure::null("callback"));
        };
        // SAFETY: both non-NULL; the caller promises a live client and a C string.
        let (client, text) = unsafe { (&*client, utf8(request_json, "request_json")?) };
        let request_json = text.to_owned();
        let callback = Callback {
            function,
            user_data: UserData(user_data),
        };
        let shared = Arc::clone(&client.client);
        let panics = client.panics;
        let job = Box::new(move |run| callback.complete(&shared, &request_json, panics, run));
        client.pool.submit(job).map_err(|refused| match refused {
            Refused::Full { capacity } => Failure::local(
                Status::QueueFull,
                format!(
                    "{capacity} asynchronous calls are already waiting (config key \"async_queue\"); \
                     nothing was queued"
                ),
            ),
            Refused::Closed => Failure::local(
                Status::Cancelled,
                "connect_client_free() has begun on this client; no new calls are accepted",
            ),
            Refused::Spawn(e) => Failure::local(
                Status::ThreadStart,
                format!("could not start a worker thread for asynchronous calls: {e}"),
            ),
        })?;
        Ok(String::new())
    })
}

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

fn outbox_ref<'a>(outbox: *const connect_outbox) -> Result<&'a Outbox, Failure> {
    if outbox.is_null() {
        return Err(Failure::null("outbox"));
    }
    // SAFETY: non-NULL; the caller promises an outbox from connect_outbox_open() not yet closed.
    Ok(unsafe { &(*outbox).outbox })
}

/// Opens (or creates) an outbox file and starts delivering what it holds in the background.
///
/// @param client        A client from connect_client_new(); the outbox keeps its own reference,
///                      so the client may be freed before the outbox is closed.
/// @param path          The outbox file (SQLite, WAL mode; `-wal` and `-shm` files beside it).
///                      Several processes may open the same file: each update is delivered
///                      by one of them. A new file is created owner-only (0600, and so are
///                      its `-wal` and `-shm`). An existing file is opened only when it is
///                      empty or an outbox this version reads; any other is refused
///                      without being written to.
/// @param options_json  NULL or a JSON object with any of: rate (calls/s to start from,
///                      0.001 to 100000, default 2), burst (default 5), max_age_ms (retry
///                      until then, then dead letter; default 86400000), workers (1..=64,
///                      default 4), max_coalesce (1..=1000, default 50), max_backoff_ms
///                      (default 30000), lease_ms (how long one call holds its contact's
///                      updates before another thread or process may take them over; at
///                      least the client's timeout + 1000, default the client's timeout +
///                      30000).
/// @param callback      NULL, or told of each delivery and dead letter (see
///                      connect_outbox_callback).
/// @param user_data     Passed to the callback untouched.
/// @param outbox_out    Receives the outbox on CONNECT_STATUS_OK only.
/// @return CONNECT_STATUS_OK, NULL_ARGUMENT (client, path or outbox_out), INVALID_UTF8,
///         INVALID_JSON, INVALID_CONFIG (an option, named), STORAGE (the file cannot be
///         opened or written, is not an outbox, or is an outbox of a newer version: the
///         message names it and the reason), PANIC. On failure nothing is left running.
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
        if client.is_null() {
            return Err(Failure::null("client"));
        }
        if path.is_null() {
            return Err(Failure::null("path"));
        }
        if outbox_out.is_null() {
            return Err(Failure::null("outbox_out"));
        }
        // SAFETY: non-NULL; the caller promises a live client and C strings.
        let (client, path) = unsafe { (&(*client).client, utf8(path, "path")?) };
        let mut options = if options_json.is_null() {
            OutboxOptions::default()
        } else {
            // SAFETY: non-NULL C string.
            OutboxOptions::from_json(unsafe { utf8(options_json, "options_json") }?)?
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
                let text =
                    CString::new(json.to_string().replace('\0', "\u{FFFD}")).unwrap_or_default();
                let _ = catch_unwind(AssertUnwindSafe(|| {
                    // SAFETY: the caller's function pointer, a NUL-terminated string that
                    // lives through the call, and the caller's own user_data.
                    unsafe { function(id, status, text.as_ptr(), data.0) }
                }));
            }));
        }
        let outbox = Outbox::open(Arc::clone(client), path, options)?;
        // SAFETY: outbox_out is non-NULL and writable.
        unsafe { *outbox_out = Box::into_raw(Box::new(connect_outbox { outbox })) };
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
        let outbox = outbox_ref(outbox)?;
        if request_json.is_null() {
            return Err(Failure::null("request_json"));
        }
        // SAFETY: non-NULL C string.
        let text = unsafe { utf8(request_json, "request_json")? };
        let id = outbox.enqueue(&UpdateContactRequest::from_json(text)?)?;
        if !id_out.is_null() {
            // SAFETY: non-NULL and writable, per the contract.
            unsafe { *id_out = id };
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
        let outbox = outbox_ref(outbox)?;
        if outbox.flush(std::time::Duration::from_millis(timeout_ms))? {
            Ok(String::new())
        } else {
            Err(Failure::local(
                Status::Timeout,
                format!("connect_outbox_flush: updates still pending after {timeout_ms} ms"),
            ))
        }
    })
}

/// Writes the outbox's counters as JSON: `{"pending", "oldest_pending_age_ms", "delivered",
/// "dead", "attempts", "throttled", "send_rate"}`, freed with connect_string_free().
///
/// @return CONNECT_STATUS_OK, NULL_ARGUMENT (outbox or stats_json_out), PANIC.
#[no_mangle]
pub unsafe extern "C" fn connect_outbox_stats(
    outbox: *const connect_outbox,
    stats_json_out: *mut *mut c_char,
) -> Status {
    if stats_json_out.is_null() {
        return call(ptr::null_mut(), || Err(Failure::null("stats_json_out")));
    }
    call(stats_json_out, || Ok(outbox_ref(outbox)?.stats().to_json()))
}

/// Writes the dead letters as a JSON array `[{"Id", "Request", "Error": {"Code", "Message",
/// "Status"}, "Attempts"}]`, freed with connect_string_free().
///
/// @return CONNECT_STATUS_OK, NULL_ARGUMENT, STORAGE (the file cannot be read), PANIC.
#[no_mangle]
pub unsafe extern "C" fn connect_outbox_dead_letters(
    outbox: *const connect_outbox,
    dead_letters_json_out: *mut *mut c_char,
) -> Status {
    if dead_letters_json_out.is_null() {
        return call(ptr::null_mut(), || {
            Err(Failure::null("dead_letters_json_out"))
        });
    }
    call(dead_letters_json_out, || {
        Ok(DeadLetter::list_to_json(
            &outbox_ref(outbox)?.dead_letters()?,
        ))
    })
}

fn dead_letter_op(
    outbox: *const connect_outbox,
    id: u64,
    what: &str,
    op: impl FnOnce(&Outbox, u64) -> Result<bool, Error>,
) -> Status {
    call(ptr::null_mut(), || {
        if op(outbox_ref(outbox)?, id)? {
            Ok(String::new())
        } else {
            Err(Failure::local(
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
            Failure::local(
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
/// The string belongs to the library and stays valid until this thread's next call to
/// connect_client_new(), connect_update_contact() or connect_update_contact_async(). Inside a
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

    fn last_error() -> String {
        // SAFETY: the library returns a valid C string.
        unsafe { CStr::from_ptr(connect_last_error_message()) }
            .to_string_lossy()
            .into_owned()
    }

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
    fn null_arguments_leave_outputs_untouched() {
        let sentinel = std::ptr::dangling_mut::<c_char>();
        let mut doc = sentinel;
        let status = unsafe { connect_update_contact(ptr::null(), c"{}".as_ptr(), &mut doc) };
        assert_eq!(status, Status::NullArgument);
        assert_eq!(doc, sentinel);
        assert_eq!(last_error(), "client is NULL");
        assert_eq!(
            unsafe { connect_client_new(ptr::null(), ptr::null_mut()) },
            Status::NullArgument
        );
    }

    #[test]
    fn config_json_shows_sources_and_checks_its_arguments() {
        // Resolved against an empty environment, never this process's (which a contributor's
        // shell or scripts/hostile-env fills).
        let config = ClientConfig::from_json(
            r#"{"region":"eu-west-1","endpoint_url":"http://127.0.0.1:9","access_key_id":"a","secret_access_key":"SECRETCANARY","max_attempts":4}"#,
        )
        .unwrap();
        let settings = config.resolve_with(&|_| None).unwrap();
        let client = Box::into_raw(Box::new(connect_client::build(&config, settings)));
        let mut json = ptr::null_mut();
        assert_eq!(
            unsafe { connect_client_config_json(client, &mut json) },
            Status::Ok
        );
        let text = unsafe { CStr::from_ptr(json) }.to_str().unwrap().to_owned();
        unsafe { connect_string_free(json) };
        let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(doc["region"]["value"], "eu-west-1");
        assert_eq!(doc["max_attempts"]["source"], "config key \"max_attempts\"");
        assert_eq!(doc["max_attempts"]["value"], 4);
        assert!(!text.contains("SECRETCANARY"), "{text}");
        assert_eq!(
            unsafe { connect_client_config_json(client, ptr::null_mut()) },
            Status::NullArgument
        );
        assert_eq!(last_error(), "json_out is NULL");
        let sentinel = std::ptr::dangling_mut::<c_char>();
        let mut doc_out = sentinel;
        assert_eq!(
            unsafe { connect_client_config_json(ptr::null(), &mut doc_out) },
            Status::NullArgument
        );
        assert_eq!(doc_out, sentinel);
        unsafe { connect_client_free(client) };
    }

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

    #[test]
    fn messages_with_nul_bytes_survive() {
        set_last_error("a\0b");
        assert_eq!(last_error(), "a\u{FFFD}b");
    }

    unsafe extern "C" fn record(status: Status, document: *const c_char, user_data: *mut c_void) {
        // SAFETY: user_data is the Sender the test passed; the document is valid for the call.
        let tx =
            unsafe { &*(user_data as *const std::sync::mpsc::Sender<(Status, String, String)>) };
        let text = unsafe { CStr::from_ptr(document) }
            .to_string_lossy()
            .into_owned();
        let _ = tx.send((status, text, last_error()));
    }

    #[test]
    fn async_calls_report_once_through_the_callback() {
        // Built as connect_client_new builds it, from an empty environment instead of this
        // process's (tests never read the machine's AWS settings).
        let config = ClientConfig::from_json(
            r#"{"region":"us-east-1","endpoint_url":"http://127.0.0.1:9","access_key_id":"a","secret_access_key":"b","async_workers":1}"#,
        )
        .unwrap();
        let settings = config.resolve_with(&|_| None).unwrap();
        let client = Box::into_raw(Box::new(connect_client::build(&config, settings)));
        assert!(
            !unsafe { &*client }.pool.started(),
            "sync-only clients start no thread"
        );
        let (tx, rx) = std::sync::mpsc::channel::<(Status, String, String)>();
        let user_data = &tx as *const _ as *mut c_void;
        let submit = |json: &CStr, callback: connect_update_callback| unsafe {
            connect_update_contact_async(client, json.as_ptr(), callback, user_data)
        };
        assert_eq!(submit(c"{", None), Status::NullArgument);
        assert_eq!(last_error(), "callback is NULL");
        assert!(!unsafe { &*client }.pool.started());
        assert_eq!(submit(c"{", Some(record)), Status::Ok);
        let (status, document, message) =
            rx.recv_timeout(std::time::Duration::from_secs(10)).unwrap();
        assert_eq!(status, Status::InvalidJson);
        assert!(
            document.contains("CONNECT_STATUS_INVALID_JSON"),
            "{document}"
        );
        assert!(
            !message.is_empty(),
            "the worker's last error is this call's message"
        );
        unsafe { connect_client_free(client) };
        assert!(rx.try_recv().is_err(), "exactly one callback");
    }
}
