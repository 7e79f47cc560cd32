//! Watch plumbing: the event log's entries, what a watcher receives and where a watch
//! starts, and how a change looks through a watch's selectors (a Modified event that makes
//! an object match is an ADDED for that watch, one that makes it stop matching a DELETED).
use std::sync::Arc;

use serde_json::Value;
use tokio::sync::mpsc;

use super::super::resources::ResId;
use super::filter::Filter;
use super::key::ObjKey;

/// What happened to an object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum EventType {
    /// Created, or started matching a watch's selectors.
    Added,
    /// Changed.
    Modified,
    /// Removed, or stopped matching a watch's selectors.
    Deleted,
}

impl EventType {
    /// The watch event `type`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Added => "ADDED",
            Self::Modified => "MODIFIED",
            Self::Deleted => "DELETED",
        }
    }
}

/// One entry of the event log.
#[derive(Clone, Debug)]
pub(super) struct LoggedEvent {
    pub(super) rv: u64,
    pub(super) kind: EventType,
    pub(super) key: ObjKey,
    pub(super) obj: Arc<Value>,
    pub(super) prev: Option<Arc<Value>>,
}

/// What a watcher receives, in order.
#[derive(Clone, Debug)]
pub(crate) enum WatchMsg {
    /// An event for an object.
    Event(EventType, Arc<Value>),
    /// A bookmark at this resourceVersion.
    Bookmark(u64),
}

/// A live watch: its resource, selectors and channel.
pub(super) struct Watcher {
    pub(super) id: u64,
    pub(super) res: ResId,
    pub(super) filter: Filter,
    pub(super) tx: mpsc::UnboundedSender<WatchMsg>,
}

/// Where a watch starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum WatchFrom {
    /// Current state as synthetic ADDED events, then changes (no resourceVersion, or "0").
    Now,
    /// Every change after this resourceVersion.
    After(u64),
}

/// A registered watch.
pub(crate) struct WatchHandle {
    /// Id for [`Store::bookmark`] and [`Store::unwatch`].
    pub id: u64,
    /// Events to send first.
    pub initial: Vec<WatchMsg>,
    /// Live events.
    pub rx: mpsc::UnboundedReceiver<WatchMsg>,
    /// The store's resourceVersion when the watch was registered.
    pub rv: u64,
}

/// What a watcher with `filter` sees of `ev`: selectors turn a change that makes an object
/// start matching into ADDED and one that makes it stop matching into DELETED.
pub(super) fn transition(filter: &Filter, ev: &LoggedEvent) -> Option<WatchMsg> {
    let now = filter.matches(&ev.key, &ev.obj);
    let before = ev.prev.as_ref().is_some_and(|p| filter.matches(&ev.key, p));
    let kind = match ev.kind {
        EventType::Added => now.then_some(EventType::Added)?,
        EventType::Deleted => (now || before).then_some(EventType::Deleted)?,
        EventType::Modified => match (before, now) {
            (true, true) => EventType::Modified,
            (false, true) => EventType::Added,
            (true, false) => EventType::Deleted,
            (false, false) => return None,
        },
    };
    Some(WatchMsg::Event(kind, ev.obj.clone()))
}
