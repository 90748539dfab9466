//! The final check: a rendered reply's data spans checked, the verdict, and the
//! finished text (emphasis kept or taken out, bidirectional controls and Liquid
//! markers defused).

use std::collections::BTreeSet;

use crate::error::{Error, Result};

use super::Guarded;
use super::detectors::unfolded;
use super::hits::{Findings, Guard};
use super::marks::{
    DATA_END, DATA_START, OWN_END, OWN_START, PLACE, Place, is_bidi_control, is_mark,
};

/// What becomes of the template's own emphasis (`**`) when a reply is finished: kept
/// for markdown, taken out for plain text. Data is never touched: it is escaped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Emphasis {
    Keep,
    Strip,
}

impl Emphasis {
    fn push(self, template: &str, out: &mut String) {
        match self {
            Emphasis::Keep => out.push_str(template),
            Emphasis::Strip => out.push_str(&template.replace("**", "")),
        }
    }
}

impl Guard {
    /// Checks one data value; `part` names where it is in the reply, `place` what kind
    /// of place that is. The value is read as written and, when that differs, as a
    /// reader would see it (see [`unfolded`]); each kind counts as often as the
    /// spelling that shows it most.
    fn check(&self, text: &str, part: &str, place: Place, found: &mut Findings) {
        if text.trim().is_empty() || self.allowed.contains(&text.trim().to_lowercase()) {
            return;
        }
        let mut here = Findings::default();
        self.canaries(text, &mut here);
        self.detect(text, place, &mut here);
        if let Some(seen) = unfolded(text) {
            let mut unfolded = Findings::default();
            self.canaries(&seen, &mut unfolded);
            self.detect(&seen, place, &mut unfolded);
            here.most(unfolded);
        }
        if here.total() > 0 {
            found.parts.insert(part.to_owned(), place);
            for (kind, n) in here.kinds {
                found.add(kind, n);
            }
        }
    }

    fn verdict<T>(&self, found: Findings, value: T) -> Result<Guarded<T>> {
        if found.kinds.is_empty() {
            return Ok(Guarded(value));
        }
        Err(Error::Privacy {
            hits: found.kinds.values().sum(),
            kinds: found
                .kinds
                .keys()
                .map(|k| k.name())
                .collect::<Vec<_>>()
                .join(", "),
            advice: advice(found.parts.values().copied()),
            parts: found.parts.into_keys().collect::<Vec<_>>().join(", "),
        })
    }

    /// Checks every data string of a serializable value (the aggregates) that every
    /// format of the reply may show: the fields only the JSON shows
    /// ([`JSON_ONLY_FIELDS`]) are checked when the JSON is written.
    pub(crate) fn vet<T: serde::Serialize>(&self, value: T) -> Result<Guarded<T>> {
        let json = serde_json::to_value(&value)
            .map_err(|e| Error::Internal(format!("privacy guard: {e}")))?;
        let mut found = Findings::default();
        self.walk(&json, JSON_ONLY_FIELDS, &mut String::new(), &mut found);
        self.verdict(found, value)
    }

    /// Serializes `value` as pretty JSON after checking every data string in it, then
    /// applies `after` (which may only replace numbers with the program's own words,
    /// as `--min-count` does).
    pub(crate) fn json(
        &self,
        mut value: serde_json::Value,
        after: impl FnOnce(&mut serde_json::Value),
    ) -> Result<Guarded<String>> {
        let mut found = Findings::default();
        self.walk(&value, &[], &mut String::new(), &mut found);
        after(&mut value);
        let text = serde_json::to_string_pretty(&value)
            .map_err(|e| Error::Internal(format!("privacy guard: {e}")))?;
        let mut text = defuse_json(&text);
        text.push('\n');
        self.verdict(found, text)
    }

    /// Walks a JSON value; `at` is the path of keys to it (`paths[].path`), which both
    /// decides whether a string is the program's own and names the part on a hit.
    /// Strings of the fields in `skip` are not checked here.
    fn walk(&self, v: &serde_json::Value, skip: &[&str], at: &mut String, found: &mut Findings) {
        use serde_json::Value;
        match v {
            // Standard input's name is the program's words, not a file's name.
            Value::String(s) if at == "inputs[].name" && s == crate::output::STANDARD_INPUT => {}
            Value::String(s)
                if !OWN_JSON_FIELDS.contains(&at.as_str()) && !skip.contains(&at.as_str()) =>
            {
                let (part, place) = part_of_field(at);
                self.check(s, &part, place, found);
            }
            Value::Array(a) => {
                let len = at.len();
                at.push_str("[]");
                a.iter().for_each(|x| self.walk(x, skip, at, found));
                at.truncate(len);
            }
            Value::Object(o) => {
                for (key, x) in o {
                    let len = at.len();
                    if !at.is_empty() {
                        at.push('.');
                    }
                    at.push_str(key);
                    self.walk(x, skip, at, found);
                    at.truncate(len);
                }
            }
            _ => {}
        }
    }

    /// Checks the data spans of a rendered reply, then removes the marks and escapes
    /// each data or own span with `escape`. The template's own text is passed through
    /// unchanged. A hit is reported with the part of the reply it is in: the place its
    /// span names (the greeting, the known list…), else the heading above it, or the
    /// opening. The finished text carries no bidirectional control and no Liquid
    /// marker (see [`defuse_text`]).
    pub(crate) fn finish(
        &self,
        marked: &str,
        escape: fn(&str, &mut String),
        emphasis: Emphasis,
    ) -> Result<Guarded<String>> {
        let unbalanced = || Error::Internal("unbalanced mark in a template".into());
        let mut out = String::with_capacity(marked.len());
        let mut found = Findings::default();
        let mut part = "the opening".to_owned();
        let mut rest = marked;
        while let Some(start) = rest.find([DATA_START, OWN_START]) {
            let template = &rest[..start];
            if template.contains([DATA_END, OWN_END]) {
                return Err(unbalanced());
            }
            if let Some(heading) = heading(template) {
                part = heading;
            }
            emphasis.push(template, &mut out);
            let open = rest[start..].chars().next().ok_or_else(unbalanced)?;
            let close = if open == DATA_START {
                DATA_END
            } else {
                OWN_END
            };
            let after = &rest[start + open.len_utf8()..];
            let end = after.find(close).ok_or_else(unbalanced)?;
            let (place, span) = match after[..end].strip_prefix(PLACE) {
                Some(placed) if open == DATA_START => {
                    let (code, span) = placed.split_once(PLACE).ok_or_else(unbalanced)?;
                    (Place::from_code(code).ok_or_else(unbalanced)?, span)
                }
                _ => (Place::Reply, &after[..end]),
            };
            if span.contains(is_mark) {
                return Err(unbalanced());
            }
            if open == DATA_START {
                match place {
                    Place::Reply => self.check(span, &part, place, &mut found),
                    _ => self.check(span, place.described(), place, &mut found),
                }
            }
            escape(span, &mut out);
            rest = &after[end + close.len_utf8()..];
        }
        if rest.contains(is_mark) {
            return Err(unbalanced());
        }
        emphasis.push(rest, &mut out);
        self.verdict(found, defuse_text(&out))
    }
}

/// A finished reply in markdown or text without bidirectional controls, which would
/// make it read otherwise than it runs, and with each Liquid marker broken by a space
/// (`{{` becomes `{ {`), so that Zendesk fills in no placeholder. Markdown has escaped
/// the braces of data already; this also covers text, and spans that meet.
fn defuse_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars().filter(|&c| !is_bidi_control(c)) {
        if matches!(c, '{' | '%') && out.ends_with('{') {
            out.push(' ');
        }
        out.push(c);
    }
    out
}

/// Pretty JSON with every bidirectional control and the second character of every
/// Liquid marker written as a `\u` escape: the text carries neither, and a tool that
/// reads the JSON gets the values exactly. Outside strings, pretty JSON never puts
/// `{` before `{` or `%`, so every marker is inside a string, where an escape is valid.
fn defuse_json(text: &str) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if is_bidi_control(c) || (matches!(c, '{' | '%') && out.ends_with('{')) {
            let _ = write!(out, "\\u{:04x}", u32::from(c));
        } else {
            out.push(c);
        }
    }
    out
}

/// The last heading in a stretch of template text: a whole line of its own that ends
/// with a colon ("**Per path:**", "Per action:"), as the part a refusal names. The
/// stretch's first line continues a line begun before it, so it is never one.
fn heading(template: &str) -> Option<String> {
    template
        .split('\n')
        .skip(1)
        .map(|l| l.trim().trim_matches('*').trim())
        .filter(|l| l.ends_with(':') && !l.starts_with('-') && l.len() < 60)
        .last()
        .map(|l| format!("the part \"{}\"", l.trim_end_matches(':')))
}

/// How to go on after a refusal: the advice of each place that hit, once each.
fn advice(places: impl Iterator<Item = Place>) -> String {
    let places: BTreeSet<Place> = places.collect();
    places
        .into_iter()
        .map(Place::advice)
        .collect::<Vec<_>>()
        .join("; and ")
}

/// The part of a reply a field of the summary is printed in, as a refusal names it,
/// and its place.
fn part_of_field(at: &str) -> (String, Place) {
    let (part, place) = match at {
        "scope[]" => ("the scope", Place::Reply),
        "paths[].path" => ("the per-path list", Place::Reply),
        "ip_block.paths[].path" => ("the refusals per path", Place::Reply),
        "filters.exclude_domains[]" => ("the excluded domains", Place::Domains),
        "filters.exclude_ip_ranges[]" => ("the excluded ranges", Place::Ranges),
        "filters.matched_nothing.domains[]" | "filters.team_wide.domains[]" => {
            ("the excluded domains", Place::Domains)
        }
        "filters.matched_nothing.ip_ranges[]" | "filters.team_wide.ip_ranges[]" => {
            ("the excluded ranges", Place::Ranges)
        }
        "filters.client_ranges[]" => ("the requester's addresses", Place::ClientRanges),
        "inputs[].name" => ("the inputs' names", Place::InputNames),
        _ => ("a field", Place::Reply),
    };
    (format!("{part} (field {at})"), place)
}

/// Data fields only the JSON shows: checked when the JSON is written, not for every
/// format. The inputs' names are the engineer's (the internal note lists them too),
/// but the JSON hands them to the customer.
const JSON_ONLY_FIELDS: &[&str] = &["inputs[].name"];

/// The JSON fields the program writes itself (times, labels, status classes, the
/// inputs' formats and digests, the GeoIP database's names): never data. Every other
/// string is checked, the inputs' names included.
const OWN_JSON_FIELDS: &[&str] = &[
    "template",
    "filters.since",
    "filters.until",
    "logs_cover.first",
    "logs_cover.last",
    "gaps[].from",
    "gaps[].to",
    "counts.first_seen",
    "counts.last_seen",
    "excluded.user.first_seen",
    "excluded.user.last_seen",
    "excluded.domain.first_seen",
    "excluded.domain.last_seen",
    "excluded.ip.first_seen",
    "excluded.ip.last_seen",
    "statuses[].status",
    "status_classes[].class",
    "countries[].country",
    "countries[].name",
    "busiest_minute.minute",
    "inputs[].format",
    "inputs[].sha256",
    "audit.first_seen",
    "audit.last_seen",
    "audit.actions[].action",
    "audit.actions[].first_seen",
    "audit.actions[].last_seen",
    "ip_block.statuses[].status",
    "ip_block.busiest_minute.minute",
    "geoip.database_type",
    "geoip.build_date",
];

#[cfg(test)]
mod tests {
    use super::super::hits::HitKind;
    use super::*;
    use crate::directory::Directory;
    use crate::guard::Canaries;

    fn guard(values: &[(&str, HitKind)], allowed: &[&str]) -> Guard {
        let mut c = Canaries::new(None, &["203.0.113.0/24".parse().unwrap()]);
        for (v, k) in values {
            c.add(v, *k);
        }
        c.into_guard(allowed.iter().map(|s| s.to_string())).unwrap()
    }

    fn marked(data: &str) -> String {
        format!("The template says API and bob. {DATA_START}{data}{DATA_END} done.")
    }

    fn plain(s: &str, out: &mut String) {
        out.push_str(s);
    }

    fn refused(g: &Guard, data: &str) -> bool {
        matches!(
            g.finish(&marked(data), plain, Emphasis::Keep),
            Err(Error::Privacy { .. })
        )
    }

    #[test]
    fn whole_tokens_in_data_only() {
        let g = guard(
            &[
                ("api", HitKind::Username),
                ("bob", HitKind::Username),
                ("Erin Example", HitKind::Name),
            ],
            &["acme/api", "acme/bob"],
        );
        // The template's own words never count.
        assert!(g.finish(&marked("12"), plain, Emphasis::Keep).is_ok());
        // An allowed path that contains a canary as a segment.
        assert!(g.finish(&marked("acme/api"), plain, Emphasis::Keep).is_ok());
        assert!(g.finish(&marked("ACME/Bob"), plain, Emphasis::Keep).is_ok());
        // A canary inside a longer token is not a hit.
        assert!(g.finish(&marked("bobby"), plain, Emphasis::Keep).is_ok());
        assert!(
            g.finish(&marked("bob.smith"), plain, Emphasis::Keep)
                .is_ok()
        );
        for bad in ["BOB", "acme/web/bob", "erin example", "(bob)", "bob."] {
            assert!(refused(&g, bad), "{bad}");
        }
    }

    #[test]
    fn the_programs_own_text_is_never_checked() {
        let g = guard(
            &[
                ("utc", HitKind::Username),
                ("2xx", HitKind::Username),
                ("2026", HitKind::Username),
            ],
            &[],
        );
        let text = format!(
            "At {OWN_START}20:06 UTC on 2026-03-14{OWN_END}, {OWN_START}2xx{OWN_END}: \
             {OWN_START}198.51.100.7{OWN_END}"
        );
        let out = g.finish(&text, plain, Emphasis::Keep).unwrap();
        assert_eq!(out.get(), "At 20:06 UTC on 2026-03-14, 2xx: 198.51.100.7");
        assert!(refused(&g, "2026"));
    }

    #[test]
    fn detectors_need_no_canary() {
        let g = guard(&[], &["acme/app"]);
        for bad in [
            "zed.zulu@elsewhere.example",
            "Added member zed.zulu@elsewhere.example as Developer",
            "Blocked access for 192.0.2.77",
            "192.0.2.77:8080",
            "192.000.002.077",
            "2001:db8::77",
            "2001:DB8:0:0:0:0:0:77",
            "[2001:db8::77]:443",
            "fe80::1%eth0",
            "::ffff:192.0.2.77",
            "::FFFF:c000:024d",
            "https://bot:secret@ci.elsewhere.example",
            "token glpat-AbCdEf0123456789xyz_",
            "GLDT-abcdefghijkl",
            "Authorization: Bearer abcdefghijklmnop1234",
        ] {
            assert!(refused(&g, bad), "{bad}");
        }
        for fine in [
            "acme/app",
            "Added a member",
            "20:06 UTC",
            "version 1.2.3",
            "2026-03-14",
            // The requester's own range.
            "203.0.113.0/24",
            "203.0.113.9",
            "::ffff:203.0.113.9",
            "a token was created",
        ] {
            assert!(!refused(&g, fine), "{fine}");
        }
    }

    #[test]
    fn a_refusal_names_kinds_and_parts_never_values() {
        let g = guard(&[("erin", HitKind::Username)], &[]);
        let text = format!(
            "Hello {DATA_START}x{DATA_END}\n**Per path:**\n\n- {DATA_START}erin{DATA_END}: 3\n\
             - {DATA_START}192.0.2.1{DATA_END}"
        );
        let err = g.finish(&text, plain, Emphasis::Keep).unwrap_err();
        let message = err.to_string();
        assert!(message.contains("username") && message.contains("IP address"));
        assert!(message.contains("Per path"));
        assert!(!message.contains("erin") && !message.contains("192.0.2.1"));
    }

    #[test]
    fn json_checks_data_fields_only() {
        let g = guard(&[("2xx", HitKind::Username)], &[]);
        let own = serde_json::json!({"status_classes": [{"class": "2xx"}], "template": "2xx"});
        assert!(g.json(own, |_| {}).is_ok());
        let data = serde_json::json!({"paths": [{"path": "2xx"}]});
        let err = g.json(data, |_| {}).unwrap_err().to_string();
        assert!(
            err.contains("the per-path list (field paths[].path)"),
            "{err}"
        );
        // The inputs' names are data in the JSON, but not checked by `vet`, which
        // checks what every format shows; standard input's name is the program's.
        let g = guard(
            &[("carol", HitKind::Username), ("input", HitKind::Username)],
            &[],
        );
        let named = |name: &str| serde_json::json!({"inputs": [{"name": name}]});
        assert!(g.vet(named("tickets/carol/production_json.log")).is_ok());
        let err = g
            .json(named("tickets/carol/production_json.log"), |_| {})
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("the inputs' names (field inputs[].name)"),
            "{err}"
        );
        assert!(
            err.contains("give the inputs names that name no one"),
            "{err}"
        );
        assert!(g.json(named("(standard input)"), |_| {}).is_ok());
        assert!(g.json(named("logs/input"), |_| {}).is_err());
    }

    #[test]
    fn the_requesters_own_values_are_not_canaries() {
        let dir = Directory::from_slice(
            br#"{"namespaces":[{"id":1,"full_path":"acme","plan":"premium"}],
                "users":[{"id":1,"username":"alice","name":"Alice A","email":"alice@acme.example"},
                         {"id":2,"username":"bob","email":"bob@acme.example"}],
                "members":[{"namespace_id":1,"user_id":1,"access_level":50}]}"#,
        )
        .unwrap();
        let v = crate::directory::verify(&dir, "alice@acme.example", &[]).unwrap();
        let mut c = Canaries::new(Some(&v), &[]);
        c.add_directory(&dir);
        let g = c.into_guard(vec![]).unwrap();
        assert!(g.vet(vec!["alice", "Alice A"]).is_ok());
        assert!(g.vet(vec!["bob"]).is_err());
    }

    #[test]
    fn case_is_ignored_in_all_of_unicode() {
        let g = guard(
            &[
                ("Ärger Öztürk", HitKind::Name),
                ("ΟΔΥΣΣΕΑΣ", HitKind::Name),
                ("jürgen", HitKind::Username),
            ],
            &[],
        );
        for bad in [
            "ärger öztürk",
            "ÄRGER ÖZTÜRK",
            // The final sigma, written either way.
            "Οδυσσεας",
            "Οδυσσεaς".replace('a', "α").as_str(),
            "ΟΔΥΣΣΕΑΣ.",
            "JÜRGEN",
            "by Jürgen",
        ] {
            assert!(refused(&g, bad), "{bad}");
        }
        for fine in ["ärger öztürks", "jürgenz", "xjürgen", "jürgen_x"] {
            assert!(!refused(&g, fine), "{fine}");
        }
    }

    #[test]
    fn detectors_see_text_as_a_reader_does() {
        for (written, read) in [
            ("shared＠dup.example", "shared@dup.example"),
            ("ｓｈａｒｅｄ＠ｄｕｐ．ｅｘａｍｐｌｅ", "shared@dup.example"),
            ("shared%40dup.example", "shared@dup.example"),
            ("shared%2540dup.example", "shared@dup.example"),
            ("shared％40dup.example", "shared@dup.example"),
            ("shared%EF%BC%A0dup.example", "shared@dup.example"),
            ("shared [at] dup [dot] example", "shared@dup.example"),
            ("shared (AT) dup{dot}example", "shared@dup.example"),
            ("sha\u{200B}red@dup\u{00AD}.example", "shared@dup.example"),
            ("shared@dup。example", "shared@dup.example"),
            ("１９２．０．２．７７", "192.0.2.77"),
        ] {
            assert_eq!(unfolded(written).as_deref(), Some(read), "{written}");
        }
        for plain in ["Hello Alice,", "acme/platform", "100% sure (at last)"] {
            assert_eq!(unfolded(plain).as_deref().unwrap_or(plain), plain);
        }
        let g = guard(&[("shared@dup.example", HitKind::Email)], &[]);
        for bad in [
            "shared＠dup.example",
            "zed%40elsewhere.example",
            "zed [at] elsewhere.example",
            "３２２１２２６０６１",
            "0xC000024D",
        ] {
            assert!(refused(&g, bad), "{bad}");
        }
        for fine in [
            "Hello Alice,",
            "Hi there (at last)",
            "We are 100% sure",
            "1.2.3",
        ] {
            assert!(!refused(&g, fine), "{fine}");
        }
    }

    #[test]
    fn the_requesters_own_emails_pass_the_detector() {
        let dir = Directory::from_slice(
            br#"{"namespaces":[{"id":1,"full_path":"acme","plan":"premium"}],
                "users":[{"id":1,"username":"alice","email":"alice@acme.example","emails":["a@alice.example"]},
                         {"id":2,"username":"bob","email":"bob@acme.example"}],
                "members":[{"namespace_id":1,"user_id":1,"access_level":50}]}"#,
        )
        .unwrap();
        let v = crate::directory::verify(&dir, "alice@acme.example", &[]).unwrap();
        let mut c = Canaries::new(Some(&v), &[]);
        c.add_directory(&dir);
        let g = c.into_guard(vec![]).unwrap();
        for fine in [
            "Hello ALICE@acme.example,",
            "a@alice.example",
            "alice＠acme.example",
            "alice [at] acme.example",
        ] {
            assert!(!refused(&g, fine), "{fine}");
        }
        for bad in [
            "bob@acme.example",
            "xalice@acme.example",
            "alice@acme.example.org",
        ] {
            assert!(refused(&g, bad), "{bad}");
        }
    }

    #[test]
    fn a_refusal_names_the_place_of_a_typed_value_and_advises_on_it() {
        let g = guard(&[("carol", HitKind::Username)], &[]);
        let placed = |place: Place, value: &str| {
            format!(
                "{DATA_START}{PLACE}{}{PLACE}{value}{DATA_END}",
                place.code()
            )
        };
        let text = format!(
            "{}\n\n**Per path:**\n\n- {DATA_START}acme{DATA_END}: 3\n\n{}",
            placed(Place::Greeting, "Hello,"),
            placed(Place::SignOff, "Ask carol")
        );
        let err = g
            .finish(&text, plain, Emphasis::Keep)
            .unwrap_err()
            .to_string();
        assert!(err.contains("printed in the sign-off"), "{err}");
        assert!(err.contains("change sign_off"), "{err}");
        assert!(
            !err.contains("Per path") && !err.contains("--namespace"),
            "{err}"
        );
        // A place the renderer does not know is a bug, not a value.
        let bad = format!("{DATA_START}{PLACE}nowhere{PLACE}x{DATA_END}");
        assert!(matches!(
            g.finish(&bad, plain, Emphasis::Keep),
            Err(Error::Internal(_))
        ));
    }

    #[test]
    fn no_bidirectional_control_or_liquid_marker_leaves_the_guard() {
        let g = guard(&[], &[]);
        let text = format!(
            "Hi {DATA_START}\u{202E}{{{{ticket.id}}}} {{% if %}}\u{2066}{DATA_END} {OWN_START}{{{OWN_END}{DATA_START}{{x{DATA_END}."
        );
        let out = g.finish(&text, plain, Emphasis::Keep).unwrap();
        assert_eq!(out.get(), "Hi { {ticket.id}} { % if %} { {x.");
        let json = serde_json::json!({"paths": [{"path": "\u{202E}{{x}}{%y%}{{{"}]});
        let out = g.json(json.clone(), |_| {}).unwrap();
        let text = out.get();
        assert!(!text.contains("{{") && !text.contains("{%") && !text.contains('\u{202E}'));
        assert!(text.contains("\\u202e"), "{text}");
        let back: serde_json::Value = serde_json::from_str(text).unwrap();
        assert_eq!(back, json);
    }

    #[test]
    fn plain_text_loses_the_templates_emphasis_never_the_datas() {
        let g = guard(&[], &[]);
        let text = format!("**We found {OWN_START}3{OWN_END}** in **{DATA_START}a**b{DATA_END}**.");
        let out = g.finish(&text, plain, Emphasis::Strip).unwrap();
        assert_eq!(out.get(), "We found 3 in a**b.");
        let out = g.finish(&text, plain, Emphasis::Keep).unwrap();
        assert_eq!(out.get(), "**We found 3** in **a**b**.");
    }

    #[test]
    fn unbalanced_marks_are_an_error() {
        let g = guard(&[], &[]);
        assert!(
            g.finish(&format!("x {DATA_START} y"), plain, Emphasis::Keep)
                .is_err()
        );
        assert!(
            g.finish(&format!("x {DATA_END} y"), plain, Emphasis::Keep)
                .is_err()
        );
        assert!(
            g.finish(&format!("x {OWN_START} y"), plain, Emphasis::Keep)
                .is_err()
        );
        assert!(
            g.finish(
                &format!("x {DATA_START}a{OWN_END} y"),
                plain,
                Emphasis::Keep
            )
            .is_err()
        );
    }
}
