//! Reading inputs: files or standard input, plain or gzip (by magic bytes, never by
//! name), line by line as raw bytes, with the SHA-256 of the bytes as stored so the
//! internal note can prove which file was read.
//!
//! The first bytes are read ahead for format detection ([`LineReader::peek`]) and
//! then handed out again, so detection and reading see the same bytes. A UTF-8
//! byte-order mark in front of them is dropped there: editors and spreadsheets write
//! one, and it would otherwise glue itself to the first line.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use flate2::bufread::GzDecoder;
use sha2::{Digest, Sha256};

use crate::digest::hex;
use crate::error::{Error, Result};
use crate::limits::{self, Reached};

const BUFFER: usize = 256 * 1024;

/// How much of the decoded input detection reads ahead: at least this much, and the
/// whole first line when it is longer (up to [`MAX_LINE`]).
pub(crate) const READ_AHEAD: usize = 256 * 1024;

/// The longest line kept in memory. A longer one (a runaway log line, a file that is
/// not text) is read through to its end and handed on empty, marked as overlong, so
/// memory stays bounded whatever the input; one that goes on past
/// [`limits::UNENDED_LINE`] stops the input.
pub(crate) const MAX_LINE: usize = limits::LINE;

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// A line handed on without its bytes; it counts as one malformed line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dropped {
    /// Longer than the limit.
    Overlong,
    /// What follows the last gzip member when it is no gzip member (garbage appended
    /// to a file, padding): the members before it are read, this is one line.
    TrailingGarbage,
}

impl Dropped {
    /// Why the line is malformed, without quoting it.
    pub(crate) fn reason(self) -> &'static str {
        match self {
            Dropped::Overlong => "line longer than the limit",
            Dropped::TrailingGarbage => "bytes after the last gzip member that are not gzip",
        }
    }
}

/// Counts every byte that passes through it, and hashes them when asked to (when the
/// digest is not computed elsewhere: see `crate::digest`).
struct Hashing<R> {
    inner: R,
    hasher: Option<Box<Sha256>>,
    count: Arc<AtomicU64>,
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(h) = &mut self.hasher {
            h.update(&buf[..n]);
        }
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// The stored bytes: the two read to tell gzip from plain text, then the rest.
type Raw = BufReader<io::Chain<io::Cursor<Vec<u8>>, Hashing<Box<dyn Read + Send>>>>;

/// gzip members one after another, as `cat a.gz b.gz` makes them. Unlike flate2's
/// `MultiGzDecoder`, which fails on anything after a member that is not another
/// member, the stream ends there and remembers it (`trailing`): a file with garbage
/// appended is read up to the garbage, and the garbage is reported, not the file.
struct Members {
    /// Never `None` between calls; taken only to move from one state to the next.
    state: Option<Member>,
    trailing: bool,
}

enum Member {
    Decoding(GzDecoder<Raw>),
    /// A member ended; the stored bytes go on from here.
    Between(Raw),
}

impl Members {
    fn new(raw: Raw) -> Self {
        Members {
            state: Some(Member::Decoding(GzDecoder::new(raw))),
            trailing: false,
        }
    }

    fn into_raw(self) -> Raw {
        match self.state.expect("a gzip member or the bytes after one") {
            Member::Decoding(d) => d.into_inner(),
            Member::Between(raw) => raw,
        }
    }
}

impl Read for Members {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() || self.trailing {
            return Ok(0);
        }
        loop {
            match self
                .state
                .as_mut()
                .expect("a gzip member or the bytes after one")
            {
                Member::Decoding(d) => {
                    let n = d.read(buf)?;
                    if n > 0 {
                        return Ok(n);
                    }
                    if let Some(Member::Decoding(d)) = self.state.take() {
                        self.state = Some(Member::Between(d.into_inner()));
                    }
                }
                Member::Between(raw) => {
                    let next = raw.fill_buf()?;
                    if next.is_empty() {
                        return Ok(0);
                    }
                    // A lone `1f` at the end of the buffer may be a member's start:
                    // the header parser decides.
                    if next[0] != 0x1f || next.get(1).is_some_and(|&b| b != 0x8b) {
                        self.trailing = true;
                        return Ok(0);
                    }
                    if let Some(Member::Between(raw)) = self.state.take() {
                        self.state = Some(Member::Decoding(GzDecoder::new(raw)));
                    }
                }
            }
        }
    }
}

enum Decoded {
    Plain(Raw),
    // Boxed: the decoder's state is large, and a plain input should not carry it.
    Gzip(Box<BufReader<Members>>),
}

impl Decoded {
    fn get_mut(&mut self) -> &mut dyn BufRead {
        match self {
            Decoded::Plain(r) => r,
            Decoded::Gzip(r) => r,
        }
    }
}

/// The decoded input, with the bytes read ahead for detection in front of it.
struct Stream {
    head: Vec<u8>,
    /// How much of `head` was handed out.
    pos: usize,
    /// A read error met while reading ahead. It is reported where it happened: once
    /// the bytes before it are read, so a broken file fails at the same line whoever
    /// reads it.
    deferred: Option<io::Error>,
    /// The kind of the deferred error once it was reported: reading on fails alike.
    failed: Option<io::ErrorKind>,
    decoded: Decoded,
    /// A fast hash of every decoded byte handed out, the byte-order mark aside: the
    /// same content plain or gzip-compressed, under any name, hashes alike.
    content: Box<xxhash_rust::xxh3::Xxh3>,
}

impl Stream {
    fn pending_error(&mut self) -> Option<io::Error> {
        if let Some(e) = self.deferred.take() {
            self.failed = Some(e.kind());
            return Some(e);
        }
        self.failed.map(io::Error::from)
    }
}

impl Read for Stream {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.pos < self.head.len() {
            let n = out.len().min(self.head.len() - self.pos);
            out[..n].copy_from_slice(&self.head[self.pos..self.pos + n]);
            self.consume(n);
            return Ok(n);
        }
        if let Some(e) = self.pending_error() {
            return Err(e);
        }
        let n = self.decoded.get_mut().read(out)?;
        self.content.update(&out[..n]);
        Ok(n)
    }
}

impl BufRead for Stream {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.pos < self.head.len() {
            return Ok(&self.head[self.pos..]);
        }
        if let Some(e) = self.pending_error() {
            return Err(e);
        }
        self.decoded.get_mut().fill_buf()
    }

    fn consume(&mut self, n: usize) {
        if self.pos < self.head.len() {
            let end = (self.pos + n).min(self.head.len());
            self.content.update(&self.head[self.pos..end]);
            self.pos += n;
            if self.pos >= self.head.len() {
                // The read-ahead is done with: give its memory back.
                self.head = Vec::new();
                self.pos = 0;
            }
        } else {
            // What `fill_buf` handed out is still buffered: no read happens here.
            if let Ok(buffered) = self.decoded.get_mut().fill_buf() {
                self.content.update(&buffered[..n.min(buffered.len())]);
            }
            self.decoded.get_mut().consume(n);
        }
    }
}

/// One input, decoded and hashed as it is read; `ingest::chunks` cuts it into lines.
#[cfg_attr(not(fuzzing), allow(unreachable_pub))]
pub struct LineReader {
    path: PathBuf,
    stream: Stream,
    read_ahead: bool,
    count: Arc<AtomicU64>,

    gzip: bool,
    max_line: usize,
    /// The longest line read through without an end before reading stops.
    max_unended: u64,
}

impl LineReader {
    /// Opens `path`; `-` is standard input. With `hash`, the stored bytes are hashed as
    /// they are read ([`finish`](Self::finish) returns their SHA-256).
    pub(crate) fn open(path: &Path, hash: bool) -> Result<Self> {
        let read_err = |source| Error::Read {
            path: path.to_owned(),
            source,
        };
        let inner: Box<dyn Read + Send> = if path == Path::new("-") {
            Box::new(io::stdin())
        } else {
            Box::new(File::open(path).map_err(read_err)?)
        };
        Self::from_reader(path, inner, hash)
    }

    #[cfg_attr(not(fuzzing), allow(unreachable_pub))]
    pub fn from_reader(path: &Path, inner: Box<dyn Read + Send>, hash: bool) -> Result<Self> {
        let count = Arc::<AtomicU64>::default();
        let mut hashing = Hashing {
            inner,
            hasher: hash.then(|| Box::new(Sha256::new())),
            count: Arc::clone(&count),
        };
        // The first two bytes tell gzip from plain text; a pipe may hand out fewer
        // per read. They are put back in front of the rest.
        let mut magic = [0u8; 2];
        let mut got = 0;
        while got < magic.len() {
            match hashing.read(&mut magic[got..]) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(source) => {
                    return Err(Error::Read {
                        path: path.to_owned(),
                        source,
                    });
                }
            }
        }
        let gzip = got == 2 && magic == [0x1f, 0x8b];
        let raw = BufReader::with_capacity(
            BUFFER,
            io::Cursor::new(magic[..got].to_vec()).chain(hashing),
        );
        let decoded = if gzip {
            Decoded::Gzip(Box::new(BufReader::with_capacity(
                BUFFER,
                Members::new(raw),
            )))
        } else {
            Decoded::Plain(raw)
        };
        Ok(LineReader {
            path: path.to_owned(),
            stream: Stream {
                head: Vec::new(),
                pos: 0,
                deferred: None,
                failed: None,
                decoded,
                content: Box::default(),
            },
            read_ahead: false,
            count,
            gzip,
            max_line: MAX_LINE,
            max_unended: limits::UNENDED_LINE,
        })
    }

    #[cfg(any(test, fuzzing))]
    /// Lowers the line limit (for tests).
    #[cfg_attr(not(fuzzing), allow(unreachable_pub))]
    pub fn with_max_line(mut self, max_line: usize) -> Self {
        self.max_line = max_line;
        self
    }

    #[cfg(test)]
    /// Lowers the bound on a line without an end (for tests).
    pub(crate) fn with_max_unended(mut self, max_unended: u64) -> Self {
        self.max_unended = max_unended;
        self
    }

    /// How far a line is read through without finding its end before reading stops.
    pub(crate) fn max_unended(&self) -> u64 {
        self.max_unended
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    pub(crate) fn is_gzip(&self) -> bool {
        self.gzip
    }

    /// Whether bytes that are no gzip member followed the last member. Known once the
    /// members were read to their end; they count as one malformed line, the last.
    pub(crate) fn trailing_garbage(&self) -> bool {
        match &self.stream.decoded {
            Decoded::Plain(_) => false,
            Decoded::Gzip(r) => r.get_ref().trailing,
        }
    }

    /// The warning for trailing garbage that was counted as the malformed line
    /// `line`, or `None` when there was none.
    pub(crate) fn trailing_garbage_warning(&self, line: u64) -> Option<String> {
        self.trailing_garbage().then(|| {
            format!(
                "{}: line {line}: bytes after the last gzip member are not gzip; the members \
                 before them were read, and they count as one malformed line",
                self.path.display()
            )
        })
    }

    /// How many stored bytes (compressed ones for gzip) have been read so far; the
    /// counter can be watched from another thread.
    pub(crate) fn stored_bytes_counter(&self) -> Arc<AtomicU64> {
        Arc::clone(&self.count)
    }

    /// The decoded stream, for formats whose records are not lines (CSV).
    pub(crate) fn reader(&mut self) -> &mut dyn BufRead {
        self.read_ahead();
        &mut self.stream
    }

    /// The longest line read; a longer one is dropped as malformed.
    pub(crate) fn max_line(&self) -> usize {
        self.max_line
    }

    /// The error for a read that failed at `line`, or stopped there at a limit.
    pub(crate) fn read_error(&self, line: u64, source: io::Error) -> Error {
        if let Some(reached) = Reached::of(&source) {
            return Error::InputLine {
                path: self.path.clone(),
                line,
                message: format!("{reached}; the input was not read past it"),
            };
        }
        let message = match source.kind() {
            io::ErrorKind::InvalidInput
            | io::ErrorKind::InvalidData
            | io::ErrorKind::UnexpectedEof
                if self.gzip =>
            {
                "the gzip stream is corrupt or truncated in this line; it and the lines after \
                 it were not read"
                    .to_owned()
            }
            _ => format!("read failed: {source}"),
        };
        Error::InputLine {
            path: self.path.clone(),
            line,
            message,
        }
    }

    /// Reads the start of the input ahead, once: at least [`READ_AHEAD`] bytes and the
    /// whole first line (within the line limit), so that detection can judge a first
    /// line of any length. A read error is kept for where it happened.
    fn read_ahead(&mut self) {
        if std::mem::replace(&mut self.read_ahead, true) {
            return;
        }
        let stream = &mut self.stream;
        let mut head = std::mem::take(&mut stream.head);
        let mut first_line_done = false;
        let limit = self.max_line.saturating_add(1);
        loop {
            let start = head.len();
            if start >= READ_AHEAD && (first_line_done || start >= limit) {
                break;
            }
            head.resize(start + BUFFER, 0);
            match stream.decoded.get_mut().read(&mut head[start..]) {
                Ok(0) => {
                    head.truncate(start);
                    break;
                }
                Ok(n) => {
                    head.truncate(start + n);
                    first_line_done =
                        first_line_done || memchr::memchr(b'\n', &head[start..]).is_some();
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => head.truncate(start),
                Err(e) => {
                    head.truncate(start);
                    stream.deferred = Some(e);
                    break;
                }
            }
        }
        stream.pos = if head.starts_with(BOM) { BOM.len() } else { 0 };
        stream.head = head;
    }

    /// The first decoded bytes, without consuming them (for format detection): at
    /// least [`READ_AHEAD`] bytes and the whole first line, unless the input ends
    /// first. Fails only when nothing at all could be read.
    #[cfg_attr(not(fuzzing), allow(unreachable_pub))]
    pub fn peek(&mut self) -> Result<&[u8]> {
        self.read_ahead();
        if self.stream.pos >= self.stream.head.len()
            && let Some(e) = self.stream.pending_error()
        {
            return Err(self.read_error(1, e));
        }
        Ok(&self.stream.head[self.stream.pos..])
    }

    /// The hash of the decoded content read so far (see `Stream::content`): equal for
    /// the same lines whatever the compression, unequal otherwise (128 bits).
    pub(crate) fn content_digest(&self) -> u128 {
        self.stream.content.digest128()
    }

    /// When the reader hashes: reads whatever is left of the stored bytes and returns
    /// their SHA-256 (hex). Otherwise `None`, at once.
    #[cfg_attr(not(fuzzing), allow(unreachable_pub))]
    pub fn finish(self) -> Result<Option<String>> {
        let path = self.path;
        let mut raw = match self.stream.decoded {
            Decoded::Plain(r) => r,
            Decoded::Gzip(r) => r.into_inner().into_raw(),
        };
        if raw.get_ref().get_ref().1.hasher.is_none() {
            return Ok(None);
        }
        // Bytes after the last gzip member still belong to the file's hash.
        io::copy(&mut raw, &mut io::sink()).map_err(|source| Error::Read { path, source })?;
        let (_, hashing) = raw.into_inner().into_inner();
        Ok(hashing.hasher.map(|h| hex(&h.finalize())))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use flate2::{Compression, write::GzEncoder};
    use std::io::Write;

    /// A line as `ingest::chunks` cuts it: its number, its bytes (empty when dropped)
    /// and why it was dropped.
    type Cut = (u64, Vec<u8>, Option<Dropped>);

    /// Every line of `r` as the chunk cutter hands it on (small chunks, so that lines
    /// cross chunk boundaries), and the error that stopped the reading, if one did.
    fn cut_lines(r: &mut LineReader) -> (Vec<Cut>, Option<Error>) {
        use crate::ingest::chunks;
        let max = r.max_line();
        let (mut out, mut n) = (vec![], 0);
        let read = chunks::cut(r, 1 << 12, max, Vec::new, |chunk| {
            if chunk.overlong {
                n += 1;
                out.push((n, vec![], chunk.dropped));
                return true;
            }
            for line in chunks::lines(&chunk.bytes) {
                n += 1;
                match line.len() >= max {
                    true => out.push((n, vec![], Some(Dropped::Overlong))),
                    false => out.push((n, line.to_vec(), None)),
                }
            }
            true
        });
        let err = read.err().map(|f| r.read_error(n + 1, f.source));
        (out, err)
    }

    /// Every line of `r`: number, text and why it was dropped.
    fn every_line(r: &mut LineReader) -> Vec<(u64, String, Option<Dropped>)> {
        let (seen, err) = cut_lines(r);
        assert!(err.is_none(), "{err:?}");
        seen.into_iter()
            .map(|(n, bytes, dropped)| (n, String::from_utf8_lossy(&bytes).into_owned(), dropped))
            .collect()
    }

    fn lines(bytes: Vec<u8>) -> (Vec<(u64, String)>, String, bool) {
        let mut r = LineReader::from_reader(Path::new("t"), Box::new(io::Cursor::new(bytes)), true)
            .unwrap();
        let gzip = r.is_gzip();
        let out = every_line(&mut r)
            .into_iter()
            .map(|(n, l, _)| (n, l))
            .collect();
        (out, r.finish().unwrap().unwrap(), gzip)
    }

    #[test]
    fn plain_lines_with_crlf_and_no_final_newline() {
        let (got, sha, gzip) = lines(b"a\r\nb\n\nc".to_vec());
        assert!(!gzip);
        let want: Vec<(u64, String)> = vec![
            (1, "a".into()),
            (2, "b".into()),
            (3, "".into()),
            (4, "c".into()),
        ];
        assert_eq!(got, want);
        assert_eq!(sha, hex(&Sha256::digest(b"a\r\nb\n\nc")));
    }

    #[test]
    fn gzip_is_detected_by_magic_and_hashed_as_stored() {
        let mut enc = GzEncoder::new(Vec::new(), Compression::default());
        enc.write_all(b"one\ntwo\n").unwrap();
        let mut gz = enc.finish().unwrap();
        // Two members back to back, as `cat a.gz b.gz` makes.
        let mut enc = GzEncoder::new(Vec::new(), Compression::default());
        enc.write_all(b"three\n").unwrap();
        gz.extend(enc.finish().unwrap());
        let (got, sha, gzip) = lines(gz.clone());
        assert!(gzip);
        assert_eq!(
            got.iter().map(|(_, l)| l.as_str()).collect::<Vec<_>>(),
            ["one", "two", "three"]
        );
        assert_eq!(sha, hex(&Sha256::digest(&gz)));
    }

    #[test]
    fn overlong_lines_are_dropped_and_flagged_with_bounded_memory() {
        let mut input = b"short\n".to_vec();
        input.extend(std::iter::repeat_n(b'x', 10_000));
        input.extend(b"\nafter\n");
        let mut r = LineReader::from_reader(Path::new("t"), Box::new(io::Cursor::new(input)), true)
            .unwrap()
            .with_max_line(1_000);
        let seen = every_line(&mut r);
        assert_eq!(
            seen,
            [
                (1, "short".to_owned(), None),
                (2, String::new(), Some(Dropped::Overlong)),
                (3, "after".to_owned(), None)
            ]
        );
    }

    fn gzip(text: &[u8]) -> Vec<u8> {
        let mut enc = GzEncoder::new(Vec::new(), Compression::default());
        enc.write_all(text).unwrap();
        enc.finish().unwrap()
    }

    /// Numbered lines that do not compress to nothing, so a cut lands mid-stream.
    pub(crate) fn numbered_lines(n: usize) -> Vec<u8> {
        (0..n)
            .flat_map(|i| format!("line {i} {:x}\n", i.wrapping_mul(2_654_435_761)).into_bytes())
            .collect()
    }

    /// The line a cut gzip breaks in: one after the whole lines it still decodes to.
    pub(crate) fn line_where_cut_gzip_breaks(gz: &[u8]) -> u64 {
        let mut decoder = flate2::read::GzDecoder::new(gz);
        let mut out = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            match decoder.read(&mut buf) {
                Ok(0) => panic!("the cut went unnoticed"),
                Ok(n) => out.extend_from_slice(&buf[..n]),
                Err(_) => break,
            }
        }
        memchr::memchr_iter(b'\n', &out).count() as u64 + 1
    }

    #[test]
    fn truncated_gzip_fails_at_the_line_where_the_data_broke() {
        for keep in [3, 4, 5, 6] {
            let mut gz = gzip(&numbered_lines(200_000));
            gz.truncate(gz.len() * keep / 7);
            let want = line_where_cut_gzip_breaks(&gz);
            let mut r =
                LineReader::from_reader(Path::new("t.gz"), Box::new(io::Cursor::new(gz)), true)
                    .unwrap();
            // Detection reads ahead first; the error waits for its line all the same.
            assert!(r.peek().is_ok());
            let err = cut_lines(&mut r).1.expect("truncation went unnoticed");
            match err {
                Error::InputLine { line, .. } => assert_eq!(line, want, "cut at {keep}/7"),
                other => panic!("{other}"),
            }
        }
    }

    #[test]
    fn a_gzip_that_breaks_before_any_line_fails_at_peek() {
        let gz = gzip(b"one\n");
        let mut r = LineReader::from_reader(
            Path::new("t.gz"),
            Box::new(io::Cursor::new(gz[..5].to_vec())),
            true,
        )
        .unwrap();
        match r.peek() {
            Err(Error::InputLine { line: 1, .. }) => {}
            other => panic!("{:?}", other.map(<[u8]>::to_vec)),
        }
    }

    #[test]
    fn garbage_after_the_last_gzip_member_is_one_dropped_line() {
        let mut stored = gzip(b"one\ntwo\n");
        stored.extend(gzip(b"three"));
        stored.extend(b"GARBAGE-TEXT\nat all\n");
        let mut r = LineReader::from_reader(
            Path::new("t.gz"),
            Box::new(io::Cursor::new(stored.clone())),
            true,
        )
        .unwrap();
        let seen = every_line(&mut r);
        assert_eq!(
            seen,
            [
                (1, "one".to_owned(), None),
                (2, "two".to_owned(), None),
                (3, "three".to_owned(), None),
                (4, String::new(), Some(Dropped::TrailingGarbage)),
            ]
        );
        let warning = r.trailing_garbage_warning(4).unwrap();
        assert!(warning.starts_with("t.gz: line 4: "), "{warning}");
        assert!(!warning.contains("GARBAGE"), "{warning}");
        // The hash is of every stored byte, the garbage included.
        assert_eq!(r.finish().unwrap().unwrap(), hex(&Sha256::digest(&stored)));

        // Zero padding is garbage too; a clean file has none.
        let mut padded = gzip(b"one\n");
        padded.extend([0u8; 512]);
        let (got, _, _) = lines(padded);
        assert_eq!(got.len(), 2);
        let mut r = LineReader::from_reader(
            Path::new("t.gz"),
            Box::new(io::Cursor::new(gzip(b"a\n"))),
            true,
        )
        .unwrap();
        every_line(&mut r);
        assert!(!r.trailing_garbage() && r.trailing_garbage_warning(1).is_none());

        // A lone `1f` after a member may open another: it is read as one, cut short.
        let mut cut = gzip(b"a\n");
        cut.push(0x1f);
        let mut r =
            LineReader::from_reader(Path::new("t.gz"), Box::new(io::Cursor::new(cut)), true)
                .unwrap();
        let (read, err) = cut_lines(&mut r);
        let err = err.expect("a member cut short went unnoticed");
        assert_eq!(read, [(1, b"a".to_vec(), None)]);
        assert!(matches!(err, Error::InputLine { line: 2, .. }), "{err}");
    }

    #[test]
    fn a_byte_order_mark_is_dropped_plain_or_gzip() {
        let text = b"\xEF\xBB\xBF{\"a\":1}\nb\n";
        for stored in [text.to_vec(), gzip(text)] {
            let mut r = LineReader::from_reader(
                Path::new("t"),
                Box::new(io::Cursor::new(stored.clone())),
                true,
            )
            .unwrap();
            assert_eq!(r.peek().unwrap(), b"{\"a\":1}\nb\n");
            let (got, sha, _) = lines(stored.clone());
            assert_eq!(got, [(1, "{\"a\":1}".to_owned()), (2, "b".to_owned())]);
            assert_eq!(sha, hex(&Sha256::digest(&stored)));
        }
        // Only at the very start.
        let (got, _, _) = lines(b"a\n\xEF\xBB\xBFb\n".to_vec());
        assert_eq!(got[1].1, "\u{feff}b");
    }

    #[test]
    fn detection_sees_the_whole_first_line_however_long() {
        let mut text = b"{\"path\":\"".to_vec();
        text.extend(std::iter::repeat_n(b'a', 3 * READ_AHEAD));
        text.extend(b"\"}\nnext\n");
        for stored in [text.clone(), gzip(&text)] {
            let mut r =
                LineReader::from_reader(Path::new("t"), Box::new(io::Cursor::new(stored)), true)
                    .unwrap();
            let head = r.peek().unwrap();
            assert!(head.len() > 3 * READ_AHEAD, "{}", head.len());
            assert!(head.starts_with(b"{\"path\"") && head.contains(&b'\n'));
            let seen = every_line(&mut r);
            assert!(seen.iter().all(|(_, _, dropped)| dropped.is_none()));
            let n: usize = seen.iter().map(|(_, l, _)| l.len()).sum();
            assert_eq!(n, text.len() - 2);
        }
        // Past the line limit, reading ahead stops.
        let mut r = LineReader::from_reader(
            Path::new("t"),
            Box::new(io::Cursor::new(vec![b'x'; 4 * READ_AHEAD])),
            true,
        )
        .unwrap()
        .with_max_line(1_000);
        assert!(r.peek().unwrap().len() < 2 * READ_AHEAD);
    }

    /// Hands out one byte per read, as a slow pipe may.
    struct Trickle(io::Cursor<Vec<u8>>);

    impl Read for Trickle {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = buf.len().min(1);
            self.0.read(&mut buf[..n])
        }
    }

    #[test]
    fn gzip_is_recognised_from_a_pipe_that_trickles() {
        let gz = gzip(b"one\ntwo\n");
        let mut r = LineReader::from_reader(
            Path::new("-"),
            Box::new(Trickle(io::Cursor::new(gz.clone()))),
            true,
        )
        .unwrap();
        assert!(r.is_gzip());
        let got: Vec<String> = every_line(&mut r).into_iter().map(|(_, l, _)| l).collect();
        assert_eq!(got, ["one", "two"]);
        assert_eq!(r.finish().unwrap().unwrap(), hex(&Sha256::digest(&gz)));
        let (got, _, gzip) = lines(vec![0x1f]);
        assert!(!gzip);
        assert_eq!(got.len(), 1);
    }
}
