//! The automatic client behind a blocking handle: every call waits on
//! pfwd's runtime within its [`Call`]'s limits.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use super::call::{Call, Cleanup, wait};
use super::keeper::Keeper;
use super::runtime::{check_owner, runtime};
use crate::auto::{self, ClientOptions, Discovery};
use crate::check::{CheckOptions, CheckReport};
use crate::error::{Error, Result};
use crate::forwarder::Forwarder;
use crate::guide::{Instructions, RouterInfo};
use crate::lease::{Keep, KeeperOptions};
use crate::mapping::{Family, GatewayMapping, Mapping, MappingRequest, Method, Protocol};

/// The automatic client ([`crate::Client`]) for synchronous code: any
/// thread may use it, and several at once. Dropping it closes its sockets;
/// mappings it made stay until unmapped or their lease ends (use a
/// [`Keeper`] to have them renewed and deleted).
///
/// # Examples
///
/// Compiled, not run: it asks the router.
///
/// ```no_run
/// use pfwd_core::blocking::{Call, Client};
/// use pfwd_core::{ClientOptions, MappingRequest, Protocol};
/// let web = MappingRequest::builder(Protocol::Tcp, 8080).build()?;
/// let (client, mapping) = Client::forward(ClientOptions::default(), &web, &Call::new())?;
/// println!("reachable at {}", mapping.external());
/// client.unmap(&mapping, &Call::new())?;
/// # Ok::<(), pfwd_core::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Client {
    inner: Arc<auto::Client>,
    pid: u32,
}

/// A cleanup that deletes a mapping granted after the caller stopped waiting.
fn unmap_late(client: Arc<auto::Client>) -> Cleanup<Mapping> {
    Box::new(move |mapping: Mapping| {
        Box::pin(async move {
            log::info!("deleting {mapping}: granted after the caller stopped waiting");
            if let Err(e) = client.unmap(&mapping).await {
                log::warn!("could not delete {mapping}: {e}");
            }
        })
    })
}

impl Client {
    fn wrap(inner: auto::Client) -> Client {
        Client {
            inner: Arc::new(inner),
            pid: std::process::id(),
        }
    }

    fn check_usable(&self) -> Result<()> {
        check_owner(self.pid, "pfwd client")
    }

    /// Probe the methods `options` allows; see [`crate::Client::discover_with`].
    ///
    /// # Errors
    ///
    /// [`Error::Io`] when no socket can be opened; [`Error::Timeout`],
    /// [`Error::Cancelled`] or [`Error::WouldDeadlock`] from the call.
    pub fn discover(options: ClientOptions, call: &Call) -> Result<Client> {
        let rt = runtime()?;
        let work = async move { auto::Client::discover_with(options).await };
        wait(
            rt,
            call,
            "looking for the router",
            Method::Manual,
            work,
            None,
        )
        .map(Client::wrap)
    }

    /// Map `request` with the best method, the mapping itself being PCP's
    /// probe (one round trip on a PCP router); see [`crate::forward_with`].
    ///
    /// # Errors
    ///
    /// [`Error::Manual`] with the guide when no method can map it; as
    /// [`crate::Client::map`]; and the call's own errors.
    pub fn forward(
        options: ClientOptions,
        request: &MappingRequest,
        call: &Call,
    ) -> Result<(Client, Mapping)> {
        let request = request.clone();
        let work = async move {
            let (client, mapping) = auto::Client::discover_and_map(options, &request).await?;
            Ok((Arc::new(client), mapping?))
        };
        let cleanup: Cleanup<(Arc<auto::Client>, Mapping)> =
            Box::new(|(client, mapping)| unmap_late(client)(mapping));
        Client::forwarded(call, "forwarding the port", work, cleanup)
    }

    /// Wait for a forward's `work`; the client and what it mapped.
    fn forwarded<T: Send + 'static>(
        call: &Call,
        operation: &str,
        work: impl std::future::Future<Output = Result<(Arc<auto::Client>, T)>> + Send + 'static,
        cleanup: Cleanup<(Arc<auto::Client>, T)>,
    ) -> Result<(Client, T)> {
        let (inner, made) = wait(
            runtime()?,
            call,
            operation,
            Method::Manual,
            work,
            Some(cleanup),
        )?;
        let pid = std::process::id();
        Ok((Client { inner, pid }, made))
    }

    /// [`forward`](Self::forward) for several requests at once (a service
    /// on TCP and UDP): all are mapped, or none. When one cannot be mapped,
    /// those already made are deleted, and a guide ([`Error::Manual`])
    /// covers every protocol of the requests.
    ///
    /// # Errors
    ///
    /// As [`forward`](Self::forward); [`Error::InvalidRequest`] for an
    /// empty list.
    pub fn forward_all(
        options: ClientOptions,
        requests: &[MappingRequest],
        call: &Call,
    ) -> Result<(Client, Vec<Mapping>)> {
        let Some(first) = requests.first() else {
            return Err(Error::invalid(
                "nothing to forward: give at least one mapping request",
            ));
        };
        let (first, rest) = (first.clone(), requests[1..].to_vec());
        let protocols: Vec<Protocol> = requests.iter().map(MappingRequest::protocol).collect();
        let work = async move {
            let (client, made) = auto::Client::discover_and_map(options, &first).await?;
            let client = Arc::new(client);
            let mut mappings = Vec::new();
            let mut failure = made.map(|m| mappings.push(m)).err();
            for request in &rest {
                if failure.is_some() {
                    break;
                }
                match client.map(request).await {
                    Ok(m) => mappings.push(m),
                    Err(e) => failure = Some(e),
                }
            }
            let Some(error) = failure else {
                return Ok((client, mappings));
            };
            for m in &mappings {
                let _ = client.unmap(m).await;
            }
            Err(match error {
                Error::Manual { instructions } => {
                    let mut all = client
                        .instructions_for(
                            &protocols,
                            first.external_port().unwrap_or(first.internal_port()),
                            first.internal_ip(),
                            first.internal_port(),
                        )
                        .await;
                    all.reasons = instructions.reasons;
                    Error::Manual {
                        instructions: Box::new(all),
                    }
                }
                other => other,
            })
        };
        let cleanup: Cleanup<(Arc<auto::Client>, Vec<Mapping>)> = Box::new(|(client, mappings)| {
            Box::pin(async move {
                for m in mappings {
                    unmap_late(client.clone())(m).await;
                }
            })
        });
        Client::forwarded(call, "forwarding the ports", work, cleanup)
    }

    /// What discovery found (it does not block).
    pub fn discovery(&self) -> Discovery {
        self.inner.discovery()
    }

    /// The async client behind this handle, for async code on
    /// [`runtime()`](super::runtime).
    pub fn as_async(&self) -> Arc<auto::Client> {
        self.inner.clone()
    }

    /// Run `work` on the client within `call`.
    fn run<T, F>(
        &self,
        call: &Call,
        operation: &str,
        work: impl FnOnce(Arc<auto::Client>) -> F,
        cleanup: Option<Cleanup<T>>,
    ) -> Result<T>
    where
        T: Send + 'static,
        F: std::future::Future<Output = Result<T>> + Send + 'static,
    {
        self.check_usable()?;
        let rt = runtime()?;
        let method = self.inner.method();
        wait(
            rt,
            call,
            operation,
            method,
            work(self.inner.clone()),
            cleanup,
        )
    }

    /// Map `request`; see [`crate::Client::map`].
    ///
    /// # Errors
    ///
    /// As [`crate::Client::map`], and the call's own errors.
    pub fn map(&self, request: &MappingRequest, call: &Call) -> Result<Mapping> {
        let request = request.clone();
        let cleanup = unmap_late(self.inner.clone());
        self.run(
            call,
            "mapping the port",
            |c| async move { c.map(&request).await },
            Some(cleanup),
        )
    }

    /// Renew `mapping` now (same PCP nonce, same UPnP entry).
    ///
    /// # Errors
    ///
    /// As [`crate::Client::map`], and the call's own errors.
    pub fn renew(&self, mapping: &Mapping, call: &Call) -> Result<Mapping> {
        let request = mapping.renewal();
        self.run(
            call,
            "renewing the mapping",
            |c| async move { c.map(&request).await },
            None,
        )
    }

    /// Delete `mapping`; see [`crate::Client::unmap`].
    ///
    /// # Errors
    ///
    /// As [`crate::Client::unmap`], and the call's own errors.
    pub fn unmap(&self, mapping: &Mapping, call: &Call) -> Result<()> {
        let mapping = mapping.clone();
        self.run(
            call,
            "removing the mapping",
            |c| async move { c.unmap(&mapping).await },
            None,
        )
    }

    /// The router's mappings, where it can list them (UPnP).
    ///
    /// # Errors
    ///
    /// [`Error::NoGateway`] or [`Error::Unsupported`] when the router cannot
    /// list; the call's own errors.
    pub fn list(&self, call: &Call) -> Result<Vec<GatewayMapping>> {
        self.run(
            call,
            "listing the router's mappings",
            |c| async move { Forwarder::list(c.as_ref()).await },
            None,
        )
    }

    /// Check whether `request` is reachable from the internet, through the
    /// prober in `options`; see [`crate::Client::check`].
    ///
    /// # Errors
    ///
    /// As [`crate::Client::check`]; the call's own errors.
    pub fn check(
        &self,
        request: &MappingRequest,
        options: &CheckOptions,
        call: &Call,
    ) -> Result<CheckReport> {
        let request = request.clone();
        let options = options.clone();
        self.run(
            call,
            "checking from outside",
            |c| async move { c.check(&request, &options).await },
            None,
        )
    }

    /// The router's internet address.
    ///
    /// # Errors
    ///
    /// [`Error::NoGateway`] when no method answered; the call's own errors.
    pub fn external_address(&self, call: &Call) -> Result<Ipv4Addr> {
        self.run(
            call,
            "reading the external address",
            |c| async move { c.external_address().await },
            None,
        )
    }

    /// Whether the router lost `mapping` (a restart); see [`Forwarder::lost`].
    ///
    /// # Errors
    ///
    /// The method's errors, and the call's own.
    pub fn lost(&self, mapping: &Mapping, call: &Call) -> Result<bool> {
        let mapping = mapping.clone();
        self.run(
            call,
            "checking the mapping",
            |c| async move { c.lost(&mapping).await },
            None,
        )
    }

    /// What the router says about itself (UPnP), if anything.
    ///
    /// # Errors
    ///
    /// The call's own errors.
    pub fn router_info(&self, call: &Call) -> Result<Option<RouterInfo>> {
        self.run(
            call,
            "reading the router's description",
            |c| async move { Ok(c.router_info().await) },
            None,
        )
    }

    /// The manual guide for `request`; see [`crate::Client::instructions`].
    ///
    /// # Errors
    ///
    /// The call's own errors.
    pub fn instructions(&self, request: &MappingRequest, call: &Call) -> Result<Instructions> {
        let request = request.clone();
        self.run(
            call,
            "writing the guide",
            |c| async move { Ok(c.instructions(&request).await) },
            None,
        )
    }

    /// The guide for a service on several protocols; see
    /// [`crate::Client::instructions_for`].
    ///
    /// # Errors
    ///
    /// The call's own errors.
    pub fn instructions_for(
        &self,
        protocols: &[Protocol],
        external_port: u16,
        internal_ip: Option<IpAddr>,
        internal_port: u16,
        call: &Call,
    ) -> Result<Instructions> {
        let family = internal_ip.map_or(Family::Ipv4, Family::of);
        self.instructions_in(
            family,
            protocols,
            external_port,
            internal_ip,
            internal_port,
            call,
        )
    }

    /// [`crate::Client::instructions_in`]: the guide in `family` (the IPv6
    /// firewall's for [`Family::Ipv6`]).
    ///
    /// # Errors
    ///
    /// The call's own errors.
    pub fn instructions_in(
        &self,
        family: Family,
        protocols: &[Protocol],
        external_port: u16,
        internal_ip: Option<IpAddr>,
        internal_port: u16,
        call: &Call,
    ) -> Result<Instructions> {
        let protocols = protocols.to_vec();
        self.run(
            call,
            "writing the guide",
            move |c| async move {
                Ok(c.instructions_in(
                    family,
                    &protocols,
                    external_port,
                    internal_ip,
                    internal_port,
                )
                .await)
            },
            None,
        )
    }

    /// This host's IPv6 router and global address, or why it has none.
    ///
    /// # Errors
    ///
    /// [`Ipv6Unavailable`](crate::Ipv6Unavailable), saying why.
    pub fn ipv6_gateway(&self) -> std::result::Result<crate::Ipv6Gateway, crate::Ipv6Unavailable> {
        self.inner.ipv6_gateway()
    }

    /// [`crate::Client::ipv6_status`]: what IPv6 offers, each method asked
    /// over IPv6 now.
    ///
    /// # Errors
    ///
    /// The call's own errors.
    pub fn ipv6_status(&self, call: &Call) -> Result<crate::Ipv6Status> {
        self.run(
            call,
            "asking the router over IPv6",
            move |c| async move { Ok(c.ipv6_status().await) },
            None,
        )
    }

    /// Keep `items` mapped with a [`Keeper`] on this client. Unless
    /// `options.announce_from` is set, the keeper listens for this
    /// gateway's restart announcements.
    ///
    /// # Errors
    ///
    /// [`Error::Closed`] after `fork()`; [`Error::Io`] when pfwd's runtime
    /// cannot start.
    pub fn keep<I>(&self, items: I, mut options: KeeperOptions) -> Result<Keeper>
    where
        I: IntoIterator,
        I::Item: Into<Keep>,
    {
        self.check_usable()?;
        if options.announce_from.is_none() {
            options.announce_from = self.inner.discovery().gateway.map(|g| g.gateway);
        }
        Keeper::start(self.inner.clone(), items, options)
    }
}
