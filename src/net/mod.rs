//! Network plumbing shared by the API server and the terminal listeners.

pub mod listener;
