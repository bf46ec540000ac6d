//! Power-cut simulation: a recording of every file-system operation the
//! production store makes, and a model of what a power cut after any of
//! them leaves on disk.
//!
//! Armed for a root on the calling thread, the store's own primitives
//! (`store/beneath.rs`, the temp files, the burial of evicted assets)
//! append an [`Op`] each: file creation, appended bytes, the integrity
//! attribute, file and directory syncs, renames, removals. Nothing is
//! changed in how they run. [`Model`] replays a prefix of the log and
//! writes the state a cut at that point may leave, under a [`Crash`] model,
//! into a fresh directory, where a real cache opens it.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fs;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::path::{Path, PathBuf};

/// One file-system operation of the store, paths relative to the root.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    /// A directory was created.
    Mkdir(String),
    /// An empty file was created.
    Create(String),
    /// Bytes were appended to a file.
    Append(String, Vec<u8>),
    /// The integrity attribute was set on a file.
    Attr(String, Vec<u8>),
    /// A file was synced: its data, and with `attrs` its metadata (`fsync`
    /// rather than `fdatasync`).
    SyncFile {
        /// The file.
        path: String,
        /// Whether the attributes were synced too.
        attrs: bool,
    },
    /// An entry was renamed, replacing what had the new name.
    Rename(String, String),
    /// A file was removed.
    Unlink(String),
    /// An empty directory was removed.
    Rmdir(String),
    /// A directory was removed with everything in it.
    RemoveTree(String),
    /// A directory was synced: its entries are durable.
    SyncDir(String),
}

thread_local! {
    static ARMED: RefCell<Option<(PathBuf, Vec<Op>)>> = const { RefCell::new(None) };
}

/// Starts recording the operations this thread makes under `root`.
pub fn arm(root: &Path) {
    let root = root.canonicalize().unwrap_or_else(|_| root.to_path_buf());
    ARMED.with(|a| *a.borrow_mut() = Some((root, Vec::new())));
}

/// Stops recording; the operations recorded.
pub fn disarm() -> Vec<Op> {
    ARMED.with(|a| {
        a.borrow_mut()
            .take()
            .map(|(_, ops)| ops)
            .unwrap_or_default()
    })
}

/// How many operations were recorded so far.
pub fn recorded() -> usize {
    ARMED.with(|a| a.borrow().as_ref().map_or(0, |(_, ops)| ops.len()))
}

fn armed() -> bool {
    ARMED.with(|a| a.borrow().is_some())
}

/// Records the operation `make` describes, if recording; `make` gets a
/// function giving the root-relative path of a directory descriptor plus
/// an optional name (`None` outside the root).
pub(crate) fn note(
    make: impl FnOnce(&dyn Fn(BorrowedFd<'_>, Option<&OsStr>) -> Option<String>) -> Option<Op>,
) {
    if !armed() {
        return;
    }
    let rel = |fd: BorrowedFd<'_>, name: Option<&OsStr>| -> Option<String> {
        let at = fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd())).ok()?;
        let mut path = relative(&at)?;
        if let Some(name) = name {
            if !path.is_empty() {
                path.push('/');
            }
            path.push_str(name.to_str()?);
        }
        Some(path)
    };
    if let Some(op) = make(&rel) {
        ARMED.with(|a| {
            if let Some((_, ops)) = a.borrow_mut().as_mut() {
                ops.push(op);
            }
        });
    }
}

/// `path` relative to the armed root, `/`-separated.
pub(crate) fn relative(path: &Path) -> Option<String> {
    ARMED.with(|a| {
        let a = a.borrow();
        let (root, _) = a.as_ref()?;
        let rel = path.strip_prefix(root).ok()?;
        rel.to_str().map(str::to_owned)
    })
}

/// Records an operation on a path outside any descriptor.
pub(crate) fn note_path(path: &Path, make: impl FnOnce(String) -> Op) {
    if armed()
        && let Some(rel) = path
            .canonicalize()
            .ok()
            .and_then(|p| relative(&p))
            .or_else(|| relative(path))
    {
        let op = make(rel);
        ARMED.with(|a| {
            if let Some((_, ops)) = a.borrow_mut().as_mut() {
                ops.push(op);
            }
        });
    }
}

/// What survives a power cut.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Crash {
    /// A journaling file system in ordered mode (ext4 `data=ordered` with
    /// delayed allocation, XFS): metadata (names, renames, removals,
    /// attributes) persists in order up to the cut; a file's data only as
    /// far as its last sync (a file never synced comes back empty).
    Ordered,
    /// Nothing persists that no sync made durable: a directory's entries
    /// as of its last sync, a file's data as of its last sync, its
    /// attributes as of its last `fsync`.
    Strict,
}

#[derive(Clone, Debug)]
enum Node {
    File {
        data: Vec<u8>,
        synced: Vec<u8>,
        attr: Option<Vec<u8>>,
        synced_attr: Option<Vec<u8>>,
    },
    Dir {
        entries: BTreeMap<String, usize>,
        synced: BTreeMap<String, usize>,
    },
}

/// The files and directories under a root, as the operations left them,
/// with what of each is durable.
#[derive(Clone, Debug)]
pub struct Model {
    nodes: Vec<Node>,
}

impl Model {
    /// The tree at `root` now, all of it durable (the state before arming).
    pub fn from_disk(root: &Path) -> io::Result<Self> {
        let mut model = Self {
            nodes: vec![Node::Dir {
                entries: BTreeMap::new(),
                synced: BTreeMap::new(),
            }],
        };
        model.load(root, 0)?;
        Ok(model)
    }

    fn load(&mut self, dir: &Path, at: usize) -> io::Result<()> {
        for entry in fs::read_dir(dir)? {
            let entry = entry?;
            let kind = entry.file_type()?;
            let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
                continue;
            };
            let node = if kind.is_dir() {
                let id = self.add(Node::Dir {
                    entries: BTreeMap::new(),
                    synced: BTreeMap::new(),
                });
                self.load(&entry.path(), id)?;
                id
            } else if kind.is_file() {
                let data = fs::read(entry.path())?;
                let attr = attr_at(&entry.path());
                self.add(Node::File {
                    synced: data.clone(),
                    data,
                    synced_attr: attr.clone(),
                    attr,
                })
            } else {
                continue;
            };
            if let Node::Dir { entries, synced } = &mut self.nodes[at] {
                entries.insert(name.clone(), node);
                synced.insert(name, node);
            }
        }
        Ok(())
    }

    fn add(&mut self, node: Node) -> usize {
        self.nodes.push(node);
        self.nodes.len() - 1
    }

    /// The node at `path` in the current (not necessarily durable) tree.
    fn lookup(&self, path: &str) -> Option<usize> {
        let mut at = 0;
        for part in path.split('/').filter(|p| !p.is_empty()) {
            let Node::Dir { entries, .. } = &self.nodes[at] else {
                return None;
            };
            at = *entries.get(part)?;
        }
        Some(at)
    }

    fn entries(&mut self, dir: &str) -> Option<&mut BTreeMap<String, usize>> {
        let at = self.lookup(dir)?;
        match &mut self.nodes[at] {
            Node::Dir { entries, .. } => Some(entries),
            Node::File { .. } => None,
        }
    }

    fn detach(&mut self, path: &str) -> Option<usize> {
        let (parent, name) = path.rsplit_once('/').unwrap_or(("", path));
        self.entries(parent)?.remove(name)
    }

    fn attach(&mut self, path: &str, node: usize) {
        let (parent, name) = path.rsplit_once('/').unwrap_or(("", path));
        if let Some(entries) = self.entries(parent) {
            entries.insert(name.to_owned(), node);
        }
    }

    fn file(&mut self, path: &str) -> Option<&mut Node> {
        let at = self.lookup(path)?;
        Some(&mut self.nodes[at])
    }

    /// Applies one recorded operation.
    pub fn apply(&mut self, op: &Op) {
        match op {
            Op::Mkdir(p) => {
                let id = self.add(Node::Dir {
                    entries: BTreeMap::new(),
                    synced: BTreeMap::new(),
                });
                self.attach(p, id);
            }
            Op::Create(p) => {
                let id = self.add(Node::File {
                    data: Vec::new(),
                    synced: Vec::new(),
                    attr: None,
                    synced_attr: None,
                });
                self.attach(p, id);
            }
            Op::Append(p, bytes) => {
                if let Some(Node::File { data, .. }) = self.file(p) {
                    data.extend_from_slice(bytes);
                }
            }
            Op::Attr(p, value) => {
                if let Some(Node::File { attr, .. }) = self.file(p) {
                    *attr = Some(value.clone());
                }
            }
            Op::SyncFile { path, attrs } => {
                if let Some(Node::File {
                    data,
                    synced,
                    attr,
                    synced_attr,
                }) = self.file(path)
                {
                    synced.clone_from(data);
                    if *attrs {
                        synced_attr.clone_from(attr);
                    }
                }
            }
            Op::Rename(from, to) => {
                if let Some(node) = self.detach(from) {
                    self.attach(to, node);
                }
            }
            Op::Unlink(p) | Op::Rmdir(p) | Op::RemoveTree(p) => {
                self.detach(p);
            }
            Op::SyncDir(p) => {
                if let Some(at) = self.lookup(p)
                    && let Node::Dir { entries, synced } = &mut self.nodes[at]
                {
                    synced.clone_from(entries);
                }
            }
        }
    }

    /// Writes what a cut now may leave, under `crash`, into `dest`.
    pub fn materialize(&self, crash: Crash, dest: &Path) -> io::Result<()> {
        self.write(0, crash, dest, 0)
    }

    fn write(&self, at: usize, crash: Crash, dest: &Path, depth: usize) -> io::Result<()> {
        let Node::Dir { entries, synced } = &self.nodes[at] else {
            return Ok(());
        };
        // A directory named in two places (a rename durable on one side
        // only) is written in both; a loop cannot form, but stop anyway.
        if depth > 64 {
            return Ok(());
        }
        let names = match crash {
            Crash::Ordered => entries,
            Crash::Strict => synced,
        };
        for (name, &node) in names {
            let path = dest.join(name);
            match &self.nodes[node] {
                Node::Dir { .. } => {
                    fs::create_dir_all(&path)?;
                    self.write(node, crash, &path, depth + 1)?;
                }
                Node::File {
                    synced,
                    attr,
                    synced_attr,
                    ..
                } => {
                    fs::write(&path, synced)?;
                    let attr = match crash {
                        Crash::Ordered => attr,
                        Crash::Strict => synced_attr,
                    };
                    if let Some(value) = attr {
                        set_attr_at(&path, value)?;
                    }
                }
            }
        }
        Ok(())
    }
}

fn attr_at(path: &Path) -> Option<Vec<u8>> {
    let mut buf = [0u8; 64];
    let n = rustix::fs::lgetxattr(path, crate::layout::RECORD_XATTR, &mut buf).ok()?;
    Some(buf[..n].to_vec())
}

fn set_attr_at(path: &Path, value: &[u8]) -> io::Result<()> {
    rustix::fs::lsetxattr(
        path,
        crate::layout::RECORD_XATTR,
        value,
        rustix::fs::XattrFlags::empty(),
    )?;
    Ok(())
}
