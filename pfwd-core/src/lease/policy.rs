//! The keeper's timing rules as pure functions of durations: when to renew,
//! how long to wait after failures. No clock, no I/O.

use std::time::Duration;

/// When to renew a lease of `lifetime`: at `fraction` of it, where
/// `fraction` is drawn from [1/2, 5/8] (RFC 6887 section 11.2.1 asks for a
/// random point in that range, so that clients do not renew in step).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use pfwd_core::lease::renew_delay;
///
/// let hour = Duration::from_secs(3600);
/// assert_eq!(renew_delay(hour, 0.5), Duration::from_secs(1800));
/// assert_eq!(renew_delay(hour, 0.625), Duration::from_secs(2250));
/// assert_eq!(renew_delay(hour, 0.9), Duration::from_secs(2250)); // clamped to 5/8
/// ```
pub fn renew_delay(lifetime: Duration, fraction: f64) -> Duration {
    lifetime.mul_f64(fraction.clamp(0.5, 0.625))
}

/// The wait before attempt `failures + 1` after `failures` failures:
/// `min`, doubling, at most `max`.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use pfwd_core::lease::retry_delay;
///
/// let (min, max) = (Duration::from_secs(1), Duration::from_secs(60));
/// let waits: Vec<u64> = (1..=8).map(|n| retry_delay(n, min, max).as_secs()).collect();
/// assert_eq!(waits, [1, 2, 4, 8, 16, 32, 60, 60]);
/// ```
pub fn retry_delay(failures: u32, min: Duration, max: Duration) -> Duration {
    min.saturating_mul(2u32.saturating_pow(failures.saturating_sub(1)))
        .min(max)
}

/// A random fraction in [1/2, 5/8] for [`renew_delay`].
pub(crate) fn random_fraction() -> f64 {
    let mut b = [0u8; 2];
    let r = getrandom::fill(&mut b).map_or(0.5, |()| f64::from(u16::from_be_bytes(b)) / 65535.0);
    0.5 + r * 0.125
}
