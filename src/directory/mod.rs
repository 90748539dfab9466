//! The directory: who owns what, read from one JSON file shaped after the GitLab REST
//! API (RULES.md §2.2), and the verification of a requester against it (RULES.md §3).
//!
//! Verification is deliberately strict and explicit: every way it can fail is its own
//! [`Refusal`] variant, so the engineer running logbrief learns which check failed.

mod model;
mod verify;

pub(crate) use model::file;
// What the fuzz targets call stays public; see ARCHITECTURE.md, "Visibility".
#[cfg_attr(not(fuzzing), allow(unreachable_pub))]
pub use model::{Directory, Node};
pub(crate) use model::{OWNER, Ownership, PersonalValue, User, is_paid, is_within};
#[cfg_attr(not(fuzzing), allow(unreachable_pub))]
pub use verify::{Verified, verify};
