//! The topology labels the virtual node advertises.
//!
//! A real node sits in one zone and says so with `topology.kubernetes.io/zone` (AKS writes
//! `<region>-<number>`, e.g. `westus2-1`) and `topology.kubernetes.io/region`. A virtual
//! node always advertises its region. Its zone only when it was given exactly one
//! (`--zones 1`): then it is a node of that zone, and the scheduler's zone spreading and
//! zone selectors work as with real nodes. A node given several zones is in no single one
//! and a label holds one value, so it advertises no zone label (the scheduler then treats
//! it as it treats zoneless nodes); to let the scheduler place pods by zone, run one
//! virtual node per zone.
use vk_translate::NodeOptions;

/// The well-known region label.
pub const REGION_LABEL: &str = "topology.kubernetes.io/region";

/// The labels for `node`'s region and, when it has exactly one, its zone.
#[must_use]
pub fn topology_labels(node: &NodeOptions) -> Vec<(&'static str, String)> {
    let region = node.region.replace(' ', "").to_ascii_lowercase();
    if region.is_empty() {
        return Vec::new();
    }
    let mut labels = vec![(REGION_LABEL, region.clone())];
    if let [zone] = node.zones.as_slice() {
        labels.push((vk_translate::zones::ZONE_LABEL, format!("{region}-{zone}")));
    }
    labels
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_zone_should_be_advertised_in_the_aks_form_and_several_not_at_all() {
        let one = NodeOptions::default().region("West US 2").zones(["2"]);
        assert_eq!(
            topology_labels(&one),
            [
                (REGION_LABEL, "westus2".to_owned()),
                ("topology.kubernetes.io/zone", "westus2-2".to_owned())
            ]
        );
        let several = NodeOptions::default().region("westus2").zones(["1", "2"]);
        assert_eq!(
            topology_labels(&several),
            [(REGION_LABEL, "westus2".to_owned())]
        );
    }
}
