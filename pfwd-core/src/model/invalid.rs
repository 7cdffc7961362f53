//! [`Invalid`]: the model's one error, for input that cannot be a port, a
//! host, a lease or a request.

/// Bad input, found before anything is sent: what is wrong and what to
/// write instead. `Display` is the reason alone; the library's
/// [`Error`](crate::Error) turns it into [`Error::InvalidRequest`](crate::Error::InvalidRequest)
/// (`?` converts it).
///
/// # Examples
///
/// ```
/// use pfwd_core::parse::parse_external;
/// use pfwd_core::{ErrorKind, Invalid};
///
/// let e: Invalid = parse_external("0").unwrap_err().context("--external");
/// assert_eq!(
///     e.to_string(),
///     "--external: port 0 is not a port: give 1-65535, or `any` for any outside port"
/// );
///
/// // In a function returning pfwd's `Result`, `?` makes it an `Error`.
/// fn outside_port(text: &str) -> pfwd_core::Result<pfwd_core::ExternalPort> {
///     Ok(parse_external(text)?)
/// }
/// let err = outside_port("0").unwrap_err();
/// assert_eq!(err.kind(), ErrorKind::InvalidRequest);
/// assert!(err.to_string().starts_with("invalid request: port 0 is not a port"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct Invalid {
    /// What is wrong and what to write instead, as one sentence.
    pub reason: String,
}

impl Invalid {
    /// Bad input for this reason.
    pub fn new(reason: impl Into<String>) -> Invalid {
        Invalid {
            reason: reason.into(),
        }
    }

    /// The same error with `context` before its reason ("--external: ...").
    pub fn context(self, context: &str) -> Invalid {
        Invalid::new(format!("{context}: {}", self.reason))
    }
}
