//! The index file (`state.json`): its format, loading it, and the flusher
//! thread that writes it now and then.

pub(crate) mod flusher;
pub(crate) mod load;
pub(crate) mod state;
