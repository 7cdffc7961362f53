//! NAT-PMP requests: decoding never panics, and whatever decodes survives
//! encode -> decode unchanged, with a canonical encoding.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pfwd_core::wire::natpmp::{MAX_MESSAGE, Request};

fuzz_target!(|data: &[u8]| {
    let Ok(v) = Request::decode(data) else {
        return;
    };
    let b = v.encode();
    assert!(b.len() <= MAX_MESSAGE, "encoded {} bytes", b.len());
    let v2 = Request::decode(&b).expect("an encoded request decodes");
    assert_eq!(v2, v, "decode(encode(v)) != v");
    assert_eq!(v2.encode(), b, "encoding is not canonical");
});
