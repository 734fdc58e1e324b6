//! Entry decoding (docs/FORMAT.md section 3): never a panic, and decoding is one-to-one: what
//! decodes encodes back to exactly the bytes it came from.
#![no_main]
use ledger::entry::{Entry, EntryRef};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(entry) = EntryRef::decode(data) {
        assert_eq!(entry.to_owned().encode(), data);
        let _ = entry.batch_root();
    }
    let _ = Entry::decode(data);
});
