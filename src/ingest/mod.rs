//! Ingest: turns exported log files into canonical [`Request`] records.
//!
//! Each format has its own module; all of them produce the same borrowed `Request`,
//! so attribution, exclusion and counting never care where a line came from. Lines are
//! handed out as raw bytes first (see [`reader`]), which lets a later stage decide
//! whether a line is worth parsing at all (RULES.md §6).

pub(crate) mod audit;
pub(crate) mod chunks;
mod detect;
#[cfg_attr(not(fuzzing), allow(unreachable_pub))]
pub mod json;
pub(crate) mod kibana;
mod lines;
#[cfg_attr(not(fuzzing), allow(unreachable_pub))]
pub mod nginx;
#[cfg_attr(not(fuzzing), allow(unreachable_pub))]
pub mod reader;
mod record;
mod values;

// What the fuzz targets call stays public; see ARCHITECTURE.md, "Visibility".
#[cfg_attr(not(fuzzing), allow(unreachable_pub))]
pub use detect::{Format, detect};
pub(crate) use lines::{LineSyntax, Zone, flavor, line_syntax, parse_line};
#[cfg_attr(not(fuzzing), allow(unreachable_pub))]
pub use lines::{ReadOptions, each_line};
pub(crate) use record::{
    INTERNAL_ALLOWED, Params, Source, fold_mapped, is_stray, parse_ip, parse_time, plausible,
    run_clock,
};
#[cfg_attr(not(fuzzing), allow(unreachable_pub))]
pub use record::{Kind, Line, Request};
