//! The one way logbrief writes a file (RULES.md §11), and the checks around it.
//!
//! What logbrief writes (the internal note, `init`'s configuration, `fetch`'s
//! outputs, manifests and states, digest cache entries, the Spark job) holds personal
//! data or is trusted later, so every file is written the same way: to a fresh
//! temporary file in the destination's folder, created exclusively under a name no
//! one can predict (so a symlink planted at `NOTE.tmp` is never followed), with its
//! mode set at creation, then renamed over the destination (so a symlink planted at
//! the destination itself is replaced, not followed, and a reader never sees half a
//! file).
//!
//! A file that is appended to across runs (a fetch's `.part`) is reopened only when it
//! is a regular file of the user's own, not a symlink and not readable by others.
//!
//! This module is a leaf: it knows files and errors, nothing of logs.

use std::fs::{self, File, OpenOptions, Permissions};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Readable and writable by the owner only: what holds personal data.
pub(crate) const PRIVATE: u32 = 0o600;
/// Readable by everyone: the configuration `init` writes, the Spark job.
pub(crate) const SHARED: u32 = 0o644;

/// A file being written beside its destination. Nothing appears under the
/// destination's name until [`Pending::commit`]; dropped uncommitted, the temporary
/// file is removed.
pub(crate) struct Pending {
    tmp: tempfile::NamedTempFile,
    dest: PathBuf,
}

impl Pending {
    /// A new, empty temporary file in `dest`'s folder, created exclusively with
    /// `mode`.
    pub(crate) fn create(dest: &Path, mode: u32) -> Result<Pending> {
        let folder = match dest.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let mut prefix = std::ffi::OsString::from(".");
        prefix.push(dest.file_name().unwrap_or_default());
        prefix.push(".");
        let mut builder = tempfile::Builder::new();
        builder.prefix(&prefix).suffix(".tmp").rand_bytes(12);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            builder.permissions(Permissions::from_mode(mode));
        }
        #[cfg(not(unix))]
        let _ = (mode, Permissions::clone);
        let tmp = builder
            .tempfile_in(folder)
            .map_err(|e| Error::write(dest, e))?;
        Ok(Pending {
            tmp,
            dest: dest.to_owned(),
        })
    }

    /// The file to write to.
    pub(crate) fn file(&mut self) -> &mut File {
        self.tmp.as_file_mut()
    }

    /// Flushes the file to disk and renames it over the destination.
    pub(crate) fn commit(self) -> Result<()> {
        let dest = self.dest;
        self.tmp
            .as_file()
            .sync_all()
            .map_err(|e| Error::write(&dest, e))?;
        self.tmp
            .persist(&dest)
            .map_err(|e| Error::write(&dest, e.error))?;
        Ok(())
    }
}

impl Write for Pending {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.tmp.write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.tmp.flush()
    }
}

/// Replaces `path` with `bytes` in one step, with `mode`.
pub(crate) fn write(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    let mut pending = Pending::create(path, mode)?;
    pending
        .file()
        .write_all(bytes)
        .map_err(|e| Error::write(path, e))?;
    pending.commit()
}

/// Replaces `path` with `bytes` in one step, readable by its owner only.
pub(crate) fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    write(path, bytes, PRIVATE)
}

/// Creates an empty private file at `path` for reading and appending (a fetch's
/// `.part`, which later runs reopen with [`reopen_private`]), in place of whatever was
/// there: a file or symlink at `path` is removed first, and the new file is created
/// exclusively, so nothing planted there is followed.
pub(crate) fn create_private(path: &Path) -> Result<File> {
    remove_if_present(path)?;
    let mut options = OpenOptions::new();
    options.read(true).write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(PRIVATE).custom_flags(libc::O_NOFOLLOW);
    }
    options.open(path).map_err(|e| Error::write(path, e))
}

/// Moves the finished `part` file to `dest` in one step, replacing what was there
/// (a symlink at `dest` is replaced, not followed). `part` keeps the mode it was
/// created with.
pub(crate) fn promote(part: &Path, dest: &Path) -> Result<()> {
    File::open(part)
        .and_then(|f| f.sync_all())
        .map_err(|e| Error::write(part, e))?;
    fs::rename(part, dest).map_err(|e| Error::write(dest, e))
}

/// Reopens a private file that an earlier run of the same command wrote, for reading
/// and appending, without following a symlink. `Ok(None)` when there is none. A file
/// that is not a regular file, belongs to someone else or can be read or written by
/// others is refused: logbrief did not leave it that way.
pub(crate) fn reopen_private(path: &Path) -> Result<Option<File>> {
    let mut options = OpenOptions::new();
    options.read(true).write(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK);
    }
    let file = match options.open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(Error::Usage(format!(
                "{} cannot be reused ({}); remove it or start again",
                path.display(),
                refusal_reason(path, &e)
            )));
        }
    };
    let meta = file.metadata().map_err(|e| Error::write(path, e))?;
    if let Some(why) = untrusted(&meta) {
        return Err(Error::Usage(format!(
            "{} cannot be reused: {why}; remove it or start again",
            path.display()
        )));
    }
    Ok(Some(file))
}

fn refusal_reason(path: &Path, e: &std::io::Error) -> String {
    match fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => "it is a symbolic link".into(),
        _ => e.to_string(),
    }
}

/// Why a file logbrief wrote for itself cannot be trusted, if it cannot: not a
/// regular file, another user's, or open to others.
pub(crate) fn untrusted(meta: &fs::Metadata) -> Option<&'static str> {
    if meta.file_type().is_symlink() {
        return Some("it is a symbolic link");
    }
    if !meta.is_file() {
        return Some("it is not a regular file");
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        // SAFETY: geteuid has no preconditions and cannot fail.
        let me = unsafe { libc::geteuid() };
        if meta.uid() != me {
            return Some("it belongs to another user");
        }
        if meta.mode() & 0o077 != 0 {
            return Some("others may read or write it");
        }
    }
    None
}

/// Removes `path` if it exists (a symlink is removed, never followed).
pub(crate) fn remove_if_present(path: &Path) -> Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::write(path, e)),
        _ => Ok(()),
    }
}

/// The identity of an existing file: its device and inode.
#[cfg(unix)]
fn identity(path: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

#[cfg(not(unix))]
fn identity(_path: &Path) -> Option<(u64, u64)> {
    None
}

/// Refuses (exit 2) an output that is one of the inputs: the same file (device and
/// inode, through any link), or the same path once made absolute. `outputs` pairs each
/// output with the option that named it. Called before anything is read.
pub(crate) fn refuse_outputs_over_inputs(
    outputs: &[(&str, &Path)],
    inputs: &[PathBuf],
) -> Result<()> {
    let absolute = |p: &Path| {
        fs::canonicalize(p).ok().or_else(|| {
            let folder = p.parent().filter(|f| !f.as_os_str().is_empty());
            let folder = fs::canonicalize(folder.unwrap_or(Path::new("."))).ok()?;
            Some(folder.join(p.file_name()?))
        })
    };
    // Outputs among themselves: two outputs at one place would overwrite each other.
    for (i, (flag, out)) in outputs.iter().enumerate() {
        for (other_flag, other) in &outputs[..i] {
            let same = (identity(out).is_some() && identity(out) == identity(other))
                || (absolute(out).is_some() && absolute(out) == absolute(other));
            if same {
                return Err(Error::Usage(format!(
                    "{flag} {} and {other_flag} {} are the same file; give each its own",
                    out.display(),
                    other.display()
                )));
            }
        }
    }
    for (flag, out) in outputs {
        let out_id = identity(out);
        let out_abs = absolute(out);
        for input in inputs {
            if input.as_os_str() == "-" {
                continue;
            }
            let same = (out_id.is_some() && out_id == identity(input))
                || (out_abs.is_some() && out_abs == absolute(input));
            if same {
                return Err(Error::Usage(format!(
                    "{flag} {} is also an input ({}): it would be overwritten; write it elsewhere",
                    out.display(),
                    input.display()
                )));
            }
        }
    }
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::{PermissionsExt, symlink};

    #[test]
    fn a_symlink_at_the_destination_is_replaced_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        fs::write(&victim, "keep").unwrap();
        let dest = dir.path().join("note.md");
        symlink(&victim, &dest).unwrap();
        symlink(&victim, dir.path().join("note.md.tmp")).unwrap();
        write_private(&dest, b"note").unwrap();
        assert_eq!(fs::read_to_string(&victim).unwrap(), "keep");
        let meta = fs::symlink_metadata(&dest).unwrap();
        assert!(meta.is_file());
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        assert_eq!(fs::read_to_string(&dest).unwrap(), "note");
    }

    #[test]
    fn an_existing_open_file_gets_the_mode_asked_for() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("out.json");
        fs::write(&dest, "old").unwrap();
        fs::set_permissions(&dest, Permissions::from_mode(0o644)).unwrap();
        write_private(&dest, b"new").unwrap();
        let mode = fs::metadata(&dest).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        // Nothing left behind.
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn reopening_refuses_links_and_open_files() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        fs::write(&victim, "keep").unwrap();
        fs::set_permissions(&victim, Permissions::from_mode(0o600)).unwrap();
        let part = dir.path().join("out.part");
        symlink(&victim, &part).unwrap();
        assert!(reopen_private(&part).is_err());
        fs::remove_file(&part).unwrap();
        assert!(reopen_private(&part).unwrap().is_none());
        fs::write(&part, "x").unwrap();
        fs::set_permissions(&part, Permissions::from_mode(0o644)).unwrap();
        assert!(reopen_private(&part).is_err());
        fs::set_permissions(&part, Permissions::from_mode(0o600)).unwrap();
        assert!(reopen_private(&part).unwrap().is_some());
    }

    #[test]
    fn an_output_that_is_an_input_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("self.log");
        fs::write(&log, "x").unwrap();
        let hard = dir.path().join("hard.log");
        fs::hard_link(&log, &hard).unwrap();
        let inputs = [log.clone()];
        for out in [&log, &hard] {
            let e = refuse_outputs_over_inputs(&[("--internal-note", out)], &inputs).unwrap_err();
            assert_eq!(e.exit_code(), 2, "{e}");
        }
        let fresh = dir.path().join("note.md");
        refuse_outputs_over_inputs(&[("--internal-note", &fresh)], &inputs).unwrap();
        // Not yet created, spelled another way.
        let relative = dir.path().join("sub").join("..").join("self.log");
        fs::create_dir(dir.path().join("sub")).unwrap();
        assert!(refuse_outputs_over_inputs(&[("--internal-note", &relative)], &inputs).is_err());
    }
}
