//! Sans-IO codecs for the protocols on UDP 5351: NAT-PMP (RFC 6886) and PCP
//! (RFC 6887); and SSDP's search for a UPnP gateway ([`ssdp`], with its
//! own [`ssdp::SsdpError`]: text, not a binary layout).
//!
//! Bytes (and, for the epoch check, a time) in, values out: no sockets, no
//! tokio, no clock. Decoding never panics; it returns a typed
//! [`DecodeError`]. `cargo check -p pfwd-core --no-default-features` builds
//! this module without any runtime.
//!
//! # Examples
//!
//! Tell a NAT-PMP answer from a PCP one by its first byte, as a client on
//! UDP 5351 must (a NAT-PMP-only router answers a PCP request with
//! version 0):
//!
//! ```
//! use pfwd_core::wire::{DecodeError, natpmp, pcp};
//!
//! let datagram = [0, 129, 0, 1, 0, 0, 0, 42]; // NAT-PMP: "unsupported version"
//! assert_eq!(pcp::Response::decode(&datagram), Err(DecodeError::WrongVersion(0)));
//! let answer = natpmp::Response::decode(&datagram)?;
//! assert_eq!(answer.result(), natpmp::ResultCode::UnsupportedVersion);
//! assert_eq!(answer.epoch(), 42);
//! # Ok::<(), DecodeError>(())
//! ```

use std::fmt;

/// The UDP port NAT-PMP and PCP servers listen on (RFC 6886 section 3,
/// RFC 6887 section 19.1).
pub const SERVER_PORT: u16 = 5351;

/// The UDP port and group a PCP server announces a restart to (RFC 6887
/// section 14.1.1: 224.0.0.1:5350).
pub const ANNOUNCE_PORT: u16 = 5350;

/// Why a datagram could not be decoded. Kept apart from the protocols'
/// result codes: this is a malformed message, not a gateway's answer.
///
/// # Examples
///
/// ```
/// use pfwd_core::wire::{DecodeError, pcp};
///
/// let err = pcp::Response::decode(&[2, 0x81, 0, 0]).unwrap_err();
/// assert_eq!(err, DecodeError::Truncated { needed: 24, got: 4 });
/// assert_eq!(err.to_string(), "truncated message: 4 bytes, at least 24 needed");
/// ```
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

/// One result code of a protocol: its number, its name in the
/// specification, what it means and what a person can do about it. Each
/// protocol keeps one table of these; [`CodeInfo::lookup`] reads any of them.
///
/// # Examples
///
/// ```
/// use pfwd_core::wire::{CodeInfo, pcp};
///
/// let info = CodeInfo::lookup(pcp::ResultCode::TABLE, 11);
/// assert_eq!(info.name, "CANNOT_PROVIDE_EXTERNAL");
/// let unknown = CodeInfo::lookup(pcp::ResultCode::TABLE, 200);
/// assert_eq!(unknown, &CodeInfo::UNKNOWN);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CodeInfo {
    /// The number on the wire.
    pub number: u16,
    /// The name the specification gives it ("NOT_AUTHORIZED").
    pub name: &'static str,
    /// What it means, in plain words.
    pub meaning: &'static str,
    /// What a person can do about it.
    pub advice: &'static str,
}

impl CodeInfo {
    /// What pfwd says about a code it does not know.
    pub const UNKNOWN: CodeInfo = CodeInfo {
        number: u16::MAX,
        name: "UNKNOWN",
        meaning: "the gateway reported an error pfwd does not know",
        advice: "forward the port by hand in the router's settings",
    };

    /// The entry for `number` in `table`, or [`CodeInfo::UNKNOWN`] (whose
    /// `number` is not the code's: keep the code's own number).
    pub fn lookup(table: &'static [CodeInfo], number: u16) -> &'static CodeInfo {
        table
            .iter()
            .find(|c| c.number == number)
            .unwrap_or(&CodeInfo::UNKNOWN)
    }
}

/// A protocol's result-code enum from one table: each row is a variant, its
/// number, and the name of its condition in [`words`] (RFC 6887's name,
/// which holds its meaning and advice). Generates the
/// enum (with `Other(n)` for the rest), `from_code`, `code`, `is_success`,
/// `TABLE`, `info` (name, meaning, advice) and `Display` ("2 NOT_AUTHORIZED").
macro_rules! result_codes {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident: $repr:ty {
            $( $(#[$vmeta:meta])* $variant:ident = $number:literal, $spec:ident; )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        $vis enum $name {
            $( $(#[$vmeta])* $variant, )+
            /// Any other code.
            Other($repr),
        }

        impl $name {
            /// Every known code, in order: number, name, meaning, advice.
            pub const TABLE: &'static [$crate::wire::CodeInfo] = &[
                $( $crate::wire::CodeInfo {
                    number: $number,
                    name: stringify!($spec),
                    meaning: $crate::wire::words::$spec.0,
                    advice: $crate::wire::words::$spec.1,
                }, )+
            ];

            /// Decode a result code.
            pub fn from_code(code: $repr) -> $name {
                match code {
                    $( $number => $name::$variant, )+
                    other => $name::Other(other),
                }
            }

            /// The code on the wire.
            pub fn code(self) -> $repr {
                match self {
                    $( $name::$variant => $number, )+
                    $name::Other(other) => other,
                }
            }

            /// True for success (code 0).
            pub fn is_success(self) -> bool {
                self.code() == 0
            }

            /// The code's entry in [`Self::TABLE`] (or [`CodeInfo::UNKNOWN`](crate::wire::CodeInfo::UNKNOWN)).
            pub fn info(self) -> &'static $crate::wire::CodeInfo {
                $crate::wire::CodeInfo::lookup(Self::TABLE, u16::from(self.code()))
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "{} {}", self.code(), self.info().name)
            }
        }
    };
}
pub(crate) use result_codes;

pub mod epoch;
pub mod natpmp;
pub mod pcp;
pub mod ssdp;
mod words;

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
