//! [`Provider`] for [`MockProvider`]: create, update and delete pods in memory, statuses
//! pushed through the notifier, generated logs, a tiny exec, port forwarding that echoes,
//! and stats from the containers' usage.
use std::collections::BTreeMap;

use async_trait::async_trait;
use jiff::Timestamp;
use k8s_openapi::api::core::v1::{Node, Pod, PodStatus};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use rand::Rng;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use vk_core::provider::{
    ContainerStats, DuplexIo, ExecIo, LogOptions, LogStream, PodKey, PodNotifier, PodResources,
    PodStats, Provider, ProviderError, ProviderPod, Result,
};

use super::annotations::{
    CREATE_ERROR_ANNOTATION, EXIT_AFTER_ANNOTATION, EXIT_CODE_ANNOTATION, START_AFTER_ANNOTATION,
    annotation, parse_duration,
};
use super::backend::{MockProvider, lock};
use super::calls::MockCall;
use super::container::MockContainer;
use super::pod::{MockPod, Shown};
use super::{exec, logs, status};

#[async_trait]
impl Provider for MockProvider {
    fn name(&self) -> &str {
        &self.inner.cfg.name
    }

    fn supports_port_forward(&self) -> bool {
        self.inner.cfg.port_forward
    }

    async fn create_pod(&self, pod: &Pod, resources: &PodResources) -> Result<()> {
        let key = PodKey::of(pod);
        self.record(|| MockCall::CreatePod {
            key: key.clone(),
            uid: pod.metadata.uid.clone().unwrap_or_default(),
            secrets: resources.secrets.keys().cloned().collect(),
            config_maps: resources.config_maps.keys().cloned().collect(),
        });
        if !self.inner.cfg.create_latency.is_zero() {
            tokio::time::sleep(self.inner.cfg.create_latency).await;
        }
        match annotation(pod, CREATE_ERROR_ANNOTATION) {
            Some("unsupported") => {
                return Err(ProviderError::unsupported(
                    "the mock provider was told to reject this pod",
                ));
            }
            Some("transient") => {
                return Err(ProviderError::transient(
                    "MockTransient",
                    "the mock provider was told to fail this create",
                ));
            }
            Some("invalid") => {
                return Err(ProviderError::InvalidInput(
                    "the mock provider was told this pod is invalid".into(),
                ));
            }
            _ => {}
        }
        if self.inner.cfg.failure_rate > 0.0 {
            let roll: f64 = lock(&self.inner.rng).random();
            if roll < self.inner.cfg.failure_rate {
                return Err(ProviderError::transient(
                    "MockFailure",
                    "injected create failure",
                ));
            }
        }
        let now = self.inner.clock.now();
        let default_usage = lock(&self.inner.state).default_usage;
        let containers = MockContainer::all(pod, default_usage, || self.idle_usage());
        let (status, epoch) = {
            let mut st = lock(&self.inner.state);
            st.epoch += 1;
            st.next_ip += 1;
            let epoch = st.epoch;
            let n = st.next_ip;
            let ip = format!("10.244.{}.{}", (n / 250) % 250, n % 250 + 2);
            let status = status::pending(&containers, now);
            let exit = annotation(pod, EXIT_AFTER_ANNOTATION)
                .and_then(parse_duration)
                .map(|after| {
                    let code = annotation(pod, EXIT_CODE_ANNOTATION)
                        .and_then(|c| c.trim().parse::<i32>().ok())
                        .unwrap_or(0);
                    (after, code)
                });
            st.pods.insert(
                key.clone(),
                MockPod {
                    uid: pod.metadata.uid.clone(),
                    containers,
                    exit,
                    shown: Shown::Pending { at: now },
                    ip,
                    created: now,
                    started: None,
                    epoch,
                },
            );
            (status, epoch)
        };
        self.notify(key.clone(), Some(status));
        let delay = annotation(pod, START_AFTER_ANNOTATION)
            .and_then(parse_duration)
            .unwrap_or(self.inner.cfg.start_delay);
        self.schedule(key, epoch, delay, |p, now| {
            p.started = Some(now);
            p.shown = Shown::Running { started: now };
        });
        Ok(())
    }

    async fn update_pod(&self, pod: &Pod, _resources: &PodResources) -> Result<()> {
        let key = PodKey::of(pod);
        self.record(|| MockCall::UpdatePod(key.clone()));
        let default_usage = lock(&self.inner.state).default_usage;
        let mut fresh = MockContainer::all(pod, default_usage, || self.idle_usage());
        let mut st = lock(&self.inner.state);
        let p = st
            .pods
            .get_mut(&key)
            .ok_or_else(|| ProviderError::not_found(format!("pod {key}")))?;
        p.uid.clone_from(&pod.metadata.uid);
        // A container that stays keeps its usage and CPU counter.
        for c in &mut fresh {
            if let Some(old) = p.containers.iter().find(|o| o.name == c.name) {
                c.usage = old.usage;
                c.idle = old.idle;
                c.cpu = old.cpu;
            }
        }
        p.containers = fresh;
        Ok(())
    }

    async fn delete_pod(&self, pod: &Pod) -> Result<()> {
        let key = PodKey::of(pod);
        self.record(|| MockCall::DeletePod(key.clone()));
        let removed = lock(&self.inner.state).pods.remove(&key);
        if removed.is_some() {
            self.notify(key, None);
        }
        Ok(())
    }

    async fn pod_status(&self, key: &PodKey) -> Result<Option<PodStatus>> {
        self.record(|| MockCall::PodStatus(key.clone()));
        Ok(lock(&self.inner.state).pods.get(key).map(MockPod::status))
    }

    async fn list_pods(&self) -> Result<Vec<ProviderPod>> {
        self.record(|| MockCall::ListPods);
        Ok(lock(&self.inner.state)
            .pods
            .iter()
            .map(|(k, p)| ProviderPod {
                key: k.clone(),
                uid: p.uid.clone(),
                created: Some(p.created),
            })
            .collect())
    }

    fn notify_pods(&self, notifier: PodNotifier) -> bool {
        self.record(|| MockCall::NotifyPods);
        *lock(&self.inner.notifier) = Some(notifier);
        true
    }

    fn configure_node(&self, node: &mut Node) {
        let status = node.status.get_or_insert_default();
        let mut cap = BTreeMap::new();
        cap.insert("cpu".to_owned(), Quantity("100".into()));
        cap.insert("memory".to_owned(), Quantity("512Gi".into()));
        cap.insert("pods".to_owned(), Quantity("1000".into()));
        status.capacity = Some(cap.clone());
        status.allocatable = Some(cap);
    }

    async fn ping(&self) -> Result<()> {
        self.record(|| MockCall::Ping);
        if lock(&self.inner.state).unhealthy {
            return Err(ProviderError::transient(
                "MockUnhealthy",
                "the mock backend was told to be unhealthy",
            ));
        }
        Ok(())
    }

    async fn logs(&self, key: &PodKey, container: &str, opts: &LogOptions) -> Result<LogStream> {
        self.record(|| MockCall::Logs {
            key: key.clone(),
            container: container.to_owned(),
            opts: opts.clone(),
        });
        let p = self.running(key)?;
        Self::check_container(&p, key, container)?;
        if opts.previous {
            return Err(ProviderError::InvalidInput(format!(
                "previous terminated container \"{container}\" in pod \"{}\" not found",
                key.name
            )));
        }
        let Some(started) = p.started else {
            return Err(ProviderError::InvalidInput(format!(
                "container \"{container}\" in pod \"{}\" is waiting to start: ContainerCreating",
                key.name
            )));
        };
        let now = self.inner.clock.now();
        let elapsed = now.as_second().saturating_sub(started.as_second()).max(0);
        let every = self.inner.cfg.log_interval.as_secs().max(1);
        let lines = self.inner.cfg.log_lines + u64::try_from(elapsed).unwrap_or(0) / every;
        let this = self.clone();
        let k = key.clone();
        Ok(logs::stream(
            logs::LogSource {
                key: key.clone(),
                container: container.to_owned(),
                lines,
                first: started,
                every: self.inner.cfg.log_interval,
            },
            opts,
            move || this.is_alive(&k),
        ))
    }

    async fn exec(
        &self,
        key: &PodKey,
        container: &str,
        command: &[String],
        io: ExecIo,
    ) -> Result<i32> {
        self.record(|| MockCall::Exec {
            key: key.clone(),
            container: container.to_owned(),
            command: command.to_vec(),
            tty: io.tty,
        });
        let p = self.running(key)?;
        let c = Self::check_container(&p, key, container)?;
        if command.is_empty() {
            return Err(ProviderError::InvalidInput("command is empty".into()));
        }
        let env = c.env.clone();
        let ctx = exec::Context {
            env,
            hostname: key.name.clone(),
        };
        Ok(exec::run(command, io, &ctx).await)
    }

    async fn attach(&self, key: &PodKey, container: &str, mut io: ExecIo) -> Result<i32> {
        self.record(|| MockCall::Attach {
            key: key.clone(),
            container: container.to_owned(),
        });
        let p = self.running(key)?;
        Self::check_container(&p, key, container)?;
        if let Some(out) = io.stdout.as_mut() {
            for n in 1..=self.inner.cfg.log_lines {
                let mut l = logs::line(key, container, n);
                l.push('\n');
                let _ = out.write_all(l.as_bytes()).await;
            }
            let _ = out.flush().await;
        }
        if let Some(mut input) = io.stdin.take() {
            let mut buf = vec![0u8; 8192];
            loop {
                match input.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        if let Some(out) = io.stdout.as_mut() {
                            let _ = out.write_all(&buf[..n]).await;
                            let _ = out.flush().await;
                        }
                    }
                }
            }
        }
        for w in [io.stdout.as_mut(), io.stderr.as_mut()]
            .into_iter()
            .flatten()
        {
            let _ = w.shutdown().await;
        }
        Ok(0)
    }

    async fn port_forward(&self, key: &PodKey, port: u16, stream: Box<dyn DuplexIo>) -> Result<()> {
        self.record(|| MockCall::PortForward {
            key: key.clone(),
            port,
        });
        self.running(key)?;
        // An echo server on every port.
        let (mut r, mut w) = tokio::io::split(stream);
        let _ = tokio::io::copy(&mut r, &mut w).await;
        let _ = w.shutdown().await;
        Ok(())
    }

    async fn stats(&self) -> Result<Vec<PodStats>> {
        self.record(|| MockCall::Stats);
        // Measured now, to the millisecond the kubelet's sample timestamps carry, so a
        // rate between two scrapes is exactly the usage in force.
        let now = self.inner.clock.now();
        let now = Timestamp::from_millisecond(now.as_millisecond()).unwrap_or(now);
        let st = lock(&self.inner.state);
        Ok(st
            .pods
            .iter()
            .filter(|(_, p)| p.is_running())
            .map(|(k, p)| {
                let started = p.started.unwrap_or(now);
                let up =
                    u64::try_from(now.as_second().saturating_sub(started.as_second())).unwrap_or(0);
                let containers = p
                    .containers
                    .iter()
                    .map(|c| {
                        let usage = c.usage(st.default_usage);
                        ContainerStats {
                            name: c.name.clone(),
                            start_time: Some(started),
                            cpu_usage_nano_cores: Some(usage.cpu_nano_cores),
                            cpu_usage_core_nano_seconds: Some(c.cpu.at(now, Some(started))),
                            memory_working_set_bytes: Some(usage.memory_bytes),
                            time: Some(now),
                        }
                    })
                    .collect();
                PodStats {
                    key: k.clone(),
                    uid: p.uid.clone().unwrap_or_default(),
                    start_time: Some(started),
                    containers,
                    rx_bytes: Some(up * 1024),
                    tx_bytes: Some(up * 512),
                }
            })
            .collect())
    }
}
