//! [`Invalid`]: the model's one error, for input that cannot be a port, a
//! host, a lease or a request.

/// Bad input, found before anything is sent: what is wrong and what to
/// write instead. `Display` is the reason alone; the library's
/// [`Error`](crate::Error) turns it into [`Error::InvalidRequest`](crate::Error::InvalidRequest)
/// (`?` converts it).
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
