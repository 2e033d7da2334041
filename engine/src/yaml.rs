//! A YAML tree that remembers where every node came from, so that rule-file
//! errors can name file, line, column and YAML path.

use std::fmt;

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// Where a node starts in its source (1-based line and column, byte offset).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Span {
    pub line: usize,
    pub column: usize,
    pub offset: usize,
    pub len: usize,
}

/// A YAML node with its position.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub span: Span,
    pub kind: NodeKind,
}

#[derive(Debug, Clone, PartialEq)]
pub enum NodeKind {
    /// A scalar; `quoted` tells `"30"` (text) from `30` (a number).
    Scalar {
        text: String,
        quoted: bool,
    },
    Sequence(Vec<Node>),
    /// Entries in source order; keys are scalars (other keys are reported).
    Mapping(Vec<(Node, Node)>),
}

impl Node {
    /// What kind of node this is, for error messages.
    pub fn describe(&self) -> &'static str {
        match &self.kind {
            NodeKind::Scalar { text, quoted } if !quoted && is_null(text) => "null",
            NodeKind::Scalar { .. } => "a scalar",
            NodeKind::Sequence(_) => "a list",
            NodeKind::Mapping(_) => "a mapping",
        }
    }

    pub fn as_scalar(&self) -> Option<&str> {
        match &self.kind {
            NodeKind::Scalar { text, .. } => Some(text),
            _ => None,
        }
    }
}

pub(crate) fn is_null(text: &str) -> bool {
    matches!(text, "" | "~" | "null" | "Null" | "NULL")
}

/// A YAML syntax error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    pub span: Span,
    pub message: String,
}

impl fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// The deepest nesting of lists and mappings a rule file may use.
pub const MAX_DEPTH: usize = 64;

/// Builds [`Node`]s from parser events.
struct TreeBuilder<'s> {
    source: &'s str,
    /// Open collections: the node being filled, and a pending mapping key.
    stack: Vec<(Node, Option<Node>)>,
    root: Option<Node>,
    documents: usize,
    error: Option<SyntaxError>,
    /// The source is ASCII: character and byte offsets agree.
    ascii: bool,
    /// The last character index mapped to bytes, and its byte offset.
    cursor: (usize, usize),
}

impl TreeBuilder<'_> {
    fn span(&mut self, mark: Marker) -> Span {
        let offset = self.byte_offset(mark.index());
        Span {
            line: mark.line(),
            column: mark.col() + 1,
            offset,
            len: 0,
        }
    }

    /// Parser markers count characters; spans count bytes. Markers arrive
    /// (almost) in source order, so a cursor walks the text once: linear in
    /// the file, with no per-character table (a 16 MiB file would need 128 MiB).
    fn byte_offset(&mut self, char_index: usize) -> usize {
        if self.ascii {
            return char_index.min(self.source.len());
        }
        let (mut chars, mut bytes) = self.cursor;
        if char_index < chars {
            (chars, bytes) = (0, 0);
        }
        let rest = self.source.get(bytes..).unwrap_or_default();
        let byte = match rest.char_indices().nth(char_index - chars) {
            Some((i, _)) => bytes + i,
            None => self.source.len(),
        };
        self.cursor = (char_index, byte);
        byte
    }

    /// Refuses nesting deeper than [`MAX_DEPTH`]: the loader and the
    /// compiler walk the tree recursively, and a hostile file must not
    /// overflow the stack.
    fn too_deep(&mut self, span: Span) -> bool {
        if self.stack.len() < MAX_DEPTH {
            return false;
        }
        self.error = Some(SyntaxError {
            span,
            message: format!("nesting deeper than {MAX_DEPTH} levels"),
        });
        true
    }

    fn push_value(&mut self, node: Node) {
        match self.stack.last_mut() {
            None => {
                if self.root.is_none() {
                    self.root = Some(node);
                }
            }
            Some((parent, pending_key)) => match &mut parent.kind {
                NodeKind::Sequence(items) => items.push(node),
                NodeKind::Mapping(entries) => match pending_key.take() {
                    None => *pending_key = Some(node),
                    Some(key) => entries.push((key, node)),
                },
                NodeKind::Scalar { .. } => {}
            },
        }
    }
}

impl MarkedEventReceiver for TreeBuilder<'_> {
    fn on_event(&mut self, event: Event, mark: Marker) {
        if self.error.is_some() {
            return;
        }
        match event {
            Event::DocumentStart => {
                self.documents += 1;
                if self.documents > 1 {
                    let span = self.span(mark);
                    self.error = Some(SyntaxError {
                        span,
                        message: "a rule file holds one YAML document; found a second one".into(),
                    });
                }
            }
            Event::Alias(_) => {
                let span = self.span(mark);
                self.error = Some(SyntaxError {
                    span,
                    message: "YAML aliases are not supported in rule files; write the value out"
                        .into(),
                });
            }
            Event::Scalar(text, style, _, _) => {
                let mut span = self.span(mark);
                span.len = text.len().max(1);
                let quoted = !matches!(style, TScalarStyle::Plain);
                self.push_value(Node {
                    span,
                    kind: NodeKind::Scalar { text, quoted },
                });
            }
            Event::SequenceStart(..) => {
                let span = self.span(mark);
                if self.too_deep(span) {
                    return;
                }
                self.stack.push((
                    Node {
                        span,
                        kind: NodeKind::Sequence(Vec::new()),
                    },
                    None,
                ));
            }
            Event::MappingStart(..) => {
                let span = self.span(mark);
                if self.too_deep(span) {
                    return;
                }
                self.stack.push((
                    Node {
                        span,
                        kind: NodeKind::Mapping(Vec::new()),
                    },
                    None,
                ));
            }
            Event::SequenceEnd | Event::MappingEnd => {
                if let Some((mut node, _)) = self.stack.pop() {
                    let end = self.byte_offset(mark.index());
                    node.span.len = end.saturating_sub(node.span.offset).max(1);
                    self.push_value(node);
                }
            }
            _ => {}
        }
    }
}

/// The line and column (1-based) of the first alias (`*name`) in a YAML
/// text, if any. Snapshot files refuse aliases: a few kilobytes of nested
/// aliases expand to gigabytes (a "billion laughs"). A text without `*`
/// cannot hold one and is not scanned; a syntax error is returned as such,
/// so that a parser disagreement cannot hide an alias.
pub fn first_alias(source: &str) -> Result<Option<(usize, usize)>, SyntaxError> {
    if !source.contains('*') {
        return Ok(None);
    }
    let mut parser = Parser::new_from_str(source);
    loop {
        match parser.next_token() {
            Ok((Event::Alias(_), mark)) => return Ok(Some((mark.line(), mark.col() + 1))),
            Ok((Event::StreamEnd, _)) => return Ok(None),
            Ok(_) => {}
            Err(e) => {
                let mark = e.marker();
                return Err(SyntaxError {
                    span: Span {
                        line: mark.line(),
                        column: mark.col() + 1,
                        offset: 0,
                        len: 0,
                    },
                    message: e.info().to_owned(),
                });
            }
        }
    }
}

/// The line and column (1-based) where a second YAML document starts, if
/// the text holds more than one. For error reports: serde's YAML reader
/// refuses such a text without saying where.
pub fn second_document(source: &str) -> Option<(usize, usize)> {
    let mut parser = Parser::new_from_str(source);
    let mut documents = 0_u32;
    loop {
        match parser.next_token() {
            Ok((Event::DocumentStart, mark)) => {
                documents += 1;
                if documents == 2 {
                    return Some((mark.line(), mark.col() + 1));
                }
            }
            Ok((Event::StreamEnd, _)) | Err(_) => return None,
            Ok(_) => {}
        }
    }
}

/// Parses one YAML document into a spanned tree. An empty document is `None`.
pub fn parse(source: &str) -> Result<Option<Node>, SyntaxError> {
    let mut builder = TreeBuilder {
        source,
        stack: Vec::new(),
        root: None,
        documents: 0,
        error: None,
        ascii: source.is_ascii(),
        cursor: (0, 0),
    };
    let mut parser = Parser::new_from_str(source);
    if let Err(e) = parser.load(&mut builder, true) {
        let span = builder.span(*e.marker());
        return Err(SyntaxError {
            span,
            message: e.info().to_owned(),
        });
    }
    if let Some(error) = builder.error {
        return Err(error);
    }
    Ok(builder.root)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_positions() {
        let root = parse("a: 1\nb:\n  - x\n  - 'y'\n").unwrap().unwrap();
        let NodeKind::Mapping(entries) = &root.kind else {
            panic!("not a mapping")
        };
        assert_eq!(entries.len(), 2);
        assert_eq!((entries[0].1.span.line, entries[0].1.span.column), (1, 4));
        let NodeKind::Sequence(items) = &entries[1].1.kind else {
            panic!("not a list")
        };
        assert_eq!((items[1].span.line, items[1].span.column), (4, 5));
        assert_eq!(
            items[1].kind,
            NodeKind::Scalar {
                text: "y".into(),
                quoted: true
            }
        );
    }

    #[test]
    fn syntax_errors_have_positions() {
        let err = parse("a: [1, 2\nb: 3\n").unwrap_err();
        assert!(err.span.line >= 1, "{err:?}");
        assert!(!err.message.is_empty());
    }

    #[test]
    fn finds_the_second_document() {
        assert_eq!(second_document("a: 1\n---\nb: 2\n"), Some((2, 1)));
        assert_eq!(second_document("---\na: 1\n"), None);
        assert_eq!(second_document("a: [1\n"), None);
    }

    #[test]
    fn rejects_aliases_and_second_documents() {
        assert!(parse("a: &x 1\nb: *x\n")
            .unwrap_err()
            .message
            .contains("alias"));
        assert!(parse("a: 1\n---\nb: 2\n")
            .unwrap_err()
            .message
            .contains("one YAML document"));
    }
}
