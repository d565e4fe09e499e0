//! The hot path's HTTP/1.1 response reader (src/http/framing.rs) on bytes from a server: any bytes
//! give one outcome, the same however the connection splits them (the first input byte picks
//! the piece size), and a connection called reusable never has bytes of the server's left in
//! the reader's buffer, where the reuse probe could not see them and the next request would
//! read them as its answer.
#![no_main]

use connect_contact::unstable::read_response_bytes;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&first, bytes)) = data.split_first() else {
        return;
    };
    let whole = read_response_bytes(bytes, usize::MAX);
    let pieces = read_response_bytes(bytes, usize::from(first % 32) + 1);
    for outcome in [&whole, &pieces] {
        assert!(outcome.unread + outcome.buffered <= bytes.len());
        if let Ok((_, true)) = &outcome.result {
            assert_eq!(outcome.buffered, 0, "reusable with server bytes still buffered");
        }
    }
    match (&whole.result, &pieces.result) {
        (Ok((a, _)), Ok((b, _))) => assert_eq!(
            (a.status, &a.request_id, &a.error_type, &a.body),
            (b.status, &b.request_id, &b.error_type, &b.body),
            "the same bytes in other pieces gave another response"
        ),
        (Err(a), Err(b)) => assert_eq!(a.status(), b.status(), "{a} / {b}"),
        (a, b) => panic!("one outcome whole, another in pieces: {a:?} / {b:?}"),
    }
});
