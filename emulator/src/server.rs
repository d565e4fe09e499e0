//! The HTTP side: hyper's HTTP/1.1 server on a small tokio runtime, with every resource bounded
//! (connections, header size and time, body size and time, threads). The service's logic runs
//! on tokio's bounded blocking pool, since it takes locks and writes files.
//!
//! Why hyper and not a blocking server such as tiny_http: tiny_http 0.12 has no header or body
//! timeouts, no bound on header size, a thread per connection without a cap, and no way to
//! close a connection without answering, which the dropped-connection fault needs.

use std::fmt;
use std::net::{SocketAddr, TcpListener as StdListener};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::Incoming as Body;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::runtime::Runtime;
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinHandle;

use crate::admin;
use crate::config::EmulatorConfig;
use crate::faults::Faults;
use crate::reply::{request_id, ApiError, Incoming, Outcome, Reply};
use crate::service::{Service, MAX_BODY_BYTES};

/// Connections served at once; more wait in the listen backlog.
const MAX_CONNECTIONS: usize = 256;
/// Time to send a request's headers, and then its body.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
const BODY_TIMEOUT: Duration = Duration::from_secs(30);
/// Bytes of a request's head (request line, headers and the blank line after them); a longer
/// head is answered 431 Request Header Fields Too Large and the connection closed. Also the
/// read buffer's bound (hyper's `max_buf_size` alone lets a head that arrives in one read
/// grow past it: heads near 120 kB were accepted).
const MAX_HEADER_BYTES: usize = 64 * 1024;
/// Threads: the async workers, and the pool the service's blocking logic runs on.
const WORKER_THREADS: usize = 2;
const BLOCKING_THREADS: usize = 8;
/// Time given to open connections to finish at shutdown.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// Why the emulator could not start.
#[derive(Debug)]
pub struct StartError(String);

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for StartError {}

/// A running emulator. Dropping it shuts it down.
pub struct Emulator {
    addr: SocketAddr,
    service: Arc<Service>,
    runtime: Option<Runtime>,
    stop: watch::Sender<bool>,
    accept_task: Option<JoinHandle<()>>,
}

impl Emulator {
    /// Binds `config.listen`, loads the store, and serves on background threads. Returns once
    /// the socket is bound, so requests can be sent at once.
    pub fn start(config: EmulatorConfig) -> Result<Emulator, StartError> {
        let service = Arc::new(Service::new(&config).map_err(StartError)?);
        let listener = StdListener::bind(config.listen)
            .map_err(|e| StartError(format!("cannot listen on {}: {e}", config.listen)))?;
        let addr = listener
            .local_addr()
            .map_err(|e| StartError(format!("cannot read the bound address: {e}")))?;
        listener
            .set_nonblocking(true)
            .map_err(|e| StartError(format!("cannot set up the listener: {e}")))?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(WORKER_THREADS)
            .max_blocking_threads(BLOCKING_THREADS)
            .thread_name("connect-emulator")
            .enable_all()
            .build()
            .map_err(|e| StartError(format!("cannot start the server threads: {e}")))?;
        let listener = {
            let _context = runtime.enter();
            TcpListener::from_std(listener)
                .map_err(|e| StartError(format!("cannot set up the listener: {e}")))?
        };
        let (stop, stopped) = watch::channel(false);
        let accept_task =
            runtime.spawn(accept_loop(listener, service.clone(), stopped, config.log));
        Ok(Emulator {
            addr,
            service,
            runtime: Some(runtime),
            stop,
            accept_task: Some(accept_task),
        })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR`, for a client's endpoint URL.
    pub fn endpoint_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A contact's stored members (the UpdateContact members written so far, plus
    /// `LastUpdateTimestamp`), or `None` if the instance or contact does not exist.
    pub fn contact(&self, instance_id: &str, contact_id: &str) -> Option<Value> {
        self.service
            .store()
            .contact(instance_id, contact_id)
            .map(|c| Value::Object(c.clone()))
    }

    /// Creates an instance, and a contact in it when `contact_id` is given (no-op if they exist).
    /// Panics if the state file cannot be written (a test set-up failure).
    pub fn create_contact(&self, instance_id: &str, contact_id: Option<&str>) {
        if let Err(e) = self.service.ensure(instance_id, contact_id) {
            panic!("create_contact: {}", e.message);
        }
    }

    /// Every UpdateContact input the store accepted, oldest first (see `GET /_emulator/updates`).
    pub fn updates(&self) -> Value {
        self.service.updates()
    }

    /// The whole store, in the seed file format.
    pub fn store_json(&self) -> Value {
        self.service.store().to_json()
    }

    /// The fault settings now in force (`sequence` holds only the steps not yet consumed).
    pub fn faults(&self) -> Faults {
        self.service.faults()
    }

    /// Replaces the fault settings; a sequence starts from its first step.
    pub fn set_faults(&self, faults: Faults) -> Result<(), String> {
        faults.check()?;
        self.service.set_faults(faults);
        Ok(())
    }

    /// Serves until SIGINT or SIGTERM (for the binary).
    pub fn wait_for_signal(&self) -> Result<(), String> {
        let runtime = self.runtime.as_ref().ok_or("the emulator is shut down")?;
        runtime.block_on(async {
            use tokio::signal::unix::{signal, SignalKind};
            let mut term = signal(SignalKind::terminate())
                .map_err(|e| format!("cannot watch SIGTERM: {e}"))?;
            let mut int =
                signal(SignalKind::interrupt()).map_err(|e| format!("cannot watch SIGINT: {e}"))?;
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
            Ok(())
        })
    }

    /// Stops accepting, lets open requests finish (up to 2 s), stops the threads and writes
    /// the state file. Also done on drop.
    pub fn shutdown(mut self) -> Result<(), String> {
        self.stop_inner()
    }

    fn stop_inner(&mut self) -> Result<(), String> {
        let Some(runtime) = self.runtime.take() else {
            return Ok(());
        };
        let _ = self.stop.send(true);
        if let Some(task) = self.accept_task.take() {
            let _ = runtime.block_on(async { tokio::time::timeout(SHUTDOWN_GRACE, task).await });
        }
        runtime.shutdown_timeout(SHUTDOWN_GRACE);
        self.service.flush()
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        if let Err(e) = self.stop_inner() {
            eprintln!("connect-emulator: {e}");
        }
    }
}

async fn accept_loop(
    listener: TcpListener,
    service: Arc<Service>,
    mut stopped: watch::Receiver<bool>,
    log: bool,
) {
    let permits = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let mut connections = tokio::task::JoinSet::new();
    loop {
        // Wait for a free slot before accepting, so excess clients queue in the backlog.
        let permit = tokio::select! {
            p = permits.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
            _ = stopped.changed() => break,
        };
        let stream = tokio::select! {
            r = listener.accept() => match r {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // E.g. out of file descriptors: back off instead of spinning.
                    eprintln!("connect-emulator: accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = stopped.changed() => break,
        };
        let service = service.clone();
        let mut stop_conn = stopped.clone();
        // Reap finished connection tasks so the set does not grow.
        while connections.try_join_next().is_some() {}
        connections.spawn(async move {
            let _permit = permit;
            let handler = service_fn(move |req| respond(service.clone(), req, log));
            let conn = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .max_header_size(MAX_HEADER_BYTES)
                .max_buf_size(MAX_HEADER_BYTES)
                .serve_connection(TokioIo::new(stream), handler);
            tokio::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => {}
                _ = stop_conn.changed() => {
                    conn.as_mut().graceful_shutdown();
                    let _ = tokio::time::timeout(SHUTDOWN_GRACE, conn).await;
                }
            }
        });
    }
    // Let open connections finish their current request.
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
}

/// Returned to hyper to make it close the connection without writing a response.
#[derive(Debug)]
struct DroppedConnection;

impl fmt::Display for DroppedConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("connection dropped (injected fault)")
    }
}

impl std::error::Error for DroppedConnection {}

async fn respond(
    service: Arc<Service>,
    req: Request<Body>,
    log: bool,
) -> Result<Response<Full<Bytes>>, DroppedConnection> {
    let started = Instant::now();
    let id = request_id();
    let (parts, body) = req.into_parts();
    let method = parts.method.as_str().to_string();
    let raw_uri = parts.uri.to_string();
    let outcome = match read_body(body).await {
        Err(e) => Outcome::Reply(e.into()),
        Ok(body) => {
            let headers = parts
                .headers
                .iter()
                .filter_map(|(n, v)| Some((n.as_str().to_string(), v.to_str().ok()?.to_string())))
                .collect();
            let incoming = Incoming {
                method: method.clone(),
                raw_uri,
                headers,
                body,
            };
            let admin_route = incoming
                .path()
                .strip_prefix(admin::PREFIX)
                .map(str::to_string);
            if admin_route.is_none() {
                let delay = service.latency();
                if !delay.is_zero() {
                    tokio::time::sleep(delay).await;
                }
            }
            let worker = service.clone();
            tokio::task::spawn_blocking(move || {
                let outcome = match admin_route {
                    Some(rest) => Outcome::Reply(admin::handle(
                        &worker,
                        &incoming.method,
                        &rest,
                        &incoming.body,
                    )),
                    None => worker.handle(&incoming),
                };
                (incoming, outcome)
            })
            .await
            .map(|(_, outcome)| outcome)
            .unwrap_or_else(|e| {
                Outcome::Reply(
                    ApiError::internal(format!("the request handler failed: {e}")).into(),
                )
            })
        }
    };
    let path = parts.uri.path();
    match outcome {
        Outcome::Drop => {
            if log {
                log_line(
                    &method,
                    path,
                    "drop",
                    &id,
                    started,
                    Some("ConnectionDropped"),
                );
            }
            Err(DroppedConnection)
        }
        Outcome::Reply(reply) => {
            if log {
                log_line(
                    &method,
                    path,
                    &reply.status.to_string(),
                    &id,
                    started,
                    reply.error_code.as_deref(),
                );
            }
            Ok(build_response(reply, &id))
        }
    }
}

/// Reads the body, bounded in size and time.
async fn read_body(body: Body) -> Result<Vec<u8>, ApiError> {
    match tokio::time::timeout(BODY_TIMEOUT, Limited::new(body, MAX_BODY_BYTES).collect()).await {
        Err(_) => Err(ApiError::new(
            408,
            "RequestTimeoutException",
            "The request body was not received in time",
        )),
        Ok(Err(e)) if e.downcast_ref::<LengthLimitError>().is_some() => {
            Err(ApiError::too_large(MAX_BODY_BYTES))
        }
        Ok(Err(e)) => Err(ApiError::new(
            400,
            "InvalidRequestException",
            format!("The request body could not be read: {e}"),
        )),
        Ok(Ok(collected)) => Ok(collected.to_bytes().to_vec()),
    }
}

fn build_response(reply: Reply, id: &str) -> Response<Full<Bytes>> {
    let mut builder = Response::builder()
        .status(reply.status)
        .header("x-amzn-RequestId", id);
    if let Some(ct) = reply.content_type {
        builder = builder.header("Content-Type", ct);
    }
    if let Some(code) = &reply.error_code {
        builder = builder.header("x-amzn-ErrorType", code.as_str());
    }
    builder
        .body(Full::new(Bytes::from(reply.body)))
        .unwrap_or_else(|_| {
            // Only a status outside 100..=999 could fail, and replies use fixed statuses.
            let mut r = Response::new(Full::new(Bytes::new()));
            *r.status_mut() = hyper::StatusCode::INTERNAL_SERVER_ERROR;
            r
        })
}

/// One line per request: method, path (IDs only; bodies, Name and Description never appear),
/// status, request id, latency and error code.
fn log_line(
    method: &str,
    path: &str,
    status: &str,
    id: &str,
    started: Instant,
    code: Option<&str>,
) {
    eprintln!(
        "connect-emulator: {method} {path} {status} request_id={id} latency_ms={} error={}",
        started.elapsed().as_millis(),
        code.unwrap_or("-")
    );
}
