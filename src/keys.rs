//! Ed25519 keys: secret key files (created 0600, refused when group or others can read them),
//! plain or sealed under a passphrase ([`seal`]), the one public-key text form
//! `ed25519:<64 hex digits>`, signing and strict verification.
//!
//! It never decides who may do what: enrolment, roles and revocation belong to [`crate::rules`].
//! It never asks for a passphrase: a sealed file is read as a [`SealedKey`], which the caller
//! opens with a passphrase it got however it likes.

mod seal;

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use seal::Sealed;
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use zeroize::{Zeroize, Zeroizing};

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
    #[error("key file {path} is sealed with a passphrase")]
    Sealed { path: PathBuf },
    #[error(
        "the passphrase does not open key file {path}, or the file was changed after it was sealed"
    )]
    WrongPassphrase { path: PathBuf },
    #[error("a passphrase cannot be empty")]
    EmptyPassphrase,
}

/// Why a file is not a key file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum KeyFileProblem {
    #[error("it is not text")]
    NotText,
    #[error("its first line is not `{}`", KEY_FILE_HEADER)]
    NoHeader,
    #[error("it has a line that is not `name:`, `public:`, `secret:` or `sealed:`")]
    UnknownLine,
    #[error("it has no `secret:` or `sealed:` line")]
    NoSecret,
    #[error("its secret is not 64 hex digits")]
    BadSecret,
    #[error("its `public:` line does not match its secret")]
    PublicMismatch,
    #[error("it has both a `secret:` and a `sealed:` line")]
    SecretAndSealed,
    #[error("its `sealed:` line is not its last line")]
    SealedNotLast,
    #[error("it is sealed but has no `public:` line with a public key")]
    SealedWithoutPublic,
    #[error("its `sealed:` line is not `scrypt ln=N r=8 p=1` followed by a salt, a nonce and the sealed secret in hex")]
    BadSealed,
    #[error(
        "its scrypt cost is outside ln={} to ln={}",
        seal::MIN_LOG_N,
        seal::MAX_LOG_N
    )]
    Cost,
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

/// A secret signing key and the name it was generated with. Its Debug form shows only the
/// public key and the name; the secret is wiped from memory when it is dropped.
pub struct SecretKey {
    signing: SigningKey,
    pub name: Option<String>,
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretKey")
            .field("public", &self.public())
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// A key file is a header and three short lines; anything longer is not one, and is refused
/// before it is read.
const MAX_KEY_FILE_BYTES: u64 = 4096;

/// `N` random bytes from the operating system.
fn random<const N: usize>() -> Result<[u8; N], KeyError> {
    let mut bytes = [0u8; N];
    getrandom::getrandom(&mut bytes).map_err(|e| {
        // getrandom's error is a std error only with its `std` feature; the OS code says all.
        KeyError::Random(e.raw_os_error().map_or_else(
            || std::io::Error::other(e.to_string()),
            std::io::Error::from_raw_os_error,
        ))
    })?;
    Ok(bytes)
}

impl SecretKey {
    pub fn generate(name: Option<String>) -> Result<SecretKey, KeyError> {
        let seed = Zeroizing::new(random::<32>()?);
        Ok(SecretKey::from_seed(*seed, name))
    }

    /// A key from its 32-byte Ed25519 seed (RFC 8032 secret key).
    pub fn from_seed(mut seed: [u8; 32], name: Option<String>) -> SecretKey {
        let signing = SigningKey::from_bytes(&seed);
        seed.zeroize();
        SecretKey { signing, name }
    }

    pub fn public(&self) -> PublicKey {
        PublicKey(self.signing.verifying_key().to_bytes())
    }

    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.signing.sign(message).to_bytes()
    }

    /// The key file's lines before its secret: the header, and `name:` and `public:` for people
    /// (and, in a sealed file, for the programs that need only the public key).
    fn public_lines(&self) -> String {
        let name = self
            .name
            .as_ref()
            .map(|name| format!("name: {name}\n"))
            .unwrap_or_default();
        format!("{KEY_FILE_HEADER}\n{name}public: {}\n", self.public())
    }

    /// The plain key file's text: the public lines, then `secret:` and the seed in hex.
    fn file_text(&self) -> Zeroizing<String> {
        let seed = Zeroizing::new(self.signing.to_bytes());
        let public_lines = self.public_lines();
        // Allocated once at its full length: a string that grew would leave a copy of the
        // secret behind in the buffer it left.
        let mut text = Zeroizing::new(String::with_capacity(public_lines.len() + 73));
        text.push_str(&public_lines);
        text.push_str("secret: ");
        text.push_str(&Zeroizing::new(hex::encode(seed.as_slice())));
        text.push('\n');
        text
    }

    /// The sealed key file's text: the public lines, then `sealed:` and the seed sealed under
    /// `passphrase` with this salt and nonce, authenticating the public lines with it.
    fn sealed_file_text(
        &self,
        passphrase: &[u8],
        salt: [u8; seal::SALT_BYTES],
        nonce: [u8; seal::NONCE_BYTES],
    ) -> Result<String, KeyError> {
        if passphrase.is_empty() {
            return Err(KeyError::EmptyPassphrase);
        }
        let public_lines = self.public_lines();
        let seed = Zeroizing::new(self.signing.to_bytes());
        let sealed = Sealed::seal(&seed, passphrase, public_lines.as_bytes(), salt, nonce);
        Ok(format!("{public_lines}sealed: {sealed}\n"))
    }

    /// Writes a new key file with mode 0600; never overwrites an existing file.
    pub fn save_new(&self, path: &Path) -> Result<(), KeyError> {
        write_new(path, self.file_text().as_bytes())
    }

    /// Writes a new key file with mode 0600 whose secret is sealed under `passphrase` (not
    /// empty), with a fresh random salt and nonce; never overwrites an existing file.
    pub fn save_new_sealed(&self, path: &Path, passphrase: &[u8]) -> Result<(), KeyError> {
        let text = self.sealed_file_text(passphrase, random()?, random()?)?;
        write_new(path, text.as_bytes())
    }

    /// Loads a plain key file (see [`KeyFile::read`]); a sealed one is
    /// [`KeyError::Sealed`].
    pub fn load(path: &Path) -> Result<SecretKey, KeyError> {
        match KeyFile::read(path)? {
            KeyFile::Plain(key) => Ok(key),
            KeyFile::Sealed(_) => Err(KeyError::Sealed {
                path: path.to_path_buf(),
            }),
        }
    }
}

/// Writes `text` to a new file at `path` with mode 0600, and syncs it.
fn write_new(path: &Path, text: &[u8]) -> Result<(), KeyError> {
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
        file.write_all(text)?;
        file.sync_all()
    };
    write(&mut file).map_err(|source| KeyError::Write {
        path: path.to_path_buf(),
        source,
    })
}

/// A key file as read: its key, or its public part and a sealed secret.
#[derive(Debug)]
pub enum KeyFile {
    Plain(SecretKey),
    Sealed(SealedKey),
}

/// A key file whose secret is sealed under a passphrase: its name and public key can be read,
/// its secret only with [`SealedKey::unseal`].
#[derive(Debug)]
pub struct SealedKey {
    path: PathBuf,
    pub name: Option<String>,
    pub public: PublicKey,
    /// The file's text before the `sealed:` line, which the seal authenticates.
    public_lines: String,
    sealed: Sealed,
}

impl SealedKey {
    /// The file it was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The key, if `passphrase` is the one the file was sealed under and the file is unchanged.
    pub fn unseal(&self, passphrase: &[u8]) -> Result<SecretKey, KeyError> {
        let wrong = || KeyError::WrongPassphrase {
            path: self.path.clone(),
        };
        let seed = self
            .sealed
            .open(passphrase, self.public_lines.as_bytes())
            .map_err(|reason| KeyError::NotAKeyFile {
                path: self.path.clone(),
                reason,
            })?
            .ok_or_else(wrong)?;
        let key = SecretKey::from_seed(*seed, self.name.clone());
        // The seal authenticates the public line, so only a file sealed by someone who knew the
        // passphrase can disagree with its own secret.
        if key.public() != self.public {
            return Err(KeyError::NotAKeyFile {
                path: self.path.clone(),
                reason: KeyFileProblem::PublicMismatch,
            });
        }
        Ok(key)
    }
}

impl KeyFile {
    /// Reads a key file, refusing one that group or others can read, one that is not a regular
    /// file, and one longer than a key file is.
    pub fn read(path: &Path) -> Result<KeyFile, KeyError> {
        use std::os::unix::fs::PermissionsExt;
        let read_err = |source| KeyError::Read {
            path: path.to_path_buf(),
            source,
        };
        let bytes = crate::regular::read(path, MAX_KEY_FILE_BYTES)
            .map(Zeroizing::new)
            .map_err(|e| match e {
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
        KeyFile::parse(path, &bytes).map_err(|reason| KeyError::NotAKeyFile {
            path: path.to_path_buf(),
            reason,
        })
    }

    fn parse(path: &Path, bytes: &[u8]) -> Result<KeyFile, KeyFileProblem> {
        let text = std::str::from_utf8(bytes).map_err(|_| KeyFileProblem::NotText)?;
        let mut lines = text.split_inclusive('\n');
        let header = lines.next().unwrap_or_default();
        if header.trim() != KEY_FILE_HEADER {
            return Err(KeyFileProblem::NoHeader);
        }
        let (mut name, mut public, mut secret, mut sealed) = (None, None, None, None);
        // Where the current line starts: the seal authenticates every byte before its line,
        // exactly as stored.
        let mut start = header.len();
        for line in lines {
            if sealed.is_some() && !line.trim().is_empty() {
                return Err(KeyFileProblem::SealedNotLast);
            }
            match line.split_once(':').map(|(k, v)| (k.trim(), v.trim())) {
                Some(("name", v)) => name = Some(v),
                Some(("public", v)) => public = Some(v),
                Some(("secret", v)) => secret = Some(v),
                Some(("sealed", v)) => sealed = Some((v, &text[..start])),
                _ if line.trim().is_empty() => {}
                _ => return Err(KeyFileProblem::UnknownLine),
            }
            start += line.len();
        }
        let name = name.map(str::to_string);
        match (secret, sealed) {
            (Some(_), Some(_)) => Err(KeyFileProblem::SecretAndSealed),
            (None, None) => Err(KeyFileProblem::NoSecret),
            (Some(secret), None) => {
                let mut seed = Zeroizing::new([0u8; 32]);
                hex::decode_to_slice(secret, seed.as_mut_slice())
                    .map_err(|_| KeyFileProblem::BadSecret)?;
                let key = SecretKey::from_seed(*seed, name);
                if let Some(public) = public {
                    if PublicKey::parse(public).ok() != Some(key.public()) {
                        return Err(KeyFileProblem::PublicMismatch);
                    }
                }
                Ok(KeyFile::Plain(key))
            }
            (None, Some((sealed, public_lines))) => {
                let public = public
                    .and_then(|public| PublicKey::parse(public).ok())
                    .ok_or(KeyFileProblem::SealedWithoutPublic)?;
                Ok(KeyFile::Sealed(SealedKey {
                    path: path.to_path_buf(),
                    name,
                    public,
                    public_lines: public_lines.to_string(),
                    sealed: Sealed::parse(sealed)?,
                }))
            }
        }
    }

    /// The file's public key, which a sealed file keeps in the clear.
    pub fn public(&self) -> PublicKey {
        match self {
            KeyFile::Plain(key) => key.public(),
            KeyFile::Sealed(sealed) => sealed.public,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSPHRASE: &[u8] = b"correct horse battery staple";

    fn key() -> SecretKey {
        SecretKey::from_seed([7; 32], Some("panel-admin".to_string()))
    }

    fn sealed_text() -> String {
        key()
            .sealed_file_text(PASSPHRASE, [1; seal::SALT_BYTES], [2; seal::NONCE_BYTES])
            .unwrap()
    }

    fn parse(text: &str) -> Result<KeyFile, KeyFileProblem> {
        KeyFile::parse(Path::new("test.key"), text.as_bytes())
    }

    fn sealed(text: &str) -> SealedKey {
        match parse(text).unwrap() {
            KeyFile::Sealed(sealed) => sealed,
            KeyFile::Plain(_) => panic!("a sealed file read as a plain one"),
        }
    }

    /// `text` with the first `from` replaced by `to`, which must change it.
    fn altered(text: &str, from: &str, to: &str) -> String {
        assert!(text.contains(from), "{from:?} is not in {text:?}");
        text.replacen(from, to, 1)
    }

    #[test]
    fn a_sealed_file_opens_with_its_passphrase_and_keeps_its_public_part_readable() {
        let text = sealed_text();
        assert!(
            !text.contains(&hex::encode([7u8; 32])),
            "the seed is in the clear"
        );
        let file = parse(&text).unwrap();
        assert_eq!(file.public(), key().public());
        let KeyFile::Sealed(sealed) = file else {
            panic!("a sealed file read as a plain one")
        };
        assert_eq!(sealed.name.as_deref(), Some("panel-admin"));
        let opened = sealed.unseal(PASSPHRASE).unwrap();
        assert_eq!(opened.public(), key().public());
        assert_eq!(opened.name.as_deref(), Some("panel-admin"));
        assert_eq!(opened.sign(b"m"), key().sign(b"m"));
    }

    #[test]
    fn a_plain_file_round_trips() {
        let file = parse(&key().file_text()).unwrap();
        let KeyFile::Plain(plain) = file else {
            panic!("a plain file read as a sealed one")
        };
        assert_eq!(plain.public(), key().public());
    }

    #[test]
    fn a_wrong_passphrase_is_refused_naming_the_file() {
        let err = sealed(&sealed_text())
            .unseal(b"correct horse battery stapler")
            .unwrap_err();
        assert!(
            matches!(err, KeyError::WrongPassphrase { ref path } if path == Path::new("test.key"))
        );
    }

    #[test]
    fn a_changed_byte_anywhere_in_a_sealed_file_stops_it_opening() {
        let text = sealed_text();
        let salt = hex::encode([1u8; seal::SALT_BYTES]);
        let nonce = hex::encode([2u8; seal::NONCE_BYTES]);
        let other_public = SecretKey::from_seed([8; 32], None).public().to_string();
        let sealed_hex = text.trim_end().rsplit(' ').next().unwrap();
        // The hex with its first digit changed.
        let flip = |hex: &str| {
            format!(
                "{}{}",
                if hex.starts_with('f') { "e" } else { "f" },
                &hex[1..]
            )
        };
        let changes = [
            altered(&text, &salt, &flip(&salt)),
            altered(&text, &nonce, &flip(&nonce)),
            altered(&text, sealed_hex, &flip(sealed_hex)),
            altered(&text, &key().public().to_string(), &other_public),
            altered(&text, "name: panel-admin", "name: someone-else"),
            altered(&text, "name: panel-admin\n", ""),
            altered(&text, "name: panel-admin", "name:  panel-admin"),
        ];
        for changed in changes {
            let err = sealed(&changed).unseal(PASSPHRASE).unwrap_err();
            assert!(
                matches!(err, KeyError::WrongPassphrase { .. }),
                "{changed:?}: {err}"
            );
        }
    }

    #[test]
    fn malformed_sealed_files_are_refused_before_any_passphrase() {
        let text = sealed_text();
        let sealed_line = text.lines().last().unwrap();
        let cases = [
            (altered(&text, "ln=17", "ln=30"), KeyFileProblem::Cost),
            (altered(&text, "ln=17", "ln=9"), KeyFileProblem::Cost),
            (altered(&text, "r=8", "r=1"), KeyFileProblem::BadSealed),
            (
                altered(&text, "scrypt", "argon2"),
                KeyFileProblem::BadSealed,
            ),
            (
                altered(&text, sealed_line, &sealed_line[..sealed_line.len() - 2]),
                KeyFileProblem::BadSealed,
            ),
            (format!("{text}name: late\n"), KeyFileProblem::SealedNotLast),
            (
                format!("{text}secret: {}\n", hex::encode([7u8; 32])),
                KeyFileProblem::SealedNotLast,
            ),
            (
                altered(&text, "public:", "secret: 00\npublic:"),
                KeyFileProblem::SecretAndSealed,
            ),
            (
                altered(&text, &format!("public: {}\n", key().public()), ""),
                KeyFileProblem::SealedWithoutPublic,
            ),
        ];
        for (text, problem) in cases {
            assert_eq!(parse(&text).unwrap_err(), problem, "{text:?}");
        }
    }

    #[test]
    fn an_empty_passphrase_seals_nothing() {
        let err = key().sealed_file_text(b"", [1; 16], [2; 12]).unwrap_err();
        assert!(matches!(err, KeyError::EmptyPassphrase));
    }

    #[test]
    fn debug_output_shows_no_secret() {
        let shown = format!("{:?} {:?}", key(), parse(&key().file_text()).unwrap());
        assert!(shown.contains(&key().public().to_string()), "{shown}");
        assert!(!shown.contains(&hex::encode([7u8; 32])), "{shown}");
        assert!(!shown.contains("[7, 7"), "{shown}");
    }

    /// The known-answer vector of docs/FORMAT.md: from a passphrase, a seed, a salt and a nonce,
    /// the scrypt key and the key file's exact text. After a deliberate format change,
    /// regenerate it with `LEDGER_BLESS_VECTORS=1 cargo test --lib keys::`.
    #[test]
    fn the_sealed_key_file_vector_is_reproduced() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors/key_file.json");
        let seed = [0x42u8; 32];
        let key = SecretKey::from_seed(seed, Some("panel-admin".to_string()));
        let (salt, nonce) = ([0x5au8; seal::SALT_BYTES], [0xa5u8; seal::NONCE_BYTES]);
        let mut derived = [0u8; 32];
        let params = scrypt::Params::new(seal::LOG_N, 8, 1, 32).unwrap();
        scrypt::scrypt(PASSPHRASE, &salt, &params, &mut derived).unwrap();
        let text = key.sealed_file_text(PASSPHRASE, salt, nonce).unwrap();
        let vector = serde_json::json!({
            "description": "A secret key file sealed under a passphrase (docs/FORMAT.md, Secret key files).",
            "passphrase_utf8": std::str::from_utf8(PASSPHRASE).unwrap(),
            "seed_hex": hex::encode(seed),
            "name": "panel-admin",
            "public_key": key.public().to_string(),
            "scrypt": {"log_n": seal::LOG_N, "r": 8, "p": 1, "salt_hex": hex::encode(salt), "key_hex": hex::encode(derived)},
            "nonce_hex": hex::encode(nonce),
            "associated_data_utf8": key.public_lines(),
            "file_text": text,
        });
        let expected = format!("{}\n", serde_json::to_string_pretty(&vector).unwrap());
        if std::env::var_os("LEDGER_BLESS_VECTORS").is_some() {
            std::fs::write(&path, &expected).unwrap();
        }
        let stored = std::fs::read_to_string(&path).unwrap();
        assert_eq!(stored, expected, "{} differs from the code", path.display());
        let opened = sealed(&text).unseal(PASSPHRASE).unwrap();
        assert_eq!(opened.public(), key.public());
    }
}
