//! The `User` type, user queries and user mutations, one file each, with the inputs and
//! payloads of the mutations in `inputs`.

mod inputs;
mod mutation;
mod object;
mod query;

pub use inputs::*;
pub use mutation::*;
pub use object::*;
pub use query::*;
