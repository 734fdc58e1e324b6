//! The log's framing (docs/FORMAT.md, "The log files"): whatever bytes a segment file holds and
//! whatever size and end its head claims, opening and reading the log ends without a panic, and
//! reads what the head covers or names the damage. The head is built valid here (its check hash
//! would otherwise stop every input at the first step): the fuzzer chooses the seq it claims and
//! how far short of the file's end it says the entries stop.
#![no_main]
use ledger::entry::EntryRef;
use ledger::log::files::LogFiles;
use ledger::log::mem::MemFiles;
use ledger::log::{Durable, Head, Log};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let [claimed_seq, cut, segment @ ..] = data else { return };
    let files = MemFiles::new();
    files.set_segment(0, segment.to_vec());
    let durable = Durable {
        head: Head {
            seq: u64::from(*claimed_seq),
            hash: [0; 32],
            recorded_at: 0,
        },
        segment_end: segment.len().saturating_sub(usize::from(*cut)) as u64,
    };
    files
        .replace_head(&durable.encode())
        .expect("memory files take a head");
    let Ok(log) = Log::open(files) else { return };
    // Every seq up to the claimed head either reads or is an error; none reads past it.
    let mut read = 0u64;
    for (seq, bytes) in log.entries(0).flatten() {
        assert!(seq <= u64::from(*claimed_seq));
        let _ = EntryRef::decode(&bytes);
        read += 1;
    }
    assert!(read <= durable.size());
    let _ = log.entry(u64::from(*claimed_seq) / 2);
});
