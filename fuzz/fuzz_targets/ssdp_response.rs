//! SSDP search responses (the text a router sends back to an M-SEARCH):
//! decoding never panics and stays bounded, and whatever decodes survives
//! encode -> decode unchanged, with a canonical encoding.
//!
//! Length: the encoding may be longer than the input (it writes full
//! `NAME: value\r\n` lines and miniupnpd's fixed headers), so an encoding
//! above `MAX_RESPONSE` must be refused as too long, never misread.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pfwd_core::wire::ssdp::{Location, MAX_RESPONSE, Response, SsdpError};

fuzz_target!(|data: &[u8]| {
    let Ok(v) = Response::decode(data) else {
        return;
    };
    assert!(data.len() <= MAX_RESPONSE, "decoded {} bytes", data.len());
    // The location is an http URL on an IP address, and prints as one.
    let url = v.location.to_string();
    assert_eq!(Location::parse(&url).as_ref(), Ok(&v.location), "{url}");
    let b = v.encode();
    if b.len() > MAX_RESPONSE {
        assert_eq!(Response::decode(&b), Err(SsdpError::TooLong(b.len())));
        return;
    }
    let v2 = Response::decode(&b).expect("an encoded response decodes");
    assert_eq!(v2, v, "decode(encode(v)) != v");
    assert_eq!(v2.encode(), b, "encoding is not canonical");
});
