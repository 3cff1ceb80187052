//! Header verification: every rule, adversarially, including property tests over random
//! powers, signer subsets and bit flips.

use proptest::prelude::*;
use xrelay_light_client::testkit::{fixed_set, rotating_set, ChainSpec, TestChain};
use xrelay_light_client::{
    bisect, Address, ChainId, Commit, CommitSig, Decode, Encode, Fraction, Hash32, LightBlock,
    Parallelism, SignatureFault, SigningKey, TrustOptions, TrustedState, Validator, ValidatorSet,
    Verifier, VerifyError,
};

fn verifier() -> Verifier {
    Verifier::new(TrustOptions::default())
}

fn sequential() -> Verifier {
    Verifier {
        options: TrustOptions::default(),
        parallelism: Parallelism::Sequential,
    }
}

/// A wall clock shortly after `height` of `chain`.
fn now(chain: &TestChain, height: u64) -> u64 {
    chain.time_at(height) + 500
}

fn chain4() -> TestChain {
    TestChain::new(ChainSpec::new("alpha", fixed_set(4, 10)), 20)
}

#[test]
fn adjacent_and_skipping_headers_verify() {
    let chain = chain4();
    let t1 = chain.trusted_state(1);
    let t2 = verifier()
        .verify(&t1, &chain.light_block(2), now(&chain, 2))
        .unwrap();
    assert_eq!(t2.height, 2);
    assert_eq!(t2.header_hash, chain.header(2).hash());
    let t20 = verifier()
        .verify(&t2, &chain.light_block(20), now(&chain, 20))
        .unwrap();
    assert_eq!(t20.state_root, chain.header(20).state_root);
}

#[test]
fn every_rule_has_its_own_error() {
    let chain = chain4();
    let t1 = chain.trusted_state(1);
    let t5 = chain.trusted_state(5);
    let b2 = chain.light_block(2);
    let n2 = now(&chain, 2);
    let v = verifier();

    // Wrong chain.
    let other = TestChain::new(ChainSpec::new("beta", fixed_set(4, 10)), 3);
    assert!(matches!(
        v.verify(&t1, &other.light_block(2), n2),
        Err(VerifyError::ChainIdMismatch { .. })
    ));
    // Not above the trusted height.
    assert!(matches!(
        v.verify(&t5, &b2, n2),
        Err(VerifyError::NonIncreasingHeight {
            trusted: 5,
            untrusted: 2
        })
    ));
    // Time not after the trusted time.
    let mut early = t1.clone();
    early.time_ms = chain.time_at(2);
    assert!(matches!(
        v.verify(&early, &b2, n2),
        Err(VerifyError::NonIncreasingTime { .. })
    ));
    // From the future.
    assert!(matches!(
        v.verify(&t1, &b2, chain.time_at(2) - 5_001),
        Err(VerifyError::HeaderFromFuture { .. })
    ));
    assert!(v.verify(&t1, &b2, chain.time_at(2) - 5_000).is_ok());
    // Trusted state expired (exactly at the end of the period counts as expired).
    let period = TrustOptions::default().trusting_period_ms;
    assert!(matches!(
        v.verify(&t1, &b2, t1.time_ms + period),
        Err(VerifyError::TrustedStateExpired { .. })
    ));
    // Validator set that is not the header's.
    let mut swapped = b2.clone();
    swapped.validators = other.validators(2).clone();
    assert!(matches!(
        v.verify(&t1, &swapped, n2),
        Err(VerifyError::ValidatorSetMismatch {
            field: "validators_hash",
            ..
        })
    ));
    let mut swapped_next = b2.clone();
    swapped_next.next_validators = other.validators(2).clone();
    assert!(matches!(
        v.verify(&t1, &swapped_next, n2),
        Err(VerifyError::ValidatorSetMismatch {
            field: "next_validators_hash",
            ..
        })
    ));
    // Trusted next set is not the header's set.
    let mut wrong_trust = t1.clone();
    wrong_trust.next_validators = other.validators(2).clone();
    assert!(matches!(
        v.verify(&wrong_trust, &b2, n2),
        Err(VerifyError::ValidatorSetMismatch {
            field: "trusted_next_validators_hash",
            ..
        })
    ));
    // Adjacent header that does not extend the trusted one.
    let mut fork_parent = t1.clone();
    fork_parent.header_hash = Hash32([9; 32]);
    assert!(matches!(
        v.verify(&fork_parent, &b2, n2),
        Err(VerifyError::ParentHashMismatch { .. })
    ));
    // Commit for another header.
    let mut wrong_commit = b2.clone();
    wrong_commit.signed_header.commit = chain.light_block(3).signed_header.commit;
    assert!(matches!(
        v.verify(&t1, &wrong_commit, n2),
        Err(VerifyError::CommitMismatch { .. })
    ));
    // Unknown signer.
    let stranger = SigningKey::from_seed("stranger", 0);
    let mut unknown = b2.clone();
    unknown.signed_header.commit.signatures.push(CommitSig {
        validator: stranger.address(),
        signature: stranger.sign_digest(&chain.header(2).hash()),
    });
    assert!(matches!(
        v.verify(&t1, &unknown, n2),
        Err(VerifyError::UnknownSigner { .. })
    ));
    // Duplicate signer.
    let mut dup = b2.clone();
    let first = dup.signed_header.commit.signatures[0];
    dup.signed_header.commit.signatures.push(first);
    assert!(matches!(
        v.verify(&t1, &dup, n2),
        Err(VerifyError::DuplicateSigner { .. })
    ));
    // A validator's signature over another digest.
    let mut wrong_digest = b2.clone();
    let signer = chain.signers(2)[0].clone();
    wrong_digest.signed_header.commit.signatures[0] = CommitSig {
        validator: signer.address(),
        signature: signer.sign_digest(&Hash32([1; 32])),
    };
    assert!(matches!(
        v.verify(&t1, &wrong_digest, n2),
        Err(VerifyError::BadSignature {
            fault: SignatureFault::WrongSigner(_),
            ..
        })
    ));
    // A signature attributed to another validator.
    let mut misattributed = b2.clone();
    let sigs = &mut misattributed.signed_header.commit.signatures;
    let other_validator = sigs[1].validator;
    sigs[0].validator = other_validator;
    sigs.remove(1);
    assert!(matches!(
        v.verify(&t1, &misattributed, n2),
        Err(VerifyError::BadSignature { .. })
    ));
    // Not enough power.
    let few = chain.light_block_signed_by(2, |a| *a == chain.signers(2)[0].address());
    assert!(matches!(
        v.verify(&t1, &few, n2),
        Err(VerifyError::InsufficientVotingPower {
            signed: 10,
            total: 40
        })
    ));
    // Invalid trust options.
    let bad = Verifier::new(TrustOptions {
        trust_threshold: Fraction {
            numerator: 1,
            denominator: 4,
        },
        ..TrustOptions::default()
    });
    assert!(matches!(
        bad.verify(&t1, &b2, n2),
        Err(VerifyError::InvalidOptions(_))
    ));
    for (num, den, ok) in [
        (1, 3, true),
        (2, 3, true),
        (99, 100, true),
        (1, 1, false),
        (0, 1, false),
        (1, 0, false),
    ] {
        let o = TrustOptions {
            trust_threshold: Fraction {
                numerator: num,
                denominator: den,
            },
            ..TrustOptions::default()
        };
        assert_eq!(o.validate().is_ok(), ok, "{num}/{den}");
    }
    // Every reason label is distinct.
    let labels = [
        VerifyError::InsufficientTrust {
            signed: 0,
            total: 1,
            threshold: Fraction::ONE_THIRD,
        }
        .reason(),
        VerifyError::InsufficientVotingPower {
            signed: 0,
            total: 1,
        }
        .reason(),
        VerifyError::UnknownSigner {
            address: Address([0; 20]),
        }
        .reason(),
        VerifyError::DuplicateSigner {
            address: Address([0; 20]),
        }
        .reason(),
    ];
    let unique: std::collections::HashSet<_> = labels.iter().collect();
    assert_eq!(unique.len(), labels.len());
}

#[test]
fn exactly_two_thirds_is_not_enough() {
    // Powers 2 + 2 + 1 + 1 = 6: the two big validators hold exactly 2/3.
    let keys: Vec<SigningKey> = (0..4)
        .map(|i| SigningKey::from_seed("boundary", i))
        .collect();
    let powers = [2u64, 2, 1, 1];
    let set = ValidatorSet::new(
        keys.iter()
            .zip(powers)
            .map(|(k, p)| Validator::from_key(k, p))
            .collect(),
    )
    .unwrap();
    let header = xrelay_light_client::Header {
        chain_id: ChainId::new("edge").unwrap(),
        height: 2,
        time_ms: 2_000,
        parent_hash: Hash32([0; 32]),
        state_root: Hash32([0; 32]),
        tx_root: Hash32([0; 32]),
        validators_hash: set.hash(),
        next_validators_hash: set.hash(),
        proposer: keys[0].address(),
    };
    let trusted = TrustedState {
        chain_id: header.chain_id.clone(),
        height: 1,
        time_ms: 1_000,
        header_hash: Hash32([0; 32]),
        state_root: Hash32([0; 32]),
        next_validators: set.clone(),
    };
    let block = |signers: &[usize]| LightBlock {
        signed_header: xrelay_light_client::SignedHeader {
            header: header.clone(),
            commit: Commit::sign(&header, signers.iter().map(|i| &keys[*i])),
        },
        validators: set.clone(),
        next_validators: set.clone(),
    };
    assert_eq!(
        verifier().verify(&trusted, &block(&[0, 1]), 3_000),
        Err(VerifyError::InsufficientVotingPower {
            signed: 4,
            total: 6
        })
    );
    assert!(verifier()
        .verify(&trusted, &block(&[0, 1, 2]), 3_000)
        .is_ok());
}

#[test]
fn validator_rotation_is_followed_over_many_heights() {
    // Six validators, one replaced every 3 heights: 300 heights rotate the set 16 times.
    let chain = TestChain::new(ChainSpec::new("rot", rotating_set(6, 3, 5)), 300);
    let mut trusted = chain.trusted_state(1);
    for h in 2..=300 {
        trusted = sequential()
            .verify(&trusted, &chain.light_block(h), now(&chain, h))
            .unwrap();
    }
    assert_eq!(trusted.height, 300);
    assert_ne!(chain.validators(1), chain.validators(300));
    // Jumping across a full rotation is refused for lack of trust...
    assert!(matches!(
        verifier().verify(
            &chain.trusted_state(1),
            &chain.light_block(300),
            now(&chain, 300)
        ),
        Err(VerifyError::InsufficientTrust { signed: 0, .. })
    ));
    // ...while skipping within the trust threshold works: from 1 to 10 three of six
    // validators were replaced, and 3/6 > 1/3.
    assert!(verifier()
        .verify(
            &chain.trusted_state(1),
            &chain.light_block(10),
            now(&chain, 10)
        )
        .is_ok());
}

#[test]
fn bisection_reaches_far_targets_with_logarithmic_fetches() {
    for every in [1_000u64, 400, 100] {
        let chain = TestChain::new(ChainSpec::new("far", rotating_set(10, every, 7)), 10_001);
        let trusted = chain.trusted_state(1);
        let mut source = &chain;
        let done = bisect(
            verifier(),
            trusted.clone(),
            10_001,
            now(&chain, 10_001),
            &mut source,
        )
        .unwrap();
        let headers = done.blocks.len();
        let log2 = 64 - 10_000u64.leading_zeros() as usize; // 14
                                                            // Each hop can cover at most 6 replacements (4 of 10 old members left > 1/3).
        let hops = (10_000 / (6 * every) + 1) as usize;
        eprintln!(
            "rotation every {every}: {headers} headers, {} fetches",
            done.fetches
        );
        assert_eq!(done.blocks.last().unwrap().height(), 10_001);
        assert!(headers <= 2 * hops + 2, "{headers} headers for {hops} hops");
        assert!(done.fetches <= hops * log2, "{} fetches", done.fetches);
        // The returned headers form a chain an on-chain client can follow in order.
        let mut t = trusted;
        for b in &done.blocks {
            t = verifier().verify(&t, b, now(&chain, 10_001)).unwrap();
        }
    }
}

#[test]
fn bisection_fails_with_the_rule_that_broke() {
    let chain = TestChain::new(ChainSpec::new("bad", rotating_set(4, 10, 1)), 200);
    // A source that serves the real chain except a forged block in the middle.
    struct Forging<'a>(&'a TestChain);
    impl xrelay_light_client::LightBlockSource for Forging<'_> {
        type Error = String;
        fn light_block(&mut self, h: u64) -> Result<LightBlock, String> {
            let mut b = self.0.light_block(h);
            if h < 200 {
                b.signed_header.commit.signatures[0].signature.0[5] ^= 1;
            }
            Ok(b)
        }
    }
    let err = bisect(
        verifier(),
        chain.trusted_state(1),
        200,
        now(&chain, 200),
        &mut Forging(&chain),
    )
    .unwrap_err();
    assert!(matches!(
        err,
        xrelay_light_client::BisectionError::Verify {
            error: VerifyError::BadSignature { .. },
            ..
        }
    ));
}

fn flip(bytes: &[u8], bit: usize) -> Vec<u8> {
    let mut out = bytes.to_vec();
    out[bit / 8] ^= 1 << (bit % 8);
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Any single-bit change anywhere in a light block (header, commit, validator sets)
    /// is refused: it fails to decode or fails to verify.
    #[test]
    fn any_bit_flip_in_a_light_block_is_refused(bit_seed in any::<prop::sample::Index>(), skip in any::<bool>()) {
        let chain = chain4();
        let (trusted, height) = if skip { (chain.trusted_state(1), 9) } else { (chain.trusted_state(1), 2) };
        let block = chain.light_block(height);
        let bytes = block.encode();
        let bit = bit_seed.index(bytes.len() * 8);
        match LightBlock::decode(&flip(&bytes, bit)) {
            Err(_) => {}
            Ok(mutated) => {
                prop_assert_ne!(&mutated, &block);
                prop_assert!(verifier().verify(&trusted, &mutated, now(&chain, height)).is_err(), "bit {} accepted", bit);
            }
        }
    }

    /// Signed power counts each validator once, however often its signature repeats.
    #[test]
    fn duplicate_signatures_never_count_twice(repeat in 1usize..6, who in 0usize..4) {
        let chain = chain4();
        let signer = chain.signers(2)[who].address();
        let mut block = chain.light_block_signed_by(2, |a| *a == signer);
        let sig = block.signed_header.commit.signatures[0];
        for _ in 0..repeat {
            block.signed_header.commit.signatures.push(sig);
        }
        prop_assert_eq!(
            verifier().verify(&chain.trusted_state(1), &block, now(&chain, 2)),
            Err(VerifyError::DuplicateSigner { address: signer })
        );
    }

    /// The quorum rule is exactly "more than 2/3 of power", for any powers and signers.
    #[test]
    fn quorum_is_strictly_more_than_two_thirds(
        powers in prop::collection::vec(1u64..1_000, 1..12),
        mask in any::<u16>(),
    ) {
        let keys: Vec<SigningKey> = (0..powers.len() as u32).map(|i| SigningKey::from_seed("q", i)).collect();
        let set = ValidatorSet::new(keys.iter().zip(&powers).map(|(k, p)| Validator::from_key(k, *p)).collect()).unwrap();
        let header = xrelay_light_client::Header {
            chain_id: ChainId::new("q").unwrap(),
            height: 2,
            time_ms: 2_000,
            parent_hash: Hash32::ZERO,
            state_root: Hash32::ZERO,
            tx_root: Hash32::ZERO,
            validators_hash: set.hash(),
            next_validators_hash: set.hash(),
            proposer: keys[0].address(),
        };
        let signers: Vec<&SigningKey> = keys.iter().enumerate().filter(|(i, _)| mask & (1 << i) != 0).map(|(_, k)| k).collect();
        let signed: u64 = keys.iter().zip(&powers).enumerate().filter(|(i, _)| mask & (1 << i) != 0).map(|(_, (_, p))| *p).sum();
        let total: u64 = powers.iter().sum();
        let block = LightBlock {
            signed_header: xrelay_light_client::SignedHeader { commit: Commit::sign(&header, signers), header },
            validators: set.clone(),
            next_validators: set.clone(),
        };
        let trusted = TrustedState {
            chain_id: ChainId::new("q").unwrap(),
            height: 1,
            time_ms: 1_000,
            header_hash: Hash32::ZERO,
            state_root: Hash32::ZERO,
            next_validators: set,
        };
        let result = verifier().verify(&trusted, &block, 3_000);
        prop_assert_eq!(result.is_ok(), 3 * u128::from(signed) > 2 * u128::from(total), "{}/{}: {:?}", signed, total, result);
    }

    /// Skipping needs more than the trust threshold of the trusted set: with a sliding set
    /// of 9 where `gap` members changed, it succeeds iff the overlap that signed exceeds it.
    #[test]
    fn skipping_respects_the_trust_threshold(
        gap in 1u64..9,
        old_signers_dropped in 0usize..9,
        threshold in prop::sample::select(vec![(1u64, 3u64), (1, 2), (2, 3), (3, 4)]),
    ) {
        let chain = TestChain::new(ChainSpec::new("skip", rotating_set(9, 1, 1)), 12);
        let target = 2 + gap;
        let trusted = chain.trusted_state(1);
        // Members of the target set that were also in the trusted next set (height 2).
        let old: Vec<Address> = chain.validators(target).validators().iter()
            .map(|v| v.address)
            .filter(|a| trusted.next_validators.get(a).is_some())
            .collect();
        let dropped: Vec<Address> = old.iter().take(old_signers_dropped).copied().collect();
        let block = chain.light_block_signed_by(target, |a| !dropped.contains(a));
        let options = TrustOptions {
            trust_threshold: Fraction { numerator: threshold.0, denominator: threshold.1 },
            ..TrustOptions::default()
        };
        let signed_total = 9 - dropped.len() as u64;
        let trusted_signed = (old.len() - dropped.len()) as u64;
        let result = Verifier::new(options).verify(&trusted, &block, now(&chain, target));
        let quorum = 3 * signed_total > 2 * 9;
        let trust = trusted_signed * threshold.1 > 9 * threshold.0;
        match result {
            Ok(_) => prop_assert!(quorum && trust),
            Err(VerifyError::InsufficientVotingPower { .. }) => prop_assert!(!quorum),
            Err(VerifyError::InsufficientTrust { signed, .. }) => {
                prop_assert!(quorum && !trust);
                prop_assert_eq!(signed, trusted_signed);
            }
            Err(e) => prop_assert!(false, "unexpected {:?}", e),
        }
    }

    /// Parallel checking gives exactly the sequential verdict, errors included.
    #[test]
    fn parallel_and_sequential_agree(corrupt in prop::option::of((0usize..21, 0usize..65))) {
        let chain = TestChain::new(ChainSpec::new("par", fixed_set(21, 3)), 3);
        let mut block = chain.light_block(2);
        if let Some((i, byte)) = corrupt {
            block.signed_header.commit.signatures[i].signature.0[byte] ^= 0x40;
        }
        let trusted = chain.trusted_state(1);
        let seq = sequential().verify(&trusted, &block, now(&chain, 2));
        let par = Verifier { options: TrustOptions::default(), parallelism: Parallelism::Parallel }.verify(&trusted, &block, now(&chain, 2));
        prop_assert_eq!(seq, par);
    }

    /// Decoding random bytes never panics, whatever the type.
    #[test]
    fn decoders_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = LightBlock::decode(&bytes);
        let _ = xrelay_light_client::SignedHeader::decode(&bytes);
        let _ = xrelay_light_client::Header::decode(&bytes);
        let _ = Commit::decode(&bytes);
        let _ = ValidatorSet::decode(&bytes);
        let _ = xrelay_light_client::Message::decode(&bytes);
        let _ = xrelay_light_client::Acknowledgement::decode(&bytes);
        let _ = xrelay_light_client::StateProof::decode(&bytes);
        let _ = xrelay_light_client::Misbehaviour::decode(&bytes);
        let _ = ChainId::decode(&bytes);
        let _ = xrelay_light_client::ClientState::decode(&bytes);
        let _ = TrustOptions::decode(&bytes);
    }
}
