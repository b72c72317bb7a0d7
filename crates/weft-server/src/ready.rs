//! The ready file: a small JSON document that tells scripts and tests where a node's
//! listeners are, written atomically once every listener is bound.

use std::collections::BTreeMap;
use std::io;
use std::net::SocketAddr;
use std::path::Path;

/// Writes `{"node": NAME, "<listener>": "ADDR", ...}` to `path` atomically: it writes a
/// temporary file beside it and renames it, so a reader never sees a partial file.
pub fn write_ready_file(
    path: &Path,
    node_name: &str,
    addresses: &BTreeMap<String, SocketAddr>,
) -> io::Result<()> {
    let mut document = serde_json::Map::new();
    document.insert("node".to_owned(), node_name.into());
    for (listener, address) in addresses {
        document.insert(listener.clone(), address.to_string().into());
    }
    let text = serde_json::Value::Object(document).to_string();
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(format!(".tmp-{}", std::process::id()));
    std::fs::write(&temporary, text)?;
    std::fs::rename(&temporary, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_file_names_the_node_and_every_listener() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ready.json");
        let addresses = BTreeMap::from([("http".to_owned(), "127.0.0.1:4242".parse().unwrap())]);
        write_ready_file(&path, "edge-1", &addresses).unwrap();
        let written: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(
            written,
            serde_json::json!({"node": "edge-1", "http": "127.0.0.1:4242"})
        );
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temporary file left"
        );
    }
}
