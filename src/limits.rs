//! Every bound a reader keeps (RULES.md §11), in one place: docs/FORMATS.md lists them
//! with the reasons for their sizes.
//!
//! A hostile or broken input (a gzip bomb, `/dev/zero`, a field without an end) must
//! neither take the machine's memory nor be read forever. Each limit is far above what
//! a real export holds; past one, the input is refused (exit 4) with its file and line,
//! or, for a line of a line-based log, that one line is counted as malformed.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use crate::error::{Error, Result};

const MIB: usize = 1 << 20;

/// The longest line kept in memory: a longer one is one malformed line, read through
/// to its end (see `ingest::reader`).
pub(crate) const LINE: usize = 64 * MIB;

/// The longest line read through without an end: past it the input stops (exit 4),
/// so that a stream without line breaks (`/dev/zero`, a gzip bomb) is not read forever.
pub(crate) const UNENDED_LINE: u64 = 1 << 30;

/// The longest record of a CSV export (Kibana, audit events), its fields included.
pub(crate) const CSV_RECORD: usize = 16 * MIB;

/// The most fields of one CSV record (the header's columns included).
pub(crate) const CSV_FIELDS: usize = 65_536;

/// The longest pretty-printed JSON document: a log line written over several lines,
/// so the same as a line.
pub(crate) const JSON_DOCUMENT: usize = LINE;

/// The longest audit event: an element of an API array, a line of a stream, or a
/// document. Events are read whole into memory, where they take several times their
/// bytes, so this one is smaller.
pub(crate) const AUDIT_EVENT: usize = 4 * MIB;

/// The most audit events in the scope kept in memory for one run; beyond them the
/// run stops (exit 4).
pub(crate) const AUDIT_EVENTS_HELD: usize = 2_000_000;

/// A file read whole before it is parsed, with the most bytes it may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SideFile {
    /// `--directory`.
    Directory,
    /// `--config`, `logbrief.toml`.
    Config,
    /// `--manifest`.
    Manifest,
    /// `--exclude-ip-file`.
    AddressList,
    /// `--geoip`, a MaxMind database.
    GeoIp,
}

impl SideFile {
    /// The most bytes the file may hold.
    pub(crate) const fn limit(self) -> usize {
        match self {
            SideFile::Directory => 128 * MIB,
            SideFile::Config | SideFile::Manifest | SideFile::AddressList => 4 * MIB,
            SideFile::GeoIp => 256 * MIB,
        }
    }

    fn what(self) -> &'static str {
        match self {
            SideFile::Directory => "a directory file",
            SideFile::Config => "a configuration file",
            SideFile::Manifest => "a manifest",
            SideFile::AddressList => "an address list",
            SideFile::GeoIp => "a GeoIP database",
        }
    }

    /// Reads the file at `path` whole, refusing it (exit 4) when it holds more than
    /// [`limit`](Self::limit) bytes. The size is found by reading, never trusted from
    /// the file system: a device or a pipe reports none.
    pub(crate) fn read(self, path: &Path) -> Result<Vec<u8>> {
        let read_err = |source| Error::Read {
            path: path.to_owned(),
            source,
        };
        let file = File::open(path).map_err(read_err)?;
        // A regular file's size is a good first guess; the buffer grows exactly from
        // there, so a large file takes its size in memory, not twice that.
        let guess = file.metadata().map_or(0, |m| m.len());
        let bytes = read_at_most(file, self.limit(), guess).map_err(read_err)?;
        match bytes {
            Ok(bytes) => Ok(bytes),
            Err(head) => Err(Error::InputLine {
                path: path.to_owned(),
                line: memchr::memchr_iter(b'\n', &head).count() as u64 + 1,
                message: format!(
                    "larger than {} MiB, the most {} may hold; it was not read",
                    self.limit() / MIB,
                    self.what()
                ),
            }),
        }
    }

    /// As [`read`](Self::read), for a text file: invalid UTF-8 is refused with the
    /// line it is on.
    pub(crate) fn read_text(self, path: &Path) -> Result<String> {
        let bytes = self.read(path)?;
        String::from_utf8(bytes).map_err(|e| {
            let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
            Error::InputLine {
                path: path.to_owned(),
                line: memchr::memchr_iter(b'\n', valid).count() as u64 + 1,
                message: "not UTF-8 text".to_owned(),
            }
        })
    }
}

/// Reads `input` to its end when it holds at most `limit` bytes (`Ok`), else stops
/// after `limit` bytes and hands them back (`Err`), to say where the limit was reached.
fn read_at_most(
    input: impl Read,
    limit: usize,
    guess: u64,
) -> io::Result<std::result::Result<Vec<u8>, Vec<u8>>> {
    const STEP: usize = 4 * MIB;
    // One byte more than the limit tells a file of exactly `limit` bytes from a longer one.
    let most = limit.saturating_add(1);
    let guess = usize::try_from(guess).unwrap_or(limit).min(limit);
    let mut input = input.take(most as u64);
    let mut bytes: Vec<u8> = Vec::with_capacity(guess.saturating_add(1));
    loop {
        if bytes.len() == bytes.capacity() {
            bytes.reserve_exact(STEP.min(most - bytes.len()));
        }
        // Only into the room there is: `read_to_end` alone would double the buffer.
        let room = bytes.capacity() - bytes.len();
        let n = (&mut input).take(room as u64).read_to_end(&mut bytes)?;
        if bytes.len() > limit {
            bytes.truncate(limit);
            return Ok(Err(bytes));
        }
        if n < room {
            return Ok(Ok(bytes));
        }
    }
}

/// A limit reached while reading an input: the io error that stops the reading
/// carries it, and the error the engineer sees says it (see
/// `ingest::reader::LineReader::read_error`).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct Reached(pub String);

impl Reached {
    /// The io error that stops a reader at this limit.
    pub(crate) fn error(message: String) -> io::Error {
        io::Error::other(Reached(message))
    }

    /// The limit an io error was made for, if it was.
    pub(crate) fn of(e: &io::Error) -> Option<&Reached> {
        e.get_ref()?.downcast_ref::<Reached>()
    }
}

/// `bytes` as the engineer reads a size: in GiB or MiB when whole, else in bytes.
pub(crate) fn size(bytes: u64) -> String {
    match bytes {
        _ if bytes >= 1 << 30 && bytes.is_multiple_of(1 << 30) => format!("{} GiB", bytes >> 30),
        _ if bytes >= 1 << 20 && bytes.is_multiple_of(1 << 20) => format!("{} MiB", bytes >> 20),
        _ => format!("{bytes} bytes"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hands out at most `step` bytes per read, as a pipe may.
    struct Pipe<'a>(&'a [u8], usize);

    impl Read for Pipe<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = buf.len().min(self.1).min(self.0.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    #[test]
    fn a_file_is_read_whole_up_to_its_limit_and_no_further() {
        let text: Vec<u8> = (0..1000u32)
            .flat_map(|i| format!("{i}\n").into_bytes())
            .collect();
        for step in [1, 7, 4096] {
            for guess in [0, 10, text.len() as u64, u64::MAX] {
                let read = |limit| read_at_most(Pipe(&text, step), limit, guess).unwrap();
                assert_eq!(read(text.len()), Ok(text.clone()), "{step} {guess}");
                assert_eq!(read(text.len() + 1), Ok(text.clone()));
                assert_eq!(read(text.len() - 1), Err(text[..text.len() - 1].to_vec()));
                assert_eq!(read(0), Err(Vec::new()));
            }
        }
        assert_eq!(read_at_most(Pipe(b"", 1), 0, 0).unwrap(), Ok(Vec::new()));
    }

    #[test]
    fn an_endless_input_stops_at_the_limit() {
        let limit = 10 * MIB + 3;
        let head = read_at_most(io::repeat(b'\n'), limit, 0)
            .unwrap()
            .unwrap_err();
        assert_eq!(head.len(), limit);
        // Grown exactly: no doubling past the limit.
        assert!(
            head.capacity() <= limit + 1 + 4 * MIB,
            "{}",
            head.capacity()
        );
    }

    #[test]
    fn a_side_file_past_its_limit_is_an_input_error_naming_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ranges.txt");
        let mut text = b"10.0.0.0/8\n".repeat(SideFile::AddressList.limit() / 11);
        std::fs::write(&path, &text).unwrap();
        assert_eq!(SideFile::AddressList.read(&path).unwrap(), text);
        text.extend(b"192.0.2.0/24\n");
        std::fs::write(&path, &text).unwrap();
        let err = SideFile::AddressList.read(&path).unwrap_err();
        assert_eq!(err.exit_code(), 4);
        let lines = SideFile::AddressList.limit() / 11 + 1;
        assert_eq!(
            err.to_string(),
            format!(
                "{}: line {lines}: larger than 4 MiB, the most an address list may hold; it \
                 was not read",
                path.display()
            )
        );
    }

    #[test]
    fn sizes_read_as_written() {
        assert_eq!(size(UNENDED_LINE), "1 GiB");
        assert_eq!(size(LINE as u64), "64 MiB");
        assert_eq!(size(10_000), "10000 bytes");
    }
}
