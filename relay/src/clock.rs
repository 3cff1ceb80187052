//! The relayer's one wall clock. Light-client checks (expiry, header times), heartbeats,
//! status ages, ledger timelines and message timeouts all read it, so there is exactly one
//! definition of "now" in the relayer.

use xrelay_light_client::TimeMs;

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> TimeMs {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
