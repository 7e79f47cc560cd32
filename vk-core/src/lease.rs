//! The node Lease in `kube-node-lease`, renewed on a timer.
