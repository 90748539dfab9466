//! GitLab's JSON logs: Rails (`production_json`, `api_json`, `graphql_json`) and
//! Workhorse (`gitlab-workhorse/current`), one object per line.
//!
//! The decoder is hand-rolled on serde's visitor API instead of `#[derive]`, for three
//! reasons: real files repeat keys in one object (the last one wins, as in Ruby), fields
//! change type between versions (`user_id` is a number or a string), and a line has a
//! hundred `db_*`/`redis_*` fields that must be skipped without allocating.
//!
//! A line may also come wrapped, as log archives store it (a Cloud Logging `LogEntry`:
//! `{"insertId": ..., "jsonPayload": {<the line>}, "timestamp": ..., ...}`), or as a
//! search index's document holds it (the `_source` of an Elasticsearch or OpenSearch
//! document: `{"@timestamp": ..., "json": {<the line>}, "type": ..., ...}`, or each
//! field of the line at the top level as `json.<field>`). It is read in the same pass as
//! the line it wraps; see [`Record`].

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::{INTERNAL_ALLOWED, Line, Params, Request, Source, parse_ip, parse_time};

/// Which JSON flavours a file may contain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(not(fuzzing), allow(unreachable_pub))]
pub enum Flavor {
    /// Decide per line: Workhorse lines carry `msg`, Rails lines `path`.
    Auto,
    Rails,
    Workhorse,
}

/// Parses one line (without its line terminator).
#[cfg_attr(not(fuzzing), allow(unreachable_pub))]
pub fn parse_line(bytes: &[u8], flavor: Flavor) -> Line<'_> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Line::NotRequest;
    }
    let record: Record<'_> = match serde_json::from_slice(bytes) {
        Ok(record) => record,
        Err(e) if e.is_data() => return Line::Malformed("not a JSON object"),
        Err(e) if e.is_eof() => return Line::Malformed("truncated JSON"),
        Err(_) => return Line::Malformed("not valid JSON"),
    };
    record.into_line(flavor)
}

/// One line as read: a log line, or a log line wrapped in a `jsonPayload` object (a
/// log archive's record), in a `json` object or flattened into `json.` keys (a search
/// index's document).
///
/// A wrapped line is read exactly as the line it wraps. The wrapper's other keys are
/// skipped, except its time: `timestamp` (RFC 3339) beside a `jsonPayload`,
/// `@timestamp` (RFC 3339) beside a `json` object or `json.` keys. It stands in for a
/// line without a `time` string; a line whose `time` cannot be read is not helped by
/// it.
///
/// When a record has both fields of its own and a wrapper object (`jsonPayload` or
/// `json`), the object wins wholly: the record's own fields are dropped, wherever they
/// stand, and so are its `json.` keys. Of two wrapper objects, the last one wins, as the
/// last of any repeated key does. Without a wrapper object, a record with a `json.` key
/// is flattened: its `json.<field>` keys are the line's `<field>`s and its unprefixed
/// keys are the wrapper's. A wrapper key inside the line is one more key the line does
/// not use.
struct Record<'a> {
    /// The wrapped line's fields when there is a wrapper, else the line's own.
    line: RawLine<'a>,
    payload: Payload,
    /// A `jsonPayload` wrapper's `timestamp`.
    timestamp: Option<Cow<'a, str>>,
    /// A search index's `@timestamp`.
    at_timestamp: Option<Cow<'a, str>>,
}

/// Whether a record wraps its line, and how.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Payload {
    /// No wrapper: the record is the line.
    Absent,
    /// The line's fields are the record's `json.` keys.
    Flattened,
    Object(Wrapper),
    /// A wrapper key whose value is no JSON object: nothing can be read from it.
    NotObject(Wrapper),
}

/// The key of a wrapper object.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Wrapper {
    /// A log archive's record.
    JsonPayload,
    /// A search index's document.
    Json,
}

impl<'a> Record<'a> {
    fn into_line(mut self, flavor: Flavor) -> Line<'a> {
        let timestamp = match self.payload {
            Payload::Absent => None,
            Payload::NotObject(Wrapper::JsonPayload) => {
                return Line::Malformed("jsonPayload is not a JSON object");
            }
            Payload::NotObject(Wrapper::Json) => {
                return Line::Malformed("json is not a JSON object");
            }
            Payload::Object(Wrapper::JsonPayload) => self.timestamp,
            Payload::Object(Wrapper::Json) | Payload::Flattened => self.at_timestamp,
        };
        if self.line.time.is_none() {
            self.line.time = timestamp;
        }
        self.line.into_line(flavor)
    }
}

/// The fields logbrief reads, each as loosely typed as real files need.
#[derive(Default)]
struct RawLine<'a> {
    time: Option<Cow<'a, str>>,
    path: Option<Cow<'a, str>>,
    uri: Option<Cow<'a, str>>,
    msg: Option<Cow<'a, str>>,
    status: Option<u64>,
    remote_ip: Option<Cow<'a, str>>,
    meta_remote_ip: Option<Cow<'a, str>>,
    remote_addr: Option<Cow<'a, str>>,
    user_id: Option<u64>,
    meta_user_id: Option<u64>,
    username: Option<Cow<'a, str>>,
    meta_user: Option<Cow<'a, str>>,
    ua: Option<Cow<'a, str>>,
    user_agent: Option<Cow<'a, str>>,
    correlation_id: Option<Cow<'a, str>>,
    meta_project: Option<Cow<'a, str>>,
    meta_root_namespace: Option<Cow<'a, str>>,
    params: Params<'a>,
}

impl<'a> RawLine<'a> {
    fn into_line(self, flavor: Flavor) -> Line<'a> {
        let source = match (flavor, &self.msg, &self.path) {
            (Flavor::Auto | Flavor::Workhorse, Some(_), _) => Source::Workhorse,
            (Flavor::Auto | Flavor::Rails, None, Some(_)) => Source::Rails,
            (Flavor::Rails, Some(_), Some(_)) => Source::Rails,
            _ => return Line::NotRequest,
        };
        let path = match source {
            Source::Workhorse => {
                if self.msg.as_deref() != Some("access") {
                    return Line::NotRequest;
                }
                match self.uri {
                    Some(uri) => uri,
                    None => return Line::NotRequest,
                }
            }
            Source::Rails | Source::Nginx => match self.path {
                Some(p) => p,
                None => return Line::NotRequest,
            },
        };
        // Internal API calls are GitLab's components talking to each other, not
        // client requests, with one exception: the access check of a Git command over
        // SSH, which carries the client's address. Over HTTP the same check repeats a
        // request that Rails and Workhorse log themselves.
        let mut ssh_client = None;
        if source == Source::Rails && is_internal_api(&path) {
            let ssh = self.params.protocol.as_deref() == Some("ssh");
            if !(ssh && path.eq_ignore_ascii_case(INTERNAL_ALLOWED)) {
                return Line::NotRequest;
            }
            ssh_client = self.params.check_ip.as_deref().and_then(parse_ip);
        }
        let Some(time) = self.time.as_deref().and_then(parse_time) else {
            return Line::Malformed("a request without a valid time (with its zone)");
        };

        let client_ip = ssh_client.or_else(|| {
            self.remote_ip
                .as_deref()
                .and_then(parse_ip)
                .or_else(|| self.meta_remote_ip.as_deref().and_then(parse_ip))
                .or_else(|| match source {
                    Source::Workhorse => self.remote_addr.as_deref().and_then(parse_ip),
                    Source::Rails | Source::Nginx => None,
                })
        });
        let (user_id, username) = match source {
            // Workhorse knows nothing of users; it never names one.
            Source::Workhorse => (None, None),
            Source::Rails | Source::Nginx => (
                self.user_id.or(self.meta_user_id),
                non_empty(self.username).or(non_empty(self.meta_user)),
            ),
        };
        Line::Request(Box::new(Request {
            source,
            time,
            path,
            status: self.status.and_then(|s| u16::try_from(s).ok()),
            client_ip,
            user_id,
            username,
            user_agent: non_empty(self.ua).or(non_empty(self.user_agent)),
            correlation_id: non_empty(self.correlation_id).filter(|c| !is_placeholder(c)),
            meta_project: non_empty(self.meta_project),
            meta_root_namespace: non_empty(self.meta_root_namespace),
            params: self.params,
        }))
    }
}

fn is_internal_api(path: &str) -> bool {
    path.get(..17)
        .is_some_and(|p| p.eq_ignore_ascii_case("/api/v4/internal/"))
}

/// A correlation id that names no request: `-`, a run of zeros (`0`,
/// `00000000000000000000000000000000`), or blank. Such ids are written where the real
/// one is missing, so they would join distinct requests into one (RULES.md §6).
fn is_placeholder(id: &str) -> bool {
    let id = id.trim();
    id.is_empty() || id == "-" || id.bytes().all(|b| b == b'0')
}

fn non_empty(s: Option<Cow<'_, str>>) -> Option<Cow<'_, str>> {
    s.filter(|s| !s.trim().is_empty())
}

impl<'de> de::Deserialize<'de> for Record<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(RecordVisitor)
    }
}

struct RecordVisitor;

impl<'de> Visitor<'de> for RecordVisitor {
    type Value = Record<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut record = Record {
            line: RawLine::default(),
            payload: Payload::Absent,
            timestamp: None,
            at_timestamp: None,
        };
        // Keys are borrowed from the line, as `LooseStr` borrows values (`Cow`'s own
        // `Deserialize` would copy each of a line's sixty keys into a new string).
        while let Some(LooseStr(key)) = map.next_key::<LooseStr<'de>>()? {
            match key.as_deref().unwrap_or_default() {
                // Repeated, the last one wins, as every key does; the fields read
                // before it were the wrapper's own.
                "jsonPayload" => record.read_wrapped(Wrapper::JsonPayload, &mut map)?,
                "json" => record.read_wrapped(Wrapper::Json, &mut map)?,
                "timestamp" => record.timestamp = map.next_value::<LooseStr>()?.0,
                "@timestamp" => record.at_timestamp = map.next_value::<LooseStr>()?.0,
                key => match (record.payload, flattened(key)) {
                    (Payload::Absent, None) => read_field(&mut record.line, key, &mut map)?,
                    // The first `json.` key: the fields read before it were the
                    // wrapper's own.
                    (Payload::Absent, Some(field)) => {
                        record.line = RawLine::default();
                        record.payload = Payload::Flattened;
                        read_field(&mut record.line, field, &mut map)?;
                    }
                    (Payload::Flattened, Some(field)) => {
                        read_field(&mut record.line, field, &mut map)?;
                    }
                    // Past a wrapper object every key, and beside `json.` keys every
                    // other key, is the wrapper's.
                    _ => {
                        map.next_value::<IgnoredAny>()?;
                    }
                },
            }
        }
        Ok(record)
    }
}

impl<'de> Record<'de> {
    /// Reads the value of a wrapper key as the record's line, in place of the fields
    /// read so far.
    fn read_wrapped<A: MapAccess<'de>>(
        &mut self,
        wrapper: Wrapper,
        map: &mut A,
    ) -> Result<(), A::Error> {
        self.line = RawLine::default();
        self.payload = map.next_value_seed(PayloadSeed(&mut self.line, wrapper))?;
        Ok(())
    }
}

/// The field a flattened document's key names (`json.meta.user` names `meta.user`).
/// A slice pattern, compared in place: `str::strip_prefix` calls out to `memcmp` for
/// each of a line's keys.
#[inline(always)]
fn flattened(key: &str) -> Option<&str> {
    match key.as_bytes() {
        [b'j', b's', b'o', b'n', b'.', ..] => key.get(5..),
        _ => None,
    }
}

/// Reads one key's value into `line`; a key the line does not use is skipped.
/// Repeated keys overwrite: the last one wins. Inlined where it is called: a call per
/// key costs the lines that are not wrapped a few percent.
#[inline(always)]
fn read_field<'de, A: MapAccess<'de>>(
    line: &mut RawLine<'de>,
    key: &str,
    map: &mut A,
) -> Result<(), A::Error> {
    match key {
        "time" => line.time = map.next_value::<LooseStr>()?.0,
        "path" => line.path = map.next_value::<LooseStr>()?.0,
        "uri" => line.uri = map.next_value::<LooseStr>()?.0,
        "msg" => line.msg = map.next_value::<LooseStr>()?.0,
        "status" => line.status = map.next_value::<LooseU64>()?.0,
        "remote_ip" => line.remote_ip = map.next_value::<LooseStr>()?.0,
        "meta.remote_ip" => line.meta_remote_ip = map.next_value::<LooseStr>()?.0,
        "remote_addr" => line.remote_addr = map.next_value::<LooseStr>()?.0,
        "user_id" => line.user_id = map.next_value::<LooseU64>()?.0,
        "meta.user_id" => line.meta_user_id = map.next_value::<LooseU64>()?.0,
        "username" => line.username = map.next_value::<LooseStr>()?.0,
        "meta.user" => line.meta_user = map.next_value::<LooseStr>()?.0,
        "ua" => line.ua = map.next_value::<LooseStr>()?.0,
        "user_agent" => line.user_agent = map.next_value::<LooseStr>()?.0,
        "correlation_id" => line.correlation_id = map.next_value::<LooseStr>()?.0,
        "meta.project" => line.meta_project = map.next_value::<LooseStr>()?.0,
        "meta.root_namespace" => line.meta_root_namespace = map.next_value::<LooseStr>()?.0,
        "params" => line.params = map.next_value::<ParamsDe>()?.0,
        _ => {
            map.next_value::<IgnoredAny>()?;
        }
    }
    Ok(())
}

/// A wrapper object's value, read into the record's line in place; says whether it was
/// an object.
struct PayloadSeed<'l, 'de>(&'l mut RawLine<'de>, Wrapper);

impl<'de> de::DeserializeSeed<'de> for PayloadSeed<'_, 'de> {
    type Value = Payload;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for PayloadSeed<'_, 'de> {
    type Value = Payload;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while let Some(LooseStr(key)) = map.next_key::<LooseStr<'de>>()? {
            read_field(self.0, key.as_deref().unwrap_or_default(), &mut map)?;
        }
        Ok(Payload::Object(self.1))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Payload::NotObject(self.1))
    }
    fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
        Ok(Payload::NotObject(self.1))
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(Payload::NotObject(self.1))
    }
    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Payload::NotObject(self.1))
    }
    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        Ok(Payload::NotObject(self.1))
    }
    fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
        Ok(Payload::NotObject(self.1))
    }
    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(Payload::NotObject(self.1))
    }
}

/// A string, or `None` for `null` and for any other type.
struct LooseStr<'a>(Option<Cow<'a, str>>);

impl<'de> de::Deserialize<'de> for LooseStr<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(LooseStrVisitor)
    }
}

struct LooseStrVisitor;

impl<'de> Visitor<'de> for LooseStrVisitor {
    type Value = LooseStr<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(LooseStr(Some(Cow::Borrowed(v))))
    }
    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(LooseStr(Some(Cow::Owned(v.to_owned()))))
    }
    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok(LooseStr(Some(Cow::Owned(v))))
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(LooseStr(None))
    }
    fn visit_none<E>(self) -> Result<Self::Value, E> {
        Ok(LooseStr(None))
    }
    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(LooseStr(None))
    }
    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        Ok(LooseStr(None))
    }
    fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
        Ok(LooseStr(None))
    }
    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(LooseStr(None))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(LooseStr(None))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(LooseStr(None))
    }
}

/// A non-negative integer, written as a number or as a string of digits.
struct LooseU64(Option<u64>);

impl<'de> de::Deserialize<'de> for LooseU64 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = LooseU64;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
                Ok(LooseU64(Some(v)))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
                Ok(LooseU64(u64::try_from(v).ok()))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
                let whole = v.fract() == 0.0 && v >= 0.0 && v < u64::MAX as f64;
                Ok(LooseU64(whole.then_some(v as u64)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(LooseU64(v.trim().parse().ok()))
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(LooseU64(None))
            }
            fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
                Ok(LooseU64(None))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(LooseU64(None))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(LooseU64(None))
            }
        }
        d.deserialize_any(V)
    }
}

/// Rails' `params`: an array of `{"key": ..., "value": ...}`; older lines use an object.
struct ParamsDe<'a>(Params<'a>);

impl<'a> ParamsDe<'a> {
    fn set(&mut self, key: &str, value: Option<Cow<'a, str>>) {
        let slot = match key {
            "namespace_id" => &mut self.0.namespace_id,
            "project_id" => &mut self.0.project_id,
            "repository_path" => &mut self.0.repository_path,
            "service" => &mut self.0.service,
            "action" => &mut self.0.action,
            "protocol" => &mut self.0.protocol,
            "check_ip" => &mut self.0.check_ip,
            _ => return,
        };
        *slot = value;
    }
}

impl<'de> de::Deserialize<'de> for ParamsDe<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ParamsVisitor)
    }
}

struct ParamsVisitor;

impl<'de> Visitor<'de> for ParamsVisitor {
    type Value = ParamsDe<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Rails params")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut out = ParamsDe(Params::default());
        while let Some(entry) = seq.next_element::<ParamEntry<'de>>()? {
            if let Some(key) = entry.key {
                out.set(&key, entry.value);
            }
        }
        Ok(out)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out = ParamsDe(Params::default());
        while let Some(LooseStr(key)) = map.next_key::<LooseStr<'de>>()? {
            let value = map.next_value::<LooseStr<'de>>()?.0;
            out.set(key.as_deref().unwrap_or_default(), value);
        }
        Ok(out)
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(ParamsDe(Params::default()))
    }
    fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
        Ok(ParamsDe(Params::default()))
    }
    fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
        Ok(ParamsDe(Params::default()))
    }
    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        Ok(ParamsDe(Params::default()))
    }
    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(ParamsDe(Params::default()))
    }
    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(ParamsDe(Params::default()))
    }
}

/// One `{"key": ..., "value": ...}` element; anything else in the array is skipped.
struct ParamEntry<'a> {
    key: Option<Cow<'a, str>>,
    value: Option<Cow<'a, str>>,
}

impl<'de> de::Deserialize<'de> for ParamEntry<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ParamEntry<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a key/value pair")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut entry = ParamEntry {
                    key: None,
                    value: None,
                };
                while let Some(LooseStr(k)) = map.next_key::<LooseStr<'de>>()? {
                    match k.as_deref().unwrap_or_default() {
                        "key" => entry.key = map.next_value::<LooseStr<'de>>()?.0,
                        "value" => entry.value = map.next_value::<LooseStr<'de>>()?.0,
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(entry)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(ParamEntry {
                    key: None,
                    value: None,
                })
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(ParamEntry {
                    key: None,
                    value: None,
                })
            }
            fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
                Ok(ParamEntry {
                    key: None,
                    value: None,
                })
            }
            fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
                Ok(ParamEntry {
                    key: None,
                    value: None,
                })
            }
            fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
                Ok(ParamEntry {
                    key: None,
                    value: None,
                })
            }
            fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
                Ok(ParamEntry {
                    key: None,
                    value: None,
                })
            }
            fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
                Ok(ParamEntry {
                    key: None,
                    value: None,
                })
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::Line;

    fn request(line: &str) -> Request<'_> {
        match parse_line(line.as_bytes(), Flavor::Auto) {
            Line::Request(r) => *r,
            other => panic!("not a request: {other:?}"),
        }
    }

    #[test]
    fn rails_line_with_every_identity_field() {
        let r = request(
            r#"{"method":"GET","path":"/acme/app/-/issues","status":200,"time":"2026-03-14T20:06:12.345Z","params":[{"key":"namespace_id","value":"acme"},{"key":"project_id","value":"app"}],"remote_ip":"81.2.69.144, 127.0.0.1","user_id":1,"username":"alice","ua":"Firefox","correlation_id":"c1","meta.project":"acme/app","meta.root_namespace":"acme","db_count":3,"exception.backtrace":["a","b"]}"#,
        );
        assert_eq!(r.source, Source::Rails);
        assert_eq!(r.path, "/acme/app/-/issues");
        assert_eq!(r.status, Some(200));
        assert_eq!(r.client_ip, Some("81.2.69.144".parse().unwrap()));
        assert_eq!((r.user_id, r.username.as_deref()), (Some(1), Some("alice")));
        assert_eq!(r.params.namespace_id.as_deref(), Some("acme"));
        assert_eq!(r.params.project_id.as_deref(), Some("app"));
        assert_eq!(r.meta_project.as_deref(), Some("acme/app"));
    }

    #[test]
    fn meta_fields_stand_in_for_missing_ones() {
        let r = request(
            r#"{"path":"/x","time":"2026-03-14T20:06:12Z","meta.remote_ip":"192.0.2.4","meta.user_id":"7","meta.user":"bob"}"#,
        );
        assert_eq!(r.client_ip, Some("192.0.2.4".parse().unwrap()));
        assert_eq!((r.user_id, r.username.as_deref()), (Some(7), Some("bob")));
    }

    #[test]
    fn nulls_masks_and_mapped_addresses() {
        let r = request(
            r#"{"path":"/x","time":"2026-03-14T20:06:12Z","remote_ip":"[filtered]","user_id":null,"username":null,"ua":null,"status":null}"#,
        );
        assert_eq!(
            (r.client_ip, r.user_id, r.username, r.status),
            (None, None, None, None)
        );
        let r = request(
            r#"{"path":"/x","time":"2026-03-14T20:06:12Z","remote_ip":"::ffff:198.51.100.9"}"#,
        );
        assert_eq!(r.client_ip, Some("198.51.100.9".parse().unwrap()));
    }

    #[test]
    fn keys_with_escapes_are_read_like_plain_ones() {
        let r = request(
            r#"{"p\u0061th":"/acme/app","time":"2026-03-14T20:06:12Z","params":{"n\u0061mespace_id":"acme"},"meta.\u0070roject":"acme/app"}"#,
        );
        assert_eq!(r.path, "/acme/app");
        assert_eq!(r.params.namespace_id.as_deref(), Some("acme"));
        assert_eq!(r.meta_project.as_deref(), Some("acme/app"));
    }

    #[test]
    fn repeated_keys_keep_the_last_value() {
        let r = request(
            r#"{"path":"/x","time":"2026-03-14T20:06:12Z","correlation_id":"first","correlation_id":"last"}"#,
        );
        assert_eq!(r.correlation_id.as_deref(), Some("last"));
    }

    #[test]
    fn workhorse_access_lines_are_requests_and_others_are_not() {
        let r = request(
            r#"{"correlation_id":"LOt9","method":"GET","msg":"access","remote_addr":"68.0.116.160:0","remote_ip":"[filtered]","status":200,"time":"2019-09-17T22:17:19Z","uri":"/root/linux/blob/master/README?format=json\u0026viewer=rich","user_agent":"Mozilla/5.0"}"#,
        );
        assert_eq!(r.source, Source::Workhorse);
        assert_eq!(
            r.path,
            "/root/linux/blob/master/README?format=json&viewer=rich"
        );
        assert_eq!(r.client_ip, Some("68.0.116.160".parse().unwrap()));
        assert_eq!(r.user_agent.as_deref(), Some("Mozilla/5.0"));
        let start = br#"{"level":"info","msg":"Starting","time":"2019-09-17T22:17:19Z"}"#;
        assert!(matches!(parse_line(start, Flavor::Auto), Line::NotRequest));
    }

    #[test]
    fn what_is_malformed_and_what_is_not_a_request() {
        let cases: &[(&[u8], &str)] = &[
            (b"", "not_request"),
            (b"   ", "not_request"),
            (b"plain text", "malformed"),
            (br#"{"path":"/x","time":"2026-03"#, "malformed"),
            (b"[1,2]", "malformed"),
            (b"\xff\xfe{}", "malformed"),
            (br#"{"path":"/x"}"#, "malformed"),
            (br#"{"path":"/x","time":"soon"}"#, "malformed"),
            (br#"{"query_string":"query{}","duration_s":7}"#, "not_request"),
            (br#"{"method":null,"path":null,"controller":"IssuesChannel","time":"2020-05-14T19:46:22.008Z"}"#, "not_request"),
        ];
        for (bytes, want) in cases {
            let got = match parse_line(bytes, Flavor::Auto) {
                Line::Request(_) => "request",
                Line::NotRequest => "not_request",
                Line::Malformed(_) => "malformed",
                Line::Audit(_) => "audit",
            };
            assert_eq!(got, *want, "{}", String::from_utf8_lossy(bytes));
        }
    }

    #[test]
    fn git_over_ssh_is_an_access_and_other_internal_calls_are_not() {
        let allowed = r#"{"status":200,"method":"POST","path":"/api/v4/internal/allowed","params":[{"key":"action","value":"git-receive-pack"},{"key":"project","value":"testuser/fake-project.git"},{"key":"protocol","value":"ssh"},{"key":"check_ip","value":"209.160.33.180"}],"remote_ip":"127.0.0.1","meta.user":"testuser","meta.project":"testuser/fake-project","time":"2018-10-29T12:49:42.123Z"}"#;
        let r = request(allowed);
        assert_eq!(r.client_ip, Some("209.160.33.180".parse().unwrap()));
        assert_eq!(r.kind(), crate::ingest::Kind::GitPush);
        let http = allowed.replace(r#""value":"ssh""#, r#""value":"http""#);
        assert!(matches!(
            parse_line(http.as_bytes(), Flavor::Auto),
            Line::NotRequest
        ));
        let post_receive = r#"{"status":200,"method":"POST","path":"/api/v4/internal/post_receive","meta.project":"testuser/jumbotron","time":"2018-10-29T12:49:42.123Z"}"#;
        assert!(matches!(
            parse_line(post_receive.as_bytes(), Flavor::Auto),
            Line::NotRequest
        ));
    }

    /// `line` as a log archive stores it: a `LogEntry` whose `jsonPayload` is the line,
    /// with `timestamp` when given (a receive time, unlike any time in the lines here).
    fn wrapped(line: &str, timestamp: Option<&str>) -> String {
        let timestamp = timestamp.map_or(String::new(), |t| format!(r#","timestamp":"{t}""#));
        format!(
            r#"{{"insertId":"x1","jsonPayload":{line}{timestamp},"receiveTimestamp":"2026-03-02T10:00:00.456Z","resource":{{"type":"gce_instance","labels":{{"instance_id":"42","zone":"europe-west1-b"}}}},"severity":"INFO","logName":"projects/p/logs/rails"}}"#
        )
    }

    /// What a line reads as, to compare two readings.
    fn reading(bytes: &[u8], flavor: Flavor) -> String {
        format!("{:?}", parse_line(bytes, flavor))
    }

    /// Lines of every kind, to be read wrapped as they read alone.
    const LINES: [&str; 10] = [
        // Rails, with every field the decoder reads.
        r#"{"method":"GET","path":"/acme/app/-/issues","status":"200","time":"2026-03-14T20:06:12.345Z","params":[{"key":"namespace_id","value":"acme"},{"key":"project_id","value":"app"}],"remote_ip":"81.2.69.144, 127.0.0.1","user_id":1,"username":"alice","ua":"Firefox","correlation_id":"c1","meta.project":"acme/app","meta.root_namespace":"acme","db_count":3,"exception.backtrace":["a","b"]}"#,
        r#"{"p\u0061th":"/x","time":"2026-03-14T20:06:12Z","meta.remote_ip":"192.0.2.4","meta.user_id":"7","meta.user":"bob","correlation_id":"first","correlation_id":"last","params":{"project_id":"app"}}"#,
        r#"{"status":200,"method":"POST","path":"/api/v4/internal/allowed","params":[{"key":"action","value":"git-receive-pack"},{"key":"protocol","value":"ssh"},{"key":"check_ip","value":"209.160.33.180"}],"remote_ip":"127.0.0.1","meta.project":"testuser/fake-project","time":"2018-10-29T12:49:42.123Z"}"#,
        // Workhorse: an access and a start-up message.
        r#"{"correlation_id":"LOt9","method":"GET","msg":"access","remote_addr":"68.0.116.160:0","remote_ip":"[filtered]","status":200,"time":"2019-09-17T22:17:19Z","uri":"/root/linux/blob/master/README?format=json\u0026viewer=rich","user_agent":"Mozilla/5.0"}"#,
        r#"{"level":"info","msg":"Starting","time":"2019-09-17T22:17:19Z"}"#,
        // Not requests, and requests without a usable time.
        r#"{"query_string":"query{}","duration_s":7}"#,
        r#"{"method":null,"path":null,"controller":"IssuesChannel","time":"2020-05-14T19:46:22.008Z"}"#,
        r#"{"path":"/x"}"#,
        r#"{"path":"/x","time":"soon"}"#,
        r#"{}"#,
    ];

    /// Requires each of [`LINES`], wrapped by `wrap` with a wrapper's time when the line
    /// has a `time` (the wrapper's time only stands in for a missing one: the lines
    /// without one here get none), to read as the line does in every flavor.
    fn each_wrapped_line_reads_as_the_line(wrap: impl Fn(&str, Option<&str>) -> String) {
        for line in LINES {
            for flavor in [Flavor::Auto, Flavor::Rails, Flavor::Workhorse] {
                let want = reading(line.as_bytes(), flavor);
                let has_time = line.contains(r#""time":"#);
                let record = wrap(line, has_time.then_some("2026-03-02T10:00:00.123Z"));
                assert_eq!(reading(record.as_bytes(), flavor), want, "{record}");
            }
        }
    }

    #[test]
    fn a_wrapped_line_reads_as_the_line_it_wraps() {
        each_wrapped_line_reads_as_the_line(wrapped);
    }

    #[test]
    fn the_wrappers_time_stands_in_only_for_a_missing_time() {
        let time = |bytes: &[u8]| match parse_line(bytes, Flavor::Auto) {
            Line::Request(r) => Ok(r.time.to_rfc3339()),
            Line::Malformed(why) => Err(why),
            other => panic!("{other:?}"),
        };
        let stamp = Some("2026-03-02T10:00:00.123+01:00");
        let no_time = r#"{"path":"/acme/app","status":200}"#;
        // A `time` of another type is no time.
        let null_time = r#"{"path":"/acme/app","time":null}"#;
        let with_time = r#"{"path":"/acme/app","time":"2026-03-01T08:00:00Z"}"#;
        let bad_time = r#"{"path":"/acme/app","time":"soon"}"#;
        let wrappers: [fn(&str, Option<&str>) -> String; 3] =
            [wrapped, document, flattened_document];
        for wrap in wrappers {
            let stamped = Ok("2026-03-02T09:00:00.123+00:00".to_owned());
            assert_eq!(time(wrap(no_time, stamp).as_bytes()), stamped);
            assert_eq!(time(wrap(null_time, stamp).as_bytes()), stamped);
            assert_eq!(
                time(wrap(with_time, stamp).as_bytes()),
                Ok("2026-03-01T08:00:00+00:00".to_owned())
            );
            // A line's time that cannot be read is not replaced; neither is a missing
            // one by a time that cannot be read, or by none.
            assert!(time(wrap(bad_time, stamp).as_bytes()).is_err());
            assert!(time(wrap(no_time, Some("soon")).as_bytes()).is_err());
            assert!(time(wrap(no_time, None).as_bytes()).is_err());
        }
        // Wherever it stands.
        let cases = [
            format!(r#"{{"timestamp":"2026-03-02T10:00:00Z","jsonPayload":{no_time}}}"#),
            format!(r#"{{"json":{no_time},"@timestamp":"2026-03-02T10:00:00Z"}}"#),
        ];
        for case in cases {
            assert_eq!(
                time(case.as_bytes()),
                Ok("2026-03-02T10:00:00+00:00".to_owned()),
                "{case}"
            );
        }
        // Each wrapper has its own time: a document's `timestamp` is no time, nor is a
        // record's `@timestamp`; an unwrapped line has no wrapper, and neither is its
        // time.
        let cases = [
            r#"{"timestamp":"2026-03-02T10:00:00Z","json":{"path":"/acme/app"}}"#,
            r#"{"timestamp":"2026-03-02T10:00:00Z","json.path":"/acme/app"}"#,
            r#"{"@timestamp":"2026-03-02T10:00:00Z","jsonPayload":{"path":"/acme/app"}}"#,
            r#"{"path":"/acme/app","timestamp":"2026-03-02T10:00:00Z"}"#,
            r#"{"@timestamp":"2026-03-02T10:00:00Z","path":"/acme/app"}"#,
        ];
        for case in cases {
            assert!(time(case.as_bytes()).is_err(), "{case}");
        }
    }

    #[test]
    fn a_wrapper_that_is_not_an_object_is_malformed() {
        for value in [
            r#""{\"path\":\"/acme/secret\"}""#,
            r#"["/acme/secret"]"#,
            "null",
            "7",
            "-7",
            "0.5",
            "true",
        ] {
            let stamp = Some("2026-03-02T10:00:00Z");
            let cases = [
                (wrapped(value, stamp), "jsonPayload is not a JSON object"),
                (document(value, stamp), "json is not a JSON object"),
                // Also beside flattened keys, which a `json` key outweighs.
                (
                    format!(r#"{{"json.path":"/acme/app","json":{value}}}"#),
                    "json is not a JSON object",
                ),
            ];
            for (record, want) in cases {
                match parse_line(record.as_bytes(), Flavor::Auto) {
                    Line::Malformed(why) => assert_eq!(why, want),
                    other => panic!("{record}: {other:?}"),
                }
            }
        }
        // The last `jsonPayload` decides, as the last of any repeated key does.
        let twice =
            r#"{"jsonPayload":{"path":"/x","time":"2026-03-02T10:00:00Z"},"jsonPayload":"x"}"#;
        assert!(matches!(
            parse_line(twice.as_bytes(), Flavor::Auto),
            Line::Malformed(_)
        ));
    }

    #[test]
    fn the_payload_wins_over_the_records_own_fields() {
        let payload = r#"{"path":"/acme/app","time":"2026-03-01T08:00:00Z","username":"alice"}"#;
        // The record's own fields, before the payload and after it.
        let record = format!(
            r#"{{"path":"/globex/web","time":"2026-03-02T10:00:00Z","meta.user":"mallory","jsonPayload":{payload},"username":"bob","status":500,"remote_ip":"192.0.2.1"}}"#
        );
        assert_eq!(
            reading(record.as_bytes(), Flavor::Auto),
            reading(payload.as_bytes(), Flavor::Auto)
        );
        // Wholly: a payload that is no request makes the record none.
        let record = r#"{"path":"/globex/web","time":"2026-03-02T10:00:00Z","jsonPayload":{"level":"info"}}"#;
        assert!(matches!(
            parse_line(record.as_bytes(), Flavor::Auto),
            Line::NotRequest
        ));
    }

    /// `line` as a search index's document holds it: the line's object under `json`,
    /// beside the shipper's keys, with `@timestamp` when given (an index time, unlike
    /// any time in the lines here).
    fn document(line: &str, at_timestamp: Option<&str>) -> String {
        let at = at_timestamp.map_or(String::new(), |t| format!(r#""@timestamp":"{t}","#));
        format!(
            r#"{{{at}"json":{line},"type":"rails","host":"web-01","fluentd":{{"tag":"rails.production","worker":0}}}}"#
        )
    }

    /// `line` flattened as a search index's document may hold it: each of the line's
    /// keys prefixed with `json.` (a key repeated in the line appears once, with its
    /// last value), beside the shipper's keys and `@timestamp` when given.
    fn flattened_document(line: &str, at_timestamp: Option<&str>) -> String {
        let serde_json::Value::Object(fields) = serde_json::from_str(line).unwrap() else {
            panic!("not an object: {line}");
        };
        let mut doc = String::from(r#"{"host":"web-01""#);
        if let Some(t) = at_timestamp {
            doc += &format!(r#","@timestamp":"{t}""#);
        }
        for (key, value) in fields {
            doc += &format!(
                ",{}:{value}",
                serde_json::Value::from(format!("json.{key}"))
            );
        }
        doc + r#","type":"rails"}"#
    }

    #[test]
    fn a_documents_line_reads_as_the_line_it_holds() {
        each_wrapped_line_reads_as_the_line(document);
        each_wrapped_line_reads_as_the_line(flattened_document);
        // Only a document's `_source` is read as one: a whole search hit is not.
        let line = r#"{"path":"/acme/app","time":"2026-03-01T08:00:00Z"}"#;
        let hit = format!(
            r#"{{"_index":"i","_id":"x1","_source":{}}}"#,
            document(line, None)
        );
        assert!(matches!(
            parse_line(hit.as_bytes(), Flavor::Auto),
            Line::NotRequest
        ));
    }

    #[test]
    fn the_json_object_wins_over_the_documents_own_and_flattened_keys() {
        let line = r#"{"path":"/acme/app","time":"2026-03-01T08:00:00Z","username":"alice"}"#;
        let want = reading(line.as_bytes(), Flavor::Auto);
        let read = |doc: &str| reading(doc.as_bytes(), Flavor::Auto);
        // The document's own fields and its `json.` keys, before the object and after
        // it: none is read, so none counts twice.
        let docs = [
            format!(
                r#"{{"path":"/globex/web","time":"2026-03-02T10:00:00Z","meta.user":"mallory","json":{line},"username":"bob","status":500,"remote_ip":"192.0.2.1"}}"#
            ),
            format!(
                r#"{{"json.path":"/globex/web","json.username":"bob","json":{line},"json.status":500,"json.remote_ip":"192.0.2.1","json.meta.user":"mallory"}}"#
            ),
            // Of two wrapper objects, the last.
            format!(r#"{{"jsonPayload":{{"path":"/globex/web"}},"json":{line}}}"#),
            format!(r#"{{"json":{{"path":"/globex/web"}},"jsonPayload":{line}}}"#),
        ];
        for doc in docs {
            assert_eq!(read(&doc), want, "{doc}");
        }
        // Inside a wrapper, a wrapper key is one more key the line does not use.
        let inner = line.replacen(
            '{',
            r#"{"json":{"path":"/globex/web"},"json.status":500,"#,
            1,
        );
        let docs = [document(&inner, None), wrapped(&inner, None)];
        for doc in docs {
            assert_eq!(read(&doc), want, "{doc}");
        }
        // Wholly: an object that is no request makes the document none.
        let doc = r#"{"json.path":"/globex/web","json.time":"2026-03-02T10:00:00Z","json":{"level":"info"}}"#;
        assert!(matches!(
            parse_line(doc.as_bytes(), Flavor::Auto),
            Line::NotRequest
        ));
    }

    #[test]
    fn a_flattened_document_takes_only_its_json_keys() {
        let line = r#"{"path":"/acme/app","time":"2026-03-01T08:00:00Z","username":"alice","meta.project":"acme/app","params":[{"key":"project_id","value":"app"}]}"#;
        let want = reading(line.as_bytes(), Flavor::Auto);
        let read = |doc: &str| reading(doc.as_bytes(), Flavor::Auto);
        let docs = [
            // Unprefixed request keys, before the first `json.` key and after it.
            r#"{"path":"/globex/web","username":"bob","json.path":"/acme/app","json.time":"2026-03-01T08:00:00Z","remote_ip":"192.0.2.1","json.username":"alice","meta.user":"mallory","json.meta.project":"acme/app","json.params":[{"key":"project_id","value":"app"}],"status":500}"#,
            // Escaped keys, and a repeated one whose last value wins.
            r#"{"json.p\u0061th":"/acme/app","\u006Ason.time":"2026-03-01T08:00:00Z","json.username":"bob","json.username":"alice","json.meta.\u0070roject":"acme/app","json.params":{"project_id":"app"}}"#,
        ];
        for doc in docs {
            assert_eq!(read(doc), want, "{doc}");
        }
        // `json.` names a field only as a whole prefix.
        let doc = r#"{"path":"/acme/app","time":"2026-03-01T08:00:00Z","jsonx.path":"/globex/web","JSON.path":"/globex/web"}"#;
        assert!(read(doc).contains(r#"path: "/acme/app""#), "{}", read(doc));
    }

    #[test]
    fn params_may_be_an_object() {
        let r = request(
            r#"{"path":"/x","time":"2026-03-14T20:06:12Z","params":{"namespace_id":"acme","project_id":"app","other":{"a":1}}}"#,
        );
        assert_eq!(r.params.project_id.as_deref(), Some("app"));
    }
}
