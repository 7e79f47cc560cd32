//! The pod controller: watch pods bound to the node, reconcile them with the provider.
