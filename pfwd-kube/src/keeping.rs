//! The lease keepers that hold the mappings: one pfwd-core
//! [`Keeper`] on one automatic [`Client`] per set of methods and outside
//! check that Services ask for (most ask for the defaults: one keeper).
//!
//! A leader that steps down (a rolling update, SIGTERM, a lost Lease) must
//! not delete the mappings: the next leader re-adopts them. Each keeper's
//! client is wrapped in a [`HandOver`] whose deletions become no-ops once
//! the controller hands over, so that closing the keepers stops the
//! renewals and leaves the mappings on the router, for their lease.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use pfwd_core::lease::{Event, Keep, Keeper, KeeperOptions};
use pfwd_core::{
    BoxFuture, Client, ClientOptions, Forwarder, GatewayInfo, GatewayMapping, Instructions,
    Mapping, MappingRequest, Method, Presence,
};

/// A client whose deletions stop once [`hand_over`](HandOver::hand_over)
/// is called; everything else goes to the client.
#[derive(Debug)]
pub struct HandOver {
    client: Arc<dyn Forwarder>,
    leaving: AtomicBool,
}

impl HandOver {
    /// Wrap `client`.
    pub fn new(client: Arc<dyn Forwarder>) -> HandOver {
        HandOver {
            client,
            leaving: AtomicBool::new(false),
        }
    }

    /// From now on, deleting a mapping leaves it on the router.
    pub fn hand_over(&self) {
        self.leaving.store(true, Ordering::SeqCst);
    }
}

impl Forwarder for HandOver {
    fn method(&self) -> Method {
        self.client.method()
    }
    fn external_address(&self) -> BoxFuture<'_, pfwd_core::Result<Ipv4Addr>> {
        self.client.external_address()
    }
    fn map<'a>(&'a self, request: &'a MappingRequest) -> BoxFuture<'a, pfwd_core::Result<Mapping>> {
        self.client.map(request)
    }
    fn unmap<'a>(&'a self, mapping: &'a Mapping) -> BoxFuture<'a, pfwd_core::Result<()>> {
        if self.leaving.load(Ordering::SeqCst) {
            return Box::pin(async { Ok(()) });
        }
        self.client.unmap(mapping)
    }
    fn lost<'a>(&'a self, mapping: &'a Mapping) -> BoxFuture<'a, pfwd_core::Result<bool>> {
        self.client.lost(mapping)
    }
    fn presence<'a>(&'a self, mapping: &'a Mapping) -> BoxFuture<'a, pfwd_core::Result<Presence>> {
        self.client.presence(mapping)
    }
    fn gateway(&self) -> Option<GatewayInfo> {
        self.client.gateway()
    }
    fn list(&self) -> BoxFuture<'_, pfwd_core::Result<Vec<GatewayMapping>>> {
        self.client.list()
    }
}

/// What sets keepers apart: the methods allowed and the outside check.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Group {
    /// The methods, as asked (empty: all).
    pub methods: Vec<String>,
    /// The prober, if any.
    pub check_via: Option<String>,
}

impl Group {
    /// The group of a mapping that allows `methods` and checks via `check_via`.
    pub fn of(methods: &[Method], check_via: Option<&str>) -> Group {
        let mut names: Vec<String> = methods.iter().map(|m| m.to_string()).collect();
        names.sort();
        Group {
            methods: names,
            check_via: check_via.map(Into::into),
        }
    }
}

/// A way of asking the router, as [`Connect`] gives it.
#[derive(Debug, Clone)]
pub struct Connected {
    /// What the keeper maps with.
    pub forwarder: Arc<dyn Forwarder>,
    /// The automatic client behind it, for the manual guide (none for a
    /// forwarder of another kind).
    pub client: Option<Arc<Client>>,
}

/// Makes the way of asking the router for a set of methods (empty: all).
pub type Connect =
    Arc<dyn Fn(Vec<Method>) -> BoxFuture<'static, pfwd_core::Result<Connected>> + Send + Sync>;

/// pfwd-core's automatic client: probe the allowed methods at once (500 ms
/// budget), the best that answers maps; the guide when none does.
pub fn discover() -> Connect {
    Arc::new(|methods: Vec<Method>| {
        Box::pin(async move {
            let mut options = ClientOptions::default();
            options.only = methods;
            let client = Arc::new(Client::discover_with(options).await?);
            Ok(Connected {
                forwarder: client.clone(),
                client: Some(client),
            })
        })
    })
}

/// How keepers are made.
#[derive(Clone)]
pub struct KeepingOptions {
    /// How the router is asked.
    pub connect: Connect,
    /// How often each keeper asks the router whether it still holds the
    /// mappings.
    pub check_interval: Duration,
    /// How long a deletion may take.
    pub close_timeout: Duration,
}

impl std::fmt::Debug for KeepingOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeepingOptions")
            .field("check_interval", &self.check_interval)
            .field("close_timeout", &self.close_timeout)
            .finish()
    }
}

/// One keeper and its client.
#[derive(Debug)]
struct Kept {
    connected: Connected,
    hand_over: Arc<HandOver>,
    keeper: Keeper,
}

/// The keepers, by group.
#[derive(Debug, Default)]
pub struct Keepers {
    kept: BTreeMap<Group, Kept>,
}

impl Keepers {
    /// The keeper for `group` and `methods`, made (a discovery, within
    /// pfwd's 500 ms budget) when missing.
    async fn kept(
        &mut self,
        group: &Group,
        methods: &[Method],
        options: &KeepingOptions,
    ) -> pfwd_core::Result<&mut Kept> {
        if !self.kept.contains_key(group) {
            let connected = (options.connect)(methods.to_vec()).await?;
            let hand_over = Arc::new(HandOver::new(connected.forwarder.clone()));
            let mut keeper_options = KeeperOptions::default();
            keeper_options.check_interval = Some(options.check_interval);
            keeper_options.close_timeout = options.close_timeout;
            keeper_options.announce_from = connected.forwarder.gateway().map(|g| g.gateway);
            keeper_options.check_via = match &group.check_via {
                Some(url) => Some(url.parse().map_err(|e: pfwd_core::model::Invalid| {
                    pfwd_core::Error::InvalidRequest {
                        reason: e.to_string(),
                    }
                })?),
                None => None,
            };
            let keeper = Keeper::start(
                hand_over.clone() as Arc<dyn Forwarder>,
                Vec::<Keep>::new(),
                keeper_options,
            );
            self.kept.insert(
                group.clone(),
                Kept {
                    connected,
                    hand_over,
                    keeper,
                },
            );
        }
        self.kept
            .get_mut(group)
            .ok_or_else(|| pfwd_core::Error::Closed {
                what: "keeper".into(),
            })
    }

    /// Keep `item` in `group`; its index there.
    ///
    /// # Errors
    ///
    /// The discovery's error when the group's client could not be made.
    pub async fn add(
        &mut self,
        group: &Group,
        methods: &[Method],
        item: Keep,
        options: &KeepingOptions,
    ) -> pfwd_core::Result<usize> {
        self.kept(group, methods, options).await?.keeper.add(item)
    }

    /// Stop keeping item `index` of `group` and delete its mapping.
    ///
    /// # Errors
    ///
    /// The router's error when it did not delete it.
    pub async fn remove(&self, group: &Group, index: usize) -> pfwd_core::Result<Option<Mapping>> {
        match self.kept.get(group) {
            Some(k) => k.keeper.remove(index).await,
            None => Ok(None),
        }
    }

    /// Delete `mapping` directly (not one of the keepers' items: a mapping
    /// found in the state that another node made).
    ///
    /// # Errors
    ///
    /// The router's error when it did not delete it.
    pub async fn delete(
        &mut self,
        group: &Group,
        methods: &[Method],
        mapping: &Mapping,
        options: &KeepingOptions,
    ) -> pfwd_core::Result<()> {
        let kept = self.kept(group, methods, options).await?;
        kept.connected.forwarder.unmap(mapping).await
    }

    /// The manual guide for `request`, from `group`'s client.
    pub async fn guide(&self, group: &Group, request: &MappingRequest) -> Option<Instructions> {
        let client = self.kept.get(group)?.connected.client.clone()?;
        Some(client.instructions(request).await)
    }

    /// This host's address towards the router, as `group`'s client found it.
    pub fn local_address(&self, group: &Group) -> Option<Ipv4Addr> {
        self.kept
            .get(group)?
            .connected
            .forwarder
            .gateway()
            .map(|g| g.local)
    }

    /// The next event of any keeper, with its group; pending forever when
    /// there is no keeper.
    pub async fn next_event(&mut self) -> Option<(Group, Event)> {
        if self.kept.is_empty() {
            return std::future::pending().await;
        }
        let waits = self
            .kept
            .iter_mut()
            .map(|(g, k)| Box::pin(async move { (g.clone(), k.keeper.next_event().await) }));
        let ((group, event), _, _) = futures::future::select_all(waits).await;
        event.map(|e| (group, e))
    }

    /// Stop keeping; `hand_over`: leave every mapping on the router (a
    /// new leader takes them), else delete them.
    pub async fn close(self, hand_over: bool) {
        for (_, kept) in self.kept {
            if hand_over {
                kept.hand_over.hand_over();
            }
            let report = kept.keeper.close().await;
            if !hand_over {
                log::info!("closed a keeper: {report}");
            }
        }
    }
}
