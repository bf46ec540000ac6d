//! Every file operation of the on-disk store, resolved beneath the cache
//! root without following any link.
//!
//! A path inside the cache is never handed to the kernel as a whole path
//! from `/`: it is resolved relative to a descriptor of the root with
//! `openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)` on Linux (a link
//! anywhere on the way is `ELOOP`), or one component at a time with
//! `O_NOFOLLOW` elsewhere. Creating, renaming and removing happen with the
//! `*at` calls relative to the directory so resolved. A link planted in the
//! tree is therefore never written through, read through, nor removed
//! through, and a FIFO or device is opened without blocking and refused by
//! its type before a byte is read.

use std::ffi::OsStr;
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, FileType, Mode, OFlags};
use rustix::io::Errno;

/// A directory whose descendants are reached without following links.
#[derive(Debug)]
pub(crate) struct Beneath {
    fd: OwnedFd,
    path: PathBuf,
}

/// What stands at a path.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Entry {
    /// Nothing, or a link somewhere on the way (never followed).
    Missing,
    /// A link where the entry itself is (it can be removed or renamed over).
    Link,
    File(u64),
    Dir,
    /// A FIFO, socket or device.
    Special,
}

const READ_FLAGS: OFlags = OFlags::RDONLY
    .union(OFlags::CLOEXEC)
    .union(OFlags::NOFOLLOW)
    .union(OFlags::NONBLOCK)
    .union(OFlags::NOCTTY);
const DIR_FLAGS: OFlags = OFlags::RDONLY
    .union(OFlags::CLOEXEC)
    .union(OFlags::NOFOLLOW)
    .union(OFlags::DIRECTORY);

impl Beneath {
    /// The directory at `path` (which may itself be reached through links:
    /// the root is the caller's choice).
    pub(crate) fn open(path: &Path) -> io::Result<Self> {
        let fd = rustix::fs::open(
            path,
            OFlags::RDONLY | OFlags::CLOEXEC | OFlags::DIRECTORY,
            Mode::empty(),
        )?;
        Ok(Self {
            fd,
            path: path.to_path_buf(),
        })
    }

    /// Where it is (for messages).
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// `rel` (relative, `/`-separated, no `.` or `..`) for messages.
    pub(crate) fn display(&self, rel: &str) -> PathBuf {
        self.path.join(rel)
    }

    /// Open `rel` with `flags`, never through a link.
    fn resolve(&self, rel: &str, flags: OFlags) -> Result<OwnedFd, Errno> {
        resolve(self.fd.as_fd(), rel, flags)
    }

    /// The regular file at `rel` open for reading, with its length and
    /// inode number; `None` if nothing (or a link) stands there. A FIFO,
    /// socket or device is refused with `Unsupported`, without blocking.
    pub(crate) fn open_file(&self, rel: &str) -> io::Result<Option<(File, u64, u64)>> {
        let fd = match self.resolve(rel, READ_FLAGS) {
            Ok(fd) => fd,
            Err(e) if missing(e) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let stat = rustix::fs::fstat(&fd)?;
        if FileType::from_raw_mode(stat.st_mode) != FileType::RegularFile {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "something other than a file stands where a file belongs",
            ));
        }
        // Regular files ignore O_NONBLOCK; it was only there for the open.
        Ok(Some((
            File::from(fd),
            stat.st_size as u64,
            stat.st_ino as u64,
        )))
    }

    /// What stands at `rel`.
    pub(crate) fn entry(&self, rel: &str) -> io::Result<Entry> {
        let (parent, name) = split(rel);
        let dir = match self.dir(parent) {
            Ok(Some(d)) => d,
            Ok(None) => return Ok(Entry::Missing),
            Err(e) => return Err(e),
        };
        dir.entry(name)
    }

    /// The directory at `rel` (`""` for this one); `None` if it is missing
    /// or a link stands on the way.
    pub(crate) fn dir(&self, rel: &str) -> io::Result<Option<Dir>> {
        if rel.is_empty() {
            return Ok(Some(Dir {
                fd: rustix::io::dup(&self.fd)?,
            }));
        }
        match self.resolve(rel, DIR_FLAGS) {
            Ok(fd) => Ok(Some(Dir { fd })),
            Err(e) if missing(e) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// The directory at `rel`, created with its missing parents; each
    /// parent that gained an entry is pushed to `gained` (outermost first)
    /// with the path of the directory created in it, for the caller to
    /// sync. A link or a file on the way is refused.
    pub(crate) fn create_dirs(
        &self,
        rel: &str,
        gained: &mut Vec<(Dir, String)>,
    ) -> io::Result<Dir> {
        // An eviction removes an emptied shard directory under the engine
        // lock while a first write to that shard creates it outside: a
        // level that vanishes while the walk is in it (its mkdir or open
        // says ENOENT) makes the walk start over. It cannot keep vanishing
        // once this write's own directory is in it.
        let mut tries = 0;
        loop {
            match self.try_create_dirs(rel, gained) {
                Err(Errno::NOENT) if tries < 8 => tries += 1,
                other => return other.map_err(io::Error::from),
            }
        }
    }

    fn try_create_dirs(&self, rel: &str, gained: &mut Vec<(Dir, String)>) -> Result<Dir, Errno> {
        let mut cur = Dir {
            fd: rustix::io::dup(&self.fd)?,
        };
        let mut at = String::with_capacity(rel.len());
        for part in rel.split('/').filter(|p| !p.is_empty()) {
            if !at.is_empty() {
                at.push('/');
            }
            at.push_str(part);
            let next = match resolve(cur.fd.as_fd(), part, DIR_FLAGS) {
                Ok(fd) => fd,
                Err(Errno::NOENT) => {
                    match rustix::fs::mkdirat(&cur.fd, part, Mode::from_raw_mode(0o777)) {
                        Ok(()) => gained.push((
                            {
                                note!(|rel| Some(crate::fuzzing::power::Op::Mkdir(rel(
                                    cur.fd.as_fd(),
                                    Some(OsStr::new(part))
                                )?)));
                                Dir {
                                    fd: rustix::io::dup(&cur.fd)?,
                                }
                            },
                            at.clone(),
                        )),
                        Err(Errno::EXIST) => {}
                        Err(e) => return Err(e),
                    }
                    resolve(cur.fd.as_fd(), part, DIR_FLAGS)?
                }
                Err(e) => return Err(e),
            };
            cur = Dir { fd: next };
        }
        Ok(cur)
    }
}

/// A directory reached without links: the `*at` operations on its entries.
#[derive(Debug)]
pub(crate) struct Dir {
    fd: OwnedFd,
}

impl Dir {
    /// What stands at `name` (a link is not followed).
    pub(crate) fn entry(&self, name: &str) -> io::Result<Entry> {
        match rustix::fs::statat(&self.fd, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) => Ok(match FileType::from_raw_mode(st.st_mode) {
                FileType::RegularFile => Entry::File(st.st_size as u64),
                FileType::Directory => Entry::Dir,
                FileType::Symlink => Entry::Link,
                _ => Entry::Special,
            }),
            Err(e) if missing(e) => Ok(Entry::Missing),
            Err(e) => Err(e.into()),
        }
    }

    /// The regular file `name` open for reading; `None` if it is not there
    /// or is not a regular file (never through a link, never blocking).
    pub(crate) fn open_file(&self, name: &OsStr) -> io::Result<Option<File>> {
        let fd = match rustix::fs::openat(&self.fd, name, READ_FLAGS, Mode::empty()) {
            Ok(fd) => fd,
            Err(e) if missing(e) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let stat = rustix::fs::fstat(&fd)?;
        Ok(
            (FileType::from_raw_mode(stat.st_mode) == FileType::RegularFile)
                .then(|| File::from(fd)),
        )
    }

    /// Create a new file `name` (never an existing one, never through a
    /// link), open for reading and writing.
    pub(crate) fn create_new(&self, name: &OsStr) -> io::Result<File> {
        let flags =
            OFlags::RDWR | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let fd = rustix::fs::openat(&self.fd, name, flags, Mode::from_raw_mode(0o666))?;
        note!(|rel| Some(crate::fuzzing::power::Op::Create(rel(
            self.fd.as_fd(),
            Some(name)
        )?)));
        Ok(File::from(fd))
    }

    /// Rename `from` to `to`, both in this directory, replacing `to`.
    pub(crate) fn rename(&self, from: &OsStr, to: &OsStr) -> io::Result<()> {
        rustix::fs::renameat(&self.fd, from, &self.fd, to)?;
        self.noted_rename(from, self, to);
        Ok(())
    }

    /// Records a rename done (`fuzzing` feature only).
    fn noted_rename(&self, _from: &OsStr, _to_dir: &Dir, _to: &OsStr) {
        note!(|rel| Some(crate::fuzzing::power::Op::Rename(
            rel(self.fd.as_fd(), Some(_from))?,
            rel(_to_dir.fd.as_fd(), Some(_to))?
        )));
    }

    /// Rename `from` to `to` only if nothing has that name. `false` if
    /// something does, or if this system or file system cannot tell.
    pub(crate) fn rename_if_new(&self, from: &OsStr, to: &OsStr) -> bool {
        let renamed = super::rename::if_new_at(self.fd.as_fd(), from, to);
        if renamed {
            self.noted_rename(from, self, to);
        }
        renamed
    }

    /// Rename `name` into `to_dir` as `to`.
    pub(crate) fn rename_to(&self, name: &OsStr, to_dir: &Dir, to: &OsStr) -> io::Result<()> {
        rustix::fs::renameat(&self.fd, name, &to_dir.fd, to)?;
        self.noted_rename(name, to_dir, to);
        Ok(())
    }

    /// Remove the file (or link) `name`; `false` if it was not there.
    pub(crate) fn remove_file(&self, name: &OsStr) -> io::Result<bool> {
        match rustix::fs::unlinkat(&self.fd, name, AtFlags::empty()) {
            Ok(()) => {
                note!(|rel| Some(crate::fuzzing::power::Op::Unlink(rel(
                    self.fd.as_fd(),
                    Some(name)
                )?)));
                Ok(true)
            }
            Err(e) if missing(e) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Remove the empty directory `name`.
    pub(crate) fn remove_dir(&self, name: &OsStr) -> io::Result<()> {
        rustix::fs::unlinkat(&self.fd, name, AtFlags::REMOVEDIR)?;
        note!(|rel| Some(crate::fuzzing::power::Op::Rmdir(rel(
            self.fd.as_fd(),
            Some(name)
        )?)));
        Ok(())
    }

    /// The names of its entries (`.` and `..` left out), of any type.
    pub(crate) fn names(&self) -> io::Result<Vec<std::ffi::OsString>> {
        use std::os::unix::ffi::OsStrExt;
        let mut out = Vec::new();
        for entry in rustix::fs::Dir::read_from(&self.fd)? {
            let name = entry?.file_name().to_bytes().to_vec();
            if name != b"." && name != b".." {
                out.push(OsStr::from_bytes(&name).to_os_string());
            }
        }
        Ok(out)
    }

    /// Make the directory's entries durable.
    pub(crate) fn sync(&self) -> io::Result<()> {
        rustix::fs::fsync(&self.fd)?;
        note!(|rel| Some(crate::fuzzing::power::Op::SyncDir(rel(
            self.fd.as_fd(),
            None
        )?)));
        Ok(())
    }

    /// The descriptor (for recording operations on files in it).
    #[cfg(all(feature = "fuzzing", target_os = "linux"))]
    pub(crate) fn fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// `rel` split into its parent (`""` at the top) and its last name.
pub(crate) fn split(rel: &str) -> (&str, &str) {
    rel.rsplit_once('/').unwrap_or(("", rel))
}

/// Whether `e` says nothing usable stands there: missing, a file where a
/// directory was expected, or a link on the way (`ELOOP`, also what
/// `O_NOFOLLOW` answers for a link).
fn missing(e: Errno) -> bool {
    matches!(e, Errno::NOENT | Errno::NOTDIR | Errno::LOOP)
}

/// `openat2` beneath `dir`, no link anywhere (Linux); a kernel without it
/// takes the walk.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn resolve(dir: std::os::fd::BorrowedFd<'_>, rel: &str, flags: OFlags) -> Result<OwnedFd, Errno> {
    use rustix::fs::ResolveFlags;
    use std::sync::atomic::{AtomicBool, Ordering};

    // Android's seccomp filter kills some apps on openat2 on old releases;
    // a failed call (ENOSYS, EPERM) switches to the walk for good.
    static UNAVAILABLE: AtomicBool = AtomicBool::new(false);
    if !UNAVAILABLE.load(Ordering::Relaxed) && !cfg!(target_os = "android") {
        let how = ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS;
        match rustix::fs::openat2(dir, rel, flags, Mode::empty(), how) {
            Err(Errno::NOSYS | Errno::PERM) => UNAVAILABLE.store(true, Ordering::Relaxed),
            // EAGAIN: a concurrent rename somewhere on the system; the walk
            // is as safe.
            Err(Errno::AGAIN) => {}
            other => return other,
        }
    }
    walk(dir, rel, flags)
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn resolve(dir: std::os::fd::BorrowedFd<'_>, rel: &str, flags: OFlags) -> Result<OwnedFd, Errno> {
    walk(dir, rel, flags)
}

/// One component at a time, each directory opened with `O_NOFOLLOW`, the
/// last with `flags` (which carry `O_NOFOLLOW`).
fn walk(dir: std::os::fd::BorrowedFd<'_>, rel: &str, flags: OFlags) -> Result<OwnedFd, Errno> {
    let mut parts = rel.split('/').filter(|p| !p.is_empty()).peekable();
    let mut cur: Option<OwnedFd> = None;
    while let Some(part) = parts.next() {
        if part == "." || part == ".." {
            return Err(Errno::LOOP);
        }
        let at = cur.as_ref().map_or(dir, |fd| fd.as_fd());
        let how = if parts.peek().is_some() {
            DIR_FLAGS
        } else {
            flags | OFlags::NOFOLLOW
        };
        cur = Some(rustix::fs::openat(at, part, how, Mode::empty())?);
    }
    match cur {
        Some(fd) => Ok(fd),
        None => rustix::io::dup(dir),
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::symlink;

    use super::*;

    #[test]
    fn the_walk_and_openat2_refuse_a_link_at_every_depth() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("a/b")).unwrap();
        std::fs::write(root.join("a/b/f"), b"x").unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(outside.path().join("b")).unwrap();
        std::fs::write(outside.path().join("b/f"), b"outside").unwrap();
        std::fs::write(outside.path().join("f"), b"outside").unwrap();
        let b = Beneath::open(root).unwrap();
        assert_eq!(b.open_file("a/b/f").unwrap().unwrap().1, 1);
        let rel = "a/b/f";
        // link at "a"
        std::fs::rename(root.join("a"), root.join("a-moved")).unwrap();
        symlink(outside.path(), root.join("a")).unwrap();
        assert!(b.open_file(rel).unwrap().is_none());
        assert!(walk(b.fd.as_fd(), rel, READ_FLAGS).is_err());
        std::fs::remove_file(root.join("a")).unwrap();
        std::fs::rename(root.join("a-moved"), root.join("a")).unwrap();
        // link at the file itself
        std::fs::remove_file(root.join("a/b/f")).unwrap();
        symlink(outside.path().join("f"), root.join("a/b/f")).unwrap();
        assert!(b.open_file(rel).unwrap().is_none());
        assert!(walk(b.fd.as_fd(), rel, READ_FLAGS).is_err());
        assert_eq!(b.entry(rel).unwrap(), Entry::Link);
        assert!(walk(b.fd.as_fd(), "a/../a/b", DIR_FLAGS).is_err());
    }
}
