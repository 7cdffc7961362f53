//! The epoch check: any sequence of (epoch, elapsed time) observations, for
//! both rules, never panics.
//!
//! The input is read as 6-byte records: a big-endian u32 epoch, then a
//! big-endian u16 number of milliseconds the client's clock advanced before
//! that answer arrived. A trailing partial record is ignored.
#![no_main]

use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use pfwd_core::wire::epoch::{EpochCheck, EpochRule, EpochTracker};

fuzz_target!(|data: &[u8]| {
    let start = Instant::now();
    for rule in [EpochRule::Pcp, EpochRule::NatPmp] {
        let mut tracker = EpochTracker::new(rule);
        assert_eq!(tracker.last_epoch(), None);
        let mut now = start;
        for (i, rec) in data.chunks_exact(6).enumerate() {
            let epoch = u32::from_be_bytes([rec[0], rec[1], rec[2], rec[3]]);
            let delta = u16::from_be_bytes([rec[4], rec[5]]);
            // At most ~65 s per record and a few thousand records: no overflow,
            // but do not let the harness be the thing that panics.
            now = now
                .checked_add(Duration::from_millis(u64::from(delta)))
                .unwrap_or(now);
            let check = tracker.observe(epoch, now);
            // Cheap invariants: only the first answer is First, and with a
            // clock that never goes back every answer becomes the reference.
            assert_eq!(check == EpochCheck::First, i == 0, "{check:?} at {i}");
            if let EpochCheck::Restarted { current, .. } = check {
                assert_eq!(current, epoch);
            }
            assert_eq!(tracker.last_epoch(), Some(epoch));
        }
    }
});
