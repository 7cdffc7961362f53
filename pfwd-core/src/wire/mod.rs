//! Sans-IO codecs for the protocols on UDP 5351: NAT-PMP (RFC 6886) and PCP
//! (RFC 6887).
//!
//! Bytes (and, for the epoch check, a time) in, values out: no sockets, no
//! tokio, no clock. Decoding never panics; it returns a typed
//! [`DecodeError`]. `cargo check -p pfwd-core --no-default-features` builds
//! this module without any runtime.

use std::fmt;

pub mod epoch;
pub mod natpmp;
pub mod pcp;

/// The UDP port NAT-PMP and PCP servers listen on (RFC 6886 section 3,
/// RFC 6887 section 19.1).
pub const SERVER_PORT: u16 = 5351;

/// The UDP port and group a PCP server announces a restart to (RFC 6887
/// section 14.1.1: 224.0.0.1:5350).
pub const ANNOUNCE_PORT: u16 = 5350;

/// Why a datagram could not be decoded. Kept apart from the protocols'
/// result codes: this is a malformed message, not a gateway's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DecodeError {
    /// Shorter than the message type needs.
    Truncated {
        /// Bytes the message type needs.
        needed: usize,
        /// Bytes received.
        got: usize,
    },
    /// A version this codec does not decode (NAT-PMP is 0, PCP is 2).
    WrongVersion(u8),
    /// An opcode that is not the expected one, or not a known one.
    WrongOpcode(u8),
    /// A length that is not allowed (too long, not a multiple of 4, or not
    /// what the opcode carries).
    BadLength(usize),
    /// A request where a response was expected, or the other way round.
    WrongDirection,
    /// A protocol number that is not TCP or UDP where one is required.
    UnknownProtocol(u8),
    /// A PCP option the receiver must understand but does not (codes 0-127).
    UnknownMandatoryOption(u8),
    /// A PCP option whose length or content is wrong for its code.
    MalformedOption(u8),
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::Truncated { needed, got } => {
                write!(
                    f,
                    "truncated message: {got} bytes, at least {needed} needed"
                )
            }
            DecodeError::WrongVersion(v) => write!(f, "unexpected version {v}"),
            DecodeError::WrongOpcode(o) => write!(f, "unexpected opcode {o}"),
            DecodeError::BadLength(l) => write!(f, "bad message length {l}"),
            DecodeError::WrongDirection => {
                f.write_str("a request where a response was expected (or the reverse)")
            }
            DecodeError::UnknownProtocol(p) => write!(f, "unknown protocol number {p}"),
            DecodeError::UnknownMandatoryOption(c) => write!(f, "unknown mandatory option {c}"),
            DecodeError::MalformedOption(c) => write!(f, "malformed option {c}"),
        }
    }
}

impl std::error::Error for DecodeError {}

/// Check that `bytes` holds at least `needed` bytes.
pub(crate) fn need(bytes: &[u8], needed: usize) -> Result<(), DecodeError> {
    if bytes.len() < needed {
        Err(DecodeError::Truncated {
            needed,
            got: bytes.len(),
        })
    } else {
        Ok(())
    }
}

pub(crate) fn u16_at(b: &[u8], i: usize) -> u16 {
    u16::from_be_bytes([b[i], b[i + 1]])
}

pub(crate) fn u32_at(b: &[u8], i: usize) -> u32 {
    u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]])
}
