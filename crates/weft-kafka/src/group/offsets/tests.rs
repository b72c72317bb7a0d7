#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;

use super::*;

fn offset(topic: &str, partition: i32, value: i64, metadata: Option<&str>) -> CommittedOffset {
    CommittedOffset {
        topic: topic.to_owned(),
        partition,
        offset: value,
        leader_epoch: 3,
        metadata: metadata.map(str::to_owned),
        commit_time_ms: 1_700_000_000_000,
    }
}

fn files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

#[test]
fn commits_round_trip_and_survive_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let store = OffsetStore::open(dir.path()).unwrap();
    store
        .commit(
            "g",
            vec![
                offset("orders", 0, 10, Some("m")),
                offset("orders", 1, 20, None),
            ],
        )
        .unwrap();
    store
        .commit("g", vec![offset("orders", 0, 11, Some(""))])
        .unwrap();
    let asked = [("orders".to_owned(), vec![0, 1, 2])];
    let expect = |store: &OffsetStore| {
        let fetched = store.fetch("g", Some(&asked));
        assert_eq!(fetched.len(), 3);
        assert_eq!(
            (fetched[0].offset, fetched[0].metadata.as_deref()),
            (11, Some(""))
        );
        assert_eq!(
            (fetched[1].offset, fetched[1].metadata.as_deref()),
            (20, None)
        );
        assert_eq!(fetched[1].leader_epoch, 3);
        assert_eq!(
            (fetched[2].offset, fetched[2].leader_epoch),
            (-1, -1),
            "unknown partition"
        );
        assert_eq!(store.fetch("g", None).len(), 2);
        assert_eq!(store.groups(), ["g"]);
    };
    expect(&store);
    drop(store);
    let reopened = OffsetStore::open(dir.path()).unwrap();
    expect(&reopened);
    assert!(reopened.fetch("other", None).is_empty());
}

#[test]
fn weird_group_names_map_to_safe_file_names() {
    let dir = tempfile::tempdir().unwrap();
    let store = OffsetStore::open(dir.path()).unwrap();
    let long = "x".repeat(500);
    let names = ["a/b", "..", ".", "grüppe-☃", "A", "a", "con", &long, "%2e"];
    for (index, name) in names.iter().enumerate() {
        store
            .commit(name, vec![offset("t", 0, index as i64, None)])
            .unwrap();
    }
    let on_disk = files(dir.path());
    assert_eq!(
        on_disk.len(),
        names.len(),
        "one file each, no collisions: {on_disk:?}"
    );
    for file in &on_disk {
        let stem = file.strip_suffix(".json").unwrap();
        assert!(stem.len() <= MAX_HEX_NAME);
        assert!(
            stem.chars().all(|c| c.is_ascii_hexdigit() || c == '-'),
            "{file}"
        );
    }
    drop(store);
    let reopened = OffsetStore::open(dir.path()).unwrap();
    let mut expected: Vec<String> = names.iter().map(|name| (*name).to_owned()).collect();
    expected.sort();
    assert_eq!(reopened.groups(), expected);
    for (index, name) in names.iter().enumerate() {
        assert_eq!(reopened.fetch(name, None)[0].offset, index as i64);
    }
    assert_ne!(
        file_stem("A"),
        file_stem("a"),
        "safe on case-insensitive file systems"
    );
}

#[test]
fn leftover_temp_file_is_ignored_and_removed() {
    let dir = tempfile::tempdir().unwrap();
    let store = OffsetStore::open(dir.path()).unwrap();
    store.commit("g", vec![offset("t", 0, 5, None)]).unwrap();
    drop(store);
    // A crash between writing the temporary file and renaming it.
    let temp = dir.path().join(format!(
        "{}{SUFFIX}{}",
        file_stem("g"),
        weft_broker::state::TEMP_SUFFIX
    ));
    fs::write(&temp, b"{ \"group_id\": \"g\", \"offs").unwrap();
    let reopened = OffsetStore::open(dir.path()).unwrap();
    assert_eq!(reopened.fetch("g", None)[0].offset, 5);
    assert!(!temp.exists());
}

#[test]
fn corrupt_file_fails_the_open() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("67.json"), b"not json").unwrap();
    assert!(matches!(
        OffsetStore::open(dir.path()),
        Err(OffsetStoreError::Corrupt { .. })
    ));
}

#[test]
fn delete_removes_the_group_and_its_file() {
    let dir = tempfile::tempdir().unwrap();
    let store = OffsetStore::open(dir.path()).unwrap();
    store.commit("g", vec![offset("t", 0, 5, None)]).unwrap();
    store.commit("h", vec![offset("t", 0, 6, None)]).unwrap();
    assert!(store.delete("g").unwrap());
    assert!(!store.delete("g").unwrap());
    assert!(store.fetch("g", None).is_empty());
    assert_eq!(store.groups(), ["h"]);
    assert_eq!(files(dir.path()), [format!("{}.json", file_stem("h"))]);
    // A commit after the delete starts afresh.
    store.commit("g", vec![offset("u", 1, 1, None)]).unwrap();
    assert_eq!(store.fetch("g", None).len(), 1);
}

#[test]
fn deleting_a_topic_drops_its_offsets() {
    let dir = tempfile::tempdir().unwrap();
    let store = OffsetStore::open(dir.path()).unwrap();
    store
        .commit(
            "g",
            vec![offset("gone", 0, 5, None), offset("kept", 0, 6, None)],
        )
        .unwrap();
    store
        .commit("only-gone", vec![offset("gone", 1, 7, None)])
        .unwrap();
    store.delete_topic("gone").unwrap();
    let left: Vec<String> = store
        .fetch("g", None)
        .into_iter()
        .map(|o| o.topic)
        .collect();
    assert_eq!(left, ["kept"]);
    assert_eq!(store.groups(), ["g"]);
    drop(store);
    let reopened = OffsetStore::open(dir.path()).unwrap();
    assert_eq!(reopened.groups(), ["g"]);
    assert_eq!(reopened.fetch("g", None).len(), 1);
}

#[test]
fn concurrent_commits_to_one_group_keep_every_partition() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(OffsetStore::open(dir.path()).unwrap());
    let threads: Vec<_> = (0..4)
        .map(|partition| {
            let store = Arc::clone(&store);
            std::thread::spawn(move || {
                for value in 0..5 {
                    store
                        .commit("g", vec![offset("t", partition, value, None)])
                        .unwrap();
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    let fetched = store.fetch("g", None);
    assert_eq!(fetched.len(), 4);
    assert!(fetched.iter().all(|o| o.offset == 4));
}

#[test]
fn acknowledged_commits_survive_a_power_loss_at_every_step() {
    use weft_broker::state::{SimulatedDisk, StateDir, TornWrite};
    let path = Path::new("/node/kafka/groups");
    // Stop the disk after 0, 1, 2, ... operations of the directory's writes, then cut
    // the power: the last commit that returned Ok is what the group has afterwards.
    for crash_after in 0..24 {
        let disk = SimulatedDisk::new();
        let store = OffsetStore::open(StateDir::new(disk.mount(), path)).unwrap();
        store.commit("g", vec![offset("t", 0, 1, None)]).unwrap();
        disk.directory(path).unwrap().crash_after(Some(crash_after));
        let mut acknowledged = 1;
        for value in 2..10 {
            if store.commit("g", vec![offset("t", 0, value, None)]).is_ok() {
                acknowledged = value;
            }
        }
        disk.power_loss(TornWrite::KeepPrefix(7));
        let reopened = OffsetStore::open(StateDir::new(disk.mount(), path)).unwrap();
        let fetched = reopened.fetch("g", None)[0].offset;
        assert!(
            fetched >= acknowledged,
            "crash after {crash_after} operations: committed {acknowledged}, found {fetched}"
        );
        assert!(fetched <= acknowledged + 1, "at most the commit in flight");
    }
}
