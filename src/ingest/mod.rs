//! Ingest: turns exported log files into canonical [`Request`] records.
//!
//! Each format has its own module; all of them produce the same borrowed `Request`,
//! so attribution, exclusion and counting never care where a line came from. Lines are
//! handed out as raw bytes first (see [`reader`]), which lets a later stage decide
//! whether a line is worth parsing at all (RULES.md §6).

pub mod audit;
pub mod chunks;
mod detect;
pub mod json;
pub mod kibana;
mod lines;
pub mod nginx;
pub mod reader;
mod record;
mod values;

pub use detect::{Format, detect};
pub use lines::{LineSyntax, ReadOptions, Zone, each_line, flavor, line_syntax, parse_line};
pub use record::{
    INTERNAL_ALLOWED, Kind, Line, Params, Request, Source, fold_mapped, is_stray, parse_ip,
    parse_time, plausible, run_clock,
};
