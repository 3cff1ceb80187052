//! The relayer's Prometheus metrics (`/metrics`). Names and labels are a public interface:
//! dashboards and alert rules depend on them.

use prometheus::{
    CounterVec, Histogram, HistogramOpts, IntCounterVec, IntGaugeVec, Opts, Registry,
};

/// Every metric the relayer exports.
#[derive(Clone)]
pub struct Metrics {
    /// The registry `/metrics` renders.
    pub registry: Registry,
    /// `xrelay_messages_delivered_total{src_chain,dst_chain}`.
    pub delivered: IntCounterVec,
    /// `xrelay_acks_relayed_total{src_chain,dst_chain}`.
    pub acks: IntCounterVec,
    /// `xrelay_timeouts_relayed_total{src_chain,dst_chain}`.
    pub timeouts: IntCounterVec,
    /// `xrelay_backlog_messages{src_chain,dst_chain}`: messages not yet settled.
    pub backlog: IntGaugeVec,
    /// `xrelay_relay_latency_seconds`: from the block that committed a send to the block
    /// that delivered it.
    pub latency: Histogram,
    /// `xrelay_headers_verified_total{chain}`.
    pub headers_verified: IntCounterVec,
    /// `xrelay_verification_failures_total{chain,reason}`.
    pub verification_failures: IntCounterVec,
    /// `xrelay_proofs_verified_total{chain}`: state proofs checked before forwarding.
    pub proofs_verified: IntCounterVec,
    /// `xrelay_verification_cpu_seconds_total{chain,kind}`: CPU time of the verification
    /// itself (`header`: the relayer's own light client; `proof`: state proofs; `path`:
    /// re-checking the headers an on-chain client needs), so the cost of everything else
    /// per message can be compared with the work verification alone must do.
    pub verification_cpu: CounterVec,
    /// `xrelay_submissions_total{chain,outcome}`: `delivered`, `already_delivered`, `failed`.
    pub submissions: IntCounterVec,
    /// `xrelay_rpc_errors_total{chain,endpoint}`.
    pub rpc_errors: IntCounterVec,
    /// `xrelay_light_client_height{chain}`.
    pub client_height: IntGaugeVec,
    /// `xrelay_misbehaviour_detected_total{chain}`.
    pub misbehaviour: IntCounterVec,
    /// `xrelay_mesh_peers`, `xrelay_mesh_takeovers_total`, `xrelay_mesh_rejected_peers_total`,
    /// `xrelay_mesh_attestations_received_total`, `xrelay_mesh_attestations_dropped_total`.
    pub mesh: crate::mesh::MeshMetrics,
}

fn counter(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    let c = IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric definition");
    registry
        .register(Box::new(c.clone()))
        .expect("metric registered once");
    c
}

fn gauge(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> IntGaugeVec {
    let g = IntGaugeVec::new(Opts::new(name, help), labels).expect("valid metric definition");
    registry
        .register(Box::new(g.clone()))
        .expect("metric registered once");
    g
}

fn plain_counter(registry: &Registry, name: &str, help: &str) -> prometheus::IntCounter {
    let c = prometheus::IntCounter::new(name, help).expect("valid metric definition");
    registry
        .register(Box::new(c.clone()))
        .expect("metric registered once");
    c
}

fn plain_gauge(registry: &Registry, name: &str, help: &str) -> prometheus::IntGauge {
    let g = prometheus::IntGauge::new(name, help).expect("valid metric definition");
    registry
        .register(Box::new(g.clone()))
        .expect("metric registered once");
    g
}

impl Metrics {
    /// A fresh registry with every metric.
    pub fn new() -> Self {
        let registry = Registry::new();
        let lane = &["src_chain", "dst_chain"];
        let latency = Histogram::with_opts(
            HistogramOpts::new(
                "xrelay_relay_latency_seconds",
                "From the send's block to the delivery's block.",
            )
            .buckets(vec![
                0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0,
            ]),
        )
        .expect("valid metric definition");
        registry
            .register(Box::new(latency.clone()))
            .expect("metric registered once");
        Metrics {
            delivered: counter(
                &registry,
                "xrelay_messages_delivered_total",
                "Messages delivered to their destination.",
                lane,
            ),
            acks: counter(
                &registry,
                "xrelay_acks_relayed_total",
                "Acknowledgements relayed back to the source.",
                lane,
            ),
            timeouts: counter(
                &registry,
                "xrelay_timeouts_relayed_total",
                "Timeouts relayed back to the source.",
                lane,
            ),
            backlog: gauge(
                &registry,
                "xrelay_backlog_messages",
                "Messages seen and not yet settled.",
                lane,
            ),
            latency,
            headers_verified: counter(
                &registry,
                "xrelay_headers_verified_total",
                "Headers verified by the relayer's light clients.",
                &["chain"],
            ),
            verification_failures: counter(
                &registry,
                "xrelay_verification_failures_total",
                "Headers or proofs refused by the relayer's light clients.",
                &["chain", "reason"],
            ),
            proofs_verified: counter(
                &registry,
                "xrelay_proofs_verified_total",
                "State proofs verified by the relayer's light clients.",
                &["chain"],
            ),
            verification_cpu: {
                let c = CounterVec::new(
                    Opts::new(
                        "xrelay_verification_cpu_seconds_total",
                        "CPU time spent verifying headers, proofs and update paths.",
                    ),
                    &["chain", "kind"],
                )
                .expect("valid metric definition");
                registry
                    .register(Box::new(c.clone()))
                    .expect("metric registered once");
                c
            },
            submissions: counter(
                &registry,
                "xrelay_submissions_total",
                "Relay transactions by outcome.",
                &["chain", "outcome"],
            ),
            rpc_errors: counter(
                &registry,
                "xrelay_rpc_errors_total",
                "Failed RPC calls by endpoint.",
                &["chain", "endpoint"],
            ),
            client_height: gauge(
                &registry,
                "xrelay_light_client_height",
                "Latest height verified by the relayer's light client.",
                &["chain"],
            ),
            misbehaviour: counter(
                &registry,
                "xrelay_misbehaviour_detected_total",
                "Conflicting headers detected.",
                &["chain"],
            ),
            mesh: crate::mesh::MeshMetrics {
                peers: plain_gauge(
                    &registry,
                    "xrelay_mesh_peers",
                    "Live mesh members other than this relayer.",
                ),
                takeovers: plain_counter(
                    &registry,
                    "xrelay_mesh_takeovers_total",
                    "Work items taken over from silent members.",
                ),
                rejected: plain_counter(
                    &registry,
                    "xrelay_mesh_rejected_peers_total",
                    "Connections from peers not on mesh.allowed.",
                ),
                attestations_received: plain_counter(
                    &registry,
                    "xrelay_mesh_attestations_received_total",
                    "Attester signatures from mesh members that verified.",
                ),
                attestations_dropped: counter(
                    &registry,
                    "xrelay_mesh_attestations_dropped_total",
                    "Attester signatures from mesh members dropped (malformed or not verifying).",
                    &["reason"],
                ),
            },
            registry,
        }
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let encoder = prometheus::TextEncoder::new();
        // Encoding our own registry into a String cannot fail.
        let _ = encoder.encode_utf8(&self.registry.gather(), &mut out);
        out
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
