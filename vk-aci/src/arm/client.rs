//! The ARM client handle: its configuration, the URLs of Resource Manager paths, and the one
//! door every Resource Manager call goes through ([`ArmClient::send`]: origin check, a
//! tracing span, then the transport's budget, token, timeout, retries and metrics). The
//! operations live with their resource: [`super::container_groups`], [`super::containers`],
//! [`super::location`], [`super::network`], [`super::insights`].
use std::sync::Arc;

use tracing::Instrument;
use tracing::field::Empty;
use url::Url;

use super::config::ArmConfig;
use super::credentials::ArmCredential;
use super::error::{Error, Result};
use super::metrics::ArmMetrics;
use super::throttle::Throttle;
use super::transport::{Call, RawResponse, Transport};

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

    pub(super) fn url(&self, segments: &[&str], query: &[(&str, String)]) -> Result<Url> {
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
        let c = self.config();
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

    /// The ARM URL of a container group.
    ///
    /// # Errors
    /// [`Error::Config`] when the base URL cannot carry a path.
    pub fn container_group_url(&self, name: &str) -> Result<Url> {
        self.url(&self.group_segments(name), &[])
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

    /// Send one call to the configured Resource Manager (see [`Transport::send`]) in a
    /// `debug` span named `arm call`: the operation, the container group or subnet it is
    /// about, and, once answered, how many attempts it took and the final status. The URL
    /// is left out of the span (a followed link may carry a signature).
    pub(crate) async fn send(&self, call: Call<'_>) -> Result<RawResponse> {
        self.check_origin(&call.url)?;
        let span = tracing::debug_span!(
            "arm call",
            operation = call.operation,
            resource = Empty,
            attempts = Empty,
            status = Empty,
        );
        if let Some(name) = resource_name(&call.url) {
            span.record("resource", name);
        }
        self.inner.transport.send(call).instrument(span).await
    }
}

/// The container group or subnet a Resource Manager path names, if any.
fn resource_name(url: &Url) -> Option<&str> {
    let mut segments = url.path_segments()?;
    while let Some(segment) = segments.next() {
        if segment.eq_ignore_ascii_case("containerGroups")
            || segment.eq_ignore_ascii_case("subnets")
        {
            return segments.next().filter(|name| !name.is_empty());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_span_should_name_the_container_group_or_subnet_of_a_path() {
        let group = Url::parse("https://arm.test/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerInstance/containerGroups/web-1/containers/c/logs?api-version=1").unwrap();
        assert_eq!(resource_name(&group), Some("web-1"));
        let subnet = Url::parse("https://arm.test/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v/subnets/aci?api-version=1").unwrap();
        assert_eq!(resource_name(&subnet), Some("aci"));
        let usages = Url::parse("https://arm.test/subscriptions/s/providers/Microsoft.ContainerInstance/locations/westus/usages").unwrap();
        assert_eq!(resource_name(&usages), None);
    }
}
