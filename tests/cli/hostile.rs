//! Hostile files and the file system (RULES.md §11): planted symlinks, outputs over
//! inputs, a cache others can write, files that would take the machine's memory, text
//! that would forge the note, values that would break out of a generated query.
//!
//! The memory cases run the binary under an address-space limit ([`bounded`]), so a
//! regression fails its test instead of taking the machine.

use std::os::unix::process::CommandExt;
use std::process::Command;

use super::support::root;

/// Files logbrief writes: the note, `init`, `--write-job`, through one writer.
#[path = "hostile/writer.rs"]
mod writer;

/// The digest cache is trusted only when it is the user's own and closed to others.
#[path = "hostile/cache.rs"]
mod cache;

/// Every reader bounded: devices, gzip bombs, huge fields, records and side files.
#[path = "hostile/bounds.rs"]
mod bounds;

/// Generated queries and scripts quote every value by their engine's rules.
#[path = "hostile/pushdown.rs"]
mod pushdown;

/// The most address space a hostile case may take: the 1 GiB of RULES.md §11.
#[allow(dead_code)] // until the bounded readers' cases use it
pub(crate) const ADDRESS_SPACE: u64 = 1 << 30;

/// `logbrief` with its address space limited to [`ADDRESS_SPACE`]: an allocation past
/// it fails (and the process aborts) instead of growing. glibc's per-thread arenas
/// reserve address space they never touch, so they are limited to two.
#[allow(dead_code)]
pub(crate) fn bounded() -> assert_cmd::Command {
    assert_cmd::Command::from_std(bounded_std())
}

/// [`bounded`] as std's Command, for a run whose standard streams are files (an
/// output of GBs that should not be kept in the test's memory).
pub(crate) fn bounded_std() -> Command {
    // As `support::logbrief`, built on std's Command for `pre_exec`.
    let mut std_cmd = Command::new(env!("CARGO_BIN_EXE_logbrief"));
    std_cmd
        .current_dir(root())
        .env_clear()
        .env("XDG_CACHE_HOME", "/dev/null/logbrief-tests");
    std_cmd.env("MALLOC_ARENA_MAX", "2");
    // SAFETY: setrlimit is async-signal-safe and touches no memory of the parent.
    unsafe {
        std_cmd.pre_exec(|| {
            let limit = libc::rlimit {
                rlim_cur: ADDRESS_SPACE,
                rlim_max: ADDRESS_SPACE,
            };
            if libc::setrlimit(libc::RLIMIT_AS, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    std_cmd
}
