//! The mesh identity: the ed25519 key whose peer id the allow-lists name and that signs
//! heartbeats, kept in a file created readable by its owner only (mode 0600 from the
//! `O_EXCL` creation of a temporary file, then linked into place, never overwritten).
//! Apart from the swarm because it is file handling an operator cares about on its own
//! (the key is made once, before the first start, and backed up).

use std::path::Path;

use libp2p::identity::Keypair;

/// Reads the identity key at `path`, creating it (mode 0600 from its creation) if it does
/// not exist.
pub fn load_or_create_identity(path: &Path) -> anyhow::Result<Keypair> {
    if !path.exists() {
        let key = Keypair::generate_ed25519();
        match write_identity(path, &key) {
            Ok(()) => return Ok(key),
            // Another process created it meanwhile: read theirs.
            Err(e) if path.exists() => {
                tracing::debug!(path = %path.display(), error = %e, "identity key created by another process");
            }
            Err(e) => return Err(e),
        }
    }
    let bytes = std::fs::read(path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    Keypair::from_protobuf_encoding(&bytes)
        .map_err(|e| anyhow::anyhow!("{}: not an identity key: {e}", path.display()))
}

/// Writes `key` to `path` (which must not exist) readable by the owner only: the bytes go
/// to a temporary file created with mode 0600 in the same directory, which is synced and
/// then linked to `path` (refused if `path` exists), so the key is never readable by
/// others, not even for a moment, and `path` never holds half a key.
pub fn write_identity(path: &Path, key: &Keypair) -> anyhow::Result<()> {
    use std::io::Write;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir).map_err(|e| anyhow::anyhow!("{}: {e}", dir.display()))?;
    let bytes = key.to_protobuf_encoding()?;
    let mut file = private_temp_file(dir)?;
    file.write_all(&bytes)
        .and_then(|()| file.as_file().sync_all())
        .map_err(|e| anyhow::anyhow!("{}: {e}", file.path().display()))?;
    file.persist_noclobber(path)
        .map_err(|e| anyhow::anyhow!("{}: {}", path.display(), e.error))?;
    Ok(())
}

/// A new empty file in `dir`, created (`O_CREAT | O_EXCL`) with mode 0600, removed when
/// dropped unless persisted.
fn private_temp_file(dir: &Path) -> anyhow::Result<tempfile::NamedTempFile> {
    let mut builder = tempfile::Builder::new();
    builder.prefix(".identity-").suffix(".tmp");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o600));
    }
    builder
        .tempfile_in(dir)
        .map_err(|e| anyhow::anyhow!("{}: {e}", dir.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn the_identity_key_is_owner_only_from_its_creation_and_never_overwritten() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        // The file the key is written into is 0600 as created, before a byte is in it
        // (a plain create would be 0644 under the usual umask).
        let fresh = private_temp_file(dir.path()).unwrap();
        assert_eq!(std::fs::metadata(fresh.path()).unwrap().len(), 0);
        assert_eq!(mode(fresh.path()), 0o600);
        drop(fresh);

        let path = dir.path().join("sub/identity.key");
        let key = load_or_create_identity(&path).unwrap();
        assert_eq!(mode(&path), 0o600);
        // Read back, the same identity; and only the key file is left in its directory.
        let again = load_or_create_identity(&path).unwrap();
        assert_eq!(again.public().to_peer_id(), key.public().to_peer_id());
        let files: Vec<String> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(files, ["identity.key"]);
        // An existing key is never replaced.
        let other = Keypair::generate_ed25519();
        assert!(write_identity(&path, &other).is_err());
        assert_eq!(
            load_or_create_identity(&path)
                .unwrap()
                .public()
                .to_peer_id(),
            key.public().to_peer_id()
        );
        // Garbage is an error, not a new identity.
        std::fs::write(dir.path().join("bad.key"), b"nonsense").unwrap();
        assert!(load_or_create_identity(&dir.path().join("bad.key")).is_err());
    }
}
