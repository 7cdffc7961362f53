//! What a [`Keeper`](super::Keeper) reports: one [`Event`] per thing that
//! happened to a kept mapping, and the [`CloseReport`] of its last act.

use std::fmt;
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Duration;

use crate::check::CheckReport;
use crate::error::Error;
use crate::mapping::Mapping;

/// What happened to a kept mapping. `index` names the kept item: its
/// position in the list given to [`Keeper::start`](super::Keeper::start),
/// or the number [`Keeper::add`](super::Keeper::add) returned.
///
/// Events come in the order they happened; [`Event::Closed`] is the last,
/// and nothing comes after it.
///
/// # Examples
///
/// Every event reads as a line of a log:
///
/// ```
/// use std::sync::Arc;
/// use std::time::Duration;
/// use pfwd_core::lease::Event;
/// use pfwd_core::{Error, Method};
///
/// let moved = Event::ExternalAddressChanged {
///     old: "203.0.113.7".parse().unwrap(),
///     new: "198.51.100.23".parse().unwrap(),
/// };
/// assert_eq!(moved.to_string(), "the external address changed from 203.0.113.7 to 198.51.100.23");
///
/// let failed = Event::Failed {
///     index: 0,
///     error: Arc::new(Error::NoGateway { method: Some(Method::Pcp), detail: "no answer".into(), refused: false }),
///     retry_in: Duration::from_secs(4),
/// };
/// assert!(failed.to_string().ends_with("trying again in 4 s"));
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Event {
    /// The keeper holds the mapping for the first time: made now, adopted
    /// as granted ([`Keep::held`](super::Keep::held)), or a recorded one
    /// renewed ([`Keep::recorded`](super::Keep::recorded)).
    Mapped {
        /// Which item.
        index: usize,
        /// What the gateway granted.
        mapping: Mapping,
    },
    /// The mapping was renewed (the port may differ if the gateway moved it).
    Renewed {
        /// Which item.
        index: usize,
        /// What the gateway granted.
        mapping: Mapping,
    },
    /// The gateway lost the mapping (restart, expiry); pfwd makes it again.
    Lost {
        /// Which item.
        index: usize,
        /// The mapping that is gone.
        mapping: Mapping,
        /// Why pfwd thinks so.
        reason: String,
    },
    /// A lost mapping was made again.
    Restored {
        /// Which item.
        index: usize,
        /// What the gateway granted.
        mapping: Mapping,
    },
    /// The gateway's external address changed.
    ExternalAddressChanged {
        /// The address before.
        old: Ipv4Addr,
        /// The address now.
        new: Ipv4Addr,
    },
    /// An attempt failed; pfwd tries again after `retry_in`. Where
    /// automation is gone, `error` is [`Error::Manual`] with the guide.
    Failed {
        /// Which item.
        index: usize,
        /// What went wrong.
        error: Arc<Error>,
        /// When pfwd tries again.
        retry_in: Duration,
    },
    /// Something worth knowing that is not a failure of a mapping: the
    /// restart announcements cannot be heard (UDP 5350 is taken), a check
    /// of the gateway did not get an answer, a recorded mapping could not be
    /// renewed and is made anew.
    Warning {
        /// The item it concerns, if one.
        index: Option<usize>,
        /// What happened and what it means, in words.
        message: String,
        /// The error behind it, where there is one.
        error: Option<Arc<Error>>,
    },
    /// An item was removed with [`Keeper::remove`](super::Keeper::remove);
    /// `mapping` is the one deleted from the gateway, if one was held.
    Removed {
        /// Which item.
        index: usize,
        /// The mapping deleted from the gateway.
        mapping: Option<Mapping>,
    },
    /// The reader fell behind: `count` events were dropped because the
    /// event queue ([`KeeperOptions::event_capacity`](super::KeeperOptions::event_capacity))
    /// was full. The keeper never waits for a slow reader.
    Missed {
        /// How many events were dropped.
        count: u64,
    },
    /// A check from outside ([`KeeperOptions::check_via`](super::KeeperOptions::check_via))
    /// of a mapping just made or restored: whether it is reachable, and why.
    Checked {
        /// Which item.
        index: usize,
        /// What the check found.
        report: Box<CheckReport>,
    },
    /// Another process took the mapping over (it keeps it now, see
    /// [`KeeperOptions::take_over`](super::KeeperOptions::take_over)): this
    /// keeper stopped keeping it and did not delete it.
    TakenOver {
        /// Which item.
        index: usize,
        /// The mapping, still on the gateway.
        mapping: Mapping,
        /// The process that keeps it now.
        by: u32,
    },
    /// The keeper closed: what it deleted, and what is still on the gateway.
    Closed {
        /// The outcome of closing.
        report: CloseReport,
    },
}

/// What closing a keeper did.
///
/// # Examples
///
/// ```
/// use pfwd_core::lease::CloseReport;
///
/// let nothing = CloseReport::default(); // a keeper that held nothing
/// assert_eq!(nothing.deleted_count(), 0);
/// assert!(nothing.is_clean());
/// assert_eq!(nothing.to_string(), "deleted 0 mappings");
/// ```
#[derive(Debug, Clone, Default)]
pub struct CloseReport {
    /// The mappings deleted from the gateway, by item.
    pub deleted: Vec<(usize, Mapping)>,
    /// The mappings still on the gateway: their deletion failed or ran out
    /// of time ([`KeeperOptions::close_timeout`](super::KeeperOptions::close_timeout)).
    /// Keep them (with their PCP nonce) to delete them later; a finite
    /// lease ends by itself.
    pub left: Vec<(usize, Mapping, Arc<Error>)>,
}

impl CloseReport {
    /// How many mappings were deleted.
    pub fn deleted_count(&self) -> usize {
        self.deleted.len()
    }

    /// True when nothing is left on the gateway.
    pub fn is_clean(&self) -> bool {
        self.left.is_empty()
    }
}

impl fmt::Display for CloseReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.deleted.len();
        write!(f, "deleted {n} mapping{}", if n == 1 { "" } else { "s" })?;
        for (_, m, e) in &self.left {
            write!(f, "; {m} is still on the gateway ({e})")?;
        }
        Ok(())
    }
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Event::Mapped { mapping, .. } => write!(f, "mapped {mapping}"),
            Event::Renewed { mapping, .. } => write!(f, "renewed {mapping}"),
            Event::Lost {
                mapping, reason, ..
            } => write!(f, "lost {mapping}: {reason}"),
            Event::Restored { mapping, .. } => write!(f, "restored {mapping}"),
            Event::ExternalAddressChanged { old, new } => {
                write!(f, "the external address changed from {old} to {new}")
            }
            Event::Failed {
                error, retry_in, ..
            } => write!(
                f,
                "failed ({error}); trying again in {} s",
                retry_in.as_secs()
            ),
            Event::Warning { message, .. } => f.write_str(message),
            Event::Removed {
                mapping: Some(m), ..
            } => write!(f, "removed {m}"),
            Event::Removed { index, .. } => write!(f, "removed item {index} (it held no mapping)"),
            Event::Missed { count } => {
                write!(f, "{count} events were dropped: the reader fell behind")
            }
            Event::Checked { report, .. } => {
                write!(f, "checked from outside: {}", report.explanation)
            }
            Event::TakenOver { mapping, by, .. } => write!(
                f,
                "{mapping} was taken over by pfwd process {by}; it is no longer kept here"
            ),
            Event::Closed { report } => write!(f, "closed; {report}"),
        }
    }
}
