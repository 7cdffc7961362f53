//! The system's side of finding the gateway: the routing table and the
//! local address towards a gateway. Errors here are I/O, so this part sits
//! above the error type; the rest of `gateway` is plain data.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, UdpSocket};

use super::{GatewayInfo, choose_default_route};
use crate::error::{Error, Result};

impl GatewayInfo {
    /// Describe a gateway given by address (no routing-table look-up): the
    /// local address is the one the system would use to reach it.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidRequest`] for an address that cannot be a gateway;
    /// [`Error::Io`] when the system has no route to it.
    ///
    /// # Examples
    ///
    /// Compiled, not run: it asks this machine's routing table (nothing is
    /// sent).
    ///
    /// ```no_run
    /// use std::net::Ipv4Addr;
    /// use pfwd_core::GatewayInfo;
    ///
    /// let router = GatewayInfo::for_gateway(Ipv4Addr::new(192, 168, 1, 1))?;
    /// println!("this host is {} towards {}", router.local, router.gateway);
    /// # Ok::<(), pfwd_core::Error>(())
    /// ```
    ///
    /// An address that cannot be a gateway is refused before any look-up:
    ///
    /// ```
    /// use std::net::Ipv4Addr;
    /// use pfwd_core::{ErrorKind, GatewayInfo};
    ///
    /// let err = GatewayInfo::for_gateway(Ipv4Addr::new(224, 0, 0, 1)).unwrap_err();
    /// assert_eq!(err.kind(), ErrorKind::InvalidRequest);
    /// ```
    pub fn for_gateway(gateway: Ipv4Addr) -> Result<GatewayInfo> {
        if gateway.is_unspecified() || gateway.is_multicast() || gateway.is_broadcast() {
            return Err(Error::invalid(format!(
                "{gateway} cannot be a gateway: give the router's LAN address, for example 192.168.1.1"
            )));
        }
        Ok(GatewayInfo {
            interface: None,
            gateway,
            local: local_address_towards(gateway)?,
            lan: None,
        })
    }
}

/// The host's default IPv4 gateway and its local address towards it.
///
/// # Errors
///
/// [`Error::NoGateway`] when there is no default route (or the system is not
/// Linux, where pfwd cannot read the routing table: use
/// [`GatewayInfo::for_gateway`]); [`Error::Io`] when the table cannot be read.
///
/// # Examples
///
/// Compiled, not run: it reads this machine's routing table.
///
/// ```no_run
/// let home = pfwd_core::default_gateway()?;
/// println!("the router is {}; this host is {} on it", home.gateway, home.local);
/// if let Some(lan) = home.lan {
///     println!("the LAN is {lan}");
/// }
/// # Ok::<(), pfwd_core::Error>(())
/// ```
pub fn default_gateway() -> Result<GatewayInfo> {
    let Some(route) = choose_default_route(&read_route_table()?) else {
        return Err(Error::NoGateway {
            refused: false,
            method: None,
            detail: "the routing table has no default IPv4 route".into(),
        });
    };
    let local = local_address_towards(route.gateway)?;
    Ok(GatewayInfo {
        lan: route.lan_for(local),
        interface: Some(route.interface),
        gateway: route.gateway,
        local,
    })
}

fn read_route_table() -> Result<String> {
    if !cfg!(target_os = "linux") {
        return Err(Error::NoGateway {
            refused: false,
            method: None,
            detail:
                "pfwd finds the default gateway only on Linux; give the router's address explicitly"
                    .into(),
        });
    }
    // thread-self: the namespace of this thread, which may differ from the process's.
    std::fs::read_to_string("/proc/thread-self/net/route")
        .or_else(|_| std::fs::read_to_string("/proc/net/route"))
        .map_err(|e| Error::io("reading the routing table (/proc/net/route)", e))
}

/// The local address the system would use to reach `gateway`. A connected
/// UDP socket sends nothing; it only makes the kernel choose a route.
pub(crate) fn local_address_towards(gateway: Ipv4Addr) -> Result<Ipv4Addr> {
    let sock = UdpSocket::bind(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0))
        .map_err(|e| Error::io("opening a UDP socket", e))?;
    sock.connect(SocketAddrV4::new(gateway, 9))
        .map_err(|e| Error::io(format!("finding the route to the gateway {gateway}"), e))?;
    match sock.local_addr() {
        Ok(SocketAddr::V4(a)) if !a.ip().is_unspecified() => Ok(*a.ip()),
        Ok(other) => Err(Error::NoGateway {
            refused: false,
            method: None,
            detail: format!(
                "the system picked no usable local address towards {gateway} ({other})"
            ),
        }),
        Err(e) => Err(Error::io("reading the local address", e)),
    }
}
