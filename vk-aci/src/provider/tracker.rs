//! Status tracking that scales: ARM's list has no instance view, so each pod's group is read
//! with its own GET, scheduled by need and paid from a fixed read budget.
//!
//! Pods in transition (pending, starting, just changed) are read every `fast_interval`, so a
//! transition shows within about that long. Stable pods (all containers running and ready,
//! or finished) are read every `max(slow_interval_min, n / reads_per_second)`, so the
//! steady state never spends more than `reads_per_second` reads. Every tick spends at most
//! the budget it accrued, due pods first by their due time, and changes are pushed through
//! the runtime's `PodNotifier`.
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use futures::StreamExt;

use k8s_openapi::api::core::v1::{Pod, PodStatus};
use tokio::time::{self, Duration, Instant};
use vk_core::clock::SharedClock;
use vk_core::provider::{PodKey, PodNotifier};
use vk_translate::container_group::{ContainerGroup, ProvisioningState};

use crate::arm::{ArmClient, Priority};

/// Status reads in flight at once (ARM answers a GET in ~100 ms: hundreds of reads a second).
const READS_IN_FLIGHT: usize = 32;

/// Tracker settings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StatusConfig {
    /// Read interval of pods in transition.
    pub fast_interval: Duration,
    /// Shortest read interval of stable pods.
    pub slow_interval_min: Duration,
    /// Reads per second the tracker may spend on stable pods (the steady state).
    pub reads_per_second: f64,
    /// Reads per second the tracker may spend on pods in transition (creating, starting,
    /// never read yet), on top of `reads_per_second`: a burst of new pods shows Running
    /// as fast as ARM's read budget allows, then the spending falls back to the steady rate.
    pub transition_reads_per_second: f64,
    /// How often the scheduler wakes up.
    pub tick: Duration,
}

impl Default for StatusConfig {
    /// 2 s for pods in transition (issue 7: a transition to Running shows within 5 s);
    /// stable pods at least every 60 s; 4 reads per second on stable pods (issue 7: under 5
    /// ARM reads per second in steady state) and up to 16 more on pods in transition (ARM
    /// refills 25 reads/s: foreground work keeps at least 5/s); wake every 250 ms.
    fn default() -> Self {
        Self {
            fast_interval: Duration::from_secs(2),
            slow_interval_min: Duration::from_secs(60),
            reads_per_second: 4.0,
            transition_reads_per_second: 16.0,
            tick: Duration::from_millis(250),
        }
    }
}

/// One tracked pod, kept compact: a typed `Pod` costs several KB even when small, so the
/// pod and its statuses are held as JSON and decoded only to translate a status or compare
/// an update (at most a few dozen times a second under ARM's read budget).
#[derive(Clone, Debug)]
pub(crate) struct Tracked {
    /// The pod without its status and managed fields, as JSON.
    pod: Box<[u8]>,
    pub group_name: String,
    /// The last status pushed or answered, as JSON.
    status: Option<Box<[u8]>>,
    /// [`fingerprint`] of `status`, hashed.
    status_print: Option<u64>,
    /// Whether `status` is [`settled`].
    settled: bool,
    /// The status the create's PUT answer showed, until the first read: what the runtime's
    /// first status request gets, without spending a read on it.
    put_status: Option<Box<[u8]>>,
    pub next_check: Instant,
    /// Whether this process PUT the group (its pod is then what the group was made from,
    /// for update comparisons).
    pub sent: bool,
    /// Containers whose `postStart` hook has not succeeded yet: their status is held
    /// ([`super::post_start_hold::hold`]).
    pub held: Vec<String>,
}

impl Tracked {
    /// A new entry for `pod`, due at once.
    pub fn new(pod: &Pod, group_name: String) -> Self {
        let mut tracked = Self {
            pod: Box::default(),
            group_name,
            status: None,
            status_print: None,
            settled: false,
            put_status: None,
            next_check: Instant::now(),
            sent: false,
            held: Vec::new(),
        };
        tracked.set_pod(pod);
        tracked
    }

    /// The pod, with the last status as its status.
    pub fn pod(&self) -> Pod {
        let mut pod: Pod = serde_json::from_slice(&self.pod).unwrap_or_default();
        pod.status = self.status();
        pod
    }

    /// Replace the pod (its status and managed fields are not kept).
    pub fn set_pod(&mut self, pod: &Pod) {
        let mut slim = Pod {
            metadata: pod.metadata.clone(),
            spec: pod.spec.clone(),
            status: None,
        };
        slim.metadata.managed_fields = None;
        self.pod = serde_json::to_vec(&slim).unwrap_or_default().into();
    }

    /// The pod's UID, without decoding the whole pod.
    pub fn uid(&self) -> Option<String> {
        #[derive(serde::Deserialize)]
        struct Meta {
            uid: Option<String>,
        }
        #[derive(serde::Deserialize)]
        struct Slim {
            metadata: Meta,
        }
        serde_json::from_slice::<Slim>(&self.pod)
            .ok()
            .and_then(|s| s.metadata.uid)
    }

    /// The last status pushed or answered.
    pub fn status(&self) -> Option<PodStatus> {
        decode(self.status.as_deref())
    }

    /// The status to answer with: the last one, else the PUT answer's.
    pub fn answer(&self) -> Option<PodStatus> {
        decode(self.status.as_deref().or(self.put_status.as_deref()))
    }

    /// Record `status` as the last one.
    pub fn set_status(&mut self, status: &PodStatus) {
        self.status = serde_json::to_vec(status).ok().map(Into::into);
        self.status_print = Some(print_of(status));
        self.settled = settled(status);
        self.put_status = None;
    }

    /// Record what the create's PUT answer showed.
    pub fn set_put_status(&mut self, status: &PodStatus) {
        self.put_status = serde_json::to_vec(status).ok().map(Into::into);
    }

    /// Whether `status` says something else than the last status.
    pub fn differs(&self, status: &PodStatus) -> bool {
        self.status_print != Some(print_of(status))
    }

    /// Whether the last status no longer moves on its own.
    pub fn is_settled(&self) -> bool {
        self.settled
    }

    /// Forget the PUT answer (a read has replaced it).
    pub fn clear_put_status(&mut self) {
        self.put_status = None;
    }
}

fn decode(bytes: Option<&[u8]>) -> Option<PodStatus> {
    bytes.and_then(|b| serde_json::from_slice(b).ok())
}

fn print_of(status: &PodStatus) -> u64 {
    use std::hash::{BuildHasher, BuildHasherDefault};
    // A fixed hasher: the value only compares statuses within this process.
    BuildHasherDefault::<std::collections::hash_map::DefaultHasher>::default()
        .hash_one(fingerprint(status).to_string())
}

/// The tracked pods, shared by the provider and the scheduler task.
#[derive(Debug, Default)]
pub(crate) struct Tracker {
    pub entries: Mutex<HashMap<PodKey, Tracked>>,
}

impl Tracker {
    pub fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<PodKey, Tracked>> {
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Whether a status needs watching closely.
pub(crate) fn in_transition(status: &PodStatus, group: &ContainerGroup) -> bool {
    let provisioned = matches!(
        group.properties.provisioning_state,
        Some(ProvisioningState::Succeeded | ProvisioningState::Failed)
    );
    !(provisioned && settled(status))
}

/// Whether a pod's status no longer moves on its own: Running with every container
/// running and ready, or finished.
pub(crate) fn settled(status: &PodStatus) -> bool {
    match status.phase.as_deref().unwrap_or("Pending") {
        "Running" => status
            .container_statuses
            .iter()
            .flatten()
            .all(|c| c.ready && c.state.as_ref().is_some_and(|s| s.running.is_some())),
        "Succeeded" | "Failed" => true,
        _ => false,
    }
}

/// What a status says, without the times that move on every reading.
pub(crate) fn fingerprint(status: &PodStatus) -> serde_json::Value {
    let mut value = serde_json::to_value(status).unwrap_or_default();
    if let Some(conditions) = value
        .get_mut("conditions")
        .and_then(serde_json::Value::as_array_mut)
    {
        for c in conditions {
            if let Some(c) = c.as_object_mut() {
                c.remove("lastTransitionTime");
                c.remove("lastProbeTime");
            }
        }
    }
    value
}

/// Run the scheduler until the tracker is dropped elsewhere and this task aborted.
pub(crate) async fn run(
    tracker: Arc<Tracker>,
    arm: ArmClient,
    notifier: PodNotifier,
    clock: SharedClock,
    config: StatusConfig,
) {
    let mut ticker = time::interval(config.tick);
    ticker.set_missed_tick_behavior(time::MissedTickBehavior::Delay);
    let tick = config.tick.as_secs_f64();
    // Two budgets: stable pods spend the steady one, pods in transition the other.
    let mut steady = 0.0f64;
    let mut transition = 0.0f64;
    loop {
        ticker.tick().await;
        steady = (steady + config.reads_per_second * tick).min(config.reads_per_second.max(1.0));
        transition = (transition + config.transition_reads_per_second * tick)
            .min(config.transition_reads_per_second.max(0.0));
        let now = Instant::now();
        let due: Vec<(PodKey, String, Pod)> = {
            let entries = tracker.lock();
            let mut due: Vec<(&PodKey, &Tracked)> = entries
                .iter()
                .filter(|(_, t)| t.next_check <= now)
                .collect();
            due.sort_by_key(|(_, t)| t.next_check);
            let mut picked = Vec::new();
            for (key, t) in due {
                // Pods in transition spend their own budget first, then the steady one.
                let budget = if !t.is_settled() && transition >= 1.0 {
                    &mut transition
                } else {
                    &mut steady
                };
                if *budget >= 1.0 {
                    *budget -= 1.0;
                    picked.push((key.clone(), t.group_name.clone(), t.pod()));
                } else if steady < 1.0 && transition < 1.0 {
                    break;
                }
            }
            picked
        };
        if due.is_empty() {
            continue;
        }
        let reads = due.into_iter().map(|(key, name, pod)| {
            let arm = arm.clone();
            async move {
                let result = arm.get::<ContainerGroup>(&name, Priority::Background).await;
                (key, pod, result)
            }
        });
        // Bounded: a large budget (or a backlog) must not open thousands of requests at once.
        let results: Vec<_> = futures::stream::iter(reads)
            .buffer_unordered(READS_IN_FLIGHT)
            .collect()
            .await;
        let mut entries = tracker.lock();
        // Pod counts are exact in an f64.
        let slow = config.slow_interval_min.max(Duration::from_secs_f64(
            entries.len() as f64 / config.reads_per_second.max(0.1) * 1.25,
        ));
        apply_reads(&mut entries, results, &notifier, clock.now(), &config, slow);
    }
}

/// What one status read found, for the pod it was read for.
pub(crate) type StatusRead = (PodKey, Pod, crate::arm::Result<ContainerGroup>);

/// Apply a batch of status reads to the tracked pods and push what changed. A read made
/// for a pod that no longer holds its key (deleted and recreated under the same name while
/// the batch was out) is dropped: its answer describes another pod's group.
pub(crate) fn apply_reads(
    entries: &mut HashMap<PodKey, Tracked>,
    results: Vec<StatusRead>,
    notifier: &PodNotifier,
    wall: jiff::Timestamp,
    config: &StatusConfig,
    slow: Duration,
) {
    let now = Instant::now();
    for (key, pod, result) in results {
        let read_for = pod.metadata.uid.as_deref();
        let Some(entry) = entries.get_mut(&key) else {
            continue;
        };
        if entry.uid().as_deref() != read_for {
            tracing::debug!(pod = %key, "status read for an earlier pod of that name dropped");
            continue;
        }
        match result {
            Ok(group) => {
                let mut status = vk_translate::status::pod_status(&group, &pod, wall);
                super::post_start_hold::hold(&mut status, &entry.held);
                let changed = entry.differs(&status);
                let transition = in_transition(&status, &group);
                entry.next_check = now
                    + if changed || transition {
                        config.fast_interval
                    } else {
                        slow
                    };
                entry.clear_put_status();
                if changed {
                    entry.set_status(&status);
                    notifier.notify(key, Some(status));
                }
            }
            Err(e) if e.is_not_found() => {
                entries.remove(&key);
                notifier.notify(key, None);
            }
            Err(e) => {
                tracing::debug!(pod = %key, error = %e, "status read failed");
                entry.next_check = now + config.fast_interval * 2;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(uid: &str) -> Pod {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": "web-0", "namespace": "default", "uid": uid},
            "spec": {"containers": [{"name": "app", "image": "nginx"}]}
        }))
        .unwrap()
    }

    fn not_found() -> crate::arm::Error {
        crate::arm::Error::Api {
            operation: "container_groups.get",
            status: 404,
            code: "ResourceNotFound".into(),
            message: "gone".into(),
            retry_after: None,
        }
    }

    /// Track pod `web-0` with `tracked_uid`, apply a 404 read made for `read_uid`: the
    /// entries left and the updates pushed.
    fn gone_read(tracked_uid: &str, read_uid: &str) -> (HashMap<PodKey, Tracked>, usize) {
        let key = PodKey::new("default", "web-0");
        let mut entries = HashMap::from([(
            key.clone(),
            Tracked::new(&pod(tracked_uid), "default-web-0".into()),
        )]);
        let (notifier, updates) = PodNotifier::channel();
        apply_reads(
            &mut entries,
            vec![(key, pod(read_uid), Err(not_found()))],
            &notifier,
            jiff::Timestamp::UNIX_EPOCH,
            &StatusConfig::default(),
            Duration::from_secs(60),
        );
        (entries, updates.drain().len())
    }

    #[tokio::test]
    async fn a_read_for_an_earlier_pod_of_that_name_should_not_touch_the_new_one() {
        // The batch went out for uid-old; meanwhile uid-new took the key.
        let (entries, pushed) = gone_read("uid-new", "uid-old");
        assert_eq!(entries.len(), 1, "the new pod is still tracked");
        assert_eq!(pushed, 0, "nothing is pushed for the new pod");
    }

    #[tokio::test]
    async fn a_read_for_the_pod_itself_should_still_apply() {
        let (entries, pushed) = gone_read("uid-a", "uid-a");
        assert!(entries.is_empty());
        assert_eq!(pushed, 1, "the gone pod is pushed");
    }
}
