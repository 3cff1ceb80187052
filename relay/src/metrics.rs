//! The relayer's Prometheus metrics (`/metrics`). Names and labels are a public interface:
//! dashboards and alert rules depend on them.

use prometheus::core::Collector;
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
    /// `xrelay_claims_refused_total{chain,reason}`: what a node of `chain` said that the
    /// relayer did not believe (an event in another chain's role, a message content or a
    /// settlement its proof contradicts, a head too far ahead…): each is a lie or a broken
    /// node, and none of them reached the ledger.
    pub claims_refused: IntCounterVec,
    /// `xrelay_light_client_height{chain}`.
    pub client_height: IntGaugeVec,
    /// `xrelay_misbehaviour_detected_total{chain}`: conflicts the relayer's own light client
    /// verified (the chain is frozen for the relayer).
    pub misbehaviour: IntCounterVec,
    /// `xrelay_misbehaviour_unconfirmed_total{chain,reason}`: conflicts a host's client or a
    /// node reported that the relayer's own light client did not verify (not frozen).
    pub misbehaviour_unconfirmed: IntCounterVec,
    /// `xrelay_lane_lag_seconds{src_chain,dst_chain}`: how long the oldest message not yet
    /// settled on the lane has waited since its send was committed (0 when none waits).
    pub lane_lag: IntGaugeVec,
    /// `xrelay_client_age_seconds{host,chain}`: age of the newest header a client of `chain`
    /// trusts; `host` is `relayer` for the relayer's own client, else the chain hosting it.
    pub client_age: IntGaugeVec,
    /// `xrelay_client_trust_remaining_seconds{host,chain}`: how long until a BFT client of
    /// `chain` on `host` expires if nobody updates it (negative once expired).
    pub client_trust_remaining: IntGaugeVec,
    /// `xrelay_client_frozen{host,chain}`: 1 when the client is frozen by misbehaviour.
    pub client_frozen: IntGaugeVec,
    /// `xrelay_cosign_halted{chain}`: 1 once this relayer stopped signing attestations of
    /// `chain` after a conflict (a block other than one it signed, or one its node disagrees
    /// with); `/readyz` says why.
    pub cosign_halted: IntGaugeVec,
    /// `xrelay_mesh_expected_peers`: the other members on `mesh.allowed` (0 without a mesh).
    pub mesh_expected_peers: prometheus::IntGauge,
    /// `xrelay_build_info{version}`: always 1; which version runs.
    pub build_info: IntGaugeVec,
    names: Vec<String>,
    /// `xrelay_mesh_peers`, `xrelay_mesh_takeovers_total`, `xrelay_mesh_rejected_peers_total`,
    /// `xrelay_mesh_heartbeats_refused_total`, `xrelay_mesh_attestations_received_total`,
    /// `xrelay_mesh_attestations_dropped_total`.
    pub mesh: MeshMetrics,
}

/// The mesh's metrics (`xrelay_mesh_*`), defined here with every other family so this
/// module imports nothing from the mesh; the mesh re-exports it as `mesh::MeshMetrics`.
#[derive(Clone)]
pub struct MeshMetrics {
    /// `xrelay_mesh_peers`: live members other than this relayer.
    pub peers: prometheus::IntGauge,
    /// `xrelay_mesh_takeovers_total`: work items taken over from silent members.
    pub takeovers: prometheus::IntCounter,
    /// `xrelay_mesh_rejected_peers_total`: connections from peers not on the allow-list.
    pub rejected: prometheus::IntCounter,
    /// `xrelay_mesh_heartbeats_refused_total{reason}`: heartbeats from allowed members not
    /// believed (so they kept nobody live): `malformed`, `bad_signature`, `replay`, `stale`
    /// or `future` (`mesh::heartbeat::Refusal`).
    pub heartbeats_refused: IntCounterVec,
    /// `xrelay_mesh_attestations_received_total`: attester signatures from members that
    /// verified and went to the board.
    pub attestations_received: prometheus::IntCounter,
    /// `xrelay_mesh_attestations_dropped_total{reason}`: attester signatures from members
    /// that were dropped: `malformed` (the payload does not decode strictly),
    /// `unknown_chain` (no committee of the attested chain is configured here),
    /// `not_member` (the attester is not in that committee), `bad_signature` (it does not
    /// recover to the attester it names) or `full` (the attestation has the most signers).
    pub attestations_dropped: IntCounterVec,
}

/// A registry that remembers the name of every family registered in it: a labelled family
/// renders nothing until its first sample, yet dashboards may already refer to it.
struct Named {
    registry: Registry,
    names: std::cell::RefCell<Vec<String>>,
}

impl Named {
    fn add<C: Collector + Clone + 'static>(&self, c: C) -> C {
        self.names
            .borrow_mut()
            .extend(c.desc().iter().map(|d| d.fq_name.clone()));
        self.registry
            .register(Box::new(c.clone()))
            .expect("metric registered once");
        c
    }
}

fn counter(registry: &Named, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    registry
        .add(IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric definition"))
}

fn gauge(registry: &Named, name: &str, help: &str, labels: &[&str]) -> IntGaugeVec {
    registry.add(IntGaugeVec::new(Opts::new(name, help), labels).expect("valid metric definition"))
}

fn plain_counter(registry: &Named, name: &str, help: &str) -> prometheus::IntCounter {
    registry.add(prometheus::IntCounter::new(name, help).expect("valid metric definition"))
}

fn plain_gauge(registry: &Named, name: &str, help: &str) -> prometheus::IntGauge {
    registry.add(prometheus::IntGauge::new(name, help).expect("valid metric definition"))
}

impl Metrics {
    /// A fresh registry with every metric.
    pub fn new() -> Self {
        let registry = Named {
            registry: Registry::new(),
            names: Default::default(),
        };
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
        let latency = registry.add(latency);
        let mut metrics = Metrics {
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
                registry.add(c)
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
            claims_refused: counter(
                &registry,
                "xrelay_claims_refused_total",
                "Node answers refused as untrue (wrong role, contradicted by a proof, implausible).",
                &["chain", "reason"],
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
                "Conflicting headers verified by the relayer's own light client.",
                &["chain"],
            ),
            misbehaviour_unconfirmed: counter(
                &registry,
                "xrelay_misbehaviour_unconfirmed_total",
                "Reported conflicts the relayer's own light client did not verify.",
                &["chain", "reason"],
            ),
            lane_lag: gauge(
                &registry,
                "xrelay_lane_lag_seconds",
                "Wait of the oldest message not yet settled on the lane.",
                lane,
            ),
            client_age: gauge(
                &registry,
                "xrelay_client_age_seconds",
                "Age of the newest header a light client trusts.",
                &["host", "chain"],
            ),
            client_trust_remaining: gauge(
                &registry,
                "xrelay_client_trust_remaining_seconds",
                "Time until a BFT light client expires without an update.",
                &["host", "chain"],
            ),
            client_frozen: gauge(
                &registry,
                "xrelay_client_frozen",
                "1 when the light client is frozen by misbehaviour evidence.",
                &["host", "chain"],
            ),
            cosign_halted: gauge(
                &registry,
                "xrelay_cosign_halted",
                "1 once this relayer stopped signing attestations of the chain after a conflict.",
                &["chain"],
            ),
            mesh_expected_peers: plain_gauge(
                &registry,
                "xrelay_mesh_expected_peers",
                "Other members on mesh.allowed.",
            ),
            build_info: {
                let g = gauge(
                    &registry,
                    "xrelay_build_info",
                    "Always 1; the running version.",
                    &["version"],
                );
                g.with_label_values(&[env!("CARGO_PKG_VERSION")]).set(1);
                g
            },
            mesh: MeshMetrics {
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
                heartbeats_refused: counter(
                    &registry,
                    "xrelay_mesh_heartbeats_refused_total",
                    "Heartbeats from mesh members not believed (malformed, bad signature, replayed, stale or from the future).",
                    &["reason"],
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
            registry: registry.registry.clone(),
            names: Vec::new(),
        };
        metrics.names = registry.names.take();
        metrics.names.sort();
        metrics
    }

    /// The name of every metric family, labelled or not, whether or not it has a sample
    /// yet: what dashboards and alert rules may refer to (checked by the deploy tests).
    pub fn names(&self) -> &[String] {
        &self.names
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_family_is_named_even_before_its_first_sample() {
        let m = Metrics::new();
        let names = m.names();
        for expected in [
            "xrelay_messages_delivered_total",
            "xrelay_relay_latency_seconds",
            "xrelay_lane_lag_seconds",
            "xrelay_client_trust_remaining_seconds",
            "xrelay_mesh_peers",
            "xrelay_mesh_expected_peers",
            "xrelay_mesh_attestations_dropped_total",
            "xrelay_mesh_heartbeats_refused_total",
            "xrelay_cosign_halted",
            "xrelay_build_info",
        ] {
            assert!(
                names.iter().any(|n| n == expected),
                "{expected} in {names:?}"
            );
        }
        // Every registered family: the rendered ones are a subset of the names.
        for line in m.render().lines().filter(|l| l.starts_with("# TYPE ")) {
            let name = line.split_whitespace().nth(2).unwrap();
            assert!(names.iter().any(|n| n == name), "{name}");
        }
    }
}
