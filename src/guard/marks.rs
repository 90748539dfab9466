//! The marks the renderer puts around data and the program's own text, and the
//! places of a reply a refusal names.

/// Opens a span of data in rendered text (Unicode private use; stripped from data).
pub(crate) const DATA_START: char = '\u{E000}';
/// Closes a span of data.
pub(crate) const DATA_END: char = '\u{E001}';
/// Opens a span of text the program formatted itself: escaped, never checked.
pub(crate) const OWN_START: char = '\u{E002}';
/// Closes a span of the program's own text.
pub(crate) const OWN_END: char = '\u{E003}';
/// Encloses, at the start of a data span, the code of the [`Place`] it is printed in,
/// when that is not the heading above it (the greeting, the known list…).
pub(crate) const PLACE: char = '\u{E004}';

/// Whether `c` is one of the marks, which never belong to a value.
pub(crate) fn is_mark(c: char) -> bool {
    matches!(c, DATA_START | DATA_END | OWN_START | OWN_END | PLACE)
}

/// Where in a reply a value is printed, as far as a refusal must tell the engineer:
/// each place that holds values someone typed has advice of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Place {
    /// The team configuration's `greeting`.
    Greeting,
    /// The team configuration's `sign_off`.
    SignOff,
    /// `--exclude-domain`, or `company_domains` in the team configuration.
    Domains,
    /// `--exclude-ip`, `--exclude-ip-file`, or `office_ranges`.
    Ranges,
    /// `--client-ip`.
    ClientRanges,
    /// The inputs' names as given (the JSON's `inputs[].name`).
    InputNames,
    /// Anywhere else: a heading's part of the reply, or a JSON field.
    Reply,
}

impl Place {
    const MARKED: [Place; 5] = [
        Place::Greeting,
        Place::SignOff,
        Place::Domains,
        Place::Ranges,
        Place::ClientRanges,
    ];

    /// The code a data span carries between [`PLACE`] marks.
    pub(crate) fn code(self) -> &'static str {
        match self {
            Place::Greeting => "greeting",
            Place::SignOff => "sign-off",
            Place::Domains => "domains",
            Place::Ranges => "ranges",
            Place::ClientRanges => "client",
            Place::InputNames => "inputs",
            Place::Reply => "reply",
        }
    }

    /// How a refusal names the place in a rendered reply.
    pub(super) fn described(self) -> &'static str {
        match self {
            Place::Greeting => "the greeting (greeting in the team configuration)",
            Place::SignOff => "the sign-off (sign_off in the team configuration)",
            Place::Domains => {
                "the excluded domains (--exclude-domain, or company_domains in the team configuration)"
            }
            Place::Ranges => {
                "the excluded ranges (--exclude-ip, or office_ranges in the team configuration)"
            }
            Place::ClientRanges => "the requester's addresses (--client-ip)",
            Place::InputNames => "the inputs' names",
            Place::Reply => "the reply",
        }
    }

    /// How to go on when a value in this place stopped a reply.
    pub(super) fn advice(self) -> &'static str {
        match self {
            Place::Greeting => {
                "change greeting in the team configuration: every reply prints it as it is \
                 written, so it may name no one, in any spelling (an empty greeting leaves \
                 it out)"
            }
            Place::SignOff => {
                "change sign_off in the team configuration: every reply prints it as it is \
                 written, so it may name no one, in any spelling"
            }
            Place::Domains => {
                "check the --exclude-domain values (and company_domains in the team \
                 configuration): each must be an email domain, not a name or an address"
            }
            Place::Ranges | Place::ClientRanges => "check the --exclude-ip and --client-ip values",
            Place::InputNames => {
                "give the inputs names that name no one (the JSON shows each name as it was \
                 given: run logbrief from the inputs' folder, or copy them under plain names)"
            }
            Place::Reply => {
                "narrow the reply (a narrower --namespace, or --min-count); if the value is \
                 the customer's own, report the case to the logbrief maintainers with this \
                 message"
            }
        }
    }

    pub(super) fn from_code(code: &str) -> Option<Place> {
        Place::MARKED.into_iter().find(|p| p.code() == code)
    }

    /// Whether a number on its own (`3221225985`) may be an IPv4 address here. In the
    /// inputs' names numbers are dates, times and sequence numbers (`-20260304`,
    /// `.1741046400`); elsewhere in data nothing explains a bare number of eight to ten
    /// digits. Hex, octal and dotted spellings are addresses everywhere.
    pub(super) fn reads_numbers_as_addresses(self) -> bool {
        self != Place::InputNames
    }
}

/// Whether `c` is a bidirectional control or mark, which can make a reply read
/// otherwise than its characters run (U+202A–U+202E, U+2066–U+2069, and the marks
/// U+061C, U+200E, U+200F).
pub(super) fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{061C}' | '\u{200E}' | '\u{200F}')
}
