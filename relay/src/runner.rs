//! A relayer process: configuration → relay core + HTTP server, stopped cleanly on request.
//! `xrelay start` and `xrelay demo` both run one.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::sync::watch;

use crate::api::{router, ApiState};
use crate::config::RelayerConfig;
use crate::core::Relay;
use crate::metrics::Metrics;

/// A relayer that is running.
pub struct RunningRelayer {
    /// Where the HTTP server listens.
    pub api_addr: SocketAddr,
    /// The relay (for in-process callers such as the demo).
    pub relay: Arc<Relay>,
    stop: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

/// How long `start` keeps retrying a chain it cannot reach yet.
pub const START_PATIENCE: std::time::Duration = std::time::Duration::from_secs(600);

/// Connects, opens the store and starts relaying and serving.
pub async fn start(cfg: &RelayerConfig) -> anyhow::Result<RunningRelayer> {
    let metrics = Metrics::new();
    // A node restarting when the relayer starts is waited for (a supervisor would
    // otherwise restart the relayer in a loop); ten minutes, then it gives up loudly.
    let relay = Relay::open_patiently(cfg, metrics, START_PATIENCE).await?;
    let listener = tokio::net::TcpListener::bind(cfg.api.listen)
        .await
        .map_err(|e| anyhow::anyhow!("api.listen {}: {e}", cfg.api.listen))?;
    let api_addr = listener.local_addr()?;
    let (stop, stop_rx) = watch::channel(false);
    let app = router(ApiState {
        relay: relay.clone(),
        admin_token: cfg.api.admin_token.clone(),
    });
    let mut api_stop = stop_rx.clone();
    let server = tokio::spawn(async move {
        let shutdown = async move {
            while !*api_stop.borrow() {
                if api_stop.changed().await.is_err() {
                    return;
                }
            }
        };
        if let Err(e) = axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await
        {
            tracing::error!(error = %e, "api server failed");
        }
    });
    let core = tokio::spawn(relay.clone().run(stop_rx));
    tracing::info!(%api_addr, chains = relay.chains.len(), lanes = relay.lanes.len(), "relayer running");
    Ok(RunningRelayer {
        api_addr,
        relay,
        stop,
        tasks: vec![server, core],
    })
}

impl RunningRelayer {
    /// Stops the workers and the server and waits for them.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
    }
}
