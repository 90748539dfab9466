//! Inputs whose records are JSON values written over several lines: pretty-printed
//! documents back to back, and the API's arrays of audit events (pages concatenated).
//!
//! Values are read one at a time from the stream, never a whole input or a whole
//! array at once, and each within its limit ([`limits::JSON_DOCUMENT`] for a
//! document, [`limits::AUDIT_EVENT`] for an element of an array): a string or an
//! array without an end stops the input with the line it started on, instead of
//! taking the machine's memory. A document is kept as the text it is and read as the
//! one-line JSON it stands for; only an audit event is built into a JSON tree.

use std::cell::Cell;
use std::fmt;
use std::io::{self, BufRead, Read};

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, IgnoredAny, SeqAccess, Visitor};
use serde_json::Value;

use super::reader::LineReader;
use super::{Line, audit, json};
use crate::error::{Error, Result};
use crate::limits::{self, Reached};

/// Where the reading is, shared between the stream serde_json reads and the code
/// that drives it.
#[derive(Default)]
struct Place {
    /// Bytes handed out.
    at: Cell<u64>,
    /// Line breaks handed out: the line being read is one more.
    newlines: Cell<u64>,
    /// Reading fails past this many bytes.
    until: Cell<u64>,
    /// Set when it failed so.
    reached: Cell<bool>,
    /// The line of the first byte of the value being read, once it was read.
    start: Cell<Option<u64>>,
}

impl Place {
    fn line(&self) -> u64 {
        self.newlines.get() + 1
    }

    /// A value starts here: it may take `limit` bytes from here on.
    fn begin(&self, limit: usize) {
        self.until.set(self.at.get().saturating_add(limit as u64));
        self.start.set(None);
    }

    /// The line the value being read started on.
    fn start_line(&self) -> u64 {
        self.start.get().unwrap_or_else(|| self.line())
    }
}

/// The decoded input as serde_json reads it, byte by byte, counted.
struct Tracked<'a> {
    inner: &'a mut dyn BufRead,
    place: &'a Place,
    /// The bytes handed out since [`Tracked::keep`], when kept.
    kept: Option<Vec<u8>>,
}

impl Tracked<'_> {
    /// Keeps the bytes handed out from now on (a document's text), in `buffer`.
    fn keep(&mut self, mut buffer: Vec<u8>) {
        buffer.clear();
        self.kept = Some(buffer);
    }

    /// Skips whitespace up to the next value. `Ok(false)`: the input ended. A run of
    /// blanks without a line break is a line too, bounded like any line.
    fn skip_whitespace(&mut self) -> io::Result<bool> {
        let mut unended = 0u64;
        loop {
            let available = match self.inner.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if available.is_empty() {
                return Ok(false);
            }
            let blanks = available
                .iter()
                .position(|b| !b" \t\r\n".contains(b))
                .unwrap_or(available.len());
            let skipped = &available[..blanks];
            match memchr::memrchr(b'\n', skipped) {
                Some(last) => unended = (skipped.len() - last - 1) as u64,
                None => unended += skipped.len() as u64,
            }
            let newlines = memchr::memchr_iter(b'\n', skipped).count() as u64;
            self.place
                .newlines
                .set(self.place.newlines.get() + newlines);
            self.place.at.set(self.place.at.get() + blanks as u64);
            let more = blanks < available.len();
            self.inner.consume(blanks);
            if more {
                return Ok(true);
            }
            if unended > limits::UNENDED_LINE {
                return Err(Reached::error(format!(
                    "a line goes on for more than {} without an end",
                    limits::size(limits::UNENDED_LINE)
                )));
            }
        }
    }
}

impl Read for Tracked<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let place = self.place;
        let room = place.until.get().saturating_sub(place.at.get());
        if room == 0 && !out.is_empty() {
            place.reached.set(true);
            return Err(io::Error::other("the limit of a JSON value"));
        }
        let available = self.inner.fill_buf()?;
        let n = available
            .len()
            .min(out.len())
            .min(usize::try_from(room).unwrap_or(usize::MAX));
        let bytes = &available[..n];
        out[..n].copy_from_slice(bytes);
        if place.start.get().is_none()
            && let Some(first) = bytes.iter().position(|b| !b" \t\r\n,".contains(b))
        {
            let before = memchr::memchr_iter(b'\n', &bytes[..first]).count() as u64;
            place.start.set(Some(place.line() + before));
        }
        let newlines = memchr::memchr_iter(b'\n', bytes).count() as u64;
        place.newlines.set(place.newlines.get() + newlines);
        place.at.set(place.at.get() + n as u64);
        if let Some(kept) = &mut self.kept {
            kept.extend_from_slice(bytes);
        }
        self.inner.consume(n);
        Ok(n)
    }
}

/// Why reading JSON values stopped, as the engineer reads it: the value's limit
/// (`what` says which), else the line where the JSON broke, which is where serde_json
/// stopped reading.
fn failure(reader: &LineReader, place: &Place, what: &str) -> Error {
    let path = reader.path().to_owned();
    if place.reached.get() {
        return Error::InputLine {
            path,
            line: place.start_line(),
            message: what.to_owned(),
        };
    }
    Error::InputLine {
        path,
        line: place.line(),
        message: "the JSON cannot be read past this line".to_owned(),
    }
}

/// The error for a blank run that went on without an end, or a read that failed
/// between values.
fn between(reader: &LineReader, place: &Place, e: io::Error) -> Error {
    reader.read_error(place.line(), e)
}

/// Pretty-printed objects back to back: each is read as the log line or audit event
/// it would be on one line, numbered from 1. Returns the last number.
pub(super) fn each_document(
    reader: &mut LineReader,
    flavor: json::Flavor,
    f: &mut impl FnMut(u64, Line<'_>) -> Result<()>,
) -> Result<u64> {
    let place = Place::default();
    let mut text = Vec::new();
    let mut n = 0;
    loop {
        let mut tracked = Tracked {
            inner: reader.reader(),
            place: &place,
            kept: None,
        };
        match tracked.skip_whitespace() {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => return Err(between(reader, &place, e)),
        }
        place.begin(limits::JSON_DOCUMENT);
        place.start.set(Some(place.line()));
        tracked.keep(std::mem::take(&mut text));
        let read =
            IgnoredAny::deserialize(&mut serde_json::Deserializer::from_reader(&mut tracked));
        text = tracked.kept.take().unwrap_or_default();
        if read.is_err() {
            let what = format!(
                "a JSON document longer than {} starts here, the most one may hold; the input \
                 was not read past it",
                limits::size(limits::JSON_DOCUMENT as u64)
            );
            return Err(failure(reader, &place, &what));
        }
        n += 1;
        f(n, document(&text, flavor))?;
        super::chunks::trim(&mut text);
    }
    Ok(n)
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
    let place = Place::default();
    let mut n = 0;
    loop {
        let mut tracked = Tracked {
            inner: reader.reader(),
            place: &place,
            kept: None,
        };
        match tracked.skip_whitespace() {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => return Err(between(reader, &place, e)),
        }
        place.begin(limits::AUDIT_EVENT);
        let mut stopped = None;
        let page = Page {
            place: &place,
            n: &mut n,
            f: &mut *f,
            stopped: &mut stopped,
        };
        let read = page.deserialize(&mut serde_json::Deserializer::from_reader(&mut tracked));
        if let Some(e) = stopped {
            return Err(e);
        }
        if read.is_err() {
            let what = format!(
                "an element of the JSON array longer than {} starts here, the most an audit \
                 event may hold; the input was not read past it",
                limits::size(limits::AUDIT_EVENT as u64)
            );
            return Err(failure(reader, &place, &what));
        }
    }
    Ok(n)
}

/// One array of events, handed on element by element.
struct Page<'a, F> {
    place: &'a Place,
    /// The number of the last element handed on.
    n: &'a mut u64,
    f: &'a mut F,
    /// The error `f` stopped the reading with.
    stopped: &'a mut Option<Error>,
}

impl<'de, F: FnMut(u64, Line<'_>) -> Result<()>> DeserializeSeed<'de> for Page<'_, F> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de, F: FnMut(u64, Line<'_>) -> Result<()>> Visitor<'de> for Page<'_, F> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of audit events")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        loop {
            self.place.begin(limits::AUDIT_EVENT);
            let Some(event) = seq.next_element::<Value>()? else {
                return Ok(());
            };
            *self.n += 1;
            if let Err(e) = (self.f)(*self.n, audit::from_json(&event)) {
                *self.stopped = Some(e);
                return Err(de::Error::custom("stopped"));
            }
        }
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
