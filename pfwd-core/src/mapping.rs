//! The mapping model under its first name: `pfwd_core::mapping::*` stays
//! valid. The model itself is in [`crate::model`].

pub use crate::defaults::MAX_DESCRIPTION_LEN;
pub use crate::model::{
    DEFAULT_LEASE, ExternalPort, Family, GatewayMapping, Invalid, Lease, Mapping, MappingRequest,
    MappingRequestBuilder, Method, MethodState, Protocol,
};
