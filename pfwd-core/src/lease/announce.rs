//! Hearing a gateway's restart: the unsolicited PCP ANNOUNCE it multicasts
//! to 224.0.0.1:5350 when it starts (RFC 6887 section 14.1.3).

use std::net::Ipv4Addr;

/// A UDP socket on port 5350 that several programs can share (the port
/// announcements go to).
pub(super) fn announce_socket() -> std::io::Result<tokio::net::UdpSocket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
    socket.set_reuse_address(true)?;
    socket.set_reuse_port(true)?;
    socket.set_nonblocking(true)?;
    let addr = std::net::SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, crate::wire::ANNOUNCE_PORT);
    socket.bind(&addr.into())?;
    tokio::net::UdpSocket::from_std(socket.into())
}

/// Wait for a PCP ANNOUNCE from the gateway; true when one came. Never
/// ready without a socket.
pub(super) async fn announced(
    listener: Option<&(tokio::net::UdpSocket, Ipv4Addr)>,
    buf: &mut [u8],
) -> bool {
    let Some((socket, gateway)) = listener else {
        return std::future::pending().await;
    };
    match socket.recv_from(buf).await {
        Ok((n, from)) if from.ip() == std::net::IpAddr::V4(*gateway) => {
            matches!(
                crate::wire::pcp::Response::decode(&buf[..n]),
                Ok(r) if r.opcode() == crate::wire::pcp::OP_ANNOUNCE
            )
        }
        _ => false,
    }
}
