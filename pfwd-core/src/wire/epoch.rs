//! The epoch check: has the gateway lost its mappings since the last answer?
//!
//! Every NAT-PMP and PCP answer carries the server's epoch, the seconds since
//! its mapping state began. A client compares how far the epoch moved with how
//! far its own clock moved; if the server's clock ran backwards or too slowly
//! (or too fast, for PCP), the server restarted and every mapping must be
//! made again. The time is passed in: this module reads no clock.

use std::time::Instant;

/// Which RFC's rule to apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EpochRule {
    /// RFC 6887 section 8.5: both directions, 1/16 tolerance plus 2 s.
    Pcp,
    /// RFC 6886 section 3.6: the server's epoch must advance at least 7/8 of
    /// the client's elapsed time, less 2 s.
    NatPmp,
}

/// The outcome of one observation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EpochCheck {
    /// The first epoch seen from this server.
    First,
    /// Consistent with the previous answer.
    Continuous,
    /// The server lost its state (restart, reboot, failover).
    Restarted {
        /// The epoch seen before.
        previous: u32,
        /// The epoch seen now.
        current: u32,
    },
}

/// The last epoch seen from one server and when it was seen.
///
/// # Examples
///
/// The time is passed in, so a restart can be shown without waiting:
///
/// ```
/// use std::time::{Duration, Instant};
/// use pfwd_core::wire::epoch::{EpochCheck, EpochRule, EpochTracker};
///
/// let t0 = Instant::now();
/// let mut router = EpochTracker::new(EpochRule::NatPmp);
/// assert_eq!(router.observe(5000, t0), EpochCheck::First);
/// // A minute later its epoch moved a minute: the same router, mappings kept.
/// assert_eq!(router.observe(5060, t0 + Duration::from_secs(60)), EpochCheck::Continuous);
/// // Another minute, and the epoch is 12: it rebooted and forgot them.
/// assert_eq!(
///     router.observe(12, t0 + Duration::from_secs(120)),
///     EpochCheck::Restarted { previous: 5060, current: 12 }
/// );
/// assert_eq!(router.last_epoch(), Some(12));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EpochTracker {
    rule: EpochRule,
    last: Option<(u32, Instant)>,
}

impl EpochTracker {
    /// A tracker that has seen nothing yet.
    pub fn new(rule: EpochRule) -> EpochTracker {
        EpochTracker { rule, last: None }
    }

    /// The last epoch seen, if any.
    pub fn last_epoch(&self) -> Option<u32> {
        self.last.map(|(e, _)| e)
    }

    /// Record `epoch`, received at `at`, and say whether the server restarted.
    pub fn observe(&mut self, epoch: u32, at: Instant) -> EpochCheck {
        let check = match self.last {
            None => EpochCheck::First,
            Some((prev, prev_at)) => {
                let client = at.saturating_duration_since(prev_at).as_secs_f64();
                if lost_state(self.rule, prev, epoch, client) {
                    EpochCheck::Restarted {
                        previous: prev,
                        current: epoch,
                    }
                } else {
                    EpochCheck::Continuous
                }
            }
        };
        // An answer that arrived out of order must not move the reference back.
        match self.last {
            Some((_, prev_at)) if at < prev_at => {}
            _ => self.last = Some((epoch, at)),
        }
        check
    }
}

fn lost_state(rule: EpochRule, prev: u32, now: u32, client_delta: f64) -> bool {
    // The epoch went backwards by more than one second (a late packet may be one behind).
    if u64::from(now) + 1 < u64::from(prev) {
        return true;
    }
    let server_delta = f64::from(now.saturating_sub(prev));
    match rule {
        EpochRule::Pcp => {
            client_delta + 2.0 < server_delta - server_delta / 16.0
                || server_delta + 2.0 < client_delta - client_delta / 16.0
        }
        EpochRule::NatPmp => server_delta + 2.0 < client_delta * 7.0 / 8.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn at(base: Instant, secs: u64) -> Instant {
        base + Duration::from_secs(secs)
    }

    #[test]
    fn steady_server_is_continuous() {
        let t0 = Instant::now();
        for rule in [EpochRule::Pcp, EpochRule::NatPmp] {
            let mut e = EpochTracker::new(rule);
            assert_eq!(e.observe(1000, t0), EpochCheck::First);
            assert_eq!(e.observe(1060, at(t0, 60)), EpochCheck::Continuous);
            // A little drift either way is fine.
            assert_eq!(e.observe(1122, at(t0, 120)), EpochCheck::Continuous);
            assert_eq!(e.last_epoch(), Some(1122));
        }
    }

    #[test]
    fn restart_is_noticed() {
        let t0 = Instant::now();
        for rule in [EpochRule::Pcp, EpochRule::NatPmp] {
            let mut e = EpochTracker::new(rule);
            e.observe(5000, t0);
            assert_eq!(
                e.observe(3, at(t0, 10)),
                EpochCheck::Restarted {
                    previous: 5000,
                    current: 3
                }
            );
            // After a restart the new epoch is the reference.
            assert_eq!(e.observe(13, at(t0, 20)), EpochCheck::Continuous);
        }
    }

    #[test]
    fn a_restart_that_looks_like_progress_is_noticed() {
        // The epoch moved 40 s while the client's clock moved 600 s: the
        // server restarted in between and has been up for a short while.
        let t0 = Instant::now();
        let mut e = EpochTracker::new(EpochRule::Pcp);
        e.observe(10, t0);
        assert!(matches!(
            e.observe(50, at(t0, 600)),
            EpochCheck::Restarted { .. }
        ));
        let mut n = EpochTracker::new(EpochRule::NatPmp);
        n.observe(10, t0);
        assert!(matches!(
            n.observe(50, at(t0, 600)),
            EpochCheck::Restarted { .. }
        ));
    }

    #[test]
    fn pcp_also_notices_an_epoch_running_fast() {
        let t0 = Instant::now();
        let mut e = EpochTracker::new(EpochRule::Pcp);
        e.observe(10, t0);
        assert!(matches!(
            e.observe(10_000, at(t0, 60)),
            EpochCheck::Restarted { .. }
        ));
        // NAT-PMP's rule only looks one way.
        let mut n = EpochTracker::new(EpochRule::NatPmp);
        n.observe(10, t0);
        assert_eq!(n.observe(10_000, at(t0, 60)), EpochCheck::Continuous);
    }

    #[test]
    fn one_second_behind_is_a_late_packet_not_a_restart() {
        let t0 = Instant::now();
        let mut e = EpochTracker::new(EpochRule::Pcp);
        e.observe(100, t0);
        assert_eq!(e.observe(99, t0), EpochCheck::Continuous);
        assert_eq!(e.last_epoch(), Some(99));
    }
}
