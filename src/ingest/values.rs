//! Inputs whose records are JSON values written over several lines: pretty-printed
//! documents back to back, and the API's arrays of audit events (pages concatenated).
//!
//! Values are cut from the stream one at a time, never a whole input or a whole
//! array at once, and each within its limit ([`limits::JSON_DOCUMENT`] for a
//! document, [`limits::AUDIT_EVENT`] for an element of an array): a string or an
//! array without an end stops the input with the line it started on, instead of
//! taking the machine's memory. The cut follows strings and brackets only; the text
//! is then parsed whole, so broken JSON is found where it breaks. A document is read
//! as the one-line JSON it stands for; only an audit event is built into a JSON tree.

use std::io::{self, BufRead};

use serde_json::Value;

use super::reader::LineReader;
use super::{Line, audit, json};
use crate::error::{Error, Result};
use crate::limits::{self, Reached};

/// The decoded input, cut into JSON values, with the line it is at.
struct Cutter<'a> {
    stream: &'a mut dyn BufRead,
    /// Line breaks consumed: the line being read is one more.
    newlines: u64,
}

/// How the cutting of one value ended.
#[derive(Debug, PartialEq)]
enum Cut {
    /// The value's text is whole, or the input ended inside it (parsing says so).
    Whole,
    /// The value went past its limit.
    TooLong,
}

/// Where the cutting of a value is.
#[derive(Default)]
struct Scan {
    /// Brackets open.
    depth: u64,
    in_string: bool,
    /// A backslash in a string ended the last buffer: the next byte is escaped.
    escaped: bool,
    /// The value is a number, `true`, `false` or `null`: it ends before a blank or a
    /// bracket, comma or quote.
    scalar: bool,
}

impl Scan {
    /// How far `bytes` belong to the value: `Ok(n)` when it ends after `n` of them,
    /// `Err(())` when all of them do and it goes on.
    fn extent(&mut self, bytes: &[u8]) -> std::result::Result<usize, ()> {
        let mut i = 0;
        if std::mem::take(&mut self.escaped) {
            i = 1;
        }
        while i < bytes.len() {
            if self.in_string {
                // Most of a JSON text is in strings: jump to what can end one.
                let Some(j) = memchr::memchr2(b'"', b'\\', &bytes[i..]) else {
                    return Err(());
                };
                let at = i + j;
                if bytes[at] == b'\\' {
                    if at + 1 == bytes.len() {
                        self.escaped = true;
                        return Err(());
                    }
                    i = at + 2;
                    continue;
                }
                self.in_string = false;
                i = at + 1;
                if self.depth == 0 {
                    return Ok(i);
                }
                continue;
            }
            if self.scalar {
                return match bytes[i..]
                    .iter()
                    .position(|b| b" \t\r\n,:[]{}\"".contains(b))
                {
                    Some(j) => Ok(i + j),
                    None => Err(()),
                };
            }
            match bytes[i] {
                b'"' => self.in_string = true,
                b'{' | b'[' => self.depth += 1,
                b'}' | b']' => {
                    self.depth = self.depth.saturating_sub(1);
                    if self.depth == 0 {
                        return Ok(i + 1);
                    }
                }
                _ if self.depth == 0 => {
                    self.scalar = true;
                    continue;
                }
                _ => {}
            }
            i += 1;
        }
        Err(())
    }
}

impl Cutter<'_> {
    fn line(&self) -> u64 {
        self.newlines + 1
    }

    /// Fills the stream's buffer, retrying an interrupted read. Once it is filled,
    /// asking for it again costs nothing.
    fn fill(&mut self) -> io::Result<&[u8]> {
        while let Err(e) = self.stream.fill_buf() {
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
        self.stream.fill_buf()
    }

    /// Consumes `n` bytes of the buffer, counting their line breaks.
    fn consume(&mut self, n: usize) -> io::Result<()> {
        let bytes = &self.stream.fill_buf()?[..n];
        self.newlines += memchr::memchr_iter(b'\n', bytes).count() as u64;
        self.stream.consume(n);
        Ok(())
    }

    /// The next byte that is not blank, left unread; `None` at the end of the input.
    /// A run of blanks without a line break is a line too, bounded like any line.
    fn next_byte(&mut self) -> io::Result<Option<u8>> {
        let mut unended = 0u64;
        loop {
            let available = self.fill()?;
            if available.is_empty() {
                return Ok(None);
            }
            let blanks = available
                .iter()
                .position(|b| !b" \t\r\n".contains(b))
                .unwrap_or(available.len());
            let next = available.get(blanks).copied();
            match memchr::memrchr(b'\n', &available[..blanks]) {
                Some(last) => unended = (blanks - last - 1) as u64,
                None => unended += blanks as u64,
            }
            self.consume(blanks)?;
            if next.is_some() {
                return Ok(next);
            }
            if unended > limits::UNENDED_LINE {
                return Err(Reached::error(format!(
                    "a line goes on for more than {} without an end",
                    limits::size(limits::UNENDED_LINE)
                )));
            }
        }
    }

    /// Consumes one byte the caller saw with [`next_byte`](Self::next_byte).
    fn take_byte(&mut self) -> io::Result<()> {
        self.consume(1)
    }

    /// Cuts the value that starts at the next byte into `text` (emptied first), up to
    /// `limit` bytes: past them, the cut stops (`Cut::TooLong`).
    fn value(&mut self, text: &mut Vec<u8>, limit: usize) -> io::Result<Cut> {
        text.clear();
        let mut scan = Scan::default();
        loop {
            let available = self.fill()?;
            if available.is_empty() {
                return Ok(Cut::Whole);
            }
            let (n, ended) = match scan.extent(available) {
                Ok(n) => (n, true),
                Err(()) => (available.len(), false),
            };
            let room = (limit + 1).saturating_sub(text.len());
            let n = n.min(room);
            grow(text, n, limit);
            text.extend_from_slice(&available[..n]);
            self.consume(n)?;
            if text.len() > limit {
                return Ok(Cut::TooLong);
            }
            if ended {
                return Ok(Cut::Whole);
            }
        }
    }
}

/// Makes room for `more` bytes in `text`, growing it by doubling but never past one
/// byte more than `limit`: a value near its limit takes the limit in memory, not
/// twice that.
fn grow(text: &mut Vec<u8>, more: usize, limit: usize) {
    let needed = text.len() + more;
    if needed > text.capacity() {
        let target = needed.max((text.capacity() * 2).min(limit + 1));
        text.reserve_exact(target - text.len());
    }
}

/// Why the values of an input stopped before its end.
enum Stop {
    /// Reading failed, or a blank line went on without an end, at this line.
    Read(u64, io::Error),
    /// The JSON breaks at this line.
    Broken(u64),
    /// A value that starts at this line goes past its limit.
    TooLong(u64),
    /// The reader of the records said to stop.
    Stopped(Error),
}

impl Stop {
    /// The error the engineer sees: `what` names the value a limit is for.
    fn error(self, reader: &LineReader, what: &str, limit: usize) -> Error {
        let path = reader.path().to_owned();
        match self {
            Stop::Read(line, e) => reader.read_error(line, e),
            Stop::Broken(line) => Error::InputLine {
                path,
                line,
                message: "the JSON cannot be read past this line".to_owned(),
            },
            Stop::TooLong(line) => Error::InputLine {
                path,
                line,
                message: format!(
                    "{what} longer than {} starts here, the most {}; the input was not read \
                     past it",
                    limits::size(limit as u64),
                    if limit == limits::AUDIT_EVENT {
                        "an audit event may hold"
                    } else {
                        "one may hold"
                    }
                ),
            },
            Stop::Stopped(e) => e,
        }
    }
}

impl Cutter<'_> {
    /// The next byte that is not blank, left unread (`None`: the input ended).
    fn next(&mut self) -> std::result::Result<Option<u8>, Stop> {
        self.next_byte().map_err(|e| Stop::Read(self.line(), e))
    }

    /// Cuts the value at the next byte into `text`; a value past `limit` stops.
    /// Returns the line it starts at.
    fn cut(&mut self, text: &mut Vec<u8>, limit: usize) -> std::result::Result<u64, Stop> {
        let start = self.line();
        match self.value(text, limit) {
            Ok(Cut::Whole) => Ok(start),
            Ok(Cut::TooLong) => Err(Stop::TooLong(start)),
            Err(e) => Err(Stop::Read(self.line(), e)),
        }
    }

    /// Consumes the byte [`next`](Self::next) saw.
    fn take(&mut self) -> std::result::Result<(), Stop> {
        self.take_byte().map_err(|e| Stop::Read(self.line(), e))
    }
}

/// `text`, which starts at line `start`, parsed as `T`; else where it breaks.
fn parse<'a, T: serde::Deserialize<'a>>(
    text: &'a [u8],
    start: u64,
) -> std::result::Result<T, Stop> {
    serde_json::from_slice(text)
        .map_err(|e| Stop::Broken(start + (e.line() as u64).saturating_sub(1)))
}

/// Pretty-printed objects back to back: each is read as the log line or audit event
/// it would be on one line, numbered from 1. Returns the last number.
pub(super) fn each_document(
    reader: &mut LineReader,
    flavor: json::Flavor,
    f: &mut impl FnMut(u64, Line<'_>) -> Result<()>,
) -> Result<u64> {
    let mut n = 0;
    let mut cutter = Cutter {
        stream: reader.reader(),
        newlines: 0,
    };
    let read = documents(&mut cutter, flavor, &mut n, f);
    read.map_err(|stop| stop.error(reader, "a JSON document", limits::JSON_DOCUMENT))?;
    Ok(n)
}

fn documents(
    cutter: &mut Cutter<'_>,
    flavor: json::Flavor,
    n: &mut u64,
    f: &mut impl FnMut(u64, Line<'_>) -> Result<()>,
) -> std::result::Result<(), Stop> {
    let mut text = Vec::new();
    while cutter.next()?.is_some() {
        let start = cutter.cut(&mut text, limits::JSON_DOCUMENT)?;
        // The text must be JSON before it is read as a line or an event.
        parse::<serde::de::IgnoredAny>(&text, start)?;
        *n += 1;
        f(*n, document(&text, flavor)).map_err(Stop::Stopped)?;
        super::chunks::trim(&mut text);
    }
    Ok(())
}

/// One document: an audit event when it has an event's keys, else a log line.
fn document(text: &[u8], flavor: json::Flavor) -> Line<'_> {
    if !audit::is_event_text(text) {
        return json::parse_line(text, flavor);
    }
    if text.len() > limits::AUDIT_EVENT {
        return Line::Malformed(audit::TOO_LONG);
    }
    match serde_json::from_slice::<Value>(text) {
        Ok(event) => audit::from_json(&event),
        Err(_) => Line::Malformed("not valid JSON"),
    }
}

/// Audit events from the API: one or more JSON arrays, back to back. Each element is
/// one record, numbered from 1, read and handed on before the next one is read; an
/// array that cannot be read stops the input with the physical line where it broke.
/// Returns the last number.
pub(super) fn each_array_element(
    reader: &mut LineReader,
    f: &mut impl FnMut(u64, Line<'_>) -> Result<()>,
) -> Result<u64> {
    let mut n = 0;
    let mut cutter = Cutter {
        stream: reader.reader(),
        newlines: 0,
    };
    let read = elements(&mut cutter, &mut n, f);
    read.map_err(|stop| stop.error(reader, "an element of the JSON array", limits::AUDIT_EVENT))?;
    Ok(n)
}

fn elements(
    cutter: &mut Cutter<'_>,
    n: &mut u64,
    f: &mut impl FnMut(u64, Line<'_>) -> Result<()>,
) -> std::result::Result<(), Stop> {
    /// Where the reading is among the arrays.
    #[derive(Clone, Copy, PartialEq)]
    enum At {
        /// Between arrays: a `[` or the end of the input.
        Between,
        /// After a `[`: an element or `]`.
        Open,
        /// After an element: `,` or `]`.
        Element,
        /// After a `,`: an element.
        Comma,
    }
    let mut text = Vec::new();
    let mut at = At::Between;
    loop {
        let next = cutter.next()?;
        match (next, at) {
            (None, At::Between) => return Ok(()),
            (Some(b'['), At::Between) => at = At::Open,
            (Some(b']'), At::Open | At::Element) => at = At::Between,
            (Some(b','), At::Element) => at = At::Comma,
            (Some(_), At::Open | At::Comma) => {
                let start = cutter.cut(&mut text, limits::AUDIT_EVENT)?;
                let event: Value = parse(&text, start)?;
                *n += 1;
                f(*n, audit::from_json(&event)).map_err(Stop::Stopped)?;
                super::chunks::trim(&mut text);
                at = At::Element;
                continue;
            }
            _ => return Err(Stop::Broken(cutter.line())),
        }
        cutter.take()?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn reader(text: &[u8]) -> LineReader {
        LineReader::from_reader(
            Path::new("t"),
            Box::new(io::Cursor::new(text.to_vec())),
            false,
        )
        .unwrap()
    }

    fn kind(line: &Line<'_>) -> String {
        match line {
            Line::Request(r) => format!("request {}", r.path),
            Line::Audit(e) => format!("audit {}", e.id.as_deref().unwrap_or("-")),
            Line::NotRequest => "not a request".to_owned(),
            Line::Malformed(why) => format!("malformed: {why}"),
        }
    }

    fn documents(text: &[u8]) -> Result<Vec<(u64, String)>> {
        let mut seen = Vec::new();
        each_document(&mut reader(text), json::Flavor::Auto, &mut |n, line| {
            seen.push((n, kind(&line)));
            Ok(())
        })?;
        Ok(seen)
    }

    fn elements(text: &[u8]) -> Result<Vec<(u64, String)>> {
        let mut seen = Vec::new();
        each_array_element(&mut reader(text), &mut |n, line| {
            seen.push((n, kind(&line)));
            Ok(())
        })?;
        Ok(seen)
    }

    const EVENT: &str = r#"{"id": 7, "entity_type": "Group", "entity_id": 60, "created_at": "2026-03-14T20:06:12Z"}"#;

    #[test]
    fn documents_are_lines_or_events_whatever_their_layout() {
        let text = format!(
            "{{\n  \"time\": \"2026-03-14T20:06:12Z\",\n  \"path\": \"/acme\"\n}}\n\n{EVENT}{{\"path\":\n\"/x\"}}\n \n"
        );
        assert_eq!(
            documents(text.as_bytes()).unwrap(),
            [
                (1, "request /acme".to_owned()),
                (2, "audit 7".to_owned()),
                (
                    3,
                    "malformed: a request without a valid time (with its zone)".to_owned(),
                ),
            ]
        );
        assert_eq!(documents(b"  \n\n").unwrap(), []);
    }

    /// Hands out one byte per read: every byte is a buffer's edge.
    struct Trickle(io::Cursor<Vec<u8>>);

    impl io::Read for Trickle {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = buf.len().min(1);
            self.0.read(&mut buf[..n])
        }
    }

    /// Escaped quotes and backslashes, brackets in strings and scalars are cut the same
    /// whether or not a buffer ends in them.
    #[test]
    fn values_are_cut_alike_across_buffer_edges() {
        let text = br#"[{"id": "a\"]}\\", "entity_type": "Group", "created_at": "2026-03-14T20:06:12Z", "x": [1, {"y": "}"}, true, null, -1.5e3]},
 {"id": 2, "entity_type": "Group", "created_at": "2026-03-14T20:06:12Z"}] [] ["#;
        let mut text = text.to_vec();
        text.extend(format!("{EVENT}]").as_bytes());
        let read = |inner: Box<dyn io::Read + Send>| {
            let mut r = LineReader::from_reader(Path::new("t"), inner, false).unwrap();
            let mut seen = Vec::new();
            each_array_element(&mut r, &mut |n, line| {
                seen.push((n, kind(&line)));
                Ok(())
            })
            .map(|_| seen)
        };
        let whole = read(Box::new(io::Cursor::new(text.clone()))).unwrap();
        assert_eq!(
            whole,
            [
                (1, "audit a\"]}\\".to_owned()),
                (2, "audit 2".to_owned()),
                (3, "audit 7".to_owned())
            ]
        );
        let trickled = read(Box::new(Trickle(io::Cursor::new(text)))).unwrap();
        assert_eq!(trickled, whole);
    }

    #[test]
    fn a_broken_document_stops_at_its_line() {
        let text = b"{\"a\": 1}\n{\n  \"b\": [1,\n  2,,\n]}\n";
        let err = documents(text).unwrap_err();
        assert_eq!(
            err.to_string(),
            "t: line 4: the JSON cannot be read past this line"
        );
    }

    #[test]
    fn arrays_are_read_element_by_element_pages_back_to_back() {
        let text = format!("[\n  {EVENT},\n  1,\n  {EVENT}\n][]\n\n[{EVENT}]");
        assert_eq!(
            elements(text.as_bytes()).unwrap(),
            [
                (1, "audit 7".to_owned()),
                (2, "malformed: not an audit event object".to_owned()),
                (3, "audit 7".to_owned()),
                (4, "audit 7".to_owned()),
            ]
        );
        let err = elements(format!("[{EVENT},\n{EVENT}\n{EVENT}]").as_bytes()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "t: line 3: the JSON cannot be read past this line"
        );
        // What the reader of the elements says stops the reading.
        let mut seen = 0;
        let err = each_array_element(
            &mut reader(format!("[{EVENT},{EVENT},{EVENT}]").as_bytes()),
            &mut |n, _| {
                seen = n;
                match n {
                    2 => Err(Error::Usage("enough".into())),
                    _ => Ok(()),
                }
            },
        )
        .unwrap_err();
        assert_eq!((seen, err.to_string()), (2, "enough".to_owned()));
    }

    #[test]
    fn an_element_past_its_limit_stops_the_input_at_the_line_it_starts_on() {
        let mut text =
            format!("[\n{EVENT},\n{{\"entity_type\": \"Group\", \"details\": \"").into_bytes();
        text.extend(std::iter::repeat_n(b'x', limits::AUDIT_EVENT));
        text.extend(b"\"}]");
        let err = elements(&text).unwrap_err();
        assert_eq!(
            err.to_string(),
            "t: line 3: an element of the JSON array longer than 4 MiB starts here, the most an \
             audit event may hold; the input was not read past it"
        );
        // Within it, an element is read.
        let fits = format!(
            "[{{\"id\": 1, \"entity_type\": \"Group\", \"created_at\": \"2026-03-14T20:06:12Z\", \"details\": \"{}\"}}]",
            "x".repeat(limits::AUDIT_EVENT - 200)
        );
        assert_eq!(
            elements(fits.as_bytes()).unwrap(),
            [(1, "audit 1".to_owned())]
        );
    }

    #[test]
    fn a_document_past_its_limit_stops_the_input_at_the_line_it_starts_on() {
        let mut text = b"{\"path\": \"/a\"}\n\n{\n  \"path\": \"".to_vec();
        text.extend(std::iter::repeat_n(b'x', limits::JSON_DOCUMENT));
        text.extend(b"\"\n}\n");
        let err = documents(&text).unwrap_err();
        assert_eq!(
            err.to_string(),
            "t: line 3: a JSON document longer than 64 MiB starts here, the most one may hold; \
             the input was not read past it"
        );
        // An audit event read whole as a document is malformed past its own limit.
        let event = format!(
            "{{\"entity_type\": \"Group\", \"created_at\": \"2026-03-14T20:06:12Z\", \"details\": \"{}\"}}",
            "x".repeat(limits::AUDIT_EVENT)
        );
        assert_eq!(
            documents(event.as_bytes()).unwrap(),
            [(1, format!("malformed: {}", audit::TOO_LONG))]
        );
    }
}
