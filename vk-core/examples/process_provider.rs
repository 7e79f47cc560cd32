//! A provider that runs each pod's containers as processes on this machine: a small node
//! for trusted batch jobs and scripts, and a worked example of `logs` and `exec`.
//!
//! - A container runs its `command` then `args` (there is no image to take an entrypoint
//!   from, so one must be set) in a fresh directory per pod, which also holds the logs, as
//!   the user running this example, with `PATH`, `HOSTNAME` and the container's literal
//!   `env`.
//! - The image must be a shell base image (`busybox`, `alpine`, `debian` or `ubuntu`, any
//!   registry or tag): the commands such pods run (`sh`, `echo`, `sleep`...) exist here too.
//!   Any other image's program does not, so such a pod is refused with
//!   `ProviderError::unsupported` and ends `Failed` with the reason. So are pods that would
//!   need what this provider cannot do: restarts (`restartPolicy` must be `Never`, as in a
//!   Job or `kubectl run --restart=Never`), init containers, `env` from Secrets or
//!   ConfigMaps, a `workingDir`, volume mounts (the service account token's is ignored).
//! - The runtime polls the status: `Running`, then each container's exit code, and the pod
//!   `Succeeded` or `Failed` when all have exited.
//! - stdout and stderr go to a log file per container, served to `kubectl logs` (with
//!   `--follow` and `--tail`; other options are ignored); `kubectl exec` runs a command in
//!   the pod's directory with the container's environment (without a TTY) and returns its
//!   exit code.
//! - Deleting a pod kills its containers' process groups, and so does stopping the
//!   example (which records nothing: started again, it runs the node's pods afresh).
//!
//! Run it against the cluster of your current kubeconfig context, with the address the API
//! server reaches this machine's port 10250 at; pods must tolerate the node's taint
//! `virtual-kubelet.io/provider=process:NoSchedule`:
//!
//! ```text
//! VKUBELET_POD_IP=10.0.0.4 cargo run -p vk-core --example process_provider
//! kubectl get node process-node
//! ```
use std::collections::{BTreeMap, HashMap};
use std::os::unix::process::ExitStatusExt as _;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use bytes::Bytes;
use futures::StreamExt as _;
use k8s_openapi::api::core::v1::{self as core, ContainerState, ContainerStatus, Node, Pod};
use k8s_openapi::api::core::v1::{ContainerStateRunning, ContainerStateTerminated, PodStatus};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use rustix::process::{Pid, Signal, kill_process_group};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::process::Command;
use tokio::task::JoinHandle;
use tokio::time::{Duration, sleep};
use tokio_util::sync::CancellationToken;
use vk_core::provider::{ExecIo, LogOptions, LogStream, PodKey, PodResources, ProviderPod};
use vk_core::{NodeConfig, Provider, ProviderError, VirtualKubelet, provider::Result};

const SHELL_IMAGES: [&str; 4] = ["busybox", "alpine", "debian", "ubuntu"];
const TOKEN_MOUNT: &str = "/var/run/secrets/kubernetes.io/serviceaccount";
type Env = Vec<(String, String)>;

/// One container's process: its log file and, once it exited, its exit code.
struct Container {
    name: String,
    image: String,
    pid: u32,
    env: Env,
    log: PathBuf,
    exit: Mutex<Option<i32>>,
}

struct RunningPod {
    uid: String,
    dir: tempfile::TempDir,
    containers: Vec<Arc<Container>>,
    tasks: Vec<JoinHandle<()>>,
    stop: CancellationToken,
}

/// Runs pods' containers as local processes.
#[derive(Default)]
pub(crate) struct ProcessProvider {
    pods: Mutex<HashMap<PodKey, RunningPod>>,
}

fn other(e: std::io::Error) -> ProviderError {
    ProviderError::Other(e.into())
}

fn unsupported(what: &str) -> ProviderError {
    ProviderError::unsupported(format!("{what} (see the process provider's docs)"))
}

/// Check that `c` can run here: its argv and environment.
fn plan(pod: &str, c: &core::Container) -> Result<(Vec<String>, Env)> {
    let image = c.image.as_deref().unwrap_or_default();
    let repo = image
        .rsplit('/')
        .next()
        .and_then(|r| r.split([':', '@']).next());
    if !repo.is_some_and(|r| SHELL_IMAGES.contains(&r)) {
        return Err(unsupported(&format!(
            "image {image:?} is not a shell image"
        )));
    }
    let argv: Vec<String> = c.command.iter().chain(&c.args).flatten().cloned().collect();
    let mut mounts = c.volume_mounts.iter().flatten();
    if argv.is_empty() || c.working_dir.is_some() || mounts.any(|m| m.mount_path != TOKEN_MOUNT) {
        return Err(unsupported(
            "a container needs a command, and no workingDir or mounts",
        ));
    }
    let path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
    let mut env = vec![
        ("PATH".into(), path.into()),
        ("HOSTNAME".into(), pod.into()),
    ];
    for var in c.env.iter().flatten() {
        let value = var.value.clone().filter(|_| var.value_from.is_none());
        env.push((
            var.name.clone(),
            value.ok_or_else(|| unsupported("env must be literal"))?,
        ));
    }
    Ok((argv, env))
}

/// `argv` in `dir` with `env`, in a process group of its own.
fn command(dir: &Path, env: &[(String, String)], argv: &[String]) -> Command {
    let mut cmd = Command::new(&argv[0]);
    cmd.args(&argv[1..])
        .current_dir(dir)
        .env_clear()
        .envs(env.iter().cloned());
    cmd.process_group(0).kill_on_drop(true).stdin(Stdio::null());
    cmd
}

/// Start container `c`, and a task that records its exit code, or kills its process group
/// on `stop`.
fn start(
    dir: &Path,
    c: &core::Container,
    (argv, env): (Vec<String>, Env),
    stop: CancellationToken,
) -> Result<(Arc<Container>, JoinHandle<()>)> {
    let log = dir.join(format!("{}.log", c.name));
    let file = std::fs::File::create(&log).map_err(other)?;
    let mut cmd = command(dir, &env, &argv);
    cmd.stdout(file.try_clone().map_err(other)?).stderr(file);
    // A program that is not on this machine: as with the image, the pod cannot run.
    let mut child = cmd
        .spawn()
        .map_err(|e| unsupported(&format!("{}: {e}", argv[0])))?;
    let pid = child.id().expect("a child not yet waited for has an id");
    let (name, image) = (c.name.clone(), c.image.clone().unwrap_or_default());
    let container = Arc::new(Container {
        name,
        image,
        pid,
        env,
        log,
        exit: Mutex::default(),
    });
    let watched = Arc::clone(&container);
    let task = tokio::spawn(async move {
        let group = Group(pid); // dropped with the runtime too: no process outlives us
        let code = tokio::select! {
            status = child.wait() => exit_code(status),
            () = stop.cancelled() => 137,
        };
        drop(group); // kills what it left behind, or all of it when stopped
        let _ = child.wait().await;
        *watched.exit.lock().expect("not poisoned") = Some(code);
    });
    Ok((container, task))
}

/// Kills what is left of the process group it names when dropped.
struct Group(u32);

impl Drop for Group {
    fn drop(&mut self) {
        if let Some(pid) = i32::try_from(self.0).ok().and_then(Pid::from_raw) {
            let _ = kill_process_group(pid, Signal::KILL);
        }
    }
}

fn exit_code(status: std::io::Result<std::process::ExitStatus>) -> i32 {
    status.map_or(128, |s| {
        s.code().unwrap_or_else(|| 128 + s.signal().unwrap_or(0))
    })
}

fn status_of(c: &Container) -> ContainerStatus {
    let exit = *c.exit.lock().expect("not poisoned");
    let state = match exit {
        None => ContainerState {
            running: Some(ContainerStateRunning::default()),
            ..Default::default()
        },
        Some(exit_code) => ContainerState {
            terminated: Some(ContainerStateTerminated {
                exit_code,
                ..Default::default()
            }),
            ..Default::default()
        },
    };
    ContainerStatus {
        name: c.name.clone(),
        image: c.image.clone(),
        ready: exit.is_none(),
        container_id: Some(format!("process://{}", c.pid)),
        state: Some(state),
        ..ContainerStatus::default()
    }
}

#[async_trait]
impl Provider for ProcessProvider {
    fn name(&self) -> &str {
        "process"
    }

    async fn create_pod(&self, pod: &Pod, _resources: &PodResources) -> Result<()> {
        let key = PodKey::of(pod);
        let spec = pod.spec.as_ref().ok_or_else(|| unsupported("no spec"))?;
        if spec.restart_policy.as_deref() != Some("Never")
            || spec.init_containers.as_ref().is_some_and(|c| !c.is_empty())
        {
            return Err(unsupported(
                "restartPolicy must be Never, no initContainers",
            ));
        }
        let plans = spec.containers.iter().map(|c| plan(&key.name, c));
        let plans = plans.collect::<Result<Vec<_>>>()?;
        let dir = tempfile::tempdir().map_err(other)?;
        let stop = CancellationToken::new();
        let guard = stop.clone().drop_guard(); // a failure stops the containers started
        let (mut containers, mut tasks) = (Vec::new(), Vec::new());
        for (c, plan) in spec.containers.iter().zip(plans) {
            let (container, task) = start(dir.path(), c, plan, stop.clone())?;
            containers.push(container);
            tasks.push(task);
        }
        let stop = guard.disarm();
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        let running = RunningPod {
            uid,
            dir,
            containers,
            tasks,
            stop,
        };
        self.pods.lock().expect("not poisoned").insert(key, running);
        Ok(())
    }

    async fn update_pod(&self, _pod: &Pod, _resources: &PodResources) -> Result<()> {
        // Only the image may change in a running pod, and the image changes nothing here.
        Ok(())
    }

    async fn delete_pod(&self, pod: &Pod) -> Result<()> {
        let key = PodKey::of(pod);
        let gone = self.pods.lock().expect("not poisoned").remove(&key);
        let pod = gone.ok_or_else(|| ProviderError::not_found(&key))?;
        pod.stop.cancel();
        for task in pod.tasks {
            let _ = task.await; // killed and reaped
        }
        Ok(()) // the directory goes with `pod.dir`
    }

    async fn pod_status(&self, key: &PodKey) -> Result<Option<PodStatus>> {
        let pods = self.pods.lock().expect("not poisoned");
        let Some(pod) = pods.get(key) else {
            return Ok(None);
        };
        let statuses: Vec<ContainerStatus> = pod.containers.iter().map(|c| status_of(c)).collect();
        let code = |s: &ContainerStatus| s.state.as_ref()?.terminated.as_ref().map(|t| t.exit_code);
        let phase = match statuses.iter().map(code).collect::<Option<Vec<_>>>() {
            None => "Running",
            Some(codes) if codes.iter().all(|&c| c == 0) => "Succeeded",
            Some(_) => "Failed",
        };
        let phase = Some(phase.to_owned());
        Ok(Some(PodStatus {
            phase,
            container_statuses: Some(statuses),
            ..PodStatus::default()
        }))
    }

    async fn list_pods(&self) -> Result<Vec<ProviderPod>> {
        let pods = self.pods.lock().expect("not poisoned");
        let listed = pods.iter().map(|(key, p)| ProviderPod {
            key: key.clone(),
            uid: Some(p.uid.clone()),
            created: None,
        });
        Ok(listed.collect())
    }

    fn configure_node(&self, node: &mut Node) {
        // Nominal: what this machine offers is not measured.
        let capacity = [("cpu", "4"), ("memory", "8Gi"), ("pods", "110")];
        let capacity: BTreeMap<_, _> = capacity
            .map(|(k, v)| (k.to_owned(), Quantity(v.to_owned())))
            .into();
        let status = node.status.get_or_insert_with(Default::default);
        status.allocatable = Some(capacity.clone());
        status.capacity = Some(capacity);
    }

    async fn logs(&self, key: &PodKey, container: &str, opts: &LogOptions) -> Result<LogStream> {
        let c = self.container(key, container)?.1;
        let text = tokio::fs::read(&c.log).await.unwrap_or_default();
        let start = opts.tail_lines.map_or(0, |n| tail_start(&text, n));
        let first = futures::stream::iter([Ok(Bytes::copy_from_slice(&text[start..]))]);
        let follow = opts.follow.then_some((c, text.len()));
        // Following: what the file gains, until the process has exited and all is sent.
        let more = futures::stream::unfold(follow, |state| async move {
            let (c, offset) = state?;
            loop {
                let exited = c.exit.lock().expect("not poisoned").is_some();
                let text = tokio::fs::read(&c.log).await.unwrap_or_default();
                if text.len() > offset {
                    let more = Bytes::copy_from_slice(&text[offset..]);
                    return Some((Ok(more), Some((c, text.len()))));
                }
                if exited {
                    return None;
                }
                sleep(Duration::from_millis(100)).await;
            }
        });
        Ok(first.chain(more).boxed())
    }

    async fn exec(
        &self,
        key: &PodKey,
        container: &str,
        argv: &[String],
        io: ExecIo,
    ) -> Result<i32> {
        if io.tty || argv.is_empty() {
            return Err(unsupported("exec needs a command and no TTY"));
        }
        let (dir, c) = self.container(key, container)?;
        let piped = |wanted: bool| {
            if wanted {
                Stdio::piped()
            } else {
                Stdio::null()
            }
        };
        let mut cmd = command(&dir, &c.env, argv);
        cmd.stdin(piped(io.stdin.is_some()))
            .stdout(piped(io.stdout.is_some()))
            .stderr(piped(io.stderr.is_some()));
        let mut child = cmd
            .spawn()
            .map_err(|e| ProviderError::InvalidInput(format!("{}: {e}", argv[0])))?;
        let (stdin, stdout, stderr) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take());
        // stdin may stay open after the command exits: it does not hold up the exit code.
        let feed = tokio::spawn(copy(io.stdin, stdin));
        let (status, (), ()) = tokio::join!(
            child.wait(),
            copy(stdout, io.stdout),
            copy(stderr, io.stderr)
        );
        feed.abort();
        Ok(exit_code(status))
    }
}

impl ProcessProvider {
    /// The pod's directory and container `name`.
    fn container(&self, key: &PodKey, name: &str) -> Result<(PathBuf, Arc<Container>)> {
        let pods = self.pods.lock().expect("not poisoned");
        let pod = pods.get(key).ok_or_else(|| ProviderError::not_found(key))?;
        let c = pod.containers.iter().find(|c| c.name == name);
        let c = c.ok_or_else(|| ProviderError::not_found(format!("{key}/{name}")))?;
        Ok((pod.dir.path().to_owned(), Arc::clone(c)))
    }
}

/// Where the last `n` lines of `text` start.
fn tail_start(text: &[u8], n: u64) -> usize {
    let body = text.strip_suffix(b"\n").unwrap_or(text);
    let mut newlines = body.iter().enumerate().rev().filter(|&(_, &b)| b == b'\n');
    let nth = usize::try_from(n).unwrap_or(usize::MAX).checked_sub(1);
    nth.map_or(text.len(), |nth| {
        newlines.nth(nth).map_or(0, |(i, _)| i + 1)
    })
}

async fn copy(from: Option<impl AsyncRead + Unpin>, to: Option<impl AsyncWrite + Unpin>) {
    if let (Some(mut from), Some(mut to)) = (from, to) {
        let _ = tokio::io::copy(&mut from, &mut to).await;
    }
}

#[tokio::main]
async fn main() -> std::result::Result<(), Box<dyn std::error::Error>> {
    let client = kube::Client::try_default().await?;
    let mut node = NodeConfig::named("process-node");
    // Where the API server sends `kubectl logs` and `exec` (the Go virtual-kubelet's variable).
    node.internal_ip = std::env::var("VKUBELET_POD_IP")
        .ok()
        .and_then(|ip| ip.parse().ok());
    VirtualKubelet::builder(client, Arc::new(ProcessProvider::default()), node)
        .run(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}
