//! Logging: `tracing` to stderr as text or JSON lines, filtered by `RUST_LOG` directives
//! (default `info`). The filter sits behind a reload handle, so an operator can turn on
//! `debug` for one module of a running relayer (`PUT /api/v1/admin/log-level`) and back,
//! without the restart that would reset what they are trying to observe.

use std::sync::OnceLock;

use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{reload, EnvFilter, Registry};

static FILTER: OnceLock<reload::Handle<EnvFilter, Registry>> = OnceLock::new();

/// Why a new log filter was not applied.
#[derive(Debug, thiserror::Error)]
pub enum LogLevelError {
    /// The directives do not parse (`RUST_LOG` syntax).
    #[error("bad log filter {given:?}: {reason}")]
    Invalid {
        /// What was given.
        given: String,
        /// The parser's reason.
        reason: String,
    },
    /// This process did not install the reloadable logger (an embedding program did).
    #[error("logging was not set up by xrelay in this process")]
    NotInstalled,
}

/// Installs the global logger once: `format` is `json` or anything else for text.
pub fn init(format: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let (filter, handle) = reload::Layer::new(filter);
    let registry = tracing_subscriber::registry().with(filter);
    let installed = if format == "json" {
        registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .with_writer(std::io::stderr),
            )
            .try_init()
    } else {
        registry
            .with(tracing_subscriber::fmt::layer().with_writer(std::io::stderr))
            .try_init()
    };
    if installed.is_ok() {
        let _ = FILTER.set(handle);
    }
}

/// The filter in force, as directives.
pub fn current() -> Option<String> {
    FILTER.get()?.with_current(|f| f.to_string()).ok()
}

/// Replaces the filter with `directives` (e.g. `info,xrelay::core=debug`); a filter that
/// does not parse is refused and the old one stays.
pub fn set(directives: &str) -> Result<String, LogLevelError> {
    let filter = EnvFilter::try_new(directives).map_err(|e| LogLevelError::Invalid {
        given: directives.to_string(),
        reason: e.to_string(),
    })?;
    let handle = FILTER.get().ok_or(LogLevelError::NotInstalled)?;
    handle
        .reload(filter)
        .map_err(|_| LogLevelError::NotInstalled)?;
    Ok(current().unwrap_or_else(|| directives.to_string()))
}
