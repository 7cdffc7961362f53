//! PCP (RFC 6887) messages: the common headers, MAP and ANNOUNCE, the
//! THIRD_PARTY, PREFER_FAILURE and FILTER options, and the result codes.
//!
//! PCP carries every address in 128 bits; an IPv4 address travels as an
//! IPv4-mapped IPv6 address (`::ffff:a.b.c.d`, RFC 6887 section 5).
//!
//! # Examples
//!
//! A MAP request for TCP port 80 on 192.168.1.4, and the router's answer,
//! encoded and decoded without a socket:
//!
//! ```
//! use std::net::Ipv4Addr;
//! use pfwd_core::wire::pcp::{
//!     MapPayload, PROTO_TCP, Request, RequestBody, Response, ResponseBody, ResultCode, mapped,
//!     unmapped,
//! };
//!
//! let nonce = *b"pfwd-nonce-1"; // random in real use: it renews and deletes the mapping
//! let request = Request {
//!     lifetime: 3600,
//!     client_ip: mapped(Ipv4Addr::new(192, 168, 1, 4)),
//!     body: RequestBody::Map(MapPayload {
//!         nonce,
//!         protocol: PROTO_TCP,
//!         internal_port: 80,
//!         external_port: 80,                            // wanted
//!         external_ip: mapped(Ipv4Addr::UNSPECIFIED), // any IPv4 address
//!     }),
//!     options: Vec::new(),
//! };
//! let bytes = request.encode();
//! assert_eq!(bytes.len(), 60); // 24-byte header, 36-byte MAP payload
//! assert_eq!(bytes[..4], [2, 1, 0, 0]); // version 2, MAP
//!
//! // The router's answer: success, outside port 8080 on 203.0.113.7, for 1800 s.
//! let mut answer = vec![2, 0x81, 0, 0]; // version, MAP with the response bit, result 0
//! answer.extend_from_slice(&1800u32.to_be_bytes()); // lifetime granted
//! answer.extend_from_slice(&1200u32.to_be_bytes()); // the router's epoch
//! answer.extend_from_slice(&[0; 12]);
//! answer.extend_from_slice(&nonce); // echoed
//! answer.extend_from_slice(&[PROTO_TCP, 0, 0, 0]);
//! answer.extend_from_slice(&80u16.to_be_bytes());
//! answer.extend_from_slice(&8080u16.to_be_bytes());
//! answer.extend_from_slice(&mapped(Ipv4Addr::new(203, 0, 113, 7)).octets());
//!
//! let response = Response::decode(&answer)?;
//! assert_eq!(response.result, ResultCode::Success);
//! assert_eq!((response.lifetime, response.epoch), (1800, 1200));
//! let ResponseBody::Map(granted) = response.body else { panic!("a MAP answer") };
//! assert_eq!(granted.nonce, nonce);
//! assert_eq!(granted.external_port, 8080);
//! assert_eq!(unmapped(granted.external_ip), Some(Ipv4Addr::new(203, 0, 113, 7)));
//! # Ok::<(), pfwd_core::wire::DecodeError>(())
//! ```

use std::net::{Ipv4Addr, Ipv6Addr};

use super::{DecodeError, need, u16_at, u32_at};

/// The PCP version number (RFC 6887 section 7).
pub const VERSION: u8 = 2;
/// The longest PCP message (RFC 6887 section 7).
pub const MAX_MESSAGE: usize = 1100;
/// The length of the common request and response headers.
pub const HEADER_LEN: usize = 24;
/// The length of the MAP opcode's payload (section 11.1).
pub const MAP_PAYLOAD_LEN: usize = 36;
/// The R bit: set in responses (section 7.1).
const RESPONSE_BIT: u8 = 0x80;

/// Opcode of ANNOUNCE (section 14.1).
pub const OP_ANNOUNCE: u8 = 0;
/// Opcode of MAP (section 11).
pub const OP_MAP: u8 = 1;

/// IANA protocol number of TCP.
pub const PROTO_TCP: u8 = 6;
/// IANA protocol number of UDP.
pub const PROTO_UDP: u8 = 17;

/// Option code of THIRD_PARTY (section 13.1).
pub const OPT_THIRD_PARTY: u8 = 1;
/// Option code of PREFER_FAILURE (section 13.2).
pub const OPT_PREFER_FAILURE: u8 = 2;
/// Option code of FILTER (section 13.3).
pub const OPT_FILTER: u8 = 3;

/// `addr` as PCP carries it: IPv4-mapped IPv6.
///
/// # Examples
///
/// ```
/// use std::net::Ipv4Addr;
/// use pfwd_core::wire::pcp::{mapped, unmapped};
///
/// let wire = mapped(Ipv4Addr::new(192, 168, 1, 4));
/// assert_eq!(wire.to_string(), "::ffff:192.168.1.4");
/// assert_eq!(unmapped(wire), Some(Ipv4Addr::new(192, 168, 1, 4)));
/// ```
pub fn mapped(addr: Ipv4Addr) -> Ipv6Addr {
    addr.to_ipv6_mapped()
}

/// The IPv4 address inside an IPv4-mapped IPv6 address, if it is one.
///
/// # Examples
///
/// ```
/// use pfwd_core::wire::pcp::unmapped;
///
/// assert_eq!(unmapped("::ffff:203.0.113.7".parse().unwrap()), Some([203, 0, 113, 7].into()));
/// assert_eq!(unmapped("2001:db8::4".parse().unwrap()), None); // a pinhole's own address
/// ```
pub fn unmapped(addr: Ipv6Addr) -> Option<Ipv4Addr> {
    addr.to_ipv4_mapped()
}

/// The MAP opcode's payload, the same in requests and responses (section 11.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MapPayload {
    /// A random value chosen by the client, echoed by the server, and needed
    /// to renew or delete the mapping.
    pub nonce: [u8; 12],
    /// IANA protocol number (6 TCP, 17 UDP, 0 all).
    pub protocol: u8,
    /// The port on the internal host (0 with protocol 0: all ports).
    pub internal_port: u16,
    /// Request: the external port wanted (0: no preference). Response: granted.
    pub external_port: u16,
    /// Request: the external address wanted (`::ffff:0.0.0.0`: any IPv4).
    /// Response: granted.
    pub external_ip: Ipv6Addr,
}

impl MapPayload {
    fn encode_into(&self, b: &mut Vec<u8>) {
        b.extend_from_slice(&self.nonce);
        b.extend_from_slice(&[self.protocol, 0, 0, 0]);
        b.extend_from_slice(&self.internal_port.to_be_bytes());
        b.extend_from_slice(&self.external_port.to_be_bytes());
        b.extend_from_slice(&self.external_ip.octets());
    }

    fn decode(b: &[u8]) -> MapPayload {
        let mut nonce = [0u8; 12];
        nonce.copy_from_slice(&b[..12]);
        MapPayload {
            nonce,
            protocol: b[12],
            internal_port: u16_at(b, 16),
            external_port: u16_at(b, 18),
            external_ip: ipv6_at(b, 20),
        }
    }
}

/// A PCP option (section 7.3). Unknown optional options (codes 128-255) are
/// skipped when decoding; unknown mandatory ones (0-127) are an error, and so
/// is a second THIRD_PARTY or PREFER_FAILURE.
///
/// # Examples
///
/// ```
/// use std::net::Ipv4Addr;
/// use pfwd_core::wire::pcp::{PcpOption, Request, RequestBody, mapped};
///
/// // An ANNOUNCE with PREFER_FAILURE (4 bytes: code, reserved, length 0).
/// let request = Request {
///     lifetime: 0,
///     client_ip: mapped(Ipv4Addr::new(192, 168, 1, 4)),
///     body: RequestBody::Announce,
///     options: vec![PcpOption::PreferFailure],
/// };
/// let bytes = request.encode();
/// assert_eq!(bytes[24..], [2, 0, 0, 0]);
/// assert_eq!(Request::decode(&bytes)?.options, [PcpOption::PreferFailure]);
/// # Ok::<(), pfwd_core::wire::DecodeError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PcpOption {
    /// THIRD_PARTY: the mapping is for this internal host, not the sender.
    ThirdParty(Ipv6Addr),
    /// PREFER_FAILURE: fail rather than grant another external port.
    PreferFailure,
    /// FILTER: only this remote peer (prefix) may use the mapping.
    Filter {
        /// Prefix length of `remote_ip` (0-128; 0 removes all filters).
        prefix_len: u8,
        /// The remote peer's port (0: any).
        remote_port: u16,
        /// The remote peer's address.
        remote_ip: Ipv6Addr,
    },
}

impl PcpOption {
    fn code(&self) -> u8 {
        match self {
            PcpOption::ThirdParty(_) => OPT_THIRD_PARTY,
            PcpOption::PreferFailure => OPT_PREFER_FAILURE,
            PcpOption::Filter { .. } => OPT_FILTER,
        }
    }

    fn encode_into(&self, b: &mut Vec<u8>) {
        let mut data = Vec::with_capacity(20);
        match *self {
            PcpOption::ThirdParty(ip) => data.extend_from_slice(&ip.octets()),
            PcpOption::PreferFailure => {}
            PcpOption::Filter {
                prefix_len,
                remote_port,
                remote_ip,
            } => {
                data.extend_from_slice(&[0, prefix_len]);
                data.extend_from_slice(&remote_port.to_be_bytes());
                data.extend_from_slice(&remote_ip.octets());
            }
        }
        b.extend_from_slice(&[self.code(), 0]);
        b.extend_from_slice(&(data.len() as u16).to_be_bytes());
        b.extend_from_slice(&data);
        b.resize(b.len() + padding(data.len()), 0);
    }
}

fn padding(len: usize) -> usize {
    (4 - len % 4) % 4
}

/// Decode the options that follow a header and payload.
fn decode_options(mut b: &[u8]) -> Result<Vec<PcpOption>, DecodeError> {
    let mut out = Vec::new();
    while !b.is_empty() {
        need(b, 4)?;
        let code = b[0];
        let len = usize::from(u16_at(b, 2));
        let padded = len + padding(len);
        need(b, 4 + padded)?;
        let data = &b[4..4 + len];
        let option = match code {
            OPT_THIRD_PARTY => {
                if len != 16 {
                    return Err(DecodeError::MalformedOption(code));
                }
                Some(PcpOption::ThirdParty(ipv6_at(data, 0)))
            }
            OPT_PREFER_FAILURE => {
                if len != 0 {
                    return Err(DecodeError::MalformedOption(code));
                }
                Some(PcpOption::PreferFailure)
            }
            OPT_FILTER => {
                if len != 20 || data[1] > 128 {
                    return Err(DecodeError::MalformedOption(code));
                }
                Some(PcpOption::Filter {
                    prefix_len: data[1],
                    remote_port: u16_at(data, 2),
                    remote_ip: ipv6_at(data, 4),
                })
            }
            c if c < 128 => return Err(DecodeError::UnknownMandatoryOption(c)),
            // Optional and unknown: skip it (section 7.3).
            _ => None,
        };
        // THIRD_PARTY and PREFER_FAILURE may appear once (IANA PCP option
        // registry: maximum occurrences 1); FILTER may repeat.
        if let Some(o @ (PcpOption::ThirdParty(_) | PcpOption::PreferFailure)) = option
            && out.iter().any(|seen: &PcpOption| seen.code() == o.code())
        {
            return Err(DecodeError::MalformedOption(code));
        }
        out.extend(option);
        b = &b[4 + padded..];
    }
    Ok(out)
}

fn ipv6_at(b: &[u8], i: usize) -> Ipv6Addr {
    let mut o = [0u8; 16];
    o.copy_from_slice(&b[i..i + 16]);
    Ipv6Addr::from(o)
}

/// What a request asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RequestBody {
    /// ANNOUNCE: no payload; answers tell the client the server's epoch.
    Announce,
    /// MAP: create, renew, or (lifetime 0) delete a mapping.
    Map(MapPayload),
}

/// A PCP request.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Request {
    /// The lease wanted, in seconds (0 deletes a MAP).
    pub lifetime: u32,
    /// The client's own address as it sends it (IPv4-mapped for IPv4).
    pub client_ip: Ipv6Addr,
    /// ANNOUNCE or MAP.
    pub body: RequestBody,
    /// Options, in order.
    pub options: Vec<PcpOption>,
}

impl Request {
    /// The request's opcode.
    pub fn opcode(&self) -> u8 {
        match self.body {
            RequestBody::Announce => OP_ANNOUNCE,
            RequestBody::Map(_) => OP_MAP,
        }
    }

    /// The request's bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(HEADER_LEN + MAP_PAYLOAD_LEN + 24);
        b.extend_from_slice(&[VERSION, self.opcode(), 0, 0]);
        b.extend_from_slice(&self.lifetime.to_be_bytes());
        b.extend_from_slice(&self.client_ip.octets());
        if let RequestBody::Map(p) = &self.body {
            p.encode_into(&mut b);
        }
        for o in &self.options {
            o.encode_into(&mut b);
        }
        b
    }

    /// Decode a request (what a server would read).
    ///
    /// # Errors
    ///
    /// [`DecodeError`] for a wrong version, a response, an unknown opcode, a
    /// bad length, or a bad or unknown mandatory option.
    pub fn decode(b: &[u8]) -> Result<Request, DecodeError> {
        check_frame(b)?;
        if b[1] & RESPONSE_BIT != 0 {
            return Err(DecodeError::WrongDirection);
        }
        let lifetime = u32_at(b, 4);
        let client_ip = ipv6_at(b, 8);
        let (body, rest) = match b[1] {
            OP_ANNOUNCE => (RequestBody::Announce, &b[HEADER_LEN..]),
            OP_MAP => {
                need(b, HEADER_LEN + MAP_PAYLOAD_LEN)?;
                (
                    RequestBody::Map(MapPayload::decode(&b[HEADER_LEN..])),
                    &b[HEADER_LEN + MAP_PAYLOAD_LEN..],
                )
            }
            op => return Err(DecodeError::WrongOpcode(op)),
        };
        Ok(Request {
            lifetime,
            client_ip,
            body,
            options: decode_options(rest)?,
        })
    }
}

/// What a response carries after its header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResponseBody {
    /// An ANNOUNCE answer (or an unsolicited ANNOUNCE after a restart).
    Announce,
    /// A MAP answer.
    Map(MapPayload),
    /// An error answer with only the header (a MAP's payload missing).
    HeaderOnly {
        /// The opcode answered.
        opcode: u8,
    },
}

/// A PCP response.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Response {
    /// The result.
    pub result: ResultCode,
    /// Success: the lease granted. Error: how long the error is likely to last.
    pub lifetime: u32,
    /// Seconds since the server's mapping state began (section 8.5).
    pub epoch: u32,
    /// The opcode's payload.
    pub body: ResponseBody,
    /// Options, in order (unknown optional ones skipped).
    pub options: Vec<PcpOption>,
}

impl Response {
    /// The opcode answered.
    pub fn opcode(&self) -> u8 {
        match self.body {
            ResponseBody::Announce => OP_ANNOUNCE,
            ResponseBody::Map(_) => OP_MAP,
            ResponseBody::HeaderOnly { opcode } => opcode,
        }
    }

    /// The response's bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(HEADER_LEN + MAP_PAYLOAD_LEN + 24);
        b.extend_from_slice(&[VERSION, RESPONSE_BIT | self.opcode(), 0, self.result.code()]);
        b.extend_from_slice(&self.lifetime.to_be_bytes());
        b.extend_from_slice(&self.epoch.to_be_bytes());
        b.extend_from_slice(&[0u8; 12]);
        if let ResponseBody::Map(p) = &self.body {
            p.encode_into(&mut b);
        }
        for o in &self.options {
            o.encode_into(&mut b);
        }
        b
    }

    /// Decode a response.
    ///
    /// # Errors
    ///
    /// [`DecodeError`] for a wrong version (a NAT-PMP-only server answers
    /// version 0), a request, an unknown opcode, a bad length, or a bad or
    /// unknown mandatory option.
    ///
    /// # Examples
    ///
    /// ```
    /// use pfwd_core::wire::DecodeError;
    /// use pfwd_core::wire::pcp::{Response, ResponseBody, ResultCode};
    ///
    /// // A NAT-PMP-only router answers a PCP request with version 0.
    /// assert_eq!(Response::decode(&[0, 129, 0, 1, 0, 0, 0, 0]), Err(DecodeError::WrongVersion(0)));
    ///
    /// // An error answer may be the header alone: "not authorised" (2).
    /// let mut refused = vec![2, 0x81, 0, 2];
    /// refused.extend_from_slice(&[0; 20]);
    /// let r = Response::decode(&refused)?;
    /// assert_eq!(r.result, ResultCode::NotAuthorized);
    /// assert_eq!(r.body, ResponseBody::HeaderOnly { opcode: 1 });
    /// # Ok::<(), DecodeError>(())
    /// ```
    pub fn decode(b: &[u8]) -> Result<Response, DecodeError> {
        check_frame(b)?;
        if b[1] & RESPONSE_BIT == 0 {
            return Err(DecodeError::WrongDirection);
        }
        let opcode = b[1] & !RESPONSE_BIT;
        let result = ResultCode::from_code(b[3]);
        let lifetime = u32_at(b, 4);
        let epoch = u32_at(b, 8);
        let (body, rest) = match opcode {
            OP_ANNOUNCE => (ResponseBody::Announce, &b[HEADER_LEN..]),
            OP_MAP if b.len() == HEADER_LEN && !result.is_success() => {
                (ResponseBody::HeaderOnly { opcode }, &b[HEADER_LEN..])
            }
            OP_MAP => {
                need(b, HEADER_LEN + MAP_PAYLOAD_LEN)?;
                (
                    ResponseBody::Map(MapPayload::decode(&b[HEADER_LEN..])),
                    &b[HEADER_LEN + MAP_PAYLOAD_LEN..],
                )
            }
            op if b.len() == HEADER_LEN && !result.is_success() => {
                // An error answer for an opcode pfwd does not send (UNSUPP_OPCODE).
                (ResponseBody::HeaderOnly { opcode: op }, &b[HEADER_LEN..])
            }
            op => return Err(DecodeError::WrongOpcode(op)),
        };
        Ok(Response {
            result,
            lifetime,
            epoch,
            body,
            options: decode_options(rest)?,
        })
    }
}

/// Checks shared by requests and responses: length, alignment, version.
fn check_frame(b: &[u8]) -> Result<(), DecodeError> {
    need(b, 1)?;
    if b[0] != VERSION {
        return Err(DecodeError::WrongVersion(b[0]));
    }
    need(b, HEADER_LEN)?;
    if b.len() > MAX_MESSAGE || !b.len().is_multiple_of(4) {
        return Err(DecodeError::BadLength(b.len()));
    }
    Ok(())
}

super::result_codes! {
    /// PCP result codes (RFC 6887 section 7.4). The codes PCP shares with
    /// NAT-PMP have the same variant names as in
    /// [`natpmp::ResultCode`](super::natpmp::ResultCode).
    ///
    /// # Examples
    ///
    /// ```
    /// use pfwd_core::wire::{natpmp, pcp};
    ///
    /// let pcp = pcp::ResultCode::from_code(8);
    /// assert_eq!(pcp, pcp::ResultCode::NoResources);
    /// assert_eq!(pcp.to_string(), "8 NO_RESOURCES");
    /// // The same condition is 4 in NAT-PMP, with the same words.
    /// let pmp = natpmp::ResultCode::NoResources;
    /// assert_eq!(pmp.code(), 4);
    /// assert_eq!(pmp.info().meaning, pcp.info().meaning);
    /// ```
    pub enum ResultCode: u8 {
        /// 0: success.
        Success = 0, SUCCESS;
        /// 1: the server does not speak this version.
        UnsupportedVersion = 1, UNSUPP_VERSION;
        /// 2: not authorised (policy, or PCP switched off for this client).
        NotAuthorized = 2, NOT_AUTHORIZED;
        /// 3: the request was malformed.
        MalformedRequest = 3, MALFORMED_REQUEST;
        /// 4: unsupported opcode.
        UnsupportedOpcode = 4, UNSUPP_OPCODE;
        /// 5: an unsupported mandatory option.
        UnsupportedOption = 5, UNSUPP_OPTION;
        /// 6: a malformed option.
        MalformedOption = 6, MALFORMED_OPTION;
        /// 7: the server has a network failure (no external address yet).
        NetworkFailure = 7, NETWORK_FAILURE;
        /// 8: no resources (table full).
        NoResources = 8, NO_RESOURCES;
        /// 9: unsupported protocol.
        UnsupportedProtocol = 9, UNSUPP_PROTOCOL;
        /// 10: the client exceeded its quota of mappings.
        UserExQuota = 10, USER_EX_QUOTA;
        /// 11: the wanted external port or address cannot be given (PREFER_FAILURE).
        CannotProvideExternal = 11, CANNOT_PROVIDE_EXTERNAL;
        /// 12: the client address in the header is not the packet's source (a NAT in between).
        AddressMismatch = 12, ADDRESS_MISMATCH;
        /// 13: too many remote peers in FILTER options.
        ExcessiveRemotePeers = 13, EXCESSIVE_REMOTE_PEERS;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn result_codes_round_trip_and_have_words() {
        for c in 0..=255u8 {
            let r = ResultCode::from_code(c);
            assert_eq!(r.code(), c);
            assert!(!r.info().meaning.is_empty() && !r.info().advice.is_empty());
        }
    }

    #[test]
    fn options_pad_to_four_bytes() {
        let mut b = Vec::new();
        PcpOption::PreferFailure.encode_into(&mut b);
        assert_eq!(b, [2, 0, 0, 0]);
        assert_eq!(decode_options(&b), Ok(vec![PcpOption::PreferFailure]));
        // An unknown optional option (200) with 3 data bytes and 1 padding byte is skipped.
        let skipped = [200, 0, 0, 3, 1, 2, 3, 0, 2, 0, 0, 0];
        assert_eq!(decode_options(&skipped), Ok(vec![PcpOption::PreferFailure]));
        assert_eq!(
            decode_options(&[99, 0, 0, 0]),
            Err(DecodeError::UnknownMandatoryOption(99))
        );
        assert_eq!(
            decode_options(&[1, 0, 0, 4, 0, 0, 0, 0]),
            Err(DecodeError::MalformedOption(1))
        );
        assert_eq!(
            decode_options(&[200, 0, 0, 9]),
            Err(DecodeError::Truncated { needed: 16, got: 4 })
        );
    }
}
