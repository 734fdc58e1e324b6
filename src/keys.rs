//! Ed25519 keys: secret key files (created 0600, refused when group or others can read them),
//! the one public-key text form `ed25519:<64 hex digits>`, signing and strict verification.
//!
//! It never decides who may do what: enrolment, roles and revocation belong to [`crate::rules`].

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

const KEY_FILE_HEADER: &str = "ledger secret key v1";
const PUBLIC_PREFIX: &str = "ed25519:";

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("key file {path} already exists, and a key file is never overwritten")]
    Exists { path: PathBuf },
    #[error("cannot read key file {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write key file {path}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("key file {path} cannot be used")]
    Unusable {
        path: PathBuf,
        #[source]
        source: crate::regular::OpenError,
    },
    #[error("key file {path} can be read by group or others (mode {mode:o}); secret keys must be private")]
    TooOpen { path: PathBuf, mode: u32 },
    #[error("{path} is not a ledger secret key file: {reason}")]
    NotAKeyFile {
        path: PathBuf,
        reason: KeyFileProblem,
    },
    #[error("{text:?} is not a public key: expected `ed25519:` followed by 64 hex digits")]
    BadPublicKey { text: String },
    #[error("public key {key} is a weak (small-order) Ed25519 key and cannot be used")]
    WeakKey { key: PublicKey },
    #[error("cannot get randomness from the operating system")]
    Random(#[source] std::io::Error),
}

/// Why a file is not a key file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum KeyFileProblem {
    #[error("it is not text")]
    NotText,
    #[error("its first line is not `{}`", KEY_FILE_HEADER)]
    NoHeader,
    #[error("it has a line that is not `name:`, `public:` or `secret:`")]
    UnknownLine,
    #[error("it has no `secret:` line")]
    NoSecret,
    #[error("its secret is not 64 hex digits")]
    BadSecret,
    #[error("its `public:` line does not match its secret")]
    PublicMismatch,
}

/// An Ed25519 public key; its text form is `ed25519:` and 64 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PublicKey(pub [u8; 32]);

impl PublicKey {
    pub fn parse(text: &str) -> Result<PublicKey, KeyError> {
        let bad = || KeyError::BadPublicKey {
            text: text.to_string(),
        };
        let hex_part = text.trim().strip_prefix(PUBLIC_PREFIX).ok_or_else(bad)?;
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(hex_part, &mut bytes).map_err(|_| bad())?;
        Ok(PublicKey(bytes))
    }

    /// The key as a curve point, refusing keys that do not decode or have small order
    /// (which would let a signature verify for many messages).
    pub fn verifying_key(&self) -> Result<VerifyingKey, KeyError> {
        let key = VerifyingKey::from_bytes(&self.0).map_err(|_| KeyError::BadPublicKey {
            text: self.to_string(),
        })?;
        if key.is_weak() {
            return Err(KeyError::WeakKey { key: *self });
        }
        Ok(key)
    }

    /// `verify_strict` of `signature` over `message`.
    pub fn verify(&self, message: &[u8], signature: &[u8; 64]) -> bool {
        match self.verifying_key() {
            Ok(key) => key
                .verify_strict(message, &Signature::from_bytes(signature))
                .is_ok(),
            Err(_) => false,
        }
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{PUBLIC_PREFIX}{}", hex::encode(self.0))
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// A secret signing key and the name it was generated with.
pub struct SecretKey {
    signing: SigningKey,
    pub name: Option<String>,
}

/// A key file is a header and three short lines; anything longer is not one, and is refused
/// before it is read.
const MAX_KEY_FILE_BYTES: u64 = 4096;

impl SecretKey {
    pub fn generate(name: Option<String>) -> Result<SecretKey, KeyError> {
        let mut seed = [0u8; 32];
        getrandom::getrandom(&mut seed).map_err(|e| {
            // getrandom's error is a std error only with its `std` feature; the OS code says all.
            KeyError::Random(e.raw_os_error().map_or_else(
                || std::io::Error::other(e.to_string()),
                std::io::Error::from_raw_os_error,
            ))
        })?;
        Ok(SecretKey::from_seed(seed, name))
    }

    /// A key from its 32-byte Ed25519 seed (RFC 8032 secret key).
    pub fn from_seed(seed: [u8; 32], name: Option<String>) -> SecretKey {
        SecretKey {
            signing: SigningKey::from_bytes(&seed),
            name,
        }
    }

    pub fn public(&self) -> PublicKey {
        PublicKey(self.signing.verifying_key().to_bytes())
    }

    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.signing.sign(message).to_bytes()
    }

    /// The key file's text: a header line, `name:` and `public:` for people, `secret:` the seed.
    fn file_text(&self) -> String {
        let name = self
            .name
            .as_ref()
            .map(|name| format!("name: {name}\n"))
            .unwrap_or_default();
        format!(
            "{KEY_FILE_HEADER}\n{name}public: {}\nsecret: {}\n",
            self.public(),
            hex::encode(self.signing.to_bytes())
        )
    }

    /// Writes a new key file with mode 0600; never overwrites an existing file.
    pub fn save_new(&self, path: &Path) -> Result<(), KeyError> {
        use std::os::unix::fs::OpenOptionsExt;
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(|cause| match cause.kind() {
                std::io::ErrorKind::AlreadyExists => KeyError::Exists {
                    path: path.to_path_buf(),
                },
                _ => KeyError::Write {
                    path: path.to_path_buf(),
                    source: cause,
                },
            })?;
        let write = |file: &mut std::fs::File| -> std::io::Result<()> {
            file.write_all(self.file_text().as_bytes())?;
            file.sync_all()
        };
        write(&mut file).map_err(|source| KeyError::Write {
            path: path.to_path_buf(),
            source,
        })
    }

    /// Loads a key file, refusing one that group or others can read, one that is not a regular
    /// file, and one longer than a key file is.
    pub fn load(path: &Path) -> Result<SecretKey, KeyError> {
        use std::os::unix::fs::PermissionsExt;
        let read_err = |source| KeyError::Read {
            path: path.to_path_buf(),
            source,
        };
        let bytes = crate::regular::read(path, MAX_KEY_FILE_BYTES).map_err(|e| match e {
            crate::regular::OpenError::Io(source) => read_err(source),
            source => KeyError::Unusable {
                path: path.to_path_buf(),
                source,
            },
        })?;
        let metadata = std::fs::metadata(path).map_err(read_err)?;
        let mode = metadata.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(KeyError::TooOpen {
                path: path.to_path_buf(),
                mode,
            });
        }
        let not_key = |reason: KeyFileProblem| KeyError::NotAKeyFile {
            path: path.to_path_buf(),
            reason,
        };
        let text = std::str::from_utf8(&bytes).map_err(|_| not_key(KeyFileProblem::NotText))?;
        let mut lines = text.lines();
        if lines.next().map(str::trim) != Some(KEY_FILE_HEADER) {
            return Err(not_key(KeyFileProblem::NoHeader));
        }
        let (mut name, mut public, mut secret) = (None, None, None);
        for line in lines {
            match line.split_once(':').map(|(k, v)| (k.trim(), v.trim())) {
                Some(("name", v)) => name = Some(v.to_string()),
                Some(("public", v)) => public = Some(v.to_string()),
                Some(("secret", v)) => secret = Some(v.to_string()),
                _ if line.trim().is_empty() => {}
                _ => return Err(not_key(KeyFileProblem::UnknownLine)),
            }
        }
        let secret = secret.ok_or_else(|| not_key(KeyFileProblem::NoSecret))?;
        let mut seed = [0u8; 32];
        hex::decode_to_slice(&secret, &mut seed).map_err(|_| not_key(KeyFileProblem::BadSecret))?;
        let key = SecretKey::from_seed(seed, name);
        if let Some(public) = public {
            if PublicKey::parse(&public).ok() != Some(key.public()) {
                return Err(not_key(KeyFileProblem::PublicMismatch));
            }
        }
        Ok(key)
    }
}
