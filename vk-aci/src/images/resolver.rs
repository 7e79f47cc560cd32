//! [`ImageResolver`]: reads images' ENTRYPOINT and CMD from their registries.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use futures::StreamExt as _;
use k8s_openapi::api::core::v1::Pod;
use oci_client::client::{
    ClientConfig, ClientProtocol, linux_amd64_resolver, windows_amd64_resolver,
};
use oci_client::errors::OciDistributionError;
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};
use serde::Deserialize;
use tokio::time::{self, Duration};
use vk_core::error_chain;
use vk_core::provider::ProviderError;
use vk_translate::container_group::OperatingSystemTypes;
use vk_translate::images::{PullCredential, images_to_resolve, pull_credentials};
use vk_translate::{ImageConfig, ReferencedObjects, ResolvedImages};

use super::cache::Cache;

/// Settings of the [`ImageResolver`].
#[derive(Clone, Debug)]
pub struct ImageResolverConfig {
    /// Longest time one image's manifest and config may take, all requests included.
    pub timeout: Duration,
    /// How long the config of a tag (not a digest) is trusted before it is read again.
    pub tag_ttl: Duration,
    /// How long a failure is remembered, so that the pods waiting on it do not each retry.
    pub error_ttl: Duration,
    /// Most images cached.
    pub capacity: usize,
    /// Largest image config read, in bytes.
    pub max_config_bytes: u64,
    /// Registries (`host:port`) spoken to over plain HTTP: local mirrors and tests.
    pub insecure_registries: Vec<String>,
    /// OS whose entry of a multi-arch index is read (amd64 always: ACI runs amd64 only).
    pub os_type: OperatingSystemTypes,
}

impl Default for ImageResolverConfig {
    /// 10 s per image (the ARM client's order of magnitude; the pod is retried after it),
    /// tags trusted 5 minutes (image tags move rarely; a pod created after a push may still
    /// see the old ENTRYPOINT for that long), failures remembered 5 s, 1024 images, configs
    /// up to 1 MiB (real ones are a few KiB), HTTPS everywhere, Linux.
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(10),
            tag_ttl: Duration::from_secs(300),
            error_ttl: Duration::from_secs(5),
            capacity: 1024,
            max_config_bytes: 1 << 20,
            insecure_registries: Vec::new(),
            os_type: OperatingSystemTypes::Linux,
        }
    }
}

/// Why an image's config could not be read.
#[derive(Clone, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImageError {
    /// The pod's `image` is not a valid reference.
    #[error("image {image:?} is not a valid image reference")]
    InvalidReference {
        /// The image as written.
        image: String,
        /// The parse error.
        #[source]
        source: Arc<oci_client::ParseError>,
    },
    /// The registry did not answer within the timeout.
    #[error("registry of image {image:?} did not answer within {after:?}")]
    Timeout {
        /// The image.
        image: String,
        /// The timeout.
        after: Duration,
    },
    /// The registry answered with an error or could not be reached.
    #[error("cannot read the config of image {image:?} from its registry")]
    Registry {
        /// The image.
        image: String,
        /// What the client saw.
        #[source]
        source: Arc<OciDistributionError>,
    },
    /// The image config is larger than the configured bound.
    #[error("config of image {image:?} is larger than {max} bytes")]
    ConfigTooLarge {
        /// The image.
        image: String,
        /// The bound.
        max: u64,
    },
    /// The image config is not the JSON an image config is.
    #[error("config of image {image:?} is not a valid image config")]
    InvalidConfig {
        /// The image.
        image: String,
        /// The parse error.
        #[source]
        source: Arc<serde_json::Error>,
    },
}

impl From<&ImageError> for ProviderError {
    /// A bad reference or config is the pod's problem (it cannot run); anything the registry
    /// did is transient: the pod waits and is retried.
    fn from(error: &ImageError) -> Self {
        let message = error_chain(error);
        match error {
            ImageError::InvalidReference { .. }
            | ImageError::ConfigTooLarge { .. }
            | ImageError::InvalidConfig { .. } => ProviderError::InvalidInput(message),
            ImageError::Timeout { .. } | ImageError::Registry { .. } => ProviderError::transient(
                "ImageConfigUnavailable",
                format!(
                    "{message}; the ENTRYPOINT is needed because a container has args but no command (waiting for the registry)"
                ),
            ),
        }
    }
}

/// Reads and caches image configs.
#[derive(Debug)]
pub struct ImageResolver {
    config: ImageResolverConfig,
    /// By reference (and login): digests for good, tags for `tag_ttl`.
    cache: Cache<Result<ImageConfig, ImageError>>,
    /// By config digest: a tag whose TTL ran out but still names the same image costs the
    /// manifest only.
    configs: Cache<Result<ImageConfig, ImageError>>,
    fetches: AtomicU64,
}

#[derive(Deserialize)]
struct ConfigFile {
    #[serde(default)]
    config: Option<ExecConfig>,
}

#[derive(Deserialize)]
struct ExecConfig {
    #[serde(rename = "Entrypoint", default)]
    entrypoint: Option<Vec<String>>,
    #[serde(rename = "Cmd", default)]
    cmd: Option<Vec<String>>,
}

// === impl ImageResolver ===

impl ImageResolver {
    /// A resolver with an empty cache.
    #[must_use]
    pub fn new(config: ImageResolverConfig) -> Self {
        Self {
            cache: Cache::new(config.capacity),
            configs: Cache::new(config.capacity),
            config,
            fetches: AtomicU64::new(0),
        }
    }

    /// How many image config blobs were fetched from registries (cache misses).
    #[must_use]
    pub fn config_fetches(&self) -> u64 {
        self.fetches.load(Ordering::Relaxed)
    }

    /// The configs of the images the pod's translation needs ([`images_to_resolve`]), read
    /// with the pod's pull credentials.
    ///
    /// # Errors
    ///
    /// The first image that could not be read.
    pub async fn resolve_pod(
        &self,
        pod: &Pod,
        objects: &ReferencedObjects,
    ) -> Result<ResolvedImages, ImageError> {
        let images = images_to_resolve(pod);
        if images.is_empty() {
            return Ok(ResolvedImages::new());
        }
        let credentials = pull_credentials(pod, objects);
        let results =
            futures::future::join_all(images.iter().map(|image| self.resolve(image, &credentials)))
                .await;
        images
            .into_iter()
            .zip(results)
            .map(|(image, result)| result.map(|config| (image, config)))
            .collect()
    }

    /// The config of one image, from the cache or its registry.
    ///
    /// # Errors
    ///
    /// [`ImageError`]; failures are cached for `error_ttl`.
    pub async fn resolve(
        &self,
        image: &str,
        credentials: &[PullCredential],
    ) -> Result<ImageConfig, ImageError> {
        let reference: Reference =
            image
                .parse()
                .map_err(|e: oci_client::ParseError| ImageError::InvalidReference {
                    image: image.to_owned(),
                    source: Arc::new(e),
                })?;
        let credential = credentials
            .iter()
            .find(|c| same_registry(&c.server, reference.registry()));
        // Different logins may see different things: they do not share entries.
        let key = format!(
            "{}|{}",
            reference.whole(),
            credential.map_or("", |c| c.username.as_str())
        );
        let is_digest = reference.digest().is_some();
        self.cache
            .get_or_fetch(&key, || async {
                let result = match time::timeout(
                    self.config.timeout,
                    self.fetch(image, &reference, credential),
                )
                .await
                {
                    Ok(result) => result,
                    Err(_) => Err(ImageError::Timeout {
                        image: image.to_owned(),
                        after: self.config.timeout,
                    }),
                };
                let ttl = match &result {
                    Err(_) => Some(self.config.error_ttl),
                    Ok(_) if is_digest => None,
                    Ok(_) => Some(self.config.tag_ttl),
                };
                (result, ttl)
            })
            .await
    }

    async fn fetch(
        &self,
        image: &str,
        reference: &Reference,
        credential: Option<&PullCredential>,
    ) -> Result<ImageConfig, ImageError> {
        let registry_error = |e: OciDistributionError| ImageError::Registry {
            image: image.to_owned(),
            source: Arc::new(e),
        };
        let client = Client::new(ClientConfig {
            protocol: ClientProtocol::HttpsExcept(self.config.insecure_registries.clone()),
            platform_resolver: Some(Box::new(match self.config.os_type {
                OperatingSystemTypes::Windows => windows_amd64_resolver,
                _ => linux_amd64_resolver,
            })),
            connect_timeout: Some(self.config.timeout),
            read_timeout: Some(self.config.timeout),
            ..ClientConfig::default()
        });
        let auth = credential.map_or(RegistryAuth::Anonymous, |c| {
            RegistryAuth::Basic(c.username.clone(), c.password.clone())
        });
        let (manifest, _digest) = client
            .pull_image_manifest(reference, &auth)
            .await
            .map_err(registry_error)?;
        let max = self.config.max_config_bytes;
        if u64::try_from(manifest.config.size).unwrap_or(u64::MAX) > max {
            return Err(ImageError::ConfigTooLarge {
                image: image.to_owned(),
                max,
            });
        }
        let digest = manifest.config.digest.clone();
        self.configs
            .get_or_fetch(&digest, || async {
                self.fetches.fetch_add(1, Ordering::Relaxed);
                let result = self
                    .fetch_config(&client, image, reference, &manifest)
                    .await;
                // Content-addressed: good for ever (until evicted).
                let ttl = result.is_err().then_some(self.config.error_ttl);
                (result, ttl)
            })
            .await
    }

    async fn fetch_config(
        &self,
        client: &Client,
        image: &str,
        reference: &Reference,
        manifest: &oci_client::manifest::OciImageManifest,
    ) -> Result<ImageConfig, ImageError> {
        let registry_error = |e: OciDistributionError| ImageError::Registry {
            image: image.to_owned(),
            source: Arc::new(e),
        };
        let max = self.config.max_config_bytes;
        let mut stream = client
            .pull_blob_stream(reference, &manifest.config)
            .await
            .map_err(registry_error)?
            .stream;
        let mut bytes = Vec::new();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| registry_error(OciDistributionError::IoError(e)))?;
            if u64::try_from(bytes.len() + chunk.len()).unwrap_or(u64::MAX) > max {
                return Err(ImageError::ConfigTooLarge {
                    image: image.to_owned(),
                    max,
                });
            }
            bytes.extend_from_slice(&chunk);
        }
        let file: ConfigFile =
            serde_json::from_slice(&bytes).map_err(|e| ImageError::InvalidConfig {
                image: image.to_owned(),
                source: Arc::new(e),
            })?;
        let exec = file.config;
        Ok(ImageConfig {
            entrypoint: exec
                .as_ref()
                .and_then(|c| c.entrypoint.clone())
                .unwrap_or_default(),
            cmd: exec.and_then(|c| c.cmd).unwrap_or_default(),
        })
    }
}

/// Whether a pull secret's server names the reference's registry (Docker Hub has three
/// names).
fn same_registry(server: &str, registry: &str) -> bool {
    fn canonical(host: &str) -> &str {
        match host {
            "index.docker.io" | "registry-1.docker.io" | "registry.hub.docker.com" => "docker.io",
            other => other,
        }
    }
    canonical(&server.to_ascii_lowercase()) == canonical(&registry.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_hub_names_should_match() {
        assert!(same_registry("index.docker.io", "docker.io"));
        assert!(same_registry(
            "Registry.Example:5000",
            "registry.example:5000"
        ));
        assert!(!same_registry("a.example", "b.example"));
    }

    #[tokio::test]
    async fn invalid_references_should_fail_without_network() {
        let resolver = ImageResolver::new(ImageResolverConfig::default());
        let error = resolver.resolve("UPPER CASE!", &[]).await.unwrap_err();
        assert!(matches!(error, ImageError::InvalidReference { .. }));
        assert!(matches!(
            ProviderError::from(&error),
            ProviderError::InvalidInput(_)
        ));
        assert_eq!(resolver.config_fetches(), 0);
    }

    #[tokio::test]
    async fn unreachable_registries_should_be_transient() {
        // Port 9 on loopback: nothing listens (connection refused at once).
        let resolver = ImageResolver::new(ImageResolverConfig {
            insecure_registries: vec!["127.0.0.1:9".to_owned()],
            ..ImageResolverConfig::default()
        });
        let error = resolver
            .resolve("127.0.0.1:9/app:1", &[])
            .await
            .unwrap_err();
        let provider = ProviderError::from(&error);
        assert!(provider.is_retryable(), "{provider:?}");
        assert!(
            provider.to_string().contains("127.0.0.1:9/app:1"),
            "{provider}"
        );
    }
}
