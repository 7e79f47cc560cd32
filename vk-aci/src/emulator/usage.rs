//! The usage model behind the emulator's Azure Monitor metrics: what each container "uses"
//! (CPU in millicores, memory in bytes) as a function of time.
//!
//! A container's usage is piecewise constant. It starts from the value in its
//! `VK_EMULATOR_USAGE` environment variable (`cpu=250m,memory=64Mi`, Kubernetes quantities),
//! or [`ContainerUsage::DEFAULT`] without one, and changes wherever a test called
//! `EmulatorHandle::set_usage`, from that instant on. It exists only while the emulator's
//! state shows the container running ([`GroupRecord::run_span`](super::state::GroupRecord::run_span)),
//! so a metric bucket averages over the part of the bucket the container ran.
use std::collections::HashMap;

use jiff::Timestamp;
use vk_translate::container_group::Container;

/// The container environment variable that sets a container's usage, e.g.
/// `VK_EMULATOR_USAGE="cpu=250m,memory=64Mi"`. Either key may be left out (it keeps its
/// default); an unparsable value falls back to [`ContainerUsage::DEFAULT`] and is logged.
pub const USAGE_ENV: &str = "VK_EMULATOR_USAGE";

/// What a container uses at an instant.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ContainerUsage {
    /// CPU in millicores (1000 = one core).
    pub cpu_millicores: f64,
    /// Memory (working set) in bytes.
    pub memory_bytes: f64,
}

/// Why a usage specification was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UsageError {
    /// An entry is not `key=value`.
    #[error("usage entry '{entry}' is not key=value")]
    Malformed {
        /// The entry.
        entry: String,
    },
    /// A key other than `cpu` or `memory`.
    #[error("unknown usage key '{key}' (expected cpu or memory)")]
    UnknownKey {
        /// The key.
        key: String,
    },
    /// A value that is not a non-negative Kubernetes quantity.
    #[error("'{quantity}' is not a non-negative Kubernetes quantity")]
    InvalidQuantity {
        /// The value.
        quantity: String,
    },
}

// === impl ContainerUsage ===

impl ContainerUsage {
    /// The usage of a container without `VK_EMULATOR_USAGE` or an override: 1 millicore and
    /// 16 MiB, what an idle process (a shell, a sleeping server) shows in ACI.
    pub const DEFAULT: Self = Self {
        cpu_millicores: 1.0,
        memory_bytes: 16.0 * 1024.0 * 1024.0,
    };

    /// Parse `cpu=250m,memory=64Mi` (either key optional; a missing one keeps its default).
    /// CPU takes Kubernetes CPU quantities (`250m`, `0.5`, `2`), memory Kubernetes byte
    /// quantities (`64Mi`, `1Gi`, `1000000`, `1e6`, `128M`).
    ///
    /// # Errors
    /// [`UsageError`] for an entry without `=`, an unknown key or a bad quantity.
    pub fn parse(spec: &str) -> Result<Self, UsageError> {
        let mut usage = Self::DEFAULT;
        for entry in spec.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let Some((key, value)) = entry.split_once('=') else {
                return Err(UsageError::Malformed {
                    entry: entry.to_owned(),
                });
            };
            let value = value.trim();
            match key.trim().to_ascii_lowercase().as_str() {
                "cpu" => usage.cpu_millicores = quantity(value)? * 1000.0,
                "memory" => usage.memory_bytes = quantity(value)?,
                other => {
                    return Err(UsageError::UnknownKey {
                        key: other.to_owned(),
                    });
                }
            }
        }
        Ok(usage)
    }

    /// The usage a container's spec asks for: its `VK_EMULATOR_USAGE`, else the default.
    #[must_use]
    pub fn of(container: &Container) -> Self {
        let Some(spec) = container
            .properties
            .environment_variables
            .iter()
            .find(|e| e.name == USAGE_ENV)
            .and_then(|e| e.value.as_deref())
        else {
            return Self::DEFAULT;
        };
        Self::parse(spec).unwrap_or_else(|error| {
            tracing::warn!(container = %container.name, %error, "ignoring {USAGE_ENV}");
            Self::DEFAULT
        })
    }
}

impl Default for ContainerUsage {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// A Kubernetes quantity as a plain number: `250m` is 0.25, `64Mi` is 67108864, `1e3` is
/// 1000, `2k` is 2000.
fn quantity(text: &str) -> Result<f64, UsageError> {
    let invalid = || UsageError::InvalidQuantity {
        quantity: text.to_owned(),
    };
    let digits = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '+'))
        .unwrap_or(text.len());
    let (number, suffix) = text.split_at(digits);
    let number: f64 = number.parse().map_err(|_| invalid())?;
    let scale = match suffix {
        "" => 1.0,
        "n" => 1e-9,
        "u" => 1e-6,
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "E" => 1e18,
        "Ki" => 1024.0,
        "Mi" => 1024.0 * 1024.0,
        "Gi" => 1024.0 * 1024.0 * 1024.0,
        "Ti" => 1024.0_f64.powi(4),
        "Pi" => 1024.0_f64.powi(5),
        "Ei" => 1024.0_f64.powi(6),
        exponent if exponent.starts_with(['e', 'E']) => {
            let power: i32 = exponent[1..].parse().map_err(|_| invalid())?;
            10.0_f64.powi(power)
        }
        _ => return Err(invalid()),
    };
    let value = number * scale;
    if value.is_finite() && value >= 0.0 {
        Ok(value)
    } else {
        Err(invalid())
    }
}

/// Usage set by `EmulatorHandle::set_usage`, by group name and container, each change with
/// the wall time it took effect.
#[derive(Debug, Default)]
pub(crate) struct UsageOverrides {
    changes: HashMap<(String, String), Vec<(Timestamp, ContainerUsage)>>,
}

// === impl UsageOverrides ===

impl UsageOverrides {
    /// From `at` on, `container` of every group named `group` uses `usage`.
    pub fn set(&mut self, group: &str, container: &str, at: Timestamp, usage: ContainerUsage) {
        let changes = self
            .changes
            .entry((group.to_ascii_lowercase(), container.to_owned()))
            .or_default();
        let index = changes.partition_point(|(t, _)| *t <= at);
        changes.insert(index, (at, usage));
    }

    /// The changes for one container, oldest first.
    pub fn changes(&self, group: &str, container: &str) -> &[(Timestamp, ContainerUsage)] {
        self.changes
            .get(&(group.to_ascii_lowercase(), container.to_owned()))
            .map_or(&[], Vec::as_slice)
    }
}

/// One stretch of constant value over `[from, to)`, in nanoseconds since the Unix epoch.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Piece {
    /// Start (inclusive).
    pub from: i128,
    /// End (exclusive).
    pub to: i128,
    /// The value throughout.
    pub value: f64,
}

/// Average, minimum and maximum of a function over the part of a bucket where it is
/// defined.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Aggregate {
    /// Time-weighted average.
    pub average: f64,
    /// Smallest value taken.
    pub minimum: f64,
    /// Largest value taken.
    pub maximum: f64,
}

/// A container's usage over `[span.0, span.1)` as pieces, one per change: `base` until the
/// first change in `changes` (a change before the span sets the starting value), each
/// change from its instant on. `pick` chooses CPU or memory.
pub(crate) fn pieces(
    base: ContainerUsage,
    changes: &[(Timestamp, ContainerUsage)],
    span: (i128, i128),
    pick: fn(&ContainerUsage) -> f64,
) -> Vec<Piece> {
    let (from, to) = span;
    if from >= to {
        return Vec::new();
    }
    let mut current = base;
    let mut at = from;
    let mut out = Vec::new();
    for (when, usage) in changes {
        let when = when.as_nanosecond();
        if when <= from {
            current = *usage;
            continue;
        }
        if when >= to {
            break;
        }
        out.push(Piece {
            from: at,
            to: when,
            value: pick(&current),
        });
        at = when;
        current = *usage;
    }
    out.push(Piece {
        from: at,
        to,
        value: pick(&current),
    });
    out
}

/// The pointwise sum of several functions, defined wherever at least one is.
pub(crate) fn sum(series: &[&[Piece]]) -> Vec<Piece> {
    let mut edges: Vec<i128> = series
        .iter()
        .flat_map(|s| s.iter().flat_map(|p| [p.from, p.to]))
        .collect();
    edges.sort_unstable();
    edges.dedup();
    let mut out: Vec<Piece> = Vec::new();
    for window in edges.windows(2) {
        let (from, to) = (window[0], window[1]);
        let mut defined = false;
        let mut value = 0.0;
        for s in series {
            if let Some(p) = s.iter().find(|p| p.from <= from && to <= p.to) {
                defined = true;
                value += p.value;
            }
        }
        if !defined {
            continue;
        }
        match out.last_mut() {
            Some(last) if last.to == from && last.value == value => last.to = to,
            _ => out.push(Piece { from, to, value }),
        }
    }
    out
}

/// The aggregate of `pieces` over `[from, to)`, `None` where they are not defined at all.
pub(crate) fn aggregate(pieces: &[Piece], from: i128, to: i128) -> Option<Aggregate> {
    let mut covered = 0_i128;
    let mut weighted = 0.0;
    let mut minimum = f64::INFINITY;
    let mut maximum = f64::NEG_INFINITY;
    for p in pieces {
        let overlap = p.to.min(to) - p.from.max(from);
        if overlap <= 0 {
            continue;
        }
        covered += overlap;
        // Nanosecond spans of a query (at most days) are exact in an f64.
        let weight = overlap as f64;
        weighted += p.value * weight;
        minimum = minimum.min(p.value);
        maximum = maximum.max(p.value);
    }
    if covered == 0 {
        return None;
    }
    let average = weighted / covered as f64;
    Some(Aggregate {
        average,
        minimum,
        maximum,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i128 = 1_000_000_000;

    #[test]
    fn kubernetes_quantities_should_parse_like_kubernetes() {
        let u = ContainerUsage::parse("cpu=250m,memory=64Mi").unwrap();
        assert_eq!(u.cpu_millicores, 250.0);
        assert_eq!(u.memory_bytes, 64.0 * 1024.0 * 1024.0);
        let u = ContainerUsage::parse(" memory = 1Gi , cpu=0.5 ").unwrap();
        assert_eq!(
            (u.cpu_millicores, u.memory_bytes),
            (500.0, 1024.0_f64.powi(3))
        );
        assert_eq!(
            ContainerUsage::parse("cpu=2").unwrap().cpu_millicores,
            2000.0
        );
        assert_eq!(
            ContainerUsage::parse("memory=1000000")
                .unwrap()
                .memory_bytes,
            1e6
        );
        assert_eq!(
            ContainerUsage::parse("memory=1e3").unwrap().memory_bytes,
            1e3
        );
        assert_eq!(
            ContainerUsage::parse("memory=128M").unwrap().memory_bytes,
            128e6
        );
        let only_cpu = ContainerUsage::parse("cpu=100m").unwrap();
        assert_eq!(only_cpu.memory_bytes, ContainerUsage::DEFAULT.memory_bytes);
    }

    #[test]
    fn bad_usage_specs_should_be_errors_not_panics() {
        for bad in [
            "cpu",
            "gpu=1",
            "cpu=-1",
            "cpu=1x",
            "memory=Mi",
            "cpu=1e",
            "cpu=1e999",
            "cpu=é",
        ] {
            assert!(ContainerUsage::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_change_mid_span_should_split_the_pieces() {
        let base = ContainerUsage::DEFAULT;
        let high = ContainerUsage {
            cpu_millicores: 500.0,
            memory_bytes: 0.0,
        };
        let at = Timestamp::from_second(30).unwrap();
        let p = pieces(base, &[(at, high)], (0, 60 * S), |u| u.cpu_millicores);
        assert_eq!(p.len(), 2);
        let agg = aggregate(&p, 0, 60 * S).unwrap();
        assert_eq!(agg.average, 250.5);
        assert_eq!((agg.minimum, agg.maximum), (1.0, 500.0));
        // A change before the span sets the starting value.
        let p = pieces(base, &[(at, high)], (40 * S, 60 * S), |u| u.cpu_millicores);
        assert_eq!(
            p,
            vec![Piece {
                from: 40 * S,
                to: 60 * S,
                value: 500.0
            }]
        );
    }

    #[test]
    fn sums_should_add_where_defined_and_average_over_covered_time() {
        let a = [Piece {
            from: 0,
            to: 60 * S,
            value: 100.0,
        }];
        let b = [Piece {
            from: 0,
            to: 30 * S,
            value: 200.0,
        }];
        let total = sum(&[&a, &b]);
        assert_eq!(total.len(), 2);
        assert_eq!(aggregate(&total, 0, 60 * S).unwrap().average, 200.0);
        assert_eq!(aggregate(&total, 60 * S, 120 * S), None);
        // Only the covered part of a bucket counts.
        assert_eq!(aggregate(&a, 30 * S, 90 * S).unwrap().average, 100.0);
    }
}
