//! The directory: who owns what, read from one JSON file shaped after the GitLab REST
//! API (RULES.md §2.2), and the verification of a requester against it (RULES.md §3).
//!
//! Verification is deliberately strict and explicit: every way it can fail is its own
//! [`Refusal`] variant, so the engineer running logbrief learns which check failed.

mod model;
mod verify;

pub(crate) use model::file;
pub use model::{Directory, Node, OWNER, Ownership, PersonalValue, User, is_paid, is_within};
pub use verify::{Verified, verify};
