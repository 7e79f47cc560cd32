//! The process plumbing of the long-running subcommands: the logging flags and the tracing
//! subscriber they set up, the shutdown signal and the tokio runtime.

use std::io::{self, IsTerminal as _};

use anyhow::Context as _;
use clap::{Args, ValueEnum};

/// Logging flags shared by the long-running subcommands.
#[derive(Clone, Debug, Args)]
pub(crate) struct LogArgs {
    /// Log level (trace, debug, info, warn, error; upstream's `panic`/`fatal` mean error).
    /// `RUST_LOG` wins when set.
    #[arg(long, default_value = "info")]
    pub(crate) log_level: String,
    /// Log format.
    #[arg(long, value_enum, default_value = "text", env = "VK_LOG_FORMAT")]
    pub(crate) log_format: LogFormat,
}

/// Log output formats.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub(crate) enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Install the tracing subscriber: `RUST_LOG` if set, else `--log-level`; text or JSON;
/// ANSI colours only when stderr is a terminal.
pub(crate) fn init_logging(args: &LogArgs) {
    let level = match args.log_level.to_ascii_lowercase().as_str() {
        "panic" | "fatal" => "error".to_owned(),
        "warning" => "warn".to_owned(),
        other => other.to_owned(),
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .or_else(|_| tracing_subscriber::EnvFilter::try_new(&level))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Colours only for a person at a terminal: not in a pod's log (`kubectl logs`), a file
    // or a pipe, and not when NO_COLOR is set (no-color.org).
    let ansi =
        io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(io::stderr);
    let _ = match args.log_format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

/// SIGTERM (Kubernetes sends it to start a graceful shutdown) or SIGINT (Ctrl-C).
pub(crate) async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => tracing::info!("SIGTERM: shutting down"),
                    _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT: shutting down"),
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// The multi-threaded runtime of `run`, `local` and `emulator`.
pub(crate) fn tokio_runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}
