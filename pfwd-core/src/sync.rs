//! The crate's one way to take a mutex.

use std::sync::{Mutex, MutexGuard};

/// Lock `m`, taking it over even if a panic poisoned it: pfwd's locks guard
/// plain values that a panic cannot leave half-written.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
