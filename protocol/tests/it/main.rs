//! protocol's integration tests: one test binary, a module per area, helpers in `util`.

// The house rules of every shared schema: names, descriptions, required fields, keywords.
mod conventions;
// schemas/REFERENCE.md, generated from the record schemas, and its check.
mod reference;
// The one-pass decoder of a sync's lines against decoding, then validating, apart.
mod decode;
// Fuzzed input through the codec, the decoder, the tape and the registry.
mod fuzz;
// PROTOCOL.md's examples and the record fixtures against the shared schemas.
mod schemas;
// The tape validator (the runner's fast path) against the `serde_json::Value` validator.
mod tape;
// Reading the repository's files: PROTOCOL.md and the record fixtures.
mod util;
