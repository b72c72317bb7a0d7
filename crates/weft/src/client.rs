//! What `weft pub` and `weft sub` share: the node's URL and friendly connection errors.

use anyhow::anyhow;

/// A client of one node's HTTP API.
pub(crate) struct NodeClient {
    base: String,
    http: reqwest::Client,
}

impl NodeClient {
    pub(crate) fn new(server: &str) -> anyhow::Result<Self> {
        let base = server.trim_end_matches('/').to_owned();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(anyhow!("--server must be an http:// URL, got `{server}`"));
        }
        let http = reqwest::Client::builder().build()?;
        Ok(Self { base, http })
    }

    pub(crate) fn base(&self) -> &str {
        &self.base
    }

    pub(crate) fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// `path` (which starts with `/`) under the node's base URL.
    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Turns a transport error into a message that says which URL was tried and what to
    /// do about it.
    pub(crate) fn explain(&self, error: reqwest::Error) -> anyhow::Error {
        if error.is_connect() {
            anyhow!(
                "no weft node answers at {}: start one with `weft serve`, or point --server (or WEFT_SERVER) at a running node",
                self.base
            )
        } else {
            anyhow!("request to {} failed: {error}", self.base)
        }
    }

    /// Sends a request and returns its JSON answer (`null` for an empty one); a refusal
    /// becomes an error with the problem's detail.
    pub(crate) async fn send(
        &self,
        request: reqwest::RequestBuilder,
    ) -> anyhow::Result<serde_json::Value> {
        let response = request.send().await.map_err(|error| self.explain(error))?;
        if !response.status().is_success() {
            return Err(Self::problem(response).await);
        }
        let body = response
            .bytes()
            .await
            .map_err(|error| self.explain(error))?;
        if body.is_empty() {
            return Ok(serde_json::Value::Null);
        }
        serde_json::from_slice(&body)
            .map_err(|error| anyhow!("unreadable answer from the node: {error}"))
    }

    /// `GET path` as JSON.
    pub(crate) async fn get_json(&self, path: &str) -> anyhow::Result<serde_json::Value> {
        self.send(self.http.get(self.url(path))).await
    }

    /// Reads a problem+json error body into one line.
    pub(crate) async fn problem(response: reqwest::Response) -> anyhow::Error {
        let status = response.status();
        let body = response.bytes().await.unwrap_or_default();
        let detail = problem_detail(&body);
        anyhow!("the node refused the request ({status}): {detail}")
    }
}

/// The `detail` of a problem+json document, or the text itself if it is not one.
pub(crate) fn problem_detail(body: &[u8]) -> String {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|problem| problem.get("detail")?.as_str().map(str::to_owned))
        .unwrap_or_else(|| String::from_utf8_lossy(body).into_owned())
}

/// Percent-encodes a topic for a URL path, keeping `/` between levels.
///
/// A `/` next to an empty level (`/a`, `a//b`, `a/`) is sent as `%2F`: the node reads both
/// forms alike, but proxies and HTTP libraries may merge `//` or drop a trailing `/`.
pub(crate) fn encode_topic_path(topic: &str) -> String {
    let mut encoded = String::with_capacity(topic.len());
    let mut previous_empty = None;
    for level in topic.split('/') {
        if let Some(previous_empty) = previous_empty {
            encoded.push_str(if previous_empty || level.is_empty() {
                "%2F"
            } else {
                "/"
            });
        }
        for byte in level.bytes() {
            if byte.is_ascii_alphanumeric() || b"-._~!$&'()+,;=:@".contains(&byte) {
                encoded.push(char::from(byte));
            } else {
                encoded.push_str(&format!("%{byte:02X}"));
            }
        }
        previous_empty = Some(level.is_empty());
    }
    encoded
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_path_keeps_levels_and_escapes_the_rest() {
        assert_eq!(encode_topic_path("orders/eu/created"), "orders/eu/created");
        assert_eq!(encode_topic_path("a b/ü?%"), "a%20b/%C3%BC%3F%25");
    }

    #[test]
    fn topic_path_encodes_the_slashes_around_empty_levels() {
        for (topic, path) in [
            ("/TopicA", "%2FTopicA"),
            ("a//b", "a%2F%2Fb"),
            ("a/", "a%2F"),
            ("a/b/", "a/b%2F"),
            ("/", "%2F"),
            ("x/y//z", "x/y%2F%2Fz"),
        ] {
            assert_eq!(encode_topic_path(topic), path, "{topic}");
        }
    }
}
