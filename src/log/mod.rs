//! The log: the canonical entry bytes in append-only segment files of our own, and the one
//! durable head that says where they end (docs/FORMAT.md, "The log files"). This is the only
//! home of the ledger's truth; everything else is derived from it.
//!
//! Each segment holds [`SEGMENT_ENTRIES`] entries, each framed as in a C2SP tlog-tiles entry
//! bundle (a big-endian `u16` length, then the entry bytes). An append writes its entries past
//! the head, makes them durable, then replaces the head file: that replacement is the commit
//! point. Anything past the head is an unacknowledged tail: readers never see it and the next
//! writer cuts it off. Readers take no lock: they read up to the head they saw when they opened.
//!
//! The log checks framing only (lengths, that a record starts with the entry tag, that the files
//! reach the head). It never judges an entry's contents: that is [`crate::verify`]'s. It never
//! repairs damage before the head; it reports it with the seqs it affects.

pub mod files;
mod lookup;
pub mod mem;

pub use files::{DirFiles, LogFiles};
pub use lookup::Lookup;

use crate::entry::{ENTRY_TAG, MAX_ENTRY_BYTES};
use crate::merkle::Hash;
use std::ops::{Deref, Range};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// Entries per segment file: 64 tlog-tiles bundles of 256, so that a bundle never spans two files.
pub const SEGMENT_ENTRIES: u64 = 16_384;
pub const HEAD_TAG: &[u8] = b"ledger/head\0";
pub const HEAD_VERSION: u8 = 1;
/// The head file's length: tag, version, size, hash, recorded_at, segment end, check.
pub const HEAD_LEN: usize = 12 + 1 + 8 + 32 + 8 + 8 + 32;
/// Bytes read from a segment file at a time: few, so that the buffers a reader's live entries
/// keep from reuse (see `Entries::spare`) hold a few megabytes, not tens (`project regions` at
/// 100,000 entries peaked at 74 MB with 4 MiB reads and the engine's batches of 4,096, at 52 MB
/// with 1 MiB and 1,024).
const READ_CHUNK: usize = 1 << 20;
/// The first read of a segment: enough for the entries near where reading starts, so that a
/// reader of one entry (`show`, a cache's check) does not read megabytes; later reads double up
/// to [`READ_CHUNK`].
const FIRST_READ: usize = 64 << 10;
/// Shared read buffers a reader keeps for reuse: enough for a reader that holds two batches of
/// entries while it reads the next.
const MAX_SPARE: usize = 4;
/// Bytes of framed entries an appender gathers before writing them.
const WRITE_CHUNK: usize = 1 << 20;

/// The last entry: its seq, its hash and the ledger clock when it was recorded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Head {
    pub seq: u64,
    pub hash: Hash,
    pub recorded_at: i64,
}

/// The head file's contents: the head, and where the last entry ends in its segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Durable {
    pub head: Head,
    /// The byte length of the last segment's entries up to and including the head.
    pub segment_end: u64,
}

impl Durable {
    /// The number of entries.
    pub fn size(&self) -> u64 {
        self.head.seq + 1
    }

    /// The head file's bytes (docs/FORMAT.md, "The head file").
    pub fn encode(&self) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(HEAD_LEN);
        bytes.extend_from_slice(HEAD_TAG);
        bytes.push(HEAD_VERSION);
        bytes.extend_from_slice(&self.size().to_be_bytes());
        bytes.extend_from_slice(&self.head.hash);
        bytes.extend_from_slice(&self.head.recorded_at.to_be_bytes());
        bytes.extend_from_slice(&self.segment_end.to_be_bytes());
        let check = blake3::hash(&bytes);
        bytes.extend_from_slice(check.as_bytes());
        bytes
    }

    pub fn decode(bytes: &[u8]) -> Result<Durable, String> {
        if bytes.len() != HEAD_LEN {
            return Err(format!("it is {} bytes long, not {HEAD_LEN}", bytes.len()));
        }
        let (body, check) = bytes.split_at(HEAD_LEN - 32);
        if blake3::hash(body).as_bytes() != check {
            return Err("its check hash does not match its contents".into());
        }
        if !body.starts_with(HEAD_TAG) {
            return Err("it does not start with the head tag".into());
        }
        let version = body[HEAD_TAG.len()];
        if version != HEAD_VERSION {
            return Err(format!(
                "it has format version {version}, and this build reads version {HEAD_VERSION}"
            ));
        }
        let field = |at: usize| -> [u8; 8] {
            let mut out = [0; 8];
            out.copy_from_slice(&body[at..at + 8]);
            out
        };
        let at = HEAD_TAG.len() + 1;
        let size = u64::from_be_bytes(field(at));
        let mut hash = [0; 32];
        hash.copy_from_slice(&body[at + 8..at + 40]);
        let recorded_at = i64::from_be_bytes(field(at + 40));
        let segment_end = u64::from_be_bytes(field(at + 48));
        let Some(seq) = size.checked_sub(1) else {
            return Err("it says the log holds no entries".into());
        };
        Ok(Durable {
            head: Head {
                seq,
                hash,
                recorded_at,
            },
            segment_end,
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("I/O error on {file}")]
    Io {
        file: String,
        #[source]
        source: std::io::Error,
    },
    #[error("the entry for seq {seq} is {len} bytes, over the {MAX_ENTRY_BYTES} the log's files can frame")]
    TooLong { seq: u64, len: usize },
    #[error("the log's head file {file} is damaged: {reason}")]
    Head { file: String, reason: String },
    #[error("{}: {reason}", seqs(*first, *last))]
    Damaged {
        file: String,
        first: u64,
        last: u64,
        reason: String,
    },
}

/// "seq 5" or "seqs 5 to 9".
pub fn seqs(first: u64, last: u64) -> String {
    if first == last {
        format!("seq {first}")
    } else {
        format!("seqs {first} to {last}")
    }
}

impl LogError {
    /// The seqs a damaged file makes unreadable.
    pub fn damaged_seqs(&self) -> Option<(u64, u64)> {
        match self {
            LogError::Damaged { first, last, .. } => Some((*first, *last)),
            _ => None,
        }
    }
}

/// An entry's bytes as read from the log: a slice of the read buffer they came in, shared
/// rather than copied (in a profile of `project regions`, copying each entry into an
/// allocation of its own was a tenth of the samples). The buffer lives while any of its entries does, so a
/// holder that keeps entries for long copies them out ([`StoredBytes::into_vec`]).
#[derive(Clone)]
pub struct StoredBytes {
    chunk: Arc<Vec<u8>>,
    range: Range<usize>,
}

impl StoredBytes {
    pub fn into_vec(self) -> Vec<u8> {
        let whole = self.range == (0..self.chunk.len());
        match Arc::try_unwrap(self.chunk) {
            Ok(bytes) if whole => bytes,
            Ok(bytes) => bytes[self.range].to_vec(),
            Err(chunk) => chunk[self.range].to_vec(),
        }
    }
}

/// Entry bytes read from elsewhere (a backup, an old ledger) on their way into the log.
impl From<Vec<u8>> for StoredBytes {
    fn from(bytes: Vec<u8>) -> Self {
        StoredBytes {
            range: 0..bytes.len(),
            chunk: Arc::new(bytes),
        }
    }
}

impl Deref for StoredBytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.chunk[self.range.clone()]
    }
}

pub type LogResult<T> = Result<T, LogError>;

/// The log as of one durable head.
pub struct Log<F: LogFiles> {
    files: F,
    durable: Mutex<Option<Durable>>,
    /// Held by the one append in progress.
    appending: Mutex<()>,
}

impl<F: LogFiles> Log<F> {
    /// Opens the log at the head its files hold now (none for a log not yet committed to).
    pub fn open(files: F) -> LogResult<Log<F>> {
        let durable = match files.read_head() {
            Ok(None) => None,
            Ok(Some(bytes)) => Some(Durable::decode(&bytes).map_err(|reason| LogError::Head {
                file: files.name(None),
                reason,
            })?),
            Err(source) => {
                return Err(LogError::Io {
                    file: files.name(None),
                    source,
                })
            }
        };
        Ok(Log {
            files,
            durable: Mutex::new(durable),
            appending: Mutex::new(()),
        })
    }

    pub fn files(&self) -> &F {
        &self.files
    }

    pub fn head(&self) -> Option<Head> {
        self.durable().map(|d| d.head)
    }

    pub fn durable(&self) -> Option<Durable> {
        *self.durable.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The number of entries up to the head.
    pub fn size(&self) -> u64 {
        self.durable().map_or(0, |d| d.size())
    }

    /// Entries in seq order from `from` up to the head. A damaged stretch of a segment file is
    /// one error naming its seqs, after which reading goes on with the next segment.
    pub fn entries(&self, from: u64) -> Entries<'_, F> {
        Entries {
            files: &self.files,
            durable: self.durable(),
            next: from,
            segment: None,
            offset: 0,
            buf: Arc::new(Vec::new()),
            spare: Vec::new(),
            filled: 0,
            buf_start: 0,
            skip_to: from,
        }
    }

    /// The bytes of the entry at `seq`, if the log reaches it.
    pub fn entry(&self, seq: u64) -> LogResult<Option<StoredBytes>> {
        match self.entries(seq).next() {
            None => Ok(None),
            Some(item) => item.map(|(_, bytes)| Some(bytes)),
        }
    }

    /// Cuts the log's files back to `offset` bytes of `segment` (now `len` bytes long) and no
    /// later segment: what an append wrote past the head goes.
    fn cut_back(&self, segment: u64, offset: u64, len: u64) -> LogResult<()> {
        let io = |segment, source| LogError::Io {
            file: self.files.name(Some(segment)),
            source,
        };
        if len > offset {
            self.files
                .truncate(segment, offset)
                .map_err(|e| io(segment, e))?;
        }
        let mut later = segment + 1;
        while self
            .files
            .segment_len(later)
            .map_err(|e| io(later, e))?
            .is_some()
        {
            self.files.remove(later).map_err(|e| io(later, e))?;
            later += 1;
        }
        Ok(())
    }

    /// Starts an append after the head, first cutting off any unacknowledged tail that an
    /// interrupted append left behind.
    pub fn appender(&self) -> LogResult<Appender<'_, F>> {
        let guard = self
            .appending
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let durable = self.durable();
        let (segment, offset) = match durable {
            Some(d) => (d.head.seq / SEGMENT_ENTRIES, d.segment_end),
            None => (0, 0),
        };
        let io = |segment, source| LogError::Io {
            file: self.files.name(Some(segment)),
            source,
        };
        let len = self
            .files
            .segment_len(segment)
            .map_err(|e| io(segment, e))?
            .unwrap_or(0);
        if len < offset {
            // Appending here would leave a gap where acknowledged entries were.
            let last = durable.map_or(0, |d| d.head.seq);
            return Err(LogError::Damaged {
                file: self.files.name(Some(segment)),
                first: last,
                last,
                reason: format!(
                    "the file is {len} bytes long, but the log's head says its entries end at byte {offset}"
                ),
            });
        }
        self.cut_back(segment, offset, len)?;
        let next = durable.map_or(0, |d| d.size());
        Ok(Appender {
            log: self,
            _appending: guard,
            start: (segment, offset),
            committed: false,
            next,
            segment,
            offset,
            pending: Vec::with_capacity(WRITE_CHUNK + 2 + MAX_ENTRY_BYTES),
            touched: Vec::new(),
        })
    }
}

/// Reads entries from the segment files, in order.
pub struct Entries<'a, F: LogFiles> {
    files: &'a F,
    durable: Option<Durable>,
    next: u64,
    /// The segment being read, if one is.
    segment: Option<u64>,
    /// Where the next record starts in that segment.
    offset: u64,
    /// Shared with the entries read from it; refilled in place once none of them is left.
    buf: Arc<Vec<u8>>,
    /// Buffers given up while entries still shared them, taken up again once those entries are
    /// dropped: a reader whose entries live a little while (the fold engine keeps a batch or two)
    /// then reads into memory it has already faulted in, where a fresh buffer for every chunk
    /// was zeroed twice (by the allocator's memset and the kernel's page faults) and cost a
    /// sixth of `project regions` in a profile.
    spare: Vec<Arc<Vec<u8>>>,
    /// How many bytes at the front of `buf` were read from the file.
    filled: usize,
    /// The segment offset of `buf[0]`.
    buf_start: u64,
    /// Records before this seq are passed over without being copied.
    skip_to: u64,
}

impl<F: LogFiles> Entries<'_, F> {
    fn size(&self) -> u64 {
        self.durable.map_or(0, |d| d.size())
    }

    /// The last seq of the segment holding `seq` that the head reaches.
    fn segment_last(&self, seq: u64) -> u64 {
        ((seq / SEGMENT_ENTRIES + 1) * SEGMENT_ENTRIES).min(self.size()) - 1
    }

    /// Makes `n` bytes from `self.offset` available in the buffer; fewer only at the file's end.
    /// Returns where they are in the buffer.
    fn fill(&mut self, segment: u64, n: usize) -> std::io::Result<std::ops::Range<usize>> {
        let start = usize::try_from(self.offset - self.buf_start).unwrap_or(usize::MAX);
        if start + n > self.filled {
            // Keep the unread bytes, at the front of a buffer whose length never shrinks: a
            // buffer is zeroed only when it grows.
            let unread = start.min(self.filled)..self.filled;
            let kept = unread.len();
            let want = n.max((2 * self.buf.len()).clamp(FIRST_READ, READ_CHUNK));
            if Arc::get_mut(&mut self.buf).is_some() {
                Arc::make_mut(&mut self.buf).copy_within(unread, 0);
            } else {
                // Entries still share this buffer: read on in a spare one that none shares.
                let free = self.spare.iter().position(|b| Arc::strong_count(b) == 1);
                let next = free.map_or_else(Arc::default, |i| self.spare.swap_remove(i));
                let shared = std::mem::replace(&mut self.buf, next);
                // Unique now, so this neither copies nor clones.
                let buf = Arc::make_mut(&mut self.buf);
                if buf.len() < kept {
                    buf.resize(kept, 0);
                }
                buf[..kept].copy_from_slice(&shared[unread]);
                if self.spare.len() == MAX_SPARE {
                    self.spare.remove(0);
                }
                self.spare.push(shared);
            }
            let buf = Arc::make_mut(&mut self.buf);
            if buf.len() < want {
                buf.resize(want, 0);
            }
            self.filled = kept;
            self.buf_start = self.offset;
            while self.filled < n {
                let read = self.files.read_at(
                    segment,
                    self.buf_start + self.filled as u64,
                    &mut buf[self.filled..],
                )?;
                if read == 0 {
                    break;
                }
                self.filled += read;
            }
        }
        let start = usize::try_from(self.offset - self.buf_start).unwrap_or(usize::MAX);
        let end = (start + n).min(self.filled);
        Ok(start.min(end)..end)
    }

    /// Gives up on the rest of the current segment: the error names the seqs lost.
    fn damaged(&mut self, segment: u64, reason: String) -> LogError {
        let last = self.segment_last(self.next);
        // Damage among the records read past on the way to `skip_to` is reported from there.
        let first = self.next.max(self.skip_to).min(last);
        self.next = last + 1;
        self.skip_to = self.skip_to.max(self.next);
        LogError::Damaged {
            file: self.files.name(Some(segment)),
            first,
            last,
            reason,
        }
    }

    /// The next record of the current segment, or why it cannot be read.
    fn record(&mut self, segment: u64) -> Result<Option<StoredBytes>, LogError> {
        let files = self.files;
        let io = |source| LogError::Io {
            file: files.name(Some(segment)),
            source,
        };
        let header = self.fill(segment, 2).map_err(io)?;
        let header = &self.buf[header];
        if header.len() < 2 {
            let reason = if self.offset == 0 {
                "the file is missing or empty, but the log's head counts entries in it".to_string()
            } else {
                format!(
                    "the file ends at byte {}, before the entries the log's head counts",
                    self.offset
                )
            };
            return Err(self.damaged(segment, reason));
        }
        let len = usize::from(u16::from_be_bytes([header[0], header[1]]));
        if len == 0 {
            let reason = format!("the record at byte {} has length 0", self.offset);
            return Err(self.damaged(segment, reason));
        }
        let at = self.offset;
        self.offset += 2;
        let body_at = self.fill(segment, len).map_err(io)?;
        let body = &self.buf[body_at.clone()];
        if body.len() < len {
            let got = body.len();
            let reason = format!(
                "the record at byte {at} should be {len} bytes but the file ends after {got}"
            );
            return Err(self.damaged(segment, reason));
        }
        if !body.starts_with(ENTRY_TAG) {
            let reason = format!(
                "the record at byte {at} is not an entry (it does not start with the entry tag): the file's framing is lost from there"
            );
            return Err(self.damaged(segment, reason));
        }
        let kept = (self.next >= self.skip_to).then(|| StoredBytes {
            chunk: Arc::clone(&self.buf),
            range: body_at,
        });
        self.offset += len as u64;
        Ok(kept)
    }
}

impl<F: LogFiles> Iterator for Entries<'_, F> {
    type Item = LogResult<(u64, StoredBytes)>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let durable = self.durable?;
            if self.next >= durable.size() {
                return None;
            }
            let segment = self.next / SEGMENT_ENTRIES;
            if self.segment != Some(segment) {
                self.segment = Some(segment);
                self.offset = 0;
                self.filled = 0;
                self.buf_start = 0;
                // Records before `skip_to` in this segment are read past, not kept.
                let first = segment * SEGMENT_ENTRIES;
                if self.next > first {
                    self.skip_to = self.skip_to.max(self.next);
                    self.next = first;
                }
            }
            match self.record(segment) {
                Err(e) => return Some(Err(e)),
                Ok(bytes) => {
                    let seq = self.next;
                    self.next += 1;
                    if seq == durable.head.seq && self.offset != durable.segment_end {
                        let file = self.files.name(Some(segment));
                        let reason = format!(
                            "the last entry ends at byte {} of its file, but the log's head says {}",
                            self.offset, durable.segment_end
                        );
                        return Some(Err(LogError::Damaged {
                            file,
                            first: seq,
                            last: seq,
                            reason,
                        }));
                    }
                    if let Some(bytes) = bytes {
                        return Some(Ok((seq, bytes)));
                    }
                }
            }
        }
    }
}

/// An append in progress: entries written past the head, committed or abandoned.
pub struct Appender<'a, F: LogFiles> {
    log: &'a Log<F>,
    _appending: MutexGuard<'a, ()>,
    /// The segment and offset where this append began: what an abandoned append cuts back to.
    start: (u64, u64),
    committed: bool,
    /// The seq the next pushed entry gets.
    next: u64,
    segment: u64,
    /// Where the next record goes in `segment`, counting `pending`.
    offset: u64,
    /// Framed entries not yet written.
    pending: Vec<u8>,
    touched: Vec<u64>,
}

impl<F: LogFiles> Appender<'_, F> {
    /// The seq the next entry gets.
    pub fn next_seq(&self) -> u64 {
        self.next
    }

    fn io(&self, segment: u64, source: std::io::Error) -> LogError {
        LogError::Io {
            file: self.log.files.name(Some(segment)),
            source,
        }
    }

    fn write_pending(&mut self) -> LogResult<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let at = self.offset - self.pending.len() as u64;
        self.log
            .files
            .write_at(self.segment, at, &self.pending)
            .map_err(|e| self.io(self.segment, e))?;
        self.pending.clear();
        Ok(())
    }

    /// Adds the next entry; one over [`MAX_ENTRY_BYTES`] is refused.
    pub fn push(&mut self, bytes: &[u8]) -> LogResult<()> {
        let segment = self.next / SEGMENT_ENTRIES;
        if segment != self.segment || self.touched.is_empty() {
            if segment != self.segment {
                self.write_pending()?;
                self.segment = segment;
                self.offset = 0;
            }
            self.touched.push(segment);
        }
        let len = u16::try_from(bytes.len()).map_err(|_| LogError::TooLong {
            seq: self.next,
            len: bytes.len(),
        })?;
        self.pending.extend_from_slice(&len.to_be_bytes());
        self.pending.extend_from_slice(bytes);
        self.offset += 2 + bytes.len() as u64;
        self.next += 1;
        if self.pending.len() >= WRITE_CHUNK {
            self.write_pending()?;
        }
        Ok(())
    }

    /// The commit point: makes every pushed entry durable, then the new head. Returns the new
    /// head; on error nothing is acknowledged, and what was written is a tail the next append
    /// cuts off.
    pub fn commit(mut self, head: Head) -> LogResult<Durable> {
        debug_assert_eq!(head.seq + 1, self.next);
        self.write_pending()?;
        // `touched` stays as it is, so that should the commit fail, `drop` knows what to cut off.
        for &segment in &self.touched {
            self.log
                .files
                .sync(segment)
                .map_err(|e| self.io(segment, e))?;
        }
        let durable = Durable {
            head,
            segment_end: self.offset,
        };
        self.log
            .files
            .replace_head(&durable.encode())
            .map_err(|source| LogError::Io {
                file: self.log.files.name(None),
                source,
            })?;
        *self
            .log
            .durable
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(durable);
        self.committed = true;
        Ok(durable)
    }
}

/// An append that ends without its commit leaves the files as they were: what it wrote past the
/// head is cut off now (and, should that fail, by the next append).
impl<F: LogFiles> Drop for Appender<'_, F> {
    fn drop(&mut self) {
        if self.committed || (self.touched.is_empty() && self.pending.is_empty()) {
            return;
        }
        let (segment, offset) = self.start;
        let len = self
            .log
            .files
            .segment_len(segment)
            .ok()
            .flatten()
            .unwrap_or(0);
        // Should this fail too, the next append cuts the tail off before it writes.
        let _ = self.log.cut_back(segment, offset, len);
    }
}

#[cfg(test)]
mod tests {
    use super::mem::MemFiles;
    use super::*;

    fn entry(n: u64, len: usize) -> Vec<u8> {
        let mut bytes = ENTRY_TAG.to_vec();
        bytes.extend_from_slice(&n.to_be_bytes());
        bytes.resize(len.max(bytes.len()), b'x');
        bytes
    }

    fn head(seq: u64) -> Head {
        Head {
            seq,
            hash: [seq as u8; 32],
            recorded_at: 0,
        }
    }

    fn append(log: &Log<MemFiles>, from: u64, n: u64) -> Durable {
        let mut appender = log.appender().unwrap();
        for i in from..from + n {
            appender.push(&entry(i, 30 + (i % 7) as usize)).unwrap();
        }
        appender.commit(head(from + n - 1)).unwrap()
    }

    fn all(log: &Log<MemFiles>, from: u64) -> Vec<LogResult<(u64, StoredBytes)>> {
        log.entries(from).collect()
    }

    #[test]
    fn entries_read_back_across_segments_from_any_seq() {
        let files = MemFiles::new();
        let log = Log::open(files.clone()).unwrap();
        append(&log, 0, SEGMENT_ENTRIES + 10);
        append(&log, SEGMENT_ENTRIES + 10, 5);
        let log = Log::open(files).unwrap();
        assert_eq!(log.size(), SEGMENT_ENTRIES + 15);
        for from in [
            0,
            1,
            SEGMENT_ENTRIES - 1,
            SEGMENT_ENTRIES,
            SEGMENT_ENTRIES + 14,
        ] {
            let read = all(&log, from);
            assert_eq!(read.len() as u64, SEGMENT_ENTRIES + 15 - from);
            let (seq, bytes) = read[0].as_ref().unwrap();
            assert_eq!(
                (*seq, &bytes[..]),
                (from, &entry(from, 30 + (from % 7) as usize)[..])
            );
        }
        assert!(log.entry(SEGMENT_ENTRIES + 15).unwrap().is_none());
    }

    #[test]
    fn an_uncommitted_append_is_invisible_and_cut_off_by_the_next() {
        let files = MemFiles::new();
        let log = Log::open(files.clone()).unwrap();
        append(&log, 0, 3);
        let before = files.snapshot();
        let mut appender = log.appender().unwrap();
        for i in 3..SEGMENT_ENTRIES + 3 {
            appender.push(&entry(i, 100)).unwrap();
        }
        let crashed = files.after_crash_keeping_writes();
        assert_eq!(all(&Log::open(crashed.clone()).unwrap(), 0).len(), 3);
        drop(appender);
        assert_eq!(files.snapshot(), before, "an abandoned append is cut off");
        drop(Log::open(crashed.clone()).unwrap().appender().unwrap());
        assert_eq!(
            crashed.snapshot(),
            before,
            "a crashed one by the next append"
        );
    }

    #[test]
    fn a_file_cut_before_the_head_names_the_lost_seqs_and_reading_goes_on() {
        let files = MemFiles::new();
        let log = Log::open(files.clone()).unwrap();
        append(&log, 0, SEGMENT_ENTRIES + 4);
        let mut first = files.segment(0).unwrap();
        first.truncate(first.len() - 10);
        files.set_segment(0, first);
        let read = all(&Log::open(files).unwrap(), 0);
        let damaged: Vec<(u64, u64)> = read
            .iter()
            .filter_map(|r| r.as_ref().err().and_then(LogError::damaged_seqs))
            .collect();
        assert_eq!(
            damaged,
            [(SEGMENT_ENTRIES - 1, SEGMENT_ENTRIES - 1)],
            "the last entry of segment 0 is cut"
        );
        let after: Vec<u64> = read
            .iter()
            .filter_map(|r| r.as_ref().ok().map(|(s, _)| *s))
            .filter(|s| *s >= SEGMENT_ENTRIES)
            .collect();
        assert_eq!(
            after,
            (SEGMENT_ENTRIES..SEGMENT_ENTRIES + 4).collect::<Vec<_>>()
        );
    }

    #[test]
    fn a_flipped_length_loses_the_framing_to_the_end_of_its_segment() {
        let files = MemFiles::new();
        let log = Log::open(files.clone()).unwrap();
        append(&log, 0, 10);
        let mut bytes = files.segment(0).unwrap();
        bytes[1] ^= 0x01; // entry 0's length
        files.set_segment(0, bytes);
        let read = all(&Log::open(files).unwrap(), 0);
        let errors: Vec<(u64, u64)> = read
            .iter()
            .filter_map(|r| r.as_ref().err().and_then(LogError::damaged_seqs))
            .collect();
        assert_eq!(errors, [(1, 9)]);
    }

    #[test]
    fn an_entry_longer_than_the_framing_allows_is_refused_and_nothing_is_written() {
        let files = MemFiles::new();
        let log = Log::open(files.clone()).unwrap();
        append(&log, 0, 2);
        let before = files.snapshot();
        let mut appender = log.appender().unwrap();
        appender.push(&entry(2, 50)).unwrap();
        let err = appender.push(&entry(3, MAX_ENTRY_BYTES + 1)).unwrap_err();
        assert!(matches!(err, LogError::TooLong { seq: 3, .. }), "{err}");
        drop(appender);
        assert_eq!(files.snapshot(), before);
    }

    #[test]
    fn the_head_file_round_trips_and_refuses_a_changed_byte() {
        let durable = Durable {
            head: head(41),
            segment_end: 9_000,
        };
        let mut bytes = durable.encode();
        assert_eq!(bytes.len(), HEAD_LEN);
        assert_eq!(Durable::decode(&bytes).unwrap(), durable);
        bytes[20] ^= 1;
        assert!(Durable::decode(&bytes).unwrap_err().contains("check"));
    }
}
