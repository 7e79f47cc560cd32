//! The streaming layer on in-memory connections, driven by the test kit's SPDY client.

// SPDY sessions, pings, resets and the remotecommand protocols.
mod sessions;
// Port-forward: ports, the WebSocket channel protocol, SPDY tunnelled in WebSocket.
mod portforward;
