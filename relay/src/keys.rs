//! Signing keys at rest: one Web3 Secret Storage file per key (scrypt + AES-128-CTR, the
//! format Ethereum tools read), named after the key, with the address beside it so keys
//! can be listed without the passphrase. Nothing is ever written in plaintext.
//!
//! Layout: key `NAME` is the file `NAME`, its address sidecar `NAME.address` (40 hex
//! digits). So that a key file and a sidecar can never be one file, a new key's name may
//! not end in `.address` (in any letter case: some filesystems ignore case), and a new key
//! is refused when its sidecar's path holds anything but a stray sidecar. Keystores written
//! before this rule (which may hold a key named `X.address`) are still read: a file is
//! taken as a sidecar only when it holds an address and the key it names exists.

use std::path::{Path, PathBuf};

use xrelay_light_client::{Address, SigningKey};

/// Why a keystore operation failed.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// Filesystem.
    #[error("{path}: {why}")]
    Io {
        /// The file or directory.
        path: String,
        /// What failed.
        why: String,
    },
    /// Encryption or decryption (a wrong passphrase shows up here).
    #[error("key {name}: {why}")]
    Crypto {
        /// The key.
        name: String,
        /// What failed.
        why: String,
    },
    /// No such key.
    #[error("no key named {0:?}")]
    Missing(String),
    /// A key of that name exists.
    #[error("a key named {0:?} exists already")]
    Exists(String),
    /// Names are file names: letters, digits, `-`, `_`, `.`.
    #[error("key name {0:?} must be 1-64 of [A-Za-z0-9._-] and not start with '.'")]
    BadName(String),
    /// A name ending in the sidecar suffix would name another key's address file.
    #[error("key name {0:?} ends in {SIDECAR_SUFFIX:?}, which names address sidecars: choose another name")]
    ReservedName(String),
    /// The file the new key's sidecar would be written to is another key (written before
    /// names ending in the sidecar suffix were refused): writing it would destroy that key.
    #[error("key {name:?}: its address file {path} is another key's file; choose another name")]
    Collision {
        /// The new key.
        name: String,
        /// The file in the way.
        path: String,
    },
}

/// The suffix of address sidecar files: key `NAME`'s address is in `NAME.address`.
pub const SIDECAR_SUFFIX: &str = ".address";

/// Whether `name` ends in [`SIDECAR_SUFFIX`], ignoring ASCII case (as macOS and Windows
/// filesystems do).
fn has_sidecar_suffix(name: &str) -> bool {
    name.len() >= SIDECAR_SUFFIX.len()
        && name.as_bytes()[name.len() - SIDECAR_SUFFIX.len()..]
            .eq_ignore_ascii_case(SIDECAR_SUFFIX.as_bytes())
}

/// Whether `bytes` are a sidecar's content: an address as 40 hex digits (a newline or
/// spaces around it allowed). A keystore file is JSON, so the two cannot be confused.
fn is_sidecar_content(bytes: &[u8]) -> bool {
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t.trim(),
        Err(_) => return false,
    };
    text.len() == 40 && text.bytes().all(|b| b.is_ascii_hexdigit())
}

/// A directory of encrypted keys.
pub struct Keystore {
    dir: PathBuf,
}

fn io(path: &Path, e: impl std::fmt::Display) -> KeyError {
    KeyError::Io {
        path: path.display().to_string(),
        why: e.to_string(),
    }
}

impl Keystore {
    /// The keystore in `dir` (created on first `add`).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Keystore { dir: dir.into() }
    }

    /// The default directory: `$XRELAY_KEYSTORE`, or `~/.xrelay/keys`.
    pub fn default_dir() -> PathBuf {
        std::env::var_os("XRELAY_KEYSTORE")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                std::env::var_os("HOME")
                    .map(PathBuf::from)
                    .unwrap_or_default()
                    .join(".xrelay/keys")
            })
    }

    /// The rule for names of keys that exist (also those written before
    /// [`Self::check_new_name`] refused the sidecar suffix).
    fn check_name(name: &str) -> Result<(), KeyError> {
        let ok = !name.is_empty()
            && name.len() <= 64
            && !name.starts_with('.')
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
        if ok {
            Ok(())
        } else {
            Err(KeyError::BadName(name.into()))
        }
    }

    /// The rule for the name of a key to create: [`Self::check_name`], and not ending in
    /// [`SIDECAR_SUFFIX`] in any case, so it never names another key's sidecar.
    pub fn check_new_name(name: &str) -> Result<(), KeyError> {
        Self::check_name(name)?;
        if has_sidecar_suffix(name) {
            return Err(KeyError::ReservedName(name.into()));
        }
        Ok(())
    }

    fn address_file(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}{SIDECAR_SUFFIX}"))
    }

    /// Whether the file `path` is an address sidecar (holds an address, not a key).
    fn holds_sidecar(path: &Path) -> bool {
        // A sidecar is 41 bytes at most with its newline; a keystore file is larger.
        std::fs::read(path).is_ok_and(|b| b.len() <= 64 && is_sidecar_content(&b))
    }

    /// Refuses `name` when it is (legacy layout) an existing key's address sidecar rather
    /// than a key: loading or deleting it would touch the wrong file.
    fn check_is_key(&self, name: &str) -> Result<(), KeyError> {
        if has_sidecar_suffix(name) && Self::holds_sidecar(&self.dir.join(name)) {
            return Err(KeyError::ReservedName(name.into()));
        }
        Ok(())
    }

    /// Stores `secret` (or a new random key) under `name`, encrypted with `passphrase`.
    pub fn add(
        &self,
        name: &str,
        secret: Option<[u8; 32]>,
        passphrase: &str,
    ) -> Result<Address, KeyError> {
        Self::check_new_name(name)?;
        if self.dir.join(name).exists() {
            return Err(KeyError::Exists(name.into()));
        }
        let sidecar = self.address_file(name);
        if sidecar.exists() && !Self::holds_sidecar(&sidecar) {
            return Err(KeyError::Collision {
                name: name.into(),
                path: sidecar.display().to_string(),
            });
        }
        std::fs::create_dir_all(&self.dir).map_err(|e| io(&self.dir, e))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&self.dir, std::fs::Permissions::from_mode(0o700))
                .map_err(|e| io(&self.dir, e))?;
        }
        let key = match secret {
            Some(s) => SigningKey::from_bytes(&s).map_err(|e| KeyError::Crypto {
                name: name.into(),
                why: e.to_string(),
            })?,
            None => loop {
                let mut s = [0u8; 32];
                rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut s);
                if let Ok(k) = SigningKey::from_bytes(&s) {
                    break k;
                }
            },
        };
        eth_keystore::encrypt_key(
            &self.dir,
            &mut rand::rngs::OsRng,
            key.secret_bytes(),
            passphrase,
            Some(name),
        )
        .map_err(|e| KeyError::Crypto {
            name: name.into(),
            why: e.to_string(),
        })?;
        #[cfg(unix)]
        {
            // Only the owner reads the encrypted key (its directory is 0700 too).
            use std::os::unix::fs::PermissionsExt;
            let file = self.dir.join(name);
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600))
                .map_err(|e| io(&file, e))?;
        }
        let address = key.address();
        std::fs::write(self.address_file(name), hex::encode(address.0))
            .map_err(|e| io(&self.address_file(name), e))?;
        Ok(address)
    }

    /// The keys by name, with their addresses (no passphrase needed).
    pub fn list(&self) -> Result<Vec<(String, String)>, KeyError> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io(&self.dir, e)),
        };
        let mut out = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| io(&self.dir, e))?;
            let file = entry.file_name().to_string_lossy().into_owned();
            let Some(name) = file.strip_suffix(SIDECAR_SUFFIX) else {
                continue;
            };
            // A sidecar holds an address and sits next to its key; a key file written
            // under a name ending in the suffix (before such names were refused) is JSON.
            if Self::check_name(name).is_err() || !self.dir.join(name).is_file() {
                continue;
            }
            let bytes = std::fs::read(entry.path()).map_err(|e| io(&entry.path(), e))?;
            if !is_sidecar_content(&bytes) {
                continue;
            }
            out.push((
                name.to_string(),
                String::from_utf8_lossy(&bytes).trim().to_string(),
            ));
        }
        out.sort();
        Ok(out)
    }

    /// Deletes key `name`.
    pub fn delete(&self, name: &str) -> Result<(), KeyError> {
        Self::check_name(name)?;
        self.check_is_key(name)?;
        let path = self.dir.join(name);
        if !path.exists() {
            return Err(KeyError::Missing(name.into()));
        }
        std::fs::remove_file(&path).map_err(|e| io(&path, e))?;
        let _ = std::fs::remove_file(self.address_file(name));
        Ok(())
    }

    /// Decrypts key `name`.
    pub fn load(&self, name: &str, passphrase: &str) -> Result<SigningKey, KeyError> {
        Self::check_name(name)?;
        self.check_is_key(name)?;
        let path = self.dir.join(name);
        if !path.exists() {
            return Err(KeyError::Missing(name.into()));
        }
        let secret =
            eth_keystore::decrypt_key(&path, passphrase).map_err(|e| KeyError::Crypto {
                name: name.into(),
                why: format!("{e} (wrong passphrase?)"),
            })?;
        let secret: [u8; 32] = secret.try_into().map_err(|_| KeyError::Crypto {
            name: name.into(),
            why: "not a 32-byte key".into(),
        })?;
        SigningKey::from_bytes(&secret).map_err(|e| KeyError::Crypto {
            name: name.into(),
            why: e.to_string(),
        })
    }
}

/// The passphrase: `$XRELAY_KEY_PASSPHRASE`, or asked on the terminal.
pub fn passphrase(prompt: &str) -> anyhow::Result<String> {
    if let Ok(p) = std::env::var("XRELAY_KEY_PASSPHRASE") {
        return Ok(p);
    }
    Ok(rpassword::prompt_password(prompt)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_encrypted_listed_loaded_and_deleted() {
        let dir = tempfile::tempdir().unwrap();
        let ks = Keystore::new(dir.path().join("keys"));
        let known = SigningKey::from_seed("keystore-test", 0);
        let a = ks.add("ops-1", Some(known.secret_bytes()), "pw").unwrap();
        assert_eq!(a, known.address());
        let b = ks.add("ops-2", None, "pw").unwrap();
        assert!(matches!(
            ks.add("ops-1", None, "pw"),
            Err(KeyError::Exists(_))
        ));
        assert!(matches!(
            ks.add("../evil", None, "pw"),
            Err(KeyError::BadName(_))
        ));
        let listed = ks.list().unwrap();
        assert_eq!(
            listed,
            vec![
                ("ops-1".to_string(), hex::encode(a.0)),
                ("ops-2".to_string(), hex::encode(b.0))
            ]
        );
        // The secret is nowhere in plaintext.
        let file = std::fs::read(dir.path().join("keys/ops-1")).unwrap();
        let secret_hex = hex::encode(known.secret_bytes());
        assert!(!String::from_utf8_lossy(&file).contains(&secret_hex));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &str| {
                std::fs::metadata(dir.path().join(p))
                    .unwrap()
                    .permissions()
                    .mode()
                    & 0o777
            };
            assert_eq!(mode("keys/ops-1"), 0o600, "only the owner reads a key");
            assert_eq!(mode("keys"), 0o700);
        }
        assert_eq!(ks.load("ops-1", "pw").unwrap().address(), a);
        assert!(matches!(
            ks.load("ops-1", "wrong"),
            Err(KeyError::Crypto { .. })
        ));
        ks.delete("ops-1").unwrap();
        assert!(matches!(ks.load("ops-1", "pw"), Err(KeyError::Missing(_))));
        assert_eq!(ks.list().unwrap().len(), 1);
    }

    #[test]
    fn a_key_name_that_would_name_a_sidecar_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let ks = Keystore::new(dir.path().join("keys"));
        let ops = ks.add("ops", None, "pw").unwrap();
        // A key named like ops's sidecar would overwrite it (or be overwritten), whatever
        // the letter case on a case-insensitive filesystem, and whichever comes first.
        for name in ["ops.address", "ops.ADDRESS", "other.Address", ".address"] {
            let got = ks.add(name, None, "pw");
            assert!(
                matches!(
                    got,
                    Err(KeyError::ReservedName(_)) | Err(KeyError::BadName(_))
                ),
                "{name}: {got:?}"
            );
        }
        assert!(matches!(
            Keystore::check_new_name("ops.address"),
            Err(KeyError::ReservedName(_))
        ));
        // Names that merely contain the word are fine.
        ks.add("ops.address-book", None, "pw").unwrap();
        ks.add("address", None, "pw").unwrap();
        // ops's sidecar is not a key: neither loaded nor deleted as one.
        assert!(matches!(
            ks.load("ops.address", "pw"),
            Err(KeyError::ReservedName(_))
        ));
        assert!(matches!(
            ks.delete("ops.address"),
            Err(KeyError::ReservedName(_))
        ));
        assert_eq!(ks.load("ops", "pw").unwrap().address(), ops);
        let names: Vec<String> = ks.list().unwrap().into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["address", "ops", "ops.address-book"]);
    }

    #[test]
    fn keystores_of_the_earlier_layout_are_still_read() {
        // Written as the earlier code did, which accepted a key named `legacy.address`:
        // the key file `legacy.address` (JSON) and its sidecar `legacy.address.address`.
        let dir = tempfile::tempdir().unwrap();
        let keys = dir.path().join("keys");
        std::fs::create_dir_all(&keys).unwrap();
        let known = SigningKey::from_seed("keystore-legacy", 0);
        eth_keystore::encrypt_key(
            &keys,
            &mut rand::rngs::OsRng,
            known.secret_bytes(),
            "pw",
            Some("legacy.address"),
        )
        .unwrap();
        std::fs::write(
            keys.join("legacy.address.address"),
            hex::encode(known.address().0),
        )
        .unwrap();
        // And a stray sidecar whose key was deleted half-way.
        std::fs::write(keys.join("gone.address"), hex::encode([7u8; 20])).unwrap();
        let ks = Keystore::new(&keys);
        assert_eq!(
            ks.list().unwrap(),
            vec![("legacy.address".to_string(), hex::encode(known.address().0))]
        );
        assert_eq!(
            ks.load("legacy.address", "pw").unwrap().address(),
            known.address()
        );
        // A new key `legacy` would write its sidecar over that key: refused, key intact.
        assert!(matches!(
            ks.add("legacy", None, "pw"),
            Err(KeyError::Collision { .. })
        ));
        assert!(!keys.join("legacy").exists());
        assert_eq!(
            ks.load("legacy.address", "pw").unwrap().address(),
            known.address()
        );
        // A stray sidecar is no key and does not block its name.
        ks.add("gone", None, "pw").unwrap();
        ks.delete("legacy.address").unwrap();
        assert!(!keys.join("legacy.address").exists());
        assert!(!keys.join("legacy.address.address").exists());
        assert_eq!(ks.list().unwrap().len(), 1);
    }
}
