//! Reading inputs: files or standard input, plain or gzip (by magic bytes, never by
//! name), line by line as raw bytes, with the SHA-256 of the bytes as stored so the
//! internal note can prove which file was read.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use flate2::bufread::MultiGzDecoder;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

const BUFFER: usize = 256 * 1024;

/// The longest line kept in memory. A longer one (a runaway log line, a file that is
/// not text) is read through to its end and handed on empty, marked as overlong, so
/// memory stays bounded whatever the input.
pub const MAX_LINE: usize = 64 * 1024 * 1024;

/// Hashes and counts every byte that passes through it.
struct Hashing<R> {
    inner: R,
    hasher: Sha256,
    count: Arc<AtomicU64>,
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

type Raw = BufReader<Hashing<Box<dyn Read + Send>>>;

enum Decoded {
    Plain(Raw),
    // Boxed: the decoder's state is large, and a plain input should not carry it.
    Gzip(Box<BufReader<MultiGzDecoder<Raw>>>),
}

/// One input, read line by line.
pub struct LineReader {
    path: PathBuf,
    decoded: Decoded,
    buf: Vec<u8>,
    line_no: u64,
    gzip: bool,
    max_line: usize,
    overlong: bool,
}

impl LineReader {
    /// Opens `path`; `-` is standard input.
    pub fn open(path: &Path) -> Result<Self> {
        let read_err = |source| Error::Read {
            path: path.to_owned(),
            source,
        };
        let inner: Box<dyn Read + Send> = if path == Path::new("-") {
            Box::new(io::stdin())
        } else {
            Box::new(File::open(path).map_err(read_err)?)
        };
        Self::from_reader(path, inner)
    }

    pub fn from_reader(path: &Path, inner: Box<dyn Read + Send>) -> Result<Self> {
        let mut raw = BufReader::with_capacity(
            BUFFER,
            Hashing {
                inner,
                hasher: Sha256::new(),
                count: Arc::default(),
            },
        );
        let head = raw.fill_buf().map_err(|source| Error::Read {
            path: path.to_owned(),
            source,
        })?;
        let gzip = head.starts_with(&[0x1f, 0x8b]);
        let decoded = if gzip {
            Decoded::Gzip(Box::new(BufReader::with_capacity(
                BUFFER,
                MultiGzDecoder::new(raw),
            )))
        } else {
            Decoded::Plain(raw)
        };
        Ok(LineReader {
            path: path.to_owned(),
            decoded,
            buf: Vec::with_capacity(4096),
            line_no: 0,
            gzip,
            max_line: MAX_LINE,
            overlong: false,
        })
    }

    /// Lowers the line limit (for tests).
    pub fn with_max_line(mut self, max_line: usize) -> Self {
        self.max_line = max_line;
        self
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn is_gzip(&self) -> bool {
        self.gzip
    }

    /// How many stored bytes (compressed ones for gzip) have been read so far; the
    /// counter can be watched from another thread.
    pub fn stored_bytes_counter(&self) -> Arc<AtomicU64> {
        let hashing = match &self.decoded {
            Decoded::Plain(r) => r.get_ref(),
            Decoded::Gzip(r) => r.get_ref().get_ref().get_ref(),
        };
        Arc::clone(&hashing.count)
    }

    /// The decoded stream, for formats whose records are not lines (CSV).
    pub fn reader(&mut self) -> &mut dyn BufRead {
        match &mut self.decoded {
            Decoded::Plain(r) => r,
            Decoded::Gzip(r) => r,
        }
    }

    /// The error for a read that failed at `line`.
    pub fn read_error(&self, line: u64, source: io::Error) -> Error {
        let message = match source.kind() {
            io::ErrorKind::InvalidInput
            | io::ErrorKind::InvalidData
            | io::ErrorKind::UnexpectedEof
                if self.gzip =>
            {
                "the gzip stream is corrupt or truncated; the lines after this one were not read"
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

    /// The first decoded bytes, without consuming them (for format detection).
    pub fn peek(&mut self) -> Result<&[u8]> {
        let line = self.line_no + 1;
        // Borrow juggling: look the error up before handing out the buffer.
        if let Err(e) = self.reader().fill_buf() {
            return Err(self.read_error(line, e));
        }
        Ok(self.reader().fill_buf().unwrap_or(&[]))
    }

    /// The next line without its terminator (`\n` or `\r\n`), its 1-based number, and
    /// whether it was longer than the limit (then it is handed on empty).
    pub fn next_line(&mut self) -> Result<Option<(u64, &[u8], bool)>> {
        self.buf.clear();
        self.overlong = false;
        let mut buf = std::mem::take(&mut self.buf);
        let max = self.max_line;
        let mut overlong = false;
        let read = read_line_capped(self.reader(), &mut buf, max, &mut overlong);
        self.buf = buf;
        self.overlong = overlong;
        match read {
            Ok(0) => Ok(None),
            Ok(_) => {
                self.line_no += 1;
                let mut end = self.buf.len();
                if end > 0 && self.buf[end - 1] == b'\n' {
                    end -= 1;
                }
                if end > 0 && self.buf[end - 1] == b'\r' {
                    end -= 1;
                }
                Ok(Some((self.line_no, &self.buf[..end], self.overlong)))
            }
            Err(e) => Err(self.read_error(self.line_no + 1, e)),
        }
    }

    /// Reads whatever is left of the stored bytes and returns their SHA-256 (hex).
    pub fn finish(self) -> Result<String> {
        let path = self.path;
        let mut raw = match self.decoded {
            Decoded::Plain(r) => r,
            Decoded::Gzip(r) => r.into_inner().into_inner(),
        };
        // Bytes after the last gzip member still belong to the file's hash.
        io::copy(&mut raw, &mut io::sink()).map_err(|source| Error::Read { path, source })?;
        let hashing = raw.into_inner();
        Ok(hex(&hashing.hasher.finalize()))
    }
}

/// `read_until(b'\n')` that keeps at most `max` bytes: the rest of a longer line is
/// consumed and dropped, `buf` is left empty and `overlong` set. Returns the bytes
/// consumed (0 at the end of the input).
fn read_line_capped(
    reader: &mut dyn BufRead,
    buf: &mut Vec<u8>,
    max: usize,
    overlong: &mut bool,
) -> io::Result<usize> {
    let mut consumed = 0;
    loop {
        let available = match reader.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if available.is_empty() {
            return Ok(consumed);
        }
        let (chunk, done) = match memchr_newline(available) {
            Some(i) => (&available[..=i], true),
            None => (available, false),
        };
        if !*overlong {
            if buf.len() + chunk.len() > max {
                *overlong = true;
                buf.clear();
                buf.shrink_to(4096);
            } else {
                buf.extend_from_slice(chunk);
            }
        }
        let n = chunk.len();
        reader.consume(n);
        consumed += n;
        if done {
            return Ok(consumed);
        }
    }
}

fn memchr_newline(bytes: &[u8]) -> Option<usize> {
    bytes.iter().position(|&b| b == b'\n')
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::{Compression, write::GzEncoder};
    use std::io::Write;

    fn lines(bytes: Vec<u8>) -> (Vec<(u64, String)>, String, bool) {
        let mut r =
            LineReader::from_reader(Path::new("t"), Box::new(io::Cursor::new(bytes))).unwrap();
        let gzip = r.is_gzip();
        let mut out = vec![];
        while let Some((n, l, _)) = r.next_line().unwrap() {
            out.push((n, String::from_utf8_lossy(l).into_owned()));
        }
        (out, r.finish().unwrap(), gzip)
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
        let mut r = LineReader::from_reader(Path::new("t"), Box::new(io::Cursor::new(input)))
            .unwrap()
            .with_max_line(1_000);
        let mut seen = vec![];
        while let Some((n, line, overlong)) = r.next_line().unwrap() {
            seen.push((n, String::from_utf8_lossy(line).into_owned(), overlong));
        }
        assert_eq!(
            seen,
            [
                (1, "short".to_owned(), false),
                (2, String::new(), true),
                (3, "after".to_owned(), false)
            ]
        );
        assert!(r.buf.capacity() < 10_000);
    }

    #[test]
    fn truncated_gzip_is_an_error_with_a_line_number() {
        let mut enc = GzEncoder::new(Vec::new(), Compression::default());
        enc.write_all(&b"line\n".repeat(10_000)).unwrap();
        let mut gz = enc.finish().unwrap();
        gz.truncate(gz.len() / 2);
        let mut r =
            LineReader::from_reader(Path::new("t.gz"), Box::new(io::Cursor::new(gz))).unwrap();
        let err = loop {
            match r.next_line() {
                Ok(Some(_)) => continue,
                Ok(None) => panic!("truncation went unnoticed"),
                Err(e) => break e,
            }
        };
        assert!(matches!(err, Error::InputLine { .. }), "{err}");
    }
}
