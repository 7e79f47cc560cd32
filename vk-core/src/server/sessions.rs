//! Caps on the streaming sessions one client holds at once: exec, attach, port-forward
//! and `/run`.
//!
//! Each session holds an upgraded connection and a call into the provider for as long
//! as it lasts, so a single client could otherwise take every connection the server
//! allows ([`super::ConnectionLimits::max_connections`]) and lock everybody else out.
//! Clients are told apart by their authenticated user name, or by their IP address when
//! a request carries no user. A session over the cap is refused before the upgrade with
//! `429 Too Many Requests`, a `Retry-After` header and a `Status` body, as the API
//! server answers when it is overloaded.
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};

use http::Extensions;

use super::auth::UserInfo;
use super::error::{Error, Result};

/// Default of [`super::ServerState::max_sessions_per_client`]: 256 concurrent sessions.
///
/// The kubelet has no such cap. The API server proxies every `kubectl exec`, `attach` and
/// `port-forward` under its one kubelet client identity, so this bounds all proxied
/// sessions to the node together: 256 is far more than interactive use needs, and a
/// sixteenth of the default connection cap (4096), so one identity leaves room for
/// others.
pub const DEFAULT_MAX_SESSIONS_PER_CLIENT: usize = 256;

/// The address a connection came from, stored as a request extension by the TLS accept
/// loop ([`super::tls::serve`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientAddr(pub SocketAddr);

/// Who a session is counted against.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Client {
    /// An authenticated user.
    User(String),
    /// A request without a user, by IP address.
    Address(IpAddr),
    /// Neither is known (a router driven without the TLS accept loop).
    Unknown,
}

impl Client {
    fn of(extensions: &Extensions) -> Self {
        if let Some(user) = extensions.get::<UserInfo>() {
            return Self::User(user.username.clone());
        }
        match extensions.get::<ClientAddr>() {
            Some(ClientAddr(addr)) => Self::Address(addr.ip()),
            None => Self::Unknown,
        }
    }

    fn describe(&self) -> String {
        match self {
            Self::User(name) => format!("user {name:?}"),
            Self::Address(ip) => format!("client address {ip}"),
            Self::Unknown => "an unidentified client".to_owned(),
        }
    }
}

/// The sessions open per client, with the cap.
#[derive(Clone, Debug)]
pub(crate) struct Sessions {
    max: usize,
    open: Arc<Mutex<HashMap<Client, usize>>>,
}

impl Sessions {
    /// At most `max` sessions per client (at least one).
    pub(crate) fn new(max: usize) -> Self {
        Self {
            max: max.max(1),
            open: Arc::default(),
        }
    }

    /// Count a new session of the request's client, or refuse it when that client holds
    /// the cap already. The session ends when the slot is dropped.
    pub(crate) fn admit(&self, extensions: &Extensions) -> Result<SessionSlot> {
        let client = Client::of(extensions);
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        let count = open.entry(client.clone()).or_insert(0);
        if *count >= self.max {
            tracing::info!(client = %client.describe(), limit = self.max, "streaming session refused: too many open for this client");
            return Err(Error::TooManySessions {
                client: client.describe(),
                limit: self.max,
            });
        }
        *count += 1;
        Ok(SessionSlot {
            sessions: self.clone(),
            client,
        })
    }
}

/// One open session's place in its client's count; freed on drop.
#[derive(Debug)]
pub(crate) struct SessionSlot {
    sessions: Sessions,
    client: Client,
}

impl Drop for SessionSlot {
    fn drop(&mut self) {
        let mut open = self
            .sessions
            .open
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = open.get_mut(&self.client) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                open.remove(&self.client);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(name: &str) -> Extensions {
        let mut e = Extensions::new();
        e.insert(UserInfo {
            username: name.into(),
            ..UserInfo::default()
        });
        e
    }

    fn address(ip: [u8; 4]) -> Extensions {
        let mut e = Extensions::new();
        e.insert(ClientAddr(SocketAddr::from((ip, 40000))));
        e
    }

    #[test]
    fn each_client_should_get_its_own_cap_and_a_dropped_slot_should_free_its_place() {
        let sessions = Sessions::new(2);
        let a1 = sessions.admit(&user("alice")).unwrap();
        let _a2 = sessions.admit(&user("alice")).unwrap();
        let refused = sessions.admit(&user("alice")).unwrap_err();
        assert!(matches!(refused, Error::TooManySessions { limit: 2, .. }));
        assert_eq!(refused.status().0, http::StatusCode::TOO_MANY_REQUESTS);
        // Another user, and unauthenticated clients by address, count on their own.
        let _b = sessions.admit(&user("bob")).unwrap();
        let _ip1 = sessions.admit(&address([10, 0, 0, 1])).unwrap();
        let _ip1b = sessions.admit(&address([10, 0, 0, 1])).unwrap();
        assert!(sessions.admit(&address([10, 0, 0, 1])).is_err());
        let _ip2 = sessions.admit(&address([10, 0, 0, 2])).unwrap();
        drop(a1);
        let _a3 = sessions.admit(&user("alice")).unwrap();
    }

    #[test]
    fn a_user_should_be_counted_by_name_whatever_address_it_comes_from() {
        let sessions = Sessions::new(1);
        let mut first = address([10, 0, 0, 1]);
        first.insert(UserInfo {
            username: "alice".into(),
            ..UserInfo::default()
        });
        let mut second = address([10, 0, 0, 2]);
        second.insert(UserInfo {
            username: "alice".into(),
            ..UserInfo::default()
        });
        let _held = sessions.admit(&first).unwrap();
        assert!(sessions.admit(&second).is_err());
    }

    #[test]
    fn a_zero_cap_should_still_admit_one_session() {
        let sessions = Sessions::new(0);
        let _one = sessions.admit(&Extensions::new()).unwrap();
        assert!(sessions.admit(&Extensions::new()).is_err());
    }
}
