//! Telling a Zhongshu: notices of registered results (one per window), its
//! inbox, the answers to its confirmations, and a restart with what it knew.

pub mod confirm;
pub mod inbox;
pub mod pending;
pub mod restart;
