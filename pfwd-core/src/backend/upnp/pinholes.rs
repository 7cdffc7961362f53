//! [`UpnpPinholes`]: the router's IPv6 pinholes (`WANIPv6FirewallControl`)
//! as a [`Forwarder`], on the SOAP calls of [`super::pinhole`].
//!
//! A pinhole is renewed with `UpdatePinhole` (asking `AddPinhole` again
//! would do by the specification, but miniupnpd 2.3.1 then sets a wrong
//! expiry), made again when the router no longer holds it, and read back
//! with `GetPinholePackets`, the one action miniupnpd answers for every
//! pinhole it holds.

use std::net::{IpAddr, SocketAddrV6};
use std::time::Instant;

use super::pinhole::{self, Firewall, MAX_PINHOLE_LEASE, no_such_pinhole};
use crate::backend::{another_host_unsupported, check_renewal, made_over};
use crate::error::{Error, Result};
use crate::forwarder::{BoxFuture, Forwarder, Presence};
use crate::gateway::Ipv6Gateway;
use crate::mapping::{Family, Lease, Mapping, MappingRequest, Method, MethodState};

/// The router's IPv6 firewall, opening pinholes for this host's global
/// address over UPnP. Made by [`Upnp::pinholes`](super::Upnp::pinholes).
#[derive(Debug)]
pub struct UpnpPinholes {
    firewall: Firewall,
    gateway: Ipv6Gateway,
}

impl UpnpPinholes {
    pub(super) fn new(firewall: Firewall, gateway: Ipv6Gateway) -> UpnpPinholes {
        UpnpPinholes { firewall, gateway }
    }

    /// Where the SOAP requests go, and from which address.
    pub fn firewall(&self) -> &Firewall {
        &self.firewall
    }

    /// Whether the router filters inbound IPv6 and lets clients open
    /// pinholes (`GetFirewallStatus`): the probe of this method.
    ///
    /// # Errors
    ///
    /// As [`pinhole::firewall_status`]; [`Error::Unsupported`] when the
    /// router's firewall is off or does not allow pinholes.
    pub async fn probe(&self) -> Result<()> {
        let status = pinhole::firewall_status(&self.firewall).await?;
        if !status.inbound_allowed {
            return Err(Error::Unsupported {
                method: Method::Upnp,
                what: "IPv6 pinholes".into(),
                detail: if status.enabled {
                    "the router's IPv6 firewall does not let UPnP clients open pinholes \
                     (InboundPinholeAllowed is off): allow it in the router's settings, or use \
                     PCP or the guide"
                        .into()
                } else {
                    "the router's IPv6 firewall is off (FirewallEnabled is 0): everything \
                     reaches this host over IPv6 already, and no pinhole is needed"
                        .into()
                },
            });
        }
        Ok(())
    }

    async fn map_request(&self, request: &MappingRequest) -> Result<Mapping> {
        check_renewal(request, Method::Upnp)?;
        if request.family() != Family::Ipv6 {
            return Err(Error::invalid(
                "UPnP pinholes are IPv6: map an IPv4 port with UPnP's port mappings",
            ));
        }
        let local = self.gateway.local;
        let host = request.internal_ipv6().unwrap_or(local);
        if host != local {
            return Err(another_host_unsupported(
                Method::Upnp,
                host,
                format!(
                    "UPnP opens a pinhole only for the address that asks ({local}): run pfwd on \
                     {host}, or use PCP, or open it by hand (the guide)"
                ),
            ));
        }
        let lease = match request.lease() {
            Lease::Finite(d) => d.min(MAX_PINHOLE_LEASE),
            Lease::Permanent => {
                return Err(Error::Unsupported {
                    method: Method::Upnp,
                    what: "permanent IPv6 pinholes".into(),
                    detail: "a UPnP pinhole lasts at most 24 hours: ask for a finite lease, and \
                             keep it (pfwd map, pfwd run) to renew it"
                        .into(),
                });
            }
        };
        if request.internal_port() < 1024 {
            // IGDv2 recommends it for clients that are not authenticated,
            // and miniupnpd does it (UPnP 606): no need to ask.
            return Err(Error::Unsupported {
                method: Method::Upnp,
                what: format!("an IPv6 pinhole for port {}", request.internal_port()),
                detail: "IGDv2 routers, miniupnpd among them, refuse UPnP pinholes below port \
                         1024: use PCP, or open it by hand with the guide"
                    .into(),
            });
        }
        let internal = SocketAddrV6::new(host, request.internal_port(), 0, 0);
        let previous = match request.previous().map(|p| (p, p.state())) {
            None => None,
            Some((_, MethodState::UpnpPinhole { unique_id })) => Some(*unique_id),
            Some((p, _)) => return Err(made_over(p, "renew")),
        };
        let unique_id = match previous {
            Some(id) => match pinhole::update_pinhole(&self.firewall, id, lease).await {
                Ok(()) => id,
                // The router lost it (a restart, or removed): open it again.
                Err(e) if no_such_pinhole(&e) => {
                    log::info!("UPnP: pinhole {id} is gone ({e}); opening it again");
                    pinhole::add_pinhole(&self.firewall, internal, request.protocol(), lease)
                        .await?
                }
                Err(e) => return Err(e),
            },
            None => {
                pinhole::add_pinhole(&self.firewall, internal, request.protocol(), lease).await?
            }
        };
        log::info!(
            "UPnP: {} opened pinhole {unique_id} for {} {internal} for {} s",
            self.firewall,
            request.protocol(),
            lease.as_secs()
        );
        Ok(Mapping::new(
            Method::Upnp,
            request.protocol(),
            IpAddr::V6(self.gateway.router),
            internal,
            internal,
            Lease::Finite(lease),
            Instant::now(),
            request.description(),
            MethodState::UpnpPinhole { unique_id },
        ))
    }

    fn unique_id(mapping: &Mapping, action: &str) -> Result<u16> {
        match mapping.state() {
            MethodState::UpnpPinhole { unique_id } => Ok(*unique_id),
            _ => Err(made_over(mapping, action)),
        }
    }
}

impl Forwarder for UpnpPinholes {
    fn method(&self) -> Method {
        Method::Upnp
    }

    fn external_address(&self) -> BoxFuture<'_, Result<std::net::Ipv4Addr>> {
        Box::pin(async {
            Err(Error::Unsupported {
                method: Method::Upnp,
                what: "reading the external IPv4 address".into(),
                detail: "a pinhole's address is this host's own IPv6 address; ask over IPv4 for \
                         the router's"
                    .into(),
            })
        })
    }

    fn map<'a>(&'a self, request: &'a MappingRequest) -> BoxFuture<'a, Result<Mapping>> {
        Box::pin(self.map_request(request))
    }

    fn unmap<'a>(&'a self, mapping: &'a Mapping) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let id = UpnpPinholes::unique_id(mapping, "delete")?;
            match pinhole::delete_pinhole(&self.firewall, id).await {
                Ok(()) => Ok(()),
                // Already closed (expired, or the router restarted).
                Err(e) if no_such_pinhole(&e) => Ok(()),
                Err(e) => Err(e),
            }
        })
    }

    fn lost<'a>(&'a self, mapping: &'a Mapping) -> BoxFuture<'a, Result<bool>> {
        Box::pin(async move {
            let id = UpnpPinholes::unique_id(mapping, "read back")?;
            Ok(!pinhole::pinhole_held(&self.firewall, id).await?)
        })
    }

    fn presence<'a>(&'a self, mapping: &'a Mapping) -> BoxFuture<'a, Result<Presence>> {
        Box::pin(async move {
            Ok(if self.lost(mapping).await? {
                Presence::Lost
            } else {
                Presence::Held
            })
        })
    }

    fn ipv6_gateway(&self) -> Option<Ipv6Gateway> {
        Some(self.gateway.clone())
    }
}
