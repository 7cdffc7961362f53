//! PCP (RFC 6887) as a [`Forwarder`], on the shared 5351 engine, falling
//! back to NAT-PMP at once when the gateway answers PCP with NAT-PMP's
//! "unsupported version"; over IPv6, the same MAP opens a pinhole for the
//! host's global address.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use log::{debug, info};

use crate::backend::engine::{self, Engine, Matcher, PmpOptions, Probe, Schedule, random_bytes};
use crate::backend::natpmp::NatPmp;
use crate::backend::{
    another_host_unsupported, check_renewal, code_error, deleting, describe, made_over,
    permanent_unsupported,
};
use crate::error::{Error, GatewayCode, Result};
use crate::forwarder::Forwarder;
use crate::gateway::{GatewayInfo, Ipv6Gateway};
use crate::mapping::{Family, Lease, Mapping, MappingRequest, Method, MethodState, Protocol};
use crate::sync::lock;
use crate::wire::epoch::{EpochCheck, EpochRule};
use crate::wire::pcp::{
    self, MapPayload, OP_ANNOUNCE, OP_MAP, PcpOption, Request, RequestBody, Response, ResponseBody,
    ResultCode, mapped, unmapped,
};
use crate::wire::{natpmp, u16_at, u32_at};

/// A PCP gateway, as a [`Forwarder`].
///
/// If the gateway turns out to speak only NAT-PMP (it answers PCP with
/// NAT-PMP's UNSUPP_VERSION), this forwarder speaks NAT-PMP from then on:
/// [`Forwarder::method`] and the mappings it returns say so.
///
/// # Examples
///
/// Compiled, not run: it asks the router on UDP 5351.
///
/// ```no_run
/// # async fn demo() -> pfwd_core::Result<()> {
/// use pfwd_core::{Forwarder, MappingRequest, Pcp, Protocol};
/// let router = Pcp::discover().await?;
/// let mapping = router.map(&MappingRequest::builder(Protocol::Tcp, 443).build()?).await?;
/// // Renew with the same nonce before mapping.renew_after():
/// let mapping = router.map(&mapping.renewal()).await?;
/// router.unmap(&mapping).await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Pcp {
    engine: Arc<Engine>,
    route: Route,
    options: PmpOptions,
    /// The NAT-PMP fallback (IPv4 only: NAT-PMP has no IPv6).
    natpmp: Option<NatPmp>,
    natpmp_only: AtomicBool,
    last_external: Mutex<Option<Ipv4Addr>>,
}

/// The network PCP is spoken over.
#[derive(Debug, Clone)]
enum Route {
    /// IPv4: port mappings on the router's public address.
    V4(GatewayInfo),
    /// IPv6: pinholes for the host's global address.
    V6(Ipv6Gateway),
}

/// How a PCP exchange ended.
enum Answer {
    Pcp(Response, std::time::Instant, EpochCheck),
    /// The gateway answered in NAT-PMP: it does not speak PCP.
    NatPmpOnly,
}

impl Pcp {
    /// Find the default gateway and check that it answers PCP (an ANNOUNCE).
    ///
    /// # Errors
    ///
    /// [`Error::NoGateway`] when nothing answers on UDP 5351 within the
    /// budget (or the port is closed), [`Error::InvalidResponse`] for garbage.
    pub async fn discover() -> Result<Pcp> {
        Pcp::discover_with(PmpOptions::default()).await
    }

    /// As [`Pcp::discover`], with options.
    ///
    /// # Errors
    ///
    /// As [`Pcp::discover`].
    pub async fn discover_with(options: PmpOptions) -> Result<Pcp> {
        engine::discover(options, Pcp::on_engine).await
    }

    /// A PCP client on an engine another backend already opened; call
    /// [`Pcp::check_epoch`] to find out whether the gateway speaks PCP.
    pub(crate) fn on_engine(engine: Arc<Engine>, info: GatewayInfo, options: PmpOptions) -> Pcp {
        Pcp {
            natpmp: Some(NatPmp::on_engine(
                engine.clone(),
                info.clone(),
                options.clone(),
            )),
            engine,
            route: Route::V4(info),
            options,
            natpmp_only: AtomicBool::new(false),
            last_external: Mutex::new(None),
        }
    }

    /// PCP over IPv6: a socket on this host's global address (`gateway.local`)
    /// connected to the router's port 5351, for pinholes. Nothing is sent
    /// until asked; call [`Pcp::check_epoch`] to find out whether the router
    /// speaks PCP over IPv6.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] when the socket cannot be opened (the address is not
    /// this host's, or the router is unreachable).
    pub async fn ipv6(gateway: Ipv6Gateway, options: PmpOptions) -> Result<Pcp> {
        let server = SocketAddr::V6(gateway.router_at(options.server_port));
        let engine = Arc::new(Engine::open(IpAddr::V6(gateway.local), server).await?);
        Ok(Pcp {
            natpmp: None,
            engine,
            route: Route::V6(gateway),
            options,
            natpmp_only: AtomicBool::new(false),
            last_external: Mutex::new(None),
        })
    }

    /// The IPv4 gateway and this host's address on its network; `None` for
    /// PCP over IPv6 ([`Pcp::ipv6_gateway`]).
    pub fn gateway(&self) -> Option<&GatewayInfo> {
        match &self.route {
            Route::V4(info) => Some(info),
            Route::V6(_) => None,
        }
    }

    /// The IPv6 router and this host's global address, for PCP over IPv6.
    pub fn ipv6_gateway(&self) -> Option<&Ipv6Gateway> {
        match &self.route {
            Route::V4(_) => None,
            Route::V6(g) => Some(g),
        }
    }

    /// [`gateway`](Self::gateway), for the forwarder.
    pub(crate) fn gateway_info(&self) -> Option<GatewayInfo> {
        self.gateway().cloned()
    }

    /// The address family PCP is spoken in.
    pub fn family(&self) -> Family {
        match self.route {
            Route::V4(_) => Family::Ipv4,
            Route::V6(_) => Family::Ipv6,
        }
    }

    /// The router's address, for logs and mappings.
    fn router(&self) -> IpAddr {
        match &self.route {
            Route::V4(info) => info.gateway.into(),
            Route::V6(g) => g.router.into(),
        }
    }

    /// This host's address: the PCP client address (the sender's).
    fn local(&self) -> IpAddr {
        match &self.route {
            Route::V4(info) => info.local.into(),
            Route::V6(g) => g.local.into(),
        }
    }

    /// The host `request` forwards to: its own, which must be on the LAN
    /// and of the family PCP is spoken in, or this host.
    fn host_of(&self, request: &MappingRequest) -> Result<IpAddr> {
        match (&self.route, request.family()) {
            (Route::V4(info), Family::Ipv4) => Ok(info.lan_host(request.internal_ipv4())?.into()),
            (Route::V6(g), Family::Ipv6) => Ok(request.internal_ipv6().unwrap_or(g.local).into()),
            (_, family) => Err(Error::invalid(format!(
                "this PCP client speaks {} and the request asks for {family}: ask through the \
                 automatic client, which picks the family's gateway",
                self.family()
            ))),
        }
    }

    /// The NAT-PMP fallback, once the gateway turned out to speak only that.
    fn natpmp(&self) -> Result<&NatPmp> {
        self.natpmp.as_ref().ok_or_else(|| Error::Unsupported {
            method: Method::NatPmp,
            what: "IPv6".into(),
            detail: "the router answered PCP over IPv6 in NAT-PMP, which is IPv4 only".into(),
        })
    }

    /// Whether the gateway turned out to speak only NAT-PMP.
    pub fn speaks_natpmp_only(&self) -> bool {
        self.natpmp_only.load(Ordering::Relaxed)
    }

    /// The method spoken: PCP, or NAT-PMP once the gateway turned out to
    /// speak only that.
    fn current_method(&self) -> Method {
        if self.speaks_natpmp_only() {
            Method::NatPmp
        } else {
            Method::Pcp
        }
    }

    /// Send an ANNOUNCE and say whether the gateway restarted (lost its
    /// mappings) since the last answer (RFC 6887 section 8.5).
    ///
    /// # Errors
    ///
    /// [`Error::NoGateway`], [`Error::Timeout`] or [`Error::InvalidResponse`].
    pub async fn check_epoch(&self) -> Result<EpochCheck> {
        if self.speaks_natpmp_only() {
            return self.natpmp()?.check_epoch().await;
        }
        let request = Request {
            lifetime: 0,
            client_ip: wire_address(self.local()),
            body: RequestBody::Announce,
            options: Vec::new(),
        };
        let matcher: Matcher = Box::new(|b: &[u8]| {
            natpmp_says_unsupported(b)
                || (b.len() >= 2 && b[0] == pcp::VERSION && b[1] == 0x80 | OP_ANNOUNCE)
        });
        match self.exchange(&request, matcher, "announce").await? {
            Answer::Pcp(response, _, check) if response.result.is_success() => Ok(check),
            Answer::Pcp(response, _, _) => Err(result_error(response.result, "an ANNOUNCE")),
            Answer::NatPmpOnly => self.natpmp()?.check_epoch().await,
        }
    }

    /// Whether the gateway restarted since `mapping` was granted, as far as
    /// the answers seen so far tell.
    pub fn restarted_since(&self, mapping: &Mapping) -> bool {
        self.engine.restarted_since(mapping)
    }

    async fn exchange(&self, request: &Request, matcher: Matcher, what: &str) -> Result<Answer> {
        let deadline = tokio::time::Instant::now() + self.options.timeout;
        let got = self
            .engine
            .transact(&request.encode(), matcher, Schedule::Pcp, what, deadline)
            .await
            .map_err(|why| self.engine.unanswered(Method::Pcp, what, why))?;
        if natpmp_says_unsupported(&got.bytes) {
            // RFC 6887 section 9: a NAT-PMP server answers PCP with its own
            // UNSUPP_VERSION. Speak NAT-PMP from now on.
            info!(
                "PCP: {} answered in NAT-PMP (UNSUPP_VERSION): speaking NAT-PMP from now on",
                self.router()
            );
            self.natpmp_only.store(true, Ordering::Relaxed);
            return Ok(Answer::NatPmpOnly);
        }
        let response = Response::decode(&got.bytes).map_err(|e| Error::InvalidResponse {
            method: Method::Pcp,
            detail: format!("{e} in a {}-byte answer", got.bytes.len()),
        })?;
        debug!(
            "PCP {what} answer from {}: result {}, lifetime {} s, epoch {}",
            self.router(),
            response.result,
            response.lifetime,
            response.epoch
        );
        let check = self
            .engine
            .observe_epoch(EpochRule::Pcp, response.epoch, got.at);
        Ok(Answer::Pcp(response, got.at, check))
    }

    /// One MAP exchange: create, renew or (lifetime 0) delete.
    async fn exchange_map(
        &self,
        payload: MapPayload,
        lifetime: u32,
        options: Vec<PcpOption>,
        what: &str,
    ) -> Result<Answer> {
        let request = Request {
            lifetime,
            client_ip: wire_address(self.local()),
            body: RequestBody::Map(payload),
            options,
        };
        let (nonce, protocol, internal_port) =
            (payload.nonce, payload.protocol, payload.internal_port);
        let matcher: Matcher = Box::new(move |b: &[u8]| {
            if natpmp_says_unsupported(b) {
                return true;
            }
            if b.len() < pcp::HEADER_LEN || b[0] != pcp::VERSION || b[1] != 0x80 | OP_MAP {
                return false;
            }
            if b.len() < pcp::HEADER_LEN + pcp::MAP_PAYLOAD_LEN {
                // A header-only answer can only be an error; it cannot be matched further.
                return b[3] != ResultCode::Success.code();
            }
            let p = &b[pcp::HEADER_LEN..];
            // A success must be of the same kind as the request: a late
            // answer to a create must not pass for a delete's, or the reverse.
            let success = b[3] == ResultCode::Success.code();
            p[..12] == nonce
                && p[12] == protocol
                && u16_at(p, 16) == internal_port
                && (!success || (u32_at(b, 4) == 0) == (lifetime == 0))
        });
        self.exchange(&request, matcher, what).await
    }

    async fn map_request(&self, request: &MappingRequest) -> Result<Mapping> {
        if self.speaks_natpmp_only() {
            return self.natpmp()?.map_request(request).await;
        }
        check_renewal(request, Method::Pcp)?;
        let previous = match request.previous().map(|prev| (prev, prev.state())) {
            None => None,
            Some((prev, MethodState::Pcp { nonce, .. })) => Some((*nonce, prev.external())),
            Some((prev, _)) => return Err(made_over(prev, "renew")),
        };
        let Lease::Finite(lease) = request.lease() else {
            return Err(permanent_unsupported(Method::Pcp));
        };
        let host = self.host_of(request)?;
        let nonce = match previous {
            Some((nonce, _)) => nonce,
            None => {
                let mut n = [0u8; 12];
                random_bytes(&mut n)?;
                n
            }
        };
        let payload = MapPayload {
            nonce,
            protocol: pcp_protocol(request.protocol()),
            internal_port: request.internal_port(),
            external_port: request.external_port().unwrap_or(0),
            // A renewal asks for the address it had; otherwise any address
            // of the family (RFC 6887 section 11.1: IPv4's is ::ffff:0.0.0.0).
            external_ip: previous.map_or_else(
                || match self.family() {
                    Family::Ipv4 => mapped(Ipv4Addr::UNSPECIFIED),
                    Family::Ipv6 => Ipv6Addr::UNSPECIFIED,
                },
                |(_, ext)| wire_address(ext.ip()),
            ),
        };
        let third_party = host != self.local();
        let mut options = Vec::new();
        if third_party {
            options.push(PcpOption::ThirdParty(wire_address(host)));
        }
        let exact = request
            .external_port()
            .filter(|_| request.exact_external_port());
        if exact.is_some() {
            options.push(PcpOption::PreferFailure);
        }
        let lifetime = u32::try_from(lease.as_secs()).unwrap_or(u32::MAX);
        let what = describe(request, host);
        let (response, at) = match self
            .exchange_map(payload, lifetime, options.clone(), &what)
            .await?
        {
            Answer::Pcp(r, at, _) => (r, at),
            Answer::NatPmpOnly => return self.natpmp()?.map_request(request).await,
        };
        let granted = match (response.result, response.body) {
            (ResultCode::Success, ResponseBody::Map(p)) => p,
            (ResultCode::Success, _) => {
                return Err(Error::InvalidResponse {
                    method: Method::Pcp,
                    detail: "a successful MAP answer without its payload".into(),
                });
            }
            // miniupnpd (and others) refuse THIRD_PARTY as an option they
            // do not support: the gateway maps only to the host that asks.
            (code @ (ResultCode::UnsupportedOption | ResultCode::MalformedOption), _)
                if third_party =>
            {
                return Err(another_host_unsupported(
                    Method::Pcp,
                    host,
                    format!(
                        "the gateway refused PCP's THIRD_PARTY option ({}): it maps ports only to \
                         the host that asks; run pfwd on {host}, or use UPnP",
                        GatewayCode::Pcp(code)
                    ),
                ));
            }
            (code, _) => return Err(result_error(code, &what)),
        };
        let external_ip = granted_address(granted.external_ip, self.family())?;
        if granted.external_port == 0 || response.lifetime == 0 {
            return Err(Error::InvalidResponse {
                method: Method::Pcp,
                detail: format!(
                    "success with external port {} and lease {} s",
                    granted.external_port, response.lifetime
                ),
            });
        }
        if let Some(port) = exact.filter(|p| *p != granted.external_port) {
            // The gateway ignored PREFER_FAILURE (a fault: RFC 6887 makes
            // options below 128 mandatory to process) and granted another
            // port: delete that one, with its nonce, and report the conflict.
            debug!(
                "PCP: {} granted port {} for {what}, which asked for exactly {port}: deleting it",
                self.router(),
                granted.external_port
            );
            // A delete carries THIRD_PARTY as the create did, and nothing else.
            let mut options = options;
            options.retain(|o| matches!(o, PcpOption::ThirdParty(_)));
            let _ = self.exchange_map(granted, 0, options, "delete").await;
            return Err(Error::Conflict {
                method: Method::Pcp,
                protocol: request.protocol(),
                external_port: port,
                holder: None,
            });
        }
        info!(
            "PCP: {} granted {what} as {external_ip}:{} for {} s",
            self.router(),
            granted.external_port,
            response.lifetime
        );
        if let IpAddr::V4(ip) = external_ip {
            *lock(&self.last_external) = Some(ip);
        }
        Ok(Mapping::new(
            Method::Pcp,
            request.protocol(),
            self.router(),
            SocketAddr::new(external_ip, granted.external_port),
            SocketAddr::new(host, request.internal_port()),
            Lease::from_secs(response.lifetime),
            at,
            request.description(),
            MethodState::Pcp {
                nonce,
                epoch: response.epoch,
                generation: self.engine.generation(),
            },
        ))
    }

    async fn unmap_mapping(&self, mapping: &Mapping) -> Result<()> {
        let nonce = match mapping.state() {
            MethodState::Pcp { nonce, .. } => *nonce,
            MethodState::NatPmp { .. } => return self.natpmp()?.unmap_mapping(mapping).await,
            _ => return Err(made_over(mapping, "delete")),
        };
        let what = deleting(mapping);
        let payload = MapPayload {
            nonce,
            protocol: pcp_protocol(mapping.protocol()),
            internal_port: mapping.internal().port(),
            external_port: mapping.external().port(),
            external_ip: wire_address(mapping.external().ip()),
        };
        let mut options = Vec::new();
        if mapping.internal().ip() != self.local() {
            options.push(PcpOption::ThirdParty(wire_address(mapping.internal().ip())));
        }
        match self
            .exchange_map(payload, 0, options.clone(), &what)
            .await?
        {
            Answer::Pcp(r, _, _) if r.result.is_success() => {
                info!("PCP: {} done {what}", self.router());
                Ok(())
            }
            Answer::Pcp(r, _, _)
                if r.result == ResultCode::NotAuthorized && mapping.is_pinhole() =>
            {
                Err(self.shorten_pinhole(payload, options, &what).await)
            }
            Answer::Pcp(r, _, _) => Err(result_error(r.result, &what)),
            Answer::NatPmpOnly => self.natpmp()?.unmap_mapping(mapping).await,
        }
    }

    /// A pinhole the router would not close with its own nonce: miniupnpd
    /// before 2.3.6 drops the nonce of a PCP pinhole when it renews it
    /// (the fixture `miniupnpd_2_3_1_pcp_renewal_of_a_pinhole_drops_its_
    /// nonce_so_delete_is_not_authorized`). The renewal still works, so the
    /// pinhole is renewed with the shortest lease the router grants, and
    /// the error says when it closes by itself.
    async fn shorten_pinhole(
        &self,
        payload: MapPayload,
        options: Vec<PcpOption>,
        what: &str,
    ) -> Error {
        let shortened = self
            .exchange_map(payload, 1, options, "shortening a pinhole's lease")
            .await;
        let then = match shortened {
            Ok(Answer::Pcp(r, _, _)) if r.result.is_success() => {
                log::warn!(
                    "PCP: {} would not close the pinhole ({what}); its lease is now {} s",
                    self.router(),
                    r.lifetime
                );
                format!(
                    "pfwd cut its lease to {} s instead, so it closes by itself then",
                    r.lifetime
                )
            }
            _ => "it stays open until its lease ends".into(),
        };
        Error::Refused {
            method: Method::Pcp,
            what: format!(
                "{what} (the router forgot this IPv6 pinhole's nonce when it renewed it, as \
                 miniupnpd before 2.3.6 does; {then})"
            ),
            code: GatewayCode::Pcp(ResultCode::NotAuthorized),
        }
    }

    async fn external_ipv4(&self) -> Result<Ipv4Addr> {
        // PCP has no external-address request. Most PCP servers also answer
        // NAT-PMP's; a PCP-only one gets the address of the last mapping.
        let natpmp = match self.natpmp() {
            Ok(n) => n,
            // Over IPv6 there is no external address to translate to.
            Err(_) => {
                return Err(Error::Unsupported {
                    method: Method::Pcp,
                    what: "reading the external IPv4 address".into(),
                    detail: "PCP over IPv6 opens pinholes for this host's own address; ask \
                             over IPv4 for the router's"
                        .into(),
                });
            }
        };
        match natpmp.external_address().await {
            Err(Error::Unsupported { .. }) => {
                let cached = *lock(&self.last_external);
                cached.ok_or_else(|| Error::Unsupported {
                    method: Method::Pcp,
                    what: "reading the external address".into(),
                    detail: "the gateway speaks only PCP, which tells the address with a mapping: map a port first"
                        .into(),
                })
            }
            other => other,
        }
    }
}

crate::backend::pmp_forwarder!(Pcp);

/// A NAT-PMP server's answer "unsupported version" (RFC 6886 section 3.5).
fn natpmp_says_unsupported(b: &[u8]) -> bool {
    b.len() >= 4
        && b[0] == natpmp::VERSION
        && u16_at(b, 2) == natpmp::ResultCode::UnsupportedVersion.code()
}

/// An address as PCP carries it: IPv6, or IPv4 mapped into IPv6.
fn wire_address(ip: IpAddr) -> Ipv6Addr {
    match ip {
        IpAddr::V4(ip) => mapped(ip),
        IpAddr::V6(ip) => ip,
    }
}

/// The external address a MAP granted, which must be of the request's
/// family and specified.
fn granted_address(wire: Ipv6Addr, family: Family) -> Result<IpAddr> {
    let ip = match (family, unmapped(wire)) {
        (Family::Ipv4, Some(ip)) => IpAddr::V4(ip),
        (Family::Ipv6, None) => IpAddr::V6(wire),
        _ => None.ok_or_else(|| Error::InvalidResponse {
            method: Method::Pcp,
            detail: format!("granted external address {wire} is not an {family} address"),
        })?,
    };
    if ip.is_unspecified() {
        return Err(Error::InvalidResponse {
            method: Method::Pcp,
            detail: format!("granted external address {wire} is the unspecified address"),
        });
    }
    Ok(ip)
}

fn pcp_protocol(p: Protocol) -> u8 {
    match p {
        Protocol::Tcp => pcp::PROTO_TCP,
        Protocol::Udp => pcp::PROTO_UDP,
    }
}

fn result_error(code: ResultCode, what: &str) -> Error {
    let unsupported = matches!(
        code,
        ResultCode::UnsupportedVersion
            | ResultCode::UnsupportedOpcode
            | ResultCode::UnsupportedProtocol
    );
    code_error(GatewayCode::Pcp(code), what, unsupported)
}

impl Probe for Pcp {
    /// An ANNOUNCE (or, for a NAT-PMP-only gateway, an external-address request).
    async fn probe(&self) -> Result<()> {
        self.check_epoch().await.map(drop)
    }
}
