//! Where a passphrase comes from: the first line of the file `--passphrase-file` (or
//! `LEDGER_PASSPHRASE_FILE`) names, for scripts; otherwise the terminal, asked on `/dev/tty`
//! without echo (never standard input, which may carry a command's events). The one way every
//! command that signs opens its key file, and the way `key generate` seals a new one.
//!
//! It holds passphrases only in buffers that are wiped when dropped, and never prints them.

use crate::cli::output::for_person;
use anyhow::{bail, Context, Result};
use ledger::keys::{KeyFile, SecretKey};
use std::io::Read;
use std::path::Path;
use zeroize::Zeroizing;

/// The longest passphrase file's first line: far longer than a passphrase a person types, short
/// enough that `/dev/zero` given as the file is refused at once.
const MAX_PASSPHRASE_BYTES: u64 = 1024;

/// The key in the file at `key_file`; if it is sealed, opened with the passphrase from
/// `passphrase_file`, or else asked on the terminal.
pub fn open_key(passphrase_file: Option<&Path>, key_file: &Path) -> Result<SecretKey> {
    let sealed = match KeyFile::read(key_file)? {
        KeyFile::Plain(key) => return Ok(key),
        KeyFile::Sealed(sealed) => sealed,
    };
    let passphrase = match passphrase_file {
        Some(file) => read(file)?,
        None => ask(
            &format!("Passphrase of key file {}: ", key_file.display()),
            key_file,
        )?,
    };
    Ok(sealed.unseal(&passphrase)?)
}

/// The passphrase to seal a new key file with: from `passphrase_file`, or asked twice on the
/// terminal.
pub fn new(passphrase_file: Option<&Path>, key_file: &Path) -> Result<Zeroizing<Vec<u8>>> {
    if let Some(file) = passphrase_file {
        return read(file);
    }
    let passphrase = ask(
        &format!("Passphrase for the new key file {}: ", key_file.display()),
        key_file,
    )?;
    if passphrase.is_empty() {
        bail!("a passphrase cannot be empty; nothing was written");
    }
    let again = ask("The same passphrase again: ", key_file)?;
    if again != passphrase {
        bail!("the two passphrases differ; nothing was written");
    }
    Ok(passphrase)
}

/// One passphrase for `key_file`, read from the terminal without echo.
fn ask(prompt: &str, key_file: &Path) -> Result<Zeroizing<Vec<u8>>> {
    let config = rpassword::ConfigBuilder::new().build();
    match rpassword::prompt_password_with_config(for_person(prompt), config) {
        Ok(typed) => Ok(Zeroizing::new(typed.into_bytes())),
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            bail!(
                "no passphrase was typed for key file {}",
                key_file.display()
            )
        }
        Err(e) => {
            let advice = format!(
                "cannot ask for the passphrase of key file {} on a terminal; in a script, \
                 give a file holding it with --passphrase-file FILE or LEDGER_PASSPHRASE_FILE",
                key_file.display()
            );
            // With no controlling terminal, opening /dev/tty fails with ENXIO: the sentence
            // says all there is to say.
            if e.raw_os_error() == Some(libc::ENXIO) {
                bail!(advice)
            }
            Err(anyhow::Error::new(e).context(advice))
        }
    }
}

/// The first line of `file`, without its line ending; a pipe will do (`<(pass show key)`).
fn read(file: &Path) -> Result<Zeroizing<Vec<u8>>> {
    let context = || format!("cannot read passphrase file {}", file.display());
    // Room for the longest line and its line ending, allocated once: a buffer that grew would
    // leave copies of the passphrase behind.
    let mut bytes = Zeroizing::new(Vec::with_capacity(MAX_PASSPHRASE_BYTES as usize + 2));
    std::fs::File::open(file)
        .with_context(context)?
        .take(MAX_PASSPHRASE_BYTES + 2)
        .read_to_end(&mut bytes)
        .with_context(context)?;
    let line = bytes.split(|&b| b == b'\n').next().unwrap_or_default();
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line.len() as u64 > MAX_PASSPHRASE_BYTES {
        bail!(
            "the first line of passphrase file {} is longer than {MAX_PASSPHRASE_BYTES} bytes",
            file.display()
        );
    }
    if line.is_empty() {
        bail!(
            "the first line of passphrase file {} is empty, and a passphrase cannot be",
            file.display()
        );
    }
    Ok(Zeroizing::new(line.to_vec()))
}
