//! The check itself: the LAN side, the router, the prober, the diagnosis.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::{Duration, Instant};

use tokio::net::{TcpStream, UdpSocket};

use super::ask::ask;
use super::diagnosis::diagnose;
use super::listen::{Hold, TokenListener};
use super::messages::{ProbeRequest, Token};
use super::options::CheckOptions;
use super::report::{CheckReport, Facts, LanState, RouterState};
use crate::auto::{Client, ClientOptions};
use crate::error::{Error, Result};
use crate::forwarder::Forwarder;
use crate::gateway::{GatewayInfo, default_gateway};
use crate::model::{MappingRequest, Protocol};
use crate::record::Record;
use crate::state::StateDir;

/// How long the LAN-side connection may take: 1 s (a LAN answers in
/// microseconds; a host that drops it has a firewall).
const LAN_CONNECT: Duration = Duration::from_secs(1);

/// How long the router may take to list its mappings or tell its address.
const ROUTER_TIMEOUT: Duration = Duration::from_secs(3);

/// Check whether `request` (its protocol, host and port; its outside port
/// when given) is reachable from the internet, discovering the router first.
///
/// A router that cannot be found does not stop the check: the report says
/// what could not be asked. See [`Client::check`].
///
/// # Errors
///
/// As [`Client::check`].
///
/// # Examples
///
/// Compiled, not run: it asks the router, and a prober outside.
///
/// ```no_run
/// # async fn demo() -> pfwd_core::Result<()> {
/// use pfwd_core::check::{CheckOptions, check};
/// use pfwd_core::{MappingRequest, Protocol};
///
/// let web = MappingRequest::builder(Protocol::Tcp, 80).build()?;
/// let report = check(&web, &CheckOptions::via("http://203.0.113.50:8099".parse()?)).await?;
/// println!("{}: {}", report.diagnosis, report.explanation);
/// if !report.reachable {
///     eprintln!("{}", report.to_json());
/// }
/// # Ok(()) }
/// ```
pub async fn check(request: &MappingRequest, options: &CheckOptions) -> Result<CheckReport> {
    let mut reports = check_all(
        ClientOptions::default(),
        std::slice::from_ref(request),
        options,
    )
    .await?;
    reports
        .pop()
        .ok_or_else(|| Error::invalid("nothing to check"))
}

/// Check each of `requests` (a service's TCP and UDP), discovering the
/// router once with `client_options`; a router that cannot be found does
/// not stop the checks. The reports come in the order of the requests.
///
/// # Errors
///
/// As [`Client::check`], for the first request that fails;
/// [`Error::InvalidRequest`] for an empty list.
pub async fn check_all(
    client_options: ClientOptions,
    requests: &[MappingRequest],
    options: &CheckOptions,
) -> Result<Vec<CheckReport>> {
    if requests.is_empty() {
        return Err(Error::invalid(
            "nothing to check: give at least one request",
        ));
    }
    let client = match Client::discover_with(client_options).await {
        Ok(client) => Some(client),
        Err(e) => {
            log::info!("check: no router to ask ({e})");
            None
        }
    };
    check_each(client.as_ref(), requests, options).await
}

/// Check each of `requests` on `client`'s router, or, without a client
/// (no router could be found), the LAN side and the prober only. The
/// reports come in the order of the requests.
///
/// # Errors
///
/// As [`Client::check`], for the first request that fails.
pub async fn check_each(
    client: Option<&Client>,
    requests: &[MappingRequest],
    options: &CheckOptions,
) -> Result<Vec<CheckReport>> {
    let mut reports = Vec::with_capacity(requests.len());
    for request in requests {
        reports.push(match client {
            Some(c) => c.check(request, options).await?,
            None => check_with(None, None, None, request, options).await?,
        });
    }
    Ok(reports)
}

impl Client {
    /// Check whether `request` is reachable from the internet:
    ///
    /// 1. on the LAN, whether a server listens on the host's port (TCP); on
    ///    this host, a free port is held by pfwd for the check;
    /// 2. on the router, whether it holds the mapping (listed by UPnP, or
    ///    in pfwd's records for PCP and NAT-PMP), and its internet address;
    /// 3. with [`CheckOptions::via`], the prober probes the port at the
    ///    address the internet sees, with a one-time token that pfwd's
    ///    listener sends back;
    /// 4. a [diagnosis](super::Diagnosis) in plain words.
    ///
    /// Without a prober the report is [`NotChecked`](super::Diagnosis::NotChecked):
    /// pfwd never calls a port reachable without an outside probe.
    ///
    /// # Errors
    ///
    /// [`Error::Prober`] when the prober cannot be reached or refuses;
    /// [`Error::InvalidRequest`] for a host that is not on the LAN;
    /// [`Error::Timeout`] past [`CheckOptions::timeout`].
    pub async fn check(
        &self,
        request: &MappingRequest,
        options: &CheckOptions,
    ) -> Result<CheckReport> {
        let discovery = self.discovery();
        check_with(
            Some(self),
            discovery.gateway,
            discovery.external_address,
            request,
            options,
        )
        .await
    }
}

/// The check with any forwarder (a keeper's), the gateway when known, and
/// the router's address when already known.
pub(crate) async fn check_with(
    forwarder: Option<&dyn Forwarder>,
    gateway: Option<GatewayInfo>,
    known_address: Option<Ipv4Addr>,
    request: &MappingRequest,
    options: &CheckOptions,
) -> Result<CheckReport> {
    let limit = options.timeout();
    let steps = steps(forwarder, gateway, known_address, request, options);
    tokio::time::timeout(limit, steps)
        .await
        .map_err(|_| Error::Timeout {
            method: crate::model::Method::Manual,
            operation: "the reachability check".into(),
            after: limit,
        })?
}

async fn steps(
    forwarder: Option<&dyn Forwarder>,
    gateway: Option<GatewayInfo>,
    known_address: Option<Ipv4Addr>,
    request: &MappingRequest,
    options: &CheckOptions,
) -> Result<CheckReport> {
    let started = Instant::now();
    let gateway = gateway.or_else(|| default_gateway().ok());
    let host = host_of(request, gateway.as_ref())?;
    let protocol = request.protocol();
    let port = request.internal_port();
    let host_is_local = UdpSocket::bind(SocketAddrV4::new(host, 0)).await.is_ok();
    let token = fresh_token()?;
    let (lan, listen_error, listener) = lan_side(protocol, host, port, host_is_local, &token).await;
    let dir = options
        .state_dir
        .clone()
        .unwrap_or_else(StateDir::default_location);
    let record = recorded(&dir, request, host);
    // Probe at once at the likeliest outside port (pfwd's record of it, the
    // one asked for, the same port) while the router is asked (UPnP's
    // search alone takes about 100 ms on miniupnpd); probe again only if
    // the router says another port.
    let guess = record
        .as_ref()
        .map(|r| r.mapping.external().port())
        .or(request.external_port())
        .unwrap_or(port);
    let probe_at = |external_port: u16| {
        let token = token.clone();
        let left = options.timeout().saturating_sub(started.elapsed());
        async move {
            match &options.via {
                Some(url) => {
                    let ask_for = ProbeRequest {
                        protocol,
                        port: external_port,
                        token,
                    };
                    ask(url, &ask_for, left).await.map(Some)
                }
                None => Ok(None),
            }
        }
    };
    let ((router, router_address), first) = tokio::join!(
        router_side(forwarder, known_address, request, host, record),
        probe_at(guess),
    );
    let mut probe = first?;
    let external_port = match &router {
        RouterState::Listed { external_port, .. } | RouterState::Recorded { external_port, .. } => {
            *external_port
        }
        RouterState::NotListed | RouterState::Unknown { .. } => guess,
    };
    if external_port != guess && probe.is_some() {
        log::debug!("check: the router forwards {external_port}, not {guess}: probing again");
        if let Some(l) = &listener {
            l.forget();
        }
        probe = probe_at(external_port).await?;
    }
    let token_seen = listener.map(TokenListener::stop).unwrap_or(false);
    let facts = Facts {
        protocol,
        host,
        port,
        external_port,
        host_is_local,
        lan,
        listen_error,
        router,
        router_address,
        via: options.via.as_ref().map(ToString::to_string),
        probe,
        token_seen,
    };
    let (diagnosis, explanation) = diagnose(&facts);
    Ok(CheckReport {
        reachable: diagnosis.reachable(),
        verified: diagnosis.verified(),
        observed_address: facts.observed_address(),
        router_address: facts.router_address,
        diagnosis,
        explanation,
        facts,
        took_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
    })
}

/// The LAN host to check: the request's, which must be on the LAN, or this host.
fn host_of(request: &MappingRequest, gateway: Option<&GatewayInfo>) -> Result<Ipv4Addr> {
    if request.family() == crate::mapping::Family::Ipv6 {
        return Err(Error::invalid(
            "the outside check tests IPv4 forwarding only: check an IPv6 pinhole from another \
             network that has IPv6 (for example `nc -6 -vz ADDRESS PORT` from a phone's hotspot)",
        ));
    }
    match (request.internal_ipv4(), gateway) {
        (requested, Some(g)) => Ok(g.lan_host(requested)?),
        (Some(host), None) => Ok(host),
        (None, None) => Err(Error::NoGateway {
            refused: false,
            method: None,
            detail: "this host has no default route, so pfwd cannot tell its LAN address: \
                     give the host to check with --to"
                .into(),
        }),
    }
}

/// A one-time token: 24 random letters and digits.
fn fresh_token() -> Result<Token> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut bytes = [0u8; 24];
    getrandom::fill(&mut bytes)
        .map_err(|e| Error::io("making a one-time token", std::io::Error::other(e)))?;
    let text: String = bytes
        .iter()
        .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
        .collect();
    Token::new(text).map_err(|e| Error::invalid(e.to_string()))
}

/// Step 1: whether something listens; on this host, hold a free port.
async fn lan_side(
    protocol: Protocol,
    host: Ipv4Addr,
    port: u16,
    host_is_local: bool,
    token: &Token,
) -> (LanState, Option<String>, Option<TokenListener>) {
    match protocol {
        Protocol::Tcp => {
            let target = SocketAddrV4::new(host, port);
            let seen = match tokio::time::timeout(LAN_CONNECT, TcpStream::connect(target)).await {
                Ok(Ok(_)) => return (LanState::Listening, None, None),
                Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                    LanState::NothingListening
                }
                Ok(Err(e)) => LanState::Unknown {
                    why: format!("connecting to {target} failed: {e}"),
                },
                Err(_) => LanState::Unknown {
                    why: format!(
                        "a connection to {target} got no answer within {} s: a firewall on that host?",
                        LAN_CONNECT.as_secs()
                    ),
                },
            };
            if !host_is_local || seen != LanState::NothingListening {
                return (seen, None, None);
            }
            match TokenListener::hold(protocol, port, token.clone()).await {
                Hold::Held(l) => (LanState::HeldByPfwd, None, Some(l)),
                Hold::Taken => (
                    LanState::NothingListening,
                    Some(format!(
                        "another program holds port {port} on some address of this host, but not \
                         on {host}: does it listen on 127.0.0.1 only?"
                    )),
                    None,
                ),
                Hold::Failed(e) => (
                    LanState::NothingListening,
                    Some(listen_words(port, &e)),
                    None,
                ),
            }
        }
        Protocol::Udp if host_is_local => {
            match TokenListener::hold(protocol, port, token.clone()).await {
                Hold::Held(l) => (LanState::HeldByPfwd, None, Some(l)),
                Hold::Taken => (LanState::Listening, None, None),
                Hold::Failed(e) => {
                    let why = listen_words(port, &e);
                    (LanState::Unknown { why: why.clone() }, Some(why), None)
                }
            }
        }
        Protocol::Udp => (
            LanState::Unknown {
                why: format!(
                    "UDP on {host}: only that host can tell whether a server holds the port"
                ),
            },
            None,
            None,
        ),
    }
}

fn listen_words(port: u16, e: &std::io::Error) -> String {
    if e.kind() == std::io::ErrorKind::PermissionDenied {
        format!("port {port} is under 1024 and needs root or CAP_NET_BIND_SERVICE ({e})")
    } else {
        format!("listening on port {port} failed: {e}")
    }
}

/// pfwd's live record of the mapping `request` asks for, if any.
fn recorded(dir: &StateDir, request: &MappingRequest, host: Ipv4Addr) -> Option<Record> {
    dir.load()
        .unwrap_or_default()
        .into_iter()
        .find(|r| !r.ended() && r.is_for(request, host))
}

/// Step 2: whether the router holds the mapping (its list, else pfwd's
/// `recorded` mapping), and its internet address.
async fn router_side(
    forwarder: Option<&dyn Forwarder>,
    known_address: Option<Ipv4Addr>,
    request: &MappingRequest,
    host: Ipv4Addr,
    recorded: Option<Record>,
) -> (RouterState, Option<Ipv4Addr>) {
    let Some(client) = forwarder else {
        return (
            RouterState::Unknown {
                why: "no router answered PCP, NAT-PMP or UPnP".into(),
            },
            None,
        );
    };
    let address = async {
        match known_address {
            Some(a) => Some(a),
            None => tokio::time::timeout(ROUTER_TIMEOUT, client.external_address())
                .await
                .ok()
                .and_then(Result::ok),
        }
    };
    // The list and the address are independent questions: ask both at once.
    let (listed, address) =
        tokio::join!(tokio::time::timeout(ROUTER_TIMEOUT, client.list()), address);
    if let Ok(Ok(list)) = &listed
        && let Some(m) = list.iter().find(|m| {
            m.protocol == request.protocol()
                && m.internal_port == request.internal_port()
                && m.internal_client.parse::<Ipv4Addr>().ok() == Some(host)
                && request.accepts_external_port(m.external_port)
        })
    {
        return (
            RouterState::Listed {
                external_port: m.external_port,
                description: m.description.clone(),
            },
            address,
        );
    }
    match &listed {
        Ok(Ok(_)) => log::debug!(
            "check: the router lists no mapping for {} port {}",
            request.protocol(),
            request.internal_port()
        ),
        Ok(Err(e)) => log::info!("check: the router cannot list its mappings: {e}"),
        Err(_) => log::info!("check: the router did not list its mappings in time"),
    }
    if let Some(r) = recorded {
        return (
            RouterState::Recorded {
                method: r.mapping.method(),
                external_port: r.mapping.external().port(),
                kept_by: r.kept_by,
            },
            address,
        );
    }
    let state = match listed {
        Ok(Ok(_)) => RouterState::NotListed,
        Ok(Err(e)) => RouterState::Unknown {
            why: format!("it cannot list its mappings: {e}"),
        },
        Err(_) => RouterState::Unknown {
            why: format!(
                "it did not list its mappings within {} s",
                ROUTER_TIMEOUT.as_secs()
            ),
        },
    };
    (state, address)
}
