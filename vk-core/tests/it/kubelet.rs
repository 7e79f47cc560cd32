//! Tests: the kubelet HTTPS API over real TLS sockets, and real kubectl through the fake
//! API server's proxy.

// Certificates: a cluster CA, the API server's kubelet client certificate, serving certs.
mod pki;
// A small provider whose exec echoes, and the server started on 127.0.0.1:0.
mod harness;
// TLS, client certificates and refusals over a socket; SPDY exec over TLS.
mod tls;
// Port-forward over the WebSocket channel protocol, over TLS.
mod port_forward;
// Real kubectl through the fake API server's proxy.
mod kubectl;
// Bearer tokens and SubjectAccessReviews against the fake API server.
mod authz;
// Bounds on connections and pending TLS handshakes.
mod limits;
// Caps on the streaming sessions of one client.
mod sessions;
