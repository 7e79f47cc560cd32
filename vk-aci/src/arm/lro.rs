//! Long-running operations: follow `Azure-AsyncOperation`, then `Location`, then the
//! resource itself, honouring `Retry-After`.
use http::StatusCode;
use tokio::time::{self, Duration, Instant};
use url::Url;

use super::client::ArmClient;
use super::error::{Error, Result, code_and_message};
use super::throttle::Priority;
use super::transport::{Call, RawResponse};

/// What a finished operation looks like.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LroKind {
    /// The resource's `provisioningState` reaches a terminal value (PUT).
    ResourceState,
    /// The resource answers 404 (DELETE).
    ResourceGone,
}

/// Where to poll.
#[derive(Clone, Debug, PartialEq, Eq)]
enum PollTarget {
    /// `Azure-AsyncOperation`: a status resource with `status`.
    AsyncOperation(Url),
    /// `Location`: 202 until done, then 200/204.
    Location(Url),
    /// No header: GET the resource.
    Resource(Url),
}

/// A long-running operation to wait on.
#[derive(Clone, Debug)]
pub struct Lro {
    operation: &'static str,
    target: PollTarget,
    kind: LroKind,
    resource: Url,
    retry_after: Option<Duration>,
}

#[derive(serde::Deserialize)]
struct OperationStatus {
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    error: Option<super::error::CloudErrorDetail>,
}

// === impl Lro ===

impl Lro {
    /// The operation described by a response's headers, polling `resource` when there are
    /// none.
    pub(crate) fn from_headers(
        operation: &'static str,
        response: &RawResponse,
        resource: Url,
        kind: LroKind,
    ) -> Self {
        let header = |name: &str| {
            response
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| Url::parse(v).ok())
        };
        let target = if let Some(url) = header("azure-asyncoperation") {
            PollTarget::AsyncOperation(url)
        } else if let Some(url) = header("location") {
            PollTarget::Location(url)
        } else {
            PollTarget::Resource(resource.clone())
        };
        Self {
            operation,
            target,
            kind,
            resource,
            retry_after: response.retry_after(),
        }
    }

    /// Whether it polls an `Azure-AsyncOperation` URL.
    #[must_use]
    pub fn is_async_operation(&self) -> bool {
        matches!(self.target, PollTarget::AsyncOperation(_))
    }

    /// Whether it polls a `Location` URL.
    #[must_use]
    pub fn is_location(&self) -> bool {
        matches!(self.target, PollTarget::Location(_))
    }

    /// Poll until the operation ends.
    ///
    /// # Errors
    /// [`Error::OperationFailed`] when it ends `Failed`/`Canceled`, [`Error::Timeout`]
    /// after the configured LRO timeout, or any error of the polls.
    pub async fn wait(mut self, client: &ArmClient) -> Result<()> {
        let config = client.config();
        let deadline = Instant::now() + config.lro_timeout;
        loop {
            let delay = self.retry_after.unwrap_or(config.lro_poll_interval);
            if Instant::now() + delay > deadline {
                return Err(Error::Timeout {
                    operation: self.operation,
                    timeout: config.lro_timeout,
                });
            }
            time::sleep(delay).await;
            if self.poll(client).await? {
                return Ok(());
            }
        }
    }

    /// One poll; `true` when the operation is over.
    async fn poll(&mut self, client: &ArmClient) -> Result<bool> {
        const OP: &str = "lro.poll";
        let (url, accept): (Url, &[StatusCode]) = match &self.target {
            PollTarget::AsyncOperation(url) | PollTarget::Location(url) => (url.clone(), &[]),
            PollTarget::Resource(url) => (url.clone(), &[StatusCode::NOT_FOUND]),
        };
        let response = client
            .send(Call::get(OP, Priority::Foreground, url).accepting(accept))
            .await?;
        self.retry_after = response.retry_after();
        match &self.target {
            PollTarget::AsyncOperation(_) => {
                let status: OperationStatus =
                    serde_json::from_slice(&response.body).map_err(|source| Error::Decode {
                        operation: OP,
                        source,
                    })?;
                let state = status.status.unwrap_or_default();
                match state.as_str() {
                    "Succeeded" => Ok(true),
                    "Failed" | "Canceled" | "Cancelled" => {
                        let detail = status.error.unwrap_or_default();
                        Err(Error::OperationFailed {
                            operation: self.operation,
                            status: state,
                            code: detail.code.unwrap_or_default(),
                            message: detail.message.unwrap_or_default(),
                        })
                    }
                    _ => Ok(false),
                }
            }
            PollTarget::Location(_) => Ok(response.status != StatusCode::ACCEPTED),
            PollTarget::Resource(_) => match self.kind {
                LroKind::ResourceGone => Ok(response.status == StatusCode::NOT_FOUND),
                LroKind::ResourceState => {
                    if response.status == StatusCode::NOT_FOUND {
                        let (code, message) = code_and_message(response.status, &response.body);
                        return Err(Error::Api {
                            operation: self.operation,
                            status: 404,
                            code,
                            message,
                            retry_after: None,
                        });
                    }
                    let value: serde_json::Value =
                        serde_json::from_slice(&response.body).map_err(|source| Error::Decode {
                            operation: OP,
                            source,
                        })?;
                    let state = value
                        .pointer("/properties/provisioningState")
                        .and_then(serde_json::Value::as_str)
                        .unwrap_or("Succeeded");
                    if !is_terminal(state) {
                        return Ok(false);
                    }
                    if state == "Succeeded" {
                        Ok(true)
                    } else {
                        Err(Error::OperationFailed {
                            operation: self.operation,
                            status: state.to_owned(),
                            code: String::new(),
                            message: format!(
                                "provisioning of {} ended {state}",
                                self.resource.path()
                            ),
                        })
                    }
                }
            },
        }
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
