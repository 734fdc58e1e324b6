//! Key files: whatever a file holds, loading it is a key or an error, never a panic.
#![no_main]
use ledger::keys::SecretKey;
use libfuzzer_sys::fuzz_target;
use std::os::unix::fs::PermissionsExt;

fuzz_target!(|data: &[u8]| {
    let dir = std::env::temp_dir().join(format!("ledger-fuzz-key-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join("fuzz.key");
    if std::fs::write(&path, data).is_err() {
        return;
    }
    let _ = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600));
    let _ = SecretKey::load(&path);
});
