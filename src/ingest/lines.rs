//! Reading an input's records in order: the zone of times without one, the syntax of
//! line-based formats, and `each_line` over every format (CSV records, JSON documents
//! and arrays, lines through the line cutter).

use chrono::{DateTime, LocalResult, NaiveDateTime, TimeZone, Utc};

use super::plausible;
use super::reader::Dropped;
use super::{Format, Line, audit, chunks, json, kibana, nginx, reader, values};
use crate::error::Error;

/// The zone of times written without one (`--input-tz`): UTC or a fixed offset, or an
/// IANA zone, whose offset changes with daylight saving time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Zone {
    Fixed(chrono::FixedOffset),
    Named(chrono_tz::Tz),
}

impl Zone {
    /// An IANA zone by name (`Europe/Berlin`), in any case.
    pub(crate) fn named(name: &str) -> Option<Zone> {
        let name = name.trim();
        chrono_tz::TZ_VARIANTS
            .iter()
            .find(|tz| tz.name().eq_ignore_ascii_case(name))
            .map(|&tz| Zone::Named(tz))
    }

    /// The instant a local time names in this zone. Where daylight saving time makes
    /// that no single instant, nothing is guessed: a time in the spring gap never
    /// happened, and one in the autumn hour that repeats happened twice, an hour
    /// apart, and either could be meant. `Err` says which, for a malformed line.
    pub(crate) fn instant(self, local: NaiveDateTime) -> Result<DateTime<Utc>, &'static str> {
        let found = match self {
            Zone::Fixed(offset) => offset.from_local_datetime(&local).map(|t| t.to_utc()),
            Zone::Named(tz) => tz.from_local_datetime(&local).map(|t| t.to_utc()),
        };
        match found {
            LocalResult::Single(t) => Ok(t),
            LocalResult::Ambiguous(..) => {
                Err("a local time in the hour --input-tz repeats when clocks go back")
            }
            LocalResult::None => {
                Err("a local time in the hour --input-tz skips when clocks go forward")
            }
        }
    }
}

/// How the lines of one input are read.
#[derive(Debug, Clone, Copy, Default)]
#[cfg_attr(not(fuzzing), allow(unreachable_pub))]
pub struct ReadOptions {
    /// The format named by `--format-hint`, if any; a hinted JSON flavour is strict.
    pub(crate) hint: Option<Format>,
    /// The zone of times written without one (Kibana's `@timestamp`); `None` when
    /// `--input-tz` was not given, and such times are not guessed.
    pub(crate) input_tz: Option<Zone>,
}

/// How the lines of a line-based format are written; other formats have records
/// that are not lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LineSyntax {
    /// GitLab's JSON logs.
    Json,
    /// NGINX's combined format.
    Nginx,
    /// Audit events, one JSON object per line.
    AuditEvents,
}

/// The syntax of a format whose records are lines, or `None`.
pub(crate) fn line_syntax(format: Format) -> Option<LineSyntax> {
    match format {
        Format::RailsJson | Format::WorkhorseJson | Format::Empty => Some(LineSyntax::Json),
        Format::Nginx => Some(LineSyntax::Nginx),
        Format::AuditNdjson => Some(LineSyntax::AuditEvents),
        Format::KibanaCsv | Format::JsonDocuments | Format::AuditJson | Format::AuditCsv => None,
    }
}

/// The JSON flavour `options` ask for: a hinted one is strict.
pub(crate) fn flavor(options: &ReadOptions) -> json::Flavor {
    match options.hint {
        Some(Format::RailsJson) => json::Flavor::Rails,
        Some(Format::WorkhorseJson) => json::Flavor::Workhorse,
        _ => json::Flavor::Auto,
    }
}

/// Parses one line (without its terminator) of a line-based format.
pub(crate) fn parse_line(format: Format, flavor: json::Flavor, bytes: &[u8]) -> Line<'_> {
    let line = match line_syntax(format) {
        Some(LineSyntax::Nginx) => nginx::parse_line(bytes),
        Some(LineSyntax::AuditEvents) => audit::parse_ndjson_line(bytes),
        _ => json::parse_line(bytes, flavor),
    };
    plausible(line)
}

/// Reads every line (for CSV, every record) of `reader` as `format`, handing each to
/// `f` with its 1-based line number. A CSV header counts as a line that is not a
/// request; a CSV record that spans several physical lines counts once. The garbage
/// after the last member of a gzip file is one more line, malformed. An error from `f`
/// stops the reading and is returned.
///
/// A Kibana export whose times have no zone, read without `--input-tz`, is refused
/// with a usage error before any of its records is handed on (see [`kibana`]). Every
/// record is read within its limit (see [`crate::limits`]).
#[cfg_attr(not(fuzzing), allow(unreachable_pub))]
pub fn each_line(
    reader: &mut reader::LineReader,
    format: Format,
    options: &ReadOptions,
    mut f: impl FnMut(u64, Line<'_>) -> crate::error::Result<()>,
) -> crate::error::Result<()> {
    let flavor = flavor(options);
    // Line-based formats check their times in `parse_line`; the others here.
    let mut f = |n: u64, line: Line<'_>| match line_syntax(format) {
        Some(_) => f(n, line),
        None => f(n, plausible(line)),
    };
    let last = match format {
        Format::KibanaCsv | Format::AuditCsv => {
            each_csv_record(reader, format, flavor, options.input_tz, &mut f)?
        }
        Format::AuditJson => values::each_array_element(reader, &mut f)?,
        Format::JsonDocuments => values::each_document(reader, flavor, &mut f)?,
        // Line-based formats are cut as `summarize` cuts them, so that both agree on
        // every line's number and bucket.
        _ => {
            return chunks::each_line(reader, format, flavor, f);
        }
    };
    if reader.trailing_garbage() {
        f(last + 1, Line::Malformed(Dropped::TrailingGarbage.reason()))?;
    }
    Ok(())
}

/// How many records of a Kibana export, at most, decide whether its times need
/// `--input-tz`. They are held back until then, so a refused file hands on nothing.
const ZONE_SAMPLE: usize = 100;

/// The most bytes of records held back for that decision: fewer records decide when
/// they are long.
const ZONE_SAMPLE_BYTES: usize = crate::limits::CSV_RECORD;

/// The stream a CSV reader reads, which fails once a record goes on past its limit
/// ([`crate::limits::CSV_RECORD`]): the csv crate grows a record without bound.
struct RecordBudget<R> {
    inner: R,
    /// Bytes handed out.
    at: u64,
    /// Reading fails past this many bytes.
    until: u64,
    reached: bool,
}

impl<R: std::io::Read> std::io::Read for RecordBudget<R> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let room = self.until.saturating_sub(self.at);
        if room == 0 && !out.is_empty() {
            self.reached = true;
            return Err(std::io::Error::other("the limit of a CSV record"));
        }
        let most = out.len().min(usize::try_from(room).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut out[..most])?;
        self.at += n as u64;
        Ok(n)
    }
}

/// The records of a CSV export. Returns the number of the physical line after the
/// last record, less one (the last line, for what follows it).
fn each_csv_record(
    reader: &mut reader::LineReader,
    format: Format,
    flavor: json::Flavor,
    zone: Option<Zone>,
    f: &mut impl FnMut(u64, Line<'_>) -> crate::error::Result<()>,
) -> crate::error::Result<u64> {
    use crate::limits::{CSV_FIELDS, CSV_RECORD};
    let path = reader.path().to_owned();
    let stream = RecordBudget {
        inner: reader.reader(),
        at: 0,
        until: CSV_RECORD as u64,
        reached: false,
    };
    let mut csv = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(stream);
    let stop = |line, message: String| Error::InputLine {
        path: path.clone(),
        line,
        message: format!("{message}; the input was not read past it"),
    };
    let mut record = csv::ByteRecord::new();
    let mut audit_columns: Option<audit::CsvColumns> = None;
    let mut kibana: Option<KibanaRecords> = None;
    let mut last = 0;
    loop {
        let line_no = csv.position().line();
        // The csv reader reads ahead of the record by its buffer; the limit allows it.
        let next = csv.position().byte() + CSV_RECORD as u64;
        csv.get_mut().until = next + (64 << 10);
        match csv.read_byte_record(&mut record) {
            Ok(false) => break,
            Ok(true) => last = line_no,
            Err(e) => return Err(csv_failure(path, line_no, &e, csv.get_ref().reached)),
        }
        if record.len() > CSV_FIELDS {
            return Err(stop(
                line_no,
                format!("a CSV record of more than {CSV_FIELDS} fields, the most one may hold"),
            ));
        }
        if format == Format::AuditCsv {
            match &audit_columns {
                Some(cols) => f(line_no, cols.event(&record))?,
                None => {
                    audit_columns = Some(audit::CsvColumns::new(&record));
                    f(line_no, Line::NotRequest)?;
                }
            }
            continue;
        }
        match &mut kibana {
            Some(records) => records.take(&path, line_no, &record, f)?,
            None => {
                kibana = Some(KibanaRecords {
                    columns: kibana::Columns::new(&record),
                    zone,
                    flavor,
                    held: Some(Vec::new()),
                    held_bytes: 0,
                });
                f(line_no, Line::NotRequest)?;
            }
        }
    }
    if let Some(records) = &mut kibana {
        records.release(&path, f)?;
    }
    Ok(csv.position().line().max(last + 1) - 1)
}

/// Why a CSV export cannot be read on from `line_no`: a record over its limit
/// (`reached`), a failed read, or CSV that does not parse.
fn csv_failure(path: std::path::PathBuf, line_no: u64, e: &csv::Error, reached: bool) -> Error {
    use crate::limits::{CSV_RECORD, size};
    if reached {
        return Error::InputLine {
            path,
            line: line_no,
            message: format!(
                "a CSV record longer than {} starts here, the most one may hold; the input was \
                 not read past it",
                size(CSV_RECORD as u64)
            ),
        };
    }
    let line = e.position().map_or(line_no, |p| p.line());
    Error::InputLine {
        path,
        line,
        message: match e.kind() {
            csv::ErrorKind::Io(_) => "read failed; the records after this one were not read".into(),
            _ => "the CSV cannot be read past this record".into(),
        },
    }
}

/// The records of a Kibana export after its header.
struct KibanaRecords {
    columns: kibana::Columns,
    zone: Option<Zone>,
    flavor: json::Flavor,
    /// The first records, until they decide whether the export needs a zone.
    held: Option<Vec<(u64, csv::ByteRecord)>>,
    /// Their bytes.
    held_bytes: usize,
}

impl KibanaRecords {
    fn take(
        &mut self,
        path: &std::path::Path,
        line_no: u64,
        record: &csv::ByteRecord,
        f: &mut impl FnMut(u64, Line<'_>) -> crate::error::Result<()>,
    ) -> crate::error::Result<()> {
        if let Some(held) = &mut self.held {
            // A copy of the record's size: a clone would copy the whole buffer the
            // reader grew for the longest record so far.
            let mut copy = csv::ByteRecord::with_capacity(record.as_slice().len(), record.len());
            record.iter().for_each(|field| copy.push_field(field));
            self.held_bytes += record.as_slice().len() + record.len() * size_of::<usize>();
            held.push((line_no, copy));
            if held.len() < ZONE_SAMPLE && self.held_bytes < ZONE_SAMPLE_BYTES {
                return Ok(());
            }
            return self.release(path, f);
        }
        self.hand_on(line_no, record, f)
    }

    /// Decides on the records held back, then hands them on.
    fn release(
        &mut self,
        path: &std::path::Path,
        f: &mut impl FnMut(u64, Line<'_>) -> crate::error::Result<()>,
    ) -> crate::error::Result<()> {
        let Some(held) = self.held.take() else {
            return Ok(());
        };
        if self.zone.is_none()
            && let Some((line, _)) = held.iter().find(|(_, r)| self.columns.needs_zone(r))
        {
            return Err(Error::Usage(format!(
                "{}: line {line}: the Kibana export's times have no zone (Kibana writes \
                 @timestamp in the zone of the browser it was exported from); name that zone \
                 with --input-tz, for example --input-tz Europe/Berlin or --input-tz +01:00 \
                 (--input-tz UTC if the browser was set to UTC), or export the json.time column",
                path.display()
            )));
        }
        for (line_no, record) in &held {
            self.hand_on(*line_no, record, f)?;
        }
        Ok(())
    }

    fn hand_on(
        &self,
        line_no: u64,
        record: &csv::ByteRecord,
        f: &mut impl FnMut(u64, Line<'_>) -> crate::error::Result<()>,
    ) -> crate::error::Result<()> {
        match kibana::record_to_json(&self.columns, record, self.zone) {
            Ok(json) => f(line_no, json::parse_line(&json, self.flavor)),
            Err(why) => f(line_no, Line::Malformed(why)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::detect;

    fn reader_of(stored: Vec<u8>) -> reader::LineReader {
        reader::LineReader::from_reader(
            std::path::Path::new("t"),
            Box::new(std::io::Cursor::new(stored)),
            true,
        )
        .unwrap()
    }

    fn gzip(text: &[u8]) -> Vec<u8> {
        use std::io::Write;
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(text).unwrap();
        enc.finish().unwrap()
    }

    /// What `each_line` hands on: (line number, what the line is).
    fn read_all(
        stored: Vec<u8>,
        options: &ReadOptions,
    ) -> crate::error::Result<Vec<(u64, String)>> {
        let mut r = reader_of(stored);
        let format = detect(r.peek().unwrap(), options.hint).expect("a known format");
        let mut seen = Vec::new();
        each_line(&mut r, format, options, |n, line| {
            let what = match line {
                Line::Request(r) => format!("request {} {}", r.path, r.time.to_rfc3339()),
                Line::Audit(_) => "audit".to_owned(),
                Line::NotRequest => "not a request".to_owned(),
                Line::Malformed(why) => format!("malformed: {why}"),
            };
            seen.push((n, what));
            Ok(())
        })?;
        Ok(seen)
    }

    #[test]
    fn detection_through_a_byte_order_mark_and_a_long_first_line() {
        let rails = br#"{"time":"2026-03-14T20:06:12Z","path":"/acme/docs"}"#;
        let kibana = b"@timestamp,json.time,json.path\n-,2026-03-14T20:06:12Z,/acme\n";
        let bom = |text: &[u8]| [b"\xEF\xBB\xBF".as_slice(), text].concat();
        let mut long = br#"{"time":"2026-03-14T20:06:12Z","path":"/acme/docs","params":""#.to_vec();
        long.extend(std::iter::repeat_n(b'q', 600 * 1024));
        long.extend(b"\"}\n");
        long.extend(rails);
        let cases: Vec<(&str, Vec<u8>, Format)> = vec![
            ("JSON after a BOM", bom(rails), Format::RailsJson),
            (
                "gzip JSON after a BOM",
                gzip(&bom(rails)),
                Format::RailsJson,
            ),
            ("Kibana header after a BOM", bom(kibana), Format::KibanaCsv),
            ("a first line of 600 KiB", long.clone(), Format::RailsJson),
            ("the same in gzip", gzip(&long), Format::RailsJson),
        ];
        for (why, stored, want) in cases {
            let mut r = reader_of(stored.clone());
            assert_eq!(detect(r.peek().unwrap(), None), Some(want), "{why}");
            let lines = read_all(stored, &ReadOptions::default()).unwrap();
            assert!(
                lines.iter().all(|(_, l)| !l.starts_with("malformed")),
                "{why}: {lines:?}"
            );
        }
    }

    #[test]
    fn a_kibana_export_without_zones_needs_input_tz() {
        let export = b"@timestamp,json.path\n\"Mar 14, 2026 @ 21:06:12.345\",/acme\n\"Mar 14, 2026 @ 21:07:00.000\",/acme\n".to_vec();
        let err = read_all(export.clone(), &ReadOptions::default()).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        let message = err.to_string();
        assert!(message.starts_with("t: line 2: "), "{message}");
        assert!(
            message.contains("--input-tz") && !message.contains("/acme"),
            "{message}"
        );

        let berlin = ReadOptions {
            input_tz: Zone::named("Europe/Berlin"),
            ..ReadOptions::default()
        };
        assert_eq!(
            read_all(export, &berlin).unwrap(),
            [
                (1, "not a request".to_owned()),
                (2, "request /acme 2026-03-14T20:06:12.345+00:00".to_owned()),
                (3, "request /acme 2026-03-14T20:07:00+00:00".to_owned()),
            ]
        );

        // With json.time, nothing is needed; a record without it, past the first ones
        // that decided, cannot be placed in time and is malformed, not guessed.
        let mut with_time = b"@timestamp,json.time,json.path\n".to_vec();
        for _ in 0..ZONE_SAMPLE {
            with_time.extend(b"\"Mar 14, 2026 @ 21:06:12.345\",2026-03-14T20:06:12.345Z,/acme\n");
        }
        with_time.extend(b"\"Mar 14, 2026 @ 21:06:12.345\",-,/acme\n");
        let lines = read_all(with_time, &ReadOptions::default()).unwrap();
        assert_eq!(lines.len(), ZONE_SAMPLE + 2);
        assert_eq!(
            lines.last().unwrap(),
            &(
                ZONE_SAMPLE as u64 + 2,
                "malformed: a time without a zone, and no --input-tz".to_owned()
            )
        );

        // An export with only a header needs nothing.
        assert_eq!(
            read_all(b"@timestamp,json.path\n".to_vec(), &ReadOptions::default())
                .unwrap()
                .len(),
            1
        );
    }

    #[test]
    fn garbage_after_gzip_members_is_the_last_malformed_line_in_every_shape() {
        let event =
            r#"{"id":1,"entity_type":"Group","entity_id":60,"created_at":"2026-03-14T20:06:12Z"}"#;
        let utc = ReadOptions {
            input_tz: Zone::named("UTC"),
            ..ReadOptions::default()
        };
        let shapes: Vec<(&str, String, u64)> = vec![
            (
                "JSON lines",
                "{\"time\":\"2026-03-14T20:06:12Z\",\"path\":\"/acme\"}\n".repeat(2),
                3,
            ),
            (
                "Kibana CSV",
                "@timestamp,json.path\n\"Mar 14, 2026 @ 21:06:12.345\",/acme\n".to_owned(),
                3,
            ),
            ("API pages", format!("[{event},{event}]\n"), 3),
            (
                "pretty-printed objects",
                "{\n\"time\": \"2026-03-14T20:06:12Z\",\n\"path\": \"/x\"\n}\n".to_owned(),
                2,
            ),
        ];
        for (why, text, want) in shapes {
            let mut stored = gzip(text.as_bytes());
            stored.extend(b"\x00\x00garbage\n{\"path\":\"/acme\"}\n");
            let lines = read_all(stored, &utc).unwrap();
            let (n, what) = lines.last().unwrap();
            assert_eq!(*n, want, "{why}: {lines:?}");
            assert_eq!(
                what, "malformed: bytes after the last gzip member that are not gzip",
                "{why}"
            );
            assert_eq!(
                lines
                    .iter()
                    .filter(|(_, l)| l.starts_with("malformed"))
                    .count(),
                1,
                "{why}"
            );
        }
    }
}
