//! PCP responses: decoding never panics, and whatever decodes survives
//! encode -> decode unchanged, with a canonical encoding.
//!
//! Length: as for requests, encode never writes more than decode read
//! (fixed header and payload sizes, exact option lengths, unknown optional
//! options dropped), so the encoding is <= the input, hence <= 1100 bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pfwd_core::wire::pcp::{MAX_MESSAGE, Response};

fuzz_target!(|data: &[u8]| {
    let Ok(v) = Response::decode(data) else {
        return;
    };
    let b = v.encode();
    assert!(
        b.len() <= data.len(),
        "encoded {} bytes from {} input bytes",
        b.len(),
        data.len()
    );
    assert!(b.len() <= MAX_MESSAGE, "encoded {} bytes", b.len());
    let v2 = Response::decode(&b).expect("an encoded response decodes");
    assert_eq!(v2, v, "decode(encode(v)) != v");
    assert_eq!(v2.encode(), b, "encoding is not canonical");
});
