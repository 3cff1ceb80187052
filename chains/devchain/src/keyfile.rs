//! The validator key file: one secret key per line as 64 hex digits (`0x` optional); blank
//! lines and lines starting with `#` are ignored. Operators write these files, so every
//! mistake is reported with its line number and never panics.

use xrelay_light_client::SigningKey;

/// What is wrong with a key file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyFileError {
    /// A line is not a valid secret key.
    #[error("line {line}: {why}")]
    BadLine {
        /// 1-based line number.
        line: usize,
        /// What is wrong with it.
        why: String,
    },
    /// The file holds no key.
    #[error("no keys")]
    Empty,
}

/// The secret keys of `text`, in file order.
pub fn parse(text: &str) -> Result<Vec<[u8; 32]>, KeyFileError> {
    let mut secrets = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let bad = |why: String| KeyFileError::BadLine { line: n + 1, why };
        let digits = line.strip_prefix("0x").unwrap_or(line);
        let bytes = hex::decode(digits).map_err(|e| bad(e.to_string()))?;
        let secret: [u8; 32] = bytes
            .try_into()
            .map_err(|_| bad("a secret key is 32 bytes (64 hex digits)".into()))?;
        SigningKey::from_bytes(&secret).map_err(|e| bad(e.to_string()))?;
        secrets.push(secret);
    }
    if secrets.is_empty() {
        return Err(KeyFileError::Empty);
    }
    Ok(secrets)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Any text parses or fails with a line number; what parses is re-parsed identically
        /// from its own canonical form.
        #[test]
        fn any_text_is_parsed_or_refused_without_panicking(text in ".{0,300}") {
            if let Ok(keys) = parse(&text) {
                let canonical: String = keys.iter().map(|k| format!("{}\n", hex::encode(k))).collect();
                prop_assert_eq!(parse(&canonical), Ok(keys));
            }
        }

        #[test]
        fn valid_keys_round_trip(seeds in proptest::collection::vec(0u32..1000, 1..8)) {
            let keys: Vec<[u8; 32]> = seeds.iter().map(|&i| SigningKey::from_seed("keyfile", i).secret_bytes()).collect();
            let text: String = keys.iter().map(|k| format!("  0x{}  \n# comment\n\n", hex::encode(k))).collect();
            prop_assert_eq!(parse(&text), Ok(keys));
        }
    }

    #[test]
    fn mistakes_name_their_line() {
        assert_eq!(parse("# nothing\n"), Err(KeyFileError::Empty));
        assert!(matches!(
            parse("\nzz"),
            Err(KeyFileError::BadLine { line: 2, .. })
        ));
        assert!(matches!(
            parse("abcd"),
            Err(KeyFileError::BadLine { line: 1, .. })
        ));
        let zero = "00".repeat(32);
        assert!(matches!(
            parse(&zero),
            Err(KeyFileError::BadLine { line: 1, .. })
        ));
    }
}
