//! YAML documents with source positions, for configs and manifests that report every
//! error at once.
//!
//! This crate owns reading YAML into a tree that remembers where each value was written
//! ([`Node`], [`Mark`]), and a toolkit for reading typed values out of that tree that
//! *collects* problems instead of stopping at the first ([`Value`], [`Mapping`],
//! [`Errors`], [`Diagnostic`]). A diagnostic prints as `FILE:LINE:COLUMN: PATH: message`.
//! It reads sizes and durations with the spellings every config and manifest shares
//! ([`parse_size`], [`parse_duration`], re-exported from `weft_core::units`, the one
//! implementation) and makes "did you mean" suggestions ([`suggest`]).
//!
//! It depends only on `weft-core` in weft, so any crate may use it.
//!
//! # Choices
//! - Scalars resolve with the YAML 1.2 core schema: `yes`, `no`, `on` and `off` are
//!   strings, not booleans.
//! - Anchors (`&name`) and aliases (`*name`) are rejected with a clear error: manifests in
//!   git should read the same to a person as to the parser, and rejecting them rules out
//!   alias-expansion bombs. The only tag accepted is `!!str` (force a string).
//! - A mapping may not repeat a key; the diagnostic names both places, and the first value
//!   is kept so that the rest of the document can still be checked.
//! - A syntax error stops the parser; problems found before it are still reported.
//!
//! # Example
//! ```
//! use weft_yaml::{Errors, parse};
//!
//! let documents = parse("weft.yaml", "http:\n  listen: 127.0.0.1:0\n  lisen: x\n").unwrap();
//! let mut errors = Errors::new();
//! let root = documents[0].value().mapping(&mut errors).unwrap();
//! let http = root.take_mapping("http", &mut errors).unwrap();
//! assert_eq!(http.take_str("listen", &mut errors), Some("127.0.0.1:0"));
//! http.deny_unknown(&["listen"], &mut errors);
//! assert_eq!(
//!     errors.to_string(),
//!     "weft.yaml:3:3: http.lisen: unknown field `lisen`, did you mean `listen`?"
//! );
//! ```

mod diagnostic;
pub mod emit;
mod node;
mod parse;
mod path;
mod suggest;
mod view;

pub use diagnostic::{Diagnostic, Errors, Problem};
pub use node::{Mark, Node, NodeValue};
pub use parse::{Document, parse, parse_collecting};
pub use suggest::suggest;
pub use view::{Mapping, Sequence, Value};
pub use weft_core::units::{DurationError, SizeError, parse_duration, parse_size};
