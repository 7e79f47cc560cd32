//! Container group operations (`Microsoft.ContainerInstance/containerGroups`): create or
//! update, get, delete, list, and the restart/stop actions.
use http::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use url::Url;

use super::client::ArmClient;
use super::error::{Error, Result};
use super::lro::{Lro, LroKind, is_terminal};
use super::throttle::{Class, Priority};
use super::transport::{Call, decode};

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
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListPage<R> {
    #[serde(default = "Vec::new")]
    value: Vec<R>,
    #[serde(default)]
    next_link: Option<String>,
}

// === impl ArmClient ===

impl ArmClient {
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
        let value: serde_json::Value = decode(OP, &response.body)?;
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
        let response = self.send(Call::get(OP, priority, url)).await?;
        decode(OP, &response.body)
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
        let c = self.config();
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
            let response = self.send(Call::get(OP, priority, url)).await?;
            let page: ListPage<R> = decode(OP, &response.body)?;
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
}
