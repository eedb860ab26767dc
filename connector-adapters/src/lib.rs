//! Singer taps and Airbyte sources as connectors of the toolkit: the library behind the
//! two binaries `connector-singer` and `connector-airbyte`, which speak this project's
//! protocol to the runner and the other protocol to the tap they run.
//!
//! Modules, one noun each:
//! - `child`: the tap as a child process (bounded lines, stderr kept and masked, exit status);
//! - `schema`: a tap's JSON Schema (draft 4/7) as a declared record type (draft 2020-12);
//! - `record`: type names, ids, `self` URIs, a tap's record as one of ours;
//! - `secrets`: which values of a tap's configuration are secret;
//! - `adapter`: what both adapters share (options, the private work directory, writing records);
//! - `singer` and `airbyte`: the two [`connector_sdk::Connector`]s.
//!
//! Invariant: a tap never outlives its adapter (same process group, and a parent-death
//! signal on Linux), and nothing the adapter writes holds a configured secret.

#![warn(missing_docs)]

pub mod adapter;
pub mod airbyte;
pub mod child;
pub mod record;
pub mod schema;
pub mod secrets;
pub mod singer;
