//! The bounds a probe server keeps, and the bookkeeping behind them: how
//! many probes run at once (in total and per source), how often one source
//! may ask (a token bucket), and how many connections are open (in total and
//! per source). Every table here is capped, so memory stays bounded whatever
//! the clients do.
//!
//! The arithmetic takes the time as an argument, so it is tested without a
//! clock.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use crate::check::messages::PROBE_AT_MOST;
use crate::model::Invalid;

/// The bounds of a [`ProbeServer`](super::ProbeServer). The defaults suit a
/// small VPS serving a few hundred users.
///
/// # Examples
///
/// ```
/// use pfwd_core::check::prober::Limits;
///
/// let mut limits = Limits::default();
/// limits.per_source_per_minute = 5; // a busier server, stricter per client
/// assert!(limits.check().is_ok());
///
/// limits.max_probes = 0;
/// assert!(limits.check().unwrap_err().reason.starts_with("max_probes is 0"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Probes running at once, from all sources; beyond it a request gets
    /// 503 `busy`. Default 32.
    pub max_probes: usize,
    /// Probes running at once for one source; beyond it, 429
    /// `rate_limited`. Default 2.
    pub per_source_probes: usize,
    /// Probes one source may start per minute (a token bucket that holds as
    /// many, refilled evenly); beyond it, 429 `rate_limited` with
    /// `Retry-After`. Default 20.
    pub per_source_per_minute: u32,
    /// Sources remembered for the rate limit; when the table is full, the
    /// sources with nothing left to remember (a full bucket, no probe
    /// running) go first, then the least recently seen. Default 4096.
    pub max_sources: usize,
    /// Connections open at once; a connection beyond it is closed as soon as
    /// it is accepted. Default 256.
    pub max_connections: usize,
    /// Connections open at once from one source; beyond it, closed at once.
    /// Default 16.
    pub per_source_connections: usize,
    /// How long a client has to send the request line and headers. Default 5 s.
    pub header_timeout: Duration,
    /// How long a client has to send the body once the headers are in.
    /// Default 5 s.
    pub body_timeout: Duration,
    /// The largest body accepted, in bytes; beyond it, 413 `too_large`.
    /// Default 4096 (a probe request is under 150).
    pub max_body: usize,
    /// The largest request line and headers, in bytes; beyond it the
    /// connection is answered 431 and closed. Default 8192.
    pub max_header: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_probes: 32,
            per_source_probes: 2,
            per_source_per_minute: 20,
            max_sources: 4096,
            max_connections: 256,
            per_source_connections: 16,
            header_timeout: Duration::from_secs(5),
            body_timeout: Duration::from_secs(5),
            max_body: 4096,
            max_header: 8192,
        }
    }
}

impl Limits {
    /// Check that every bound lets something through: no zero counts or
    /// durations, and room in the source table for every running probe.
    pub fn check(&self) -> Result<(), Invalid> {
        let counts = [
            ("max_probes", self.max_probes),
            ("per_source_probes", self.per_source_probes),
            ("per_source_per_minute", self.per_source_per_minute as usize),
            ("max_sources", self.max_sources),
            ("max_connections", self.max_connections),
            ("per_source_connections", self.per_source_connections),
            ("max_body", self.max_body),
        ];
        if let Some((name, _)) = counts.iter().find(|(_, v)| *v == 0) {
            return Err(Invalid::new(format!(
                "{name} is 0: the probe server would refuse everything; give at least 1"
            )));
        }
        if self.header_timeout.is_zero() || self.body_timeout.is_zero() {
            return Err(Invalid::new(
                "a zero timeout would close every connection at once: give at least 1 ms",
            ));
        }
        if self.max_sources < self.max_probes {
            return Err(Invalid::new(format!(
                "max_sources ({}) is below max_probes ({}): the rate limit must be able to \
                 remember every source with a probe running",
                self.max_sources, self.max_probes
            )));
        }
        if !(1024..=1 << 20).contains(&self.max_header) {
            return Err(Invalid::new(format!(
                "max_header is {} bytes: give 1024 to 1048576",
                self.max_header
            )));
        }
        Ok(())
    }
}

/// Whom a limit counts against: an IPv4 address, or the /64 network of an
/// IPv6 address (one subscriber's network: its hosts can take any address
/// in it). An IPv4-mapped IPv6 address counts as the IPv4 address.
///
/// # Examples
///
/// ```
/// use pfwd_core::check::prober::Source;
///
/// let home = Source::of("2001:db8:1:2:aaaa::7".parse().unwrap());
/// assert_eq!(home.to_string(), "2001:db8:1:2::/64");
/// assert_eq!(home, Source::of("2001:db8:1:2:bbbb::9".parse().unwrap())); // same subscriber
/// assert_eq!(Source::of("::ffff:203.0.113.7".parse().unwrap()).to_string(), "203.0.113.7");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Source(IpAddr);

impl Source {
    /// The source `ip` counts as.
    pub fn of(ip: IpAddr) -> Source {
        match ip.to_canonical() {
            IpAddr::V4(v4) => Source(IpAddr::V4(v4)),
            IpAddr::V6(v6) => {
                let bits = u128::from(v6) & !((1u128 << 64) - 1);
                Source(IpAddr::V6(Ipv6Addr::from(bits)))
            }
        }
    }
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            IpAddr::V4(a) => write!(f, "{a}"),
            IpAddr::V6(a) => write!(f, "{a}/64"),
        }
    }
}

/// A token bucket that holds `per_minute` probes and refills at
/// `per_minute` per minute.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Bucket {
    /// A full bucket.
    pub(crate) fn full(per_minute: u32, now: Instant) -> Bucket {
        Bucket {
            tokens: f64::from(per_minute),
            at: now,
        }
    }

    /// Bring the bucket up to `now` (a `now` before the last one changes nothing).
    fn refill(&mut self, per_minute: u32, now: Instant) {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        let cap = f64::from(per_minute);
        self.tokens = (self.tokens + elapsed * cap / 60.0).min(cap);
        self.at = self.at.max(now);
    }

    /// Take one token, or say how long until one is there.
    pub(crate) fn take(&mut self, per_minute: u32, now: Instant) -> Result<(), Duration> {
        self.refill(per_minute, now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            let rate = f64::from(per_minute.max(1)) / 60.0;
            Err(Duration::from_secs_f64((1.0 - self.tokens) / rate))
        }
    }

    /// Whether the bucket is full at `now`: a source in this state is the
    /// same as one never seen, so it can be forgotten.
    pub(crate) fn is_full(&self, per_minute: u32, now: Instant) -> bool {
        let mut b = *self;
        b.refill(per_minute, now);
        b.tokens >= f64::from(per_minute)
    }
}

/// Why a probe was not started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// The source has as many probes running as it may.
    SourceBusy,
    /// The source asked too often; a token is back after this long.
    TooOften(Duration),
    /// The server has as many probes running as it may.
    Busy,
}

impl Refusal {
    /// The `Retry-After` to send, in whole seconds (at least 1).
    pub(crate) fn retry_after_secs(self) -> u64 {
        let d = match self {
            Refusal::SourceBusy | Refusal::Busy => PROBE_AT_MOST,
            Refusal::TooOften(d) => d,
        };
        (d.as_secs() + u64::from(d.subsec_nanos() > 0)).max(1)
    }
}

/// One source's state: its bucket, its running probes, when it was last seen.
#[derive(Debug, Clone)]
struct Entry {
    bucket: Bucket,
    running: usize,
    seen: Instant,
}

/// The probes running and every remembered source's bucket.
#[derive(Debug, Default)]
pub(crate) struct ProbeTable {
    sources: HashMap<Source, Entry>,
    running: usize,
}

impl ProbeTable {
    /// Start a probe for `source` at `now`, or say why not. The source's
    /// own bounds come first (429: its doing), then the server's (503).
    pub(crate) fn admit(
        &mut self,
        source: Source,
        now: Instant,
        limits: &Limits,
    ) -> Result<(), Refusal> {
        if !self.sources.contains_key(&source) && !self.make_room(now, limits) {
            return Err(Refusal::Busy);
        }
        let entry = self.sources.entry(source).or_insert_with(|| Entry {
            bucket: Bucket::full(limits.per_source_per_minute, now),
            running: 0,
            seen: now,
        });
        entry.seen = now;
        if entry.running >= limits.per_source_probes {
            return Err(Refusal::SourceBusy);
        }
        // A refusal for being busy must not cost the source a token: look
        // before taking.
        let mut bucket = entry.bucket;
        bucket
            .take(limits.per_source_per_minute, now)
            .map_err(Refusal::TooOften)?;
        if self.running >= limits.max_probes {
            return Err(Refusal::Busy);
        }
        entry.bucket = bucket;
        entry.running += 1;
        self.running += 1;
        Ok(())
    }

    /// A probe of `source` ended.
    pub(crate) fn release(&mut self, source: Source) {
        if let Some(e) = self.sources.get_mut(&source)
            && e.running > 0
        {
            e.running -= 1;
            self.running = self.running.saturating_sub(1);
        }
    }

    /// Make room for one more source when the table is full: forget every
    /// source with nothing to remember, else the least recently seen idle
    /// one. False when every remembered source has a probe running.
    fn make_room(&mut self, now: Instant, limits: &Limits) -> bool {
        if self.sources.len() < limits.max_sources {
            return true;
        }
        let per_minute = limits.per_source_per_minute;
        self.sources
            .retain(|_, e| e.running > 0 || !e.bucket.is_full(per_minute, now));
        if self.sources.len() < limits.max_sources {
            return true;
        }
        let oldest = self
            .sources
            .iter()
            .filter(|(_, e)| e.running == 0)
            .min_by_key(|(_, e)| e.seen)
            .map(|(s, _)| *s);
        match oldest {
            Some(s) => {
                self.sources.remove(&s);
                true
            }
            None => false,
        }
    }

    /// Probes running now.
    #[cfg(test)]
    fn running(&self) -> usize {
        self.running
    }

    /// Sources remembered now.
    #[cfg(test)]
    fn remembered(&self) -> usize {
        self.sources.len()
    }
}

/// Open connections, in total and per source. A source leaves the table
/// when its last connection closes, so it holds at most
/// [`Limits::max_connections`] entries.
#[derive(Debug, Default)]
pub(crate) struct ConnTable {
    per_source: HashMap<Source, usize>,
    open: usize,
}

impl ConnTable {
    /// Count a new connection from `source`, or false when it is one too many.
    pub(crate) fn open(&mut self, source: Source, limits: &Limits) -> bool {
        if self.open >= limits.max_connections {
            return false;
        }
        let n = self.per_source.entry(source).or_insert(0);
        if *n >= limits.per_source_connections {
            return false;
        }
        *n += 1;
        self.open += 1;
        true
    }

    /// A connection from `source` closed.
    pub(crate) fn close(&mut self, source: Source) {
        if let Some(n) = self.per_source.get_mut(&source) {
            *n -= 1;
            if *n == 0 {
                self.per_source.remove(&source);
            }
            self.open = self.open.saturating_sub(1);
        }
    }
}

/// The two tables behind one lock each, and the limits they apply.
#[derive(Debug)]
pub(crate) struct Gate {
    limits: Limits,
    probes: Mutex<ProbeTable>,
    conns: Mutex<ConnTable>,
}

/// Nothing here panics while holding a lock; a poisoned lock still holds
/// consistent counts.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Gate {
    /// A gate applying `limits`.
    pub(crate) fn new(limits: Limits) -> Gate {
        Gate {
            limits,
            probes: Mutex::new(ProbeTable::default()),
            conns: Mutex::new(ConnTable::default()),
        }
    }

    /// The limits applied.
    pub(crate) fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Admit a probe for `source` now; the permit ends it when dropped.
    pub(crate) fn probe(self: &Arc<Self>, source: Source) -> Result<ProbePermit, Refusal> {
        lock(&self.probes).admit(source, Instant::now(), &self.limits)?;
        Ok(ProbePermit {
            gate: self.clone(),
            source,
        })
    }

    /// Admit a connection from `source`; `None` when it must be closed.
    pub(crate) fn connection(self: &Arc<Self>, source: Source) -> Option<ConnPermit> {
        lock(&self.conns)
            .open(source, &self.limits)
            .then(|| ConnPermit {
                gate: self.clone(),
                source,
            })
    }
}

/// A running probe, counted until dropped.
#[derive(Debug)]
pub(crate) struct ProbePermit {
    gate: Arc<Gate>,
    source: Source,
}

impl Drop for ProbePermit {
    fn drop(&mut self) {
        lock(&self.gate.probes).release(self.source);
    }
}

/// An open connection, counted until dropped.
#[derive(Debug)]
pub(crate) struct ConnPermit {
    gate: Arc<Gate>,
    source: Source,
}

impl Drop for ConnPermit {
    fn drop(&mut self) {
        lock(&self.gate.conns).close(self.source);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn sources_are_addresses_and_ipv6_networks() {
        assert_eq!(Source::of(ip("5.5.5.7")), Source::of(ip("::ffff:5.5.5.7")));
        assert_eq!(
            Source::of(ip("2001:db8:5::1")),
            Source::of(ip("2001:db8:5::ffff:1"))
        );
        assert_ne!(
            Source::of(ip("2001:db8:5::1")),
            Source::of(ip("2001:db8:6::1"))
        );
        assert_eq!(
            Source::of(ip("2001:db8:5::9")).to_string(),
            "2001:db8:5::/64"
        );
        assert_eq!(Source::of(ip("::ffff:5.5.5.7")).to_string(), "5.5.5.7");
    }

    #[test]
    fn a_bucket_holds_a_minute_and_refills_evenly() {
        let t0 = Instant::now();
        let mut b = Bucket::full(20, t0);
        for _ in 0..20 {
            assert_eq!(b.take(20, t0), Ok(()));
        }
        // Empty: one token every 3 s.
        assert_eq!(b.take(20, t0), Err(Duration::from_secs(3)));
        let later = t0 + Duration::from_secs(2);
        let wait = b.take(20, later).unwrap_err();
        assert!(wait > Duration::from_millis(999) && wait < Duration::from_millis(1001));
        assert_eq!(b.take(20, t0 + Duration::from_secs(3)), Ok(()));
        assert!(!b.is_full(20, t0 + Duration::from_secs(3)));
        assert!(b.is_full(20, t0 + Duration::from_secs(63)));
        // Time going backwards takes nothing away and adds nothing.
        assert!(b.take(20, t0).is_err());
        // Never more than a minute's worth.
        let mut b = Bucket::full(20, t0);
        b.refill(20, t0 + Duration::from_secs(3600));
        assert_eq!(b.tokens, 20.0);
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        assert_eq!(
            Refusal::TooOften(Duration::from_millis(2001)).retry_after_secs(),
            3
        );
        assert_eq!(
            Refusal::TooOften(Duration::from_secs(3)).retry_after_secs(),
            3
        );
        assert_eq!(Refusal::TooOften(Duration::ZERO).retry_after_secs(), 1);
        assert_eq!(Refusal::Busy.retry_after_secs(), 5);
    }

    fn limits(max_probes: usize, per_source: usize, per_minute: u32, sources: usize) -> Limits {
        Limits {
            max_probes,
            per_source_probes: per_source,
            per_source_per_minute: per_minute,
            max_sources: sources,
            ..Limits::default()
        }
    }

    #[test]
    fn a_source_is_held_to_its_share_then_the_server_to_its_total() {
        let l = limits(3, 2, 20, 100);
        let t = Instant::now();
        let mut table = ProbeTable::default();
        let a = Source::of(ip("5.5.5.7"));
        let b = Source::of(ip("5.5.5.8"));
        assert_eq!(table.admit(a, t, &l), Ok(()));
        assert_eq!(table.admit(a, t, &l), Ok(()));
        assert_eq!(table.admit(a, t, &l), Err(Refusal::SourceBusy));
        assert_eq!(table.admit(b, t, &l), Ok(()));
        assert_eq!(table.admit(b, t, &l), Err(Refusal::Busy));
        assert_eq!(table.running(), 3);
        table.release(a);
        assert_eq!(table.admit(b, t, &l), Ok(()));
        // Releasing what is not running changes nothing.
        table.release(Source::of(ip("9.9.9.9")));
        assert_eq!(table.running(), 3);
    }

    #[test]
    fn being_busy_costs_no_token() {
        let l = limits(1, 1, 2, 100);
        let t = Instant::now();
        let mut table = ProbeTable::default();
        let a = Source::of(ip("5.5.5.7"));
        let b = Source::of(ip("5.5.5.8"));
        assert_eq!(table.admit(a, t, &l), Ok(()));
        for _ in 0..5 {
            assert_eq!(table.admit(b, t, &l), Err(Refusal::Busy));
        }
        table.release(a);
        assert_eq!(table.admit(b, t, &l), Ok(()));
        table.release(b);
        assert_eq!(table.admit(b, t, &l), Ok(()));
        table.release(b);
        assert!(matches!(
            table.admit(b, t, &l),
            Err(Refusal::TooOften(d)) if d == Duration::from_secs(30)
        ));
    }

    #[test]
    fn the_source_table_stays_bounded() {
        let l = limits(2, 1, 20, 4);
        let t = Instant::now();
        let mut table = ProbeTable::default();
        let src = |i: u8| Source::of(IpAddr::from([10, 0, 0, i]));
        // Four sources that each used a token, one still running.
        for i in 0..4 {
            assert_eq!(
                table.admit(src(i), t + Duration::from_millis(u64::from(i) * 100), &l),
                Ok(())
            );
            if i > 0 {
                table.release(src(i));
            }
        }
        assert_eq!(table.remembered(), 4);
        // A fifth: the least recently seen idle one (1) goes; 0 is running.
        assert_eq!(
            table.admit(src(4), t + Duration::from_millis(500), &l),
            Ok(())
        );
        assert_eq!(table.remembered(), 4);
        assert!(table.sources.contains_key(&src(0)));
        assert!(!table.sources.contains_key(&src(1)));
        // A minute later every idle bucket is full again: all go at once.
        table.release(src(4));
        assert_eq!(
            table.admit(src(5), t + Duration::from_secs(120), &l),
            Ok(())
        );
        assert_eq!(table.remembered(), 2);
        // Every remembered source running and the table full: busy.
        let l = limits(2, 1, 20, 2);
        let mut table = ProbeTable::default();
        assert_eq!(table.admit(src(0), t, &l), Ok(()));
        assert_eq!(table.admit(src(1), t, &l), Ok(()));
        assert_eq!(table.admit(src(2), t, &l), Err(Refusal::Busy));
    }

    #[test]
    fn connections_are_capped_in_total_and_per_source() {
        let l = Limits {
            max_connections: 3,
            per_source_connections: 2,
            ..Limits::default()
        };
        let mut c = ConnTable::default();
        let a = Source::of(ip("5.5.5.7"));
        let b = Source::of(ip("5.5.5.8"));
        assert!(c.open(a, &l) && c.open(a, &l));
        assert!(!c.open(a, &l));
        assert!(c.open(b, &l));
        assert!(!c.open(Source::of(ip("5.5.5.9")), &l));
        c.close(a);
        c.close(a);
        assert!(!c.per_source.contains_key(&a));
        assert!(c.open(a, &l));
        // Closing what is not open changes nothing.
        c.close(Source::of(ip("1.1.1.1")));
        assert_eq!(c.open, 2);
    }

    #[test]
    fn limits_that_refuse_everything_are_refused() {
        assert!(Limits::default().check().is_ok());
        let e = Limits {
            per_source_per_minute: 0,
            ..Limits::default()
        }
        .check()
        .unwrap_err();
        assert!(e.reason.starts_with("per_source_per_minute is 0"), "{e}");
        assert!(
            Limits {
                max_sources: 8,
                ..Limits::default()
            }
            .check()
            .is_err()
        );
        assert!(
            Limits {
                header_timeout: Duration::ZERO,
                ..Limits::default()
            }
            .check()
            .is_err()
        );
        assert!(
            Limits {
                max_header: 100,
                ..Limits::default()
            }
            .check()
            .is_err()
        );
    }
}
