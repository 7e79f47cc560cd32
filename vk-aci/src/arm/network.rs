//! The delegated subnet of VNet mode (upstream `ACI_SUBNET_NAME`, `ACI_SUBNET_CIDR`): checked
//! at startup, created with its delegation to ACI when missing.
//!
//! Upstream's rules: a CIDR needs a subnet name and must parse; an existing subnet's prefix
//! must equal the CIDR; a missing subnet is created (with the CIDR) and delegated to
//! `Microsoft.ContainerInstance/containerGroups`. One difference: upstream re-PUTs an
//! existing subnet that lacks the delegation, which replaces the whole subnet (its NSG,
//! service endpoints...); here that is an error asking the operator to delegate it.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use http::{Method, StatusCode};
use serde_json::json;
use url::Url;

use super::client::ArmClient;
use super::error::Error;
use super::lro::{Lro, LroKind, is_terminal};
use super::throttle::{Class, Priority};
use super::transport::Call;

/// api-version of the `Microsoft.Network` subnet calls.
pub const NETWORK_API_VERSION: &str = "2023-09-01";

/// The service a subnet must be delegated to for container groups.
pub const ACI_DELEGATION_SERVICE: &str = "Microsoft.ContainerInstance/containerGroups";

/// The delegation's name when this process creates the subnet (upstream's).
pub const ACI_DELEGATION_NAME: &str = "aciDelegation";

/// An IP prefix such as `10.241.0.0/16`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    /// The address part.
    pub addr: IpAddr,
    /// The prefix length.
    pub prefix: u8,
}

/// A text that is not a CIDR.
#[derive(Debug, thiserror::Error)]
#[error("{0:?} is not a CIDR like 10.241.0.0/16")]
pub struct CidrError(String);

impl FromStr for Cidr {
    type Err = CidrError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || CidrError(text.to_owned());
        let (addr, prefix) = text.trim().split_once('/').ok_or_else(bad)?;
        let addr: IpAddr = addr.parse().map_err(|_| bad())?;
        let prefix: u8 = prefix.parse().map_err(|_| bad())?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        if prefix > max {
            return Err(bad());
        }
        Ok(Self { addr, prefix })
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// A subnet of a virtual network.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubnetRef {
    /// Subscription of the VNet.
    pub subscription_id: String,
    /// Resource group of the VNet.
    pub resource_group: String,
    /// The VNet's name.
    pub vnet: String,
    /// The subnet's name.
    pub subnet: String,
}

impl SubnetRef {
    /// The subnet's ARM ID (what container groups' `subnetIds` carry).
    #[must_use]
    pub fn id(&self) -> String {
        format!(
            "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.Network/virtualNetworks/{}/subnets/{}",
            self.subscription_id, self.resource_group, self.vnet, self.subnet
        )
    }
}

impl fmt::Display for SubnetRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "subnet {:?} of vnet {:?} (resource group {:?}, subscription {})",
            self.subnet, self.vnet, self.resource_group, self.subscription_id
        )
    }
}

/// What [`ArmClient::ensure_subnet`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SubnetOutcome {
    /// The subnet existed, delegated to ACI (and with the expected prefix).
    Existing,
    /// The subnet was created with the prefix and the delegation.
    Created,
}

/// Why the subnet cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SubnetError {
    /// The subnet does not exist and no CIDR was given to create it.
    #[error("{subnet} does not exist; set ACI_SUBNET_CIDR to create it")]
    Missing {
        /// The subnet (described).
        subnet: String,
    },
    /// The subnet exists with another prefix than the configured CIDR.
    #[error("{subnet} has prefix {found}, not ACI_SUBNET_CIDR {wanted}")]
    PrefixMismatch {
        /// The subnet (described).
        subnet: String,
        /// Its prefix.
        found: String,
        /// The configured CIDR.
        wanted: Cidr,
    },
    /// The subnet exists and is not delegated to ACI.
    #[error(
        "{subnet} is not delegated to {ACI_DELEGATION_SERVICE}; add the delegation (az network vnet subnet update --delegations {ACI_DELEGATION_SERVICE}) or name another subnet"
    )]
    NotDelegated {
        /// The subnet (described).
        subnet: String,
    },
    /// The subnet is used by another Azure service.
    #[error("{subnet} is used by another service ({linked}); name another subnet")]
    UsedByOther {
        /// The subnet (described).
        subnet: String,
        /// The other service's resource type.
        linked: String,
    },
    /// An ARM call failed.
    #[error("checking {subnet}")]
    Arm {
        /// The subnet (described).
        subnet: String,
        /// The ARM error.
        #[source]
        source: Error,
    },
}

// === impl ArmClient ===

impl ArmClient {
    /// The ARM URL of a subnet (`Microsoft.Network`, its own api-version).
    fn subnet_url(&self, subnet: &SubnetRef) -> Result<Url, Error> {
        self.url_with_version(
            &[
                "subscriptions",
                &subnet.subscription_id,
                "resourceGroups",
                &subnet.resource_group,
                "providers",
                "Microsoft.Network",
                "virtualNetworks",
                &subnet.vnet,
                "subnets",
                &subnet.subnet,
            ],
            NETWORK_API_VERSION,
            &[],
        )
    }

    /// Check the delegated subnet of VNet mode, creating it when it is missing and `cidr`
    /// is given; see the [module docs](self).
    ///
    /// # Errors
    /// [`SubnetError`]: missing without a CIDR, another prefix, not delegated to ACI,
    /// used by another service, or an ARM failure.
    pub async fn ensure_subnet(
        &self,
        subnet: &SubnetRef,
        cidr: Option<Cidr>,
    ) -> Result<SubnetOutcome, SubnetError> {
        const GET: &str = "subnets.get";
        const PUT: &str = "subnets.create_or_update";
        let arm = |source| SubnetError::Arm {
            subnet: subnet.to_string(),
            source,
        };
        let url = self.subnet_url(subnet).map_err(arm)?;
        let response = self
            .send(
                Call::get(GET, Priority::Foreground, url.clone())
                    .accepting(&[StatusCode::NOT_FOUND]),
            )
            .await
            .map_err(arm)?;
        if response.status != StatusCode::NOT_FOUND {
            let found: serde_json::Value =
                serde_json::from_slice(&response.body).map_err(|source| {
                    arm(Error::Decode {
                        operation: GET,
                        source,
                    })
                })?;
            check_existing(subnet, &found, cidr)?;
            return Ok(SubnetOutcome::Existing);
        }
        let Some(cidr) = cidr else {
            return Err(SubnetError::Missing {
                subnet: subnet.to_string(),
            });
        };
        let body = json!({
            "name": subnet.subnet,
            "properties": {
                "addressPrefix": cidr.to_string(),
                "delegations": [{
                    "name": ACI_DELEGATION_NAME,
                    "properties": { "serviceName": ACI_DELEGATION_SERVICE },
                }],
            },
        });
        let response = self
            .send(Call {
                operation: PUT,
                class: Class::Write,
                priority: Priority::Foreground,
                method: Method::PUT,
                url: url.clone(),
                body: Some(body.to_string().into_bytes()),
                accept: &[],
                idempotent: true,
            })
            .await
            .map_err(arm)?;
        let state = serde_json::from_slice::<serde_json::Value>(&response.body)
            .ok()
            .and_then(|v| {
                v.pointer("/properties/provisioningState")
                    .and_then(serde_json::Value::as_str)
                    .map(str::to_owned)
            })
            .unwrap_or_else(|| "Succeeded".to_owned());
        if !is_terminal(&state) {
            Lro::from_headers(PUT, &response, url, LroKind::ResourceState)
                .wait(self)
                .await
                .map_err(arm)?;
        }
        Ok(SubnetOutcome::Created)
    }
}

/// Prefix, service association links and delegations of an existing subnet.
fn check_existing(
    subnet: &SubnetRef,
    found: &serde_json::Value,
    cidr: Option<Cidr>,
) -> Result<(), SubnetError> {
    let props = &found["properties"];
    if let Some(wanted) = cidr {
        let prefixes: Vec<&str> = props["addressPrefix"]
            .as_str()
            .into_iter()
            .chain(
                props["addressPrefixes"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(serde_json::Value::as_str),
            )
            .collect();
        if !prefixes
            .iter()
            .any(|p| p.parse::<Cidr>().is_ok_and(|p| p == wanted))
        {
            return Err(SubnetError::PrefixMismatch {
                subnet: subnet.to_string(),
                found: prefixes.join(","),
                wanted,
            });
        }
    }
    let is_aci = |v: &serde_json::Value| {
        v.as_str()
            .is_some_and(|s| s.eq_ignore_ascii_case(ACI_DELEGATION_SERVICE))
    };
    // A subnet in use by ACI has a service association link; any other link means another
    // service owns it.
    let links = props["serviceAssociationLinks"].as_array();
    for link in links.into_iter().flatten() {
        let linked = &link["properties"]["linkedResourceType"];
        if !linked.is_null() && !is_aci(linked) {
            return Err(SubnetError::UsedByOther {
                subnet: subnet.to_string(),
                linked: linked.as_str().unwrap_or("?").to_owned(),
            });
        }
    }
    let delegated = props["delegations"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|d| is_aci(&d["properties"]["serviceName"]));
    let linked_to_aci = links
        .into_iter()
        .flatten()
        .any(|l| is_aci(&l["properties"]["linkedResourceType"]));
    if delegated || linked_to_aci {
        Ok(())
    } else {
        Err(SubnetError::NotDelegated {
            subnet: subnet.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subnet() -> SubnetRef {
        SubnetRef {
            subscription_id: "s".to_owned(),
            resource_group: "rg".to_owned(),
            vnet: "vn".to_owned(),
            subnet: "aci".to_owned(),
        }
    }

    #[test]
    fn cidrs_should_parse_and_reject_garbage() {
        let cidr: Cidr = "10.241.0.0/16".parse().unwrap();
        assert_eq!(cidr.prefix, 16);
        assert_eq!(cidr.to_string(), "10.241.0.0/16");
        assert!("fd00::/64".parse::<Cidr>().is_ok());
        for bad in ["10.241.0.0", "10.241.0.0/33", "nope/8", "10.0.0.0/x", ""] {
            assert!(bad.parse::<Cidr>().is_err(), "{bad}");
        }
    }

    #[test]
    fn a_subnet_used_by_another_service_should_be_refused() {
        let found = json!({"properties": {
            "addressPrefix": "10.1.0.0/24",
            "serviceAssociationLinks": [{"properties": {"linkedResourceType": "Microsoft.Web/serverFarms"}}],
        }});
        let err = check_existing(&subnet(), &found, None).unwrap_err();
        assert!(matches!(err, SubnetError::UsedByOther { .. }), "{err}");
    }

    #[test]
    fn a_delegated_subnet_with_the_same_prefix_in_a_list_should_pass() {
        let found = json!({"properties": {
            "addressPrefixes": ["10.1.0.0/24"],
            "delegations": [{"name": "x", "properties": {"serviceName": "microsoft.containerinstance/containergroups"}}],
        }});
        check_existing(&subnet(), &found, Some("10.1.0.0/24".parse().unwrap())).unwrap();
    }

    #[test]
    fn the_subnet_id_should_be_its_arm_path() {
        assert_eq!(
            subnet().id(),
            "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/vn/subnets/aci"
        );
    }
}
