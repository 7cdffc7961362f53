//! PCP requests: decoding never panics, and whatever decodes survives
//! encode -> decode unchanged, with a canonical encoding.
//!
//! Length: decode accepts at most MAX_MESSAGE (1100) bytes, and encode never
//! writes more than was read: the header and MAP payload have fixed sizes,
//! each known option is re-encoded at the exact length decode required of
//! it, and unknown optional options are dropped. So the encoding is never
//! longer than the input, hence <= 1100 bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pfwd_core::wire::pcp::{MAX_MESSAGE, Request};

fuzz_target!(|data: &[u8]| {
    let Ok(v) = Request::decode(data) else {
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
    let v2 = Request::decode(&b).expect("an encoded request decodes");
    assert_eq!(v2, v, "decode(encode(v)) != v");
    assert_eq!(v2.encode(), b, "encoding is not canonical");
});
