//! [`AciProvider`]: vk-core's `Provider` for Azure Container Instances.
//!
//! Pods become container groups (translated by vk-translate, PUT with identifying tags);
//! status comes from a budgeted GET scheduler ([`tracker`]) that pushes changes to the
//! runtime; logs and exec go through ACI's APIs ([`logs`], [`exec`]). Errors become
//! `ProviderError`s in one place ([`errors`]).
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use bytes::Bytes;
use k8s_openapi::api::core::v1::{Node, PersistentVolume, Pod, PodStatus};
use tokio::task::JoinHandle;
use tokio::time::{Duration, Instant};
use vk_core::clock::SharedClock;
use vk_core::provider::{
    ExecIo, LogOptions, LogStream, PodKey, PodNotifier, PodResources, PodStats, Provider,
    ProviderError, ProviderPod, Result,
};
use vk_translate::container_group::{ContainerGroup, OperatingSystemTypes, RestartPolicy};

use crate::arm::{ArmClient, Priority};
use crate::images::ImageResolver;
use crate::monitor::MonitorClient;

mod adoption;
pub mod errors;
pub mod exec;
pub mod hooks;
mod in_place_update;
pub mod kube_proxy;
pub mod logs;
mod node_settings;
mod post_start_hold;
pub mod realtime;
pub mod stats;
pub mod tracker;
mod translation;
pub mod usage;
pub mod zones;

use adoption::skeleton_pod;
use in_place_update::{group_images, pod_images, spec_without_images};
pub use node_settings::{AciConfig, Capacity, NODE_LABELS};
pub use stats::StatsConfig;
pub use tracker::StatusConfig;

/// The ACI provider.
#[derive(Debug)]
pub struct AciProvider {
    arm: ArmClient,
    config: AciConfig,
    clock: SharedClock,
    tracker: Arc<tracker::Tracker>,
    task: Mutex<Option<JoinHandle<()>>>,
    last_ping: Mutex<Option<Instant>>,
    /// Reads image ENTRYPOINTs for containers with args and no command (issue 9).
    images: Option<Arc<ImageResolver>>,
    /// Pod statistics from Azure Monitor.
    stats: Arc<stats::Stats>,
    /// Lifecycle hooks ([`hooks`]).
    hooks: Arc<hooks::Hooks>,
    /// One permit per open `kubectl logs -f` ([`logs::FollowLimits::max_streams`]).
    follows: Arc<tokio::sync::Semaphore>,
}

// === impl AciProvider ===

impl AciProvider {
    /// A provider over `arm`.
    #[must_use]
    pub fn new(arm: ArmClient, config: AciConfig, clock: SharedClock) -> Self {
        let stats = Arc::new(stats::Stats::new(
            MonitorClient::per_resource(arm.clone()),
            config.stats,
        ));
        let follows = Arc::new(tokio::sync::Semaphore::new(config.logs_follow.max_streams));
        Self {
            stats,
            arm,
            config,
            clock,
            tracker: Arc::default(),
            task: Mutex::new(None),
            last_ping: Mutex::new(None),
            images: None,
            hooks: Arc::default(),
            follows,
        }
    }

    /// Reads the ENTRYPOINT of the image of each container with `args` and no `command` from
    /// its registry before translating, so the container runs `ENTRYPOINT + args` as on a
    /// kubelet. Without a resolver the args run alone, with a warning.
    #[must_use]
    pub fn with_image_resolver(mut self, resolver: Arc<ImageResolver>) -> Self {
        self.images = Some(resolver);
        self
    }

    /// Read pod statistics through `monitor` (the batch API where it has an endpoint);
    /// without this, groups are read one a call through Resource Manager.
    #[must_use]
    pub fn with_monitor(mut self, monitor: MonitorClient) -> Self {
        self.stats = Arc::new(stats::Stats::new(monitor, self.config.stats));
        self
    }

    /// The ARM client (metrics, budget).
    #[must_use]
    pub fn arm(&self) -> &ArmClient {
        &self.arm
    }

    fn tracking(&self) -> bool {
        self.task
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .is_some()
    }

    /// The group of `key`: the one tracked (an adopted group keeps the name it was created
    /// with, from before a cluster identity was set, say), else this cluster's name for it.
    fn group_name(&self, key: &PodKey) -> String {
        if let Some(tracked) = self.tracker.lock().get(key) {
            return tracked.group_name.clone();
        }
        self.config.node.group_name(&key.namespace, &key.name)
    }

    async fn translate(
        &self,
        pod: &Pod,
        resources: &PodResources,
    ) -> Result<vk_translate::Translation> {
        translation::translate(pod, resources, self.images.as_deref(), &self.config).await
    }

    /// Track `pod`; `sent` when this process just PUT its group.
    fn track(&self, key: PodKey, pod: &Pod, name: String, sent: bool, status: Option<PodStatus>) {
        let mut entries = self.tracker.lock();
        let entry = match entries.entry(key) {
            std::collections::hash_map::Entry::Occupied(e) => {
                let entry = e.into_mut();
                entry.set_pod(pod);
                entry.group_name = name;
                entry
            }
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(tracker::Tracked::new(pod, name))
            }
        };
        entry.next_check = Instant::now() + self.config.status.fast_interval;
        entry.sent |= sent;
        if let Some(status) = &status {
            entry.set_status(status);
        }
    }

    /// Stop tracking `key` if it is still the pod with `uid` (a newer pod of that name
    /// keeps its entry).
    fn forget(&self, key: &PodKey, uid: &str) {
        let mut entries = self.tracker.lock();
        if entries
            .get(key)
            .is_some_and(|t| t.uid().is_none_or(|u| u == uid))
        {
            entries.remove(key);
        }
    }

    /// Run `hooks` (`postStart`) in the background once their containers run.
    fn spawn_post_start(&self, pod: &Pod, group: String, post_start: Vec<(String, Vec<String>)>) {
        if post_start.is_empty() {
            return;
        }
        let task = Arc::new(hooks::PostStart {
            arm: self.arm.clone(),
            tracker: self.tracker.clone(),
            hooks: self.hooks.clone(),
            key: PodKey::of(pod),
            uid: pod.metadata.uid.clone(),
            group,
            shell: hooks::shell_of(pod),
            restart_policy: match pod.spec.as_ref().and_then(|s| s.restart_policy.as_deref()) {
                Some("Never") => RestartPolicy::Never,
                Some("OnFailure") => RestartPolicy::OnFailure,
                _ => RestartPolicy::Always,
            },
            poll: self.config.status.fast_interval,
        });
        for (container, command) in post_start {
            tokio::spawn(task.clone().run(container, command));
        }
    }

    fn tracked_pod(&self, key: &PodKey) -> Option<Pod> {
        self.tracker.lock().get(key).map(tracker::Tracked::pod)
    }
}

#[async_trait]
impl Provider for AciProvider {
    fn name(&self) -> &str {
        "azure"
    }

    async fn create_pod(&self, pod: &Pod, resources: &PodResources) -> Result<()> {
        let key = PodKey::of(pod);
        let translation = self.translate(pod, resources).await?;
        let what = format!("pod {key} (container group {})", translation.name);
        let started = self
            .arm
            .begin_create_or_update::<_, ContainerGroup>(
                &translation.name,
                &translation.container_group,
            )
            .await
            .map_err(|e| errors::from_arm(e, &what))?;
        tracing::info!(pod = %key, group = %translation.name, status = started.status, "container group created");
        // No status is recorded yet: the tracker's first read is pushed to the runtime. The
        // PUT answer is the group's first state: the runtime's own first status read is
        // answered from it rather than with another GET.
        let first = vk_translate::status::pod_status(&started.resource, pod, self.clock.now());
        let post_start = hooks::post_start_commands(&translation);
        let group = translation.name.clone();
        self.track(key.clone(), pod, translation.name, true, None);
        if let Some(entry) = self.tracker.lock().get_mut(&key) {
            entry.held = post_start.iter().map(|(c, _)| c.clone()).collect();
            let mut first = first;
            post_start_hold::hold(&mut first, &entry.held);
            entry.set_put_status(&first);
        }
        self.spawn_post_start(pod, group, post_start);
        Ok(())
    }

    async fn update_pod(&self, pod: &Pod, resources: &PodResources) -> Result<()> {
        let key = PodKey::of(pod);
        let translation = self.translate(pod, resources).await?;
        // The group the pod has: an adopted one keeps the name it was created with (before
        // a cluster identity was set, say), which the translation does not know.
        let name = self.group_name(&key);
        let what = format!("pod {key} (container group {name})");
        // Kubernetes lets a pod's spec change only in place: images (which ACI takes with a
        // new PUT), and fields such as resources (in-place resize) that ACI cannot change.
        // Compare pod specs, not translations, so rotated secrets or tokens never count.
        let known = self
            .tracker
            .lock()
            .get(&key)
            .filter(|t| t.sent)
            .map(tracker::Tracked::pod);
        if let Some(old) = known {
            if spec_without_images(&old) != spec_without_images(pod) {
                return Err(ProviderError::unsupported(format!(
                    "ACI can change only container images of a running container group; {key} \
                     changed more than that: delete the pod to recreate it"
                )));
            }
            if pod_images(&old) == pod_images(pod) {
                self.track(key, pod, name, false, None);
                return Ok(());
            }
        }
        // After a restart only ARM's view is left: compare images with it.
        let previous = self
            .arm
            .get::<ContainerGroup>(&name, Priority::Foreground)
            .await
            .map_err(|e| errors::from_arm(e, &what))?;
        if group_images(&previous) == group_images(&translation.container_group) {
            self.track(key, pod, name, false, None);
            return Ok(());
        }
        self.arm
            .begin_create_or_update::<_, ContainerGroup>(&name, &translation.container_group)
            .await
            .map_err(|e| errors::from_arm(e, &what))?;
        // New images are new containers: their postStart hooks run again, as on a kubelet.
        let post_start = hooks::post_start_commands(&translation);
        let group = name.clone();
        self.track(key.clone(), pod, name, true, None);
        if let Some(entry) = self.tracker.lock().get_mut(&key) {
            entry.held = post_start.iter().map(|(c, _)| c.clone()).collect();
        }
        self.spawn_post_start(pod, group, post_start);
        Ok(())
    }

    async fn delete_pod(&self, pod: &Pod) -> Result<()> {
        let key = PodKey::of(pod);
        let name = self.group_name(&key);
        let what = format!("pod {key} (container group {name})");
        // The group is named after the pod's namespace and name, not its UID: a pod
        // recreated under the same name (a StatefulSet's) owns the same group name. Read
        // the group's UID tag first, so a late delete of the old pod never removes the new
        // pod's group. ARM has no conditional delete on tags; the read comes just before
        // the delete, and this process is the node's only actor (its Lease).
        let mut current = None;
        if let Some(uid) = pod.metadata.uid.as_deref() {
            match self
                .arm
                .get::<ContainerGroup>(&name, Priority::Foreground)
                .await
            {
                Ok(group) => {
                    let owner = vk_translate::pod_key_from_tags(&group.tags).and_then(|t| t.uid);
                    if let Some(owner) = owner.filter(|o| o != uid) {
                        tracing::info!(pod = %key, %uid, group = %name, %owner, "container group belongs to a newer pod of that name; not deleted");
                        self.hooks.deleted(uid);
                        self.forget(&key, uid);
                        return Ok(());
                    }
                    current = Some(group);
                }
                Err(e) if e.is_not_found() => {
                    self.hooks.deleted(uid);
                    self.forget(&key, uid);
                    return Ok(());
                }
                Err(e) => return Err(errors::from_arm(e, &what)),
            }
        }
        // preStop hooks, in the containers that run, within the grace period (nothing to
        // do, and no call, for pods without any).
        hooks::pre_stop(&self.arm, &self.hooks, pod, &name, current.as_ref()).await;
        self.arm
            .begin_delete(&name)
            .await
            .map_err(|e| errors::from_arm(e, &what))?;
        if let Some(uid) = pod.metadata.uid.as_deref() {
            self.hooks.deleted(uid);
        }
        match pod.metadata.uid.as_deref() {
            Some(uid) => self.forget(&key, uid),
            None => {
                self.tracker.lock().remove(&key);
            }
        }
        tracing::info!(pod = %key, group = %name, "container group deleted");
        Ok(())
    }

    async fn pod_status(&self, key: &PodKey) -> Result<Option<PodStatus>> {
        if self.tracking()
            && let Some(status) = self
                .tracker
                .lock()
                .get(key)
                .and_then(tracker::Tracked::answer)
        {
            return Ok(Some(status));
        }
        let name = self.group_name(key);
        let group = match self
            .arm
            .get::<ContainerGroup>(&name, Priority::Foreground)
            .await
        {
            Ok(group) => group,
            Err(e) if e.is_not_found() => return Ok(None),
            Err(e) => return Err(errors::from_arm(e, &format!("pod {key}"))),
        };
        let pod = self
            .tracked_pod(key)
            .unwrap_or_else(|| skeleton_pod(key, None, &group));
        let mut status = vk_translate::status::pod_status(&group, &pod, self.clock.now());
        if let Some(entry) = self.tracker.lock().get_mut(key) {
            post_start_hold::hold(&mut status, &entry.held);
            entry.set_status(&status);
        }
        Ok(Some(status))
    }

    async fn list_pods(&self) -> Result<Vec<ProviderPod>> {
        let groups: Vec<ContainerGroup> = self
            .arm
            .list(Priority::Foreground)
            .await
            .map_err(|e| errors::from_arm(e, "the container group list"))?;
        let mut pods = Vec::new();
        for group in groups {
            let Some(tags) = vk_translate::pod_key_from_tags(&group.tags) else {
                continue;
            };
            if tags
                .node_name
                .as_deref()
                .is_some_and(|n| n != self.config.node.node_name)
            {
                continue;
            }
            // Another cluster's group in a shared resource group: never adopted or swept.
            // Groups without the tag predate cluster identities and go by node name alone.
            if tags
                .cluster_id
                .as_deref()
                .is_some_and(|c| Some(c) != self.config.node.cluster_id.as_deref())
            {
                continue;
            }
            let key = PodKey::new(tags.namespace.clone(), tags.name.clone());
            if !self.tracker.lock().contains_key(&key) {
                let name = group.name.clone().unwrap_or_else(|| self.group_name(&key));
                let pod = skeleton_pod(&key, tags.uid.clone(), &group);
                self.track(key.clone(), &pod, name, false, None);
            }
            pods.push(ProviderPod {
                key,
                uid: tags.uid,
                created: tags
                    .creation_timestamp
                    .as_deref()
                    .and_then(|t| t.parse().ok()),
            });
        }
        Ok(pods)
    }

    fn notify_pods(&self, notifier: PodNotifier) -> bool {
        self.hooks.set_notifier(notifier.clone());
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            return false;
        };
        let task = handle.spawn(tracker::run(
            self.tracker.clone(),
            self.arm.clone(),
            notifier,
            self.clock.clone(),
            self.config.status,
        ));
        if let Some(old) = self
            .task
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .replace(task)
        {
            old.abort();
        }
        true
    }

    /// Azure Files volumes: the Secret vk-translate reads the storage key from (the PV's
    /// `nodeStageSecretRef`, the `secretName` attribute or the in-tree `secretName`, else
    /// the AKS driver's default `azure-storage-account-{account}-secret`).
    fn volume_secrets(&self, pv: &PersistentVolume, namespace: &str) -> Vec<(String, String)> {
        vk_translate::claims::volume_secret(pv, namespace)
            .into_iter()
            .collect()
    }

    fn configure_node(&self, node: &mut Node) {
        node_settings::configure_node(&self.config, node);
    }

    async fn ping(&self) -> Result<()> {
        {
            let last = self
                .last_ping
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if last.is_some_and(|t| t.elapsed() < Duration::from_secs(60)) {
                return Ok(());
            }
        }
        self.arm
            .usages::<serde_json::Value>()
            .await
            .map_err(|e| errors::from_arm(e, "the region's usage"))?;
        *self
            .last_ping
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(Instant::now());
        Ok(())
    }

    async fn logs(&self, key: &PodKey, container: &str, opts: &LogOptions) -> Result<LogStream> {
        if opts.previous {
            return Err(ProviderError::unsupported(
                "ACI keeps only the log of a container's current instance",
            ));
        }
        let name = self.group_name(key);
        let what = format!("logs of {key}/{container}");
        let stamped = opts.timestamps || opts.since.is_some();
        let limit = opts
            .limit_bytes
            .and_then(|l| usize::try_from(l).ok())
            .unwrap_or(usize::MAX);
        if !opts.follow {
            let content = self
                .arm
                .logs(&name, container, opts.tail_lines, stamped)
                .await
                .map_err(|e| errors::from_arm(e, &what))?;
            let lines: Vec<&str> = content.lines().collect();
            let mut text = logs::shape_lines(&lines, opts).into_bytes();
            text.truncate(limit);
            let chunk: std::io::Result<Bytes> = Ok(Bytes::from(text));
            return Ok(Box::pin(futures::stream::iter([chunk])));
        }
        let limits = self.config.logs_follow;
        let permit = Arc::clone(&self.follows).try_acquire_owned().map_err(|_| {
            ProviderError::transient(
                "TooManyLogStreams",
                format!(
                    "{} follow streams (kubectl logs -f) are open on this node, its limit; \
                     try again when one ends, or read without -f",
                    limits.max_streams
                ),
            )
        })?;
        // Always with timestamps: the follower places lines by them.
        let first = self
            .arm
            .logs(&name, container, opts.tail_lines, true)
            .await
            .map_err(|e| errors::from_arm(e, &what))?;
        Ok(logs::follow(logs::Follow {
            arm: self.arm.clone(),
            group: name,
            container: container.to_owned(),
            opts: opts.clone(),
            first,
            limits,
            interval: self.config.logs_poll_interval,
            limit,
            permit,
        }))
    }

    async fn exec(
        &self,
        key: &PodKey,
        container: &str,
        command: &[String],
        mut io: ExecIo,
    ) -> Result<i32> {
        if command.is_empty() {
            return Err(ProviderError::InvalidInput("exec needs a command".into()));
        }
        let name = self.group_name(key);
        let shell = self
            .tracked_pod(key)
            .and_then(|p| p.metadata.annotations)
            .and_then(|a| a.get(exec::EXEC_SHELL_ANNOTATION).cloned())
            .filter(|s| !s.trim().is_empty() && !s.contains(char::is_whitespace))
            .unwrap_or_else(|| exec::DEFAULT_SHELL.to_owned());
        let one_word = command.len() == 1 && !command[0].contains(char::is_whitespace);
        let executable = if one_word {
            command[0].clone()
        } else {
            shell.clone()
        };
        let size = exec::initial_size(&mut io).await;
        let session = self
            .arm
            .exec(&name, container, &executable, size.height, size.width)
            .await
            .map_err(|e| errors::from_arm(e, &format!("exec in {key}/{container}")))?;
        let script = (!one_word).then(|| (command, exec::marker_id()));
        exec::run(session, io, script, &shell).await
    }

    async fn stats(&self) -> Result<Vec<PodStats>> {
        if self.config.node.os_type == OperatingSystemTypes::Windows {
            tracing::debug!("windows container groups have no azure monitor platform metrics");
            return Ok(Vec::new());
        }
        let targets = stats::Stats::targets(&self.tracker);
        Ok(self.stats.collect(targets, self.clock.now()).await)
    }
}

impl Drop for AciProvider {
    fn drop(&mut self) {
        if let Some(task) = self
            .task
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()
        {
            task.abort();
        }
    }
}
