//! Operations on the region (`Microsoft.ContainerInstance/locations/{location}`): usage
//! against quota and capabilities.
use serde::de::DeserializeOwned;

use super::client::ArmClient;
use super::error::Result;
use super::throttle::Priority;
use super::transport::{Call, decode};
use url::Url;

// === impl ArmClient ===

impl ArmClient {
    /// The region's usage against quota (`{"value": [Usage]}`).
    ///
    /// # Errors
    /// Any [`super::Error`].
    pub async fn usages<R: DeserializeOwned>(&self) -> Result<R> {
        const OP: &str = "location.list_usage";
        let url = self.location_url("usages")?;
        let response = self.send(Call::get(OP, Priority::Foreground, url)).await?;
        decode(OP, &response.body)
    }

    /// The region's capabilities (`{"value": [Capabilities]}`).
    ///
    /// # Errors
    /// Any [`super::Error`].
    pub async fn capabilities<R: DeserializeOwned>(&self) -> Result<R> {
        const OP: &str = "location.list_capabilities";
        let url = self.location_url("capabilities")?;
        let response = self.send(Call::get(OP, Priority::Foreground, url)).await?;
        decode(OP, &response.body)
    }

    fn location_url(&self, what: &str) -> Result<Url> {
        let c = self.config();
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
}
