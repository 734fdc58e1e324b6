//! Opening a file a person names as input (a key file, an input batch, a dataset release, an
//! evidence file): only a regular file, opened without waiting (a FIFO or a device never makes a
//! command hang, and `/dev/zero` is never read forever), its length known before a byte is read.
//!
//! It opens and reads; it never decides what the bytes mean, and never opens a file to write.

use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error(transparent)]
    Io(#[from] io::Error),
    #[error("it is {0}, not a regular file")]
    NotRegular(&'static str),
    #[error("it is {len} bytes long, more than the {max} bytes it may be")]
    TooLong { len: u64, max: u64 },
}

/// What kind of file other than a regular one `kind` is, in words.
fn kind_of(kind: std::fs::FileType) -> &'static str {
    if kind.is_dir() {
        "a directory"
    } else if kind.is_fifo() {
        "a FIFO (named pipe)"
    } else if kind.is_char_device() {
        "a character device"
    } else if kind.is_block_device() {
        "a block device"
    } else if kind.is_socket() {
        "a socket"
    } else {
        "a special file"
    }
}

/// Opens `path` for reading if it is a regular file (following symbolic links, as a person
/// naming a file expects), and returns it with its length.
pub fn open(path: &Path) -> Result<(File, u64), OpenError> {
    // Non-blocking, so that opening a FIFO with no writer returns at once instead of waiting;
    // the check below then refuses it. Reads of a regular file are unaffected.
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)?;
    let metadata = file.metadata()?;
    if !metadata.file_type().is_file() {
        return Err(OpenError::NotRegular(kind_of(metadata.file_type())));
    }
    Ok((file, metadata.len()))
}

/// Reads the whole of `path`, a regular file of at most `max` bytes.
pub fn read(path: &Path, max: u64) -> Result<Vec<u8>, OpenError> {
    let (file, len) = open(path)?;
    if len > max {
        return Err(OpenError::TooLong { len, max });
    }
    let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    // The file may have grown since; what is read stays within the bound.
    file.take(max).read_to_end(&mut bytes)?;
    Ok(bytes)
}
