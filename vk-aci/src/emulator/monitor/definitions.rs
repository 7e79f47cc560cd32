//! The platform metrics of `Microsoft.ContainerInstance/containerGroups` and the
//! aggregations they support.
/// What a metric measures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    /// Per-container CPU in millicores.
    Cpu,
    /// Per-container memory in bytes.
    Memory,
    /// Group bytes received per second.
    NetworkReceived,
    /// Group bytes transmitted per second.
    NetworkTransmitted,
}

/// One platform metric of `Microsoft.ContainerInstance/containerGroups`.
#[derive(Debug)]
pub(super) struct MetricDef {
    /// The metric's name (`CpuUsage`).
    pub name: &'static str,
    /// Its display name.
    pub localized: &'static str,
    /// Its unit.
    pub unit: &'static str,
    /// Its description.
    pub description: &'static str,
    /// What it measures; CPU and memory have the `containerName` dimension.
    pub kind: Kind,
}

impl MetricDef {
    /// Whether the metric can be split by `containerName`.
    pub fn has_container_dimension(&self) -> bool {
        matches!(self.kind, Kind::Cpu | Kind::Memory)
    }
}

/// The metrics container groups emit (Linux groups only).
pub(super) const METRICS: [MetricDef; 4] = [
    MetricDef {
        name: "CpuUsage",
        localized: "CPU Usage",
        unit: "MilliCores",
        description: "CPU usage of the containers, in millicores.",
        kind: Kind::Cpu,
    },
    MetricDef {
        name: "MemoryUsage",
        localized: "Memory Usage",
        unit: "Bytes",
        description: "Memory usage of the containers, in bytes.",
        kind: Kind::Memory,
    },
    MetricDef {
        name: "NetworkBytesReceivedPerSecond",
        localized: "Network Bytes Received Per Second",
        unit: "Bytes",
        description: "Bytes the container group received per second.",
        kind: Kind::NetworkReceived,
    },
    MetricDef {
        name: "NetworkBytesTransmittedPerSecond",
        localized: "Network Bytes Transmitted Per Second",
        unit: "Bytes",
        description: "Bytes the container group transmitted per second.",
        kind: Kind::NetworkTransmitted,
    },
];

/// The namespace of the metrics, as Azure spells it in answers.
pub(super) const NAMESPACE: &str = "microsoft.containerinstance/containergroups";

/// An aggregation the metrics support.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Aggregation {
    /// Time-weighted average.
    Average,
    /// Smallest value.
    Minimum,
    /// Largest value.
    Maximum,
}

impl Aggregation {
    /// The field name in a data point.
    pub fn field(self) -> &'static str {
        match self {
            Self::Average => "average",
            Self::Minimum => "minimum",
            Self::Maximum => "maximum",
        }
    }

    pub(super) fn parse(text: &str) -> Result<Self, String> {
        match text.trim().to_ascii_lowercase().as_str() {
            "average" | "avg" => Ok(Self::Average),
            "minimum" | "min" => Ok(Self::Minimum),
            "maximum" | "max" => Ok(Self::Maximum),
            "total" | "count" => Err(format!(
                "Aggregation '{text}' is not supported by the metrics of {NAMESPACE}; supported aggregations are: Average, Minimum, Maximum."
            )),
            _ => Err(format!(
                "Invalid aggregation '{text}'. Valid aggregations are: Average, Minimum, Maximum, Total, Count."
            )),
        }
    }
}
