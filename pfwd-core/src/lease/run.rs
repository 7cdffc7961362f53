//! The keeper's task: one loop on the runtime that renews, checks, repairs,
//! takes commands (add, remove, close) and reports every step as an event.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::mpsc::{self, error::TrySendError};
use tokio::time::Instant;

use super::announce::{announce_socket, announced};
use super::policy::{random_fraction, renew_delay, retry_delay};
use super::records::Records;
use super::{CloseReport, Command, Event, Keep, KeeperOptions};
use crate::check::run::check_with;
use crate::check::{CheckOptions, CheckReport};
use crate::error::Error;
use crate::forwarder::{Forwarder, Presence};
use crate::mapping::{Lease, Mapping, MappingRequest, Method};
use crate::sync::lock;

/// Events to the reader through a bounded queue; a full queue drops events
/// and counts them ([`Event::Missed`]) rather than holding up renewals.
pub(super) struct Emitter {
    tx: mpsc::Sender<Event>,
    missed: u64,
}

impl Emitter {
    pub(super) fn new(tx: mpsc::Sender<Event>) -> Emitter {
        Emitter { tx, missed: 0 }
    }

    fn emit(&mut self, event: Event) {
        if self.missed > 0 {
            match self.tx.try_send(Event::Missed { count: self.missed }) {
                Ok(()) => self.missed = 0,
                Err(TrySendError::Full(_)) => {
                    self.missed += 1;
                    return;
                }
                Err(TrySendError::Closed(_)) => return,
            }
        }
        if let Err(TrySendError::Full(_)) = self.tx.try_send(event) {
            self.missed += 1;
        }
    }

    /// The last event ([`Event::Closed`]): waits up to `wait` for room, so
    /// that a reader that is merely slow still sees it.
    async fn emit_last(&mut self, event: Event, wait: Duration) {
        if self.missed > 0 {
            let missed = Event::Missed { count: self.missed };
            let _ = tokio::time::timeout(wait, self.tx.send(missed)).await;
        }
        let _ = tokio::time::timeout(wait, self.tx.send(event)).await;
    }
}

/// One kept item.
struct Entry {
    request: MappingRequest,
    mapping: Option<Mapping>,
    /// [`Event::Mapped`] was sent for it.
    announced: bool,
    /// A mapping from a record, not yet confirmed by a renewal.
    recorded: bool,
    due: Instant,
    /// When the held mapping's lease ends, on the keeper's clock.
    expires: Option<Instant>,
    failures: u32,
}

/// The keeper's clock time at which a std `Instant` falls.
fn on_clock(at: std::time::Instant) -> Instant {
    let now = std::time::Instant::now();
    match at.checked_duration_since(now) {
        Some(ahead) => Instant::now() + ahead,
        None => Instant::now()
            .checked_sub(now - at)
            .unwrap_or_else(Instant::now),
    }
}

/// When to renew a held `mapping` and when its lease ends, on the keeper's clock.
fn schedule(mapping: &Mapping, from: Instant) -> (Instant, Option<Instant>) {
    match mapping.lease() {
        Lease::Finite(lifetime) => (
            from + renew_delay(lifetime, random_fraction()),
            Some(from + lifetime),
        ),
        // A permanent mapping needs no renewal; checks still watch it.
        Lease::Permanent => (Instant::now() + Duration::from_secs(365 * 24 * 3600), None),
    }
}

pub(super) struct Run {
    pub(super) forwarder: Arc<dyn Forwarder>,
    pub(super) options: KeeperOptions,
    pub(super) events: Emitter,
    pub(super) current: Arc<Mutex<BTreeMap<usize, Mapping>>>,
    entries: BTreeMap<usize, Entry>,
    external: Option<Ipv4Addr>,
    /// A check of the gateway failed and was reported; quiet until one works.
    check_failing: bool,
    /// Checks from outside under way ([`KeeperOptions::check_via`]).
    outside_checks: tokio::task::JoinSet<(usize, crate::Result<CheckReport>)>,
    /// The state directory's records ([`KeeperOptions::state_dir`]).
    records: Option<Records>,
    /// A record could not be written and that was reported; quiet until one is.
    record_failing: bool,
}

impl Run {
    pub(super) fn new(
        forwarder: Arc<dyn Forwarder>,
        options: KeeperOptions,
        events: Emitter,
        current: Arc<Mutex<BTreeMap<usize, Mapping>>>,
        items: Vec<Keep>,
    ) -> Run {
        let records = options
            .state_dir
            .clone()
            .map(|dir| Records::new(dir, options.take_over));
        let mut run = Run {
            forwarder,
            options,
            events,
            current,
            entries: BTreeMap::new(),
            external: None,
            check_failing: false,
            outside_checks: tokio::task::JoinSet::new(),
            records,
            record_failing: false,
        };
        for (index, item) in items.into_iter().enumerate() {
            run.add(index, item);
        }
        run
    }

    /// Take `item` on as `index`; a held mapping is reported at once.
    fn add(&mut self, index: usize, item: Keep) {
        let Keep {
            request,
            held,
            recorded,
        } = item;
        let mut entry = Entry {
            request,
            mapping: None,
            announced: false,
            recorded,
            due: Instant::now(),
            expires: None,
            failures: 0,
        };
        if let Some(mapping) = held {
            if recorded {
                // Renew at once: whether the gateway still has it is unknown.
                entry.mapping = Some(mapping);
            } else {
                (entry.due, entry.expires) = schedule(&mapping, on_clock(mapping.granted_at()));
                if let Some(external) = mapping.external_v4() {
                    self.external = Some(*external.ip());
                }
                entry.announced = true;
                entry.mapping = Some(mapping.clone());
                lock(&self.current).insert(index, mapping.clone());
                self.record(index, &mapping, None);
                self.check_from_outside(index, &mapping);
                self.events.emit(Event::Mapped { index, mapping });
            }
        }
        self.entries.insert(index, entry);
    }

    pub(super) async fn run(mut self, mut commands: mpsc::UnboundedReceiver<Command>) {
        let mut next_check = self.options.check_interval.map(|i| Instant::now() + i);
        let announcements =
            self.options
                .announce_from
                .and_then(|gateway| match announce_socket() {
                    Ok(socket) => Some((socket, gateway)),
                    Err(e) => {
                        let error = Error::io("listening for PCP announcements on UDP 5350", e);
                        log::warn!("{error}");
                        self.events.emit(Event::Warning {
                            index: None,
                            message: format!(
                                "{error}: a router restart is noticed at the next check \
                                 instead of at once"
                            ),
                            error: Some(Arc::new(error)),
                        });
                        None
                    }
                });
        let mut buf = [0u8; 1100];
        loop {
            let next_due = self.entries.values().map(|e| e.due).min();
            let wake = match (next_due, next_check) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            tokio::select! {
                command = commands.recv() => {
                    // None: every handle was dropped; clean up all the same.
                    if self.handle(command).await {
                        return;
                    }
                }
                Some(done) = self.outside_checks.join_next(), if !self.outside_checks.is_empty() => {
                    self.checked(done);
                }
                restart = announced(announcements.as_ref(), &mut buf) => {
                    if restart {
                        self.restart_announced().await;
                    }
                }
                () = sleep_until_opt(wake) => {
                    let now = Instant::now();
                    if next_check.is_some_and(|c| c <= now) {
                        self.check_all().await;
                        next_check = self.options.check_interval.map(|i| Instant::now() + i);
                    }
                    let due: Vec<usize> = self
                        .entries
                        .iter()
                        .filter(|(_, e)| e.due <= now)
                        .map(|(i, _)| *i)
                        .collect();
                    for index in due {
                        // A slow gateway makes a round of renewals long:
                        // commands (close above all) must not wait for it.
                        loop {
                            match commands.try_recv() {
                                Ok(command) => {
                                    if self.handle(Some(command)).await {
                                        return;
                                    }
                                }
                                Err(mpsc::error::TryRecvError::Disconnected) => {
                                    self.handle(None).await;
                                    return;
                                }
                                Err(mpsc::error::TryRecvError::Empty) => break,
                            }
                        }
                        if self.entries.get(&index).is_some_and(|e| e.due <= Instant::now()) {
                            self.attend(index).await;
                        }
                    }
                }
            }
        }
    }

    /// Carry out a command; true when the keeper has closed.
    async fn handle(&mut self, command: Option<Command>) -> bool {
        match command {
            Some(Command::Add(index, item)) => {
                self.add(index, *item);
                false
            }
            Some(Command::Remove(index, reply)) => {
                let _ = reply.send(self.remove(index).await);
                false
            }
            Some(Command::Close(reply)) => {
                let report = self.finish().await;
                let _ = reply.send(report);
                true
            }
            None => {
                self.finish().await;
                true
            }
        }
    }

    /// Delete every mapping and report it, last.
    async fn finish(&mut self) -> CloseReport {
        let report = self.delete_all().await;
        let wait = self.options.close_timeout;
        self.events
            .emit_last(
                Event::Closed {
                    report: report.clone(),
                },
                wait,
            )
            .await;
        report
    }

    /// Stop keeping item `index` and delete its mapping. A mapping the
    /// gateway did not delete stays kept, and the error says why.
    async fn remove(&mut self, index: usize) -> crate::Result<Option<Mapping>> {
        let Some(entry) = self.entries.get(&index) else {
            return Err(Error::invalid(format!(
                "the keeper has no item {index}: it was removed already, or never added"
            )));
        };
        if let Some(mapping) = entry.mapping.clone() {
            let deadline = Instant::now() + self.options.close_timeout;
            match self.delete_by(&mapping, deadline).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => return Err(e),
                Err(_) => return Err(close_timeout_error(&mapping, self.options.close_timeout)),
            }
        }
        let entry = self.entries.remove(&index);
        lock(&self.current).remove(&index);
        let mapping = entry.and_then(|e| e.mapping);
        if let Some(m) = &mapping {
            self.unrecord(m, true);
        }
        self.events.emit(Event::Removed {
            index,
            mapping: mapping.clone(),
        });
        Ok(mapping)
    }

    /// Map, renew or restore item `index`, and schedule its next attempt.
    async fn attend(&mut self, index: usize) {
        if self.kept_elsewhere(index) {
            return;
        }
        let Some(entry) = self.entries.get(&index) else {
            return;
        };
        let request = match &entry.mapping {
            Some(m) => m.renewal(),
            None => entry.request.clone(),
        };
        let first = !entry.announced;
        match self.forwarder.map(&request).await {
            Ok(mapping) => {
                let read_back =
                    first && refreshable(&mapping) && self.options.check_interval.is_some();
                self.granted(index, mapping.clone());
                if read_back {
                    self.read_back_once(&mapping).await;
                }
            }
            Err(error) => self.failed(index, error),
        }
    }

    /// Ask once, right after a PCP or NAT-PMP mapping is first held,
    /// whether the gateway holds it: the automatic client learns from the
    /// answer whether the router's UPnP table lists such mappings, so that
    /// a deletion behind pfwd's back before the first check is told
    /// (`Lost`) rather than only refreshed away. The answer itself needs no
    /// action: the mapping was granted just now.
    async fn read_back_once(&self, mapping: &Mapping) {
        if let Err(e) = self.forwarder.presence(mapping).await {
            log::debug!("reading {mapping} back: {e}");
        }
    }

    fn granted(&mut self, index: usize, mapping: Mapping) {
        // A pinhole's external address is the host's own, not the router's.
        if let Some(ip) = mapping.external_v4().map(|a| *a.ip())
            && let Some(old) = self.external.replace(ip)
            && old != ip
        {
            self.events
                .emit(Event::ExternalAddressChanged { old, new: ip });
        }
        let Some(entry) = self.entries.get_mut(&index) else {
            return;
        };
        let fresh = !entry.announced || entry.mapping.is_none();
        let replaced = entry.mapping.clone();
        let event = if !entry.announced {
            Event::Mapped {
                index,
                mapping: mapping.clone(),
            }
        } else if entry.mapping.is_some() {
            Event::Renewed {
                index,
                mapping: mapping.clone(),
            }
        } else {
            Event::Restored {
                index,
                mapping: mapping.clone(),
            }
        };
        self.hold(index, &mapping, replaced.as_ref());
        self.events.emit(event);
        if fresh {
            self.check_from_outside(index, &mapping);
        }
    }

    /// Item `index` holds `mapping` now (granted in place of `replaced`):
    /// renewed on its schedule, shown to the keeper's readers, recorded.
    fn hold(&mut self, index: usize, mapping: &Mapping, replaced: Option<&Mapping>) {
        let Some(entry) = self.entries.get_mut(&index) else {
            return;
        };
        (entry.due, entry.expires) = schedule(mapping, Instant::now());
        entry.announced = true;
        entry.recorded = false;
        entry.failures = 0;
        entry.mapping = Some(mapping.clone());
        lock(&self.current).insert(index, mapping.clone());
        self.record(index, mapping, replaced);
    }

    /// With [`KeeperOptions::check_via`], check `mapping` from outside in
    /// the background; [`Event::Checked`] reports it.
    fn check_from_outside(&mut self, index: usize, mapping: &Mapping) {
        let Some(via) = self.options.check_via.clone() else {
            return;
        };
        let request = match crate::check::request_of(mapping) {
            Ok(r) => r,
            Err(e) => {
                log::warn!("cannot check {mapping} from outside: {e}");
                return;
            }
        };
        let forwarder = self.forwarder.clone();
        let known = mapping.external_v4().map(|a| *a.ip());
        self.outside_checks.spawn(async move {
            let options = CheckOptions::via(via);
            let report =
                check_with(Some(forwarder.as_ref()), None, known, &request, &options).await;
            (index, report)
        });
    }

    /// Report a finished check from outside.
    fn checked(
        &mut self,
        done: Result<(usize, crate::Result<CheckReport>), tokio::task::JoinError>,
    ) {
        match done {
            Ok((index, Ok(report))) => self.events.emit(Event::Checked {
                index,
                report: Box::new(report),
            }),
            Ok((index, Err(error))) => self.events.emit(Event::Warning {
                index: Some(index),
                message: format!("the check from outside could not be made: {error}"),
                error: Some(Arc::new(error)),
            }),
            Err(e) => log::warn!("a check from outside stopped: {e}"),
        }
    }

    fn failed(&mut self, index: usize, error: Error) {
        let Some(entry) = self.entries.get_mut(&index) else {
            return;
        };
        // A recorded mapping the gateway refuses to renew (another nonce
        // holds the port, the method is gone) is made anew at once. One it
        // does not answer for stays: it may still be there.
        if entry.recorded && !is_transient(&error) {
            entry.recorded = false;
            entry.due = Instant::now();
            let old = entry.mapping.take();
            let message = match &old {
                Some(m) => format!(
                    "the recorded mapping {m} could not be renewed ({error}); making a new one"
                ),
                None => {
                    format!("a recorded mapping could not be renewed ({error}); making a new one")
                }
            };
            self.events.emit(Event::Warning {
                index: Some(index),
                message,
                error: Some(Arc::new(error)),
            });
            return;
        }
        entry.failures += 1;
        let retry_in = retry_delay(
            entry.failures,
            self.options.retry_min,
            self.options.retry_max,
        );
        entry.due = Instant::now() + retry_in;
        // Past the end of its lease the mapping is gone: make it anew.
        if entry.expires.is_some_and(|t| t <= Instant::now())
            && let Some(mapping) = entry.mapping.take()
        {
            lock(&self.current).remove(&index);
            self.events.emit(Event::Lost {
                index,
                mapping,
                reason: format!("its lease ended while renewals failed ({error})"),
            });
        }
        log::warn!("keeping mapping {index}: {error}; trying again in {retry_in:?}");
        self.events.emit(Event::Failed {
            index,
            error: Arc::new(error),
            retry_in,
        });
    }

    /// Ask the gateway whether it still holds each mapping, and its
    /// external address: make lost ones again now, refresh those it cannot
    /// tell of, let go of those another process took over.
    async fn check_all(&mut self) {
        let held: Vec<(usize, Mapping)> = self
            .entries
            .iter()
            .filter(|(_, e)| e.announced)
            .filter_map(|(i, e)| e.mapping.clone().map(|m| (*i, m)))
            .collect();
        for (index, mapping) in held {
            if self.taken_over(index, &mapping) {
                continue;
            }
            match self.forwarder.presence(&mapping).await {
                Ok(presence) => {
                    self.check_failing = false;
                    match presence {
                        Presence::Lost => {
                            let reason = "the gateway no longer holds it (it restarted, or the \
                                          mapping was removed behind pfwd's back)";
                            self.remake(index, mapping, reason).await;
                        }
                        // Even one the router lists: miniupnpd's table is
                        // a copy that a firewall reload leaves stale. One
                        // round trip puts a rule flushed under it back.
                        _ if refreshable(&mapping) => self.refresh(index, &mapping).await,
                        _ => {}
                    }
                }
                Err(e) if !self.check_failing => {
                    self.check_failing = true;
                    self.events.emit(Event::Warning {
                        index: Some(index),
                        message: format!(
                            "could not check whether the gateway still holds {mapping} ({e}); \
                             the next renewal will tell"
                        ),
                        error: Some(Arc::new(e)),
                    });
                }
                Err(_) => {}
            }
        }
        self.check_address().await;
    }

    /// Renew `mapping` now, quietly: the gateway cannot say for sure that
    /// it still holds it (no way to ask, or a table that a firewall reload
    /// leaves stale), and a renewal with its own state (the PCP nonce)
    /// makes it again if it was deleted. Reported only when what the
    /// gateway grants differs (another outside address or port).
    async fn refresh(&mut self, index: usize, mapping: &Mapping) {
        match self.forwarder.map(&mapping.renewal()).await {
            Ok(granted) if granted.external() == mapping.external() => {
                self.hold(index, &granted, Some(mapping));
                log::debug!("refreshed {granted}");
            }
            Ok(granted) => self.granted(index, granted),
            Err(e) => self.failed(index, e),
        }
    }

    /// Ask the external address; a change is reported and every mapping
    /// renewed now, so that each follows (and says) the new address.
    async fn check_address(&mut self) {
        let Some(old) = self.external else {
            return;
        };
        let Ok(now) = self.forwarder.external_address().await else {
            return;
        };
        if now == old {
            return;
        }
        self.external = Some(now);
        self.events
            .emit(Event::ExternalAddressChanged { old, new: now });
        let due = Instant::now();
        for entry in self.entries.values_mut() {
            entry.due = due;
        }
    }

    /// The gateway announced a restart: its mappings are gone; make them again.
    async fn restart_announced(&mut self) {
        let held: Vec<(usize, Mapping)> = self
            .entries
            .iter()
            .filter_map(|(i, e)| e.mapping.clone().map(|m| (*i, m)))
            .collect();
        for (index, mapping) in held {
            self.remake(
                index,
                mapping,
                "the gateway announced a restart (PCP ANNOUNCE)",
            )
            .await;
        }
    }

    /// Report `mapping` lost and make it again at once, as a renewal (same
    /// nonce, same external port where the gateway allows).
    async fn remake(&mut self, index: usize, mapping: Mapping, reason: &str) {
        self.events.emit(Event::Lost {
            index,
            mapping: mapping.clone(),
            reason: reason.into(),
        });
        let result = self.forwarder.map(&mapping.renewal()).await;
        if let Some(entry) = self.entries.get_mut(&index) {
            entry.mapping = None;
        }
        lock(&self.current).remove(&index);
        match result {
            Ok(m) => self.granted(index, m),
            Err(e) => self.failed(index, e),
        }
    }

    /// Record `mapping` of item `index` as kept here (replacing `replaced`).
    fn record(&mut self, index: usize, mapping: &Mapping, replaced: Option<&Mapping>) {
        let Some(records) = &self.records else {
            return;
        };
        match records.hold(mapping, replaced) {
            Ok(()) => self.record_failing = false,
            Err(e) if !self.record_failing => {
                self.record_failing = true;
                self.events.emit(Event::Warning {
                    index: Some(index),
                    message: format!(
                        "could not record {mapping} ({e}); another process cannot find it \
                         to renew or delete it"
                    ),
                    error: None,
                });
            }
            Err(e) => log::warn!("could not record {mapping}: {e}"),
        }
    }

    /// `mapping` is no longer kept here: its record goes when the gateway
    /// deleted it, and stays, kept by nobody, when it is still there.
    fn unrecord(&self, mapping: &Mapping, deleted: bool) {
        let Some(records) = &self.records else {
            return;
        };
        let done = if deleted {
            records.deleted(mapping)
        } else {
            records.let_go(mapping)
        };
        if let Err(e) = done {
            log::warn!("could not update the record of {mapping}: {e}");
        }
    }

    /// Before mapping item `index` anew: when another live process keeps
    /// that mapping, refuse (a failure, tried again later), or with
    /// `take_over` adopt its recorded mapping. True when refused.
    fn kept_elsewhere(&mut self, index: usize) -> bool {
        let Some(records) = &self.records else {
            return false;
        };
        let Some(entry) = self.entries.get(&index).filter(|e| e.mapping.is_none()) else {
            return false;
        };
        let Some(record) = records.kept_elsewhere(self.forwarder.as_ref(), &entry.request) else {
            return false;
        };
        if records.take_over() {
            log::info!(
                "taking over {} from pfwd process {:?}",
                record.mapping,
                record.kept_by
            );
            if let Some(entry) = self.entries.get_mut(&index) {
                entry.mapping = Some(record.mapping);
                entry.recorded = true;
            }
            return false;
        }
        self.failed(index, record.conflict());
        true
    }

    /// Whether another process took `mapping` over; if so, let it go.
    fn taken_over(&mut self, index: usize, mapping: &Mapping) -> bool {
        let Some(by) = self.records.as_ref().and_then(|r| r.taken_by(mapping)) else {
            return false;
        };
        self.entries.remove(&index);
        lock(&self.current).remove(&index);
        self.events.emit(Event::TakenOver {
            index,
            mapping: mapping.clone(),
            by,
        });
        true
    }

    /// Delete `mapping` by `deadline`. A busy router that does not answer
    /// in time is asked again while time is left. A deletion that went
    /// through although its answer came too late makes the next attempt
    /// fail (miniupnpd refuses to delete a PCP mapping it no longer has,
    /// with NO_RESOURCES): the gateway is then asked whether it still holds
    /// the mapping, so a mapping that is gone is not reported as left.
    async fn delete_by(
        &self,
        mapping: &Mapping,
        deadline: Instant,
    ) -> Result<crate::Result<()>, tokio::time::error::Elapsed> {
        const PAUSE: Duration = Duration::from_millis(200);
        let mut asked_before = false;
        loop {
            let answer = tokio::time::timeout_at(deadline, self.forwarder.unmap(mapping)).await;
            match &answer {
                Ok(Err(e)) if is_transient(e) && Instant::now() + PAUSE < deadline => {
                    log::info!("deleting {mapping}: {e}; asking again");
                    asked_before = true;
                    tokio::time::sleep(PAUSE).await;
                }
                Ok(Err(e)) if asked_before => {
                    let presence =
                        tokio::time::timeout_at(deadline, self.forwarder.presence(mapping)).await;
                    let gone = match presence {
                        Ok(Ok(Presence::Lost)) => true,
                        Ok(Ok(Presence::Held)) => false,
                        // Where the gateway cannot be asked: miniupnpd's
                        // answer to deleting a PCP mapping it does not have
                        // (a compliant server answers SUCCESS, RFC 6887
                        // section 15).
                        _ => no_such_pcp_mapping(e),
                    };
                    if gone {
                        log::info!("deleting {mapping}: {e}, but the gateway no longer holds it");
                        return Ok(Ok(()));
                    }
                    return answer;
                }
                _ => return answer,
            }
        }
    }

    /// Delete every held mapping within the close timeout.
    async fn delete_all(&mut self) -> CloseReport {
        let held: Vec<(usize, Mapping)> = std::mem::take(&mut self.entries)
            .into_iter()
            .filter_map(|(i, e)| e.mapping.map(|m| (i, m)))
            .collect();
        lock(&self.current).clear();
        let deadline = Instant::now() + self.options.close_timeout;
        let mut report = CloseReport::default();
        for (index, mapping) in held {
            match self.delete_by(&mapping, deadline).await {
                Ok(Ok(())) => {
                    self.unrecord(&mapping, true);
                    report.deleted.push((index, mapping));
                }
                Ok(Err(e)) => {
                    log::warn!("could not delete {mapping} while closing: {e}");
                    self.unrecord(&mapping, false);
                    report.left.push((index, mapping, Arc::new(e)));
                }
                Err(_) => {
                    let e = close_timeout_error(&mapping, self.options.close_timeout);
                    self.unrecord(&mapping, false);
                    report.left.push((index, mapping, Arc::new(e)));
                }
            }
        }
        report
    }
}

/// Whether `error` says nothing about the mapping itself: the gateway did
/// not answer, or this machine could not ask.
fn is_transient(error: &Error) -> bool {
    matches!(
        error,
        Error::Timeout { .. } | Error::NoGateway { .. } | Error::Io { .. }
    )
}

/// Whether a mapping is refreshed at each check: PCP and NAT-PMP, where a
/// renewal is one round trip (a UPnP AddPortMapping for an entry the
/// router believes in does not put a flushed rule back on miniupnpd).
fn refreshable(mapping: &Mapping) -> bool {
    matches!(mapping.method(), Method::Pcp | Method::NatPmp)
}

/// Whether `error` is miniupnpd's refusal to delete a PCP mapping it does
/// not have: NO_RESOURCES ("Failed to remove PCP mapping").
fn no_such_pcp_mapping(error: &Error) -> bool {
    matches!(
        error,
        Error::Refused {
            method: Method::Pcp,
            code: crate::error::GatewayCode::Pcp(crate::wire::pcp::ResultCode::NoResources),
            ..
        }
    )
}

fn close_timeout_error(mapping: &Mapping, after: Duration) -> Error {
    Error::Timeout {
        method: mapping.method(),
        operation: format!("deleting {mapping}"),
        after,
    }
}

async fn sleep_until_opt(when: Option<Instant>) {
    match when {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}
