//! What is mapped, kept in the cluster: one ConfigMap in the controller's
//! namespace, one key per forwarded port, each holding what was asked
//! ([`Want`]) and pfwd-core's [`Record`] of what the router granted (with
//! the PCP nonce, the UPnP entry, the NAT-PMP internal port). A new leader
//! reads it and re-adopts every mapping with `Keep::recorded`, so nothing
//! is mapped twice; a mapping whose Service went while no leader ran is
//! found here and deleted.
//!
//! It is not on a Service: a Service that is deleted takes its annotations
//! with it, and its mappings must still be found to be deleted.

use std::collections::BTreeMap;
use std::net::SocketAddrV4;
use std::time::Duration;

use k8s_openapi::api::core::v1::ConfigMap;
use kube::Api;
use kube::api::{Patch, PatchParams, PostParams};
use pfwd_core::{Lease, Method, Protocol, Record};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::annotations::PortRef;
use crate::plan::{MappingKey, Want};
use crate::view::ServiceKey;

/// One forwarded port as the ConfigMap keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    /// Which Service port.
    pub key: MappingKey,
    /// What was asked.
    pub want: Want,
    /// What the router granted, with what it takes to renew or delete it.
    pub record: Record,
}

/// The JSON form of [`Stored`].
#[derive(Debug, Serialize, Deserialize)]
struct Entry {
    namespace: String,
    service: String,
    port: String,
    protocol: Protocol,
    external_port: u16,
    internal: SocketAddrV4,
    /// Seconds, or absent for a permanent lease.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    lease_seconds: Option<u64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    methods: Vec<Method>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    check_via: Option<String>,
    record: Record,
}

impl Stored {
    /// The ConfigMap key of a forwarded port: `NAMESPACE.SERVICE.PORT.PROTOCOL`
    /// (names in Kubernetes are DNS labels, so `.` cannot clash).
    pub fn data_key(key: &MappingKey) -> String {
        format!(
            "{}.{}.{}.{}",
            key.service.namespace,
            key.service.name,
            key.port,
            key.protocol.to_string().to_ascii_lowercase()
        )
    }

    /// As JSON text.
    pub fn to_json(&self) -> String {
        let entry = Entry {
            namespace: self.key.service.namespace.clone(),
            service: self.key.service.name.clone(),
            port: self.key.port.to_string(),
            protocol: self.key.protocol,
            external_port: self.want.external_port,
            internal: self.want.internal,
            lease_seconds: match self.want.lease {
                Lease::Finite(d) => Some(d.as_secs()),
                Lease::Permanent => None,
            },
            methods: self.want.methods.clone(),
            check_via: self.want.check_via.clone(),
            record: self.record.clone(),
        };
        serde_json::to_string(&entry).unwrap_or_default()
    }

    /// Read one from JSON text.
    ///
    /// # Errors
    ///
    /// What is wrong with the text.
    pub fn from_json(text: &str) -> Result<Stored, serde_json::Error> {
        let e: Entry = serde_json::from_str(text)?;
        let port = match e.port.parse::<u16>() {
            Ok(n) => PortRef::Number(n),
            Err(_) => PortRef::Name(e.port),
        };
        Ok(Stored {
            key: MappingKey {
                service: ServiceKey::new(e.namespace, e.service),
                port,
                protocol: e.protocol,
            },
            want: Want {
                external_port: e.external_port,
                internal: e.internal,
                lease: e
                    .lease_seconds
                    .map_or(Lease::Permanent, |s| Lease::Finite(Duration::from_secs(s))),
                methods: e.methods,
                check_via: e.check_via,
            },
            record: e.record,
        })
    }
}

/// The ConfigMap that holds the state.
#[derive(Clone)]
pub struct StateStore {
    api: Api<ConfigMap>,
    name: String,
    manager: String,
}

impl std::fmt::Debug for StateStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateStore")
            .field("name", &self.name)
            .finish()
    }
}

impl StateStore {
    /// The ConfigMap `name` in `namespace`.
    pub fn new(client: kube::Client, namespace: &str, name: &str) -> StateStore {
        StateStore {
            api: Api::namespaced(client, namespace),
            name: name.to_string(),
            manager: "pfwd-kube".into(),
        }
    }

    /// Every stored mapping; entries that cannot be read are returned
    /// apart (with their key and why), so that they can be reported and
    /// nothing is lost silently.
    ///
    /// # Errors
    ///
    /// The API's error (a missing ConfigMap is no error: nothing stored).
    pub async fn load(&self) -> kube::Result<(Vec<Stored>, Vec<(String, String)>)> {
        let Some(map) = self.api.get_opt(&self.name).await? else {
            return Ok((Vec::new(), Vec::new()));
        };
        let mut good = Vec::new();
        let mut bad = Vec::new();
        for (k, v) in map.data.unwrap_or_default() {
            match Stored::from_json(&v) {
                Ok(s) => good.push(s),
                Err(e) => bad.push((k, e.to_string())),
            }
        }
        Ok((good, bad))
    }

    /// Write and delete entries in one merge patch (`None` deletes); the
    /// ConfigMap is made if missing.
    ///
    /// # Errors
    ///
    /// The API's error.
    pub async fn write(&self, changes: &BTreeMap<String, Option<String>>) -> kube::Result<()> {
        if changes.is_empty() {
            return Ok(());
        }
        let params = PatchParams {
            field_manager: Some(self.manager.clone()),
            ..PatchParams::default()
        };
        let patch = json!({ "data": changes });
        match self
            .api
            .patch(&self.name, &params, &Patch::Merge(&patch))
            .await
        {
            Err(kube::Error::Api(e)) if e.code == 404 => {
                let data: BTreeMap<String, String> = changes
                    .iter()
                    .filter_map(|(k, v)| Some((k.clone(), v.clone()?)))
                    .collect();
                let map = ConfigMap {
                    metadata: kube::api::ObjectMeta {
                        name: Some(self.name.clone()),
                        labels: Some(
                            [(
                                "app.kubernetes.io/name".to_string(),
                                "pfwd-kube".to_string(),
                            )]
                            .into(),
                        ),
                        ..Default::default()
                    },
                    data: Some(data),
                    ..Default::default()
                };
                self.api
                    .create(&PostParams::default(), &map)
                    .await
                    .map(drop)
            }
            other => other.map(drop),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use pfwd_core::{Mapping, MethodState};
    use std::net::Ipv4Addr;
    use std::time::Instant;

    pub(crate) fn sample() -> Stored {
        let mapping = Mapping::new(
            Method::Pcp,
            Protocol::Tcp,
            Ipv4Addr::new(192, 168, 77, 1),
            SocketAddrV4::new(Ipv4Addr::new(5, 5, 5, 7), 8080),
            SocketAddrV4::new(Ipv4Addr::new(192, 168, 77, 10), 30080),
            Lease::Finite(Duration::from_secs(7200)),
            Instant::now(),
            "pfwd-kube default/web http",
            MethodState::Pcp {
                nonce: [7; 12],
                epoch: 5,
                generation: 0,
            },
        );
        Stored {
            key: MappingKey {
                service: ServiceKey::new("default", "web"),
                port: PortRef::Name("http".into()),
                protocol: Protocol::Tcp,
            },
            want: Want {
                external_port: 8080,
                internal: mapping.internal_v4().unwrap(),
                lease: Lease::Finite(Duration::from_secs(7200)),
                methods: vec![Method::Pcp],
                check_via: None,
            },
            record: Record::new(mapping, None),
        }
    }

    #[test]
    fn an_entry_round_trips_with_its_pcp_nonce() {
        let s = sample();
        let text = s.to_json();
        assert!(
            text.contains("\"pcp_nonce\":\"070707070707070707070707\""),
            "{text}"
        );
        let back = Stored::from_json(&text).unwrap();
        assert_eq!(back.key, s.key);
        assert_eq!(back.want, s.want);
        assert_eq!(back.record.mapping.state(), s.record.mapping.state());
        assert_eq!(Stored::data_key(&s.key), "default.web.http.tcp");
    }

    #[test]
    fn a_number_port_stays_a_number() {
        let mut s = sample();
        s.key.port = PortRef::Number(53);
        let back = Stored::from_json(&s.to_json()).unwrap();
        assert_eq!(back.key.port, PortRef::Number(53));
    }
}
