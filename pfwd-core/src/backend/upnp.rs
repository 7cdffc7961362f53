//! UPnP-IGD on `igd-next`: discovery with pfwd's own deadline and retries,
//! mapping (a given port or any port), the external address, deletion and
//! listing, with the gateway's error codes turned into actionable errors.

mod cache;
mod description;
// Public but hidden: the gateway tests (tests/gateway/ipv6_fixtures.rs)
// drive miniupnpd with it; the IPv6 forwarder is its real user.
#[doc(hidden)]
pub mod pinhole;
mod pinholes;
pub use pinholes::UpnpPinholes;
mod search;
mod soap;
mod specific;

pub use description::{BODY_WITHIN, HEADERS_WITHIN, MAX_DEPTH, MAX_DESCRIPTION, parse_description};

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4};
use std::time::{Duration, Instant};

use igd_next::aio::Gateway;
use igd_next::aio::tokio::Tokio;
use igd_next::{
    AddAnyPortError, AddPortError, GetExternalIpError, GetGenericPortMappingEntryError,
    PortMappingProtocol, RemovePortError, RequestError,
};
use log::{debug, info, warn};
use tokio::time::timeout;

use self::soap::{refused, request_error};
use crate::backend::{another_host_unsupported, check_renewal, deleting, describe};
use crate::defaults;
use crate::error::{Error, GatewayCode, Holder, Result, UpnpCode};
use crate::forwarder::{BoxFuture, Forwarder, Presence};
use crate::gateway::{GatewayInfo, default_gateway};
use crate::guide::RouterInfo;
use crate::mapping::{
    GatewayMapping, Lease, Mapping, MappingRequest, Method, MethodState, Protocol,
};
use crate::wire::ssdp::Location;

/// How many entries pfwd reads at most when listing a gateway's mappings.
const MAX_LISTED: u32 = 1024;

/// Options for [`Upnp::discover_with`].
///
/// # Examples
///
/// Ask a given router, unicast only, and remember its descriptions for the
/// next process (the discovery is compiled, not run):
///
/// ```no_run
/// # async fn demo() -> pfwd_core::Result<()> {
/// use std::net::Ipv4Addr;
/// use std::time::Duration;
/// use pfwd_core::{GatewayInfo, Upnp, UpnpOptions};
///
/// let mut options = UpnpOptions::default();
/// options.gateway = Some(GatewayInfo::for_gateway(Ipv4Addr::new(192, 168, 1, 1))?);
/// options.multicast = false;
/// options.discovery_timeout = Duration::from_secs(1);
/// options.cache_dir = Some(std::env::temp_dir().join("pfwd-upnp"));
/// let router = Upnp::discover_with(options).await?;
/// println!("{}", router.description_url());
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct UpnpOptions {
    /// The whole budget for finding the gateway and reading its
    /// descriptions (default 2 s; igd-next alone would wait 10 s). A router
    /// whose SSDP port is closed (ICMP port unreachable) is a "no" at once.
    pub discovery_timeout: Duration,
    /// The first wait before a search is sent again; it doubles after each
    /// try (default 250 ms). Searches are UDP and may be lost.
    pub retry_interval: Duration,
    /// The budget for each SOAP request to the gateway (default 3 s).
    pub request_timeout: Duration,
    /// The gateway to ask; `None` finds the default gateway.
    pub gateway: Option<GatewayInfo>,
    /// Also search by multicast (239.255.255.250:1900), for a gateway that
    /// ignores unicast searches (default true). Only the gateway's own
    /// answer counts: another host's is ignored.
    pub multicast: bool,
    /// The UDP port of the gateway's SSDP service (1900; change it only to
    /// talk to a test double).
    pub ssdp_port: u16,
    /// A directory where the gateway's descriptions are remembered
    /// (`gateway-IP.upnp`), so that the next process asks the remembered
    /// service at once, alongside the search, instead of waiting for the
    /// router's SSDP answer (miniupnpd delays it by 50 ms) and reading the
    /// descriptions again. `None` (the default): nothing is written. The
    /// `pfwd` command uses its state directory.
    pub cache_dir: Option<std::path::PathBuf>,
}

impl Default for UpnpOptions {
    fn default() -> Self {
        UpnpOptions {
            discovery_timeout: defaults::UPNP_DISCOVERY_TIMEOUT,
            retry_interval: defaults::UPNP_RETRY_INTERVAL,
            request_timeout: defaults::UPNP_REQUEST_TIMEOUT,
            gateway: None,
            multicast: defaults::UPNP_MULTICAST,
            ssdp_port: defaults::SSDP_PORT,
            cache_dir: None,
        }
    }
}

/// A UPnP-IGD gateway found on the LAN, as a [`Forwarder`].
///
/// # Examples
///
/// Compiled, not run: it searches the LAN (SSDP) and asks the router.
///
/// ```no_run
/// # async fn demo() -> pfwd_core::Result<()> {
/// use pfwd_core::{Forwarder, MappingRequest, Protocol, Upnp};
/// let upnp = Upnp::discover().await?;
/// let request = MappingRequest::builder(Protocol::Tcp, 8080).build()?;
/// let mapping = upnp.map(&request).await?;
/// println!("reachable at {}", mapping.external());
/// upnp.unmap(&mapping).await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Upnp {
    igd: Gateway<Tokio>,
    info: GatewayInfo,
    request_timeout: Duration,
    /// What the description says about the router, read at discovery.
    router: RouterInfo,
    /// The external address last read, and when: a mapping made right
    /// after discovery does not ask for it again (see [`EXTERNAL_FRESH`]).
    recent_external: std::sync::Mutex<Option<(Ipv4Addr, Instant)>>,
    /// The control URL of the router's IPv6 firewall service
    /// (`WANIPv6FirewallControl`), where pinholes are opened, if it has one.
    firewall: Option<Location>,
}

/// How long the remembered service has to prove itself before the search
/// starts too: 50 ms (a SOAP call on a LAN takes 1 to 5 ms).
const REMEMBERED_HEAD_START: Duration = Duration::from_millis(50);

/// How long an external address just read answers for the next mapping:
/// 500 ms, the span of one `discover` and `map`. The keeper's checks,
/// seconds apart, always read it afresh.
const EXTERNAL_FRESH: Duration = Duration::from_millis(500);

impl Upnp {
    /// Find the UPnP gateway with the default options.
    ///
    /// # Errors
    ///
    /// [`Error::NoGateway`] when no default route exists, the gateway's SSDP
    /// port is closed, or it does not answer within the budget;
    /// [`Error::InvalidResponse`] when it answered, but its answer or its
    /// descriptions cannot be read (too large, too slow, not XML, HTTP
    /// errors; the message names the URL and what was wrong);
    /// [`Error::Unsupported`] when its description has no WAN connection
    /// service.
    pub async fn discover() -> Result<Upnp> {
        Upnp::discover_with(UpnpOptions::default()).await
    }

    /// Find the UPnP gateway: search the gateway by unicast (and the LAN by
    /// multicast) at once, again after `retry_interval`, doubling, until an
    /// IGD answers or `discovery_timeout` runs out. With
    /// `options.cache_dir`, a gateway remembered there is asked first (one
    /// SOAP call), and the search runs only if that fails or is slow.
    ///
    /// # Errors
    ///
    /// As [`Upnp::discover`].
    pub async fn discover_with(options: UpnpOptions) -> Result<Upnp> {
        let info = match options.gateway.clone() {
            Some(info) => info,
            None => default_gateway()?,
        };
        let started = Instant::now();
        let deadline = tokio::time::Instant::now() + options.discovery_timeout;
        let remembered = options
            .cache_dir
            .as_deref()
            .and_then(|dir| cache::load(dir, info.gateway));
        let upnp = match remembered {
            None => Upnp::search_and_read(&info, &options, deadline).await?,
            Some(known) => Upnp::remembered_or_searched(&info, &options, known, deadline).await?,
        };
        info!(
            "UPnP: found the gateway at {} (description {}, {}) after {} ms",
            upnp.igd.addr,
            upnp.description_url(),
            upnp.igd.service_type,
            started.elapsed().as_millis()
        );
        Ok(upnp)
    }

    /// The remembered service, proved by one SOAP call (the external
    /// address, which a mapping needs anyway); the search starts when that
    /// fails, or has not answered within [`REMEMBERED_HEAD_START`], and
    /// then the first good one of the two is taken. Not both at once:
    /// miniupnpd serves HTTP tens of milliseconds slower while it has SSDP
    /// answers pending.
    async fn remembered_or_searched(
        info: &GatewayInfo,
        options: &UpnpOptions,
        known: cache::Known,
        deadline: tokio::time::Instant,
    ) -> Result<Upnp> {
        let proved = async {
            let upnp = Upnp::from_known(info, options, &known)?;
            upnp.external_ipv4().await?;
            Ok::<Upnp, Error>(upnp)
        };
        tokio::pin!(proved);
        let first = tokio::time::timeout(REMEMBERED_HEAD_START, &mut proved).await;
        let stale = |e: &Error| {
            debug!(
                "UPnP: the remembered service at {} did not do ({e}); searching",
                known.location
            );
        };
        match first {
            Ok(Ok(upnp)) => {
                debug!(
                    "UPnP: the remembered service at {} answered",
                    known.location
                );
                return Ok(upnp);
            }
            Ok(Err(e)) => {
                stale(&e);
                return Upnp::search_and_read(info, options, deadline).await;
            }
            Err(_) => debug!(
                "UPnP: the remembered service at {} is slow; searching too",
                known.location
            ),
        }
        let searched = Upnp::search_and_read(info, options, deadline);
        tokio::pin!(searched);
        tokio::select! {
            r = &mut proved => match r {
                Ok(upnp) => Ok(upnp),
                Err(e) => {
                    stale(&e);
                    searched.await
                }
            },
            r = &mut searched => match r {
                Ok(upnp) => Ok(upnp),
                Err(e) => proved.await.map_err(|_| e),
            },
        }
    }

    /// Search for the gateway and read its descriptions; remember them in
    /// `options.cache_dir` when set.
    async fn search_and_read(
        info: &GatewayInfo,
        options: &UpnpOptions,
        deadline: tokio::time::Instant,
    ) -> Result<Upnp> {
        let answer = search::search(info, options, deadline).await?;
        let location = answer.location;
        let broken = |why: String| Error::InvalidResponse {
            method: Method::Upnp,
            detail: format!(
                "the router answered the UPnP search, but its description at {location} {why}"
            ),
        };
        let xml = description::fetch(&location, deadline)
            .await
            .map_err(|e| match e {
                // Nothing serves the description: not a broken answer but
                // a service half up (starting) or half switched off.
                description::FetchError::Connect(_) => Error::NoGateway {
                    refused: false,
                    method: Some(Method::Upnp),
                    detail: format!(
                        "the router answered the UPnP search, but nothing serves its \
                         description at {location} ({e}): its UPnP service may be starting, \
                         or only partly on"
                    ),
                },
                e => broken(format!("could not be read: {e}")),
            })?;
        let found = description::read_description(&xml, &location)
            .map_err(|why| broken(format!("could not be read: {why}")))?;
        let Some(service) = found.service else {
            return Err(Error::Unsupported {
                method: Method::Upnp,
                what: "port forwarding over UPnP-IGD".into(),
                detail: format!(
                    "the router answered the UPnP search, but its description at {location} \
                     has no WANIPConnection or WANPPPConnection service (it lists {})",
                    if found.listed.is_empty() {
                        "none".to_string()
                    } else {
                        found.listed.join(", ")
                    }
                ),
            });
        };
        let scpd = &service.scpd;
        let (scpd_xml, schema) = description::fetch(scpd, deadline)
            .await
            .map_err(|e| e.to_string())
            .and_then(|xml| {
                description::read_scpd(&xml)
                    .map(|schema| (xml, schema))
                    .map_err(|w| w.to_string())
            })
            .map_err(|why| Error::InvalidResponse {
                method: Method::Upnp,
                detail: format!(
                    "the router answered the UPnP search, but the description of its {} service \
                     at {scpd} could not be read: {why}",
                    service.service_type
                ),
            })?;
        if let Some(dir) = options.cache_dir.as_deref() {
            let known = cache::Known {
                location: location.clone(),
                description: xml.to_vec(),
                scpd: scpd_xml.to_vec(),
            };
            cache::save(dir, info.gateway, &known);
        }
        Ok(Upnp::assemble(
            info,
            options,
            &location,
            service,
            found.firewall,
            found.router,
            schema,
        ))
    }

    /// The backend for remembered descriptions, read and checked as on
    /// first sight.
    fn from_known(info: &GatewayInfo, options: &UpnpOptions, known: &cache::Known) -> Result<Upnp> {
        let location = &known.location;
        let unreadable = |why: String| Error::InvalidResponse {
            method: Method::Upnp,
            detail: format!("the description at {location} could not be read: {why}"),
        };
        let found = description::read_description(&known.description, location)
            .map_err(|why| unreadable(why.to_string()))?;
        let service = found
            .service
            .ok_or_else(|| unreadable("it has no WAN connection service".into()))?;
        let schema =
            description::read_scpd(&known.scpd).map_err(|why| unreadable(why.to_string()))?;
        Ok(Upnp::assemble(
            info,
            options,
            location,
            service,
            found.firewall,
            found.router,
            schema,
        ))
    }

    /// The backend for a gateway's service, its description's router
    /// details and its SCPD's actions.
    fn assemble(
        info: &GatewayInfo,
        options: &UpnpOptions,
        location: &Location,
        service: description::Service,
        firewall: Option<description::Service>,
        router: RouterInfo,
        schema: std::collections::HashMap<String, Vec<String>>,
    ) -> Upnp {
        let addr = SocketAddr::new(location.ip, location.port);
        // igd-next takes a path on `addr`, or an absolute URL elsewhere on the router.
        let on_addr = |l: &Location| {
            if SocketAddr::new(l.ip, l.port) == addr {
                l.path.clone()
            } else {
                l.to_string()
            }
        };
        let igd = Gateway {
            addr,
            root_url: location.path.clone(),
            control_url: on_addr(&service.control),
            control_schema_url: on_addr(&service.scpd),
            control_schema: schema,
            service_type: service.service_type,
            provider: Tokio,
        };
        Upnp {
            igd,
            info: info.clone(),
            request_timeout: options.request_timeout,
            router,
            recent_external: std::sync::Mutex::new(None),
            firewall: firewall.map(|f| f.control),
        }
    }

    /// The router's IPv6 pinholes, for the host and router of `gateway`:
    /// its `WANIPv6FirewallControl` service asked over IPv6 (the same port
    /// and path as over IPv4, on the router's IPv6 address; see
    /// [`pinhole`]). `None` when the description lists no such service.
    pub fn pinholes(&self, gateway: &crate::gateway::Ipv6Gateway) -> Option<UpnpPinholes> {
        let control = self.firewall.as_ref()?;
        let at = gateway.router_at(control.port);
        Some(UpnpPinholes::new(
            pinhole::Firewall::at(
                *at.ip(),
                at.scope_id(),
                control.port,
                &control.path,
                gateway.local,
                self.request_timeout,
            ),
            gateway.clone(),
        ))
    }

    /// The gateway pfwd talks to and this host's address on its network.
    pub fn gateway(&self) -> &GatewayInfo {
        &self.info
    }

    /// The URL of the device description the gateway advertised.
    pub fn description_url(&self) -> String {
        format!("http://{}{}", self.igd.addr, self.igd.root_url)
    }

    /// Run one exchange with the gateway (SOAP, or the description's HTTP)
    /// under pfwd's request budget, and log how it went.
    async fn call<T, E: fmt::Display>(
        &self,
        operation: &str,
        fut: impl Future<Output = std::result::Result<T, E>>,
    ) -> Result<std::result::Result<T, E>> {
        let started = Instant::now();
        let Ok(answer) = timeout(self.request_timeout, fut).await else {
            warn!(
                "UPnP {operation} to {}: no answer within {} ms",
                self.igd.addr,
                self.request_timeout.as_millis()
            );
            return Err(Error::Timeout {
                method: Method::Upnp,
                operation: operation.to_string(),
                after: self.request_timeout,
            });
        };
        let took = started.elapsed().as_millis();
        match &answer {
            Ok(_) => debug!("UPnP {operation} to {}: done in {took} ms", self.igd.addr),
            Err(e) => debug!(
                "UPnP {operation} to {}: {e} (after {took} ms)",
                self.igd.addr
            ),
        }
        Ok(answer)
    }

    /// The external address read less than [`EXTERNAL_FRESH`] ago, else
    /// read now.
    async fn fresh_external_ipv4(&self) -> Result<Ipv4Addr> {
        let recent = *crate::sync::lock(&self.recent_external);
        match recent {
            Some((ip, at)) if at.elapsed() < EXTERNAL_FRESH => Ok(ip),
            _ => self.external_ipv4().await,
        }
    }

    async fn external_ipv4(&self) -> Result<Ipv4Addr> {
        let ip = self.read_external_ipv4().await?;
        *crate::sync::lock(&self.recent_external) = Some((ip, Instant::now()));
        Ok(ip)
    }

    async fn read_external_ipv4(&self) -> Result<Ipv4Addr> {
        match self
            .call("the external-address request", self.igd.get_external_ip())
            .await?
        {
            Ok(IpAddr::V4(ip)) if !ip.is_unspecified() => Ok(ip),
            Ok(other) => Err(Error::InvalidResponse {
                method: Method::Upnp,
                detail: format!(
                    "the gateway reports {other} as its external address, so it has no usable \
                     IPv4 connection to the internet yet"
                ),
            }),
            Err(GetExternalIpError::ActionNotAuthorized) => Err(refused(
                "reading the external address",
                UpnpCode::NOT_AUTHORIZED.0,
            )),
            Err(GetExternalIpError::RequestError(e)) => Err(request_error(
                "GetExternalIPAddress",
                "reading the external address",
                e,
            )),
        }
    }

    async fn add(
        &self,
        request: &MappingRequest,
        internal: SocketAddrV4,
        lease: Lease,
    ) -> Result<u16> {
        let protocol = igd_protocol(request.protocol());
        let what = describe(request, *internal.ip());
        let local = SocketAddr::V4(internal);
        match request.external_port() {
            Some(port) => {
                let fut = self.igd.add_port(
                    protocol,
                    port,
                    local,
                    lease.as_secs(),
                    request.description(),
                );
                match self.call("the port-mapping request", fut).await? {
                    Ok(()) => Ok(port),
                    Err(AddPortError::PortInUse) => {
                        Err(self.conflict(request.protocol(), port, internal).await)
                    }
                    Err(AddPortError::ActionNotAuthorized) => Err(refused(&what, 606)),
                    Err(AddPortError::SamePortValuesRequired) => Err(refused(&what, 724)),
                    Err(AddPortError::OnlyPermanentLeasesSupported) => Err(refused(&what, 725)),
                    Err(AddPortError::DescriptionTooLong) => Err(refused(&what, 605)),
                    Err(AddPortError::RequestError(e)) => {
                        Err(request_error("AddPortMapping", &what, e))
                    }
                    Err(
                        AddPortError::InternalPortZeroInvalid
                        | AddPortError::ExternalPortZeroInvalid,
                    ) => Err(Error::invalid("port 0 is not a port: give 1-65535")),
                }
            }
            None => {
                let fut =
                    self.igd
                        .add_any_port(protocol, local, lease.as_secs(), request.description());
                match self.call("the port-mapping request", fut).await? {
                    Ok(port) if port != 0 => Ok(port),
                    Ok(_) => Err(Error::InvalidResponse {
                        method: Method::Upnp,
                        detail: "the gateway granted external port 0".into(),
                    }),
                    Err(AddAnyPortError::ActionNotAuthorized) => Err(refused(&what, 606)),
                    Err(AddAnyPortError::NoPortsAvailable) => Err(refused(&what, 728)),
                    Err(AddAnyPortError::ExternalPortInUse) => Err(self
                        .conflict(request.protocol(), internal.port(), internal)
                        .await),
                    Err(AddAnyPortError::OnlyPermanentLeasesSupported) => Err(refused(&what, 725)),
                    Err(AddAnyPortError::DescriptionTooLong) => Err(refused(&what, 605)),
                    Err(AddAnyPortError::RequestError(e)) => {
                        // igd-next asks AddAnyPortMapping where the service has it.
                        let action = if self.igd.control_schema.contains_key("AddAnyPortMapping") {
                            "AddAnyPortMapping"
                        } else {
                            "AddPortMapping"
                        };
                        Err(request_error(action, &what, e))
                    }
                    Err(AddAnyPortError::InternalPortZeroInvalid) => Err(Error::invalid(
                        "internal port 0 is not a port: give 1-65535",
                    )),
                }
            }
        }
    }

    /// A conflict error naming the holder of `port`, where the gateway's list
    /// shows it. When the list shows the port free and the mapping was for
    /// another host, the router's "secure mode" refused it (miniupnpd and
    /// many routers answer 718 then): that is not a conflict.
    async fn conflict(&self, protocol: Protocol, port: u16, internal: SocketAddrV4) -> Error {
        let listed = self.list_mappings().await;
        let holder = match &listed {
            Ok(list) => list
                .iter()
                .find(|m| m.protocol == protocol && m.external_port == port)
                .and_then(|m| {
                    let ip: Ipv4Addr = m.internal_client.parse().ok()?;
                    Some(Holder {
                        internal: SocketAddrV4::new(ip, m.internal_port).into(),
                        description: m.description.clone(),
                        process: None,
                    })
                }),
            Err(_) => None,
        };
        if listed.is_ok() && holder.is_none() && *internal.ip() != self.info.local {
            return another_host_unsupported(
                Method::Upnp,
                *internal.ip(),
                format!(
                    "{protocol} port {port} is free, but the router lets each host forward \
                     ports only to itself (UPnP secure mode, error 718); run pfwd on {} \
                     itself, or forward the port by hand",
                    internal.ip()
                ),
            );
        }
        Error::Conflict {
            method: Method::Upnp,
            protocol,
            external_port: port,
            holder,
        }
    }

    async fn list_mappings(&self) -> Result<Vec<GatewayMapping>> {
        let mut out = Vec::new();
        for index in 0..MAX_LISTED {
            let fut = self.igd.get_generic_port_mapping_entry(index);
            match self.call("the mapping-list request", fut).await? {
                Ok(e) => out.push(GatewayMapping {
                    protocol: match e.protocol {
                        PortMappingProtocol::TCP => Protocol::Tcp,
                        PortMappingProtocol::UDP => Protocol::Udp,
                    },
                    external_port: e.external_port,
                    internal_client: e.internal_client,
                    internal_port: e.internal_port,
                    description: e.port_mapping_description,
                    lease: Lease::from_secs(e.lease_duration),
                    enabled: e.enabled,
                }),
                // The end of the list: 713 per the specification; some routers say 714 or 402.
                Err(GetGenericPortMappingEntryError::SpecifiedArrayIndexInvalid) => break,
                Err(GetGenericPortMappingEntryError::RequestError(RequestError::ErrorCode(
                    714 | 402,
                    _,
                ))) => break,
                Err(GetGenericPortMappingEntryError::ActionNotAuthorized) => {
                    return Err(refused("listing mappings", 606));
                }
                Err(GetGenericPortMappingEntryError::RequestError(e)) => {
                    return Err(request_error(
                        "GetGenericPortMappingEntry",
                        "listing mappings",
                        e,
                    ));
                }
            }
        }
        Ok(out)
    }
}

impl Forwarder for Upnp {
    fn method(&self) -> Method {
        Method::Upnp
    }

    fn external_address(&self) -> BoxFuture<'_, Result<Ipv4Addr>> {
        Box::pin(self.external_ipv4())
    }

    fn map<'a>(&'a self, request: &'a MappingRequest) -> BoxFuture<'a, Result<Mapping>> {
        Box::pin(async move {
            check_renewal(request, Method::Upnp)?;
            let host = self
                .info
                .lan_host(super::ipv4_host(request, Method::Upnp)?)?;
            let internal = SocketAddrV4::new(host, request.internal_port());
            // Ask for the mapping and the external address at once: two round trips in parallel.
            let (added, external_ip) = tokio::join!(
                self.add(request, internal, request.lease()),
                self.fresh_external_ipv4()
            );
            let (port, lease, forced_permanent) = match added {
                Ok(port) => (port, request.lease(), false),
                Err(Error::Refused {
                    code: GatewayCode::Upnp(UpnpCode::ONLY_PERMANENT_LEASES),
                    ..
                }) if request.permanent_fallback() && request.lease() != Lease::Permanent => {
                    // The router takes only lease 0: map permanently and own the cleanup.
                    let port = self.add(request, internal, Lease::Permanent).await?;
                    (port, Lease::Permanent, true)
                }
                Err(e) => return Err(e),
            };
            let granted_at = Instant::now();
            let external_ip = match external_ip {
                Ok(ip) => ip,
                Err(e) => {
                    // Do not leave a mapping behind that the caller cannot use.
                    let _ = self
                        .call(
                            "the delete request",
                            self.igd.remove_port(igd_protocol(request.protocol()), port),
                        )
                        .await;
                    return Err(e);
                }
            };
            info!(
                "UPnP: {} granted {} as {external_ip}:{port} ({lease})",
                self.info.gateway,
                describe(request, host)
            );
            Ok(Mapping::new(
                Method::Upnp,
                request.protocol(),
                self.info.gateway,
                SocketAddrV4::new(external_ip, port),
                internal,
                lease,
                granted_at,
                request.description(),
                MethodState::Upnp { forced_permanent },
            ))
        })
    }

    fn unmap<'a>(&'a self, mapping: &'a Mapping) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let what = deleting(mapping);
            let fut = self
                .igd
                .remove_port(igd_protocol(mapping.protocol()), mapping.external().port());
            match self.call("the delete request", fut).await? {
                Ok(()) | Err(RemovePortError::NoSuchPortMapping) => {
                    info!("UPnP: {} done {what}", self.info.gateway);
                    Ok(())
                }
                Err(RemovePortError::ActionNotAuthorized) => Err(refused(&what, 606)),
                Err(RemovePortError::RequestError(e)) => {
                    Err(request_error("DeletePortMapping", &what, e))
                }
            }
        })
    }

    fn list(&self) -> BoxFuture<'_, Result<Vec<GatewayMapping>>> {
        Box::pin(self.list_mappings())
    }

    /// One `GetSpecificPortMappingEntry` for the mapping's outside port.
    fn presence<'a>(&'a self, mapping: &'a Mapping) -> BoxFuture<'a, Result<Presence>> {
        Box::pin(async move {
            Ok(if self.holds(mapping).await? {
                Presence::Held
            } else {
                Presence::Lost
            })
        })
    }

    fn gateway(&self) -> Option<GatewayInfo> {
        Some(self.info.clone())
    }

    fn lost<'a>(&'a self, mapping: &'a Mapping) -> BoxFuture<'a, Result<bool>> {
        Box::pin(async move {
            let held = self.list_mappings().await?.into_iter().any(|m| {
                m.protocol == mapping.protocol()
                    && m.external_port == mapping.external().port()
                    && m.internal_port == mapping.internal().port()
                    && m.internal_client == mapping.internal().ip().to_string()
            });
            Ok(!held)
        })
    }
}

fn igd_protocol(p: Protocol) -> PortMappingProtocol {
    match p {
        Protocol::Tcp => PortMappingProtocol::TCP,
        Protocol::Udp => PortMappingProtocol::UDP,
    }
}
