//! remotecommand streaming protocols: SPDY/3.1 and the WebSocket channel protocols.
