//! The relayer's HTTP server (axum): the status page at `/`, `/healthz`, `/readyz`,
//! `/metrics`, and the JSON API under `/api/v1`. Admin endpoints need
//! `Authorization: Bearer <api.admin_token>`; with no token configured they are disabled.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use xrelay_light_client::{ChainId, Hash32, MessageId};

use crate::core::Relay;
use crate::store::Status;

/// What the handlers share.
#[derive(Clone)]
pub struct ApiState {
    /// The relay.
    pub relay: Arc<Relay>,
    /// Admin bearer token.
    pub admin_token: Option<String>,
}

/// The router.
pub fn router(state: ApiState) -> Router {
    Router::new()
        .route("/", get(status_page))
        .route("/api/v1/status", get(status))
        .route("/api/v1/admin/log-level", get(log_level).put(set_log_level))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/api/v1/lanes", get(lanes))
        .route("/api/v1/mesh", get(mesh))
        .route("/api/v1/messages", get(messages))
        .route("/api/v1/messages/{id}", get(message))
        .route("/api/v1/admin/rescan/{chain}", post(rescan))
        .route("/api/v1/admin/mesh/isolate", post(isolate))
        .with_state(state)
}

/// The status page: one self-contained file (styles and script inline), so it works on an
/// operator network with no way out; the policy header forbids loading anything else.
const STATUS_PAGE: &str = include_str!("status_page.html");

async fn status_page() -> Response {
    (
        [
            (axum::http::header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (
                axum::http::header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; connect-src 'self'; script-src 'unsafe-inline'; \
                 style-src 'unsafe-inline'; img-src 'self' data:; base-uri 'none'; form-action 'none'",
            ),
            (axum::http::header::CACHE_CONTROL, "no-cache"),
        ],
        STATUS_PAGE,
    )
        .into_response()
}

/// The snapshot the page renders; 503 until the sampler's first round.
async fn status(State(s): State<ApiState>) -> Response {
    match s.relay.status.latest() {
        Some(snapshot) => Json(&*snapshot).into_response(),
        None => error(StatusCode::SERVICE_UNAVAILABLE, "no status sampled yet"),
    }
}

async fn log_level(State(s): State<ApiState>, headers: HeaderMap) -> Response {
    if let Err(r) = authorized(&s, &headers) {
        return *r;
    }
    match crate::logging::current() {
        Some(filter) => Json(json!({"filter": filter})).into_response(),
        None => error(StatusCode::CONFLICT, "logging is not set up by xrelay here"),
    }
}

/// Replaces the log filter (`RUST_LOG` syntax, the request body as text) without a restart.
async fn set_log_level(State(s): State<ApiState>, headers: HeaderMap, body: String) -> Response {
    if let Err(r) = authorized(&s, &headers) {
        return *r;
    }
    match crate::logging::set(body.trim()) {
        Ok(filter) => {
            tracing::info!(%filter, "log filter changed");
            Json(json!({"filter": filter})).into_response()
        }
        Err(e @ crate::logging::LogLevelError::Invalid { .. }) => {
            error(StatusCode::BAD_REQUEST, e.to_string())
        }
        Err(e) => error(StatusCode::CONFLICT, e.to_string()),
    }
}

fn error(code: StatusCode, message: impl Into<String>) -> Response {
    (code, Json(json!({"error": message.into()}))).into_response()
}

async fn readyz(State(s): State<ApiState>) -> Response {
    let (ready, body) = readiness(&s.relay.chains).await;
    let code = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, Json(body)).into_response()
}

/// What `/readyz` answers: ready when every chain has a head and no co-signer stopped;
/// `not_ready` names each chain that is not and why, so a supervisor's log says what to
/// look at.
pub(crate) async fn readiness(
    chains: &BTreeMap<ChainId, Arc<crate::core::chain::ChainHandle>>,
) -> (bool, Value) {
    let mut views = BTreeMap::new();
    let mut not_ready = Vec::new();
    for (id, c) in chains {
        let head = *c.adapter.heads().borrow();
        let verified = c.verified_height().await;
        let halted = c.cosign_halted();
        if head == 0 {
            not_ready.push(format!("chain {id}: no head seen yet"));
        }
        if let Some(why) = &halted {
            not_ready.push(format!(
                "chain {id}: this relayer stopped co-signing attestations: {why}"
            ));
        }
        views.insert(
            id.to_string(),
            json!({
                "head": head,
                "verified": verified,
                "frozen": c.is_frozen(),
                "cosign_halted": halted,
            }),
        );
    }
    let ready = not_ready.is_empty();
    (
        ready,
        json!({"ready": ready, "chains": views, "not_ready": not_ready}),
    )
}

async fn metrics(State(s): State<ApiState>) -> Response {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        s.relay.metrics.render(),
    )
        .into_response()
}

async fn lanes(State(s): State<ApiState>) -> Json<Value> {
    let counts = s.relay.ledger.counts().await;
    let mut out = Vec::new();
    for (src, dst) in &s.relay.lanes {
        let n = |st: Status| {
            counts
                .get(&(src.clone(), dst.clone(), st))
                .copied()
                .unwrap_or(0)
        };
        let mut by_status = serde_json::Map::new();
        for st in Status::ALL {
            by_status.insert(st.name().into(), json!(n(st)));
        }
        out.push(json!({
            "src_chain": src,
            "dst_chain": dst,
            "messages": by_status,
            "backlog": Status::UNSETTLED.iter().map(|st| n(*st)).sum::<u64>(),
            "src_verified_height": s.relay.chains[src].verified_height().await,
            "dst_verified_height": s.relay.chains[dst].verified_height().await,
            "frozen": s.relay.chains[src].is_frozen() || s.relay.chains[dst].is_frozen(),
        }));
    }
    Json(Value::Array(out))
}

#[derive(Deserialize)]
struct ListQuery {
    status: String,
    #[serde(default = "default_limit")]
    limit: usize,
}

fn default_limit() -> usize {
    100
}

async fn messages(State(s): State<ApiState>, Query(q): Query<ListQuery>) -> Response {
    let Some(status) = Status::parse(&q.status) else {
        let names: Vec<&str> = Status::ALL.iter().map(|s| s.name()).collect();
        return error(
            StatusCode::BAD_REQUEST,
            format!("status must be one of {}", names.join(", ")),
        );
    };
    match s
        .relay
        .ledger
        .store()
        .all_by_status(status, q.limit.min(1_000))
    {
        Ok(records) => Json(json!(records)).into_response(),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

async fn message(State(s): State<ApiState>, Path(id): Path<String>) -> Response {
    let Some(bytes) = crate::config::hex_hash(&id) else {
        return error(StatusCode::BAD_REQUEST, "a message id is 32 bytes of hex");
    };
    match s
        .relay
        .ledger
        .store()
        .message_by_id(&MessageId(Hash32(bytes)))
    {
        Ok(Some(r)) => Json(json!(r)).into_response(),
        Ok(None) => error(StatusCode::NOT_FOUND, format!("no message {id}")),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

fn authorized(s: &ApiState, headers: &HeaderMap) -> Result<(), Box<Response>> {
    let Some(token) = &s.admin_token else {
        return Err(Box::new(error(
            StatusCode::NOT_FOUND,
            "admin endpoints are disabled (no api.admin_token)",
        )));
    };
    let given = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    match given {
        Some(g) if constant_time_eq(g.as_bytes(), token.as_bytes()) => Ok(()),
        _ => Err(Box::new(error(
            StatusCode::UNAUTHORIZED,
            "missing or wrong bearer token",
        ))),
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[derive(Deserialize)]
struct RescanQuery {
    from: u64,
}

/// Moves a chain's scan cursor back so its events from `from` are read again (events are
/// idempotent: nothing is delivered twice). Never forward: that would skip events.
async fn rescan(
    State(s): State<ApiState>,
    headers: HeaderMap,
    Path(chain): Path<String>,
    Query(q): Query<RescanQuery>,
) -> Response {
    if let Err(r) = authorized(&s, &headers) {
        return *r;
    }
    let Ok(chain) = chain.parse::<ChainId>() else {
        return error(StatusCode::BAD_REQUEST, "bad chain id");
    };
    if !s.relay.chains.contains_key(&chain) {
        return error(
            StatusCode::NOT_FOUND,
            format!("chain {chain} is not configured"),
        );
    }
    let store = s.relay.ledger.store();
    let cursor = match store.cursor(&chain) {
        Ok(c) => c.unwrap_or(0),
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    };
    if q.from == 0 || q.from > cursor.saturating_add(1) {
        // Moving the cursor forward would skip events nobody has read: refused.
        return error(
            StatusCode::BAD_REQUEST,
            format!(
                "from must be between 1 and {} (chain {chain} is scanned up to {cursor}); a rescan only goes back",
                cursor.saturating_add(1)
            ),
        );
    }
    let mut t = store.transition();
    store.put_cursor(&mut t, &chain, q.from - 1);
    match store.commit(t) {
        Ok(()) => Json(json!({"chain": chain, "rescan_from": q.from})).into_response(),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

#[derive(Deserialize)]
struct IsolateQuery {
    ms: u64,
}

/// Fault injection for partition drills: the relayer drops its mesh connections and
/// ignores its peers for `ms` milliseconds (it keeps relaying, alone).
async fn isolate(
    State(s): State<ApiState>,
    headers: HeaderMap,
    Query(q): Query<IsolateQuery>,
) -> Response {
    if let Err(r) = authorized(&s, &headers) {
        return *r;
    }
    let d = std::time::Duration::from_millis(q.ms.min(3_600_000));
    match s
        .relay
        .mesh
        .commands
        .send(crate::mesh::MeshCommand::Isolate(d))
        .await
    {
        Ok(()) => Json(json!({"isolated_ms": d.as_millis() as u64})).into_response(),
        Err(_) => error(StatusCode::CONFLICT, "the mesh is not enabled"),
    }
}

async fn mesh(State(s): State<ApiState>) -> Json<Value> {
    let v = s.relay.mesh.view.borrow().clone();
    let listening: Vec<String> = s
        .relay
        .mesh
        .listening
        .borrow()
        .iter()
        .map(|a| a.to_string())
        .collect();
    Json(json!({
        "enabled": v.enabled,
        "peer_id": v.me.to_string(),
        "live": v.live.iter().map(|p| p.to_string()).collect::<Vec<_>>(),
        "allowed": v.allowed.iter().map(|p| p.to_string()).collect::<Vec<_>>(),
        "listening": listening,
        "window": s.relay.mesh.window,
        "unserved": v
            .unserved
            .iter()
            .map(|(p, lanes)| {
                let lanes: Vec<Value> = lanes
                    .iter()
                    .map(|l| json!({"src_chain": l.source, "dst_chain": l.destination}))
                    .collect();
                (p.to_string(), Value::Array(lanes))
            })
            .collect::<serde_json::Map<String, Value>>(),
    }))
}
