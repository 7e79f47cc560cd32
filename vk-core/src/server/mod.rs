//! The kubelet HTTPS API on :10250: logs, exec, attach, port-forward, stats, metrics.
