//! Files and directories inside a ledger directory: never reached through a symbolic link, so
//! that nothing the ledger writes (its lock, caches, derived state, log) can be redirected to a
//! file elsewhere by a link planted in the directory, and nothing it reads as its own comes from
//! elsewhere. The ledger directory itself may be a link; what is inside it may not.
//!
//! It opens and checks; it never decides what a file holds.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// The error for a symbolic link where a ledger file or directory should be, naming it.
pub fn link_refused(path: &Path) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!(
            "{} is a symbolic link, and a ledger's files are never read or written through one; replace it with the file or directory itself",
            path.display()
        ),
    )
}

/// Opens `path` with `options`, refusing it when it is a symbolic link.
pub fn open(path: &Path, options: &mut OpenOptions) -> io::Result<File> {
    options
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .map_err(|e| match e.raw_os_error() {
            Some(libc::ELOOP) => link_refused(path),
            _ => e,
        })
}

/// Refuses `path` when it is a symbolic link (as a directory the ledger keeps files in); a path
/// that does not exist is no link.
pub fn not_a_link(path: &Path) -> io::Result<()> {
    match std::fs::symlink_metadata(path) {
        Ok(metadata) if metadata.file_type().is_symlink() => Err(link_refused(path)),
        _ => Ok(()),
    }
}

/// Creates directory `path` (and its parents) unless it is there, refusing a link in its place.
pub fn create_dir(path: &Path) -> io::Result<()> {
    not_a_link(path)?;
    std::fs::create_dir_all(path)
}

/// Whether a file [`replace`] writes must be on disk before it takes the old one's place.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// Synced before the rename (the log's head).
    Synced,
    /// Left to the kernel: derived files, rebuilt after a crash.
    Derived,
}

/// Writes `bytes` to `path` whole, through a new file beside it that is renamed into place,
/// neither followed through a link. On failure (a full disk) the new file goes again, so that
/// nothing is left behind; the directory is the caller's to sync.
pub fn replace(path: &Path, temp: &Path, bytes: &[u8], durability: Durability) -> io::Result<()> {
    use std::io::Write;
    // A link, or a file a killed writer left, at the temporary name goes first: the rename
    // below replaces the link itself at `path`, never what it points to.
    match std::fs::remove_file(temp) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    let mut file = open(temp, OpenOptions::new().write(true).create_new(true))?;
    let written = file
        .write_all(bytes)
        .and_then(|()| match durability {
            Durability::Synced => file.sync_all(),
            Durability::Derived => Ok(()),
        })
        .and_then(|()| std::fs::rename(temp, path));
    if written.is_err() {
        let _ = std::fs::remove_file(temp);
    }
    written
}
