//! Where each key path stands in the YAML text, for FILE:LINE:COLUMN in messages.

use std::collections::HashMap;

/// Where each key path's value starts (1-based line and column), e.g. `volumes[1].name`.
#[derive(Debug, Default)]
pub struct Positions(HashMap<String, (usize, usize)>);

enum Frame {
    Map { path: String, key: Option<String> },
    Seq { path: String, next: usize },
}

impl Positions {
    pub fn of(text: &str) -> Positions {
        use saphyr_parser::{Event, Parser};
        let mut map = HashMap::new();
        let mut stack: Vec<Frame> = Vec::new();
        for item in Parser::new_from_str(text) {
            let Ok((event, span)) = item else { break };
            let pos = (span.start.line(), span.start.col() + 1);
            let starts_node = matches!(
                event,
                Event::Scalar(..)
                    | Event::MappingStart(..)
                    | Event::SequenceStart(..)
                    | Event::Alias(..)
            );
            if starts_node {
                // Is this node a mapping key? Then remember it and wait for its value.
                if let Some(Frame::Map { key, .. }) = stack.last_mut()
                    && key.is_none()
                {
                    *key = Some(match &event {
                        Event::Scalar(s, ..) => s.to_string(),
                        _ => String::from("?"),
                    });
                    if !matches!(event, Event::Scalar(..)) {
                        // Complex keys do not occur in our config; skip their contents.
                        stack.push(Frame::Map {
                            path: "?".into(),
                            key: None,
                        });
                    }
                    continue;
                }
                let path = match stack.last_mut() {
                    None => String::new(),
                    Some(Frame::Map { path, key }) => {
                        let k = key.take().unwrap_or_default();
                        if path.is_empty() {
                            k
                        } else {
                            format!("{path}.{k}")
                        }
                    }
                    Some(Frame::Seq { path, next }) => {
                        *next += 1;
                        format!("{path}[{}]", *next - 1)
                    }
                };
                map.entry(path.clone()).or_insert(pos);
                match event {
                    Event::MappingStart(..) => stack.push(Frame::Map { path, key: None }),
                    Event::SequenceStart(..) => stack.push(Frame::Seq { path, next: 0 }),
                    _ => {}
                }
            } else if matches!(event, Event::MappingEnd | Event::SequenceEnd) {
                stack.pop();
            }
        }
        Positions(map)
    }

    /// Whether `path` itself is in the document.
    pub fn has(&self, path: &str) -> bool {
        self.0.contains_key(path)
    }

    /// The position of `path`, or of its nearest ancestor that exists.
    pub fn find(&self, path: &str) -> Option<(usize, usize)> {
        let mut p = path;
        loop {
            if let Some(pos) = self.0.get(p) {
                return Some(*pos);
            }
            let cut = p.rfind(['.', '['])?;
            p = &p[..cut];
        }
    }
}
