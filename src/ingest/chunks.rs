//! Line-aligned chunks: one input cut into blocks of whole lines, so that several
//! threads can search and parse them while one thread reads, decompresses and hashes.
//!
//! Buffers come from a fixed pool and go back to it once a chunk is done, so memory
//! stays the same whatever the input's size. A line longer than the limit is read
//! through and handed on as an empty, overlong chunk of its own (see
//! [`reader::MAX_LINE`](super::reader::MAX_LINE)), and so is the garbage after the
//! last member of a gzip file.
//!
//! When reading fails (a corrupt or truncated gzip stream), the whole lines read
//! before the failure are still handed on: the failure is then on the line after
//! them, the line the data broke in. `inspect` and `summarize` both cut lines here,
//! so they name the same line.

use std::io;

use super::reader::{Dropped, LineReader};
use super::{Format, Line, json, parse_line};
use crate::limits::{self, Reached};

/// Whole lines of one input, in order.
#[derive(Debug)]
pub(crate) struct Chunk {
    /// 0, 1, 2, ... in input order.
    pub seq: u64,
    /// Whole lines, each ending in `\n` except perhaps the input's last one.
    pub bytes: Vec<u8>,
    /// One line dropped unread (see `dropped`): it counts as one malformed line.
    pub overlong: bool,
    /// Why the chunk's one line was dropped: longer than the limit, or the garbage
    /// after the last gzip member. `Some` exactly when `overlong` is set.
    pub dropped: Option<Dropped>,
}

impl Chunk {
    /// How many lines the chunk holds.
    #[cfg(test)]
    pub(crate) fn lines(&self) -> u64 {
        if self.overlong {
            return 1;
        }
        count_lines(&self.bytes)
    }

    /// One dropped line, as a chunk of its own.
    fn dropped(seq: u64, mut bytes: Vec<u8>, why: Dropped) -> Chunk {
        bytes.clear();
        Chunk {
            seq,
            bytes,
            overlong: true,
            dropped: Some(why),
        }
    }
}

/// How many lines whole-line text holds: its newlines, and a last line without one.
pub(crate) fn count_lines(text: &[u8]) -> u64 {
    let newlines = memchr::memchr_iter(b'\n', text).count() as u64;
    newlines + u64::from(text.last().is_some_and(|&b| b != b'\n'))
}

/// The lines of whole-line text, without terminators (`\n` or `\r\n`).
pub(crate) fn lines(text: &[u8]) -> impl DoubleEndedIterator<Item = &[u8]> {
    let lines = (!text.is_empty()).then(|| text.strip_suffix(b"\n").unwrap_or(text));
    lines
        .into_iter()
        .flat_map(|t| t.split(|&b| b == b'\n'))
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
}

/// One line of a chunk, parsed with `parse`, or dropped as malformed when it is over
/// `max_line` (inside a chunk, only a last line without its end can be).
pub(crate) fn parse_within<'a>(
    line: &'a [u8],
    max_line: usize,
    parse: impl FnOnce(&'a [u8]) -> Line<'a>,
) -> Line<'a> {
    if line.len() >= max_line {
        Line::Malformed(Dropped::Overlong.reason())
    } else {
        parse(line)
    }
}

/// What a chunk dropped whole says of its one line.
impl Chunk {
    pub(crate) fn dropped_line(&self) -> Option<Line<'static>> {
        self.overlong.then(|| {
            Line::Malformed(
                self.dropped
                    .map_or(Dropped::Overlong.reason(), Dropped::reason),
            )
        })
    }
}

/// Reads every line of `reader` through [`cut`] on this thread, numbering them from 1
/// and handing each, parsed as `format`, to `f`: the same cutting, limits and line
/// numbers as `summarize`'s threads, for readers that take every line.
pub(crate) fn each_line(
    reader: &mut LineReader,
    format: Format,
    flavor: json::Flavor,
    mut f: impl FnMut(u64, Line<'_>) -> crate::error::Result<()>,
) -> crate::error::Result<()> {
    let max_line = reader.max_line();
    let mut number = 0u64;
    let mut stopped = None;
    let read = cut(reader, CHUNK, max_line, Vec::new, |chunk| {
        let mut take = |line| {
            number += 1;
            f(number, line).map_err(|e| stopped = Some(e)).is_ok()
        };
        if let Some(line) = chunk.dropped_line() {
            return take(line);
        }
        lines(&chunk.bytes).all(|line| {
            take(parse_within(line, max_line, |l| {
                parse_line(format, flavor, l)
            }))
        })
    });
    if let Some(e) = stopped {
        return Err(e);
    }
    read.map_err(|failure| reader.read_error(number + 1, failure.source))
}

/// The bytes of one chunk: large enough that handing chunks between threads costs
/// nothing, small enough that the buffers in flight stay a few megabytes.
pub(crate) const CHUNK: usize = 1 << 20;

/// Why reading stopped early.
#[derive(Debug)]
pub(crate) struct ReadFailure {
    /// The first chunk that was not handed on: its first line is where reading failed.
    pub seq: u64,
    pub source: io::Error,
}

/// Cuts what `reader` has left into chunks of about `size` bytes, taking each buffer
/// from `pool` (which bounds memory) and handing each chunk to `send`. Stops early,
/// without error, when `send` returns false (nobody listens any more).
pub(crate) fn cut(
    reader: &mut LineReader,
    size: usize,
    max_line: usize,
    mut pool: impl FnMut() -> Vec<u8>,
    mut send: impl FnMut(Chunk) -> bool,
) -> Result<(), ReadFailure> {
    let size = size.clamp(1, max_line.max(1));
    let max_unended = reader.max_unended();
    let mut carry: Vec<u8> = Vec::new();
    let mut seq = 0u64;
    loop {
        // A recycled buffer keeps its length: only growth is zeroed, not every chunk.
        let mut buf = pool();
        if buf.len() < size.max(carry.len()) {
            buf.resize(size.max(carry.len()), 0);
        }
        buf[..carry.len()].copy_from_slice(&carry);
        let mut filled = carry.len();
        carry.clear();
        let stream = reader.reader();
        let eof = match fill(stream, &mut buf, &mut filled, size) {
            Ok(eof) => eof,
            Err(source) => {
                // The whole lines before the failure go on; the broken one does not.
                if let Some(last) = memchr::memrchr(b'\n', &buf[..filled]) {
                    buf.truncate(last + 1);
                    let chunk = Chunk {
                        seq,
                        bytes: buf,
                        overlong: false,
                        dropped: None,
                    };
                    if !send(chunk) {
                        return Ok(());
                    }
                    seq += 1;
                }
                return Err(ReadFailure { seq, source });
            }
        };
        let mut dropped = None;
        if eof {
            if filled == 0 {
                return end(reader, seq, buf, send);
            }
        } else if let Some(last) = memchr::memrchr(b'\n', &buf[..filled]) {
            carry.extend_from_slice(&buf[last + 1..filled]);
            filled = last + 1;
        } else {
            // One line fills the buffer: read on to its end, within the limit. Nothing
            // before the failure, if it fails, is a whole line.
            let fail = |source| ReadFailure { seq, source };
            match long_line(stream, &mut buf, &mut filled, max_line, max_unended).map_err(fail)? {
                LongLine::Whole { rest } => carry = rest,
                LongLine::Overlong { rest } => {
                    carry = rest;
                    dropped = Some(Dropped::Overlong);
                    filled = 0;
                    buf.truncate(size);
                    buf.shrink_to(size);
                }
            }
        }
        buf.truncate(filled);
        let chunk = Chunk {
            seq,
            bytes: buf,
            overlong: dropped.is_some(),
            dropped,
        };
        if !send(chunk) {
            return Ok(());
        }
        seq += 1;
        if eof {
            return end(reader, seq, Vec::new(), send);
        }
    }
}

/// The end of the input: the garbage after the last gzip member, if any, is one more
/// line, dropped.
fn end(
    reader: &LineReader,
    seq: u64,
    buf: Vec<u8>,
    mut send: impl FnMut(Chunk) -> bool,
) -> Result<(), ReadFailure> {
    if reader.trailing_garbage() {
        send(Chunk::dropped(seq, buf, Dropped::TrailingGarbage));
    }
    Ok(())
}

/// Reads until `buf[..filled]` holds at least `size` bytes. Returns whether the input
/// ended.
fn fill(
    stream: &mut dyn io::BufRead,
    buf: &mut Vec<u8>,
    filled: &mut usize,
    size: usize,
) -> io::Result<bool> {
    if buf.len() < size {
        buf.resize(size, 0);
    }
    while *filled < size {
        let n = match stream.read(&mut buf[*filled..size]) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => other?,
        };
        if n == 0 {
            return Ok(true);
        }
        *filled += n;
    }
    Ok(false)
}

enum LongLine {
    /// `buf[..filled]` now ends with the line's `\n` (or the input ended); `rest` was
    /// read after it.
    Whole { rest: Vec<u8> },
    /// The line went past the limit and was read through to its end; `rest` was read
    /// after it.
    Overlong { rest: Vec<u8> },
}

fn long_line(
    stream: &mut dyn io::BufRead,
    buf: &mut Vec<u8>,
    filled: &mut usize,
    max_line: usize,
    max_unended: u64,
) -> io::Result<LongLine> {
    loop {
        if *filled > max_line {
            skip_rest_of_line(stream, *filled as u64, max_unended)?;
            return Ok(LongLine::Overlong { rest: Vec::new() });
        }
        let before = *filled;
        let target = (before * 2).min(max_line + 1).max(before + 8192);
        // Grown to the target exactly: a line near the limit takes the limit in
        // memory, not twice that.
        buf.reserve_exact(target.saturating_sub(buf.len()));
        if fill(stream, buf, filled, target)? {
            return Ok(LongLine::Whole { rest: Vec::new() });
        }
        if let Some(i) = memchr::memchr(b'\n', &buf[before..*filled]) {
            let end = before + i + 1;
            let rest = buf[end..*filled].to_vec();
            if end > max_line {
                return Ok(LongLine::Overlong { rest });
            }
            *filled = end;
            return Ok(LongLine::Whole { rest });
        }
    }
}

/// Drops bytes up to and including the next `\n`; `read` bytes of the line were read
/// already. A line that goes on past `max_unended` bytes stops the reading: a stream
/// without line breaks (`/dev/zero`, a gzip bomb of one line) would never end.
fn skip_rest_of_line(
    stream: &mut dyn io::BufRead,
    mut read: u64,
    max_unended: u64,
) -> io::Result<()> {
    loop {
        if read > max_unended {
            return Err(Reached::error(format!(
                "a line goes on for more than {} without an end",
                limits::size(max_unended)
            )));
        }
        let available = match stream.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if available.is_empty() {
            return Ok(());
        }
        if let Some(i) = memchr::memchr(b'\n', available) {
            stream.consume(i + 1);
            return Ok(());
        }
        let n = available.len();
        stream.consume(n);
        read += n as u64;
    }
}

/// Chunks of one long line, each up to the line limit, handed to the threads that
/// search them one at a time: a file of long lines then takes a few times the line
/// limit in memory whatever the number of threads, not that many times it. Chunks of
/// ordinary lines (at most twice [`CHUNK`]) pass freely.
#[derive(Default)]
pub(crate) struct LongOneAtATime {
    busy: std::sync::Mutex<bool>,
    free: std::sync::Condvar,
}

impl LongOneAtATime {
    /// Whether a chunk is one long line.
    pub(crate) fn is_long(chunk: &Chunk) -> bool {
        chunk.bytes.len() > 2 * CHUNK
    }

    /// Waits until no other long chunk is being searched, and takes the turn.
    pub(crate) fn enter(&self) {
        let mut busy = self.busy.lock().unwrap_or_else(|p| p.into_inner());
        while *busy {
            busy = self.free.wait(busy).unwrap_or_else(|p| p.into_inner());
        }
        *busy = true;
    }

    /// The turn taken for a long chunk, given back when the returned value is dropped
    /// (also when the search of the chunk panics, so the reader never waits forever).
    pub(crate) fn taken(&self) -> Turn<'_> {
        Turn(self)
    }
}

/// A long chunk's turn; see [`LongOneAtATime::taken`].
pub(crate) struct Turn<'a>(&'a LongOneAtATime);

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        *self.0.busy.lock().unwrap_or_else(|p| p.into_inner()) = false;
        self.0.free.notify_one();
    }
}

/// A chunk's buffer, or a scratch buffer that follows one, made small again once a
/// long line grew it: the buffers of a pool stay about [`CHUNK`] bytes each, so a
/// file of long lines does not keep several of the line limit in memory.
pub(crate) fn trim(buffer: &mut Vec<u8>) {
    if buffer.capacity() > 2 * CHUNK {
        buffer.truncate(CHUNK);
        buffer.shrink_to(CHUNK);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn chunks(input: &[u8], size: usize, max_line: usize) -> Vec<Chunk> {
        let mut r = LineReader::from_reader(
            Path::new("t"),
            Box::new(io::Cursor::new(input.to_vec())),
            true,
        )
        .unwrap();
        let mut out = Vec::new();
        cut(&mut r, size, max_line, Vec::new, |c| {
            out.push(c);
            true
        })
        .unwrap();
        out
    }

    #[test]
    fn chunks_hold_whole_lines_in_order() {
        let input: Vec<u8> = (0..1000)
            .flat_map(|i| format!("line {i}\n").into_bytes())
            .chain(*b"last")
            .collect();
        for size in [1, 7, 64, 4096, 1 << 20] {
            let got = chunks(&input, size, 1 << 20);
            let joined: Vec<u8> = got.iter().flat_map(|c| c.bytes.clone()).collect();
            assert_eq!(joined, input, "size {size}");
            assert_eq!(got.iter().map(Chunk::lines).sum::<u64>(), 1001);
            for (i, c) in got.iter().enumerate() {
                assert_eq!(c.seq, i as u64);
                assert!(c.bytes.ends_with(b"\n") || i == got.len() - 1);
            }
        }
    }

    #[test]
    fn a_line_past_the_limit_is_one_overlong_chunk() {
        let mut input = b"short\n".to_vec();
        input.extend(std::iter::repeat_n(b'x', 10_000));
        input.extend(b"\nafter\nend");
        for size in [1, 100, 999] {
            let got = chunks(&input, size, 1_000);
            let overlong: Vec<&Chunk> = got.iter().filter(|c| c.overlong).collect();
            assert_eq!(overlong.len(), 1, "size {size}");
            assert_eq!(got.iter().map(Chunk::lines).sum::<u64>(), 4, "size {size}");
            let kept: Vec<u8> = got.iter().flat_map(|c| c.bytes.clone()).collect();
            assert_eq!(kept, b"short\nafter\nend", "size {size}");
        }
    }

    /// A line that goes on past the bound without its end stops the reading there,
    /// after the whole lines before it, with the limit said; one that ends just
    /// within the bound is one overlong line.
    #[test]
    fn a_line_without_end_stops_the_reading() {
        let mut input = b"short\n".to_vec();
        input.extend(std::iter::repeat_n(b'x', 50_000));
        for (end, stops) in [(false, true), (true, false)] {
            let mut input = input.clone();
            if end {
                input.truncate(6 + 9_000);
                input.extend(b"\nafter\n");
            }
            let mut r =
                LineReader::from_reader(Path::new("t"), Box::new(io::Cursor::new(input)), true)
                    .unwrap()
                    .with_max_unended(10_000);
            let mut lines = 0;
            let read = cut(&mut r, 100, 1_000, Vec::new, |c| {
                lines += c.lines();
                true
            });
            match read {
                Err(failure) if stops => {
                    assert_eq!(lines, 1);
                    let err = r.read_error(lines + 1, failure.source);
                    assert_eq!(
                        err.to_string(),
                        "t: line 2: a line goes on for more than 10000 bytes without an end; the \
                         input was not read past it"
                    );
                }
                Ok(()) if !stops => assert_eq!(lines, 3),
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn a_long_line_within_the_limit_is_kept() {
        let mut input = b"a\n".to_vec();
        input.extend(std::iter::repeat_n(b'y', 5_000));
        input.extend(b"\nb\n");
        let got = chunks(&input, 100, 10_000);
        assert!(got.iter().all(|c| !c.overlong));
        let joined: Vec<u8> = got.iter().flat_map(|c| c.bytes.clone()).collect();
        assert_eq!(joined, input);
    }

    #[test]
    fn empty_input_has_no_chunks() {
        assert!(chunks(b"", 10, 100).is_empty());
    }

    fn gzip(text: &[u8]) -> Vec<u8> {
        use std::io::Write;
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(text).unwrap();
        enc.finish().unwrap()
    }

    /// A truncated gzip fails on the line the data broke in: the whole lines before it
    /// are handed on first.
    #[test]
    fn a_cut_gzip_fails_where_the_lines_reader_fails() {
        use crate::ingest::reader::tests::{line_where_cut_gzip_breaks, numbered_lines};
        for keep in [3, 5, 6] {
            let mut gz = gzip(&numbered_lines(200_000));
            gz.truncate(gz.len() * keep / 7);
            let want = line_where_cut_gzip_breaks(&gz);
            for size in [4096, 1 << 20] {
                let mut r = LineReader::from_reader(
                    Path::new("t.gz"),
                    Box::new(io::Cursor::new(gz.clone())),
                    true,
                )
                .unwrap();
                r.peek().unwrap();
                let mut lines = 0;
                let mut next_seq = 0;
                let failure = cut(&mut r, size, 1 << 20, Vec::new, |c| {
                    assert_eq!(c.seq, next_seq);
                    next_seq += 1;
                    lines += c.lines();
                    true
                })
                .unwrap_err();
                assert_eq!(failure.seq, next_seq);
                assert_eq!(lines + 1, want, "cut at {keep}/7, chunks of {size}");
            }
        }
    }

    #[test]
    fn garbage_after_the_last_gzip_member_is_a_last_dropped_chunk() {
        let mut stored = gzip(b"one\ntwo\n");
        stored.extend(b"garbage");
        for size in [2, 1 << 20] {
            let mut r = LineReader::from_reader(
                Path::new("t.gz"),
                Box::new(io::Cursor::new(stored.clone())),
                true,
            )
            .unwrap();
            let mut got = Vec::new();
            cut(&mut r, size, 1 << 20, Vec::new, |c| {
                got.push(c);
                true
            })
            .unwrap();
            let last = got.last().unwrap();
            assert_eq!(last.dropped, Some(Dropped::TrailingGarbage));
            assert!(last.overlong && last.bytes.is_empty());
            assert_eq!(got.iter().map(Chunk::lines).sum::<u64>(), 3, "size {size}");
            let text: Vec<u8> = got.iter().flat_map(|c| c.bytes.clone()).collect();
            assert_eq!(text, b"one\ntwo\n");
        }
    }
}
