//! Where an object lives: its resource, namespace and name.
use super::super::resources::ResId;

/// Where an object lives.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct ObjKey {
    /// The resource.
    pub res: ResId,
    /// Namespace, empty for cluster-scoped objects.
    pub ns: String,
    /// Name.
    pub name: String,
}

impl ObjKey {
    /// A key.
    pub fn new(res: ResId, ns: &str, name: &str) -> Self {
        Self {
            res,
            ns: ns.to_owned(),
            name: name.to_owned(),
        }
    }
}
