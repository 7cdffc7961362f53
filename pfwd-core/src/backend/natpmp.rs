//! NAT-PMP (RFC 6886) as a [`Forwarder`](crate::Forwarder), on the shared 5351 engine.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::Arc;

use log::{debug, info};

use crate::backend::engine::{self, Engine, Matcher, PmpOptions, Probe, Schedule};
use crate::backend::{
    another_host_unsupported, check_renewal, code_error, deleting, describe, ipv4_host,
    permanent_unsupported,
};
use crate::error::{Error, GatewayCode, Result};
use crate::gateway::GatewayInfo;
use crate::mapping::{Lease, Mapping, MappingRequest, Method, MethodState, Protocol};
use crate::wire::epoch::{EpochCheck, EpochRule};
use crate::wire::natpmp::{self, MapProtocol, Request, Response, ResultCode};
use crate::wire::{pcp, u16_at, u32_at};

/// A NAT-PMP gateway, as a [`Forwarder`](crate::Forwarder).
///
/// # Examples
///
/// Compiled, not run: it asks the router on UDP 5351.
///
/// ```no_run
/// # async fn demo() -> pfwd_core::Result<()> {
/// use pfwd_core::{Forwarder, MappingRequest, NatPmp, Protocol};
/// let router = NatPmp::discover().await?;
/// let mapping = router.map(&MappingRequest::builder(Protocol::Udp, 51820).build()?).await?;
/// println!("WireGuard reachable at {}", mapping.external());
/// router.unmap(&mapping).await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct NatPmp {
    engine: Arc<Engine>,
    info: GatewayInfo,
    options: PmpOptions,
}

impl NatPmp {
    /// Find the default gateway and check that it answers NAT-PMP.
    ///
    /// # Errors
    ///
    /// [`Error::NoGateway`] when nothing answers on UDP 5351 within the
    /// budget (or the port is closed), [`Error::Unsupported`] when the
    /// gateway speaks only PCP, [`Error::InvalidResponse`] for garbage.
    pub async fn discover() -> Result<NatPmp> {
        NatPmp::discover_with(PmpOptions::default()).await
    }

    /// As [`NatPmp::discover`], with options.
    ///
    /// # Errors
    ///
    /// As [`NatPmp::discover`].
    pub async fn discover_with(options: PmpOptions) -> Result<NatPmp> {
        engine::discover(options, NatPmp::on_engine).await
    }

    /// A NAT-PMP client on an engine another backend already opened.
    pub(crate) fn on_engine(engine: Arc<Engine>, info: GatewayInfo, options: PmpOptions) -> NatPmp {
        NatPmp {
            engine,
            info,
            options,
        }
    }

    /// The gateway and this host's address on its network.
    pub fn gateway(&self) -> &GatewayInfo {
        &self.info
    }

    /// [`gateway`](Self::gateway), for the forwarder.
    pub(crate) fn gateway_info(&self) -> Option<GatewayInfo> {
        Some(self.info.clone())
    }

    /// Ask the gateway for its epoch (with an external-address request) and
    /// say whether it restarted since the last answer: if so, every mapping
    /// it held is gone and must be made again.
    ///
    /// # Errors
    ///
    /// As [`Forwarder::external_address`](crate::Forwarder::external_address).
    pub async fn check_epoch(&self) -> Result<EpochCheck> {
        self.exchange_external().await.map(|(_, check)| check)
    }

    /// Whether the gateway restarted (lost its mappings) since `mapping` was
    /// granted, as far as the answers seen so far tell.
    pub fn restarted_since(&self, mapping: &Mapping) -> bool {
        self.engine.restarted_since(mapping)
    }

    /// The method spoken: always NAT-PMP.
    fn current_method(&self) -> Method {
        Method::NatPmp
    }

    fn deadline(&self) -> tokio::time::Instant {
        tokio::time::Instant::now() + self.options.timeout
    }

    async fn exchange_external(&self) -> Result<(Ipv4Addr, EpochCheck)> {
        let matcher: Matcher = Box::new(|b: &[u8]| {
            (b.len() >= 2
                && b[0] == natpmp::VERSION
                && b[1] == natpmp::RESPONSE_BIT + natpmp::OP_EXTERNAL_ADDRESS)
                || pcp_says_unsupported(b)
        });
        let got = self
            .engine
            .transact(
                &Request::ExternalAddress.encode(),
                matcher,
                Schedule::NatPmp,
                "external-address",
                self.deadline(),
            )
            .await
            .map_err(|why| {
                self.engine
                    .unanswered(Method::NatPmp, "external-address", why)
            })?;
        let response = self.decode(&got.bytes)?;
        debug!(
            "NAT-PMP external-address answer from {}: result {}",
            self.info.gateway,
            response.result()
        );
        let check = self
            .engine
            .observe_epoch(EpochRule::NatPmp, response.epoch(), got.at);
        match response {
            Response::ExternalAddress {
                result: ResultCode::Success,
                external,
                ..
            } => {
                if external.is_unspecified() {
                    Err(Error::Refused {
                        method: Method::NatPmp,
                        what: "reading the external address".into(),
                        code: GatewayCode::NatPmp(ResultCode::NetworkFailure),
                    })
                } else {
                    Ok((external, check))
                }
            }
            other => Err(result_error(other.result(), "reading the external address")),
        }
    }

    async fn external_ipv4(&self) -> Result<Ipv4Addr> {
        self.exchange_external().await.map(|(ip, _)| ip)
    }

    fn decode(&self, bytes: &[u8]) -> Result<Response> {
        if pcp_says_unsupported(bytes) {
            return Err(Error::Unsupported {
                method: Method::NatPmp,
                what: "NAT-PMP".into(),
                detail: "the gateway answered with PCP's UNSUPP_VERSION: it speaks only PCP".into(),
            });
        }
        Response::decode(bytes).map_err(|e| Error::InvalidResponse {
            method: Method::NatPmp,
            detail: format!("{e} in a {}-byte answer", bytes.len()),
        })
    }

    /// Create, renew or (lifetime 0) delete; returns the decoded answer.
    async fn exchange_map(
        &self,
        protocol: MapProtocol,
        internal_port: u16,
        external_port: u16,
        lifetime: u32,
    ) -> Result<(Response, std::time::Instant, u64)> {
        let request = Request::Map {
            protocol,
            internal_port,
            external_port,
            lifetime,
        };
        let op = protocol.opcode();
        let matcher: Matcher = Box::new(move |b: &[u8]| {
            if pcp_says_unsupported(b) {
                return true;
            }
            if b.len() < 2 || b[0] != natpmp::VERSION || b[1] != natpmp::RESPONSE_BIT + op {
                return false;
            }
            // A short answer is an error answer. A full one must echo the
            // internal port, and a success must be of the same kind: a late
            // answer to a create (lifetime > 0) must not pass for the answer
            // to a delete (lifetime 0) of the same port, or the reverse.
            if b.len() < 16 {
                return true;
            }
            let success = u16_at(b, 2) == 0;
            u16_at(b, 8) == internal_port && (!success || (u32_at(b, 12) == 0) == (lifetime == 0))
        });
        let got = self
            .engine
            .transact(
                &request.encode(),
                matcher,
                Schedule::NatPmp,
                "mapping",
                self.deadline(),
            )
            .await
            .map_err(|why| self.engine.unanswered(Method::NatPmp, "mapping", why))?;
        let response = self.decode(&got.bytes)?;
        debug!(
            "NAT-PMP answer from {} to {request:?}: result {}",
            self.info.gateway,
            response.result()
        );
        self.engine
            .observe_epoch(EpochRule::NatPmp, response.epoch(), got.at);
        Ok((response, got.at, self.engine.generation()))
    }

    pub(crate) async fn map_request(&self, request: &MappingRequest) -> Result<Mapping> {
        check_renewal(request, Method::NatPmp)?;
        let host = ipv4_host(request, Method::NatPmp)?.unwrap_or(self.info.local);
        if host != self.info.local {
            return Err(another_host_unsupported(
                Method::NatPmp,
                host,
                format!(
                    "NAT-PMP forwards only to the host that asks ({}); run pfwd on {host}, or use PCP or UPnP",
                    self.info.local
                ),
            ));
        }
        let Lease::Finite(lease) = request.lease() else {
            return Err(permanent_unsupported(Method::NatPmp));
        };
        let protocol = map_protocol(request.protocol());
        let lifetime = u32::try_from(lease.as_secs()).unwrap_or(u32::MAX);
        let what = describe(request, host);
        let ((response, at, generation), external) = {
            let (m, e) = tokio::join!(
                self.exchange_map(
                    protocol,
                    request.internal_port(),
                    request.external_port().unwrap_or(0),
                    lifetime
                ),
                self.external_ipv4()
            );
            (m?, e)
        };
        let (epoch, external_port, granted) = match response {
            Response::Map {
                result: ResultCode::Success,
                epoch,
                external_port,
                lifetime,
                ..
            } => (epoch, external_port, lifetime),
            other => return Err(result_error(other.result(), &what)),
        };
        if external_port == 0 || granted == 0 {
            return Err(Error::InvalidResponse {
                method: Method::NatPmp,
                detail: format!("success with external port {external_port} and lease {granted} s"),
            });
        }
        let wanted = request
            .external_port()
            .filter(|_| request.exact_external_port());
        let external = external.and_then(|ip| match wanted {
            // NAT-PMP cannot ask for "this port or nothing": the other port is undone below.
            Some(port) if port != external_port => Err(Error::Conflict {
                method: Method::NatPmp,
                protocol: request.protocol(),
                external_port: port,
                holder: None,
            }),
            _ => Ok(ip),
        });
        let external = match external {
            Ok(ip) => ip,
            Err(e) => {
                // Do not leave behind a mapping the caller will not get.
                // The delete names the granted external port: see `unmap_mapping`.
                debug!("NAT-PMP: undoing {what} (granted port {external_port}): {e}");
                let _ = self
                    .exchange_map(protocol, request.internal_port(), external_port, 0)
                    .await;
                return Err(e);
            }
        };
        info!(
            "NAT-PMP: {} granted {what} as external port {external_port} for {granted} s",
            self.info.gateway
        );
        Ok(Mapping::new(
            Method::NatPmp,
            request.protocol(),
            self.info.gateway,
            SocketAddrV4::new(external, external_port),
            SocketAddrV4::new(host, request.internal_port()),
            Lease::from_secs(granted),
            at,
            request.description(),
            MethodState::NatPmp { epoch, generation },
        ))
    }

    pub(crate) async fn unmap_mapping(&self, mapping: &Mapping) -> Result<()> {
        let what = deleting(mapping);
        // RFC 6886 section 3.4 says a client sends external port 0 in a
        // delete and the gateway ignores the field, deleting by internal
        // port. miniupnpd 2.3.1 deletes by this field instead (quirk fixture
        // "miniupnpd-2.3.1 NAT-PMP delete uses the suggested external port"):
        // with 0 it deletes nothing when the granted external port differs
        // from the internal one. Sending the granted port works with both.
        let (response, _, _) = self
            .exchange_map(
                map_protocol(mapping.protocol()),
                mapping.internal().port(),
                mapping.external().port(),
                0,
            )
            .await?;
        match response.result() {
            ResultCode::Success => {
                info!("NAT-PMP: {} done {what}", self.info.gateway);
                Ok(())
            }
            code => Err(result_error(code, &what)),
        }
    }
}

crate::backend::pmp_forwarder!(NatPmp);

/// A PCP server's answer "unsupported version" to a NAT-PMP request.
fn pcp_says_unsupported(b: &[u8]) -> bool {
    b.len() >= 4 && b[0] == pcp::VERSION && b[3] == pcp::ResultCode::UnsupportedVersion.code()
}

fn map_protocol(p: Protocol) -> MapProtocol {
    match p {
        Protocol::Tcp => MapProtocol::Tcp,
        Protocol::Udp => MapProtocol::Udp,
    }
}

fn result_error(code: ResultCode, what: &str) -> Error {
    let unsupported = matches!(
        code,
        ResultCode::UnsupportedVersion | ResultCode::UnsupportedOpcode
    );
    code_error(GatewayCode::NatPmp(code), what, unsupported)
}

impl Probe for NatPmp {
    /// An external-address request.
    async fn probe(&self) -> Result<()> {
        self.external_ipv4().await.map(drop)
    }
}
