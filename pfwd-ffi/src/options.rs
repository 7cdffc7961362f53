//! Options structs that carry their own size, so that fields can be added
//! at the end without breaking the ABI: pfwd reads the first `size` bytes a
//! caller passes and takes the defaults for the rest.

use std::mem::size_of;

use crate::result::Failure;

/// A `#[repr(C)]` options struct whose first field is `size: u32`.
///
/// # Safety
///
/// Implementors are `#[repr(C)]`, start with a `u32` size, and every bit
/// pattern a C caller may write into their fields is valid (integers, bools
/// written as 0 or 1, pointers).
pub(crate) unsafe trait Sized_: Copy {
    /// The defaults, with `size` set to the full size.
    fn defaults() -> Self;
}

/// The caller's options over the defaults: NULL means all defaults.
///
/// # Safety
///
/// `ptr` is NULL or points to at least its own `size` readable bytes.
pub(crate) unsafe fn read<T: Sized_>(ptr: *const T, what: &str) -> Result<T, Failure> {
    let mut value = T::defaults();
    if ptr.is_null() {
        return Ok(value);
    }
    // SAFETY: not NULL; the first field is a u32 per the trait's contract.
    let size = unsafe { (ptr as *const u32).read_unaligned() } as usize;
    if size < size_of::<u32>() {
        return Err(Failure::Invalid(format!(
            "{what}.size is {size}: set it with the _init function or to sizeof"
        )));
    }
    let n = size.min(size_of::<T>());
    // SAFETY: the caller's struct has `size` >= n readable bytes (contract);
    // `value` has size_of::<T>() >= n; they do not overlap; every bit
    // pattern of the fields is valid (the trait's contract).
    unsafe {
        std::ptr::copy_nonoverlapping(ptr as *const u8, &mut value as *mut T as *mut u8, n);
    }
    Ok(value)
}

/// Set the defaults into a caller's struct (the `_init` functions).
///
/// # Safety
///
/// `ptr` is NULL or writable for `size_of::<T>()` bytes.
pub(crate) unsafe fn init<T: Sized_>(ptr: *mut T) {
    if !ptr.is_null() {
        // SAFETY: not NULL, writable per the contract.
        unsafe { ptr.write(T::defaults()) };
    }
}

/// The size a struct declares of itself.
pub(crate) fn size_u32<T>() -> u32 {
    u32::try_from(size_of::<T>()).unwrap_or(u32::MAX)
}
