//! Opening a root: take the owner's lock, scan the tree once, and reconcile
//! what was found with the index that was loaded (see `persist`).

pub(crate) mod lock;
pub(crate) mod recover;
mod scan;

pub(crate) use scan::Scan;
