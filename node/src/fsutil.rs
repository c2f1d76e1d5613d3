//! Writing small files so that a crash leaves either the old contents or the new, never a
//! mix, and what was written survives a power cut: the one helper every file of a home is
//! written with (config, keys, token, API address, peer book).

use std::fs;
use std::io::Write;
use std::path::Path;

/// Who may read a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// The default permissions.
    Public,
    /// The owner only (mode 0600 on unix): keys and tokens.
    Secret,
}

/// How to treat a file that exists already.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Existing {
    /// Refuse (an `AlreadyExists` error): never overwrite a key.
    Refuse,
    /// Replace it atomically.
    Replace,
}

/// Writes `contents` to `path`: into a temporary file beside it, synced, then renamed over
/// `path` (or, with [`Existing::Refuse`], linked there only if nothing is), and the directory
/// synced so the name survives a crash too.
pub fn write_file(
    path: &Path,
    contents: &[u8],
    access: Access,
    existing: Existing,
) -> std::io::Result<()> {
    let name = path
        .file_name()
        .ok_or_else(|| std::io::Error::other("not a file path"))?;
    let temporary = path.with_file_name(format!(".{}.tmp", name.to_string_lossy()));
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    if access == Access::Secret {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = access;
    let written = (|| {
        let mut file = options.open(&temporary)?;
        file.write_all(contents)?;
        file.sync_all()?;
        match existing {
            Existing::Replace => fs::rename(&temporary, path),
            // A hard link fails if `path` exists, so two writers cannot both win.
            Existing::Refuse => {
                fs::hard_link(&temporary, path).and_then(|()| fs::remove_file(&temporary))
            }
        }
    })();
    if written.is_err() {
        let _ = fs::remove_file(&temporary);
    }
    written?;
    sync_dir(path)
}

/// Syncs the directory holding `path`, so a new or renamed entry in it is durable.
pub(crate) fn sync_dir(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    if let Some(dir) = path.parent() {
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_is_replaced_whole_and_a_new_one_refuses_to_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("peers.json");
        write_file(&path, b"one", Access::Public, Existing::Replace).unwrap();
        write_file(&path, b"two", Access::Public, Existing::Replace).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
        let key = dir.path().join("identity.key");
        write_file(&key, b"secret", Access::Secret, Existing::Refuse).unwrap();
        let error = write_file(&key, b"other", Access::Secret, Existing::Refuse).unwrap_err();
        assert_eq!(error.kind(), std::io::ErrorKind::AlreadyExists);
        assert_eq!(fs::read(&key).unwrap(), b"secret");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&key).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let left: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(left.len(), 2, "no temporary files are left behind");
    }
}
