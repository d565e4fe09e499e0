//! The client exports: create, call (blocking and asynchronous), show the configuration, free.

use std::ffi::{c_char, c_void};
use std::ptr;
use std::sync::Arc;

use super::library::connect_string_free;
use super::pool::{Pool, Refused, Run};
use super::{
    arg_c_str, arg_fn, arg_ref, arg_str, arg_str_or_null, call, call_back, guard, out_ptr, utf8,
    BoundaryError, UserData,
};
use crate::client::Client;
use crate::config::{ClientConfig, Settings, DEFAULT_ASYNC_QUEUE, DEFAULT_ASYNC_WORKERS};
use crate::error::Status;
use crate::model::UpdateContactRequest;

/// An Amazon Connect client: configuration, credentials, signing key material and a pool of
/// connections. Create with connect_client_new(), release with connect_client_free().
///
/// Thread safety: a `const connect_client *` may be used by any number of threads at once.
#[derive(Debug)]
pub struct connect_client {
    // Shared with queued asynchronous calls, which may outlive a free started from a callback.
    pub(super) client: Arc<Client>,
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
    pub(super) fn build(config: &ClientConfig, settings: Settings) -> connect_client {
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
        // SAFETY (every argument): as the contract above says.
        let client_out = unsafe { out_ptr(client_out, "client_out") }?;
        watch_forks();
        let config = match unsafe { arg_str_or_null(config_json, "config_json") }? {
            Some(text) => ClientConfig::from_json(text)?,
            None => ClientConfig::default(),
        };
        let mut client = Box::new(connect_client::build(&config, config.resolve()?));
        // Debug builds only (the test suite's): a released library never reads it.
        client.panics =
            cfg!(debug_assertions) && std::env::var_os(TEST_PANIC).is_some_and(|v| v == "1");
        client_out.write(Box::into_raw(client));
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
        // SAFETY (both): the caller promises a live client (or NULL) and a C string (or NULL).
        let client = unsafe { arg_ref(client, "client") }?;
        let text = unsafe { arg_str(request_json, "request_json") }?;
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
/// @param json_out  Receives the document on CONNECT_STATUS_OK, and an error document
///                  (`{"Error": {"Code": "CONNECT_STATUS_PANIC", "Message"}, ...}`) on
///                  CONNECT_STATUS_PANIC; either way the caller owns it and frees it with
///                  connect_string_free(). Untouched on NULL_ARGUMENT.
/// @return CONNECT_STATUS_OK, NULL_ARGUMENT (client or json_out is NULL), or PANIC.
///
/// Thread safety: may be called from any thread, concurrently with calls on the client.
#[no_mangle]
pub unsafe extern "C" fn connect_client_config_json(
    client: *const connect_client,
    json_out: *mut *mut c_char,
) -> Status {
    call(json_out, || {
        // SAFETY (both): the caller promises NULL or a writable `char *`, and NULL or a live
        // client. `call` writes the document through json_out.
        unsafe { out_ptr(json_out, "json_out") }?;
        let client = unsafe { arg_ref(client, "client") }?;
        Ok(client.client.settings().to_json())
    })
}

/// One UpdateContact from request JSON to response document: the sync and async paths share it.
fn update(client: &Client, request_json: &str, panics: bool) -> Result<String, BoundaryError> {
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
            Run::Cancel => Err(BoundaryError::local(
                Status::Cancelled,
                "the client was freed before this call started; it was not sent",
            )),
        });
        // `call` always writes a document here (only NULL_ARGUMENT skips it, and it cannot
        // happen on this path); a panic in the caller's code around the callback is caught so
        // the document is still freed and the worker lives on.
        let function = self.function;
        call_back(|| {
            // SAFETY: a function pointer the caller gave us, with the argument it gave us and a
            // valid NUL-terminated document that lives until after the call.
            unsafe { function(status, document, self.user_data.0) }
        });
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
        // SAFETY (both): the caller promises a live client (or NULL) and a C string (or NULL).
        // Every argument is checked for NULL before the request for UTF-8.
        let client = unsafe { arg_ref(client, "client") }?;
        let request = unsafe { arg_c_str(request_json, "request_json") }?;
        let function = arg_fn(callback, "callback")?;
        let request_json = utf8(request, "request_json")?.to_owned();
        let callback = Callback {
            function,
            user_data: UserData(user_data),
        };
        let shared = Arc::clone(&client.client);
        let panics = client.panics;
        let job = Box::new(move |run| callback.complete(&shared, &request_json, panics, run));
        client.pool.submit(job).map_err(|refused| match refused {
            Refused::Full { capacity } => BoundaryError::local(
                Status::QueueFull,
                format!(
                    "{capacity} asynchronous calls are already waiting (config key \"async_queue\"); \
                     nothing was queued"
                ),
            ),
            Refused::Closed => BoundaryError::local(
                Status::Cancelled,
                "connect_client_free() has begun on this client; no new calls are accepted",
            ),
            Refused::Spawn(e) => BoundaryError::local(
                Status::ThreadStart,
                format!("could not start a worker thread for asynchronous calls: {e}"),
            ),
        })?;
        Ok(String::new())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ffi::{connect_string_free, last_error};
    use std::ffi::CStr;

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
