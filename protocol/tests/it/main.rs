//! protocol's integration tests: one test binary, a module per area, helpers in `util`.

// The one-pass decoder of a sync's lines against decoding, then validating, apart.
mod decode;
// PROTOCOL.md's examples and the record fixtures against the shared schemas.
mod schemas;
// The tape validator (the runner's fast path) against the `serde_json::Value` validator.
mod tape;
// Reading the repository's files: PROTOCOL.md and the record fixtures.
mod util;
