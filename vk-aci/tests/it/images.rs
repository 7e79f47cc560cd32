//! Image entrypoint resolution against a REAL registry: Debian's `docker-registry`
//! (distribution 2.8) started on loopback for each test, images pushed with `oci-client`.
//!
//! The registry binary is required: CI installs it (`.ci/run`); a missing binary fails the
//! tests with instructions rather than skipping them.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;

use k8s_openapi::api::core::v1 as k8s;
use oci_client::client::{ClientConfig, ClientProtocol, Config, ImageLayer};
use oci_client::manifest::{
    ImageIndexEntry, OCI_IMAGE_INDEX_MEDIA_TYPE, OCI_IMAGE_MEDIA_TYPE, OciImageIndex, Platform,
};
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};
use tokio::process::{Child, Command};
use tokio::time::{self, Duration};
use vk_aci::arm::Priority;
use vk_aci::images::{ImageResolver, ImageResolverConfig};
use vk_core::provider::{PodResources, Provider};
use vk_translate::ImageConfig;
use vk_translate::container_group::ContainerGroup;
use vk_translate::images::PullCredential;

use crate::common::*;

const REGISTRY_BIN: &str = "/usr/bin/docker-registry";
const USER: &str = "puller";
const PASSWORD: &str = "pull-s3cret";

/// A registry process on a loopback port with its own storage; killed on drop.
struct Registry {
    child: Option<Child>,
    port: u16,
    dir: PathBuf,
    auth: bool,
}

impl Registry {
    async fn start(auth: bool) -> Self {
        assert!(
            Path::new(REGISTRY_BIN).exists(),
            "{REGISTRY_BIN} is missing: install Debian's docker-registry package \
             (apt-get install -y docker-registry), as .ci/run does"
        );
        let port = free_port();
        let dir =
            std::env::temp_dir().join(format!("vk-aci-registry-{}-{port}", std::process::id()));
        std::fs::create_dir_all(dir.join("storage")).unwrap();
        let mut registry = Self {
            child: None,
            port,
            dir,
            auth,
        };
        registry.spawn().await;
        registry
    }

    fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("registry.log")).unwrap_or_default()
    }

    /// How often `needle` appears in the access log once at least `expected` lines are in
    /// (the registry writes a line after answering, so the log may lag a little).
    async fn logged(&self, needle: &str, expected: usize) -> usize {
        let count = || self.log().matches(needle).count();
        let _ = time::timeout(Duration::from_secs(5), async {
            while count() < expected {
                time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await;
        // Late extra lines would show here.
        time::sleep(Duration::from_millis(200)).await;
        count()
    }

    async fn spawn(&mut self) {
        let auth = if self.auth {
            let htpasswd = self.dir.join("htpasswd");
            let line = std::process::Command::new("htpasswd")
                .args(["-Bbn", USER, PASSWORD])
                .output()
                .expect("htpasswd (apache2-utils) is installed, as .ci/run does");
            std::fs::write(&htpasswd, line.stdout).unwrap();
            format!(
                "auth:\n  htpasswd:\n    realm: test\n    path: {}\n",
                htpasswd.display()
            )
        } else {
            String::new()
        };
        let config = format!(
            "version: 0.1\nlog:\n  level: info\n  accesslog:\n    disabled: false\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{}\n{auth}",
            self.dir.join("storage").display(),
            self.port
        );
        let config_path = self.dir.join("config.yml");
        std::fs::write(&config_path, config).unwrap();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("registry.log"))
            .unwrap();
        let child = Command::new(REGISTRY_BIN)
            .arg("serve")
            .arg(&config_path)
            .stdout(Stdio::from(log.try_clone().unwrap()))
            .stderr(Stdio::from(log))
            .kill_on_drop(true)
            .spawn()
            .expect("docker-registry starts");
        self.child = Some(child);
        // Wait for the port (a real process: real time, bounded).
        time::timeout(Duration::from_secs(20), async {
            while tokio::net::TcpStream::connect(self.host()).await.is_err() {
                time::sleep(Duration::from_millis(50)).await;
            }
        })
        .await
        .unwrap_or_else(|_| panic!("docker-registry did not listen: {}", self.log()));
    }

    async fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().await.unwrap();
        }
    }

    fn registry_auth(&self) -> RegistryAuth {
        if self.auth {
            RegistryAuth::Basic(USER.to_owned(), PASSWORD.to_owned())
        } else {
            RegistryAuth::Anonymous
        }
    }

    fn client(&self) -> Client {
        Client::new(ClientConfig {
            protocol: ClientProtocol::Http,
            ..ClientConfig::default()
        })
    }

    /// Pushes a one-layer image whose config has this ENTRYPOINT and CMD; returns the
    /// manifest's digest, size and the config's digest.
    async fn push_image(
        &self,
        repository_tag: &str,
        arch: &str,
        entrypoint: &[&str],
        cmd: &[&str],
    ) -> (String, i64, String) {
        let reference: Reference = format!("{}/{repository_tag}", self.host()).parse().unwrap();
        let config = serde_json::json!({
            "architecture": arch,
            "os": "linux",
            "config": {"Entrypoint": entrypoint, "Cmd": cmd},
            "rootfs": {"type": "layers", "diff_ids": []},
        });
        let config = Config::oci_v1(serde_json::to_vec(&config).unwrap(), None);
        let config_digest = config.sha256_digest();
        let layer = ImageLayer::oci_v1(format!("layer of {repository_tag}").into_bytes(), None);
        let client = self.client();
        client
            .push(&reference, &[layer], config, &self.registry_auth(), None)
            .await
            .expect("image pushed");
        let (raw, digest) = client
            .pull_manifest_raw(&reference, &self.registry_auth(), &[OCI_IMAGE_MEDIA_TYPE])
            .await
            .unwrap();
        (digest, i64::try_from(raw.len()).unwrap(), config_digest)
    }

    /// Pushes an index of an arm64 and an amd64 image (arm64 first, so the platform choice
    /// matters); returns the amd64 config digest.
    async fn push_multi_arch(&self, repository_tag: &str) -> String {
        let repository = repository_tag.split(':').next().unwrap();
        let (arm, arm_size, _) = self
            .push_image(
                &format!("{repository}:arm64"),
                "arm64",
                &["/arm64-entry"],
                &[],
            )
            .await;
        let (amd, amd_size, amd_config) = self
            .push_image(
                &format!("{repository}:amd64"),
                "amd64",
                &["/amd64-entry"],
                &["serve"],
            )
            .await;
        let entry = |digest: String, size: i64, arch: &str| ImageIndexEntry {
            media_type: OCI_IMAGE_MEDIA_TYPE.to_owned(),
            digest,
            size,
            platform: Some(
                serde_json::from_value::<Platform>(
                    serde_json::json!({"architecture": arch, "os": "linux"}),
                )
                .unwrap(),
            ),
            annotations: None,
            artifact_type: None,
        };
        let index = OciImageIndex {
            schema_version: 2,
            media_type: Some(OCI_IMAGE_INDEX_MEDIA_TYPE.to_owned()),
            manifests: vec![entry(arm, arm_size, "arm64"), entry(amd, amd_size, "amd64")],
            artifact_type: None,
            annotations: None,
        };
        let reference: Reference = format!("{}/{repository_tag}", self.host()).parse().unwrap();
        self.client()
            .push_manifest_list(&reference, &self.registry_auth(), index)
            .await
            .expect("index pushed");
        amd_config
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.start_kill();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn resolver(registry: &Registry) -> ImageResolver {
    ImageResolver::new(ImageResolverConfig {
        insecure_registries: vec![registry.host()],
        timeout: Duration::from_secs(5),
        error_ttl: Duration::ZERO,
        ..ImageResolverConfig::default()
    })
}

fn credential(registry: &Registry) -> PullCredential {
    PullCredential {
        server: registry.host(),
        username: USER.to_owned(),
        password: PASSWORD.to_owned(),
    }
}

#[tokio::test]
async fn an_image_config_should_be_read_from_the_registry() {
    let registry = Registry::start(false).await;
    registry
        .push_image("team/daprd:1.14", "amd64", &["/daprd"], &["--help"])
        .await;
    let resolver = resolver(&registry);
    let config = resolver
        .resolve(&format!("{}/team/daprd:1.14", registry.host()), &[])
        .await
        .unwrap();
    assert_eq!(
        config,
        ImageConfig {
            entrypoint: vec!["/daprd".to_owned()],
            cmd: vec!["--help".to_owned()],
        }
    );
}

#[tokio::test]
async fn a_multi_arch_index_should_give_the_amd64_config() {
    let registry = Registry::start(false).await;
    registry.push_multi_arch("team/multi:1").await;
    let config = resolver(&registry)
        .resolve(&format!("{}/team/multi:1", registry.host()), &[])
        .await
        .unwrap();
    assert_eq!(config.entrypoint, vec!["/amd64-entry".to_owned()]);
    assert_eq!(config.cmd, vec!["serve".to_owned()]);
}

#[tokio::test]
async fn a_private_registry_should_be_read_with_the_pods_pull_secret() {
    let registry = Registry::start(true).await;
    registry
        .push_image("private/app:2", "amd64", &["/app"], &[])
        .await;
    let image = format!("{}/private/app:2", registry.host());
    let anonymous = resolver(&registry).resolve(&image, &[]).await.unwrap_err();
    let error = vk_core::provider::ProviderError::from(&anonymous);
    assert!(error.is_retryable(), "{error:?}");
    let direct = resolver(&registry)
        .resolve(&image, &[credential(&registry)])
        .await
        .unwrap();
    assert_eq!(direct.entrypoint, vec!["/app".to_owned()]);

    // Through a pod and its dockerconfigjson pull secret.
    let secret: k8s::Secret = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "pull", "namespace": "default"},
        "type": "kubernetes.io/dockerconfigjson",
        "stringData": {".dockerconfigjson": serde_json::json!({"auths": {registry.host(): {"username": USER, "password": PASSWORD}}}).to_string()},
    }))
    .unwrap();
    let mut pod = args_pod("private", &image);
    pod.spec.as_mut().unwrap().image_pull_secrets = Some(vec![k8s::LocalObjectReference {
        name: "pull".to_owned(),
    }]);
    let objects = vk_translate::ReferencedObjects {
        secrets: [("pull".to_owned(), secret)].into(),
        ..Default::default()
    };
    let resolved = resolver(&registry)
        .resolve_pod(&pod, &objects)
        .await
        .unwrap();
    assert_eq!(resolved[&image].entrypoint, vec!["/app".to_owned()]);
    assert!(!format!("{anonymous:?} {error}").contains(PASSWORD));
}

#[tokio::test]
async fn a_registry_down_then_up_should_be_transient_then_resolve() {
    let mut registry = Registry::start(false).await;
    registry
        .push_image("team/app:1", "amd64", &["/app"], &[])
        .await;
    let image = format!("{}/team/app:1", registry.host());
    let resolver = resolver(&registry);
    registry.stop().await;
    let down = resolver.resolve(&image, &[]).await.unwrap_err();
    let error = vk_core::provider::ProviderError::from(&down);
    assert!(error.is_retryable(), "{error:?}");
    assert!(error.to_string().contains(&image), "{error}");

    registry.spawn().await;
    let config = resolver.resolve(&image, &[]).await.unwrap();
    assert_eq!(config.entrypoint, vec!["/app".to_owned()]);
}

#[tokio::test]
async fn a_hundred_concurrent_pods_of_one_image_should_fetch_its_config_once() {
    let registry = Registry::start(false).await;
    let (_, _, config_digest) = registry
        .push_image("team/popular:1", "amd64", &["/popular"], &[])
        .await;
    let image = format!("{}/team/popular:1", registry.host());
    let resolver = Arc::new(resolver(&registry));
    let lookups = (0..100).map(|_| {
        let resolver = Arc::clone(&resolver);
        let image = image.clone();
        tokio::spawn(async move { resolver.resolve(&image, &[]).await })
    });
    for lookup in futures::future::join_all(lookups).await {
        assert_eq!(
            lookup.unwrap().unwrap().entrypoint,
            vec!["/popular".to_owned()]
        );
    }
    assert_eq!(resolver.config_fetches(), 1);
    // Counted by the registry itself: one GET of the config blob (the push makes none).
    let gets = registry
        .logged(&format!("GET /v2/team/popular/blobs/{config_digest} "), 1)
        .await;
    assert_eq!(gets, 1, "{}", registry.log());
}

#[tokio::test]
async fn an_expired_tag_naming_the_same_image_should_not_fetch_its_config_again() {
    let registry = Registry::start(false).await;
    registry
        .push_image("team/stable:1", "amd64", &["/stable"], &[])
        .await;
    let image = format!("{}/team/stable:1", registry.host());
    let resolver = ImageResolver::new(ImageResolverConfig {
        insecure_registries: vec![registry.host()],
        tag_ttl: Duration::ZERO,
        ..ImageResolverConfig::default()
    });
    for _ in 0..3 {
        let config = resolver.resolve(&image, &[]).await.unwrap();
        assert_eq!(config.entrypoint, vec!["/stable".to_owned()]);
    }
    // The manifest is read each time (the tag may move), the config once (by digest).
    assert_eq!(resolver.config_fetches(), 1);
    // One GET by the push helper, three by the resolver.
    let gets = registry.logged("GET /v2/team/stable/manifests/1 ", 4).await;
    assert_eq!(gets, 4, "{}", registry.log());
}

fn args_pod(name: &str, image: &str) -> k8s::Pod {
    let mut pod = pod(name, &[("app", &[])]);
    let container = &mut pod.spec.as_mut().unwrap().containers[0];
    container.image = Some(image.to_owned());
    container.args = Some(vec!["--port".to_owned(), "$(PORT)".to_owned()]);
    container.env = Some(vec![k8s::EnvVar {
        name: "PORT".to_owned(),
        value: Some("8080".to_owned()),
        ..Default::default()
    }]);
    pod
}

#[tokio::test]
async fn an_args_only_pod_should_run_its_image_entrypoint_through_the_emulator() {
    let registry = Registry::start(false).await;
    registry
        .push_image(
            "team/web:3",
            "amd64",
            &["/bin/web", "--log=json"],
            &["--port", "80"],
        )
        .await;
    let em = emulator(vk_aci::emulator::EmulatorConfig::instant()).await;
    let p = provider(&em).with_image_resolver(Arc::new(resolver(&registry)));
    let pod = args_pod("web", &format!("{}/team/web:3", registry.host()));
    p.create_pod(&pod, &PodResources::default()).await.unwrap();
    let group: ContainerGroup = p
        .arm()
        .get(
            &vk_translate::container_group_name("default", "web"),
            Priority::Foreground,
        )
        .await
        .unwrap();
    assert_eq!(
        group.properties.containers[0].properties.command,
        vec!["/bin/web", "--log=json", "--port", "8080"]
    );
}
