//! Reading every input into records for counting: each line lands in a bucket of the
//! reconciliation or becomes a record in the requester's scope (RULES.md §6).
//!
//! Line-based formats (JSON logs, NGINX, streaming audit events) are read in
//! line-aligned chunks: one thread reads, decompresses and hashes, the others search
//! each chunk with the [`Prefilter`] and parse only the lines it finds. Results are
//! put back in input order, so the output does not depend on the number of threads.
//! Other formats (CSV, JSON arrays and documents) are read record by record.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::net::IpAddr;
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::Ordering;

use chrono::Utc;
use crossbeam_channel::{Receiver, Sender, bounded, unbounded};

use crate::aggregate::{Counted, Identity, InputSummary, Names, Reconciliation};
use crate::config::Story;
use crate::directory::{self, Directory, Verified};
use crate::error::{Error, Result};
use crate::exclude::Rule;
use crate::geo;
use crate::guard::Canaries;
use crate::ingest::chunks::{self, CHUNK, Chunk, LongOneAtATime};
use crate::ingest::reader::{LineReader, MAX_LINE};
use crate::ingest::{self, Format, Line, LineSyntax, Source};
use crate::limits;
use crate::manifest::Manifest;
use crate::progress::Progress;
use crate::scope::prefilter::{self, Prefilter, Syntax};
use crate::vocabulary;

use super::{Audience, Reading};
use crate::scope;

/// How many malformed line numbers an input reports.
const MALFORMED_SHOWN: usize = 5;

/// One request attributed to the requester's scope, before deduplication.
pub(crate) struct Scoped {
    /// Where the line is: input and line number, for reading order.
    pub(crate) at: At,
    /// The line's bytes, by their hash: the same line in two inputs is one request.
    pub(crate) key: Option<LineKey>,
    pub(crate) source: Source,
    pub(crate) correlation_id: Option<Box<str>>,
    pub(crate) rule: Option<Rule>,
    /// From the requester's own addresses (`--client-ip`).
    pub(crate) from_client: bool,
    pub(crate) git_challenge: bool,
    pub(crate) counted: Counted,
}

/// A request from the requester's addresses to a path outside their namespaces: for
/// the IP-block story, counted without its path.
pub(crate) struct Elsewhere {
    pub(crate) at: At,
    pub(crate) key: Option<LineKey>,
    pub(crate) source: Source,
    pub(crate) correlation_id: Option<Box<str>>,
    pub(crate) status: Option<u16>,
    pub(crate) time: chrono::DateTime<Utc>,
    pub(crate) git_challenge: bool,
}

/// One audit event attributed to the requester's scope, before deduplication: what
/// counting needs and nothing more, in 64 bytes whatever the event holds, so that
/// millions of events fit in memory (RULES.md §11; at most
/// [`limits::AUDIT_EVENTS_HELD`] are kept).
#[derive(Hash)]
pub(crate) struct ScopedEvent {
    pub(crate) id: Option<Identity>,
    pub(crate) rule: Option<Rule>,
    pub(crate) time: chrono::DateTime<Utc>,
    /// A label of the vocabulary, by its code.
    pub(crate) action: vocabulary::Code,
    /// The author's id, else their name in lower case (by its digest).
    pub(crate) author: Option<Identity>,
}

/// An audit event in the scope read but not yet kept: its line, and, when it has an
/// id, the digest of all it holds.
struct Pending {
    line: u64,
    event: ScopedEvent,
    content: Option<[u8; 16]>,
}

/// Which audit events in the scope are kept, decided in reading order over every
/// input: at most [`limits::AUDIT_EVENTS_HELD`], and an event with an id whose content
/// is the same as one kept before is counted `duplicate` at once (an export saved
/// twice, a page repeated), as deduplication would count it, without being kept.
#[derive(Default)]
pub(crate) struct Hold {
    /// The content of every event kept that has an id.
    kept: HashSet<[u8; 16]>,
    count: usize,
}

/// The first 128 bits of the SHA-256 of what an event holds.
fn content_digest(event: &ScopedEvent) -> [u8; 16] {
    use sha2::{Digest, Sha256};
    use std::hash::{Hash, Hasher};
    /// Feeds what `Hash` writes to SHA-256.
    struct Feed(Sha256);
    impl Hasher for Feed {
        fn write(&mut self, bytes: &[u8]) {
            self.0.update(bytes);
        }
        fn finish(&self) -> u64 {
            unreachable!("only the digest is read")
        }
    }
    let mut feed = Feed(Sha256::new());
    event.hash(&mut feed);
    let digest = feed.0.finalize();
    let mut first = [0u8; 16];
    first.copy_from_slice(&digest[..16]);
    first
}

/// A line's place in the inputs: the input's index and the line's number in it.
pub(crate) type At = (usize, u64);

/// The 128-bit hash of a line's bytes without its end, for lines that are records of
/// their own (RULES.md §6: overlapping exports). Bytes, not a `u128`, so that it adds
/// 17 bytes to a record, not 32.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct LineKey([u8; 16]);

impl LineKey {
    fn of(line: &[u8]) -> LineKey {
        let line = line.strip_suffix(b"\n").unwrap_or(line);
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        LineKey(xxhash_rust::xxh3::xxh3_128(line).to_le_bytes())
    }
}

/// A parsed request outside the scope that another component may have logged too:
/// if its twin is in the scope, the most complete of them decides (RULES.md §6).
pub(crate) struct Twin {
    pub(crate) at: At,
    pub(crate) source: Source,
    pub(crate) correlation_id: Box<str>,
}

/// The first and last time of the records of the story's kind in the inputs, whether
/// in scope or not: the period the logs cover.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Coverage {
    pub(crate) first: Option<chrono::DateTime<Utc>>,
    pub(crate) last: Option<chrono::DateTime<Utc>>,
}

impl Coverage {
    fn add(&mut self, t: chrono::DateTime<Utc>) {
        self.first = Some(self.first.map_or(t, |f| f.min(t)));
        self.last = Some(self.last.map_or(t, |l| l.max(t)));
    }

    fn join(&mut self, other: Coverage) {
        other
            .first
            .into_iter()
            .chain(other.last)
            .for_each(|t| self.add(t));
    }
}

/// What reading every input produced.
#[derive(Default)]
pub(crate) struct Collected {
    pub(crate) reconciliation: Reconciliation,
    pub(crate) inputs: Vec<InputSummary>,
    pub(crate) scoped: Vec<Scoped>,
    pub(crate) events: Vec<ScopedEvent>,
    pub(crate) elsewhere: Vec<Elsewhere>,
    pub(crate) twins: Vec<Twin>,
    pub(crate) coverage: Coverage,
    /// For the engineer: said on standard error and in the internal note.
    pub(crate) warnings: Vec<String>,
    /// The top-level groups that audit events out of scope are about, to say how
    /// many when none is in scope (kept in memory, never printed).
    pub(crate) foreign_roots: BTreeSet<String>,
    /// Malformed lines that may concern the scope (RULES.md §9).
    pub(crate) unreadable_in_scope: u64,
    /// The times each line-based request log covers, for the gaps in the logs.
    pub(crate) timelines: Vec<Timeline>,
}

/// The stretches of time one request log's lines cover, and how many lines it has.
pub(crate) struct Timeline {
    pub(crate) lines: u64,
    pub(crate) spans: Vec<Span>,
}

/// What every line of every input is read against.
pub(crate) struct Context<'a> {
    pub(crate) reading: &'a Reading<'a>,
    pub(crate) dir: &'a Directory,
    pub(crate) verified: &'a Verified,
    pub(crate) geoip: Option<&'a geo::GeoIp>,
    /// Where the records' texts are kept, once each.
    pub(crate) names: &'a Names,
    /// Which audit events in the scope are kept; only the thread that puts results
    /// in reading order takes it.
    pub(crate) hold: Mutex<Hold>,
}

/// Where one input's lines went, and the records they made. A chunk's part numbers
/// its lines from 1 within the chunk until [`Part::append`] places it.
#[derive(Default)]
struct Part {
    rec: Reconciliation,
    malformed_lines: Vec<u64>,
    /// Why the first malformed line is malformed (the program's words, never the line's).
    first_malformed: Option<&'static str>,
    scoped: Vec<Scoped>,
    events: Vec<ScopedEvent>,
    /// Audit events in the scope before [`Part::admit`] keeps them or not.
    pending: Vec<Pending>,
    elsewhere: Vec<Elsewhere>,
    twins: Vec<Twin>,
    /// Records of the story's kind read, in scope or not.
    records: u64,
    coverage: Coverage,
    /// The stretches of time the lines cover, in reading order (see [`Search::sample`]).
    spans: Vec<Span>,
    foreign_roots: BTreeSet<String>,
    /// Malformed lines that may concern the scope: the counts may be low by as many.
    unreadable_in_scope: u64,
    /// The line of an audit event in the scope past [`limits::AUDIT_EVENTS_HELD`]:
    /// reading stops there.
    too_many_events: Option<u64>,
}

impl Part {
    /// Lines counted out of scope without being read (RULES.md §6).
    fn skip(&mut self, lines: u64) {
        self.rec.lines += lines;
        self.rec.out_of_scope += lines;
        self.rec.unread += lines;
    }

    /// Puts one read line in its bucket, or keeps the record it made.
    /// `raw` is the line's bytes, for line-based formats.
    fn take(
        &mut self,
        context: &Context<'_>,
        canaries: &mut Canaries,
        line_no: u64,
        line: Line<'_>,
        raw: Option<&[u8]>,
    ) {
        let Context {
            reading,
            dir,
            verified,
            ..
        } = *context;
        let story = &reading.story;
        let rec = &mut self.rec;
        rec.lines += 1;
        match line {
            Line::Malformed(why) => {
                rec.malformed += 1;
                self.first_malformed.get_or_insert(why);
                if self.malformed_lines.len() < MALFORMED_SHOWN {
                    self.malformed_lines.push(line_no);
                }
            }
            Line::NotRequest => rec.not_request += 1,
            // Each story counts its own kind of record; the other kind is valid input
            // that this reply does not count. Its personal values are canaries all the
            // same.
            Line::Request(r) => {
                canaries.add_request(&r);
                if story.counts_audit_events() {
                    rec.not_request += 1;
                } else {
                    self.records += 1;
                    if raw.is_none() {
                        self.coverage.add(r.time);
                    }
                    self.request(context, line_no, &r, raw);
                }
            }
            Line::Audit(e) => {
                canaries.add_audit_event(&e);
                if !story.counts_audit_events() {
                    rec.not_request += 1;
                    return;
                }
                self.records += 1;
                if raw.is_none() {
                    self.coverage.add(e.time);
                }
                match scope::attribute_audit(dir, &e).filter(|&n| verified.contains(dir, n)) {
                    Some(_) => {
                        self.coverage.add(e.time);
                        let event = to_scoped_event(context, *e);
                        self.pending.push(Pending {
                            line: line_no,
                            content: event.id.is_some().then(|| content_digest(&event)),
                            event,
                        });
                    }
                    None => {
                        rec.out_of_scope += 1;
                        let of_a_group = e.entity_type.as_deref().is_some_and(|t| {
                            t.eq_ignore_ascii_case("group") || t.eq_ignore_ascii_case("project")
                        });
                        if let Some(root) = e
                            .entity_path
                            .as_deref()
                            .filter(|_| of_a_group)
                            .and_then(root_of)
                            && self.foreign_roots.len() < FOREIGN_ROOTS_KEPT
                        {
                            self.foreign_roots.insert(root);
                        }
                    }
                }
            }
        }
    }

    /// A request of a request story: in scope, or out of it (and then perhaps the
    /// requester's own, or another line of a request in scope).
    fn request(
        &mut self,
        context: &Context<'_>,
        line_no: u64,
        request: &ingest::Request<'_>,
        raw: Option<&[u8]>,
    ) {
        let (dir, verified, reading) = (context.dir, context.verified, context.reading);
        match scope::attribute(dir, request).filter(|&n| verified.contains(dir, n)) {
            Some(node) => {
                self.coverage.add(request.time);
                let mut scoped = to_scoped(context, node, request);
                scoped.at = (0, line_no);
                scoped.key = raw.map(LineKey::of);
                self.scoped.push(scoped);
            }
            None => {
                self.rec.out_of_scope += 1;
                if reading.story.is_ip_block() && from_client(&reading.audience, request) {
                    self.coverage.add(request.time);
                    self.elsewhere.push(Elsewhere {
                        at: (0, line_no),
                        key: raw.map(LineKey::of),
                        source: request.source,
                        correlation_id: request.correlation_id.as_deref().map(Box::from),
                        status: request.status,
                        time: request.time,
                        git_challenge: is_git_challenge(request),
                    });
                } else if let Some(cid) = request.correlation_id.as_deref() {
                    self.twins.push(Twin {
                        at: (0, line_no),
                        source: request.source,
                        correlation_id: Box::from(cid),
                    });
                }
            }
        }
    }

    /// Appends the part of the chunk that follows the lines taken so far.
    fn append(&mut self, mut later: Part) {
        let lines_before = self.rec.lines;
        self.rec.add(&later.rec);
        let room = MALFORMED_SHOWN.saturating_sub(self.malformed_lines.len());
        self.malformed_lines.extend(
            later
                .malformed_lines
                .iter()
                .take(room)
                .map(|n| n + lines_before),
        );
        self.first_malformed = self.first_malformed.or(later.first_malformed);
        let place = |at: &mut At| at.1 += lines_before;
        later.scoped.iter_mut().for_each(|r| place(&mut r.at));
        later.elsewhere.iter_mut().for_each(|r| place(&mut r.at));
        later.twins.iter_mut().for_each(|r| place(&mut r.at));
        self.scoped.append(&mut later.scoped);
        self.events.append(&mut later.events);
        self.pending
            .extend(later.pending.into_iter().map(|p| Pending {
                line: p.line + lines_before,
                ..p
            }));
        self.elsewhere.append(&mut later.elsewhere);
        self.twins.append(&mut later.twins);
        self.records += later.records;
        self.coverage.join(later.coverage);
        self.spans.append(&mut later.spans);
        self.foreign_roots.append(&mut later.foreign_roots);
        self.unreadable_in_scope += later.unreadable_in_scope;
        self.too_many_events = self
            .too_many_events
            .or(later.too_many_events.map(|n| n + lines_before));
    }

    /// Keeps the audit events read so far or counts them as copies, in reading order;
    /// stops at the first one past the limit.
    fn admit(&mut self, hold: &Mutex<Hold>) {
        if self.pending.is_empty() || self.too_many_events.is_some() {
            return;
        }
        let mut hold = hold.lock().unwrap_or_else(|p| p.into_inner());
        for p in self.pending.drain(..) {
            if let Some(content) = p.content
                && !hold.kept.insert(content)
            {
                self.rec.duplicate += 1;
                continue;
            }
            if hold.count == limits::AUDIT_EVENTS_HELD {
                self.too_many_events = Some(p.line);
                break;
            }
            hold.count += 1;
            self.events.push(p.event);
        }
    }

    /// Whether reading must stop here, and why: too many audit events are held.
    fn stop(&self, path: &Path) -> Result<()> {
        match self.too_many_events {
            None => Ok(()),
            Some(line) => Err(Error::InputLine {
                path: path.to_owned(),
                line,
                message: format!(
                    "more than {} audit events in the scope, the most one run keeps in \
                     memory; summarize fewer exports at a time, or shorter ones",
                    limits::AUDIT_EVENTS_HELD
                ),
            }),
        }
    }
}

/// How many distinct other groups are kept to be counted: past it, "at least".
const FOREIGN_ROOTS_KEPT: usize = 10_000;

/// The top-level group of an entity path, lower case.
fn root_of(path: &str) -> Option<String> {
    let root = path.trim_matches('/').split('/').next()?;
    (!root.is_empty()).then(|| root.to_lowercase())
}

/// Reads one input, putting every line in a bucket or a record in `collected`.
pub(crate) fn read_input(
    path: &Path,
    context: &Context<'_>,
    canaries: &mut Canaries,
    progress: &Progress,
    collected: &mut Collected,
) -> Result<()> {
    let reading = context.reading;
    let digest = reading.digests.start(path, reading.threads > 1);
    let mut reader = LineReader::open(path, digest.inline())?;
    let format = ingest::detect(reader.peek()?, reading.options.hint).ok_or_else(|| {
        Error::UnknownFormat {
            path: path.to_owned(),
        }
    })?;
    // What the content looks like without the hint, to say so when the hint was wrong.
    let looks_like = match reading.options.hint {
        Some(_) => ingest::detect(reader.peek()?, None).filter(|&f| f != format),
        None => None,
    };
    let (mut part, reader) = match ingest::line_syntax(format) {
        Some(_) => read_lines(reader, format, context, canaries, progress)?,
        None => {
            let mut part = Part::default();
            ingest::each_line(&mut reader, format, reading.options, |line_no, line| {
                // Records that are not lines (CSV, JSON documents) are judged unread.
                if matches!(line, Line::Malformed(_)) {
                    part.unreadable_in_scope += 1;
                }
                part.take(context, canaries, line_no, line, None);
                part.admit(&context.hold);
                part.stop(path)
            })?;
            (part, reader)
        }
    };
    progress.finish_input(reader.stored_bytes_counter().load(Ordering::Relaxed));
    if let Some(w) = reader.trailing_garbage_warning(part.rec.lines) {
        collected.warnings.push(w);
    }
    let gzip = reader.is_gzip();
    let content = reader.content_digest();
    let read = reader.finish()?;
    let digest = digest.finish(reading.digests, path, read)?;
    collected.warnings.extend(digest.warnings);
    let summary = InputSummary {
        name: crate::output::display_name(path),
        format: if format == Format::Empty && part.rec.lines > 0 {
            Format::RailsJson.name()
        } else {
            format.name()
        },
        gzip,
        sha256: digest.sha256,
        digest_origin: digest.origin,
        lines: part.rec.lines,
        malformed: part.rec.malformed,
        malformed_lines: std::mem::take(&mut part.malformed_lines),
        first_malformed: part.first_malformed,
        records: part.records,
        unread: part.rec.unread,
        looks_like: looks_like.map(Format::name),
        content,
    };
    // Gaps are looked for in the platform's line-based request logs only: a Kibana
    // export is filtered, and a group's audit events are sparse by nature.
    let timeline = matches!(
        ingest::line_syntax(format),
        Some(LineSyntax::Json | LineSyntax::Nginx)
    ) && !reading.story.counts_audit_events();
    collected.add(summary, part, timeline);
    Ok(())
}

impl Collected {
    /// Accounts for the lines an engine held but left out by the scope filter, as its
    /// manifest counts them (RULES.md §6): they are `out_of_scope`, unread, under an
    /// input of their own named after the manifest, and the period the logs cover is
    /// the engine's sources'. Fails when the engine counted fewer lines than were read
    /// here: the manifest then belongs to other logs.
    pub(crate) fn left_out_by_the_engine(&mut self, manifest: &Manifest) -> Result<()> {
        let read = self.reconciliation.lines;
        let Some(left) = manifest.lines.checked_sub(read) else {
            return Err(Error::Manifest {
                path: manifest.name.clone().into(),
                message: format!(
                    "the engine counted {} lines, fewer than the {read} candidate lines read \
                     here: it describes other logs",
                    manifest.lines
                ),
            });
        };
        // The lines kept come from the sources: a time of theirs outside the sources'
        // period means the manifest describes other logs, and its period would be a
        // claim the inputs do not support.
        let outside = |t: Option<chrono::DateTime<Utc>>| {
            t.is_some_and(|t| {
                manifest.first.is_none_or(|f| t < f) || manifest.last.is_none_or(|l| t > l)
            })
        };
        if outside(self.coverage.first) || outside(self.coverage.last) {
            return Err(Error::Manifest {
                path: manifest.name.clone().into(),
                message: "the lines read hold times outside its sources' first and last: it \
                          describes other logs"
                    .to_owned(),
            });
        }
        self.reconciliation.lines += left;
        self.reconciliation.out_of_scope += left;
        self.reconciliation.unread += left;
        manifest
            .first
            .into_iter()
            .chain(manifest.last)
            .for_each(|t| self.coverage.add(t));
        self.inputs.push(InputSummary {
            name: manifest.name.clone(),
            format: "engine-manifest",
            gzip: false,
            sha256: manifest.sha256.clone(),
            digest_origin: crate::digest::Origin::Computed,
            lines: left,
            malformed: 0,
            malformed_lines: Vec::new(),
            first_malformed: None,
            records: 0,
            unread: left,
            looks_like: None,
            // No content was read: it matches no input's.
            content: u128::from_le_bytes(*b"engine-manifest!"),
        });
        Ok(())
    }

    /// Adds one input's lines and records.
    fn add(&mut self, mut summary: InputSummary, part: Part, timeline: bool) {
        // The same file given twice (by another name, a copy, or compressed) is read
        // once: its second reading adds nothing but lines, all of them duplicates.
        if let Some(first) = self.inputs.iter().find(|i| {
            i.sha256 == summary.sha256 || (i.content == summary.content && i.lines == summary.lines)
        }) {
            let one = summary.lines == 1;
            self.warnings.push(format!(
                "{} has the same content {} as {}: it is read once, and its {} line{} \
                 counted as duplicate{}",
                summary.name,
                if first.sha256 == summary.sha256 {
                    "(SHA-256)"
                } else {
                    "(once decompressed)"
                },
                first.name,
                summary.lines,
                if one { " is" } else { "s are" },
                if one { "" } else { "s" },
            ));
            self.reconciliation.lines += summary.lines;
            self.reconciliation.duplicate += summary.lines;
            summary.malformed = 0;
            summary.malformed_lines.clear();
            summary.first_malformed = None;
            summary.records = 0;
            self.inputs.push(summary);
            return;
        }
        let input = self.inputs.len();
        // A log whose lines are mostly the scope's was filtered to it already (a
        // grep, an engine's candidates): its quiet hours are the customer's, not gaps.
        let filtered = part.scoped.len() as u64 * 2 > summary.lines;
        if timeline && !filtered && !part.spans.is_empty() {
            self.timelines.push(Timeline {
                lines: summary.lines,
                spans: part.spans,
            });
        }
        self.inputs.push(summary);
        self.reconciliation.add(&part.rec);
        self.unreadable_in_scope += part.unreadable_in_scope;
        let (mut scoped, mut elsewhere, mut twins) = (part.scoped, part.elsewhere, part.twins);
        scoped.iter_mut().for_each(|r| r.at.0 = input);
        elsewhere.iter_mut().for_each(|r| r.at.0 = input);
        twins.iter_mut().for_each(|r| r.at.0 = input);
        self.scoped.extend(scoped);
        self.events.extend(part.events);
        self.elsewhere.extend(elsewhere);
        self.twins.extend(twins);
        self.coverage.join(part.coverage);
        let mut roots = part.foreign_roots;
        self.foreign_roots.append(&mut roots);
    }

    /// Refuses an audit export whose events are all about other groups (RULES.md §9),
    /// as the wrong story is refused: "no audit events about acme" would be a
    /// confident answer from the wrong export.
    pub(crate) fn audit_of_others(&self, scope: &str) -> Result<()> {
        if !self.events.is_empty() || self.foreign_roots.is_empty() {
            return Ok(());
        }
        let out: u64 = self.reconciliation.out_of_scope;
        let groups = self.foreign_roots.len();
        Err(Error::NoRecords(format!(
            "--template audit: none of the {out} audit event{} read is about {scope} (they \
             are about {}{groups} other top-level group{}, or users, or the instance): check \
             that the export is of the requester's group",
            if out == 1 { "" } else { "s" },
            if groups >= FOREIGN_ROOTS_KEPT {
                "at least "
            } else {
                ""
            },
            if groups == 1 { "" } else { "s" },
        )))
    }
}

/// The prefilter for an input, or `None` when every line must be parsed: on request
/// (`--parse-all`), for audit events (they may name their entity by id only), and for
/// the IP-block story when the requester's ranges cannot be searched as text (it also
/// counts their requests to paths outside the scope).
fn prefilter_for(context: &Context<'_>, format: Format) -> Option<Prefilter> {
    let reading = context.reading;
    if reading.parse_all {
        return None;
    }
    let syntax = match ingest::line_syntax(format)? {
        LineSyntax::Json => Syntax::Json,
        LineSyntax::Nginx => Syntax::Nginx,
        LineSyntax::AuditEvents => return None,
    };
    let (dir, verified) = (context.dir, context.verified);
    match reading.story {
        Story::IpBlock => {
            Prefilter::with_clients(dir, verified, syntax, reading.audience.client_networks)
        }
        Story::Access | Story::HighLoad | Story::Audit => {
            Some(Prefilter::new(dir, verified, syntax))
        }
    }
}

/// What tells whether a line that could not be read may concern the scope, however
/// the lines are read (`--parse-all` or not): the scope's prefilter, for the formats
/// it can search. `None`: every such line may (audit events name their entity by id).
fn judge_for(context: &Context<'_>, format: Format) -> Option<Prefilter> {
    let syntax = match ingest::line_syntax(format)? {
        LineSyntax::Json => Syntax::Json,
        LineSyntax::Nginx => Syntax::Nginx,
        LineSyntax::AuditEvents => return None,
    };
    Some(Prefilter::new(context.dir, context.verified, syntax))
}

/// Reads a line-based input in chunks. With one thread, this thread does everything;
/// with N, one thread reads, N search and parse (N - 1 when the reading thread is busy
/// decompressing gzip), and this one puts their results in input order. The digest is
/// computed elsewhere (`crate::digest`).
fn read_lines(
    reader: LineReader,
    format: Format,
    context: &Context<'_>,
    canaries: &mut Canaries,
    progress: &Progress,
) -> Result<(Part, LineReader)> {
    let prefilter = prefilter_for(context, format);
    // The search's own prefilter is the scope's, except in the IP-block story (which
    // also finds the requester's addresses) and with `--parse-all` (none): only then
    // is a judge built of its own.
    let own_judge = match &prefilter {
        Some(_) if !context.reading.story.is_ip_block() => None,
        _ => judge_for(context, format),
    };
    let judge = own_judge.as_ref().or(prefilter.as_ref());
    let flavor = ingest::flavor(context.reading.options);
    let search = Search {
        format,
        flavor,
        prefilter: prefilter.as_ref(),
        judge,
        context,
    };
    let threads = context.reading.threads;
    if threads <= 1 {
        return read_lines_alone(reader, &search, canaries, progress);
    }
    let workers = if reader.is_gzip() {
        threads - 1
    } else {
        threads
    };
    read_lines_parallel(reader, &search, workers, canaries, progress)
}

/// One thread reads, searches and parses.
fn read_lines_alone(
    mut reader: LineReader,
    search: &Search<'_>,
    canaries: &mut Canaries,
    progress: &Progress,
) -> Result<(Part, LineReader)> {
    let counter = reader.stored_bytes_counter();
    let mut total = Part::default();
    let mut lower = Vec::new();
    let spare = std::cell::Cell::new(Vec::new());
    let read = chunks::cut(
        &mut reader,
        CHUNK,
        MAX_LINE,
        || spare.take(),
        |chunk| {
            progress.show(counter.load(Ordering::Relaxed));
            let part = search.chunk(&chunk, &mut lower, canaries);
            chunks::trim(&mut lower);
            total.append(part);
            total.admit(&search.context.hold);
            let mut bytes = chunk.bytes;
            chunks::trim(&mut bytes);
            spare.set(bytes);
            total.too_many_events.is_none()
        },
    );
    total.stop(reader.path())?;
    match read {
        Ok(()) => Ok((total, reader)),
        Err(failure) => Err(reader.read_error(total.rec.lines + 1, failure.source)),
    }
}

/// One thread reads (and decompresses), `workers` search and parse, and this one puts
/// their results in input order.
fn read_lines_parallel(
    mut reader: LineReader,
    search: &Search<'_>,
    workers: usize,
    canaries: &mut Canaries,
    progress: &Progress,
) -> Result<(Part, LineReader)> {
    let counter = reader.stored_bytes_counter();
    let (work_tx, work_rx) = bounded::<Chunk>(workers);
    let (pool_tx, pool_rx) = unbounded::<Vec<u8>>();
    for _ in 0..2 * workers + 1 {
        let _ = pool_tx.send(Vec::new());
    }
    let (done_tx, done_rx) = unbounded::<(u64, Part)>();
    let long = &LongOneAtATime::default();

    std::thread::scope(|s| {
        let reading = s.spawn(move || {
            let read = chunks::cut(
                &mut reader,
                CHUNK,
                MAX_LINE,
                || pool_rx.recv().unwrap_or_default(),
                |chunk| {
                    progress.show(counter.load(Ordering::Relaxed));
                    if LongOneAtATime::is_long(&chunk) {
                        long.enter();
                    }
                    work_tx.send(chunk).is_ok()
                },
            );
            (reader, read)
        });
        let searching: Vec<_> = (0..workers)
            .map(|_| {
                let (work_rx, done_tx, pool_tx) =
                    (work_rx.clone(), done_tx.clone(), pool_tx.clone());
                let found = canaries.empty_like();
                s.spawn(move || search_chunks(search, long, work_rx, done_tx, pool_tx, found))
            })
            .collect();
        drop((work_rx, done_tx));

        let (total, next) = in_input_order(done_rx, search);
        for handle in searching {
            canaries.merge(
                handle
                    .join()
                    .map_err(|_| Error::Internal("a search thread stopped".into()))?,
            );
        }
        let (reader, read) = reading
            .join()
            .map_err(|_| Error::Internal("the reading thread stopped".into()))?;
        total.stop(reader.path())?;
        match read {
            Ok(()) => Ok((total, reader)),
            // Every chunk before the failed one was appended: the failure is on the
            // line after them.
            Err(failure) => {
                debug_assert_eq!(failure.seq, next);
                Err(reader.read_error(total.rec.lines + 1, failure.source))
            }
        }
    })
}

/// A worker: searches each chunk it is handed, gives its buffer back to the pool and
/// its part to the thread that orders them, and returns the canaries it found.
fn search_chunks(
    search: &Search<'_>,
    long: &LongOneAtATime,
    work_rx: Receiver<Chunk>,
    done_tx: Sender<(u64, Part)>,
    pool_tx: Sender<Vec<u8>>,
    mut found: Canaries,
) -> Canaries {
    let mut lower = Vec::new();
    for chunk in work_rx {
        let turn = LongOneAtATime::is_long(&chunk).then(|| long.taken());
        let part = search.chunk(&chunk, &mut lower, &mut found);
        chunks::trim(&mut lower);
        let mut bytes = chunk.bytes;
        chunks::trim(&mut bytes);
        drop(turn);
        let _ = pool_tx.send(bytes);
        if done_tx.send((chunk.seq, part)).is_err() {
            break;
        }
    }
    found
}

/// Chunks finish in any order; they are appended in input order. Once too many audit
/// events are held, nobody listens any more (`done_rx` is dropped on return) and every
/// thread stops. Returns the parts appended and the number of the next chunk.
fn in_input_order(done_rx: Receiver<(u64, Part)>, search: &Search<'_>) -> (Part, u64) {
    let mut total = Part::default();
    let mut waiting = BTreeMap::new();
    let mut next = 0u64;
    'results: for (seq, part) in done_rx.iter() {
        waiting.insert(seq, part);
        while let Some(part) = waiting.remove(&next) {
            total.append(part);
            total.admit(&search.context.hold);
            next += 1;
            if total.too_many_events.is_some() {
                break 'results;
            }
        }
    }
    drop((done_rx, waiting));
    (total, next)
}

/// How a worker reads its chunks.
struct Search<'a> {
    format: Format,
    flavor: ingest::json::Flavor,
    prefilter: Option<&'a Prefilter>,
    /// See [`judge_for`].
    judge: Option<&'a Prefilter>,
    context: &'a Context<'a>,
}

impl Search<'_> {
    /// Searches one chunk: lines the prefilter finds (every line without one) are
    /// parsed and taken, the others are counted out of scope unread. `lower` is scratch
    /// memory for the lower-case copy the prefilter searches.
    fn chunk(&self, chunk: &Chunk, lower: &mut Vec<u8>, canaries: &mut Canaries) -> Part {
        let mut part = Part::default();
        if let Some(line) = chunk.dropped_line() {
            // Too long to be read, and so to be judged: it may concern the scope.
            part.unreadable_in_scope += 1;
            part.take(self.context, canaries, 1, line, None);
            return part;
        }
        let text = &chunk.bytes[..];
        let mut take = |part: &mut Part, line_no: u64, raw: &[u8]| {
            let line = chunks::parse_within(raw, MAX_LINE, |line| {
                ingest::parse_line(self.format, self.flavor, line)
            });
            if matches!(line, Line::Malformed(_)) && self.judge.is_none_or(|j| j.may_concern(raw)) {
                part.unreadable_in_scope += 1;
            }
            part.take(self.context, canaries, line_no, line, Some(raw));
        };
        let mut line_no = 0;
        self.sample(text, &mut part);
        let Some(prefilter) = self.prefilter else {
            for line in chunks::lines(text) {
                line_no += 1;
                take(&mut part, line_no, line);
            }
            return part;
        };
        prefilter::lower_case(text, lower);
        let mut pos = 0;
        while let Some(line) = prefilter.next_candidate(text, lower, pos) {
            let before = memchr::memchr_iter(b'\n', &text[pos..line.start]).count() as u64;
            part.skip(before);
            line_no += before + 1;
            take(&mut part, line_no, &text[line.clone()]);
            pos = memchr::memchr(b'\n', &text[line.end..]).map_or(text.len(), |i| line.end + i + 1);
        }
        part.skip(chunks::count_lines(&text[pos..]));
        part
    }
}

/// The bytes of a chunk whose lines' times are sampled together: the first and last
/// time of each block bound the period and show the gaps (RULES.md §9).
const BLOCK: usize = 1024 * 1024;

/// The longest stretch without lines inside a block before its times are read one by
/// one to find where the lines stop (see [`gaps`](super::gaps)).
const STRETCH: chrono::TimeDelta = chrono::TimeDelta::hours(1);

/// A stretch of time that lines cover: the first and last time of a block of lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Span {
    pub(crate) first: chrono::DateTime<Utc>,
    pub(crate) last: chrono::DateTime<Utc>,
}

impl Search<'_> {
    /// The time of a line that holds a record of the story's kind.
    fn time_of(&self, line: &[u8]) -> Option<chrono::DateTime<Utc>> {
        if line.len() >= MAX_LINE {
            return None;
        }
        let story_is_audit = self.context.reading.story.counts_audit_events();
        match ingest::parse_line(self.format, self.flavor, line) {
            Line::Request(r) if !story_is_audit => Some(r.time),
            Line::Audit(e) if story_is_audit => Some(e.time),
            _ => None,
        }
    }

    /// The times a chunk's lines cover, whatever the prefilter passes over: for each
    /// block of [`BLOCK`] bytes, the first and last records of the story's kind among
    /// the lines that start in it (lines at an edge without one are passed over
    /// inwards). Logs are written in time order, so these bound the period the file
    /// covers, and the same samples are taken however the lines are read. A block
    /// whose edges lie more than [`STRETCH`] apart has every line's time read, so that
    /// a gap inside it is seen where it is.
    fn sample(&self, text: &[u8], part: &mut Part) {
        let mut start = 0;
        while start < text.len() {
            // The block's lines are those that start before its end: the next block
            // starts after the line end at or past it.
            let limit = (start / BLOCK + 1) * BLOCK;
            let end = match text.get(limit - 1..) {
                Some(rest) => memchr::memchr(b'\n', rest).map_or(text.len(), |i| limit + i),
                None => text.len(),
            };
            self.sample_block(&text[start..end], part);
            start = end;
        }
    }

    /// Only the lines at the block's edges are parsed, unless they lie far apart.
    fn sample_block(&self, block: &[u8], part: &mut Part) {
        let Some(first) = chunks::lines(block).find_map(|l| self.time_of(l)) else {
            return;
        };
        let last = chunks::lines(block)
            .rev()
            .find_map(|l| self.time_of(l))
            .unwrap_or(first);
        let (early, late) = (first.min(last), first.max(last));
        part.coverage.add(early);
        part.coverage.add(late);
        if late - early <= STRETCH {
            part.spans.push(Span {
                first: early,
                last: late,
            });
            return;
        }
        let mut times: Vec<_> = chunks::lines(block)
            .filter_map(|l| self.time_of(l))
            .collect();
        times.sort_unstable();
        let mut span = Span {
            first: times[0],
            last: times[0],
        };
        for &t in &times[1..] {
            if t - span.last > STRETCH {
                part.spans.push(span);
                span = Span { first: t, last: t };
            } else {
                span.last = t;
            }
        }
        part.spans.push(span);
    }
}

fn from_client(audience: &Audience<'_>, r: &ingest::Request<'_>) -> bool {
    r.client_ip
        .is_some_and(|ip| audience.client_networks.iter().any(|n| n.contains(ip)))
}

/// Git over HTTP asks for `info/refs` without credentials first and is answered 401;
/// it then asks again with them. Such a 401 is expected, never the cause of a block.
fn is_git_challenge(r: &ingest::Request<'_>) -> bool {
    let path = r.path.split('?').next().unwrap_or_default();
    r.status == Some(401) && path.to_ascii_lowercase().ends_with("/info/refs")
}

fn to_scoped_event(context: &Context<'_>, e: ingest::audit::AuditEvent) -> ScopedEvent {
    let (dir, audience) = (context.dir, &context.reading.audience);
    let author = e.author_id.map(Identity::Number).or_else(|| {
        e.author_name
            .as_ref()
            .map(|n| Identity::of_text(&n.to_lowercase()))
    });
    let user = e
        .author_id
        .and_then(|id| u64::try_from(id).ok())
        .and_then(|id| dir.user_by_id(id));
    // The author is the user: by directory id, and by the email the event carries,
    // which also names authors the directory does not know.
    let by_directory = audience
        .exclusions
        .rule_for(dir, user.map(|u| u.id), None, e.ip);
    let by_email = e
        .author_email
        .as_deref()
        .is_some_and(|m| audience.exclusions.domain_matches(&m.to_lowercase()));
    let rule = match by_directory {
        Some(Rule::User | Rule::Domain) => by_directory,
        _ if by_email => Some(Rule::Domain),
        other => other,
    };
    ScopedEvent {
        id: e.id.as_deref().map(Identity::of_id),
        rule,
        time: e.time,
        action: vocabulary::code(e.action),
        author,
    }
}

fn to_scoped(context: &Context<'_>, node: directory::Node, r: &ingest::Request<'_>) -> Scoped {
    let (dir, audience) = (context.dir, &context.reading.audience);
    // NGINX's `$remote_user` is whatever the client sent for HTTP basic auth
    // (`gitlab-ci-token`, `oauth2`, a username): it names a user only when the
    // directory knows that username.
    let username = r
        .username
        .as_deref()
        .filter(|name| r.source != Source::Nginx || dir.user_by_username(name).is_some());
    let names = context.names;
    let user = match (r.user_id, username) {
        (Some(id), _) => Some(names.intern(&format!("id:{id}"))),
        (None, Some(name)) => Some(names.intern(&match dir.user_by_username(name) {
            Some(u) => format!("id:{}", u.id),
            None => format!("name:{}", name.to_lowercase()),
        })),
        (None, None) => None,
    };
    let ip: Option<IpAddr> = r.client_ip;
    Scoped {
        at: (0, 0),
        key: None,
        from_client: from_client(audience, r),
        git_challenge: is_git_challenge(r),
        source: r.source,
        correlation_id: r.correlation_id.as_deref().map(Box::from),
        rule: audience.exclusions.rule_for(dir, r.user_id, username, ip),
        counted: Counted {
            path: names.intern(dir.path_of(node)),
            // Workhorse logs no user, and NGINX only the name a client sent for basic
            // auth: without one, whether the visitor was signed in cannot be told.
            identified: match r.source {
                Source::Rails => true,
                Source::Workhorse => false,
                Source::Nginx => user.is_some(),
            },
            user,
            ip,
            time: r.time,
            status: r.status,
            kind: r.kind(),
            user_agent: r.user_agent.as_deref().map(|a| names.intern(a)),
            country: context.geoip.map(|g| match ip {
                Some(ip) => names.intern(&g.country(ip)),
                None => names.intern(geo::UNKNOWN),
            }),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The string literals of a Rust source, as written between their quotes (raw
    /// strings and character literals aside), each with its line.
    fn literals(source: &str) -> Vec<(usize, String)> {
        let mut found = Vec::new();
        let mut chars = source.char_indices().peekable();
        let mut in_comment = false;
        while let Some((i, c)) = chars.next() {
            if in_comment {
                in_comment = c != '\n';
                continue;
            }
            match c {
                '/' if source[i + 1..].starts_with('/') => in_comment = true,
                // A character literal such as '"' is no string.
                '\'' if source[i + 1..].starts_with("\"'") => {
                    chars.nth(1);
                }
                '"' => {
                    let line = source[..i].lines().count();
                    let mut text = String::new();
                    while let Some((_, c)) = chars.next() {
                        match c {
                            '\\' => {
                                if let Some((_, next)) = chars.next() {
                                    text.push('\\');
                                    text.push(next);
                                }
                            }
                            '"' => break,
                            c => text.push(c),
                        }
                    }
                    found.push((line, text));
                }
                _ => {}
            }
        }
        found
    }

    /// A message continued on the next line without a `\` at the end of the first one
    /// carries that line's indentation into the middle of its sentence.
    #[test]
    fn no_message_holds_a_run_of_spaces() {
        for (name, source) in [
            ("src/error.rs", include_str!("../error.rs")),
            ("src/summarize/collect.rs", include_str!("collect.rs")),
        ] {
            // The tests' own strings are no messages.
            let code = source.split("#[cfg(test)]").next().unwrap_or_default();
            for (line, text) in literals(code) {
                // A `\` continuation swallows the line end and the indentation after it.
                let joined: String = text
                    .split("\\\n")
                    .map(|part| part.trim_start_matches([' ', '\n']))
                    .collect::<Vec<_>>()
                    .join("");
                let at_start = joined.len() - joined.trim_start().len();
                assert!(
                    !joined[at_start..].contains("  ") && !joined.contains('\n'),
                    "{name}:{line}: {joined:?}"
                );
            }
        }
    }

    /// Millions of audit events are kept: each in 64 bytes, whatever its texts.
    #[test]
    fn an_audit_event_kept_takes_64_bytes() {
        assert!(
            size_of::<ScopedEvent>() <= 64,
            "{}",
            size_of::<ScopedEvent>()
        );
    }
}
