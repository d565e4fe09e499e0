//! Regression guard of the hot path, not timed: heap allocations per warm UpdateContact
//! through the C ABI (request JSON in, response document out) against a local keep-alive
//! server, counted on the calling thread only.
#![allow(unsafe_code)]

mod support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::ffi::{c_char, CStr};
use std::io::{Read, Write};
use std::net::TcpListener;
use std::ptr;

use connect_contact::ffi::{
    connect_client, connect_client_free, connect_client_new, connect_string_free,
    connect_update_contact,
};
use connect_contact::Status;

/// Measured at 40 when this guard was written (41 since the response headers are kept for
/// HTTPHeaders, in one string) (JSON parse into a Value and the model, path,
/// URL, body, signature strings, headers, response metadata, the document and its CString;
/// 56 before the success document was written directly, 16 of them for serde_json::json!);
/// 34 since issue 16 (no formatting machinery on the hot path, the document moved into its
/// CString without a copy). The headroom absorbs dependency updates, not a return to
/// per-call buffers or threads.
const BUDGET: u64 = 40;

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: forwards to the system allocator; the counter is a const-initialised thread-local
// Cell, which never allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations() -> u64 {
    ALLOCATIONS.with(Cell::get)
}

/// Answers every request on every connection with `200 {}`, keeping connections open.
fn keep_alive_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming().take(16) {
            let Ok(mut stream) = stream else { continue };
            std::thread::spawn(move || {
                let mut buf = vec![0u8; 65536];
                let mut have = 0;
                for _ in 0..100_000 {
                    let Some(end) = buf[..have].windows(4).position(|w| w == b"\r\n\r\n") else {
                        match stream.read(&mut buf[have..]) {
                            Ok(0) | Err(_) => return,
                            Ok(n) => have += n,
                        }
                        continue;
                    };
                    let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
                    let length: usize = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .map_or(0, |v| v.trim().parse().unwrap());
                    while have < end + 4 + length {
                        match stream.read(&mut buf[have..]) {
                            Ok(0) | Err(_) => return,
                            Ok(n) => have += n,
                        }
                    }
                    buf.copy_within(end + 4 + length..have, 0);
                    have -= end + 4 + length;
                    let reply =
                        b"HTTP/1.1 200 OK\r\nx-amzn-RequestId: rid\r\ncontent-length: 2\r\n\r\n{}";
                    if stream.write_all(reply).is_err() {
                        return;
                    }
                }
            });
        }
    });
    url
}

#[test]
fn a_warm_call_stays_within_its_allocation_budget() {
    // connect_client_new reads the process environment (as the C ABI promises): run this in a
    // child with the clean one.
    if support::in_clean_process("a_warm_call_stays_within_its_allocation_budget") {
        return;
    }
    let url = keep_alive_server();
    let config = format!(
        "{{\"region\":\"us-east-1\",\"endpoint_url\":\"{url}\",\"access_key_id\":\"AKID\",\
         \"secret_access_key\":\"secret\",\"session_token\":\"token\"}}\0"
    );
    let request = c"{\"InstanceId\":\"11111111-2222-3333-4444-555555555555\",\"ContactId\":\"aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee\",\"Name\":\"bench\",\"Description\":\"performance run\"}";
    let mut client: *mut connect_client = ptr::null_mut();
    // SAFETY: a NUL-terminated config and a valid out pointer.
    let status = unsafe { connect_client_new(config.as_ptr().cast::<c_char>(), &mut client) };
    assert_eq!(status, Status::Ok);
    let call = || {
        let mut document: *mut c_char = ptr::null_mut();
        // SAFETY: a live client, a C string and a valid out pointer.
        let status = unsafe { connect_update_contact(client, request.as_ptr(), &mut document) };
        // SAFETY: the library wrote a document; it is freed once.
        let text = unsafe { CStr::from_ptr(document) }
            .to_string_lossy()
            .into_owned();
        unsafe { connect_string_free(document) };
        assert_eq!(status, Status::Ok, "{text}");
    };
    for _ in 0..10 {
        call(); // connect, derive the signing key, warm the buffers
    }
    let calls = 200;
    let before = allocations();
    let started = std::time::Instant::now();
    for _ in 0..calls {
        call();
    }
    // Shown for the record (debug or release, whatever the run builds), never asserted.
    eprintln!(
        "time per warm call: {} µs",
        started.elapsed().as_micros() / u128::from(calls)
    );
    // The test's own copy of the document: one allocation per call, not the library's.
    let per_call = (allocations() - before) / calls - 1;
    eprintln!("allocations per warm call: {per_call}");
    assert!(
        per_call <= BUDGET,
        "{per_call} allocations per warm call, budget {BUDGET}: something on the hot path \
         allocates again per call"
    );
    // SAFETY: from connect_client_new, freed once.
    unsafe { connect_client_free(client) };
}
