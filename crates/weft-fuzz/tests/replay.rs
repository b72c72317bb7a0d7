//! Every committed corpus input and every regression input (a crash once found, kept
//! after its fix) runs through its target without a panic.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failure should panic

use weft_fuzz::{load_inputs, run_one, targets};

#[test]
fn every_corpus_and_regression_input_passes() {
    let mut checked = 0;
    for target in targets::all() {
        for dir in ["corpus", "regressions"] {
            for (index, input) in load_inputs(dir, target.name).unwrap().iter().enumerate() {
                if let Err(message) = run_one(&target, input) {
                    panic!("{dir}/{} input {index}: {message}", target.name);
                }
                checked += 1;
            }
        }
    }
    assert!(checked > 0, "no corpus found");
}

#[test]
fn a_few_seconds_of_fuzzing_find_no_crash() {
    let mut rng = weft_fuzz::Rng::new(42);
    for target in targets::all() {
        let corpus = load_inputs("corpus", target.name).unwrap();
        let stats = weft_fuzz::fuzz(
            &target,
            &corpus,
            &mut rng,
            std::time::Duration::from_millis(250),
        )
        .unwrap_or_else(|crash| panic!("{}", weft_fuzz::describe(&crash, None)));
        assert!(stats.executions > 0);
    }
}

#[test]
fn a_panicking_target_is_reported_with_its_input() {
    fn picky(data: &[u8]) {
        assert!(!data.starts_with(b"\xff"), "starts with 0xff");
    }
    let target = weft_fuzz::Target {
        name: "picky",
        run: picky,
    };
    let mut rng = weft_fuzz::Rng::new(3);
    let crash = weft_fuzz::fuzz(
        &target,
        &[b"\x00abc".to_vec()],
        &mut rng,
        std::time::Duration::from_secs(5),
    )
    .expect_err("the mutations reach a leading 0xff");
    assert!(crash.input.starts_with(b"\xff"));
    assert!(
        crash.message.contains("starts with 0xff"),
        "{}",
        crash.message
    );
}
