//! Size guards for the per-connection task: its future lives inline in the tokio task of
//! every connection, so its size is memory every idle connection pays.

use std::sync::Arc;
use std::time::SystemTime;

use weft_broker::Broker;

use super::SessionTask;
use crate::server::{MqttConfig, MqttContext};
use crate::session::Session;

async fn context() -> (MqttContext, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let context = MqttContext::open(
        Broker::default(),
        dir.path().to_path_buf(),
        MqttConfig::default(),
    )
    .await
    .unwrap();
    (context, dir)
}

#[tokio::test]
async fn session_task_future_stays_small() {
    let (context, _dir) = context().await;
    let session = Session::new(Arc::clone(&context.inner.session_config), SystemTime::now());
    let task = SessionTask::new(context.clone(), session);
    let task_size = std::mem::size_of_val(&task);
    let future = task.run();
    let future_size = std::mem::size_of_val(&future);
    println!(
        "SessionTask {task_size} B, SessionTask::run future {future_size} B, Session {} B",
        std::mem::size_of::<Session>()
    );
    drop(future);
    assert!(
        future_size <= 2048,
        "the session task's future is {future_size} bytes"
    );
}
