//! NAT-PMP (RFC 6886) messages: the external-address and mapping requests
//! and their responses, and the result codes.
//!
//! # Examples
//!
//! One exchange, both ways, without a socket: the request pfwd sends to the
//! router's UDP port 5351 and the answer it reads back.
//!
//! ```
//! use pfwd_core::wire::natpmp::{MapProtocol, Request, Response, ResultCode};
//!
//! // Map TCP port 80 here to outside port 80, for an hour.
//! let request = Request::Map {
//!     protocol: MapProtocol::Tcp,
//!     internal_port: 80,
//!     external_port: 80,
//!     lifetime: 3600,
//! };
//! assert_eq!(request.encode(), [0, 2, 0, 0, 0, 80, 0, 80, 0, 0, 0x0e, 0x10]);
//!
//! // The router's answer: success, epoch 1200, outside port 8080 for 1800 s.
//! let answer = [0, 130, 0, 0, 0, 0, 0x04, 0xb0, 0, 80, 0x1f, 0x90, 0, 0, 0x07, 0x08];
//! let response = Response::decode(&answer)?;
//! assert_eq!(
//!     response,
//!     Response::Map {
//!         protocol: MapProtocol::Tcp,
//!         result: ResultCode::Success,
//!         epoch: 1200,
//!         internal_port: 80,
//!         external_port: 8080,
//!         lifetime: 1800,
//!     }
//! );
//! assert!(response.result().is_success());
//! assert_eq!(response.encode(), answer); // and back
//! # Ok::<(), pfwd_core::wire::DecodeError>(())
//! ```

use std::net::Ipv4Addr;

use super::{DecodeError, need, u16_at, u32_at};

/// The NAT-PMP version number (RFC 6886 section 3).
pub const VERSION: u8 = 0;
/// The longest NAT-PMP message (a mapping response, 16 bytes).
pub const MAX_MESSAGE: usize = 16;
/// Added to a request's opcode in its response (RFC 6886 section 3.2).
pub const RESPONSE_BIT: u8 = 128;

/// Opcode of the external-address request (RFC 6886 section 3.2).
pub const OP_EXTERNAL_ADDRESS: u8 = 0;
/// Opcode of a UDP mapping request (RFC 6886 section 3.3).
pub const OP_MAP_UDP: u8 = 1;
/// Opcode of a TCP mapping request (RFC 6886 section 3.3).
pub const OP_MAP_TCP: u8 = 2;

/// The transport a NAT-PMP mapping is for: the request's opcode.
///
/// # Examples
///
/// ```
/// use pfwd_core::wire::natpmp::{MapProtocol, OP_MAP_TCP};
///
/// assert_eq!(MapProtocol::Tcp.opcode(), OP_MAP_TCP);
/// assert_eq!(MapProtocol::Udp.opcode(), 1);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MapProtocol {
    /// Opcode 1.
    Udp,
    /// Opcode 2.
    Tcp,
}

impl MapProtocol {
    /// The request opcode for this protocol.
    pub fn opcode(self) -> u8 {
        match self {
            MapProtocol::Udp => OP_MAP_UDP,
            MapProtocol::Tcp => OP_MAP_TCP,
        }
    }

    fn from_opcode(op: u8) -> Option<MapProtocol> {
        match op {
            OP_MAP_UDP => Some(MapProtocol::Udp),
            OP_MAP_TCP => Some(MapProtocol::Tcp),
            _ => None,
        }
    }
}

/// A NAT-PMP request.
///
/// # Examples
///
/// ```
/// use pfwd_core::wire::natpmp::{MapProtocol, Request};
///
/// // The external-address request is two bytes.
/// assert_eq!(Request::ExternalAddress.encode(), [0, 0]);
///
/// // Deleting a UDP mapping: lifetime 0, outside port 0.
/// let delete = Request::Map {
///     protocol: MapProtocol::Udp,
///     internal_port: 51820,
///     external_port: 0,
///     lifetime: 0,
/// };
/// let bytes = delete.encode();
/// assert_eq!(bytes.len(), 12);
/// assert_eq!(Request::decode(&bytes), Ok(delete)); // what the router reads
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Request {
    /// Ask for the gateway's external address (section 3.2).
    ExternalAddress,
    /// Create, renew (same values) or delete (lifetime 0, external port 0) a
    /// mapping (sections 3.3 and 3.4).
    Map {
        /// TCP or UDP.
        protocol: MapProtocol,
        /// The port on this host.
        internal_port: u16,
        /// The external port wanted (0: no preference).
        external_port: u16,
        /// The lease wanted, in seconds (0: delete).
        lifetime: u32,
    },
}

impl Request {
    /// The request's opcode.
    pub fn opcode(&self) -> u8 {
        match self {
            Request::ExternalAddress => OP_EXTERNAL_ADDRESS,
            Request::Map { protocol, .. } => protocol.opcode(),
        }
    }

    /// The request's bytes.
    pub fn encode(&self) -> Vec<u8> {
        match *self {
            Request::ExternalAddress => vec![VERSION, OP_EXTERNAL_ADDRESS],
            Request::Map {
                protocol,
                internal_port,
                external_port,
                lifetime,
            } => {
                let mut b = Vec::with_capacity(12);
                b.extend_from_slice(&[VERSION, protocol.opcode(), 0, 0]);
                b.extend_from_slice(&internal_port.to_be_bytes());
                b.extend_from_slice(&external_port.to_be_bytes());
                b.extend_from_slice(&lifetime.to_be_bytes());
                b
            }
        }
    }

    /// Decode a request (what a gateway would read).
    ///
    /// # Errors
    ///
    /// [`DecodeError`] for a wrong version, a response, an unknown opcode or
    /// a length that does not fit the opcode.
    pub fn decode(b: &[u8]) -> Result<Request, DecodeError> {
        need(b, 2)?;
        if b[0] != VERSION {
            return Err(DecodeError::WrongVersion(b[0]));
        }
        if b[1] >= RESPONSE_BIT {
            return Err(DecodeError::WrongDirection);
        }
        match b[1] {
            OP_EXTERNAL_ADDRESS if b.len() == 2 => Ok(Request::ExternalAddress),
            OP_EXTERNAL_ADDRESS => Err(DecodeError::BadLength(b.len())),
            op => {
                let protocol = MapProtocol::from_opcode(op).ok_or(DecodeError::WrongOpcode(op))?;
                need(b, 12)?;
                if b.len() != 12 {
                    return Err(DecodeError::BadLength(b.len()));
                }
                Ok(Request::Map {
                    protocol,
                    internal_port: u16_at(b, 4),
                    external_port: u16_at(b, 6),
                    lifetime: u32_at(b, 8),
                })
            }
        }
    }
}

/// A NAT-PMP response.
///
/// # Examples
///
/// ```
/// use std::net::Ipv4Addr;
/// use pfwd_core::wire::natpmp::{Response, ResultCode};
///
/// // The answer to the external-address request.
/// let answer = [0, 128, 0, 0, 0, 0, 0x04, 0xb0, 203, 0, 113, 7];
/// match Response::decode(&answer)? {
///     Response::ExternalAddress { result, epoch, external } => {
///         assert_eq!(result, ResultCode::Success);
///         assert_eq!(epoch, 1200);
///         assert_eq!(external, Ipv4Addr::new(203, 0, 113, 7));
///     }
///     other => panic!("not an address: {other:?}"),
/// }
///
/// // A router with NAT-PMP switched off answers "not authorised" (2).
/// let refused = [0, 130, 0, 2, 0, 0, 0, 9, 0, 80, 0, 0, 0, 0, 0, 0];
/// let response = Response::decode(&refused)?;
/// assert_eq!(response.result(), ResultCode::NotAuthorized);
/// assert_eq!(response.epoch(), 9);
/// # Ok::<(), pfwd_core::wire::DecodeError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Response {
    /// The gateway's external address (section 3.2), 12 bytes.
    ExternalAddress {
        /// The result.
        result: ResultCode,
        /// Seconds since the gateway's port-mapping table was initialised.
        epoch: u32,
        /// The external address (0.0.0.0 when the gateway has none yet).
        external: Ipv4Addr,
    },
    /// A mapping's outcome (section 3.3), 16 bytes.
    Map {
        /// TCP or UDP.
        protocol: MapProtocol,
        /// The result.
        result: ResultCode,
        /// Seconds since the gateway's port-mapping table was initialised.
        epoch: u32,
        /// The internal port, echoed.
        internal_port: u16,
        /// The external port granted.
        external_port: u16,
        /// The lease granted, in seconds.
        lifetime: u32,
    },
    /// A short error answer (8 bytes: version, opcode, result, epoch), as
    /// sent for an unsupported version or opcode (section 3.5).
    Error {
        /// The response opcode (128 + the request's opcode).
        opcode: u8,
        /// The result (never success).
        result: ResultCode,
        /// Seconds since the gateway's port-mapping table was initialised.
        epoch: u32,
    },
}

impl Response {
    /// The response's result code.
    pub fn result(&self) -> ResultCode {
        match self {
            Response::ExternalAddress { result, .. }
            | Response::Map { result, .. }
            | Response::Error { result, .. } => *result,
        }
    }

    /// The gateway's epoch (seconds since its table was initialised).
    pub fn epoch(&self) -> u32 {
        match self {
            Response::ExternalAddress { epoch, .. }
            | Response::Map { epoch, .. }
            | Response::Error { epoch, .. } => *epoch,
        }
    }

    /// The response's opcode (128 + the request's opcode).
    pub fn opcode(&self) -> u8 {
        match self {
            Response::ExternalAddress { .. } => RESPONSE_BIT + OP_EXTERNAL_ADDRESS,
            Response::Map { protocol, .. } => RESPONSE_BIT + protocol.opcode(),
            Response::Error { opcode, .. } => *opcode,
        }
    }

    /// The response's bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(16);
        b.extend_from_slice(&[VERSION, self.opcode()]);
        b.extend_from_slice(&self.result().code().to_be_bytes());
        b.extend_from_slice(&self.epoch().to_be_bytes());
        match *self {
            Response::ExternalAddress { external, .. } => b.extend_from_slice(&external.octets()),
            Response::Map {
                internal_port,
                external_port,
                lifetime,
                ..
            } => {
                b.extend_from_slice(&internal_port.to_be_bytes());
                b.extend_from_slice(&external_port.to_be_bytes());
                b.extend_from_slice(&lifetime.to_be_bytes());
            }
            Response::Error { .. } => {}
        }
        b
    }

    /// Decode a response.
    ///
    /// # Errors
    ///
    /// [`DecodeError`] for a wrong version (a PCP answer is version 2), a
    /// request, an unknown opcode, or a length that does not fit.
    ///
    /// # Examples
    ///
    /// ```
    /// use pfwd_core::wire::DecodeError;
    /// use pfwd_core::wire::natpmp::Response;
    ///
    /// assert_eq!(Response::decode(&[0, 130, 0]), Err(DecodeError::Truncated { needed: 8, got: 3 }));
    /// assert_eq!(Response::decode(&[2, 129, 0, 0]), Err(DecodeError::WrongVersion(2))); // PCP
    /// assert_eq!(Response::decode(&[0, 2, 0, 0]), Err(DecodeError::WrongDirection)); // a request
    /// ```
    pub fn decode(b: &[u8]) -> Result<Response, DecodeError> {
        need(b, 2)?;
        if b[0] != VERSION {
            return Err(DecodeError::WrongVersion(b[0]));
        }
        if b[1] < RESPONSE_BIT {
            return Err(DecodeError::WrongDirection);
        }
        need(b, 8)?;
        if b.len() > MAX_MESSAGE {
            return Err(DecodeError::BadLength(b.len()));
        }
        let opcode = b[1];
        let result = ResultCode::from_code(u16_at(b, 2));
        let epoch = u32_at(b, 4);
        let op = opcode - RESPONSE_BIT;
        let short_error = b.len() == 8 && !result.is_success();
        if short_error {
            return Ok(Response::Error {
                opcode,
                result,
                epoch,
            });
        }
        match op {
            OP_EXTERNAL_ADDRESS => {
                need(b, 12)?;
                if b.len() != 12 {
                    return Err(DecodeError::BadLength(b.len()));
                }
                Ok(Response::ExternalAddress {
                    result,
                    epoch,
                    external: Ipv4Addr::new(b[8], b[9], b[10], b[11]),
                })
            }
            _ => {
                let protocol =
                    MapProtocol::from_opcode(op).ok_or(DecodeError::WrongOpcode(opcode))?;
                need(b, 16)?;
                Ok(Response::Map {
                    protocol,
                    result,
                    epoch,
                    internal_port: u16_at(b, 8),
                    external_port: u16_at(b, 10),
                    lifetime: u32_at(b, 12),
                })
            }
        }
    }
}

super::result_codes! {
    /// NAT-PMP result codes (RFC 6886 section 3.5). RFC 6886 describes them
    /// in prose only; their names are the ones RFC 6887 (section 7.4) gives
    /// the same conditions, and the variants are named as in
    /// [`pcp::ResultCode`](super::pcp::ResultCode).
    ///
    /// # Examples
    ///
    /// ```
    /// use pfwd_core::wire::natpmp::ResultCode;
    ///
    /// let code = ResultCode::from_code(3);
    /// assert_eq!(code, ResultCode::NetworkFailure);
    /// assert_eq!(code.to_string(), "3 NETWORK_FAILURE");
    /// assert!(!code.is_success());
    /// assert!(code.info().meaning.contains("no external address"));
    ///
    /// // A code RFC 6886 does not define keeps its number.
    /// assert_eq!(ResultCode::from_code(42), ResultCode::Other(42));
    /// assert_eq!(ResultCode::Other(42).to_string(), "42 UNKNOWN");
    /// ```
    pub enum ResultCode: u16 {
        /// 0: success.
        Success = 0, SUCCESS;
        /// 1: the gateway does not speak this version.
        UnsupportedVersion = 1, UNSUPP_VERSION;
        /// 2: not authorised or refused (NAT-PMP switched off, or a policy).
        NotAuthorized = 2, NOT_AUTHORIZED;
        /// 3: network failure (the gateway has no external address yet).
        NetworkFailure = 3, NETWORK_FAILURE;
        /// 4: out of resources (no ports or table entries left).
        NoResources = 4, NO_RESOURCES;
        /// 5: unsupported opcode.
        UnsupportedOpcode = 5, UNSUPP_OPCODE;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn map_request_layout() {
        let r = Request::Map {
            protocol: MapProtocol::Tcp,
            internal_port: 8080,
            external_port: 80,
            lifetime: 7200,
        };
        assert_eq!(
            r.encode(),
            [0, 2, 0, 0, 0x1f, 0x90, 0, 80, 0, 0, 0x1c, 0x20]
        );
        assert_eq!(Request::decode(&r.encode()), Ok(r));
    }

    #[test]
    fn result_codes_round_trip() {
        for c in 0..8u16 {
            assert_eq!(ResultCode::from_code(c).code(), c);
        }
        assert_eq!(ResultCode::from_code(2).to_string(), "2 NOT_AUTHORIZED");
        assert_eq!(ResultCode::from_code(9).to_string(), "9 UNKNOWN");
    }

    #[test]
    fn short_error_answers_decode() {
        let b = [0, 128, 0, 1, 0, 0, 0, 9];
        assert_eq!(
            Response::decode(&b),
            Ok(Response::Error {
                opcode: 128,
                result: ResultCode::UnsupportedVersion,
                epoch: 9
            })
        );
    }

    #[test]
    fn never_panics_on_any_short_input() {
        for len in 0..=20 {
            for fill in [0u8, 0x80, 0x81, 0x82, 0xff] {
                let mut b = vec![fill; len];
                if len > 0 {
                    b[0] = 0;
                }
                let _ = Response::decode(&b);
                let _ = Request::decode(&b);
            }
        }
    }
}
