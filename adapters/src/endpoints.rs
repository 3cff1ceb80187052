//! Several RPC endpoints of one chain: every call goes to the endpoint that answered last;
//! on a transport failure, a timeout or a garbled answer it moves to the next endpoint,
//! backing off between attempts, and counts the failure against the endpoint.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use prometheus::IntCounterVec;

use crate::AdapterError;

/// How hard to try.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EndpointPolicy {
    /// Per request.
    pub request_timeout: Duration,
    /// Attempts per call, over all endpoints.
    pub max_attempts: u32,
    /// First pause between attempts; doubled each time.
    pub backoff_base: Duration,
    /// Longest pause.
    pub backoff_max: Duration,
}

impl Default for EndpointPolicy {
    fn default() -> Self {
        EndpointPolicy {
            request_timeout: Duration::from_secs(10),
            max_attempts: 4,
            backoff_base: Duration::from_millis(100),
            backoff_max: Duration::from_secs(2),
        }
    }
}

impl EndpointPolicy {
    /// The pause after failed attempt `attempt` (0-based).
    pub fn backoff(&self, attempt: u32) -> Duration {
        self.backoff_base
            .saturating_mul(1u32 << attempt.min(16))
            .min(self.backoff_max)
    }
}

/// `xrelay_rpc_errors_total{chain,endpoint}`, or nothing (tools and tests).
pub type RpcErrorCounter = Option<IntCounterVec>;

/// The endpoints of one chain, each with its client.
pub(crate) struct Endpoints<C> {
    chain: String,
    clients: Vec<(String, C)>,
    preferred: AtomicUsize,
    policy: EndpointPolicy,
    errors: RpcErrorCounter,
}

impl<C: Clone> Endpoints<C> {
    /// At least one endpoint.
    pub(crate) fn new(
        chain: String,
        clients: Vec<(String, C)>,
        policy: EndpointPolicy,
        errors: RpcErrorCounter,
    ) -> Self {
        Endpoints {
            chain,
            clients,
            preferred: AtomicUsize::new(0),
            policy,
            errors,
        }
    }

    /// The endpoint URLs, preferred first.
    pub(crate) fn urls(&self) -> Vec<String> {
        let start = self.preferred.load(Ordering::Relaxed);
        (0..self.clients.len())
            .map(|i| self.clients[(start + i) % self.clients.len()].0.clone())
            .collect()
    }

    /// The endpoint calls go to first (the one that answered last).
    pub(crate) fn preferred_url(&self) -> String {
        let i = self.preferred.load(Ordering::Relaxed) % self.clients.len().max(1);
        self.clients.get(i).map(|c| c.0.clone()).unwrap_or_default()
    }

    /// Moves calls off `url` (it answered something that cannot be true) to the next
    /// endpoint, and counts it against `url`. With one endpoint there is nowhere to go.
    pub(crate) fn demote(&self, url: &str) {
        if let Some(i) = self.clients.iter().position(|c| c.0 == url) {
            self.count(url);
            let next = (i + 1) % self.clients.len();
            let _ = self
                .preferred
                .compare_exchange(i, next, Ordering::Relaxed, Ordering::Relaxed);
        }
    }

    fn count(&self, url: &str) {
        if let Some(c) = &self.errors {
            c.with_label_values(&[self.chain.as_str(), url]).inc();
        }
    }

    /// Runs `f` against the preferred endpoint, failing over as the policy says. Errors
    /// that are the chain's answer (refusal, not found) return at once.
    pub(crate) async fn call<T, F, Fut>(&self, what: &str, f: F) -> Result<T, AdapterError>
    where
        F: Fn(C) -> Fut,
        Fut: Future<Output = Result<T, AdapterError>>,
    {
        let n = self.clients.len().max(1);
        let start = self.preferred.load(Ordering::Relaxed);
        let mut last = None;
        for attempt in 0..self.policy.max_attempts.max(1) {
            let i = (start + attempt as usize) % n;
            let Some((url, client)) = self.clients.get(i) else {
                break;
            };
            let result = tokio::time::timeout(self.policy.request_timeout, f(client.clone())).await;
            let error = match result {
                Ok(Ok(v)) => {
                    self.preferred.store(i, Ordering::Relaxed);
                    return Ok(v);
                }
                Ok(Err(e)) if !e.is_endpoint_fault() && !matches!(e, AdapterError::Busy { .. }) => {
                    return Err(e)
                }
                Ok(Err(e)) => e,
                Err(_) => AdapterError::Unavailable {
                    chain: self.chain.clone(),
                    message: format!(
                        "{url}: {what} timed out after {:?}",
                        self.policy.request_timeout
                    ),
                },
            };
            if error.is_endpoint_fault() {
                self.count(url);
            }
            tracing::debug!(chain = %self.chain, endpoint = %url, attempt, error = %error, "{what} failed");
            last = Some(error);
            if attempt + 1 < self.policy.max_attempts {
                tokio::time::sleep(self.policy.backoff(attempt)).await;
            }
        }
        Err(last.unwrap_or_else(|| AdapterError::Unavailable {
            chain: self.chain.clone(),
            message: "no endpoints".into(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU32;
    use std::sync::Arc;

    fn unavailable() -> AdapterError {
        AdapterError::Unavailable {
            chain: "a".into(),
            message: "down".into(),
        }
    }

    fn policy() -> EndpointPolicy {
        EndpointPolicy {
            request_timeout: Duration::from_millis(200),
            max_attempts: 3,
            backoff_base: Duration::from_millis(1),
            backoff_max: Duration::from_millis(4),
        }
    }

    #[tokio::test]
    async fn fails_over_counts_and_remembers_the_endpoint_that_answered() {
        let errors =
            IntCounterVec::new(prometheus::Opts::new("e", "e"), &["chain", "endpoint"]).unwrap();
        let eps = Endpoints::new(
            "a".into(),
            vec![("down".into(), false), ("up".into(), true)],
            policy(),
            Some(errors.clone()),
        );
        let calls = Arc::new(AtomicU32::new(0));
        let c = calls.clone();
        let v = eps
            .call("status", move |up| {
                c.fetch_add(1, Ordering::Relaxed);
                async move {
                    if up {
                        Ok(7)
                    } else {
                        Err(unavailable())
                    }
                }
            })
            .await;
        assert_eq!(v, Ok(7));
        assert_eq!(calls.load(Ordering::Relaxed), 2);
        assert_eq!(errors.with_label_values(&["a", "down"]).get(), 1);
        assert_eq!(
            eps.urls(),
            ["up", "down"],
            "the working endpoint is preferred next time"
        );
    }

    #[tokio::test]
    async fn refusals_are_answers_not_endpoint_faults() {
        let eps = Endpoints::new(
            "a".into(),
            vec![("one".into(), ()), ("two".into(), ())],
            policy(),
            None,
        );
        let calls = Arc::new(AtomicU32::new(0));
        let c = calls.clone();
        let r: Result<(), _> = eps
            .call("submit", move |_| {
                c.fetch_add(1, Ordering::Relaxed);
                async {
                    Err(AdapterError::Refused {
                        chain: "a".into(),
                        reason: "bad nonce".into(),
                    })
                }
            })
            .await;
        assert!(matches!(r, Err(AdapterError::Refused { .. })));
        assert_eq!(calls.load(Ordering::Relaxed), 1);
    }

    #[tokio::test]
    async fn gives_up_after_the_attempts_with_the_last_error_and_times_out_slow_calls() {
        let eps = Endpoints::new("a".into(), vec![("slow".into(), ())], policy(), None);
        let r: Result<(), _> = eps
            .call("status", |_| async {
                tokio::time::sleep(Duration::from_secs(5)).await;
                Ok(())
            })
            .await;
        match r {
            Err(AdapterError::Unavailable { message, .. }) => {
                assert!(message.contains("timed out"), "{message}")
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(policy().backoff(0), Duration::from_millis(1));
        assert_eq!(policy().backoff(10), Duration::from_millis(4));
    }
}
