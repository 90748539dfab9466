//! The SHA-256 of each input (RULES.md §7): the internal note's proof of which bytes
//! were read, which anyone can check with `sha256sum`, `shasum -a 256` or `certutil`.
//!
//! Hashing costs about half a second of one core per gigabyte, as much as the whole
//! search, so it is kept off the critical path (RULES.md §10):
//!
//! - **A cache.** A file's digest is kept under `$XDG_CACHE_HOME/logbrief/digests/`
//!   (`~/.cache/logbrief/digests/` by default), one entry per canonical path, and is
//!   reused only while the file's device, inode, size, modification time and change
//!   time (to the nanosecond) are the ones it was computed for. The change time cannot
//!   be set back by a user, so a file rewritten in place with its old size and
//!   modification time is hashed again. Standard input is never cached, and
//!   `--no-cache` neither reads nor writes the cache.
//! - **Beside the search.** A digest that is not in the cache is computed on a thread
//!   of its own, which reads the file by itself: the search never waits for the hash,
//!   nor the hash for the search. Standard input, which can be read only once, and a
//!   run on one thread (`--threads 1`) hash as they read.
//!
//! - **Trusted only when it is the user's own.** A forged entry would put another
//!   file's digest in the note and make two different files look identical. So the
//!   cache is used only when its folders (`logbrief/` and `logbrief/digests/`) and each
//!   entry belong to the user, cannot be written by group or others, and are not
//!   symlinks, as ssh treats `~/.ssh` (RULES.md §11). A cache that fails this is
//!   ignored with one warning: digests are computed, and nothing is written there. An
//!   entry that fails it is not read, and not replaced.
//!
//! A file that changes while it is read (a log still being written) gets a warning,
//! since its digest may then describe other bytes than the ones counted, and its
//! digest is not cached. A digest is also not cached while the file's times are less
//! than a second old: the kernel's clock for file times is coarse, and a file rewritten
//! within the same tick could otherwise keep the entry of its former content.

use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::error::{Error, Result};

/// How fresh a file's times may be for its digest to be cached.
const SETTLED: Duration = Duration::from_secs(1);

/// Where a digest came from, for the internal note.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Origin {
    /// Hashed during this run.
    Computed,
    /// Taken from the cache: the file is unchanged since it was hashed.
    Cached,
}

impl Origin {
    pub(crate) fn describe(self) -> &'static str {
        match self {
            Origin::Computed => "computed now",
            Origin::Cached => "from the digest cache",
        }
    }
}

/// The digest cache: where its entries live, or `None` when it is not used.
#[derive(Debug)]
pub(crate) struct Cache {
    dir: Option<PathBuf>,
    /// Why the cache is not used although it was asked for, said once.
    distrust: Option<String>,
    warned: AtomicBool,
}

/// What identifies a file's content without reading it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Key {
    path: PathBuf,
    device: u64,
    inode: u64,
    size: u64,
    mtime_ns: i128,
    ctime_ns: i128,
}

/// One entry of the cache, as stored.
#[derive(Serialize, Deserialize)]
struct Entry {
    key: Key,
    sha256: String,
}

impl Key {
    /// The key of a regular file; `None` for anything else (standard input, a pipe, a
    /// device) and where the platform has no change time.
    #[cfg(unix)]
    fn of(path: &Path) -> Option<Key> {
        use std::os::unix::fs::MetadataExt;
        if path == Path::new("-") {
            return None;
        }
        let path = fs::canonicalize(path).ok()?;
        let meta = fs::metadata(&path).ok()?;
        if !meta.is_file() {
            return None;
        }
        let ns = |secs: i64, nanos: i64| i128::from(secs) * 1_000_000_000 + i128::from(nanos);
        Some(Key {
            device: meta.dev(),
            inode: meta.ino(),
            size: meta.size(),
            mtime_ns: ns(meta.mtime(), meta.mtime_nsec()),
            ctime_ns: ns(meta.ctime(), meta.ctime_nsec()),
            path,
        })
    }

    #[cfg(not(unix))]
    fn of(_path: &Path) -> Option<Key> {
        None
    }

    /// Whether both times are older than [`SETTLED`] at `now`.
    fn settled(&self, now: SystemTime) -> bool {
        let Ok(now) = now.duration_since(SystemTime::UNIX_EPOCH) else {
            return false;
        };
        let limit = i128::try_from(now.saturating_sub(SETTLED).as_nanos()).unwrap_or(i128::MAX);
        self.mtime_ns < limit && self.ctime_ns < limit
    }

    /// The entry's file name: the SHA-256 of the canonical path, so that a file has one
    /// entry whatever its content, and the name says nothing of the path.
    fn file_name(&self) -> String {
        let path = self.path.as_os_str().as_encoded_bytes();
        hex(&Sha256::digest(path))
    }
}

impl Cache {
    /// The cache in its usual place: `$XDG_CACHE_HOME/logbrief/digests` when that is an
    /// absolute path, else the platform's cache directory. `enabled = false`
    /// (`--no-cache`) or no cache directory at all: no cache.
    pub(crate) fn new(enabled: bool) -> Cache {
        let base = std::env::var_os("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
            .or_else(dirs::cache_dir);
        match base.filter(|_| enabled) {
            None => Cache::at(None, None),
            Some(base) => {
                let dir = base.join("logbrief").join("digests");
                // Folders not made yet are made when a digest is stored.
                match check_folders(&dir, false) {
                    Ok(_) => Cache::at(Some(dir), None),
                    Err(why) => Cache::at(
                        None,
                        Some(format!(
                            "the digest cache {} is not used: {why}; digests are computed \
                             (make it yours and private, e.g. `chmod 700`, or remove it)",
                            dir.display()
                        )),
                    ),
                }
            }
        }
    }

    fn at(dir: Option<PathBuf>, distrust: Option<String>) -> Cache {
        Cache {
            dir,
            distrust,
            warned: AtomicBool::new(false),
        }
    }

    /// The warning that the cache is not trusted, the first time it is asked for.
    fn distrust_once(&self) -> Option<String> {
        let first = !self.warned.swap(true, Ordering::Relaxed);
        self.distrust.clone().filter(|_| first)
    }

    /// The digest stored for `key`. `Err` when an entry exists but cannot be
    /// trusted (see the module's doc): it is then neither read nor replaced.
    fn lookup(&self, key: &Key) -> std::result::Result<Option<String>, &'static str> {
        let Some(dir) = self.dir.as_ref() else {
            return Ok(None);
        };
        let Some(text) = read_entry(&dir.join(key.file_name()))? else {
            return Ok(None);
        };
        // A damaged or foreign entry is no entry: it is replaced on the next store.
        let Ok(entry) = serde_json::from_str::<Entry>(&text) else {
            return Ok(None);
        };
        let valid = entry.sha256.len() == 64
            && entry
                .sha256
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        Ok((entry.key == *key && valid).then_some(entry.sha256))
    }

    /// Stores a digest. A cache that cannot be written costs a rehash next time,
    /// nothing more: failures are ignored.
    fn store(&self, key: &Key, sha256: &str) {
        let Some(dir) = &self.dir else { return };
        let entry = Entry {
            key: key.clone(),
            sha256: sha256.to_owned(),
        };
        let Ok(bytes) = serde_json::to_vec(&entry) else {
            return;
        };
        let _ = write_entry(dir, &key.file_name(), &bytes);
    }

    /// Starts the digest of the input at `path`: from the cache, on a thread of its own
    /// (`beside`), or by the reader as it reads (see [`Pending::inline`]).
    pub(crate) fn start(&self, path: &Path, beside: bool) -> Pending {
        // The key finds the entry, and tells afterwards whether the file changed while
        // it was read (also without a cache).
        let key = Key::of(path);
        let mut warning = self.distrust_once();
        let mut store = true;
        match key.as_ref().map(|k| self.lookup(k)) {
            Some(Ok(Some(sha256))) => {
                return Pending {
                    key,
                    work: Work::Cached(sha256),
                    warning,
                    store: false,
                };
            }
            Some(Err(why)) => {
                store = false;
                warning = Some(format!(
                    "the digest cache's entry for {} is not used: {why}; its digest is computed",
                    crate::output::display_name(path)
                ));
            }
            _ => {}
        }
        let regular = key.is_some();
        let work = if beside && regular {
            let path = path.to_owned();
            let started = SystemTime::now();
            Work::Beside(std::thread::spawn(move || (hash_file(&path), started)))
        } else {
            Work::Inline(SystemTime::now())
        };
        Pending {
            key,
            work,
            warning,
            store,
        }
    }
}

/// Checks that the cache's folders (`digests` and its parent `logbrief`) can be
/// trusted: folders of the user's own, not symlinks, not writable by group or others.
/// With `create`, a missing one is made (readable by its owner only: the entries name
/// the files read); without, a missing one is fine. `Ok(false)` when one is missing
/// (or cannot be made: a read-only home, a cache path under a file), `Err` when one
/// that exists cannot be trusted, saying why.
fn check_folders(digests: &Path, create: bool) -> std::result::Result<bool, String> {
    let logbrief = digests.parent().unwrap_or(digests);
    if create && let Some(base) = logbrief.parent() {
        // The base is the user's cache folder, shared with other programs.
        let _ = fs::create_dir_all(base);
    }
    for folder in [logbrief, digests] {
        if create {
            let mut builder = fs::DirBuilder::new();
            #[cfg(unix)]
            std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
            if let Err(e) = builder.create(folder)
                && e.kind() != io::ErrorKind::AlreadyExists
            {
                return Ok(false);
            }
        }
        // One that cannot be looked at (missing, under a file) holds no entry.
        let Ok(meta) = fs::symlink_metadata(folder) else {
            return Ok(false);
        };
        if let Some(why) = untrusted_folder(&meta) {
            return Err(format!("{} {why}", folder.display()));
        }
    }
    Ok(true)
}

/// Why a cache folder cannot be trusted, if it cannot.
fn untrusted_folder(meta: &fs::Metadata) -> Option<&'static str> {
    if meta.file_type().is_symlink() {
        return Some("is a symbolic link");
    }
    if !meta.is_dir() {
        return Some("is not a folder");
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        // SAFETY: geteuid has no preconditions and cannot fail.
        if meta.uid() != unsafe { libc::geteuid() } {
            return Some("belongs to another user");
        }
        if meta.mode() & 0o022 != 0 {
            return Some("can be written by others");
        }
    }
    None
}

/// The text of the entry at `path`: `Ok(None)` when there is none, `Err` when there
/// is one that cannot be trusted. The entry is opened without following a symlink and
/// judged by the file opened, so what is judged is what is read.
fn read_entry(path: &Path) -> std::result::Result<Option<String>, &'static str> {
    let mut options = fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(
        &mut options,
        libc::O_NOFOLLOW | libc::O_NONBLOCK,
    );
    let mut file = match options.open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(_) => {
            return match fs::symlink_metadata(path) {
                Ok(m) if m.file_type().is_symlink() => Err("it is a symbolic link"),
                Ok(_) => Err("it cannot be opened"),
                Err(_) => Ok(None),
            };
        }
    };
    let meta = file.metadata().map_err(|_| "it cannot be read")?;
    if let Some(why) = crate::files::untrusted(&meta) {
        return Err(why);
    }
    // An entry is a few hundred bytes; anything longer was not written by logbrief.
    let mut text = String::new();
    match (&mut file).take(ENTRY_LIMIT).read_to_string(&mut text) {
        Ok(n) if (n as u64) < ENTRY_LIMIT => Ok(Some(text)),
        _ => Ok(None),
    }
}

/// The largest cache entry read.
const ENTRY_LIMIT: u64 = 64 * 1024;

/// Replaces the entry in one step, through the one writer (an exclusive temporary
/// file in the cache folder, renamed).
fn write_entry(dir: &Path, name: &str, bytes: &[u8]) -> Result<()> {
    // The folder was checked when the cache was opened; made again if it was removed
    // since, readable by its owner only.
    if check_folders(dir, true) != Ok(true) {
        return Err(Error::write(dir, io::ErrorKind::PermissionDenied.into()));
    }
    crate::files::write_private(&dir.join(name), bytes)
}

/// Hashes a file on its own, reading it from the start.
pub(crate) fn hash_file(path: &Path) -> io::Result<String> {
    let mut file = File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = match file.read(&mut buf) {
            Ok(0) => return Ok(hex(&hasher.finalize())),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        hasher.update(&buf[..n]);
    }
}

enum Work {
    Cached(String),
    /// Started at this time, on this thread.
    Beside(JoinHandle<(io::Result<String>, SystemTime)>),
    /// The reader hashes; started at this time.
    Inline(SystemTime),
}

/// A digest on its way.
pub(crate) struct Pending {
    /// The file's key when the digest started, for regular files.
    key: Option<Key>,
    work: Work,
    /// What to say about the cache, once.
    warning: Option<String>,
    /// Whether the digest may be stored (not over an entry that cannot be trusted).
    store: bool,
}

/// A finished digest.
#[derive(Debug, Clone)]
pub(crate) struct Finished {
    pub sha256: String,
    pub origin: Origin,
    /// Why the digest may not describe the bytes counted, or why the cache was not
    /// used, for the engineer.
    pub warnings: Vec<String>,
}

impl Pending {
    /// Whether the reader must hash what it reads.
    pub(crate) fn inline(&self) -> bool {
        matches!(self.work, Work::Inline(_))
    }

    /// Waits for the digest. `read` is the reader's own digest, when it hashed inline.
    /// The file is looked at again: if it changed while it was read, the digest may
    /// not match the lines counted, which is said, and it is not cached.
    pub(crate) fn finish(
        self,
        cache: &Cache,
        path: &Path,
        read: Option<String>,
    ) -> Result<Finished> {
        let (sha256, origin, started) = match self.work {
            Work::Cached(sha256) => (sha256, Origin::Cached, None),
            Work::Inline(started) => {
                let sha256 = read.ok_or_else(|| {
                    Error::Internal("the reader did not hash its input".to_owned())
                })?;
                (sha256, Origin::Computed, Some(started))
            }
            Work::Beside(handle) => {
                let (hashed, started) = handle
                    .join()
                    .map_err(|_| Error::Internal("the hashing thread stopped".to_owned()))?;
                let sha256 = hashed.map_err(|source| Error::Read {
                    path: path.to_owned(),
                    source,
                })?;
                (sha256, Origin::Computed, Some(started))
            }
        };
        let changed = self
            .key
            .as_ref()
            .is_some_and(|key| Key::of(path).as_ref() != Some(key));
        if !changed
            && self.store
            && let (Some(key), Some(started)) = (&self.key, started)
            && key.settled(started)
        {
            cache.store(key, &sha256);
        }
        let changed = changed.then(|| {
            format!(
                "{} changed while it was read: its SHA-256 may describe other bytes than \
                     the lines counted; read a copy that no longer changes",
                crate::output::display_name(path)
            )
        });
        Ok(Finished {
            sha256,
            origin,
            warnings: self.warning.into_iter().chain(changed).collect(),
        })
    }
}

/// Lower-case hexadecimal, as `sha256sum` prints it.
pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;

    fn cache_in(dir: &Path) -> Cache {
        Cache::at(Some(dir.join("digests")), None)
    }

    fn sha(bytes: &[u8]) -> String {
        hex(&Sha256::digest(bytes))
    }

    /// A file whose times are old enough to be cached.
    fn settled_file(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
        let path = dir.join(name);
        fs::write(&path, bytes).unwrap();
        std::thread::sleep(SETTLED + Duration::from_millis(50));
        path
    }

    fn digest(cache: &Cache, path: &Path, beside: bool) -> Finished {
        let pending = cache.start(path, beside);
        let read = pending.inline().then(|| sha(&fs::read(path).unwrap()));
        pending.finish(cache, path, read).unwrap()
    }

    #[test]
    fn a_digest_is_computed_once_then_taken_from_the_cache() {
        let tmp = tempfile::tempdir().unwrap();
        let cache = cache_in(tmp.path());
        let path = settled_file(tmp.path(), "a.log", b"one\ntwo\n");
        for beside in [true, false] {
            let _ = fs::remove_dir_all(tmp.path().join("digests"));
            let first = digest(&cache, &path, beside);
            assert_eq!(first.sha256, sha(b"one\ntwo\n"));
            assert_eq!(first.origin, Origin::Computed);
            let again = digest(&cache, &path, beside);
            assert_eq!(again.sha256, first.sha256);
            assert_eq!(again.origin, Origin::Cached);
        }
    }

    #[test]
    fn a_file_rewritten_in_place_with_its_old_size_and_mtime_is_hashed_again() {
        let tmp = tempfile::tempdir().unwrap();
        let cache = cache_in(tmp.path());
        let path = settled_file(tmp.path(), "a.log", b"aaaa\n");
        let mtime = fs::metadata(&path).unwrap().modified().unwrap();
        assert_eq!(digest(&cache, &path, true).origin, Origin::Computed);
        let f = fs::OpenOptions::new().write(true).open(&path).unwrap();
        (&f).write_all(b"bbbb\n").unwrap();
        f.set_modified(mtime).unwrap();
        drop(f);
        assert_eq!(fs::metadata(&path).unwrap().modified().unwrap(), mtime);
        let again = digest(&cache, &path, true);
        assert_eq!(again.origin, Origin::Computed);
        assert_eq!(again.sha256, sha(b"bbbb\n"));
    }

    #[test]
    fn a_damaged_entry_is_ignored_and_replaced() {
        let tmp = tempfile::tempdir().unwrap();
        let cache = cache_in(tmp.path());
        let path = settled_file(tmp.path(), "a.log", b"x\n");
        digest(&cache, &path, true);
        let entries: Vec<_> = fs::read_dir(tmp.path().join("digests"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert_eq!(entries.len(), 1);
        for damage in [&b"{not json"[..], b"", b"{\"key\":1,\"sha256\":\"zz\"}"] {
            fs::write(&entries[0], damage).unwrap();
            let again = digest(&cache, &path, true);
            assert_eq!(
                (again.origin, again.sha256.as_str()),
                (Origin::Computed, &*sha(b"x\n"))
            );
            assert_eq!(digest(&cache, &path, true).origin, Origin::Cached);
        }
        // A well-formed entry with another digest in it: the key decides, so an entry
        // copied from another file is not trusted either.
        let mut entry: Entry = serde_json::from_slice(&fs::read(&entries[0]).unwrap()).unwrap();
        entry.key.size += 1;
        fs::write(&entries[0], serde_json::to_vec(&entry).unwrap()).unwrap();
        assert_eq!(digest(&cache, &path, true).origin, Origin::Computed);
    }

    #[test]
    fn fresh_files_and_disabled_caches_are_not_stored() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("fresh.log");
        fs::write(&path, b"new\n").unwrap();
        let cache = cache_in(tmp.path());
        digest(&cache, &path, true);
        assert!(!tmp.path().join("digests").exists());
        let none = Cache::at(None, None);
        let path = settled_file(tmp.path(), "old.log", b"old\n");
        assert_eq!(digest(&none, &path, true).origin, Origin::Computed);
        assert_eq!(digest(&none, &path, true).origin, Origin::Computed);
    }

    #[cfg(unix)]
    #[test]
    fn the_cache_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let cache = cache_in(tmp.path());
        let path = settled_file(tmp.path(), "a.log", b"x\n");
        digest(&cache, &path, false);
        let dir = tmp.path().join("digests");
        assert_eq!(
            fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
            0o700
        );
        for e in fs::read_dir(&dir).unwrap() {
            let mode = e.unwrap().metadata().unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
