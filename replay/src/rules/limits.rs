//! What one rules file, and the whole ruleset, may expand to.
//!
//! A rules file is small, but three of its features copy: YAML aliases
//! (`*a` is a copy of the node anchored `&a`), lists (a list naming a list
//! holds its items, and a condition naming a list holds them as text) and
//! macros (a condition naming a macro holds its whole tree). Each can double
//! at every level, so 8 lines of aliases or 40 lists or macros would ask for
//! gigabytes. These bounds stop every such chain at the item where it
//! crosses them, with an error naming the file, the line and the item;
//! memory and time stay proportional to the input (a small multiple of it
//! plus these constants).
//!
//! The shipped ruleset uses well under a tenth of each bound.
//!
//! | what | bound | where checked |
//! |------|-------|---------------|
//! | YAML nodes of one file, counting every alias as a copy | [`YAML_NODES`] | `yaml.rs` |
//! | YAML scalar bytes of one file, counting alias copies | [`YAML_BYTES`] | `yaml.rs` |
//! | YAML nesting depth | [`YAML_DEPTH`] | `yaml.rs` |
//! | items of all expanded lists together (each item costs its length + 32) | [`LIST_COST`] | `ruleset.rs` |
//! | one condition's text after list substitution | [`CONDITION_BYTES`] | `ruleset.rs` |
//! | one condition's tree after macro expansion (nodes and values) | [`CONDITION_NODES`] | `ruleset.rs` |
//! | one condition's tree depth after macro expansion | [`CONDITION_DEPTH`] | `ruleset.rs` |
//! | the trees of all macros and rules together | [`TOTAL_NODES`] | `ruleset.rs` |

/// YAML nodes one file may build, every alias counted as a copy of what
/// it names.
pub const YAML_NODES: usize = 1_000_000;

/// Scalar bytes one file may build, every alias counted as a copy.
pub const YAML_BYTES: usize = 64 << 20;

/// Nested YAML collections (sequences and mappings) one file may open.
pub const YAML_DEPTH: usize = 256;

/// Cost of all expanded lists together: each item costs its length plus 32.
pub const LIST_COST: usize = 16 << 20;

/// Bytes of one condition after every list is substituted into it.
pub const CONDITION_BYTES: usize = 1 << 20;

/// Nodes (expressions and compared values) of one condition after its
/// macros are expanded.
pub const CONDITION_NODES: usize = 200_000;

/// Depth of one condition's tree after its macros are expanded (each level
/// is a level of recursion when it is compiled and evaluated, on threads
/// with small stacks).
pub const CONDITION_DEPTH: usize = 1000;

/// Nodes of every expanded macro and rule condition together.
pub const TOTAL_NODES: usize = 2_000_000;
