//! JSONPath, the default query language of the Amazon States Language, as a language: paths
//! ([`path`]), payload templates ([`payload`]), the intrinsic functions ([`intrinsics`]) and
//! Choice rules ([`choice`]), each parsed once when a definition is loaded (the `asl` model holds
//! them) and evaluated against JSON values. `query::jsonpath` applies them behind the
//! query-language seam; a second language (JSONata) gets a module of its own beside this one.

pub mod choice;
pub mod intrinsics;
pub mod path;
pub mod payload;

pub use choice::ChoiceRule;
pub use intrinsics::{Intrinsic, looks_like_intrinsic};
pub use path::JsonPath;
pub use payload::PayloadTemplate;
