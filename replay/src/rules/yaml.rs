//! A YAML tree with positions, built from `yaml-rust2`'s event parser.
//!
//! `yaml-rust2`'s own document type drops positions; rule errors need the
//! line and column of every item and value, so this module builds its own
//! small tree from the marked event stream.
//!
//! **Invariant (bounded expansion):** an alias is a copy of the node it
//! names, so the tree is counted as it is built, copies included: at most
//! [`limits::YAML_NODES`] nodes, [`limits::YAML_BYTES`] bytes of scalars and
//! [`limits::YAML_DEPTH`] nested collections per file. The event that
//! crosses a bound stops the build with an error at its line, naming the
//! top-level item it is in; the rest of the file is parsed but not built.
//! A billion-laughs chain stops at its first few levels.

use std::collections::HashMap;

use super::error::ItemKind;
use super::limits;

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// A position in a YAML file: 1-based line and column.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Mark {
    /// Line, from 1.
    pub line: u32,
    /// Column, from 1.
    pub col: u32,
}

/// A YAML node.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    /// Its content.
    pub kind: Kind,
    /// Where it starts.
    pub mark: Mark,
}

/// YAML node kinds (scalars keep their text; typing is left to the reader).
#[derive(Clone, Debug, PartialEq)]
pub enum Kind {
    /// A scalar and whether it was plain (unquoted, so `null`/`true` apply).
    Scalar(String, bool),
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping, in file order.
    Map(Vec<(Node, Node)>),
}

impl Node {
    /// The value for `key` in a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.kind {
            Kind::Map(entries) => entries
                .iter()
                .find(|(k, _)| k.as_str() == Some(key))
                .map(|(_, v)| v),
            _ => None,
        }
    }

    /// The text of a scalar.
    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            Kind::Scalar(s, _) => Some(s),
            _ => None,
        }
    }

    /// Whether this is a null (`~`, `null`, or empty plain scalar).
    pub fn is_null(&self) -> bool {
        matches!(&self.kind, Kind::Scalar(s, true) if s.is_empty() || s == "~" || s.eq_ignore_ascii_case("null"))
    }

    /// A short description of the node's kind, for messages.
    pub fn kind_name(&self) -> &'static str {
        match &self.kind {
            Kind::Scalar(..) if self.is_null() => "null",
            Kind::Scalar(..) => "a scalar",
            Kind::Seq(_) => "a sequence",
            Kind::Map(_) => "a mapping",
        }
    }
}

/// A YAML syntax error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct YamlError {
    /// The parser's message.
    pub message: String,
    /// Where.
    pub mark: Mark,
    /// The top-level item (`rule`, `macro` or `list` and its name) the error
    /// is in, when known.
    pub item: Option<(ItemKind, String)>,
}

/// Parses every document of `text`.
///
/// `yaml-rust2` rejects a flow collection closed at the indentation of its
/// key (`items: [` ... newline `]`), which yaml-cpp (Falco) and libyaml
/// accept and the shipped rules use. On an indentation error the text is
/// parsed again with such closing lines indented like the line before them;
/// line numbers do not change.
pub fn parse_documents(text: &str) -> Result<Vec<Node>, YamlError> {
    match parse_strict(text) {
        Err(e) if e.message.contains("indentation") => {
            let patched = indent_flow_closers(text);
            parse_strict(&patched).map_err(|_| e)
        }
        r => r,
    }
}

fn indent_flow_closers(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 64);
    let mut prev_indent = 0;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim_start_matches(' ');
        let indent = line.len() - trimmed.len();
        if (trimmed.starts_with(']') || trimmed.starts_with('}')) && indent < prev_indent {
            out.extend(std::iter::repeat_n(' ', prev_indent - indent));
        } else if !trimmed.trim().is_empty() {
            prev_indent = indent;
        }
        out.push_str(line);
    }
    out
}

fn parse_strict(text: &str) -> Result<Vec<Node>, YamlError> {
    let mut builder = Builder::default();
    let mut parser = Parser::new_from_str(text);
    parser.load(&mut builder, true).map_err(|e| YamlError {
        message: e.info().to_owned(),
        mark: mark(*e.marker()),
        item: None,
    })?;
    if let Some(e) = builder.error {
        return Err(e);
    }
    Ok(builder.docs)
}

fn mark(m: Marker) -> Mark {
    Mark {
        line: u32::try_from(m.line()).unwrap_or(u32::MAX),
        col: u32::try_from(m.col()).unwrap_or(u32::MAX).saturating_add(1),
    }
}

/// An open collection: the node, a pending map key, its anchor, and the
/// node and byte counts when it opened.
struct Open {
    node: Node,
    pending: Option<Node>,
    anchor: usize,
    nodes: usize,
    bytes: usize,
}

#[derive(Default)]
struct Builder {
    docs: Vec<Node>,
    stack: Vec<Open>,
    /// Anchored nodes with their node and byte counts.
    anchors: HashMap<usize, (Node, usize, usize)>,
    /// Nodes and scalar bytes built so far, alias copies included.
    nodes: usize,
    bytes: usize,
    error: Option<YamlError>,
}

impl Builder {
    /// Counts `nodes` and `bytes` more; false (and the error set) past a bound.
    fn charge(&mut self, nodes: usize, bytes: usize, mark: Mark) -> bool {
        self.nodes = self.nodes.saturating_add(nodes);
        self.bytes = self.bytes.saturating_add(bytes);
        let message = if self.nodes > limits::YAML_NODES {
            format!(
                "the file expands to more than {} yaml nodes (aliases count as copies)",
                limits::YAML_NODES
            )
        } else if self.bytes > limits::YAML_BYTES {
            format!(
                "the file expands to more than {} MiB of yaml text (aliases count as copies)",
                limits::YAML_BYTES >> 20
            )
        } else if self.stack.len() > limits::YAML_DEPTH {
            format!("yaml nested deeper than {} collections", limits::YAML_DEPTH)
        } else {
            return true;
        };
        self.fail(message, mark);
        false
    }

    fn fail(&mut self, message: String, mark: Mark) {
        if self.error.is_none() {
            let item = self.current_item();
            self.error = Some(YamlError {
                message,
                mark,
                item,
            });
        }
    }

    /// The top-level item being built: the mapping just inside the
    /// document's sequence, if it already has its `rule`/`macro`/`list` key.
    fn current_item(&self) -> Option<(ItemKind, String)> {
        let open = self.stack.get(1)?;
        let Kind::Map(entries) = &open.node.kind else {
            return None;
        };
        entries.iter().find_map(|(k, v)| {
            let kind = match k.as_str()? {
                "rule" => ItemKind::Rule,
                "macro" => ItemKind::Macro,
                "list" => ItemKind::List,
                _ => return None,
            };
            Some((kind, v.as_str()?.to_owned()))
        })
    }

    fn push_value(&mut self, node: Node, anchor: usize, counts: (usize, usize)) {
        // The anchor's copy is counted too, so nested anchors cannot
        // multiply the tree unseen.
        if anchor > 0 && self.charge(counts.0, counts.1, node.mark) {
            self.anchors
                .insert(anchor, (node.clone(), counts.0, counts.1));
        }
        match self.stack.last_mut() {
            None => self.docs.push(node),
            Some(Open {
                node: parent,
                pending,
                ..
            }) => match &mut parent.kind {
                Kind::Seq(items) => items.push(node),
                Kind::Map(entries) => match pending.take() {
                    None => {
                        // The start event of a block mapping is marked after its
                        // first key; the first key's own mark is where it starts.
                        if entries.is_empty() {
                            parent.mark = node.mark;
                        }
                        *pending = Some(node);
                    }
                    Some(key) => entries.push((key, node)),
                },
                Kind::Scalar(..) => {}
            },
        }
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, ev: Event, m: Marker) {
        if self.error.is_some() {
            return;
        }
        let mark = mark(m);
        match ev {
            Event::Scalar(value, style, anchor, _) => {
                let plain = style == TScalarStyle::Plain;
                if self.charge(1, value.len(), mark) {
                    let counts = (1, value.len());
                    self.push_value(
                        Node {
                            kind: Kind::Scalar(value, plain),
                            mark,
                        },
                        anchor,
                        counts,
                    );
                }
            }
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                let kind = if matches!(ev, Event::SequenceStart(..)) {
                    Kind::Seq(Vec::new())
                } else {
                    Kind::Map(Vec::new())
                };
                let open = Open {
                    node: Node { kind, mark },
                    pending: None,
                    anchor,
                    nodes: self.nodes,
                    bytes: self.bytes,
                };
                self.stack.push(open);
                self.charge(1, 0, mark);
            }
            Event::SequenceEnd | Event::MappingEnd => {
                if let Some(open) = self.stack.pop() {
                    let counts = (self.nodes - open.nodes, self.bytes - open.bytes);
                    self.push_value(open.node, open.anchor, counts);
                }
            }
            Event::Alias(id) => match self.anchors.get(&id).map(|a| (a.1, a.2)) {
                // Charged before the copy is made.
                Some(counts) => {
                    if self.charge(counts.0, counts.1, mark)
                        && let Some((node, ..)) = self.anchors.get(&id)
                    {
                        let node = node.clone();
                        self.push_value(node, 0, counts);
                    }
                }
                None => self.fail("unknown alias".into(), mark),
            },
            Event::Nothing
            | Event::StreamStart
            | Event::StreamEnd
            | Event::DocumentStart
            | Event::DocumentEnd => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions() {
        let docs =
            parse_documents("- rule: a\n  condition: x\n- list: b\n  items: [1, 2]\n").unwrap();
        let Kind::Seq(items) = &docs[0].kind else {
            panic!("not a sequence")
        };
        assert_eq!(items[0].mark, Mark { line: 1, col: 3 });
        assert_eq!(
            items[1].get("items").unwrap().mark,
            Mark { line: 4, col: 10 }
        );
        assert_eq!(items[0].get("condition").unwrap().as_str(), Some("x"));
    }

    #[test]
    fn errors_have_positions() {
        let e = parse_documents("- rule: a\n  condition: [x\n").unwrap_err();
        assert!(e.mark.line >= 2, "{e:?}");
    }
}
