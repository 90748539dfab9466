//! How Elasticsearch and OpenSearch index a text field with the standard analyser:
//! the terms the candidate query is built from, so that it finds a name only as the
//! index stores it. A model of Lucene's `StandardTokenizer` (Unicode word boundaries,
//! UAX #29) followed by the `lowercase` filter, simplified to what log paths hold:
//!
//! - letters, digits and `_` make words; a word continues across `_` with anything;
//! - a `.`, `'` or `:` between two letters does not break a word (`app.git`,
//!   `o'neil`), nor a `.`, `'`, `,` or `;` between two digits (`1.2`);
//! - everything else (`/`, `-`, `%`, `?`, `=`, `&`, `@`, spaces, …) breaks, and is
//!   dropped;
//! - words longer than 255 characters are cut into pieces of 255;
//! - every word is lower-cased.
//!
//! What the model leaves out (scripts whose words are single ideographs, emoji,
//! Unicode's finer classes) does not occur in paths a GitLab instance routes. The
//! query's field names are its text fields, never `.keyword` sub-fields, which ignore
//! values longer than 256 characters.
//!
//! The file is self-contained, so the test cluster in `tests/` includes it as it is.

/// Lucene's default `max_token_length`.
const MAX_TOKEN: usize = 255;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Class {
    Letter,
    Digit,
    /// `_`
    Joiner,
    /// Joins two letters: `:`.
    MidLetter,
    /// Joins two letters or two digits: `.`, `'`.
    MidNumLet,
    /// Joins two digits: `,`, `;`.
    MidNum,
    Other,
}

fn class(c: char) -> Class {
    match c {
        '_' => Class::Joiner,
        ':' => Class::MidLetter,
        '.' | '\'' => Class::MidNumLet,
        ',' | ';' => Class::MidNum,
        c if c.is_ascii_digit() => Class::Digit,
        c if c.is_alphabetic() || (!c.is_ascii() && c.is_alphanumeric()) => Class::Letter,
        _ => Class::Other,
    }
}

/// The terms the standard analyser indexes for `text`, in order.
pub(super) fn tokens(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut word = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let here = class(c);
        let in_word = !word.is_empty();
        let joins = match here {
            Class::Letter | Class::Digit | Class::Joiner => true,
            Class::MidLetter | Class::MidNumLet | Class::MidNum if in_word => {
                let before = class(chars[i - 1]);
                let after = chars.get(i + 1).map_or(Class::Other, |&c| class(c));
                let letters = before == Class::Letter && after == Class::Letter;
                let digits = before == Class::Digit && after == Class::Digit;
                match here {
                    Class::MidLetter => letters,
                    Class::MidNumLet => letters || digits,
                    _ => digits,
                }
            }
            _ => false,
        };
        if joins {
            word.push(c);
        } else {
            flush(&mut word, &mut out);
        }
        i += 1;
    }
    flush(&mut word, &mut out);
    out
}

/// Ends a word: lower-cased, cut at [`MAX_TOKEN`], and kept when it holds a letter or
/// a digit (a run of `_` alone is no term).
fn flush(word: &mut String, out: &mut Vec<String>) {
    if word.chars().any(|c| c != '_') {
        let lower = word.to_lowercase();
        let chars: Vec<char> = lower.chars().collect();
        for piece in chars.chunks(MAX_TOKEN) {
            out.push(piece.iter().collect());
        }
    }
    word.clear();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_as_the_standard_analyser_makes_them() {
        for (text, want) in [
            ("/acme/platform/api", &["acme", "platform", "api"][..]),
            (
                "/Acme/App.git/info/refs",
                &["acme", "app.git", "info", "refs"],
            ),
            (
                "/api/v4/projects/acme%2Fdocs",
                &["api", "v4", "projects", "acme", "2fdocs"],
            ),
            (
                "/api/v4/projects/007/issues",
                &["api", "v4", "projects", "007", "issues"],
            ),
            (
                "my-group/sub_group.wiki.git",
                &["my", "group", "sub_group.wiki.git"],
            ),
            (
                "a.1 1.2 v1.2 o'neil x:y 1,000",
                &["a", "1", "1.2", "v1.2", "o'neil", "x:y", "1,000"],
            ),
            ("acme.", &["acme"]),
            ("___ _a", &["_a"]),
        ] {
            assert_eq!(tokens(text), want, "{text}");
        }
        let long = "a".repeat(300);
        assert_eq!(tokens(&long), vec!["a".repeat(255), "a".repeat(45)]);
    }
}
