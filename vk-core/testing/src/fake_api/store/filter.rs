//! Which objects a list or watch selects: a namespace and label and field selectors.
use serde_json::Value;

use super::super::selectors::{FieldSelector, LabelSelector};
use super::key::ObjKey;

/// Which objects a list or watch selects.
#[derive(Clone, Debug, Default)]
pub(crate) struct Filter {
    /// Namespace, or all namespaces.
    pub ns: Option<String>,
    /// `labelSelector`.
    pub labels: LabelSelector,
    /// `fieldSelector`.
    pub fields: FieldSelector,
}

impl Filter {
    pub(super) fn matches(&self, key: &ObjKey, obj: &Value) -> bool {
        self.ns.as_ref().is_none_or(|ns| *ns == key.ns)
            && self.labels.matches(obj)
            && self.fields.matches(obj)
    }
}
