//! `RelayerConfig::parse` (the body of `RelayerConfig::load`, which `xrelay start` and every
//! other command run) on an arbitrary file and arbitrary `XRELAY_…` overrides
//! (`xrelay_fuzz::config_input`): operators write the file and the environment by hand, so
//! any of it must give a configuration or a `ConfigError` naming the file and a key, never a
//! panic or an abort (e.g. an allocation sized by an index in a variable name). An accepted
//! configuration must pass its own validation and, written back as TOML, read back the same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use xrelay_config::RelayerConfig;
use xrelay_fuzz::config_input;

const FILE: &str = "fuzz/relayer.toml";

fuzz_target!(|data: &[u8]| {
    let (file, env) = config_input(data);
    match RelayerConfig::parse(FILE, file, env) {
        Ok(cfg) => {
            assert_eq!(cfg.validate(), Ok(()));
            // Numbers above i64::MAX (from an override) have no TOML form: nothing to check.
            if let Ok(text) = toml::to_string(&cfg) {
                let back = RelayerConfig::parse(FILE, text.as_bytes(), []).unwrap_or_else(|e| {
                    panic!("{cfg:?} written as\n{text}\ndoes not read back: {e}")
                });
                assert_eq!(back, cfg, "written as\n{text}");
            }
        }
        Err(e) => {
            assert_eq!(e.file, FILE);
            assert!(!e.key.is_empty(), "{e}");
            let _ = e.to_string();
        }
    }
});
