//! The controller: watches Services and Nodes (every replica, so that a
//! standby's view is warm), takes part in the Lease election, and while it
//! leads, carries out the reconciler's plan with pfwd-core's lease keepers,
//! keeps the state ConfigMap, and reports on the Services.
//!
//! Stepping down (SIGTERM in a rolling update, or the Lease lost) leaves
//! every mapping on the router and its record in the ConfigMap: the next
//! leader re-adopts them. Only a real removal (annotation removed, Service
//! deleted or changed) deletes a mapping.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Node, Service};
use kube::Api;
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube_lease_manager::LeaseManagerBuilder;
use pfwd_core::lease::{Event, Keep};
use pfwd_core::{Error as CoreError, Lease, Mapping, MappingRequest};
use tokio::sync::Notify;

use crate::annotations::{EXTERNAL, STATUS};
use crate::keeping::{Connect, Group, Keepers, KeepingOptions};
use crate::plan::{self, Action, Inputs, MappingKey, Want};
use crate::report::Report;
use crate::state::{StateStore, Stored};
use crate::view::{NodeView, ServiceKey, ServiceView};

/// How the controller runs.
#[derive(Debug, Clone)]
pub struct Options {
    /// The namespace of the Lease and the state ConfigMap.
    pub namespace: String,
    /// The Lease that elects the leader.
    pub lease_name: String,
    /// The ConfigMap that holds what is mapped.
    pub state_name: String,
    /// This replica's name in the election (the pod's name).
    pub identity: String,
    /// The node this replica runs on (hostNetwork: its address is ours).
    pub node_name: Option<String>,
    /// How long a leader's Lease lasts without renewal: the longest a
    /// killed leader's mappings go unrenewed before a standby takes over.
    pub leader_lease: Duration,
    /// How long before its end a leader renews its Lease.
    pub leader_grace: Duration,
    /// How often the keepers ask the router whether it still holds the
    /// mappings.
    pub check_interval: Duration,
    /// How often to reconcile when nothing changes.
    pub resync: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            namespace: "pfwd-system".into(),
            lease_name: "pfwd-kube".into(),
            state_name: "pfwd-kube-state".into(),
            identity: "pfwd-kube".into(),
            node_name: None,
            leader_lease: Duration::from_secs(15),
            leader_grace: Duration::from_secs(5),
            check_interval: pfwd_core::defaults::CHECK_INTERVAL,
            resync: Duration::from_secs(60),
        }
    }
}

/// Why the controller stopped.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The Lease could not be set up (RBAC, the API server).
    #[error("the leader election could not start: {0}")]
    Election(#[from] kube_lease_manager::LeaseManagerError),
    /// The election stopped on its own.
    #[error("the leader election stopped")]
    ElectionStopped,
}

/// Run until `shutdown` completes; then hand the mappings over (they stay
/// on the router for the next leader) and release the Lease.
///
/// # Errors
///
/// When the leader election cannot start or stops.
pub async fn run(
    client: kube::Client,
    options: Options,
    shutdown: impl Future<Output = ()>,
) -> Result<(), Error> {
    run_with(client, options, crate::keeping::discover(), shutdown).await
}

/// [`run`], asking the router through `connect` (tests plug in a fake
/// router here; [`run`] uses pfwd-core's automatic client).
///
/// # Errors
///
/// When the leader election cannot start or stops.
pub async fn run_with(
    client: kube::Client,
    options: Options,
    connect: Connect,
    shutdown: impl Future<Output = ()>,
) -> Result<(), Error> {
    let changed = Arc::new(Notify::new());
    let (services, services_writer) = reflector::store::<Service>();
    let (nodes, nodes_writer) = reflector::store::<Node>();
    let watchers = [
        tokio::spawn(drive(
            reflector::reflector(
                services_writer,
                watcher(
                    Api::<Service>::all(client.clone()),
                    watcher::Config::default(),
                ),
            )
            .default_backoff()
            .boxed(),
            changed.clone(),
            "Services",
        )),
        tokio::spawn(drive(
            reflector::reflector(
                nodes_writer,
                watcher(Api::<Node>::all(client.clone()), watcher::Config::default()),
            )
            .default_backoff()
            .boxed(),
            changed.clone(),
            "Nodes",
        )),
    ];

    let manager = LeaseManagerBuilder::new(client.clone(), &options.lease_name)
        .with_namespace(&options.namespace)
        .with_identity(&options.identity)
        .with_duration(options.leader_lease.as_secs().max(2))
        .with_grace(options.leader_grace.as_secs().max(1))
        .build()
        .await?;
    let (mut leading, election) = manager.watch().await;
    log::info!(
        "{}: waiting for the Lease {}/{}",
        options.identity,
        options.namespace,
        options.lease_name
    );

    let mut active: Option<Active> = None;
    let mut resync = tokio::time::interval(options.resync);
    let mut outcome = Ok(());
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            r = leading.changed() => {
                if r.is_err() {
                    outcome = Err(Error::ElectionStopped);
                    break;
                }
                let lead = *leading.borrow_and_update();
                if lead && active.is_none() {
                    log::info!("{}: leading; re-adopting what is mapped", options.identity);
                    let _ = services.wait_until_ready().await;
                    let _ = nodes.wait_until_ready().await;
                    let node_views: Vec<NodeView> =
                        nodes.state().iter().filter_map(|n| NodeView::of(n)).collect();
                    let own = plan::own_address(&node_views, options.node_name.as_deref());
                    let mut a = Active::start(client.clone(), &options, connect.clone(), own).await;
                    a.reconcile(&services, &nodes).await;
                    active = Some(a);
                } else if !lead && let Some(a) = active.take() {
                    log::warn!("{}: no longer leading; leaving the mappings to the next leader", options.identity);
                    a.hand_over().await;
                }
            }
            _ = changed.notified(), if active.is_some() => {
                if let Some(a) = active.as_mut() {
                    a.reconcile(&services, &nodes).await;
                }
            }
            _ = resync.tick(), if active.is_some() => {
                if let Some(a) = active.as_mut() {
                    a.reconcile(&services, &nodes).await;
                }
            }
            event = next_event(&mut active) => {
                if let (Some(a), Some((group, event))) = (active.as_mut(), event) {
                    a.on_event(&group, event, &services).await;
                }
            }
        }
    }
    if let Some(a) = active.take() {
        log::info!(
            "{}: stopping; leaving the mappings to the next leader",
            options.identity
        );
        a.hand_over().await;
    }
    // Closing the channel makes the election release the Lease.
    drop(leading);
    let _ = tokio::time::timeout(Duration::from_secs(5), election).await;
    for w in watchers {
        w.abort();
    }
    outcome
}

/// The next keeper event while leading; pending otherwise.
async fn next_event(active: &mut Option<Active>) -> Option<(Group, Event)> {
    match active {
        Some(a) => a.keepers.next_event().await,
        None => std::future::pending().await,
    }
}

/// Drive a reflector's stream, waking the controller at each change.
async fn drive<T>(
    mut stream: futures::stream::BoxStream<'static, Result<T, watcher::Error>>,
    changed: Arc<Notify>,
    what: &'static str,
) {
    while let Some(item) = stream.next().await {
        if let Err(e) = item {
            log::warn!("watching {what}: {e}");
        }
        changed.notify_one();
    }
}

/// One mapping the leader keeps.
#[derive(Debug)]
struct Held {
    want: Want,
    group: Group,
    /// The keeper's item; `None` for a mapping another node made (found in
    /// the state), which this node cannot renew on a router in secure mode.
    index: Option<usize>,
    request: MappingRequest,
    mapping: Option<Mapping>,
    uid: Option<String>,
    adopted: bool,
}

/// The leader's state.
struct Active {
    options: Options,
    report: Report,
    state: StateStore,
    keepers: Keepers,
    keeping: KeepingOptions,
    held: BTreeMap<MappingKey, Held>,
    told: BTreeMap<ServiceKey, Vec<String>>,
    failures: BTreeMap<MappingKey, String>,
}

/// The request for a wanted port.
fn request_of(key: &MappingKey, want: &Want) -> Result<MappingRequest, pfwd_core::model::Invalid> {
    let description = format!("pfwd-kube {} {}", key.service, key.port);
    let description: String = description
        .chars()
        .take(pfwd_core::MAX_DESCRIPTION_LEN)
        .collect();
    MappingRequest::builder(key.protocol, want.internal.port())
        .internal_ip(*want.internal.ip())
        .exact_external_port(want.external_port)
        .lease_of(want.lease)
        .description(description)
        .build()
}

/// `http=5.5.5.7:80/TCP` for the `pfwd.io/external` annotation.
fn external_text(key: &MappingKey, mapping: &Mapping) -> String {
    format!("{}={}/{}", key.port, mapping.external(), key.protocol)
}

fn lease_text(lease: Lease) -> String {
    match lease {
        Lease::Finite(d) => humantime::format_duration(d).to_string(),
        Lease::Permanent => "permanent".into(),
    }
}

impl Active {
    /// Take over: read the state ConfigMap and re-adopt every mapping in
    /// it (renewed with its own state: the PCP nonce), so that nothing is
    /// mapped twice.
    async fn start(
        client: kube::Client,
        options: &Options,
        connect: Connect,
        own: Option<std::net::Ipv4Addr>,
    ) -> Active {
        let state = StateStore::new(client.clone(), &options.namespace, &options.state_name);
        let mut active = Active {
            options: options.clone(),
            report: Report::new(client, &options.identity),
            state,
            keepers: Keepers::default(),
            keeping: KeepingOptions {
                connect,
                check_interval: options.check_interval,
                close_timeout: pfwd_core::defaults::CLOSE_TIMEOUT,
            },
            held: BTreeMap::new(),
            told: BTreeMap::new(),
            failures: BTreeMap::new(),
        };
        let (stored, unreadable) = match active.state.load().await {
            Ok(s) => s,
            Err(e) => {
                log::error!(
                    "cannot read the state ConfigMap {}/{}: {e}; mappings made by an earlier leader are renewed only once asked for again",
                    options.namespace,
                    options.state_name
                );
                (Vec::new(), Vec::new())
            }
        };
        for (key, why) in unreadable {
            log::error!("the state entry {key} cannot be read ({why}); it is left as it is");
        }
        for s in stored {
            let request = match request_of(&s.key, &s.want) {
                Ok(r) => r,
                Err(e) => {
                    log::error!("the state entry for {} is not a valid request: {e}", s.key);
                    continue;
                }
            };
            let group = Group::of(&s.want.methods, s.want.check_via.as_deref());
            if own.is_some_and(|ip| ip != *s.want.internal.ip()) {
                // Made from another node: kept as it is; the plan moves it
                // to this node (a router in secure mode would refuse this
                // node's renewal).
                log::info!("{} was made for another node: {}", s.key, s.record.mapping);
                active.held.insert(
                    s.key,
                    Held {
                        want: s.want,
                        group,
                        index: None,
                        request,
                        mapping: Some(s.record.mapping),
                        uid: None,
                        adopted: true,
                    },
                );
                continue;
            }
            let keep = Keep::recorded(request.clone(), s.record.mapping.clone());
            match active
                .keepers
                .add(&group, &s.want.methods, keep, &active.keeping)
                .await
            {
                Ok(index) => {
                    log::info!("re-adopting {}: {}", s.key, s.record.mapping);
                    active.held.insert(
                        s.key,
                        Held {
                            want: s.want,
                            group,
                            index: Some(index),
                            request,
                            mapping: Some(s.record.mapping),
                            uid: None,
                            adopted: true,
                        },
                    );
                }
                Err(e) => log::error!("cannot re-adopt {}: {e}", s.key),
            }
        }
        active
    }

    /// Stop leading: stop renewing and leave every mapping on the router,
    /// its record in the ConfigMap, for the next leader.
    async fn hand_over(self) {
        self.keepers.close(true).await;
    }

    fn current(&self) -> BTreeMap<MappingKey, Want> {
        self.held
            .iter()
            .map(|(k, h)| (k.clone(), h.want.clone()))
            .collect()
    }

    /// Make the router match the Services.
    async fn reconcile(&mut self, services: &Store<Service>, nodes: &Store<Node>) {
        let service_objects = services.state();
        let views: Vec<ServiceView> = service_objects
            .iter()
            .filter_map(|s| ServiceView::of(s))
            .collect();
        let node_views: Vec<NodeView> = nodes
            .state()
            .iter()
            .filter_map(|n| NodeView::of(n))
            .collect();
        let current = self.current();
        let plan = plan::plan(Inputs {
            services: &views,
            nodes: &node_views,
            own_node: self.options.node_name.as_deref(),
            current: &current,
        });
        let uids: BTreeMap<&ServiceKey, &str> =
            views.iter().map(|v| (&v.key, v.uid.as_str())).collect();
        for action in plan.actions {
            match action {
                Action::Unmap(key) => self.unmap(&key, uids.contains_key(&key.service)).await,
                Action::Remap(key, want) => {
                    self.unmap(&key, false).await;
                    self.map(key.clone(), want, uids.get(&key.service).copied())
                        .await;
                }
                Action::Map(key, want) => {
                    let uid = uids.get(&key.service).copied();
                    self.map(key, want, uid).await;
                }
            }
        }
        // Tell each Service what changed in its problems, once.
        for (service, problems) in &plan.problems {
            let texts: Vec<String> = problems.iter().map(ToString::to_string).collect();
            if self.told.get(service) != Some(&texts) {
                for p in problems {
                    let already = self
                        .told
                        .get(service)
                        .is_some_and(|t| t.contains(&p.to_string()));
                    if !already {
                        self.report
                            .event(
                                service,
                                uids.get(service).copied(),
                                true,
                                p.reason(),
                                &p.to_string(),
                            )
                            .await;
                    }
                }
                self.told.insert(service.clone(), texts);
            }
        }
        self.told.retain(|s, _| plan.problems.contains_key(s));
        // The annotations, where they differ from what the Service shows.
        for view in &views {
            let asking = plan.problems.contains_key(&view.key);
            let (external, status) = if asking {
                let (e, s) =
                    self.summary(&view.key, plan.problems.get(&view.key).map_or(0, Vec::len));
                (Some(e), Some(s))
            } else {
                (None, None)
            };
            let shown = (
                view.annotations.get(EXTERNAL).cloned(),
                view.annotations.get(STATUS).cloned(),
            );
            if shown != (external.clone(), status.clone()) {
                self.report
                    .annotate(&view.key, external.as_deref(), status.as_deref())
                    .await;
            }
        }
    }

    /// `pfwd.io/external` and `pfwd.io/status` for a Service.
    fn summary(&self, service: &ServiceKey, problems: usize) -> (String, String) {
        let mine: Vec<(&MappingKey, &Held)> = self
            .held
            .iter()
            .filter(|(k, _)| &k.service == service)
            .collect();
        let mapped: Vec<String> = mine
            .iter()
            .filter_map(|(k, h)| Some(external_text(k, h.mapping.as_ref()?)))
            .collect();
        let mut status = format!("{} of {} ports forwarded", mapped.len(), mine.len());
        if let Some(m) = mine.iter().find_map(|(_, h)| h.mapping.as_ref()) {
            status.push_str(&format!(" via {}", m.method()));
        }
        if mine.iter().any(|(k, _)| self.failures.contains_key(k)) {
            status.push_str("; trouble: see the Service's events");
        }
        if problems > 0 {
            status.push_str(&format!(
                "; {problems} problem{} in the annotations or ports: see the Service's events",
                if problems == 1 { "" } else { "s" }
            ));
        }
        (mapped.join(","), status)
    }

    async fn map(&mut self, key: MappingKey, want: Want, uid: Option<&str>) {
        let request = match request_of(&key, &want) {
            Ok(r) => r,
            Err(e) => {
                self.report
                    .event(
                        &key.service,
                        uid,
                        true,
                        "InvalidRequest",
                        &format!("port {}: {e}", key.port),
                    )
                    .await;
                return;
            }
        };
        let group = Group::of(&want.methods, want.check_via.as_deref());
        match self
            .keepers
            .add(
                &group,
                &want.methods,
                Keep::new(request.clone()),
                &self.keeping,
            )
            .await
        {
            Ok(index) => {
                self.held.insert(
                    key,
                    Held {
                        want,
                        group,
                        index: Some(index),
                        request,
                        mapping: None,
                        uid: uid.map(Into::into),
                        adopted: false,
                    },
                );
            }
            Err(e) => {
                self.report
                    .event(
                        &key.service,
                        uid,
                        true,
                        "MapFailed",
                        &format!("port {}: cannot ask the router: {e}", key.port),
                    )
                    .await;
            }
        }
    }

    /// Delete a mapping; `tell`: post an Event on its Service.
    async fn unmap(&mut self, key: &MappingKey, tell: bool) {
        let Some(held) = self.held.remove(key) else {
            return;
        };
        self.failures.remove(key);
        let Some(index) = held.index else {
            self.let_go(key, held).await;
            return;
        };
        let outcome = self.keepers.remove(&held.group, index).await;
        let mut change = BTreeMap::new();
        change.insert(Stored::data_key(key), None);
        match outcome {
            Ok(deleted) => {
                if let Err(e) = self.state.write(&change).await {
                    log::warn!("cannot drop {key} from the state ConfigMap: {e}");
                }
                if tell {
                    let what = deleted
                        .map_or_else(|| "nothing was mapped yet".to_string(), |m| m.to_string());
                    self.report
                        .event(
                            &key.service,
                            held.uid.as_deref(),
                            false,
                            "Unmapped",
                            &format!("port {}: removed {what}", key.port),
                        )
                        .await;
                }
            }
            Err(e) => {
                // The keeper still holds it; keep it, and try again at
                // the next reconcile.
                let text = format!(
                    "port {}: the router did not delete the mapping: {e}; trying again",
                    key.port
                );
                self.report
                    .event(
                        &key.service,
                        held.uid.as_deref(),
                        true,
                        "UnmapFailed",
                        &text,
                    )
                    .await;
                self.held.insert(key.clone(), held);
            }
        }
    }

    /// A mapping another node made goes: deleted if the router lets this
    /// node (not in secure mode), else left to end with its lease. Either
    /// way its record goes, and the plan maps the port anew from here,
    /// once the router frees the outside port.
    async fn let_go(&mut self, key: &MappingKey, held: Held) {
        let mut change = BTreeMap::new();
        change.insert(Stored::data_key(key), None);
        let Some(mapping) = held.mapping else {
            return;
        };
        match self
            .keepers
            .delete(&held.group, &held.want.methods, &mapping, &self.keeping)
            .await
        {
            Ok(()) => log::info!("{key}: deleted {mapping}, made from another node"),
            Err(e) => {
                let ends = mapping
                    .expires_at_wall()
                    .map(|t| humantime::format_rfc3339_seconds(t).to_string())
                    .unwrap_or_else(|| {
                        "never (a permanent lease: delete it in the router's settings)".into()
                    });
                let note = format!(
                    "port {}: {mapping} was made from {}, and the router lets only that host change it ({e}); it works until its lease ends at {ends}, and this node maps the port again once the router frees it",
                    key.port,
                    mapping.internal().ip()
                );
                self.report
                    .event(
                        &key.service,
                        held.uid.as_deref(),
                        true,
                        "LeftToExpire",
                        &note,
                    )
                    .await;
            }
        }
        if let Err(e) = self.state.write(&change).await {
            log::warn!("cannot drop {key} from the state ConfigMap: {e}");
        }
    }

    fn key_of(&self, group: &Group, index: usize) -> Option<MappingKey> {
        self.held
            .iter()
            .find(|(_, h)| &h.group == group && h.index == Some(index))
            .map(|(k, _)| k.clone())
    }

    /// Record a mapping in the state ConfigMap.
    async fn record(&self, key: &MappingKey, held: &Held, mapping: &Mapping) {
        let stored = Stored {
            key: key.clone(),
            want: held.want.clone(),
            record: pfwd_core::Record::new(mapping.clone(), None),
        };
        let mut change = BTreeMap::new();
        change.insert(Stored::data_key(key), Some(stored.to_json()));
        if let Err(e) = self.state.write(&change).await {
            log::error!(
                "cannot record {key} in the state ConfigMap ({e}): a new leader would not find this mapping"
            );
        }
    }

    /// Act on a keeper's event: the state, the Events, the annotations.
    async fn on_event(&mut self, group: &Group, event: Event, services: &Store<Service>) {
        let index = match &event {
            Event::Mapped { index, .. }
            | Event::Renewed { index, .. }
            | Event::Lost { index, .. }
            | Event::Restored { index, .. }
            | Event::Failed { index, .. }
            | Event::Checked { index, .. } => Some(*index),
            Event::Warning { index, .. } => *index,
            Event::ExternalAddressChanged { old, new } => {
                let keys: Vec<MappingKey> = self
                    .held
                    .iter()
                    .filter(|(_, h)| &h.group == group)
                    .map(|(k, _)| k.clone())
                    .collect();
                let note = format!(
                    "the router's outside address changed from {old} to {new}; the mappings follow it"
                );
                let mut told = Vec::new();
                for k in keys {
                    if !told.contains(&k.service) {
                        let uid = self.held.get(&k).and_then(|h| h.uid.clone());
                        self.report
                            .event(
                                &k.service,
                                uid.as_deref(),
                                false,
                                "ExternalAddressChanged",
                                &note,
                            )
                            .await;
                        told.push(k.service.clone());
                    }
                }
                None
            }
            other => {
                log::debug!("keeper: {other}");
                None
            }
        };
        let Some(key) = index.and_then(|i| self.key_of(group, i)) else {
            if let Event::Warning { message, .. } = &event {
                log::warn!("{message}");
            }
            return;
        };
        let Some(held) = self.held.get(&key) else {
            return;
        };
        let uid = held.uid.clone().or_else(|| {
            services
                .state()
                .iter()
                .find(|s| {
                    s.metadata.namespace.as_deref() == Some(key.service.namespace.as_str())
                        && s.metadata.name.as_deref() == Some(key.service.name.as_str())
                })
                .and_then(|s| s.metadata.uid.clone())
        });
        let uid = uid.as_deref();
        let port = key.port.clone();
        let mut annotate = false;
        match event {
            Event::Mapped { mapping, .. } => {
                let reason = if held.adopted { "Adopted" } else { "Mapped" };
                let mut note = format!(
                    "port {port}: forwarded {} {} -> {} via {}, lease {}",
                    key.protocol,
                    mapping.external(),
                    mapping.internal(),
                    mapping.method(),
                    lease_text(mapping.lease())
                );
                if mapping.external().port() != held.want.external_port {
                    note.push_str(&format!(
                        " (outside port {} was asked for; the router gave {})",
                        held.want.external_port,
                        mapping.external().port()
                    ));
                }
                if held.adopted {
                    note.push_str(" (re-adopted from the state ConfigMap: renewed with its own state, not mapped again)");
                }
                self.record(&key, held, &mapping).await;
                self.report
                    .event(&key.service, uid, false, reason, &note)
                    .await;
                self.failures.remove(&key);
                self.set_mapping(&key, mapping);
                annotate = true;
            }
            Event::Renewed { mapping, .. } => {
                let moved = held.mapping.as_ref().map(|m| m.external()) != Some(mapping.external());
                self.record(&key, held, &mapping).await;
                if self.failures.remove(&key).is_some() || moved {
                    self.report
                        .event(
                            &key.service,
                            uid,
                            false,
                            "Renewed",
                            &format!("port {port}: renewed {mapping}"),
                        )
                        .await;
                }
                self.set_mapping(&key, mapping);
                annotate = true;
            }
            Event::Lost {
                mapping, reason, ..
            } => {
                self.report
                    .event(
                        &key.service,
                        uid,
                        true,
                        "Lost",
                        &format!(
                            "port {port}: the router lost {mapping} ({reason}); making it again"
                        ),
                    )
                    .await;
            }
            Event::Restored { mapping, .. } => {
                self.record(&key, held, &mapping).await;
                self.report
                    .event(
                        &key.service,
                        uid,
                        false,
                        "Restored",
                        &format!("port {port}: made again: {mapping}"),
                    )
                    .await;
                self.failures.remove(&key);
                self.set_mapping(&key, mapping);
                annotate = true;
            }
            Event::Failed {
                error, retry_in, ..
            } => {
                let here = self.keepers.local_address(&held.group);
                let target = *held.want.internal.ip();
                let elsewhere = here.is_some_and(|h| h != target);
                let (reason, note) = match &*error {
                    CoreError::Manual { instructions } => {
                        log::warn!(
                            "{}: port {port}: the guide to forward it by hand:\n{}",
                            key.service,
                            instructions.to_text()
                        );
                        let lead = if elsewhere {
                            format!(
                                "port {port}: the router will not forward to {target}, another host than this node ({}): routers in secure mode map only the host that asks. Use pfwd.io/target: node, or forward it by hand",
                                here.map(|h| h.to_string()).unwrap_or_default()
                            )
                        } else {
                            format!("port {port}: the router cannot be asked; forward it by hand")
                        };
                        (
                            if elsewhere {
                                "RouterRefused"
                            } else {
                                "ManualForwardingRequired"
                            },
                            format!(
                                "{lead} (the whole guide is in the controller's log):\n{}",
                                instructions.to_text()
                            ),
                        )
                    }
                    CoreError::Refused { .. } if elsewhere => {
                        let guide = self.keepers.guide(&held.group, &held.request).await;
                        (
                            "RouterRefused",
                            format!(
                                "port {port}: the router refused a mapping for {target}, another host than this node: {error}. Routers in secure mode map only the host that asks; use pfwd.io/target: node, or forward it by hand:\n{}",
                                guide.map(|g| g.to_text()).unwrap_or_default()
                            ),
                        )
                    }
                    _ if held.mapping.is_some() => (
                        "RenewalFailed",
                        format!(
                            "port {port}: {error}; trying again in {} s",
                            retry_in.as_secs()
                        ),
                    ),
                    _ => (
                        "MapFailed",
                        format!(
                            "port {port}: {error}; trying again in {} s",
                            retry_in.as_secs()
                        ),
                    ),
                };
                // Once per kind of trouble, not at every retry.
                let signature = format!("{reason}:{:?}", error.kind());
                if self.failures.get(&key) != Some(&signature) {
                    self.report
                        .event(&key.service, uid, true, reason, &note)
                        .await;
                    self.failures.insert(key.clone(), signature);
                    annotate = true;
                }
            }
            Event::Checked { report, .. } => {
                let (warning, reason) = if report.reachable {
                    (false, "Reachable")
                } else {
                    (true, "Unreachable")
                };
                self.report
                    .event(
                        &key.service,
                        uid,
                        warning,
                        reason,
                        &format!("port {port}: checked from outside: {}", report.explanation),
                    )
                    .await;
            }
            Event::Warning { message, .. } => {
                self.report
                    .event(
                        &key.service,
                        uid,
                        true,
                        "RouterWarning",
                        &format!("port {port}: {message}"),
                    )
                    .await;
            }
            _ => {}
        }
        if annotate {
            let (external, status) = self.summary(
                &key.service,
                self.told.get(&key.service).map_or(0, Vec::len),
            );
            self.report
                .annotate(&key.service, Some(&external), Some(&status))
                .await;
        }
    }

    fn set_mapping(&mut self, key: &MappingKey, mapping: Mapping) {
        if let Some(h) = self.held.get_mut(key) {
            h.mapping = Some(mapping);
        }
    }
}

#[cfg(test)]
#[path = "controller_tests.rs"]
mod tests;
