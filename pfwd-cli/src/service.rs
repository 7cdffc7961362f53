//! `pfwd run --config FILE`: keep every mapping of a config file alive as a
//! long-running service. Each entry has its own lease keeper, so a reload
//! (SIGHUP) touches only the entries that changed; SIGTERM or Ctrl-C
//! removes every mapping and exits.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use pfwd_core::defaults::{RETRY_MAX, RETRY_MIN};
use pfwd_core::lease::{CloseReport, Event, Keeper, KeeperOptions};
use pfwd_core::{Client, Error};
use serde_json::json;
use tokio::signal::unix::{Signal, SignalKind, signal};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::args::RunArgs;
use crate::config::{self, Config, Entry, Settings};
use crate::output::code;
use crate::{Ctx, events, stdio};

/// SIGINT and SIGTERM: what stops the service, watched wherever it waits.
pub(crate) struct Stop {
    sigint: Signal,
    sigterm: Signal,
}

impl Stop {
    /// Watch for SIGINT and SIGTERM from now on.
    pub(crate) fn new() -> std::io::Result<Stop> {
        Ok(Stop {
            sigint: signal(SignalKind::interrupt())?,
            sigterm: signal(SignalKind::terminate())?,
        })
    }

    /// Until either signal arrives.
    pub(crate) async fn recv(&mut self) {
        tokio::select! {
            _ = self.sigint.recv() => {}
            _ = self.sigterm.recv() => {}
        }
    }
}

/// A running entry: its keeper's task and the way to stop it.
struct Running {
    entry: Entry,
    stop: oneshot::Sender<()>,
    task: JoinHandle<CloseReport>,
}

/// The service's state between events.
struct Service<'a> {
    ctx: &'a Ctx,
    settings: Settings,
    client: Arc<Client>,
    running: HashMap<String, Running>,
    /// `--take-over`: take over mappings another pfwd process keeps.
    take_over: bool,
    /// How long stopping may take to delete every mapping (see [`close_timeout`]).
    close_timeout: std::time::Duration,
    told_guide: HashSet<String>,
    events: mpsc::UnboundedSender<(String, Event)>,
    /// Whether entries without a `family` also keep an IPv6 pinhole: this
    /// host has a global IPv6 address and a method answered over IPv6.
    ipv6_too: bool,
}

/// `pfwd run`.
pub async fn run(ctx: &Ctx, a: RunArgs) -> i32 {
    let p = ctx.printer;
    let config = match config::load(&a.config) {
        Ok(c) => c,
        Err(e) => return p.bad_input(&e),
    };
    if a.check {
        for e in &config.entries {
            let rules: Vec<String> = match e.target.requests() {
                Ok(rs) => rs
                    .iter()
                    .map(|r| {
                        format!(
                            "{} {} -> {}:{}",
                            r.protocol(),
                            r.external_port()
                                .map_or_else(|| "any".into(), |p| p.to_string()),
                            r.internal_ip()
                                .map_or_else(|| "this machine".into(), |h| h.to_string()),
                            r.internal_port()
                        )
                    })
                    .collect(),
                Err(err) => return p.error(&err.into()),
            };
            p.say(&format!("{}: {}", e.name, rules.join(", ")));
        }
        p.json(&json!({"ok": true, "entries": config.entries.len()}));
        return code::OK;
    }
    let signals = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
        signal(SignalKind::hangup()),
    );
    let (mut stop, mut sighup) = match signals {
        (Ok(sigint), Ok(sigterm), Ok(h)) => (Stop { sigint, sigterm }, h),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => {
            return p.error(&Error::io("listening for signals", e));
        }
    };
    let Some(client) = discover(ctx, &config.settings, &mut stop).await else {
        return code::INTERRUPTED;
    };
    let ipv6_too = if config.entries.iter().any(|e| e.target.ipv6_also()) {
        let status = client.ipv6_status().await;
        match (&status.unavailable, status.answering().is_empty()) {
            (Some(why), _) => p.detail(&format!("IPv6: no pinholes: {why}")),
            (None, true) => p.say(
                "IPv6: this host has a global IPv6 address, but the router answers neither PCP \
                 nor UPnP over IPv6: entries are kept over IPv4 (`pfwd status` says more)",
            ),
            (None, false) => {}
        }
        status.unavailable.is_none() && !status.answering().is_empty()
    } else {
        false
    };
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut service = Service {
        ctx,
        settings: config.settings.clone(),
        client,
        running: HashMap::new(),
        take_over: a.take_over,
        close_timeout: close_timeout(config.entries.len()),
        told_guide: HashSet::new(),
        events: tx,
        ipv6_too,
    };
    service.log(&format!(
        "keeping {} from {}",
        crate::output::counted(config.entries.len(), "mapping entry", "mapping entries"),
        a.config.display()
    ));
    for e in config.entries {
        service.start(e);
    }
    loop {
        tokio::select! {
            Some((name, event)) = rx.recv() => service.event(&name, &event).await,
            _ = sighup.recv() => {
                match config::load(&a.config) {
                    // A reload that must look for the router again stops at
                    // SIGTERM too (systemctl stop must not hang).
                    Ok(new) => if !service.reload(new, &mut stop).await {
                        break;
                    },
                    Err(e) => service.warn(&format!(
                        "reloading failed, keeping the mappings as they were: {e}"
                    )),
                }
            }
            () = stop.recv() => break,
        }
    }
    let deleted = service.stop_all().await;
    service.log(&format!(
        "stopped; removed {}",
        crate::output::counted(deleted, "mapping", "mappings")
    ));
    p.json(&json!({"event": "stopped", "deleted": deleted}));
    code::OK
}

/// How long stopping `entries` may take to delete their mappings: the
/// keeper's 5 s, plus half a second per entry beyond the first (all are
/// deleted at once, but a router answers one request at a time, and
/// miniupnpd needs up to ~0.3 s a deletion with 60 rules in place), at most
/// 60 s (within systemd's default 90 s stop timeout).
fn close_timeout(entries: usize) -> std::time::Duration {
    let per_entry = std::time::Duration::from_millis(500);
    (pfwd_core::defaults::CLOSE_TIMEOUT + per_entry * entries.saturating_sub(1) as u32)
        .min(std::time::Duration::from_secs(60))
}

/// Discover the gateway, waiting (with back-off) while this machine has no
/// route to one: at boot the network may come up after the service. `None`
/// when SIGINT or SIGTERM came first.
async fn discover(ctx: &Ctx, settings: &Settings, stop: &mut Stop) -> Option<Arc<Client>> {
    let mut wait = RETRY_MIN;
    let mut c = Ctx {
        gateway: settings.gateway.or(ctx.gateway),
        ..ctx.clone()
    };
    c.printer.level = c.printer.level.min(0);
    loop {
        // A method that failed (the router still booting after a power cut)
        // is asked again as often as the mappings are checked.
        let options = c.options(&settings.methods, false).map(|mut o| {
            o.retry_failed_after = settings.check;
            o
        });
        let client = match options {
            Ok(o) => tokio::select! {
                c = c.client_with(o) => c,
                () = stop.recv() => return None,
            },
            Err(e) => Err(e),
        };
        match client {
            Ok(client) if client.discovery().gateway.is_some() => {
                let d = client.discovery();
                let best = d.best().map_or("none".to_string(), |m| m.to_string());
                ctx.printer.detail(&format!(
                    "gateway {}; best method {best}",
                    d.gateway.map(|g| g.gateway.to_string()).unwrap_or_default()
                ));
                return Some(Arc::new(client));
            }
            Ok(_) => ctx.printer.warn(&format!(
                "no gateway yet (no default route); trying again in {} s",
                wait.as_secs()
            )),
            Err(e) => ctx.printer.warn(&format!(
                "cannot look for the gateway ({e}); trying again in {} s",
                wait.as_secs()
            )),
        }
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = stop.recv() => return None,
        }
        wait = (wait * 2).min(RETRY_MAX);
    }
}

impl Service<'_> {
    fn log(&self, text: &str) {
        self.ctx.printer.say(text);
    }

    fn warn(&self, text: &str) {
        self.ctx.printer.warn(text);
        self.ctx
            .printer
            .json(&json!({"event": "warning", "message": text}));
    }

    fn start(&mut self, entry: Entry) {
        let requests = match entry.target.requests() {
            Ok(mut r) if self.ipv6_too => {
                r.extend(entry.target.ipv6_requests());
                r
            }
            Ok(r) => r,
            Err(e) => {
                self.warn(&format!("{}: {e}", entry.name));
                return;
            }
        };
        for w in entry.target.warnings() {
            self.warn(&format!("{}: {}", entry.name, w.text));
        }
        let mut options = KeeperOptions::default();
        options.check_interval = Some(self.settings.check);
        options.announce_from = self.client.discovery().gateway.map(|g| g.gateway);
        options.check_via = self.settings.check_via.clone();
        // The keeper records what it holds, refuses what another pfwd
        // process keeps, or takes it over with --take-over.
        options.state_dir = Some(self.ctx.state.clone());
        options.take_over = self.take_over;
        options.close_timeout = self.close_timeout;
        // What a killed predecessor recorded is renewed, not made again.
        let items = crate::adopt::keeps(self.ctx, &self.client, requests, &self.settings.methods);
        let mut keeper = Keeper::start(self.client.clone(), items, options);
        let (stop, mut stopped) = oneshot::channel();
        let events = self.events.clone();
        let name = entry.name.clone();
        let task = tokio::spawn(async move {
            loop {
                tokio::select! {
                    e = keeper.next_event() => match e {
                        Some(e) => { let _ = events.send((name.clone(), e)); }
                        None => return CloseReport::default(),
                    },
                    _ = &mut stopped => return keeper.close().await,
                }
            }
        });
        self.running
            .insert(entry.name.clone(), Running { entry, stop, task });
    }

    /// Stop an entry: its keeper deletes its mappings. Returns how many.
    /// What the router deleted loses its record; a mapping still there
    /// keeps it (with its PCP nonce), so `pfwd unmap` can delete it later.
    async fn stop(&mut self, name: &str) -> usize {
        self.stop_many(vec![name.to_string()]).await
    }

    /// Stop every entry. Returns how many mappings were deleted.
    async fn stop_all(&mut self) -> usize {
        let names: Vec<String> = self.running.keys().cloned().collect();
        self.stop_many(names).await
    }

    /// Stop `names` all at once (the client paces their deletions), so
    /// that stopping takes one close timeout, not one per entry; each
    /// mapping left on the router is named, with when it expires.
    async fn stop_many(&mut self, names: Vec<String>) -> usize {
        let mut stopping = Vec::new();
        for name in names {
            if let Some(r) = self.running.remove(&name) {
                let _ = r.stop.send(());
                stopping.push((name, r.task));
            }
        }
        let mut deleted = 0;
        for (name, task) in stopping {
            let report = task.await.unwrap_or_default();
            for (_, m, e) in &report.left {
                self.warn(&format!("{name}: {}", crate::output::left_behind(m, e)));
            }
            self.told_guide.remove(&name);
            deleted += report.deleted_count();
        }
        deleted
    }

    async fn event(&mut self, name: &str, event: &Event) {
        let p = self.ctx.printer;
        if let Event::Mapped { .. } | Event::Renewed { .. } | Event::Restored { .. } = event {
            self.told_guide.remove(name);
        }
        p.json(&events::to_json(event, Some(name)));
        match event {
            Event::Renewed { .. } => p.detail(&format!("{name}: {}", events::to_text(event))),
            Event::Mapped { .. } | Event::Restored { .. } => {
                p.say(&format!("{name}: {}", events::to_text(event)));
            }
            Event::Failed { error, .. } => {
                p.warn(&format!("{name}: {}", events::to_text(event)));
                // The guide once per outage, not at every retry.
                if let Some(i) = error.instructions()
                    && self.told_guide.insert(name.to_string())
                    && !p.json
                    && p.level >= 0
                {
                    stdio::errln(&format!(
                        "{name}: until the router can be asked, forward it by hand:"
                    ));
                    stdio::err(&i.to_text());
                }
            }
            Event::Warning { .. } => p.warn(&format!("{name}: {}", events::to_text(event))),
            _ => p.say(&format!("{name}: {}", events::to_text(event))),
        }
    }

    /// Apply a reloaded config; false when SIGINT or SIGTERM came while
    /// looking for the router again (then stop).
    async fn reload(&mut self, new: Config, stop: &mut Stop) -> bool {
        let settings_changed = new.settings != self.settings;
        // New settings, or nothing answered before: look for the router again.
        if settings_changed || self.client.discovery().answered().is_empty() {
            if settings_changed {
                self.log("settings changed: starting every entry again");
            }
            self.stop_all().await;
            self.settings = new.settings.clone();
            match discover(self.ctx, &self.settings, stop).await {
                Some(client) => self.client = client,
                None => return false,
            }
        }
        self.close_timeout = close_timeout(new.entries.len());
        let (mut kept, mut stopped, mut started) = (0, 0, 0);
        let wanted: HashMap<&str, &Entry> =
            new.entries.iter().map(|e| (e.name.as_str(), e)).collect();
        let names: Vec<String> = self.running.keys().cloned().collect();
        for n in names {
            let same = self
                .running
                .get(&n)
                .is_some_and(|r| wanted.get(n.as_str()) == Some(&&r.entry));
            if !same {
                self.stop(&n).await;
                stopped += 1;
            }
        }
        for e in new.entries {
            if self.running.contains_key(&e.name) {
                kept += 1;
            } else {
                self.start(e);
                started += 1;
            }
        }
        self.log(&format!(
            "reloaded: {kept} unchanged, {stopped} stopped, {started} started"
        ));
        true
    }
}
