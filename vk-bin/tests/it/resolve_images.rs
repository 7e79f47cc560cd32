//! `vk-aci translate --resolve-images` against a real registry (Debian's `docker-registry`,
//! distribution 2.8, installed by .ci/run): the ENTRYPOINT of an args-only container is read
//! from the image config; an unreachable registry is reported and the pod translated offline.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use sha2::{Digest as _, Sha256};

const REGISTRY_BIN: &str = "/usr/bin/docker-registry";

/// A `docker-registry serve` on a free loopback port, killed on drop.
struct Registry {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Registry {
    async fn start() -> Self {
        assert!(
            Path::new(REGISTRY_BIN).exists(),
            "{REGISTRY_BIN} is missing: install Debian's docker-registry package \
             (apt-get install -y docker-registry), as .ci/run does"
        );
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\n",
                dir.path().join("data").display()
            ),
        )
        .unwrap();
        let child = Command::new(REGISTRY_BIN)
            .arg("serve")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("docker-registry starts");
        let registry = Self {
            child,
            port,
            _dir: dir,
        };
        for _ in 0..200 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return registry;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("docker-registry did not listen on 127.0.0.1:{port}");
    }

    fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Pushes `repo:tag` with one empty layer and a config holding `entrypoint` and `cmd`,
    /// through the distribution API.
    async fn push(&self, repo: &str, tag: &str, entrypoint: &[&str], cmd: &[&str]) {
        let http = reqwest::Client::new();
        let base = format!("http://{}/v2/{repo}", self.host());
        let config = serde_json::json!({
            "architecture": "amd64",
            "os": "linux",
            "config": {"Entrypoint": entrypoint, "Cmd": cmd},
            "rootfs": {"type": "layers", "diff_ids": []},
        })
        .to_string()
        .into_bytes();
        let layer = Vec::new();
        let mut descriptors = Vec::new();
        for blob in [&config, &layer] {
            let digest = format!("sha256:{:x}", Sha256::digest(blob));
            let start = http
                .post(format!("{base}/blobs/uploads/"))
                .send()
                .await
                .unwrap();
            assert_eq!(start.status(), 202, "starting an upload");
            let location = start.headers()["location"].to_str().unwrap().to_owned();
            let location = if location.starts_with("http") {
                location
            } else {
                format!("http://{}{location}", self.host())
            };
            let sep = if location.contains('?') { '&' } else { '?' };
            let put = http
                .put(format!("{location}{sep}digest={digest}"))
                .header("content-type", "application/octet-stream")
                .body(blob.clone())
                .send()
                .await
                .unwrap();
            assert_eq!(put.status(), 201, "uploading {digest}");
            descriptors.push((digest, blob.len()));
        }
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                       "digest": descriptors[0].0, "size": descriptors[0].1},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                        "digest": descriptors[1].0, "size": descriptors[1].1}],
        });
        let put = http
            .put(format!("{base}/manifests/{tag}"))
            .header("content-type", "application/vnd.oci.image.manifest.v1+json")
            .body(manifest.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(put.status(), 201, "pushing the manifest");
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn args_only_pod(dir: &Path, image: &str) -> PathBuf {
    let file = dir.join("pod.yaml");
    std::fs::write(
        &file,
        format!(
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\nspec:\n  containers:\n  - name: web\n    image: {image}\n    args: [\"--port\", \"8080\"]\n"
        ),
    )
    .unwrap();
    file
}

fn vk_aci(args: &[&str], file: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vk-aci"))
        .args(args)
        .arg(file)
        .output()
        .unwrap()
}

fn command_of(out: &Output) -> serde_json::Value {
    let body: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    body["properties"]["containers"][0]["properties"]["command"].clone()
}

#[tokio::test]
async fn resolve_images_should_prefix_args_with_the_image_entrypoint() {
    let registry = Registry::start().await;
    registry
        .push(
            "team/web",
            "v1",
            &["/bin/web", "--log=json"],
            &["--default"],
        )
        .await;
    let dir = tempfile::tempdir().unwrap();
    let image = format!("{}/team/web:v1", registry.host());
    let file = args_only_pod(dir.path(), &image);
    let host = registry.host();

    let out = vk_aci(
        &[
            "translate",
            "--resolve-images",
            "--insecure-registry",
            &host,
        ],
        &file,
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(
        command_of(&out),
        serde_json::json!(["/bin/web", "--log=json", "--port", "8080"]),
        "{stderr}"
    );

    // Offline (the default), nothing is read: the args stand alone, with a warning.
    let offline = vk_aci(&["translate"], &file);
    assert!(offline.status.success());
    assert_eq!(command_of(&offline), serde_json::json!(["--port", "8080"]));
    assert!(String::from_utf8_lossy(&offline.stderr).contains("spec.containers[0]"));
}

#[test]
fn unreachable_registry_should_be_reported_and_the_pod_translated_offline() {
    // Nothing listens on the discard port.
    let dir = tempfile::tempdir().unwrap();
    let file = args_only_pod(dir.path(), "127.0.0.1:9/team/web:v1");
    let out = vk_aci(
        &[
            "check",
            "--resolve-images",
            "--insecure-registry",
            "127.0.0.1:9",
        ],
        &file,
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("image config not read"), "{stderr}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("runs with changes"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}
