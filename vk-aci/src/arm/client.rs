//! The ARM client: container groups, logs, exec, usages and capabilities over reqwest, with
//! tokens, client-side budget, timeouts, retries and metrics on every call.
use std::sync::Arc;

use azure_core::credentials::Secret;
use http::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::time::Duration;
use url::Url;

use super::credentials::ArmCredential;
use super::error::{Error, Result};
use super::lro::{Lro, LroKind};
use super::metrics::ArmMetrics;
use super::retry::RetryPolicy;
use super::throttle::{Class, Priority, Throttle, ThrottleConfig};
pub(crate) use super::transport::{Call, RawResponse};
use super::transport::{Transport, decode};

/// The api-version this client speaks by default (`aci-spec/2025-09-01`).
pub const DEFAULT_API_VERSION: &str = "2025-09-01";

/// The Azure public cloud's Resource Manager.
pub const PUBLIC_CLOUD: &str = "https://management.azure.com";

/// Where and how the client talks to ARM.
#[derive(Clone, Debug)]
pub struct ArmConfig {
    /// Resource Manager base URL: public cloud, a sovereign cloud, or the emulator.
    pub base_url: Url,
    /// The `api-version` query parameter.
    pub api_version: String,
    /// Subscription of the container groups.
    pub subscription_id: String,
    /// Resource group of the container groups.
    pub resource_group: String,
    /// Region, for usages and capabilities.
    pub location: String,
    /// Timeout of each HTTP attempt.
    pub timeout: Duration,
    /// Retries of 429, 5xx, timeouts and transport errors.
    pub retry: RetryPolicy,
    /// Client-side token buckets.
    pub throttle: ThrottleConfig,
    /// Poll interval of long-running operations when ARM sends no `Retry-After`.
    pub lro_poll_interval: Duration,
    /// Give up waiting for a long-running operation after this long.
    pub lro_timeout: Duration,
    /// Largest response body accepted.
    pub max_body_bytes: usize,
    /// Appended to the `User-Agent` header after `vk-aci/<version>` (upstream
    /// `ACI_EXTRA_USER_AGENT`, e.g. the Helm chart's `helm-chart/aks/<chart>/<version>`).
    pub extra_user_agent: Option<String>,
}

impl ArmConfig {
    /// Settings for the public cloud with ARM's defaults.
    ///
    /// Defaults: api-version 2025-09-01 (the spec in `aci-spec/`); 30 s per attempt (ARM's
    /// synchronous calls answer within seconds; LROs are polled separately); ARM's token
    /// buckets; LRO polls every 5 s (ACI sends no `Retry-After` on PUT) for at most 30
    /// minutes; 8 MiB bodies (a list page of 100 groups is well under 1 MiB; logs are the
    /// largest answers).
    ///
    /// # Panics
    /// Never: the public cloud URL is a valid constant.
    #[must_use]
    pub fn new(
        subscription_id: impl Into<String>,
        resource_group: impl Into<String>,
        location: impl Into<String>,
    ) -> Self {
        Self {
            base_url: Url::parse(PUBLIC_CLOUD).expect("constant URL parses"),
            api_version: DEFAULT_API_VERSION.to_owned(),
            subscription_id: subscription_id.into(),
            resource_group: resource_group.into(),
            location: location.into(),
            timeout: Duration::from_secs(30),
            retry: RetryPolicy::default(),
            throttle: ThrottleConfig::default(),
            lro_poll_interval: Duration::from_secs(5),
            lro_timeout: Duration::from_secs(30 * 60),
            max_body_bytes: 8 * 1024 * 1024,
            extra_user_agent: None,
        }
    }

    /// Use another Resource Manager (sovereign cloud, emulator).
    #[must_use]
    pub fn base_url(mut self, url: Url) -> Self {
        self.base_url = url;
        self
    }

    /// Use another api-version.
    #[must_use]
    pub fn api_version(mut self, version: impl Into<String>) -> Self {
        self.api_version = version.into();
        self
    }

    /// Per-attempt timeout.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Retry policy.
    #[must_use]
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Client-side token buckets.
    #[must_use]
    pub fn throttle(mut self, throttle: ThrottleConfig) -> Self {
        self.throttle = throttle;
        self
    }

    /// Append `extra` to the `User-Agent` header (blank: nothing appended).
    #[must_use]
    pub fn extra_user_agent(mut self, extra: impl Into<String>) -> Self {
        let extra = extra.into();
        self.extra_user_agent = (!extra.trim().is_empty()).then(|| extra.trim().to_owned());
        self
    }

    /// The `User-Agent` header: `vk-aci/<version>`, then the extra part when set.
    #[must_use]
    pub fn user_agent(&self) -> String {
        let base = concat!("vk-aci/", env!("CARGO_PKG_VERSION"));
        match &self.extra_user_agent {
            Some(extra) => format!("{base} {extra}"),
            None => base.to_owned(),
        }
    }

    /// LRO poll interval.
    #[must_use]
    pub fn lro_poll_interval(mut self, interval: Duration) -> Self {
        self.lro_poll_interval = interval;
        self
    }
}

/// A started create-or-update: the resource as ARM answered the PUT, plus the operation to
/// wait on when it is still provisioning.
#[derive(Debug)]
pub struct Started<R> {
    /// The HTTP status (200 update, 201 create).
    pub status: u16,
    /// The resource in the PUT response.
    pub resource: R,
    /// The long-running operation, when provisioning is not finished.
    pub lro: Option<Lro>,
}

/// The outcome of a DELETE.
#[derive(Debug)]
pub enum Deleted {
    /// Deleted (200).
    Done,
    /// There was nothing to delete (204, or 404).
    NotFound,
    /// Accepted (202): wait on the operation to see it gone.
    Accepted(Box<Lro>),
}

/// A container group action ([`ArmClient::group_action`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GroupAction {
    /// `POST .../restart`: every container of the group starts again, in place.
    Restart,
    /// `POST .../stop`: every container stops; the group stays, `Stopped`.
    Stop,
}

/// The answer of the exec API: where to connect and the password to send first.
pub struct ExecSession {
    /// The WebSocket to connect to.
    pub web_socket_uri: String,
    /// The password, sent as the first TEXT frame. Never logged.
    pub password: Secret,
}

impl std::fmt::Debug for ExecSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExecSession")
            .field("web_socket_uri", &self.web_socket_uri)
            .finish_non_exhaustive()
    }
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct ExecBody {
    web_socket_uri: Option<String>,
    password: Option<String>,
}

#[derive(serde::Deserialize)]
struct LogsBody {
    #[serde(default)]
    content: Option<String>,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListPage<R> {
    #[serde(default = "Vec::new")]
    value: Vec<R>,
    #[serde(default)]
    next_link: Option<String>,
}

/// The ARM client. Cheap to clone.
#[derive(Clone, Debug)]
pub struct ArmClient {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    config: ArmConfig,
    transport: Transport,
}

// === impl ArmClient ===

impl ArmClient {
    /// A client for `config` authenticating with `credential`.
    ///
    /// # Errors
    /// [`Error::Config`] when the HTTP client cannot be built.
    pub fn new(config: ArmConfig, credential: ArmCredential) -> Result<Self> {
        let transport = Transport {
            http: Transport::http_client(config.timeout, &config.user_agent())?,
            credential,
            throttle: Throttle::new(config.throttle),
            metrics: ArmMetrics::default(),
            timeout: config.timeout,
            retry: config.retry,
            max_body_bytes: config.max_body_bytes,
        };
        Ok(Self {
            inner: Arc::new(Inner { config, transport }),
        })
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &ArmConfig {
        &self.inner.config
    }

    /// The client's metrics (register them with a Prometheus registry).
    #[must_use]
    pub fn metrics(&self) -> &ArmMetrics {
        &self.inner.transport.metrics
    }

    /// The client's token buckets (the status tracker plans with them).
    #[must_use]
    pub fn throttle(&self) -> &Throttle {
        &self.inner.transport.throttle
    }

    // --- URLs ---

    fn url(&self, segments: &[&str], query: &[(&str, String)]) -> Result<Url> {
        self.url_with_version(segments, &self.inner.config.api_version, query)
    }

    pub(super) fn url_with_version(
        &self,
        segments: &[&str],
        api_version: &str,
        query: &[(&str, String)],
    ) -> Result<Url> {
        let mut url = self.inner.config.base_url.clone();
        {
            let mut path = url
                .path_segments_mut()
                .map_err(|()| Error::Config("base URL cannot have a path".into()))?;
            path.pop_if_empty();
            for s in segments {
                path.push(s);
            }
        }
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("api-version", api_version);
            for (k, v) in query {
                q.append_pair(k, v);
            }
        }
        Ok(url)
    }

    pub(super) fn group_segments<'a>(&'a self, name: &'a str) -> Vec<&'a str> {
        let c = &self.inner.config;
        vec![
            "subscriptions",
            &c.subscription_id,
            "resourceGroups",
            &c.resource_group,
            "providers",
            "Microsoft.ContainerInstance",
            "containerGroups",
            name,
        ]
    }

    /// The ARM URL of a subnet (`Microsoft.Network`, its own api-version).
    pub(crate) fn subnet_url(&self, subnet: &super::network::SubnetRef) -> Result<Url> {
        self.url_with_version(
            &[
                "subscriptions",
                &subnet.subscription_id,
                "resourceGroups",
                &subnet.resource_group,
                "providers",
                "Microsoft.Network",
                "virtualNetworks",
                &subnet.vnet,
                "subnets",
                &subnet.subnet,
            ],
            super::network::NETWORK_API_VERSION,
            &[],
        )
    }

    /// The ARM URL of a container group.
    ///
    /// # Errors
    /// [`Error::Config`] when the base URL cannot carry a path.
    pub fn container_group_url(&self, name: &str) -> Result<Url> {
        self.url(&self.group_segments(name), &[])
    }

    fn location_url(&self, what: &str) -> Result<Url> {
        let c = &self.inner.config;
        self.url(
            &[
                "subscriptions",
                &c.subscription_id,
                "providers",
                "Microsoft.ContainerInstance",
                "locations",
                &c.location,
                what,
            ],
            &[],
        )
    }

    /// Refuse to send the token anywhere but the configured Resource Manager.
    pub(crate) fn check_origin(&self, url: &Url) -> Result<()> {
        if url.origin() == self.inner.config.base_url.origin() {
            Ok(())
        } else {
            Err(Error::Config(format!(
                "refusing to follow a link to another host ({})",
                url.host_str().unwrap_or("?")
            )))
        }
    }

    // --- transport ---

    /// Send one call to the configured Resource Manager (see [`Transport::send`]).
    pub(crate) async fn send(&self, call: Call<'_>) -> Result<RawResponse> {
        self.check_origin(&call.url)?;
        self.inner.transport.send(call).await
    }

    fn decode<R: DeserializeOwned>(operation: &'static str, body: &[u8]) -> Result<R> {
        decode(operation, body)
    }

    // --- container groups ---

    /// PUT a container group (create or full update) without waiting for provisioning.
    ///
    /// # Errors
    /// Any [`Error`]; validation failures come back as [`Error::Api`] with ARM's code.
    pub async fn begin_create_or_update<B: Serialize + Sync, R: DeserializeOwned>(
        &self,
        name: &str,
        group: &B,
    ) -> Result<Started<R>> {
        const OP: &str = "container_groups.create_or_update";
        let url = self.container_group_url(name)?;
        let body = serde_json::to_vec(group).map_err(|source| Error::Decode {
            operation: OP,
            source,
        })?;
        let response = self
            .send(Call {
                operation: OP,
                class: Class::Write,
                priority: Priority::Foreground,
                method: Method::PUT,
                url: url.clone(),
                body: Some(body),
                accept: &[],
                idempotent: true,
            })
            .await?;
        let value: serde_json::Value = Self::decode(OP, &response.body)?;
        let state = value
            .pointer("/properties/provisioningState")
            .and_then(serde_json::Value::as_str)
            .unwrap_or("Succeeded")
            .to_owned();
        let lro = if is_terminal(&state) {
            None
        } else {
            Some(Lro::from_headers(
                OP,
                &response,
                url,
                LroKind::ResourceState,
            ))
        };
        let resource = serde_json::from_value(value).map_err(|source| Error::Decode {
            operation: OP,
            source,
        })?;
        Ok(Started {
            status: response.status.as_u16(),
            resource,
            lro,
        })
    }

    /// PUT a container group and wait until provisioning ends; returns the group as GET
    /// shows it then.
    ///
    /// # Errors
    /// Any [`Error`]; [`Error::OperationFailed`] when provisioning failed.
    pub async fn create_or_update<B: Serialize + Sync, R: DeserializeOwned>(
        &self,
        name: &str,
        group: &B,
    ) -> Result<R> {
        let started: Started<serde_json::Value> = self.begin_create_or_update(name, group).await?;
        if let Some(lro) = started.lro {
            lro.wait(self).await?;
        }
        self.get(name, Priority::Foreground).await
    }

    /// GET a container group with its instance view.
    ///
    /// # Errors
    /// Any [`Error`]; a missing group is [`Error::Api`] with status 404
    /// ([`Error::is_not_found`]).
    pub async fn get<R: DeserializeOwned>(&self, name: &str, priority: Priority) -> Result<R> {
        const OP: &str = "container_groups.get";
        let url = self.container_group_url(name)?;
        let response = self
            .send(Call {
                operation: OP,
                class: Class::Read,
                priority,
                method: Method::GET,
                url,
                body: None,
                accept: &[],
                idempotent: true,
            })
            .await?;
        Self::decode(OP, &response.body)
    }

    /// DELETE a container group without waiting for it to be gone.
    ///
    /// # Errors
    /// Any [`Error`] but 404, which is [`Deleted::NotFound`] like ARM's 204.
    pub async fn begin_delete(&self, name: &str) -> Result<Deleted> {
        const OP: &str = "container_groups.delete";
        let url = self.container_group_url(name)?;
        let response = self
            .send(Call {
                operation: OP,
                class: Class::Delete,
                priority: Priority::Foreground,
                method: Method::DELETE,
                url: url.clone(),
                body: None,
                accept: &[StatusCode::NOT_FOUND],
                idempotent: true,
            })
            .await?;
        Ok(match response.status {
            // ARM answers 204 when there was nothing to delete.
            StatusCode::NOT_FOUND | StatusCode::NO_CONTENT => Deleted::NotFound,
            StatusCode::ACCEPTED => Deleted::Accepted(Box::new(Lro::from_headers(
                OP,
                &response,
                url,
                LroKind::ResourceGone,
            ))),
            _ => Deleted::Done,
        })
    }

    /// DELETE a container group and wait until it is gone. Returns whether it existed.
    ///
    /// # Errors
    /// Any [`Error`].
    pub async fn delete(&self, name: &str) -> Result<bool> {
        match self.begin_delete(name).await? {
            Deleted::Done => Ok(true),
            Deleted::NotFound => Ok(false),
            Deleted::Accepted(lro) => {
                lro.wait(self).await?;
                Ok(true)
            }
        }
    }

    /// Every container group in the resource group (no instance views), following
    /// `nextLink` for at most 1,000 pages.
    ///
    /// # Errors
    /// Any [`Error`].
    pub async fn list<R: DeserializeOwned>(&self, priority: Priority) -> Result<Vec<R>> {
        const OP: &str = "container_groups.list_by_resource_group";
        let c = &self.inner.config;
        let mut url = self.url(
            &[
                "subscriptions",
                &c.subscription_id,
                "resourceGroups",
                &c.resource_group,
                "providers",
                "Microsoft.ContainerInstance",
                "containerGroups",
            ],
            &[],
        )?;
        let mut all = Vec::new();
        for _ in 0..1000 {
            let response = self
                .send(Call {
                    operation: OP,
                    class: Class::Read,
                    priority,
                    method: Method::GET,
                    url,
                    body: None,
                    accept: &[],
                    idempotent: true,
                })
                .await?;
            let page: ListPage<R> = Self::decode(OP, &response.body)?;
            all.extend(page.value);
            match page.next_link.filter(|l| !l.is_empty()) {
                Some(next) => {
                    url = Url::parse(&next)
                        .map_err(|e| Error::Config(format!("bad nextLink: {e}")))?;
                }
                None => return Ok(all),
            }
        }
        Ok(all)
    }

    /// A container's log, optionally only the last `tail` lines and with timestamps.
    ///
    /// # Errors
    /// Any [`Error`].
    pub async fn logs(
        &self,
        name: &str,
        container: &str,
        tail: Option<u64>,
        timestamps: bool,
    ) -> Result<String> {
        self.logs_at(name, container, tail, timestamps, Priority::Foreground)
            .await
    }

    /// [`Self::logs`] at `priority`: [`Priority::Background`] for the polls of a follower.
    ///
    /// # Errors
    /// Any [`Error`].
    pub async fn logs_at(
        &self,
        name: &str,
        container: &str,
        tail: Option<u64>,
        timestamps: bool,
        priority: Priority,
    ) -> Result<String> {
        const OP: &str = "containers.list_logs";
        let mut segments = self.group_segments(name);
        segments.extend(["containers", container, "logs"]);
        let mut query = Vec::new();
        if let Some(tail) = tail {
            query.push(("tail", tail.to_string()));
        }
        if timestamps {
            query.push(("timestamps", "true".to_owned()));
        }
        let url = self.url(&segments, &query)?;
        let response = self
            .send(Call {
                operation: OP,
                class: Class::Read,
                priority,
                method: Method::GET,
                url,
                body: None,
                accept: &[],
                idempotent: true,
            })
            .await?;
        let body: LogsBody = Self::decode(OP, &response.body)?;
        Ok(body.content.unwrap_or_default())
    }

    /// Start an exec session: ACI answers where to connect and the password.
    ///
    /// # Errors
    /// Any [`Error`].
    pub async fn exec(
        &self,
        name: &str,
        container: &str,
        command: &str,
        rows: u16,
        cols: u16,
    ) -> Result<ExecSession> {
        const OP: &str = "containers.execute_command";
        let mut segments = self.group_segments(name);
        segments.extend(["containers", container, "exec"]);
        let url = self.url(&segments, &[])?;
        let body = serde_json::json!({
            "command": command,
            "terminalSize": {"rows": rows, "cols": cols},
        });
        let response = self
            .send(Call {
                operation: OP,
                class: Class::Write,
                priority: Priority::Foreground,
                method: Method::POST,
                url,
                body: Some(body.to_string().into_bytes()),
                accept: &[],
                // A POST that may have opened a session: never sent twice.
                idempotent: false,
            })
            .await?;
        let body: ExecBody = Self::decode(OP, &response.body)?;
        match (body.web_socket_uri, body.password) {
            (Some(web_socket_uri), Some(password)) => Ok(ExecSession {
                web_socket_uri,
                password: Secret::new(password),
            }),
            _ => Err(Error::Api {
                operation: OP,
                status: response.status.as_u16(),
                code: "InvalidExecResponse".into(),
                message: "exec answer lacks webSocketUri or password".into(),
                retry_after: None,
            }),
        }
    }

    /// POST a container group action (`restart` or `stop`), ACI's only way to end a
    /// running container without a new PUT: both act on every container of the group
    /// (there is no per-container restart). Returns once ARM accepted it.
    ///
    /// # Errors
    /// Any [`Error`].
    pub async fn group_action(&self, name: &str, action: GroupAction) -> Result<()> {
        let (op, segment) = match action {
            GroupAction::Restart => ("container_groups.restart", "restart"),
            GroupAction::Stop => ("container_groups.stop", "stop"),
        };
        let mut segments = self.group_segments(name);
        segments.push(segment);
        let url = self.url(&segments, &[])?;
        self.send(Call {
            operation: op,
            class: Class::Write,
            priority: Priority::Foreground,
            method: Method::POST,
            url,
            body: None,
            accept: &[],
            // Restarting twice kills the containers twice: never sent again.
            idempotent: false,
        })
        .await?;
        Ok(())
    }

    /// The region's usage against quota (`{"value": [Usage]}`).
    ///
    /// # Errors
    /// Any [`Error`].
    pub async fn usages<R: DeserializeOwned>(&self) -> Result<R> {
        const OP: &str = "location.list_usage";
        let url = self.location_url("usages")?;
        let response = self
            .send(Call {
                operation: OP,
                class: Class::Read,
                priority: Priority::Foreground,
                method: Method::GET,
                url,
                body: None,
                accept: &[],
                idempotent: true,
            })
            .await?;
        Self::decode(OP, &response.body)
    }

    /// The region's capabilities (`{"value": [Capabilities]}`).
    ///
    /// # Errors
    /// Any [`Error`].
    pub async fn capabilities<R: DeserializeOwned>(&self) -> Result<R> {
        const OP: &str = "location.list_capabilities";
        let url = self.location_url("capabilities")?;
        let response = self
            .send(Call {
                operation: OP,
                class: Class::Read,
                priority: Priority::Foreground,
                method: Method::GET,
                url,
                body: None,
                accept: &[],
                idempotent: true,
            })
            .await?;
        Self::decode(OP, &response.body)
    }
}

/// Whether a `provisioningState` is final.
#[must_use]
pub fn is_terminal(state: &str) -> bool {
    matches!(
        state,
        "Succeeded" | "Failed" | "Canceled" | "Cancelled" | "Unhealthy" | "NotAccessible"
    )
}
