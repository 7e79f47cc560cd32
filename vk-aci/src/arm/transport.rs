//! One HTTP call to an Azure endpoint with everything every call gets: a client-side budget,
//! a bearer token, a timeout, bounded bodies, retries of transient failures with
//! `Retry-After`, and a metric. Resource Manager ([`super::ArmClient`]) and Azure Monitor
//! ([`crate::monitor`]) send through it, each with its own token audience and budget.
use bytes::Bytes;
use http::{HeaderMap, Method, StatusCode};
use serde::de::DeserializeOwned;
use tokio::time::{self, Duration, Instant};
use url::Url;

use super::credentials::ArmCredential;
use super::error::{Error, Result, code_and_message};
use super::metrics::ArmMetrics;
use super::retry::{RetryPolicy, parse_retry_after};
use super::throttle::{Class, Priority, Throttle};

/// One call to send.
pub(crate) struct Call<'a> {
    pub operation: &'static str,
    pub class: Class,
    pub priority: Priority,
    pub method: Method,
    pub url: Url,
    pub body: Option<Vec<u8>>,
    pub accept: &'a [StatusCode],
    /// Whether sending it twice is safe (GET, PUT, DELETE, and POSTs that only read).
    /// A call that is not is never retried: a lost answer may hide an applied request.
    pub idempotent: bool,
}

impl Call<'static> {
    /// A read: `GET url`, safe to retry, every 2xx accepted.
    pub fn get(operation: &'static str, priority: Priority, url: Url) -> Self {
        Self {
            operation,
            class: Class::Read,
            priority,
            method: Method::GET,
            url,
            body: None,
            accept: &[],
            idempotent: true,
        }
    }
}

impl<'a> Call<'a> {
    /// Also accept these non-2xx statuses as answers (a 404 that means "absent").
    pub fn accepting<'b>(self, accept: &'b [StatusCode]) -> Call<'b> {
        Call { accept, ..self }
    }
}

/// What the service answered, headers digested.
#[derive(Debug)]
pub(crate) struct RawResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl RawResponse {
    pub fn retry_after(&self) -> Option<Duration> {
        header_str(&self.headers, "retry-after").and_then(parse_retry_after)
    }
}

pub(crate) fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Decode a JSON body, naming the operation on failure.
pub(crate) fn decode<R: DeserializeOwned>(operation: &'static str, body: &[u8]) -> Result<R> {
    serde_json::from_slice(body).map_err(|source| Error::Decode { operation, source })
}

/// The pieces a call is sent with.
#[derive(Debug)]
pub(crate) struct Transport {
    pub http: reqwest::Client,
    pub credential: ArmCredential,
    pub throttle: Throttle,
    pub metrics: ArmMetrics,
    pub timeout: Duration,
    pub retry: RetryPolicy,
    pub max_body_bytes: usize,
}

impl Transport {
    /// A reqwest client with `timeout` for connecting and for whole requests.
    pub fn http_client(timeout: Duration, user_agent: &str) -> Result<reqwest::Client> {
        reqwest::Client::builder()
            .connect_timeout(timeout)
            .timeout(timeout)
            .user_agent(user_agent)
            .build()
            .map_err(|e| Error::Config(format!("http client: {e}")))
    }

    /// Send one call with budget, token, timeout, retries and metrics. Non-success statuses
    /// other than those in `accept` become [`Error::Api`].
    ///
    /// The attempts made and the final status (an HTTP status, or `timeout`, `too_large`,
    /// `transport`) are recorded as `attempts` and `status` on the caller's span when it
    /// has those fields (the `arm call` and `azure monitor call` spans).
    pub async fn send(&self, call: Call<'_>) -> Result<RawResponse> {
        let Call {
            operation,
            class,
            priority,
            method,
            url,
            body,
            accept,
            idempotent,
        } = call;
        let mut attempt = 0u32;
        // A refused token (401: rotated, revoked, expired early) is replaced once; the
        // request was not processed, so even a call that is not idempotent may go again.
        let mut reauthenticated = false;
        loop {
            attempt += 1;
            let waited = Instant::now();
            self.throttle.acquire(class, priority).await;
            self.metrics
                .waited(operation, waited.elapsed().as_secs_f64());
            let token = self.credential.token().await.map_err(Error::Credential)?;
            let mut request = self
                .http
                .request(method.clone(), url.clone())
                .bearer_auth(token.secret())
                .header(http::header::ACCEPT, "application/json");
            if let Some(body) = &body {
                request = request
                    .header(http::header::CONTENT_TYPE, "application/json")
                    .body(body.clone());
            }
            let started = Instant::now();
            let outcome = match time::timeout(self.timeout, self.read(operation, request)).await {
                Ok(result) => result,
                Err(_) => Err(Error::Timeout {
                    operation,
                    timeout: self.timeout,
                }),
            };
            let seconds = started.elapsed().as_secs_f64();
            let error = match outcome {
                Ok(response) => {
                    self.metrics
                        .observe(operation, response.status.as_str(), seconds);
                    if response.status.is_success() || accept.contains(&response.status) {
                        record(attempt, response.status.as_u16());
                        return Ok(response);
                    }
                    let (code, message) = code_and_message(response.status, &response.body);
                    Error::Api {
                        operation,
                        status: response.status.as_u16(),
                        code,
                        message,
                        retry_after: response.retry_after(),
                    }
                }
                Err(e) => {
                    let label = match &e {
                        Error::Timeout { .. } => "timeout",
                        Error::TooLarge { .. } => "too_large",
                        _ => "transport",
                    };
                    self.metrics.observe(operation, label, seconds);
                    e
                }
            };
            if !reauthenticated && matches!(error, Error::Api { status: 401, .. }) {
                reauthenticated = true;
                tracing::debug!(operation, "token refused; fetching a new one");
                self.credential.invalidate();
                continue;
            }
            // ACI's create quota resets over minutes: hand it back to the caller at once.
            let retry = idempotent && error.is_transient() && !error.is_quota();
            match self.retry.delay(attempt, error.retry_after()) {
                Some(delay) if retry => {
                    tracing::debug!(operation, attempt, ?delay, error = %error, "retrying azure call");
                    self.metrics.retried(operation);
                    time::sleep(delay).await;
                }
                _ => {
                    match &error {
                        Error::Api { status, .. } => record(attempt, *status),
                        Error::Timeout { .. } => record(attempt, "timeout"),
                        Error::TooLarge { .. } => record(attempt, "too_large"),
                        _ => record(attempt, "transport"),
                    }
                    return Err(error);
                }
            }
        }
    }

    async fn read(
        &self,
        operation: &'static str,
        request: reqwest::RequestBuilder,
    ) -> Result<RawResponse> {
        let timeout = self.timeout;
        let transport = |source: reqwest::Error| {
            if source.is_timeout() {
                Error::Timeout { operation, timeout }
            } else {
                Error::Transport {
                    operation,
                    source: source.without_url(),
                }
            }
        };
        let mut response = request.send().await.map_err(transport)?;
        let status = response.status();
        let headers = response.headers().clone();
        let limit = self.max_body_bytes;
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(transport)? {
            if body.len() + chunk.len() > limit {
                return Err(Error::TooLarge { operation, limit });
            }
            body.extend_from_slice(&chunk);
        }
        Ok(RawResponse {
            status,
            headers,
            body: Bytes::from(body),
        })
    }
}

/// Record the attempts and final status of a call on the current span.
fn record(attempts: u32, status: impl tracing::Value) {
    let span = tracing::Span::current();
    span.record("attempts", attempts);
    span.record("status", status);
}
