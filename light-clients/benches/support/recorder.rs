//! Shared by the criterion benches: records every sample criterion measures so each bench
//! can print a summary (medians, ratios against baselines) from exactly those samples.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::Instant;

use criterion::measurement::WallTime;
use criterion::BenchmarkGroup;

/// Samples per benchmark (criterion's `sample_size`).
pub const SAMPLES: usize = 20;

/// Records the per-iteration time of every criterion sample, so the summary uses exactly
/// the samples criterion measured.
#[derive(Default)]
pub struct Recorder {
    samples: RefCell<BTreeMap<String, Vec<f64>>>,
}

impl Recorder {
    pub fn bench<O>(
        &self,
        group: &mut BenchmarkGroup<'_, WallTime>,
        key: &str,
        mut routine: impl FnMut() -> O,
    ) {
        let id = key.rsplit('/').next().unwrap_or(key);
        group.bench_function(id, |b| {
            b.iter_custom(|iters| {
                let start = Instant::now();
                for _ in 0..iters {
                    black_box(routine());
                }
                let elapsed = start.elapsed();
                self.samples
                    .borrow_mut()
                    .entry(key.to_string())
                    .or_default()
                    .push(elapsed.as_secs_f64() * 1e9 / iters.max(1) as f64);
                elapsed
            })
        });
    }

    /// Median ns per iteration over the last `SAMPLES` samples (the measured ones; the
    /// warm-up calls come first).
    pub fn median(&self, key: &str) -> Option<f64> {
        let samples = self.samples.borrow();
        let all = samples.get(key)?;
        let mut last: Vec<f64> = all[all.len().saturating_sub(SAMPLES)..].to_vec();
        last.sort_by(f64::total_cmp);
        let mid = last.len() / 2;
        Some(if last.len().is_multiple_of(2) {
            (last[mid - 1] + last[mid]) / 2.0
        } else {
            last[mid]
        })
    }
}
