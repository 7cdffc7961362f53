//! The manual method as a [`Forwarder`]: its `map` never maps; it answers
//! with [`Error::Manual`] carrying the guide a person follows on the router.

use std::net::Ipv4Addr;

use crate::error::{Error, Result};
use crate::forwarder::{BoxFuture, Forwarder};
use crate::guide::{GuideContext, Instructions};
use crate::mapping::{Mapping, MappingRequest, Method};

/// The manual method: instructions instead of a mapping.
///
/// # Examples
///
/// Its `map` answers with the guide (this runs offline: nothing is asked of
/// any router):
///
/// ```
/// use pfwd_core::guide::GuideContext;
/// use pfwd_core::{Error, Forwarder, Manual, MappingRequest, Protocol};
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let manual = Manual::new(GuideContext::default());
/// let request = MappingRequest::builder(Protocol::Tcp, 80)
///     .internal_ip("192.168.1.4".parse::<std::net::Ipv4Addr>().unwrap())
///     .build()
///     .unwrap();
/// match manual.map(&request).await {
///     Err(Error::Manual { instructions }) => println!("{}", instructions.to_text()),
///     other => unreachable!("{other:?}"),
/// }
/// # });
/// ```
#[derive(Debug, Clone, Default)]
pub struct Manual {
    context: GuideContext,
}

impl Manual {
    /// A manual method that knows what `context` holds (gateway, router,
    /// external address, why other methods failed).
    pub fn new(context: GuideContext) -> Manual {
        Manual { context }
    }

    /// The guide for `request`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::net::Ipv4Addr;
    /// use pfwd_core::guide::GuideContext;
    /// use pfwd_core::{Manual, MappingRequest, Protocol};
    ///
    /// let manual = Manual::new(GuideContext::default());
    /// let minecraft = MappingRequest::builder(Protocol::Tcp, 25565)
    ///     .internal_ip(Ipv4Addr::new(192, 168, 1, 30))
    ///     .build()?;
    /// let guide = manual.instructions(&minecraft);
    /// assert_eq!(guide.rule_lines(), ["TCP port 25565 -> 192.168.1.30:25565"]);
    /// assert_eq!(guide.service.map(|s| s.title), Some("Minecraft Java server"));
    /// # Ok::<(), pfwd_core::Error>(())
    /// ```
    pub fn instructions(&self, request: &MappingRequest) -> Instructions {
        Instructions::build(
            &self.context,
            &[request.protocol()],
            request.external_port().unwrap_or(request.internal_port()),
            request.internal_ip(),
            request.internal_port(),
        )
    }
}

impl Forwarder for Manual {
    fn method(&self) -> Method {
        Method::Manual
    }

    fn external_address(&self) -> BoxFuture<'_, Result<Ipv4Addr>> {
        let known = self.context.external_address;
        Box::pin(async move {
            known.ok_or_else(|| Error::NoGateway {
                refused: false,
                method: Some(Method::Manual),
                detail: "no method told the router's internet address; its status page shows it"
                    .into(),
            })
        })
    }

    fn map<'a>(&'a self, request: &'a MappingRequest) -> BoxFuture<'a, Result<Mapping>> {
        Box::pin(async move {
            Err(Error::Manual {
                instructions: Box::new(self.instructions(request)),
            })
        })
    }

    fn unmap<'a>(&'a self, mapping: &'a Mapping) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            Err(Error::Unsupported {
                method: Method::Manual,
                what: "removing a forwarding rule".into(),
                detail: format!(
                    "remove the rule for {} port {} in the router's settings",
                    mapping.protocol(),
                    mapping.external().port()
                ),
            })
        })
    }
}
