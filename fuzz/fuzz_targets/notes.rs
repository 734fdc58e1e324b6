//! The transparency texts an auditor is handed: signed notes, checkpoints, policies, receipts,
//! proofs and verifier keys. Never a panic; what parses as a note prints back to its bytes.
#![no_main]
use ledger::note::checkpoint::Checkpoint;
use ledger::note::policy::Policy;
use ledger::note::receipt::Receipt;
use ledger::note::signed::Note;
use ledger::note::vkey::VerifierKey;
use ledger::tree::proof::Proof;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(note) = Note::parse(data) {
        assert_eq!(note.to_string().as_bytes(), data);
        let _ = Checkpoint::parse_text(note.text());
    }
    let _ = Policy::parse(data);
    let _ = Receipt::parse(data);
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = Proof::parse(text);
        let _ = VerifierKey::parse(text);
    }
});
