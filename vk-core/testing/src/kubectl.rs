//! Real kubectl builds for tests: find one by version and run it with a kubeconfig.
//!
//! For version `X.Y` the first of these wins (an empty variable counts as unset):
//!
//! - `$VK_KUBECTL_X_Y` (`VK_KUBECTL_1_27`): that version's binary;
//! - `$VK_KUBECTL`: one binary for every version;
//! - `kubectl.X.Y` (`kubectl` for an empty version) in `$VK_KUBECTL_DIR`, by default
//!   `/usr/lib/google-cloud-sdk/bin` (where the Google Cloud SDK puts its builds).
//!
//! ```no_run
//! # async fn example(kubeconfig: &std::path::Path) {
//! let kubectl = vk_testing::kubectl::Kubectl::new("1.33", kubeconfig);
//! let pods = kubectl.ok(&["get", "pods", "-o", "name"]).await;
//! # }
//! ```
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};

use tokio::io::AsyncWriteExt as _;
use tokio::process::Command;
use tokio::time::{Duration, timeout};

/// The directory searched when `VK_KUBECTL_DIR` is not set.
pub const DEFAULT_KUBECTL_DIR: &str = "/usr/lib/google-cloud-sdk/bin";

/// How long one kubectl command may take before the test fails.
pub const PATIENCE: Duration = Duration::from_secs(60);

/// The kubectl binary of `version` ("1.33"; "" for the unversioned `kubectl`); see the
/// module docs.
#[must_use]
pub fn kubectl_path(version: &str) -> PathBuf {
    let set = |name: &str| std::env::var_os(name).filter(|value| !value.is_empty());
    if !version.is_empty()
        && let Some(path) = set(&format!("VK_KUBECTL_{}", version.replace('.', "_")))
    {
        return PathBuf::from(path);
    }
    if let Some(path) = set("VK_KUBECTL") {
        return PathBuf::from(path);
    }
    let dir =
        set("VK_KUBECTL_DIR").map_or_else(|| PathBuf::from(DEFAULT_KUBECTL_DIR), PathBuf::from);
    if version.is_empty() {
        dir.join("kubectl")
    } else {
        dir.join(format!("kubectl.{version}"))
    }
}

/// One kubectl build pointed at one kubeconfig.
#[derive(Clone, Debug)]
pub struct Kubectl {
    path: PathBuf,
    kubeconfig: PathBuf,
    env: Vec<(String, String)>,
}

impl Kubectl {
    /// kubectl `version` (see [`kubectl_path`]) with `--kubeconfig kubeconfig`.
    #[must_use]
    pub fn new(version: &str, kubeconfig: impl AsRef<Path>) -> Self {
        Self {
            path: kubectl_path(version),
            kubeconfig: kubeconfig.as_ref().to_owned(),
            env: Vec::new(),
        }
    }

    /// Set an environment variable for every command, e.g.
    /// `KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false` to make kubectl 1.30+ speak SPDY.
    #[must_use]
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// The binary.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A command with the kubeconfig set and killed when dropped, to add arguments and
    /// stdin to.
    #[must_use]
    pub fn command(&self) -> Command {
        let mut command = Command::new(&self.path);
        command
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .kill_on_drop(true);
        command
    }

    /// Run to completion within [`PATIENCE`].
    ///
    /// # Panics
    /// When kubectl cannot be started or hangs (this is a test helper).
    pub async fn run(&self, args: &[&str]) -> Output {
        self.run_with_input(args, None).await
    }

    /// Run to completion within [`PATIENCE`], with `stdin` as its input (none: no stdin).
    ///
    /// # Panics
    /// When kubectl cannot be started or hangs (this is a test helper).
    pub async fn run_with_input(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let mut child = self
            .command()
            .args(args)
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{} cannot run: {e}", self.path.display()));
        if let (Some(input), Some(mut w)) = (stdin, child.stdin.take()) {
            // kubectl may exit before reading it all; its answer says why.
            let _ = w.write_all(input.as_bytes()).await;
        }
        timeout(PATIENCE, child.wait_with_output())
            .await
            .unwrap_or_else(|_| panic!("kubectl {args:?} hung for {PATIENCE:?}"))
            .unwrap_or_else(|e| panic!("{} cannot run: {e}", self.path.display()))
    }

    /// Run to completion and return stdout.
    ///
    /// # Panics
    /// When kubectl fails, hangs or cannot be started.
    pub async fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args).await;
        assert!(
            out.status.success(),
            "kubectl {args:?} failed: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}
