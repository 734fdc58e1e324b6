//! The writer's lock on a ledger directory: an exclusive `flock` on `LEDGER/ledger.lock`, held
//! by whichever process appends, imports, enrols or rebuilds derived state, for as long as it
//! has the ledger open for writing. Readers never take it.
//!
//! It knows nothing of what is in the directory.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The lock file's name in a ledger directory.
pub const LOCK_FILE: &str = "ledger.lock";

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("the ledger at {dir} is in use by another process")]
    InUse { dir: PathBuf },
    #[error("cannot take the lock on the ledger at {dir}")]
    Io {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Held while a process writes to a ledger; dropping it releases the lock.
pub struct WriterLock {
    _file: File,
}

impl WriterLock {
    /// Takes the lock on the ledger at `dir`, waiting up to `wait` for another holder.
    pub fn take(dir: &Path, wait: Duration) -> Result<WriterLock, LockError> {
        let io = |source| LockError::Io {
            dir: dir.to_path_buf(),
            source,
        };
        let file = crate::inside::open(
            &dir.join(LOCK_FILE),
            std::fs::OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true),
        )
        .map_err(io)?;
        if lock_before(&file, deadline_after(wait)).map_err(io)? {
            Ok(WriterLock { _file: file })
        } else {
            Err(LockError::InUse {
                dir: dir.to_path_buf(),
            })
        }
    }
}

/// `wait` from now; a wait too long to add to the clock is as good as waiting for ever.
pub fn deadline_after(wait: Duration) -> Instant {
    Instant::now()
        .checked_add(wait)
        .unwrap_or_else(|| Instant::now() + Duration::from_secs(u64::from(u32::MAX)))
}

/// Takes an exclusive `flock` on `file`, polling until `deadline` while another holder has it.
/// Returns whether the lock was taken (it is held until the file is closed or unlocked).
pub fn lock_before(file: &File, deadline: Instant) -> std::io::Result<bool> {
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(true),
            Err(std::fs::TryLockError::WouldBlock) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(std::fs::TryLockError::WouldBlock) => return Ok(false),
            Err(std::fs::TryLockError::Error(e)) => return Err(e),
        }
    }
}
