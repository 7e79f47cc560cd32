//! Container group names and the tags that tie a group back to its pod.
//!
//! A group is named `<namespace>-<pod name>` when that is a valid ARM name and cannot be
//! confused with another pod's; otherwise the name is cleaned and shortened and a hash of
//! `<namespace>/<pod name>` is appended. The tag keys are the upstream ACI provider's, so
//! groups it created can be adopted.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

/// Longest container group name ARM accepts.
pub const MAX_GROUP_NAME_LEN: usize = 63;

/// Tag holding the pod's name (upstream provider's key).
pub const TAG_POD_NAME: &str = "PodName";
/// Tag holding the pod's namespace (upstream provider's key).
pub const TAG_NAMESPACE: &str = "Namespace";
/// Tag holding the cluster name (upstream provider's key).
pub const TAG_CLUSTER_NAME: &str = "ClusterName";
/// Tag holding the virtual node's name (upstream provider's key).
pub const TAG_NODE_NAME: &str = "NodeName";
/// Tag holding the pod's UID (upstream provider's key).
pub const TAG_POD_UID: &str = "UID";
/// Tag holding the pod's creation timestamp, RFC 3339 (upstream provider's key).
pub const TAG_CREATION_TIMESTAMP: &str = "CreationTimestamp";
/// Tag holding the identity of the cluster that created the group (see
/// [`container_group_name_in`]): two clusters sharing a resource group never adopt, sweep
/// or overwrite each other's groups.
pub const TAG_CLUSTER_ID: &str = "ClusterId";

/// Number of hex digits of the hash suffix (40 bits).
const HASH_LEN: usize = 10;

/// The container group name for a pod: 1-63 characters of `[a-z0-9-]`, no leading, trailing
/// or double hyphen, and different for every different `(namespace, name)`.
///
/// `<namespace>-<name>` is used as is when the namespace has no hyphen (so the first hyphen
/// separates the two), the whole is a valid name, and it does not end like a hash suffix;
/// every other pair gets a cleaned, shortened prefix plus `-` and 10 hex digits of
/// SHA-256(`namespace/name`). The two forms cannot meet: only hashed names end in a
/// hash-like suffix.
#[must_use]
pub fn container_group_name(namespace: &str, pod_name: &str) -> String {
    let plain = format!("{namespace}-{pod_name}");
    if !namespace.contains('-')
        && !namespace.is_empty()
        && is_valid_container_group_name(&plain)
        && !ends_like_hash(&plain)
    {
        return plain;
    }
    hashed_name(&plain, &format!("{namespace}/{pod_name}"))
}

/// `{prefix}-{hash}`: `plain` cleaned and cut to fit, and the first hex digits of the
/// SHA-256 of `key`.
fn hashed_name(plain: &str, key: &str) -> String {
    let digest = Sha256::digest(key.as_bytes());
    let hash: String = digest
        .iter()
        .flat_map(|b| [b >> 4, b & 0xf])
        .take(HASH_LEN)
        .map(|n| char::from_digit(u32::from(n), 16).expect("invariant: a nibble is a hex digit"))
        .collect();
    let mut prefix = clean(plain);
    prefix.truncate(MAX_GROUP_NAME_LEN - HASH_LEN - 1);
    let prefix = prefix.trim_end_matches('-');
    if prefix.is_empty() {
        hash
    } else {
        format!("{prefix}-{hash}")
    }
}

/// The group name of pod `namespace/pod_name` for the cluster `cluster_id`: without one,
/// [`container_group_name`] (the upstream provider's names); with one, always the hashed
/// form, the hash taken over the cluster, namespace and name, so the same pod name in two
/// clusters sharing a resource group gives two groups.
#[must_use]
pub fn container_group_name_in(
    cluster_id: Option<&str>,
    namespace: &str,
    pod_name: &str,
) -> String {
    let Some(cluster) = cluster_id.filter(|c| !c.is_empty()) else {
        return container_group_name(namespace, pod_name);
    };
    hashed_name(
        &format!("{namespace}-{pod_name}"),
        &format!("{cluster}/{namespace}/{pod_name}"),
    )
}

/// Whether ARM accepts `name` as a container group name.
#[must_use]
pub fn is_valid_container_group_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_GROUP_NAME_LEN
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-')
        && !name.contains("--")
}

/// Lower-case, invalid characters to `-`, no double, leading or trailing hyphen.
fn clean(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for c in raw.chars() {
        let c = c.to_ascii_lowercase();
        let c = if c.is_ascii_lowercase() || c.is_ascii_digit() {
            c
        } else {
            '-'
        };
        if c == '-' && (out.is_empty() || out.ends_with('-')) {
            continue;
        }
        out.push(c);
    }
    out.trim_end_matches('-').to_owned()
}

fn ends_like_hash(name: &str) -> bool {
    let Some((_, tail)) = name.rsplit_once('-') else {
        return false;
    };
    tail.len() == HASH_LEN
        && tail
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The pod a container group was created for, read back from its tags.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PodTags {
    /// The pod's namespace.
    pub namespace: String,
    /// The pod's name.
    pub name: String,
    /// The pod's UID, when tagged.
    pub uid: Option<String>,
    /// The node that created the group, when tagged.
    pub node_name: Option<String>,
    /// The cluster, when tagged.
    pub cluster_name: Option<String>,
    /// The pod's creation timestamp as tagged (RFC 3339), when tagged.
    pub creation_timestamp: Option<String>,
    /// The cluster identity ([`TAG_CLUSTER_ID`]), when the group carries one.
    pub cluster_id: Option<String>,
}

/// Reads the pod identity from a group's tags; `None` when the namespace or the pod name is
/// missing (the group was not created by a virtual node).
#[must_use]
pub fn pod_key_from_tags(tags: &BTreeMap<String, String>) -> Option<PodTags> {
    let get = |key: &str| tags.get(key).filter(|v| !v.is_empty()).cloned();
    Some(PodTags {
        namespace: get(TAG_NAMESPACE)?,
        name: get(TAG_POD_NAME)?,
        uid: get(TAG_POD_UID),
        node_name: get(TAG_NODE_NAME),
        cluster_name: get(TAG_CLUSTER_NAME),
        creation_timestamp: get(TAG_CREATION_TIMESTAMP),
        cluster_id: get(TAG_CLUSTER_ID),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cluster_identity_should_give_each_cluster_its_own_group_name() {
        let a = container_group_name_in(Some("cluster-a"), "default", "web-0");
        let b = container_group_name_in(Some("cluster-b"), "default", "web-0");
        assert_ne!(a, b);
        assert!(a.starts_with("default-web-0-"), "{a}");
        assert!(is_valid_container_group_name(&a) && is_valid_container_group_name(&b));
        assert_eq!(
            container_group_name_in(None, "default", "web-0"),
            container_group_name("default", "web-0")
        );
    }

    #[test]
    fn simple_names_should_be_namespace_dash_name() {
        assert_eq!(container_group_name("default", "nginx"), "default-nginx");
        assert_eq!(
            container_group_name("virtualnode", "nginx-vn-7d9f8b6c4d-x2x7k"),
            "virtualnode-nginx-vn-7d9f8b6c4d-x2x7k"
        );
    }

    #[test]
    fn hyphenated_namespaces_should_not_collide() {
        let a = container_group_name("a-b", "c");
        let b = container_group_name("a", "b-c");
        assert_ne!(a, b);
        assert!(is_valid_container_group_name(&a), "{a}");
        assert!(is_valid_container_group_name(&b), "{b}");
    }

    #[test]
    fn long_and_dotted_names_should_be_shortened_with_hash() {
        let long = "x".repeat(253);
        let name = container_group_name("default", &long);
        assert!(is_valid_container_group_name(&name), "{name}");
        assert_ne!(name, container_group_name("default", &"x".repeat(252)));
        let dotted = container_group_name("default", "web.v1..x");
        assert!(is_valid_container_group_name(&dotted), "{dotted}");
        assert!(dotted.starts_with("default-web-v1-x-"));
    }

    #[test]
    fn plain_name_looking_hashed_should_be_hashed() {
        let tricky = container_group_name("a", "b-c-0123456789");
        assert_ne!(tricky, "a-b-c-0123456789");
        assert!(is_valid_container_group_name(&tricky));
    }

    #[test]
    fn invalid_names_should_be_rejected() {
        for bad in ["", "-a", "a-", "a--b", "A", "a.b", &"a".repeat(64)] {
            assert!(!is_valid_container_group_name(bad), "{bad}");
        }
    }

    #[test]
    fn tags_should_give_back_the_pod() {
        let tags = BTreeMap::from([
            (TAG_NAMESPACE.to_owned(), "default".to_owned()),
            (TAG_POD_NAME.to_owned(), "web".to_owned()),
            (TAG_POD_UID.to_owned(), "u-1".to_owned()),
        ]);
        let pod = pod_key_from_tags(&tags).unwrap();
        assert_eq!(
            (pod.namespace.as_str(), pod.name.as_str()),
            ("default", "web")
        );
        assert_eq!(pod.uid.as_deref(), Some("u-1"));
        assert!(pod_key_from_tags(&BTreeMap::new()).is_none());
    }
}
