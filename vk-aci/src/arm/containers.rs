//! Operations on one container of a group (`containerGroups/{group}/containers/{name}`):
//! its log and exec sessions.
use azure_core::credentials::Secret;
use http::Method;

use super::client::ArmClient;
use super::error::{Error, Result};
use super::throttle::{Class, Priority};
use super::transport::{Call, decode};

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

// === impl ArmClient ===

impl ArmClient {
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
        let response = self.send(Call::get(OP, priority, url)).await?;
        let body: LogsBody = decode(OP, &response.body)?;
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
        let body: ExecBody = decode(OP, &response.body)?;
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
}
