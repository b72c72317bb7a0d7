use super::*;
use crate::transform::budget::MEMORY_LIMIT;

fn run(program: &str, data: &str) -> Result<String, JqRunError> {
    let program = JqProgram::compile(program).unwrap();
    let output = program.run(Some(data.as_bytes()))?;
    Ok(String::from_utf8(output.to_vec()).unwrap())
}

#[test]
fn reshapes_data_with_object_construction() {
    let output = run(
        ".order | {id, total: .amount}",
        r#"{"order": {"id": 7, "amount": 12.5, "x": 1}}"#,
    );
    assert_eq!(output.unwrap(), r#"{"id":7,"total":12.5}"#);
}

#[test]
fn standard_library_filters_are_available() {
    assert_eq!(
        run("[.[] | select(. > 1)] | map(. * 10) | add", "[1, 2, 3]").unwrap(),
        "50"
    );
    assert_eq!(
        run(r#".s | ascii_upcase | test("AB")"#, r#"{"s": "ab"}"#).unwrap(),
        "true"
    );
}

#[test]
fn missing_data_is_null_input() {
    let program = JqProgram::compile("{was: .}").unwrap();
    assert_eq!(&program.run(None).unwrap()[..], br#"{"was":null}"#);
}

#[test]
fn syntax_error_has_a_column() {
    let error = JqProgram::compile(".a | {id,").unwrap_err();
    assert!(error.message.starts_with("expected"), "{error}");
    assert_eq!(error.column, 10, "{error}");
    let error = JqProgram::compile(".a | @@").unwrap_err();
    assert_eq!(error.column, 7, "{error}");
}

#[test]
fn undefined_filter_is_a_compile_error_at_its_name() {
    let error = JqProgram::compile(".a | nosuch(1)").unwrap_err();
    assert_eq!(error.message, "undefined filter `nosuch/1`");
    assert_eq!(error.column, 6);
}

#[test]
fn shadowing_definitions_parse() {
    let defs = jaq_core::load::parse(SHADOWED, |parser| parser.defs());
    assert!(defs.is_some_and(|defs: Vec<_>| defs.len() > 5));
}

#[test]
fn node_environment_is_not_reachable() {
    assert!(JqProgram::compile("$ENV").is_err());
    for program in ["env", "env.HOME", "halt", "halt(1)", "halt_error", "input"] {
        assert!(
            matches!(run(program, "{}"), Err(JqRunError::Program { .. })),
            "{program}"
        );
    }
    assert_eq!(run("debug | stderr | .a", r#"{"a": 1}"#).unwrap(), "1");
    assert!(JqProgram::compile(r#"import "x" as x; ."#).is_err());
}

#[test]
fn zero_or_several_outputs_fail() {
    assert_eq!(run("empty", "{}"), Err(JqRunError::NoOutput));
    assert_eq!(run(".[]", "[1, 2]"), Err(JqRunError::SeveralOutputs));
    assert_eq!(run(".[]", "[1]").unwrap(), "1");
}

#[test]
fn runtime_errors_fail_with_the_message() {
    let Err(JqRunError::Program { message }) = run(r#"error("bad order")"#, "{}") else {
        panic!("expected a program error");
    };
    assert!(message.contains("bad order"), "{message}");
    assert!(matches!(run(".a", "3"), Err(JqRunError::Program { .. })));
}

#[test]
fn invalid_json_input_fails() {
    assert!(matches!(run(".", "{nope"), Err(JqRunError::Input { .. })));
}

#[test]
fn non_json_output_fails() {
    assert!(matches!(run("nan", "{}"), Err(JqRunError::NotJson { .. })));
}

#[test]
fn programs_compare_and_serialise_as_source() {
    let program = JqProgram::compile(".a").unwrap();
    assert_eq!(program, JqProgram::compile(".a").unwrap());
    assert_eq!(serde_json::to_string(&program).unwrap(), r#"".a""#);
    let back: JqProgram = serde_json::from_str(r#"".a""#).unwrap();
    assert_eq!(back.source(), ".a");
    assert!(serde_json::from_str::<JqProgram>(r#""{""#).is_err());
}

/// Runs `program` over `{}` with a budget of 100 ms.
fn run_briefly(program: &str) -> (Result<Bytes, JqRunError>, Duration) {
    let program = JqProgram::compile(program).unwrap();
    let meter = Budget::new(Duration::from_millis(100)).start();
    let started = std::time::Instant::now();
    let result = program.run_metered(Some(b"{}"), &meter);
    (result, started.elapsed())
}

#[test]
fn programs_that_never_end_are_stopped_at_their_budget() {
    for program in [
        "def f: f; f",
        "last(range(infinite))",
        "[range(1e12)] | length",
        "reduce range(1e12) as $x (0; . + $x)",
        "until(false; .)",
        "[repeat(1)] | length",
        "limit(1; repeat(empty))",
    ] {
        let (result, took) = run_briefly(program);
        // Programs that collect into an array may reach the memory limit first when
        // optimised (release and bench builds run faster than the 100 ms budget).
        let over_memory =
            program.starts_with('[') && matches!(result, Err(JqRunError::OverMemory { .. }));
        assert!(
            over_memory
                || result
                    == Err(JqRunError::OverBudget {
                        budget: Duration::from_millis(100)
                    }),
            "{program}: {result:?}"
        );
        assert!(took < Duration::from_secs(2), "{program} took {took:?}");
    }
}

#[test]
fn recursion_without_a_base_case_is_stopped_before_the_stack_ends() {
    // A generous budget: on a loaded machine 100 ms may end before the depth limit is
    // reached, and this test is about the depth limit.
    for program in ["def f: f + 1; f", "def f: [f]; f", "def f: 1 + f; f"] {
        let compiled = JqProgram::compile(program).unwrap();
        let meter = Budget::new(Duration::from_secs(30)).start();
        let result = compiled.run_metered(Some(b"{}"), &meter);
        assert_eq!(result, Err(JqRunError::TooDeep), "{program}");
    }
}

#[test]
fn recursion_a_thousand_levels_deep_is_allowed() {
    let program =
        JqProgram::compile("def f: if . == 0 then 0 else (. - 1 | f) + 1 end; f").unwrap();
    let meter = Budget::new(Duration::from_secs(30)).start();
    let output = program.run_metered(Some(b"1000"), &meter).unwrap();
    assert_eq!(&output[..], b"1000");
}

#[test]
fn data_nested_too_deep_is_refused_before_it_is_parsed() {
    let deep = |depth: usize| format!("{}{}", "[".repeat(depth), "]".repeat(depth));
    let program = JqProgram::compile("length").unwrap();
    assert_eq!(
        &program.run(Some(deep(MAX_INPUT_DEPTH).as_bytes())).unwrap()[..],
        b"1"
    );
    // Half a million levels in 1 MB would overflow the reader's stack.
    for data in [deep(MAX_INPUT_DEPTH + 1), deep(500_000)] {
        let Err(JqRunError::Input { message }) = program.run(Some(data.as_bytes())) else {
            panic!("expected an input error");
        };
        assert_eq!(message, "nested deeper than 10000 levels");
    }
    // Brackets inside strings are text.
    let text = format!(r#"{{"s": "{}\"[", "t": [1]}}"#, "[".repeat(20_000));
    assert_eq!(&program.run(Some(text.as_bytes())).unwrap()[..], b"2");
}

#[test]
fn a_cancelled_program_stops() {
    let program = JqProgram::compile("def f: f; f").unwrap();
    let cancel = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let meter = Budget::new(Duration::from_secs(60))
        .with_cancel(cancel)
        .start();
    assert_eq!(
        program.run_metered(None, &meter),
        Err(JqRunError::Cancelled)
    );
}

#[test]
fn the_metered_range_counts_like_jaqs() {
    assert_eq!(run("[range(5)]", "{}").unwrap(), "[0,1,2,3,4]");
    assert_eq!(run("[range(0; 10; 3)]", "{}").unwrap(), "[0,3,6,9]");
    assert_eq!(run("[range(5; 0; -2)]", "{}").unwrap(), "[5,3,1]");
    assert_eq!(
        run("[range(0; 1; 0.25)]", "{}").unwrap(),
        "[0,0.25,0.5,0.75]"
    );
    assert_eq!(
        run("[limit(3; range(1; infinite))]", "{}").unwrap(),
        "[1,2,3]"
    );
}

/// Runs `program` over `data` with a budget long enough that only memory stops it.
fn run_patiently(program: &str, data: &str) -> Result<Bytes, JqRunError> {
    let program = JqProgram::compile(program).unwrap();
    let meter = Budget::new(Duration::from_secs(120)).start();
    program.run_metered(Some(data.as_bytes()), &meter)
}

#[test]
fn programs_that_build_large_values_are_stopped_at_the_memory_limit() {
    let over = Err(JqRunError::OverMemory {
        limit: MEMORY_LIMIT,
    });
    // Each step holds a few hundred bytes more (a string, a level of nesting), so
    // that the limit comes within a few hundred thousand steps even in a debug
    // build.
    let pad = "................................................................";
    for program in [
        format!(r#"[range(1e9) | "\(.){pad}"] | length"#),
        format!(r#"reduce range(1e9) as $i ([]; . + ["{pad}"]) | length"#),
        format!(r#"[limit(1e9; repeat("{pad}"))] | add | length"#),
        // Deep: a level of nesting per step, dropped without overflowing the stack.
        format!(r#"reduce range(1e9) as $i (null; [., "{pad}"]) | length"#),
        "reduce range(1e9) as $i (null; {a: ., b: {c: [[]]}}) | length".to_owned(),
    ] {
        assert_eq!(run_patiently(&program, "{}"), over, "{program}");
    }
    // The same programs within the limit still run.
    assert_eq!(
        run_patiently("[range(1e5)] | length", "{}").unwrap(),
        "100000"
    );
    assert_eq!(
        run_patiently("reduce range(1e4) as $i (null; [.]) | [..] | length", "{}").unwrap(),
        "10001"
    );
}

#[test]
fn deep_values_within_the_memory_limit_print_and_compare_without_overflowing() {
    let deep = "reduce range(50000) as $i (null; [.])";
    // Interpolation prints with jaq's recursive printer.
    let output = run_patiently(&format!("{deep} | \"\\(.)\" | length"), "{}").unwrap();
    assert_eq!(output, "100004");
    assert_eq!(
        run_patiently(&format!("{deep} | tojson | length"), "{}").unwrap(),
        "100004"
    );
    assert_eq!(
        run_patiently(&format!("{deep} | [., [.]] | sort | length"), "{}").unwrap(),
        "2"
    );
    // An output deeper than JSON text may be fails the step; it is not printed.
    let Err(JqRunError::NotJson { output }) = run_patiently(deep, "{}") else {
        panic!("expected a not-json error");
    };
    assert_eq!(output, "a value nested deeper than 128 levels");
    // An error whose value is deep or huge is cut.
    let Err(JqRunError::Program { message }) = run_patiently(&format!("{deep} | error"), "{}")
    else {
        panic!("expected a program error");
    };
    assert!(message.len() <= 1024 + '…'.len_utf8(), "{}", message.len());
}

#[test]
fn values_built_by_sharing_print_within_the_limit_or_fail() {
    // 2^20 strings of a thousand bytes each, in 21 values.
    let shared = r#"reduce range(20) as $i ("x" * 1000; [., .])"#;
    let Err(JqRunError::Program { message }) =
        run_patiently(&format!("{shared} | tojson | length"), "{}")
    else {
        panic!("expected a program error");
    };
    assert!(message.contains("prints longer than 32 MiB"), "{message}");
    // As the output, it is printed up to the limit only.
    assert_eq!(
        run_patiently(&format!("{shared} | [[[[[[.]]]]]]"), "{}"),
        Err(JqRunError::OverMemory {
            limit: MEMORY_LIMIT
        })
    );
}

#[test]
fn fromjson_refuses_text_nested_too_deep_before_reading_it() {
    let Err(JqRunError::Program { message }) = run_patiently(r#""[" * 1000000 | fromjson"#, "{}")
    else {
        panic!("expected a program error");
    };
    assert!(
        message.contains("nested deeper than 10000 levels"),
        "{message}"
    );
    assert_eq!(
        run_patiently(r#""[[1, {\"a\": 2}]]" | fromjson"#, "{}").unwrap(),
        r#"[[1,{"a":2}]]"#
    );
    assert_eq!(
        run_patiently("[1, 2] | tojson", "{}").unwrap(),
        r#""[1,2]""#
    );
}

#[test]
fn programs_are_shareable_across_threads() {
    fn shareable<T: Send + Sync>() {}
    shareable::<JqProgram>();
}
