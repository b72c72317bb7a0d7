//! A client-side parser of `text/event-stream` (Server-Sent Events), for the clients of
//! `GET /v1/subscribe`: the `weft sub` command and the test harness. It understands what
//! weft sends — `event` and `data` fields and comments — and joins multi-line data.

/// One Server-Sent Events message.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct EventStreamMessage {
    /// The `event` field (the message type), if any.
    pub event: Option<String>,
    /// The `data` lines, joined with `\n`.
    pub data: String,
}

/// An incremental parser of the `text/event-stream` format (the parts weft sends:
/// `event`, `data` and comments).
#[derive(Debug, Default)]
pub struct EventStreamParser {
    buffer: Vec<u8>,
    current: EventStreamMessage,
    has_data: bool,
}

impl EventStreamParser {
    /// Feeds a chunk of the stream; returns the messages it completed.
    pub fn push(&mut self, chunk: &[u8]) -> Vec<EventStreamMessage> {
        self.buffer.extend_from_slice(chunk);
        let mut messages = Vec::new();
        let mut start = 0;
        while let Some(length) = self.buffer[start..].iter().position(|&byte| byte == b'\n') {
            let mut line = &self.buffer[start..start + length];
            start += length + 1;
            if let Some(stripped) = line.strip_suffix(b"\r") {
                line = stripped;
            }
            let line = String::from_utf8_lossy(line);
            if line.is_empty() {
                if self.has_data {
                    messages.push(std::mem::take(&mut self.current));
                }
                self.current = EventStreamMessage::default();
                self.has_data = false;
                continue;
            }
            if line.starts_with(':') {
                continue;
            }
            let (field, value) = line.split_once(':').unwrap_or((&line, ""));
            let value = value.strip_prefix(' ').unwrap_or(value);
            match field {
                "data" => {
                    if self.has_data {
                        self.current.data.push('\n');
                    }
                    self.current.data.push_str(value);
                    self.has_data = true;
                }
                "event" => self.current.event = Some(value.to_owned()),
                _ => {}
            }
        }
        // Consumed lines are dropped once per chunk, not once per line.
        self.buffer.drain(..start);
        messages
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parser_joins_data_lines_across_chunks_and_skips_comments() {
        let mut parser = EventStreamParser::default();
        assert!(
            parser
                .push(b": subscribed\n\ndata: {\"a\":\ndata: 1}")
                .is_empty()
        );
        let messages = parser.push(b"\n\nevent: weft-error\r\ndata: x\r\n\r\n");
        assert_eq!(
            messages,
            [
                EventStreamMessage {
                    event: None,
                    data: "{\"a\":\n1}".to_owned()
                },
                EventStreamMessage {
                    event: Some("weft-error".to_owned()),
                    data: "x".to_owned()
                },
            ]
        );
    }
}
