//! Signing keys at rest: one Web3 Secret Storage file per key (scrypt + AES-128-CTR, the
//! format Ethereum tools read), named after the key, with the address beside it so keys
//! can be listed without the passphrase. Nothing is ever written in plaintext.

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

    fn address_file(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.address"))
    }

    /// Stores `secret` (or a new random key) under `name`, encrypted with `passphrase`.
    pub fn add(
        &self,
        name: &str,
        secret: Option<[u8; 32]>,
        passphrase: &str,
    ) -> Result<Address, KeyError> {
        Self::check_name(name)?;
        if self.dir.join(name).exists() {
            return Err(KeyError::Exists(name.into()));
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
            if let Some(name) = file.strip_suffix(".address") {
                let address =
                    std::fs::read_to_string(entry.path()).map_err(|e| io(&entry.path(), e))?;
                out.push((name.to_string(), address.trim().to_string()));
            }
        }
        out.sort();
        Ok(out)
    }

    /// Deletes key `name`.
    pub fn delete(&self, name: &str) -> Result<(), KeyError> {
        Self::check_name(name)?;
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
}
