//! The domain: the records the launcher keeps and the pure rules over them
//! (plan validation, queue transitions, slot counting, recovery decisions,
//! notice coalescing). Nothing here does I/O, so every rule is unit-tested
//! without processes.

pub mod plan;
mod records;

pub use records::*;
