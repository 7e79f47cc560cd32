//! The emulator's state: container groups and how they move through time.
//!
//! Nothing runs in the background: every view is computed from the tokio clock when asked
//! (creation time + delays + each container's behaviour), so a paused test clock drives the
//! whole state machine.
//!
//! Timeline of a group after its PUT: `Pending` for `pending_delay`, then `Creating` (image
//! pull) for `creating_delay`, then provisioned (`Succeeded`) with its containers started,
//! or `Failed` under the failed-provisioning fault.
//!
//! A container's behaviour follows its command (see [`Behaviour::of`]).
mod behaviour;
mod group;
mod instance_view;
mod wall_clock;

pub use behaviour::Behaviour;
pub use group::{
    ContainerNow, EVICTION_EVENT, GroupRecord, Groups, Phase, Stopped, Timeline, group_key,
};
pub use instance_view::{list_view, strip_secrets};
pub use wall_clock::WallClock;

#[cfg(test)]
mod tests;
