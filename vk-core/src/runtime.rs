//! The runtime builder that ties node, lease and pod controller together.
