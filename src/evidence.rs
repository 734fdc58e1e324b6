//! Anchoring evidence files by hash: BLAKE3 and SHA-256 of a file's bytes, its size and a media
//! type guessed from its name; and checking a file against what was anchored (FRE 902(14)'s
//! hash comparison). The file itself is never stored in the ledger; only the
//! `evidence.anchored` statement that names its hashes is.

use crate::payload::{EvidenceAnchored, Payload};
use crate::projection::{Cell, Table};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::Path;

pub struct FileDigest {
    pub blake3: String,
    pub sha256: String,
    pub bytes: u64,
}

/// Hashes a file in one streaming pass; only a regular file (a FIFO or a device is refused
/// rather than read, maybe forever).
pub fn digest_file(path: &Path) -> Result<FileDigest, crate::regular::OpenError> {
    let (mut file, _) = crate::regular::open(path)?;
    let (mut b3, mut sha, mut bytes) = (blake3::Hasher::new(), Sha256::new(), 0u64);
    let mut buffer = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buffer)?;
        if n == 0 {
            break;
        }
        b3.update(&buffer[..n]);
        sha.update(&buffer[..n]);
        bytes += n as u64;
    }
    Ok(FileDigest {
        blake3: b3.finalize().to_hex().to_string(),
        sha256: hex::encode(sha.finalize()),
        bytes,
    })
}

/// A media type from a file name's extension; `application/octet-stream` when unknown.
pub fn guess_media_type(path: &Path) -> &'static str {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    match ext.as_str() {
        "pdf" => "application/pdf",
        "txt" | "md" => "text/plain",
        "csv" => "text/csv",
        "json" => "application/json",
        "html" | "htm" => "text/html",
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "gif" => "image/gif",
        "tif" | "tiff" => "image/tiff",
        "webp" => "image/webp",
        "mp4" => "video/mp4",
        "mov" => "video/quicktime",
        "mp3" => "audio/mpeg",
        "wav" => "audio/wav",
        "ogg" => "audio/ogg",
        "zip" => "application/zip",
        _ => "application/octet-stream",
    }
}

/// Optional facts about a piece of evidence that only a person can give.
#[derive(Default)]
pub struct Provenance {
    pub media_type: Option<String>,
    pub captured_at: Option<String>,
    pub custody_note: Option<String>,
    pub source_url: Option<String>,
    pub capture_method: Option<String>,
    pub capture_tool: Option<String>,
    /// The SHA-256 hashes of the files this one was converted or extracted from.
    pub derived_from: Vec<String>,
}

/// The `evidence.anchored` payload for a file.
pub fn anchor_payload(
    incident_id: &str,
    path: &Path,
    provenance: Provenance,
) -> Result<Payload<'static>, crate::regular::OpenError> {
    let digest = digest_file(path)?;
    let filename = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let media_type = provenance
        .media_type
        .unwrap_or_else(|| guess_media_type(path).to_string());
    Ok(Payload::EvidenceAnchored(EvidenceAnchored {
        incident_id: incident_id.to_string().into(),
        blake3: digest.blake3.into(),
        sha256: digest.sha256.into(),
        bytes: digest.bytes,
        media_type: media_type.into(),
        filename: filename.into(),
        captured_at: provenance.captured_at.map(Into::into),
        custody_note: provenance.custody_note.map(Into::into),
        source_url: provenance.source_url.map(Into::into),
        capture_method: provenance.capture_method.map(Into::into),
        capture_tool: provenance.capture_tool.map(Into::into),
        derived_from: (!provenance.derived_from.is_empty()).then(|| {
            provenance
                .derived_from
                .into_iter()
                .map(Into::into)
                .collect()
        }),
    }))
}

/// One anchoring of an evidence file, as the `evidence` view lists it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Anchoring {
    pub incident_id: String,
    pub filename: String,
    pub anchored_seq: Option<u64>,
    pub anchored_by: String,
    pub anchored_at: String,
}

/// The anchorings in `evidence` (the `evidence` view's table) of a file with `digest`: those
/// whose SHA-256 and BLAKE3 both equal the file's, so that a collision in one hash alone does
/// not pass.
pub fn anchorings_of(evidence: &Table, digest: &FileDigest) -> Vec<Anchoring> {
    let column = |name: &str| evidence.columns.iter().position(|c| *c == name);
    let text = |row: &[Cell], name: &str| match column(name).and_then(|i| row.get(i)) {
        Some(Cell::Text(text)) => text.clone(),
        _ => String::new(),
    };
    let seq = |row: &[Cell]| match column("anchored_seq").and_then(|i| row.get(i)) {
        Some(Cell::Int(seq)) => u64::try_from(*seq).ok(),
        _ => None,
    };
    evidence
        .rows
        .iter()
        .filter(|row| text(row, "sha256") == digest.sha256 && text(row, "blake3") == digest.blake3)
        .map(|row| Anchoring {
            incident_id: text(row, "incident_id"),
            filename: text(row, "filename"),
            anchored_seq: seq(row),
            anchored_by: text(row, "anchored_by"),
            anchored_at: text(row, "anchored_at"),
        })
        .collect()
}
