//! The `mailbox send` side: what a department runs to report, building the
//! report file (`send`) and handing it over by the drop folder or, with a
//! token, by the launcher's API (`submit`).

pub mod send;
pub mod submit;
