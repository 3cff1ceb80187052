//! Reading a quorum off the board: the [`Attested`] a committee accepts, built the same way
//! by every relayer holding the same signatures, and waiting until one is complete.

use std::time::Duration;

use xrelay_light_client::evm::attest::{Attestation, Attested, AttesterSignature, Committee};

use super::AttestationBoard;

impl AttestationBoard {
    /// The signatures of `committee` members stored for exactly `attestation`, as an
    /// [`Attested`] the committee accepts, if a quorum of them signed.
    pub fn attested(&self, attestation: &Attestation, committee: &Committee) -> Option<Attested> {
        let digest = attestation.digest();
        let mut attested = Attested {
            attestation: attestation.clone(),
            signatures: Vec::with_capacity(committee.quorum()),
        };
        {
            let inner = self.lock();
            let entry = inner.entries.get(&digest)?;
            if entry.attestation != *attestation {
                return None;
            }
            // Members ascending, so two relayers with the same signatures build the same
            // Attested.
            for member in committee.attesters() {
                if attested.signatures.len() == committee.quorum() {
                    break;
                }
                if let Some(signature) = entry.signatures.get(member) {
                    attested.add(AttesterSignature {
                        attester: *member,
                        signature: *signature,
                    });
                }
            }
        }
        if attested.signatures.len() < committee.quorum() {
            return None;
        }
        match committee.verify(&attested) {
            Ok(_) => Some(attested),
            Err(e) => {
                // Every stored signature was checked on arrival; this would be a bug.
                tracing::error!(error = %e, height = attestation.height, "stored attester signatures do not verify");
                None
            }
        }
    }

    /// Waits at most `wait` until a quorum of `committee` signed exactly `attestation`;
    /// returns the [`Attested`] as soon as it is complete, None when the time runs out.
    pub async fn gather(
        &self,
        attestation: &Attestation,
        committee: &Committee,
        wait: Duration,
    ) -> Option<Attested> {
        // Subscribed before the first look: a signature stored after it wakes the loop.
        let mut stored = self.stored.subscribe();
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            if let Some(attested) = self.attested(attestation, committee) {
                return Some(attested);
            }
            match tokio::time::timeout_at(deadline, stored.changed()).await {
                Ok(Ok(())) => continue,
                // The sender lives as long as the board, which outlives this borrow.
                Ok(Err(_)) | Err(_) => return None,
            }
        }
    }
}
