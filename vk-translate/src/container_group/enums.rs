//! Open enums for the strings ARM sets or accepts: known values as variants, anything else kept.

use std::fmt;

/// Generates an open string enum: one variant per known ARM value plus `Other(String)`, which
/// keeps any value this model does not know so that it round-trips unchanged.
///
/// Known values are matched exactly (ARM's own spelling); everything else becomes `Other`.
macro_rules! open_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident => $value:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, PartialEq, Eq, Hash, Debug)]
        #[non_exhaustive]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
            /// A value this model does not know, kept exactly as ARM sent it.
            Other(String),
        }

        impl $name {
            /// The exact string ARM uses for this value.
            #[must_use]
            pub fn as_str(&self) -> &str {
                match self {
                    $( Self::$variant => $value, )+
                    Self::Other(value) => value,
                }
            }
        }

        impl From<&str> for $name {
            fn from(value: &str) -> Self {
                match value {
                    $( $value => Self::$variant, )+
                    other => Self::Other(other.to_owned()),
                }
            }
        }

        impl From<String> for $name {
            fn from(value: String) -> Self {
                match Self::from(value.as_str()) {
                    Self::Other(_) => Self::Other(value),
                    known => known,
                }
            }
        }

        impl std::str::FromStr for $name {
            type Err = std::convert::Infallible;

            fn from_str(value: &str) -> Result<Self, Self::Err> {
                Ok(Self::from(value))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                String::deserialize(deserializer).map(Self::from)
            }
        }
    };
}

open_enum! {
    /// `provisioningState` of a container group (`ContainerGroupProvisioningState`).
    pub enum ProvisioningState {
        /// `NotSpecified`.
        NotSpecified => "NotSpecified",
        /// `Accepted`: the request was accepted, work has not started.
        Accepted => "Accepted",
        /// `Pending`.
        Pending => "Pending",
        /// `Updating`.
        Updating => "Updating",
        /// `Creating`: the group is being created.
        Creating => "Creating",
        /// `Repairing`.
        Repairing => "Repairing",
        /// `Unhealthy`.
        Unhealthy => "Unhealthy",
        /// `Failed`: provisioning failed; the instance view events say why.
        Failed => "Failed",
        /// `Canceled`.
        Canceled => "Canceled",
        /// `Succeeded`: the group is provisioned.
        Succeeded => "Succeeded",
        /// `Deleting`.
        Deleting => "Deleting",
        /// `NotAccessible`.
        NotAccessible => "NotAccessible",
        /// `PreProvisioned` (standby pools).
        PreProvisioned => "PreProvisioned",
    }
}

open_enum! {
    /// The `state` of a container group's or a container's instance view. The spec leaves it a
    /// free string; these are the values ACI is known to report.
    pub enum InstanceState {
        /// `Running`.
        Running => "Running",
        /// `Terminated`: a container exited.
        Terminated => "Terminated",
        /// `Waiting`: a container waits to start (image pull, restart back-off).
        Waiting => "Waiting",
        /// `Pending`.
        Pending => "Pending",
        /// `Creating`.
        Creating => "Creating",
        /// `Succeeded`: every container exited with code 0.
        Succeeded => "Succeeded",
        /// `Failed`.
        Failed => "Failed",
        /// `Stopped`: the group was stopped.
        Stopped => "Stopped",
        /// `Repairing`.
        Repairing => "Repairing",
    }
}

open_enum! {
    /// The `type` of an instance view event.
    pub enum EventType {
        /// `Normal`.
        Normal => "Normal",
        /// `Warning`.
        Warning => "Warning",
    }
}

open_enum! {
    /// `restartPolicy` of a container group (`ContainerGroupRestartPolicy`).
    pub enum RestartPolicy {
        /// `Always`.
        Always => "Always",
        /// `OnFailure`.
        OnFailure => "OnFailure",
        /// `Never`.
        Never => "Never",
    }
}

open_enum! {
    /// `osType` (`OperatingSystemTypes`).
    pub enum OperatingSystemTypes {
        /// `Windows`.
        Windows => "Windows",
        /// `Linux`.
        Linux => "Linux",
    }
}

open_enum! {
    /// `ipAddress.type` (`ContainerGroupIpAddressType`).
    pub enum ContainerGroupIpAddressType {
        /// `Public`: an internet-facing IP.
        Public => "Public",
        /// `Private`: an IP in the subnets of `subnetIds`.
        Private => "Private",
    }
}

open_enum! {
    /// `ipAddress.autoGeneratedDomainNameLabelScope`.
    pub enum AutoGeneratedDomainNameLabelScope {
        /// `Unsecure`.
        Unsecure => "Unsecure",
        /// `TenantReuse`.
        TenantReuse => "TenantReuse",
        /// `SubscriptionReuse`.
        SubscriptionReuse => "SubscriptionReuse",
        /// `ResourceGroupReuse`.
        ResourceGroupReuse => "ResourceGroupReuse",
        /// `Noreuse`.
        Noreuse => "Noreuse",
    }
}

open_enum! {
    /// Protocol of a group IP port (`ContainerGroupNetworkProtocol`).
    pub enum ContainerGroupNetworkProtocol {
        /// `TCP`.
        Tcp => "TCP",
        /// `UDP`.
        Udp => "UDP",
    }
}

open_enum! {
    /// Protocol of a container port (`ContainerNetworkProtocol`).
    pub enum ContainerNetworkProtocol {
        /// `TCP`.
        Tcp => "TCP",
        /// `UDP`.
        Udp => "UDP",
    }
}

open_enum! {
    /// `sku` of a container group (`ContainerGroupSku`).
    pub enum ContainerGroupSku {
        /// `NotSpecified`.
        NotSpecified => "NotSpecified",
        /// `Standard`.
        Standard => "Standard",
        /// `Dedicated`.
        Dedicated => "Dedicated",
        /// `Confidential`.
        Confidential => "Confidential",
    }
}

open_enum! {
    /// `priority` of a container group (`ContainerGroupPriority`).
    pub enum ContainerGroupPriority {
        /// `Regular`.
        Regular => "Regular",
        /// `Spot`: evictable capacity.
        Spot => "Spot",
    }
}

open_enum! {
    /// GPU SKU (`GpuSku`).
    pub enum GpuSku {
        /// `K80`.
        K80 => "K80",
        /// `P100`.
        P100 => "P100",
        /// `V100`.
        V100 => "V100",
    }
}

open_enum! {
    /// URL scheme of an HTTP probe (`Scheme`).
    pub enum Scheme {
        /// `http`.
        Http => "http",
        /// `https`.
        Https => "https",
    }
}

open_enum! {
    /// Log Analytics log type (`LogAnalyticsLogType`).
    pub enum LogAnalyticsLogType {
        /// `ContainerInsights`.
        ContainerInsights => "ContainerInsights",
        /// `ContainerInstanceLogs`.
        ContainerInstanceLogs => "ContainerInstanceLogs",
    }
}

open_enum! {
    /// Managed identity type (`ResourceIdentityType`).
    pub enum ResourceIdentityType {
        /// `SystemAssigned`.
        SystemAssigned => "SystemAssigned",
        /// `UserAssigned`.
        UserAssigned => "UserAssigned",
        /// `SystemAssigned, UserAssigned`.
        SystemAssignedUserAssigned => "SystemAssigned, UserAssigned",
        /// `None`.
        None => "None",
    }
}

open_enum! {
    /// Access level of an identity ACL (`IdentityAccessLevel`).
    pub enum IdentityAccessLevel {
        /// `All`.
        All => "All",
        /// `System`.
        System => "System",
        /// `User`.
        User => "User",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_value_should_round_trip_as_its_variant() {
        let state: InstanceState = serde_json::from_str("\"Running\"").unwrap();
        assert_eq!(state, InstanceState::Running);
        assert_eq!(serde_json::to_string(&state).unwrap(), "\"Running\"");
    }

    #[test]
    fn unknown_value_should_be_kept_exactly() {
        let state: ProvisioningState = serde_json::from_str("\"Hibernating\"").unwrap();
        assert_eq!(state, ProvisioningState::Other("Hibernating".to_owned()));
        assert_eq!(state.to_string(), "Hibernating");
        assert_eq!(serde_json::to_string(&state).unwrap(), "\"Hibernating\"");
    }

    #[test]
    fn value_with_space_should_map_to_its_variant() {
        let kind = ResourceIdentityType::from("SystemAssigned, UserAssigned");
        assert_eq!(kind, ResourceIdentityType::SystemAssignedUserAssigned);
        assert_eq!(
            ContainerGroupNetworkProtocol::from(String::from("UDP")).as_str(),
            "UDP"
        );
    }
}
